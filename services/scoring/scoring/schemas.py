"""The bodies the API reads and answers with. Requests forbid unknown fields and bound every string
and list; answers are built from stored documents with ``of``."""

from datetime import date, datetime
from typing import Annotated, Any, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from grants_shared.events import Id, OrganisationSummary, RubricCriterion
from grants_shared.money import Money
from scoring.domain import (
    MAX_SCORE,
    ApplicationStatus,
    ConflictStatus,
    Outcome,
    ProgrammeStatus,
    RankedApplication,
    ReviewStatus,
)
from scoring.store import Application, CriterionScore, Decision, Moderation, Programme

_REQUEST = ConfigDict(extra="forbid")

CriterionKey = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,39}$")]
WeightedScore = Annotated[float, Field(ge=0, le=MAX_SCORE)]
Note = Annotated[str, Field(min_length=1, max_length=2_000)]


class View(BaseModel):
    @classmethod
    def of(cls, document: BaseModel, **extra: Any) -> Self:
        """The view of a stored document: the fields the two share, plus ``extra``."""
        shared = set(cls.model_fields) - set(extra)
        return cls.model_validate({**document.model_dump(include=shared), **extra})


# --- programmes and panels -----------------------------------------------------------------------


class PanelUpdate(BaseModel):
    """PUT /v1/programmes/{id}/panel: who sits on the panel from now on."""

    model_config = _REQUEST

    reviewer_ids: Annotated[list[Id], Field(max_length=100)]

    @field_validator("reviewer_ids")
    @classmethod
    def _no_repeats(cls, reviewer_ids: list[str]) -> list[str]:
        if len(set(reviewer_ids)) != len(reviewer_ids):
            raise ValueError("a reviewer is listed more than once")
        return reviewer_ids


class ProgrammeView(View):
    id: str
    name: str
    status: ProgrammeStatus
    budget: Money
    maximum_award: Money
    awarded_total: Money
    remaining_budget: Money
    criteria: list[RubricCriterion]
    reviewers_per_application: int
    panel: list[str] | None = Field(description="Who sits on the panel: programme managers and admins only")
    version: int


class OrganisationView(View):
    id: str
    name: str


class Total(BaseModel):
    """A sum of amounts in minor units: unlike one Money amount it has no ceiling, so adding up many
    large requests cannot fail."""

    amount: int
    currency: str


class RankingEntryView(BaseModel):
    position: int
    application_id: str
    title: str
    organisation_name: str
    weighted_score: float
    amount_requested: Money
    cumulative_requested: Total
    fits_budget: bool
    status: ApplicationStatus
    needs_moderation: bool

    @classmethod
    def of(cls, ranked: RankedApplication, application: Application, currency: str) -> "RankingEntryView":
        return cls(
            position=ranked.position,
            application_id=application.id,
            title=application.title,
            organisation_name=application.organisation.name,
            weighted_score=ranked.candidate.weighted_score,
            amount_requested=application.amount_requested,
            cumulative_requested=Total(amount=ranked.cumulative_requested, currency=currency),
            fits_budget=ranked.fits_budget,
            status=application.status,
            needs_moderation=application.needs_moderation,
        )


class RankingView(BaseModel):
    programme_id: str
    budget: Money
    awarded_total: Money
    remaining: Money
    applications: list[RankingEntryView]

    @classmethod
    def of(cls, programme: Programme, remaining: Money, entries: list[RankingEntryView]) -> "RankingView":
        return cls(
            programme_id=programme.id,
            budget=programme.budget,
            awarded_total=programme.budget - remaining,
            remaining=remaining,
            applications=entries,
        )


# --- conflicts of interest -----------------------------------------------------------------------


class ConflictDeclaration(BaseModel):
    model_config = _REQUEST

    organisation_id: Id
    reason: Annotated[str, Field(min_length=1, max_length=1_000)]


class ConflictEntryView(BaseModel):
    action: str
    by: str
    at: datetime
    note: str


class ConflictView(View):
    id: str
    reviewer_id: str
    organisation_id: str
    reason: str
    status: ConflictStatus
    declared_at: datetime
    resolution_requested_at: datetime | None = None
    resolved_at: datetime | None
    resolved_by: str | None = None
    history: list[ConflictEntryView] = []


class ConflictNote(BaseModel):
    """What a reviewer asking for a resolution, or a manager resolving, says about it."""

    model_config = ConfigDict(extra="forbid")

    note: Annotated[str, Field(max_length=1_000)] = ""


# --- reviews -------------------------------------------------------------------------------------


class ScoredCriterion(CriterionScore):
    """One criterion's score on a sheet a reviewer sends."""

    model_config = _REQUEST


class ScoreSheet(BaseModel):
    """PUT /v1/reviews/{id}/scores: a score for every criterion of the programme's rubric."""

    model_config = _REQUEST

    scores: Annotated[dict[CriterionKey, ScoredCriterion], Field(min_length=1, max_length=40)]


class ReviewSummaryView(View):
    id: str
    application_id: str
    application_title: str
    programme_id: str
    status: ReviewStatus
    due_date: date
    assigned_at: datetime
    completed_at: datetime | None


class ReviewView(ReviewSummaryView):
    """What a reviewer needs to score: the application (no contact details) and the rubric."""

    application_summary: str
    organisation_name: str
    amount_requested: Money
    criteria: list[RubricCriterion]
    scores: dict[str, CriterionScore]
    version: int


class ReviewScoresView(View):
    id: str
    reviewer_id: str
    status: ReviewStatus
    scores: dict[str, CriterionScore]
    completed_at: datetime | None


# --- applications: moderation and decisions ------------------------------------------------------


class ApplicationSummaryView(View):
    id: str
    programme_id: str
    organisation: OrganisationSummary
    title: str
    amount_requested: Money
    submitted_at: datetime
    status: ApplicationStatus
    reviewers_required: int
    reviewers_missing: int
    reviews_completed: int
    weighted_score: float | None
    needs_moderation: bool


class ApplicationView(ApplicationSummaryView):
    summary: str
    criterion_means: dict[str, float] | None
    computed_weighted_score: float | None
    moderation: Moderation | None
    decision: Decision | None
    reviews: list[ReviewScoresView]


class ModerationRequest(BaseModel):
    model_config = _REQUEST

    weighted_score: WeightedScore | None = Field(default=None, description="Absent: keep the computed score")
    note: Note


class DecisionRequest(BaseModel):
    model_config = _REQUEST

    outcome: Outcome
    amount_awarded: Money | None = None
    feedback: Annotated[str, Field(max_length=5_000)] = ""

    @model_validator(mode="after")
    def _fits_outcome(self) -> "DecisionRequest":
        if self.outcome == "awarded" and self.amount_awarded is None:
            raise ValueError("an award needs amount_awarded")
        if self.outcome == "declined":
            if self.amount_awarded is not None:
                raise ValueError("a decline carries no amount_awarded")
            if not self.feedback.strip():
                raise ValueError("a decline needs feedback for the applicant")
        return self


class DecisionView(Decision):
    application_id: str
    programme_id: str

    @classmethod
    def of(cls, application: Application, decision: Decision) -> "DecisionView":
        return cls(**decision.model_dump(), application_id=application.id, programme_id=application.programme_id)

