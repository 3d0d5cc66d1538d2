"""Request and response models of the API, and the shapes of the documents this service stores.

Requests forbid unknown fields and bound every string and list. Stored documents are read back
through the document models (``Programme``, ``Organisation``, ``Application``) so the code works
with typed values; Money is stored as ``{"amount": int, "currency": str}``.
"""

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, EmailStr, Field, model_validator

from applications import domain
from applications.domain import AreaName, EligibilityRules, OrganisationKind
from grants_shared.events import (
    Id,
    LongText,
    OrganisationSummary,
    PaymentPolicy,
    ProgrammeOpened,
    Reason,
    RubricCriterion,
    ShortText,
)
from grants_shared.money import Money


def _in_utc(moment: datetime) -> datetime:
    # MongoDB stores UTC: a time at the edge of the calendar whose offset takes it past year 1 or 9999
    # must be refused here, not fail when it is written.
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        raise ValueError("this time is out of range once converted to UTC") from None


UtcDatetime = Annotated[AwareDatetime, AfterValidator(_in_utc)]
Description = Annotated[str, Field(max_length=10_000)]
RegisteredNumber = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9 -]{0,19}$")]

ProgrammeStatus = Literal["draft", "open", "closed"]
ApplicationStatus = Literal[
    "draft", "ineligible", "withdrawn",
    "submitted", "scored", "awarded", "declined", "offered", "accepted", "part_paid", "paid",
]  # fmt: skip

_REQUEST = ConfigDict(extra="forbid")
_DOCUMENT = ConfigDict(extra="ignore", populate_by_name=True)


# --- programmes ----------------------------------------------------------------------------------


class ProgrammeFields(BaseModel):
    """A programme's terms as a manager writes them."""

    model_config = _REQUEST

    name: ShortText
    description: Description = ""
    budget: Money
    maximum_award: Money
    opens_at: UtcDatetime
    closes_at: UtcDatetime
    eligibility: EligibilityRules = EligibilityRules()
    criteria: Annotated[list[RubricCriterion], Field(min_length=1, max_length=20)]
    reviewers_per_application: Annotated[int, Field(ge=1, le=10)]
    panel: Annotated[list[Id], Field(min_length=1, max_length=100)]
    payment_policy: PaymentPolicy = PaymentPolicy()


class ProgrammeDraft(ProgrammeFields):
    """POST /v1/programmes, and what a PATCH must still be once applied."""

    @model_validator(mode="after")
    def _terms_hang_together(self) -> "ProgrammeDraft":
        problems = domain.programme_problems(
            budget=self.budget,
            maximum_award=self.maximum_award,
            opens_at=self.opens_at,
            closes_at=self.closes_at,
            eligibility=self.eligibility,
            criteria=self.criteria,
            reviewers_per_application=self.reviewers_per_application,
            panel=self.panel,
        )
        if problems:
            raise ValueError("; ".join(problems))
        return self


class ProgrammePatch(BaseModel):
    """PATCH /v1/programmes/{id}: the fields to change; the result is checked as a whole."""

    model_config = _REQUEST

    name: ShortText | None = None
    description: Description | None = None
    budget: Money | None = None
    maximum_award: Money | None = None
    opens_at: UtcDatetime | None = None
    closes_at: UtcDatetime | None = None
    eligibility: EligibilityRules | None = None
    criteria: Annotated[list[RubricCriterion], Field(min_length=1, max_length=20)] | None = None
    reviewers_per_application: Annotated[int, Field(ge=1, le=10)] | None = None
    panel: Annotated[list[Id], Field(min_length=1, max_length=100)] | None = None
    payment_policy: PaymentPolicy | None = None


class Programme(ProgrammeFields):
    """The stored programme."""

    model_config = _DOCUMENT

    id: Id = Field(alias="_id")
    status: ProgrammeStatus
    version: int
    created_by: str
    created_at: datetime
    updated_at: datetime
    opened_at: datetime | None = None
    closed_at: datetime | None = None

    def to_doc(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True)

    def terms(self) -> domain.ProgrammeTerms:
        return domain.ProgrammeTerms(
            status=self.status,
            opens_at=self.opens_at,
            closes_at=self.closes_at,
            currency=self.budget.currency,
            maximum_award=self.maximum_award,
            eligibility=self.eligibility,
        )

    def opened(self) -> ProgrammeOpened:
        return ProgrammeOpened(
            programme_id=self.id,
            name=self.name,
            budget=self.budget,
            maximum_award=self.maximum_award,
            opens_at=self.opens_at,
            closes_at=self.closes_at,
            criteria=self.criteria,
            reviewers_per_application=self.reviewers_per_application,
            panel=self.panel,
            payment_policy=self.payment_policy,
        )


