"""The bodies the API reads and answers with. Requests forbid unknown fields and bound every string
and list; answers are built from stored documents with ``of``."""

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from applications import domain
from applications.domain import ContactDetails, EligibilityRules, OrganisationProfile, ProgrammeTerms, UtcDatetime
from applications.store import Application, ErasureRequest, Organisation, Programme, ProgrammeChange, ProgrammeForm
from grants_shared import forms
from grants_shared.clock import utcnow
from grants_shared.events import Id, LongText, PaymentPolicy, Reason, RubricCriterion, ShortText
from grants_shared.money import Money

_REQUEST = ConfigDict(extra="forbid")

# --- programmes ----------------------------------------------------------------------------------


class ProgrammeDraft(ProgrammeTerms):
    """POST /v1/programmes, and what a PATCH must still be once applied."""

    @model_validator(mode="after")
    def _terms_hang_together(self) -> "ProgrammeDraft":
        problems = self.problems()
        if problems:
            raise ValueError("; ".join(problems))
        return self


class ProgrammePatch(BaseModel):
    """PATCH /v1/programmes/{id}: the fields to change; the result is checked as a whole."""

    model_config = _REQUEST

    name: ShortText | None = None
    description: domain.Description | None = None
    budget: Money | None = None
    maximum_award: Money | None = None
    opens_at: UtcDatetime | None = None
    closes_at: UtcDatetime | None = None
    eligibility: EligibilityRules | None = None
    criteria: Annotated[list[RubricCriterion], Field(min_length=1, max_length=20)] | None = None
    reviewers_per_application: Annotated[int, Field(ge=1, le=10)] | None = None
    panel: Annotated[list[Id], Field(min_length=1, max_length=100)] | None = None
    payment_policy: PaymentPolicy | None = None
    expression_of_interest: domain.StageDates | None = None
    retention: domain.RetentionRules | None = None


class ProgrammeChangeRequest(BaseModel):
    """POST /v1/programmes/{id}/changes: what to change in an open programme (only the fields given)."""

    model_config = _REQUEST

    name: ShortText | None = None
    description: domain.Description | None = None
    budget: Money | None = Field(default=None, description="The new budget: higher at once; lower once disbursement agrees")
    maximum_award: Money | None = Field(default=None, description="Only higher")
    closes_at: UtcDatetime | None = Field(default=None, description="Only later")
    expression_of_interest_closes_at: UtcDatetime | None = Field(default=None, description="Only later")
    note: Annotated[str, Field(max_length=1_000, description="Why, for the programme's history")] = ""

    def requested(self) -> domain.RequestedChange:
        return domain.RequestedChange(**{name: value for name, value in self if name != "note"})


class ProgrammeChangeView(BaseModel):
    id: str
    programme_id: str
    status: domain.ChangeStatus = Field(description="applied; pending (a budget decrease disbursement has not answered yet); refused")
    before: dict[str, Any] = Field(description="The changed fields as they were")
    after: dict[str, Any] = Field(description="The changed fields as asked")
    note: str
    requested_by: str
    requested_at: datetime
    settled_at: datetime | None
    refusal: str | None

    @classmethod
    def of(cls, change: ProgrammeChange) -> "ProgrammeChangeView":
        return cls.model_validate(change.model_dump())


class ProgrammeView(ProgrammeTerms):
    model_config = ConfigDict(extra="forbid")

    id: str
    status: domain.ProgrammeStatus
    version: int
    panel: list[str] | None = Field(  # type: ignore[assignment]
        default=None,
        description=(
            "The panel proposed for a draft (programme managers and admins only). Once the programme "
            "opens the panel is scoring's: read it there (GET /v1/programmes/{id} on scoring)."
        ),
    )
    created_at: datetime
    updated_at: datetime
    opened_at: datetime | None = None
    closed_at: datetime | None = None
    form_version: int = Field(
        default=0, description="The form new applications answer (GET /v1/programmes/{id}/form); 0: none"
    )
    interest_form_version: int = Field(
        default=0, description="The expression of interest's form (GET /v1/programmes/{id}/form?stage=expression_of_interest)"
    )
    pending_change_id: str | None = Field(
        default=None, description="A budget decrease waiting for disbursement's answer (GET /v1/programmes/{id}/changes)"
    )

    @classmethod
    def of(cls, programme: Programme, manager: bool) -> "ProgrammeView":
        fields = programme.model_dump(exclude={"created_by", "panel"})
        # Shown only while applications owns it: after opening, scoring may have changed it.
        proposed = programme.panel if manager and programme.status is domain.ProgrammeStatus.DRAFT else None
        return cls(**fields, panel=proposed)


