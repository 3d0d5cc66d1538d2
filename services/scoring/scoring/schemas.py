"""The bodies the API reads and answers with. Requests forbid unknown fields and bound every string
and list; answers are built from stored documents with ``of``."""

from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from grants_shared.events import Id, OrganisationSummary, QuestionAnswer, RubricCriterion
from grants_shared.money import Money
from grants_shared.paging import After, cursor_token, read_cursor
from scoring.domain import (
    COURSE_NAMES,
    MAX_SCORE,
    AccessNeed,
    ApplicationStatus,
    BlindField,
    ConflictStatus,
    Course,
    DecisionMethod,
    ItemStatus,
    MemberKind,
    Outcome,
    ProgrammeStatus,
    RankedApplication,
    RankingWalk,
    Recommendation,
    ReviewStatus,
)
from scoring.domain import ClaimKind, ClaimStatus, ExpenseCategory, RateUnit, TimeEntryKind, shown
from scoring.store import (
    Application, CriterionScore, Decision, ItemDecision, InvolvementClaim, MemberProfile, Moderation, Programme,
    ScoreChange, TrainingRecord,
)  # fmt: skip

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
    decision_rule: "DecisionRuleView | None" = Field(default=None, description="None until a manager sets it")
    required_courses: list[Course] = Field(
        default=[], description="Courses a panel member must have completed to be assigned reviews, score or vote"
    )
    hidden_from_reviewers: list[BlindField] = Field(
        default=[], description="Blind review: the application fields its reviewers are never shown (managers are)"
    )
    version: int


class BlindReviewUpdate(BaseModel):
    """PUT /v1/programmes/{id}/blind-review: the fields of its applications reviewers are not shown."""

    model_config = _REQUEST

    hidden_from_reviewers: Annotated[list[BlindField], Field(max_length=len(BlindField))]


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
    organisation_name: str | None = Field(description="None when the programme hides it from the caller (blind review)")
    weighted_score: float
    amount_requested: Money
    cumulative_requested: Total
    fits_budget: bool
    budget_line: bool = Field(
        description="The first application still to decide that does not fit in what is left of the budget")
    status: ApplicationStatus
    needs_moderation: bool

    @classmethod
    def of(
        cls, ranked: RankedApplication, application: Application, currency: str, hidden: frozenset[BlindField]
    ) -> "RankingEntryView":
        return cls(
            position=ranked.position,
            application_id=application.id,
            title=application.title,
            organisation_name=shown(application.organisation.name, BlindField.ORGANISATION_NAME, hidden),
            weighted_score=ranked.candidate.weighted_score,
            amount_requested=application.amount_requested,
            cumulative_requested=Total(amount=ranked.cumulative_requested, currency=currency),
            fits_budget=ranked.fits_budget,
            budget_line=ranked.budget_line,
            status=application.status,
            needs_moderation=application.needs_moderation,
        )


class RankingView(BaseModel):
    """One page of the ranking: ``next`` is the cursor of the page after it (none at the end)."""

    programme_id: str
    budget: Money
    awarded_total: Money
    remaining: Money
    applications: list[RankingEntryView]
    budget_line_position: int | None = Field(description=(
        "Where the budget runs out (the first application still to decide that does not fit), once the "
        "ranking has reached it on this page or an earlier one"))
    limit: int
    next: str | None

    @classmethod
    def of(
        cls, programme: Programme, remaining: Money, entries: list[RankingEntryView], walked: RankingWalk,
        limit: int, following: "RankingCursor | None",
    ) -> "RankingView":  # fmt: skip
        return cls(
            programme_id=programme.id,
            budget=programme.budget,
            awarded_total=programme.budget - remaining,
            remaining=remaining,
            applications=entries,
            budget_line_position=walked.line_at,
            limit=limit,
            next=following.token() if following else None,
        )