class ProgrammeView(ProgrammeFields):
    model_config = ConfigDict(extra="forbid")

    id: str
    status: ProgrammeStatus
    version: int
    panel: list[str] | None = Field(  # type: ignore[assignment]
        default=None, description="Reviewer ids; shown to programme managers and admins only"
    )
    created_at: datetime
    updated_at: datetime
    opened_at: datetime | None = None
    closed_at: datetime | None = None

    @classmethod
    def of(cls, programme: Programme, show_panel: bool) -> "ProgrammeView":
        fields = programme.model_dump(exclude={"created_by", "panel"})
        return cls(**fields, panel=programme.panel if show_panel else None)


# --- organisations -------------------------------------------------------------------------------


class OrganisationProfile(BaseModel):
    """PUT /v1/organisations/{id}: who the applicant group is."""

    model_config = _REQUEST

    name: ShortText
    kind: OrganisationKind
    area: AreaName = Field(description='Where the group works, e.g. "Brent"')
    annual_income: Money
    charity_number: RegisteredNumber | None = None
    company_number: RegisteredNumber | None = None


class Organisation(OrganisationProfile):
    model_config = _DOCUMENT

    id: Id = Field(alias="_id")
    version: int
    created_at: datetime
    updated_at: datetime
    updated_by: str

    def to_doc(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True)

    def summary(self) -> OrganisationSummary:
        return OrganisationSummary(id=self.id, name=self.name, kind=self.kind, area=self.area)

    def as_applicant(self) -> domain.ApplicantOrganisation:
        return domain.ApplicantOrganisation(kind=self.kind, area=self.area, annual_income=self.annual_income)


class OrganisationView(OrganisationProfile):
    model_config = ConfigDict(extra="forbid")

    id: str
    version: int
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, organisation: Organisation) -> "OrganisationView":
        return cls(**organisation.model_dump(exclude={"updated_by"}))


# --- applications --------------------------------------------------------------------------------


class ContactDetails(BaseModel):
    """Who to tell about this application. Personal data: only the organisation and managers see it."""

    model_config = _REQUEST

    name: ShortText
    email: EmailStr


class ApplicationDraft(BaseModel):
    """POST /v1/applications. The contact defaults to the caller's name and email from their token."""

    model_config = _REQUEST

    programme_id: Id
    organisation_id: Id
    title: ShortText
    summary: LongText = ""
    amount_requested: Money
    contact: ContactDetails | None = None


class ApplicationPatch(BaseModel):
    model_config = _REQUEST

    title: ShortText | None = None
    summary: LongText | None = None
    amount_requested: Money | None = None
    contact: ContactDetails | None = None

    @model_validator(mode="after")
    def _no_nulls(self) -> "ApplicationPatch":
        nulls = [name for name in self.model_fields_set if getattr(self, name) is None]
        if nulls:
            raise ValueError(f"these fields cannot be emptied: {', '.join(sorted(nulls))}")
        return self


class Withdrawal(BaseModel):
    model_config = _REQUEST

    reason: Annotated[str, Field(max_length=1_000)] = ""


class TimelineEntry(BaseModel):
    model_config = _DOCUMENT

    id: str = Field(description="The event id that caused it, so an event is recorded once")
    at: datetime
    kind: str
    words: str


class Score(BaseModel):
    model_config = _DOCUMENT

    weighted_score: float
    criterion_means: dict[str, float]
    reviewer_count: int
    needs_moderation: bool
    scored_at: datetime


class Decision(BaseModel):
    model_config = _DOCUMENT

    outcome: Literal["awarded", "declined"]
    amount_awarded: Money | None = None
    feedback: str = ""
    decided_at: datetime


class GrantRecord(BaseModel):
    model_config = _DOCUMENT

    grant_id: str
    amount: Money | None = None
    instalments: int | None = None
    offered_at: datetime | None = None
    accepted_at: datetime | None = None


class PaymentRecord(BaseModel):
    model_config = _DOCUMENT

    payment_id: str
    amount: Money
    provider_reference: str
    sent_at: datetime