class ProgrammeFormView(forms.FormDefinition):
    """One version of a programme's form for one stage."""

    programme_id: str
    stage: domain.Stage
    version: int
    created_at: datetime

    @classmethod
    def of(cls, form: ProgrammeForm) -> "ProgrammeFormView":
        return cls(**form.definition.model_dump(), programme_id=form.programme_id, stage=form.stage,
                   version=form.version, created_at=form.created_at)  # fmt: skip


class EligibilityCheck(BaseModel):
    """POST /v1/programmes/{id}/eligibility: a group's facts, as it would describe itself."""

    model_config = _REQUEST

    kind: domain.OrganisationKind
    area: domain.AreaName
    annual_income: Money
    amount_requested: Money | None = None


class EligibilityAnswer(BaseModel):
    eligible: bool
    failures: list[Reason] = Field(description="Every rule the group's facts break, in plain words")


# --- organisations -------------------------------------------------------------------------------


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

ApplicationFilter = Literal[
    "draft", "interest_submitted", "interest_declined", "ineligible", "withdrawn", "submitted", "under_review", "scored",
    "awarded", "declined", "offered", "accepted", "part_paid", "paid",
]  # fmt: skip


class ApplicationDraft(BaseModel):
    """POST /v1/applications. The contact defaults to the caller's name and email from their token."""

    model_config = _REQUEST

    programme_id: Id
    organisation_id: Id
    title: ShortText
    summary: LongText = ""
    amount_requested: Money
    contact: ContactDetails | None = None


class Consent(BaseModel):
    """The group's consent to an application made on its behalf: who in the group gave it, how, when."""

    model_config = _REQUEST

    given_by: ShortText = Field(description="The name of the person in the group who gave consent (personal)")
    method: domain.ConsentMethod
    given_at: UtcDatetime

    @model_validator(mode="after")
    def _not_in_the_future(self) -> "Consent":
        if self.given_at > utcnow():
            raise ValueError("consent cannot have been given in the future")
        return self


class AssistedApplicationDraft(BaseModel):
    """POST /v1/applications/assisted: a programme manager starts a draft for a group that asked for help.
    The group's profile is given here if the group has none yet; its contact is the group's person."""

    model_config = _REQUEST

    programme_id: Id
    organisation_id: Id
    title: ShortText
    summary: LongText = ""
    amount_requested: Money
    contact: ContactDetails = Field(description="Who in the group to tell about the application")
    consent: Consent
    organisation: OrganisationProfile | None = Field(
        default=None, description="The group's profile, when it has none yet (409 if it has one: that is the group's own)"
    )


class AssistanceView(BaseModel):
    assisted_by: str
    consent_given_by: str
    consent_method: domain.ConsentMethod
    consent_given_at: datetime
    recorded_at: datetime
    taken_over_at: datetime | None
    taken_over_by: str | None


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


class AnswersPatch(BaseModel):
    """PUT /v1/applications/{id}/answers: answers to save (null removes one); the others are kept."""

    model_config = _REQUEST

    answers: Annotated[dict[forms.QuestionId, Any], Field(max_length=100)]


class InterestDecision(BaseModel):
    """POST /v1/applications/{id}/decline-interest: why the group is not invited this time."""

    model_config = _REQUEST

    feedback: Annotated[str, Field(max_length=2_000)] = ""