@dataclass(frozen=True)
class RankingCursor:
    """Where the next page of the ranking starts: just after the last application the page read, with
    the walk down the ranking as it stood there (what was left of the budget, the amount requested so
    far, the position), so every page draws the budget line where the whole ranking would."""

    after: After
    walk: RankingWalk

    def token(self) -> str:
        walk = self.walk
        return cursor_token([self.after.token(), walk.left, walk.cumulative, walk.position, walk.line_at])

    @classmethod
    def parse(cls, token: str) -> "RankingCursor":
        def read(parts: list[Any]) -> "RankingCursor":
            after, left, cumulative, position, line_at = parts
            numbers = (left, cumulative, position, 0 if line_at is None else line_at)
            if not isinstance(after, str) or not all(type(n) is int for n in numbers):
                raise ValueError
            return cls(After.parse(after), RankingWalk(left, cumulative, position, line_at))

        return read_cursor(token, read)


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


class ReviewDecline(BaseModel):
    """POST /v1/reviews/{id}/decline: why the reviewer cannot review it."""

    model_config = _REQUEST

    reason: Literal["no_time", "conflict", "other"]
    note: Annotated[str, Field(max_length=1_000)] = ""


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
    """What a reviewer needs to score: the application (no contact details) and the rubric, with
    what each score means. Fields the programme hides from reviewers (blind review) are None."""

    application_summary: str
    organisation_name: str | None
    organisation_kind: str | None
    organisation_area: str | None
    hidden_fields: list[BlindField] = Field(description="What the programme does not show its reviewers")
    amount_requested: Money
    criteria: list[RubricCriterion]
    scores: dict[str, CriterionScore]
    version: int
    answers: list[QuestionAnswer] = Field(
        default=[], description="The answers to the programme's own questions, each with the criteria that judge it"
    )
    stage: Literal["expression_of_interest", "full"] = Field(
        default="full", description="What is being scored: an expression of interest (to help shortlisting) or a full application"
    )


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
    stage: Literal["expression_of_interest", "full"] = "full"
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
    score_history: list[ScoreChange] = Field(description="Every change to the weighted score, oldest first; never rewritten")
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



# --- decision rules and meetings -----------------------------------------------------------------

MemberIds = Annotated[list[Id], Field(max_length=50)]


def _unique(ids: list[str], what: str) -> list[str]:
    if len(set(ids)) != len(ids):
        raise ValueError(f"a {what} is listed more than once")
    return ids


class PanelMemberEntry(BaseModel):
    model_config = _REQUEST

    member_id: Id
    kind: MemberKind


class QuorumEntry(BaseModel):
    model_config = _REQUEST

    members: Annotated[int, Field(ge=1, le=50, description="At least this many members present and unrecused")]
    experts: Annotated[int, Field(ge=0, le=50, description="Of whom at least this many are experts by experience")]


class DecisionRuleUpdate(BaseModel):
    """PUT /v1/programmes/{id}/decision-rule: how the programme decides from now on."""

    model_config = _REQUEST

    method: DecisionMethod
    members: Annotated[list[PanelMemberEntry], Field(max_length=50)] = []
    quorum: QuorumEntry | None = None
    delegated_to: Literal["programme_manager", "admin"] | None = Field(
        default=None, description="Only for a delegated rule: the role that decides"
    )

    @field_validator("members")
    @classmethod
    def _no_repeats(cls, members: list[PanelMemberEntry]) -> list[PanelMemberEntry]:
        _unique([m.member_id for m in members], "panel member")
        return members


class DecisionRuleView(BaseModel):
    method: DecisionMethod
    members: list[PanelMemberEntry] | None = Field(description="Who decides: programme managers and admins only")
    quorum: QuorumEntry | None
    delegated_to: str | None
    set_by: str
    set_at: datetime


class MeetingRequest(BaseModel):
    """POST /v1/programmes/{id}/meetings: a decision meeting on applications from the ranking."""

    model_config = _REQUEST

    held_on: date
    application_ids: Annotated[list[Id], Field(min_length=1, max_length=50)]
    attendance: MemberIds = Field(default=[], description="The panel members present")

    @field_validator("application_ids")
    @classmethod
    def _no_repeated_items(cls, ids: list[str]) -> list[str]:
        return _unique(ids, "application")

    @field_validator("attendance")
    @classmethod
    def _no_repeated_members(cls, ids: list[str]) -> list[str]:
        return _unique(ids, "member")


