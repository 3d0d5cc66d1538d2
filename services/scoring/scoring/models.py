"""API request/response models, and the shapes of scoring's own documents."""

from datetime import date, datetime
from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, StrictInt, field_validator, model_validator

from grants_shared.events import Id, OrganisationSummary, RubricCriterion
from grants_shared.money import Money

CriterionKey = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,39}$")]
Score = Annotated[StrictInt, Field(ge=0, le=5)]
WeightedScore = Annotated[float, Field(ge=0, le=5)]
Comment = Annotated[str, Field(max_length=2_000)]
Note = Annotated[str, Field(min_length=1, max_length=2_000)]


class Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Document(BaseModel):
    """A stored document: ``_id`` in MongoDB, ``id`` in Python."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    id: str = Field(alias="_id")

    def to_doc(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True)


# --- documents -----------------------------------------------------------------------------------


class ProgrammeDoc(Document):
    """A programme as scoring keeps it: rubric, panel and the budget ledger for awards."""

    name: str
    status: Literal["open", "closed"] = "open"
    budget: Money
    maximum_award: Money
    criteria: list[RubricCriterion]
    reviewers_per_application: int
    panel: list[str]
    awarded_total: Money
    # Kept alongside awarded_total so an award reserves money with one conditional update.
    remaining_budget: Money
    opened_at: datetime
    closed_at: datetime | None = None
    version: int = 1

    @property
    def weights(self) -> dict[str, int]:
        return {c.key: c.weight for c in self.criteria}


class Moderation(BaseModel):
    moderated_by: str
    note: str
    weighted_score: float
    computed_weighted_score: float
    moderated_at: datetime


class Decision(BaseModel):
    outcome: Literal["awarded", "declined"]
    amount_awarded: Money | None = None
    feedback: str = ""
    decided_at: datetime
    recorded_by: str
    panel: list[str]


class ApplicationDoc(Document):
    programme_id: str
    organisation: OrganisationSummary
    title: str
    summary: str
    amount_requested: Money
    submitted_at: datetime
    status: str
    reviewers_required: int
    #: Reviewers whose review is open or completed (cancelled reviews drop out).
    reviewer_ids: list[str] = []
    reviewers_missing: int = 0
    reviews_completed: int = 0
    criterion_means: dict[str, float] | None = None
    computed_weighted_score: float | None = None
    #: The score the ranking uses: the computed one, or the moderator's.
    weighted_score: float | None = None
    needs_moderation: bool = False
    moderation: Moderation | None = None
    decision: Decision | None = None
    withdrawn_at: datetime | None = None
    version: int = 1


class CriterionScore(Request):
    score: Score
    comment: Comment = ""


class ReviewDoc(Document):
    application_id: str
    application_title: str
    programme_id: str
    organisation_id: str
    reviewer_id: str
    status: str
    scores: dict[str, CriterionScore] = {}
    assigned_at: datetime
    due_date: date
    completed_at: datetime | None = None
    cancelled_at: datetime | None = None
    cancel_reason: str | None = None
    version: int = 1

    def to_doc(self) -> dict[str, Any]:
        doc = super().to_doc()
        doc["due_date"] = self.due_date.isoformat()  # BSON has no date-only type
        return doc


class ConflictDoc(Document):
    reviewer_id: str
    organisation_id: str
    reason: str
    status: Literal["declared", "resolved"] = "declared"
    declared_at: datetime
    resolved_at: datetime | None = None
    resolved_by: str | None = None


# --- requests ------------------------------------------------------------------------------------


class PanelUpdate(Request):
    reviewer_ids: Annotated[list[Id], Field(max_length=100)]

    @field_validator("reviewer_ids")
    @classmethod
    def _no_repeats(cls, reviewer_ids: list[str]) -> list[str]:
        if len(set(reviewer_ids)) != len(reviewer_ids):
            raise ValueError("a reviewer is listed more than once")
        return reviewer_ids


class ConflictDeclaration(Request):
    organisation_id: Id
    reason: Annotated[str, Field(min_length=1, max_length=1_000)]


class ScoreSheet(Request):
    scores: Annotated[dict[CriterionKey, CriterionScore], Field(min_length=1, max_length=40)]


class ModerationRequest(Request):
    weighted_score: WeightedScore | None = Field(default=None, description="Absent: keep the computed score")
    note: Note


class DecisionRequest(Request):
    outcome: Literal["awarded", "declined"]
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


# --- responses -----------------------------------------------------------------------------------


class View(BaseModel):
    @classmethod
    def of(cls, document: BaseModel, **extra: Any) -> Self:
        """The view of a stored document: the fields the two share, plus ``extra``."""
        shared = set(cls.model_fields) - set(extra)
        return cls.model_validate({**document.model_dump(include=shared), **extra})


class ProgrammeView(View):
    id: str
    name: str
    status: str
    budget: Money
    maximum_award: Money
    awarded_total: Money
    remaining_budget: Money
    criteria: list[RubricCriterion]
    reviewers_per_application: int
    panel: list[str] | None = Field(description="Who sits on the panel: programme managers and admins only")
    version: int


class OrganisationView(BaseModel):
    id: str
    name: str


class ConflictView(View):
    id: str
    reviewer_id: str
    organisation_id: str
    reason: str
    status: str
    declared_at: datetime
    resolved_at: datetime | None


class ReviewListItem(View):
    id: str
    application_id: str
    application_title: str
    programme_id: str
    status: str
    due_date: date
    assigned_at: datetime
    completed_at: datetime | None


class ReviewView(ReviewListItem):
    """What a reviewer needs to score: the application (no contact details) and the rubric."""

    application_summary: str
    organisation_name: str
    amount_requested: Money
    criteria: list[RubricCriterion]
    scores: dict[str, CriterionScore]
    version: int


class ReviewScores(View):
    id: str
    reviewer_id: str
    status: str
    scores: dict[str, CriterionScore]
    completed_at: datetime | None


class ApplicationListItem(View):
    id: str
    programme_id: str
    organisation: OrganisationSummary
    title: str
    amount_requested: Money
    submitted_at: datetime
    status: str
    reviewers_required: int
    reviewers_missing: int
    reviews_completed: int
    weighted_score: float | None
    needs_moderation: bool


class ApplicationView(ApplicationListItem):
    summary: str
    criterion_means: dict[str, float] | None
    computed_weighted_score: float | None
    moderation: Moderation | None
    decision: Decision | None
    reviews: list[ReviewScores]


class Total(BaseModel):
    """A sum of amounts in minor units: unlike one Money amount it has no ceiling, so adding up many
    large requests cannot fail."""

    amount: int
    currency: str


class RankingEntry(BaseModel):
    position: int
    application_id: str
    title: str
    organisation_name: str
    weighted_score: float
    amount_requested: Money
    cumulative_requested: Total
    fits_budget: bool
    status: str
    needs_moderation: bool


class RankingView(BaseModel):
    programme_id: str
    budget: Money
    awarded_total: Money
    remaining: Money
    applications: list[RankingEntry]


class DecisionView(Decision):
    application_id: str
    programme_id: str