class Withdrawal(BaseModel):
    model_config = _REQUEST

    reason: Annotated[str, Field(max_length=1_000)] = ""


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
    interest_score: ScoreView | None = Field(
        default=None, description="The reviewers' score of its expression of interest (a scored stage): managers only"
    )
    stage: domain.Stage = Field(description="expression_of_interest, or full (by invitation where there was one)")
    form_version: int = Field(description="The version of the stage's form this application answers (0: none)")
    interest_answers: dict[str, Any] = Field(default={}, description="An invited application's expression of interest")
    invited_at: datetime | None = None
    interest_feedback: str | None = Field(default=None, description="Why an expression of interest was not invited")
    answers: dict[str, Any] = Field(description="Question id -> answer")
    unfinished: list[forms.AnswerProblem] = Field(
        default=[], description="A draft's answers still missing or invalid: what stops it being submitted"
    )
    eligibility: list[Reason] | None = Field(
        default=None,
        description="A draft's eligibility as it stands now: every rule it breaks (empty: none). Null once submitted; "
        "ineligible_reasons keeps what its last submission was told",
    )
    assisted: bool = Field(default=False, description="Started by the programme team on the group's behalf")
    assistance: AssistanceView | None = Field(default=None, description="Who helped, and the group's consent")

    @classmethod
    def of(
        cls, application: Application, manager: bool, form: forms.FormDefinition | None = None,
        eligibility: list[Reason] | None = None,
    ) -> "ApplicationView":
        a = application
        unfinished = (forms.answer_problems(form, a.answers, complete=True)
                      if form is not None and a.status is domain.ApplicationStatus.DRAFT else [])  # fmt: skip
        return cls(
            **a.model_dump(include={
                "id", "programme_id", "organisation_id", "title", "summary", "amount_requested", "contact",
                "version", "created_at", "updated_at", "submitted_at", "ineligible_reasons", "withdrawn_at",
                "withdrawal_reason", "form_version", "answers", "stage", "interest_answers", "invited_at",
                "interest_feedback",
            }),
            unfinished=unfinished, eligibility=eligibility,
            assisted=a.assistance is not None,
            assistance=AssistanceView(**a.assistance.model_dump()) if a.assistance else None,
            status=domain.status_shown(a.status, manager),
            decision=DecisionView(**a.decision.model_dump()) if a.decision else None,
            grant=GrantView(**a.grant.model_dump()) if a.grant else None,
            paid=a.paid,
            score=ScoreView(**a.score.model_dump()) if a.score and manager else None,
            interest_score=ScoreView(**a.interest_score.model_dump()) if a.interest_score and manager else None,
        )  # fmt: skip


class ApplicationSummaryView(BaseModel):
    id: str
    programme_id: str
    organisation_id: str
    stage: domain.Stage
    title: str
    amount_requested: Money
    status: str
    submitted_at: datetime | None
    updated_at: datetime
    assisted: bool = Field(default=False, description="Started by the programme team on the group's behalf")

    @classmethod
    def of(cls, application: Application, manager: bool) -> "ApplicationSummaryView":
        fields = application.model_dump(include=set(cls.model_fields) - {"status", "assisted"})
        return cls(**fields, status=domain.status_shown(application.status, manager),
                   assisted=application.assistance is not None)  # fmt: skip


class TimelineEntryView(BaseModel):
    at: datetime
    kind: str
    words: str


class TimelineView(BaseModel):
    application_id: str
    status: str
    entries: list[TimelineEntryView]

    @classmethod
    def of(cls, application: Application, manager: bool) -> "TimelineView":
        entries = sorted(application.timeline, key=lambda e: e.at)
        return cls(
            application_id=application.id,
            status=domain.status_shown(application.status, manager),
            entries=[TimelineEntryView(at=e.at, kind=e.kind, words=e.words) for e in entries],
        )


class NewErasureRequest(BaseModel):
    model_config = _REQUEST

    person_id: Id = Field(description="The person's subject id, as their sign-in token names them")
    reason: Annotated[str, Field(max_length=1_000, description="How the request reached you, for the record")] = ""


class ErasureRequestView(BaseModel):
    id: str
    person_digest: str = Field(description="SHA-256 of the person's id: the request keeps no other trace of them")
    reason: str
    requested_by: str
    requested_at: datetime

    @classmethod
    def of(cls, request: ErasureRequest) -> "ErasureRequestView":
        return cls.model_validate(request.model_dump())