class AttendanceUpdate(BaseModel):
    model_config = _REQUEST

    member_ids: MemberIds

    @field_validator("member_ids")
    @classmethod
    def _no_repeats(cls, ids: list[str]) -> list[str]:
        return _unique(ids, "member")


class RecommendationRequest(BaseModel):
    """PUT /v1/meetings/{id}/items/{application_id}/recommendation: the caller's recommendation, which
    they may change until the item closes."""

    model_config = _REQUEST

    recommendation: Recommendation
    amount: Money | None = Field(default=None, description="Only for fund_different_amount")
    reason: Annotated[str, Field(max_length=2_000)] = ""
    may_be_named: bool = Field(default=False, description="If this is recorded as dissent, it may name you")


class ItemClosing(BaseModel):
    """POST /v1/meetings/{id}/items/{application_id}/close: what the chair records with the panel's decision."""

    model_config = _REQUEST

    rationale: Annotated[str, Field(min_length=1, max_length=5_000)]
    feedback: Annotated[str, Field(max_length=5_000)] = Field(default="", description="For the applicant; needed to decline")


class RecommendationView(View):
    member_id: str
    recommendation: Recommendation
    amount: Money | None
    reason: str
    may_be_named: bool
    recorded_at: datetime


class RecusalView(View):
    member_id: str
    reason: str
    at: datetime


class TallyView(View):
    fund: int
    fund_different_amount: int
    do_not_fund: int
    abstain: int
    recused: int


class MeetingItemView(View):
    application_id: str
    title: str
    organisation_name: str | None = Field(description="None when the programme hides it from the caller (blind review)")
    amount_requested: Money
    status: ItemStatus
    tally: TallyView = Field(description="The recommendations recorded so far by those who may vote")
    may_vote: int = Field(description="Members present and not recused")
    recorded: int = Field(description="How many of them have recorded a recommendation")
    waiting_for: str | None = Field(description="What the rule still needs before the item can close (None: it can)")
    recusals: list[RecusalView] = Field(description="Managers: everyone recused; a member: only their own recusal")
    you_are_recused: bool | None = Field(description="For a panel member: whether they are recused from this item")
    your_recommendation: RecommendationView | None
    recommendations: list[RecommendationView] | None = Field(description="Every member's: managers only")
    decision: ItemDecision | None


class MeetingView(View):
    id: str
    programme_id: str
    held_on: date
    rule: DecisionRuleView
    attendance: list[str]
    called_by: str
    called_at: datetime
    items: list[MeetingItemView]
    version: int


class MeetingSummaryView(View):
    id: str
    programme_id: str
    held_on: date
    items: int
    open_items: int

ProgrammeView.model_rebuild()


# --- panel members supported: profiles and training ------------------------------------------------

ShortField = Annotated[str | None, Field(max_length=200)]