class Application(BaseModel):
    """The stored application, with what downstream services told us about it."""

    model_config = _DOCUMENT

    id: Id = Field(alias="_id")
    programme_id: str
    organisation_id: str
    title: str
    summary: str
    amount_requested: Money
    contact: ContactDetails
    status: ApplicationStatus
    version: int
    created_by: str
    created_at: datetime
    updated_at: datetime
    submitted_at: datetime | None = None
    submitted_by: str | None = None
    organisation: OrganisationSummary | None = Field(default=None, description="As it was when submitted")
    ineligible_reasons: list[Reason] = []
    withdrawn_at: datetime | None = None
    withdrawal_reason: str | None = None
    score: Score | None = None
    decision: Decision | None = None
    grant: GrantRecord | None = None
    payments: list[PaymentRecord] = []
    timeline: list[TimelineEntry] = []

    def to_doc(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True)

    @property
    def award(self) -> Money | None:
        """What the organisation is to be paid: the grant offered, else the amount the panel awarded."""
        if self.grant and self.grant.amount:
            return self.grant.amount
        return self.decision.amount_awarded if self.decision else None

    @property
    def paid(self) -> Money | None:
        return domain.total_paid(p.amount for p in self.payments)

    def progress(self) -> domain.Progress:
        return domain.Progress(
            scored=self.score is not None,
            outcome=self.decision.outcome if self.decision else None,
            award=self.award,
            offered=bool(self.grant and self.grant.offered_at),
            accepted=bool(self.grant and self.grant.accepted_at),
            paid=self.paid,
        )

    def has_entry(self, entry_id: str) -> bool:
        return any(e.id == entry_id for e in self.timeline)


class ScoreView(BaseModel):
    weighted_score: float
    criterion_means: dict[str, float]
    reviewer_count: int
    needs_moderation: bool
    scored_at: datetime


class DecisionView(BaseModel):
    outcome: Literal["awarded", "declined"]
    amount_awarded: Money | None
    feedback: str
    decided_at: datetime


class GrantView(BaseModel):
    grant_id: str
    amount: Money | None
    offered_at: datetime | None
    accepted_at: datetime | None


class ApplicationView(BaseModel):
    """One application. ``status`` is in the applicant's words for applicants (a scored application is
    ``under_review``); programme managers and admins see the service's own status and the score."""

    id: str
    programme_id: str
    organisation_id: str
    title: str
    summary: str
    amount_requested: Money
    contact: ContactDetails
    status: str
    version: int
    created_at: datetime
    updated_at: datetime
    submitted_at: datetime | None
    ineligible_reasons: list[Reason]
    withdrawn_at: datetime | None
    withdrawal_reason: str | None
    decision: DecisionView | None
    grant: GrantView | None
    paid: Money | None
    score: ScoreView | None = Field(description="Programme managers and admins only")

    @classmethod
    def of(cls, application: Application, manager: bool) -> "ApplicationView":
        a = application
        return cls(
            id=a.id,
            programme_id=a.programme_id,
            organisation_id=a.organisation_id,
            title=a.title,
            summary=a.summary,
            amount_requested=a.amount_requested,
            contact=a.contact,
            status=domain.status_shown(a.status, manager),
            version=a.version,
            created_at=a.created_at,
            updated_at=a.updated_at,
            submitted_at=a.submitted_at,
            ineligible_reasons=a.ineligible_reasons,
            withdrawn_at=a.withdrawn_at,
            withdrawal_reason=a.withdrawal_reason,
            decision=DecisionView(**a.decision.model_dump()) if a.decision else None,
            grant=GrantView(**a.grant.model_dump()) if a.grant else None,
            paid=a.paid,
            score=ScoreView(**a.score.model_dump()) if a.score and manager else None,
        )


class ApplicationSummaryView(BaseModel):
    id: str
    programme_id: str
    organisation_id: str
    title: str
    amount_requested: Money
    status: str
    submitted_at: datetime | None
    updated_at: datetime

    @classmethod
    def of(cls, application: Application, manager: bool) -> "ApplicationSummaryView":
        fields = application.model_dump(include=set(cls.model_fields) - {"status"})
        return cls(**fields, status=domain.status_shown(application.status, manager))


class TimelineEntryView(BaseModel):
    at: datetime
    kind: str
    words: str


class TimelineView(BaseModel):
    application_id: str
    status: str
    entries: list[TimelineEntryView]