class ProfileUpdate(BaseModel):
    """PUT /v1/members/{id}/profile: the member's preferred name, contact and access needs."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    preferred_name: ShortField = None
    email: Annotated[str | None, Field(max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")] = None
    phone: Annotated[str | None, Field(max_length=40, pattern=r"^[0-9 +()-]{6,40}$")] = None
    access_needs: Annotated[list[AccessNeed], Field(max_length=len(AccessNeed))] = []
    access_notes: Annotated[str | None, Field(max_length=2_000, description="Access needs in your own words")] = None

    @field_validator("preferred_name", "email", "phone", "access_notes", mode="before")
    @classmethod
    def _blank_is_none(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("access_needs")
    @classmethod
    def _once_each(cls, needs: list[AccessNeed]) -> list[AccessNeed]:
        return list(dict.fromkeys(needs))


class ProfileView(View):
    member_id: str
    preferred_name: str | None = None
    email: str | None = None
    phone: str | None = None
    access_needs: list[AccessNeed] = []
    access_notes: str | None = None
    updated_at: datetime | None = None
    version: int

    @classmethod
    def of_profile(cls, profile: MemberProfile) -> "ProfileView":
        return cls.of(profile, member_id=profile.id)


class TrainingRecordRequest(BaseModel):
    """POST /v1/members/{id}/training: a course the member completed, and when."""

    model_config = _REQUEST

    course: Course
    completed_on: date


class TrainingRecordView(View):
    id: str
    member_id: str
    course: Course
    course_name: str
    completed_on: date
    recorded_by: str
    recorded_at: datetime

    @classmethod
    def of_record(cls, record: TrainingRecord) -> "TrainingRecordView":
        return cls.of(record, course_name=COURSE_NAMES[record.course])


class RequiredCoursesUpdate(BaseModel):
    """PUT /v1/programmes/{id}/required-courses: the courses the panel must have completed (none: none)."""

    model_config = _REQUEST

    courses: Annotated[list[Course], Field(max_length=len(Course))]


class PanelMemberSupportView(BaseModel):
    """A panel member as a manager plans for them: profile (if they have saved one), courses completed
    and those the programme requires that they still lack."""

    member_id: str
    on_review_panel: bool
    on_decision_panel: bool
    profile: ProfileView | None
    training: list[TrainingRecordView]
    missing_courses: list[Course]


class ProgrammeMembersView(BaseModel):
    programme_id: str
    required_courses: list[Course]
    members: list[PanelMemberSupportView]
# --- involvement payments to panel members -------------------------------------------------------


class InvolvementPolicyIn(BaseModel):
    """PUT /v1/programmes/{id}/involvement-policy: what the programme pays its panel members."""

    model_config = _REQUEST

    unit: RateUnit = Field(description="The rate is per hour or per session")
    rate: Money = Field(description="Per hour or per session, in minor units")
    meeting: Annotated[int, Field(ge=0, description="One decision meeting attended: minutes (hourly rate) or sessions")]
    review: Annotated[int, Field(ge=0, description="One review completed: minutes (hourly rate) or sessions")]
    expenses_allowed: bool = False
    expense_categories: Annotated[list[ExpenseCategory], Field(max_length=len(ExpenseCategory))] = []


class InvolvementPolicyView(View):
    programme_id: str
    unit: RateUnit
    rate: Money
    meeting: int
    review: int
    expenses_allowed: bool
    expense_categories: list[ExpenseCategory]
    meeting_worth: Money
    review_worth: Money
    set_by: str | None = None
    set_at: datetime
    version: int


class TimeEntryView(View):
    id: str
    programme_id: str
    member_id: str
    kind: TimeEntryKind
    title: str
    on: date
    recorded_at: datetime
    claim_id: str | None


class ExpenseClaimIn(BaseModel):
    """POST /v1/programmes/{id}/involvement/expense-claims: an expense the member paid (no receipt needed)."""

    model_config = _REQUEST

    category: ExpenseCategory
    amount: Money
    incurred_on: date
    note: Annotated[str, Field(max_length=1_000)] = ""


class ClaimRejection(BaseModel):
    model_config = _REQUEST

    reason: Note


class ClaimLineView(View):
    entry_id: str
    kind: TimeEntryKind
    title: str
    on: date
    quantity: str
    amount: Money


class InvolvementClaimView(View):
    id: str
    programme_id: str
    member_id: str
    kind: ClaimKind
    status: ClaimStatus
    amount: Money
    lines: list[ClaimLineView]
    category: ExpenseCategory | None
    incurred_on: date | None
    note: str
    submitted_at: datetime
    decided_by: str | None
    decided_at: datetime | None
    reason: str
    version: int

    @classmethod
    def of_claim(cls, claim: InvolvementClaim) -> "InvolvementClaimView":
        return cls.of(claim, lines=[ClaimLineView.of(line) for line in claim.lines])
