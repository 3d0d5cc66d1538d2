"""The event contracts: one pydantic model per event type, versioned in its name.

Services import these; nobody keeps a private copy. Each contract names its owner (the only service
that publishes it) and its consumers, and says which field is the CloudEvents ``subject`` (the
aggregate the event is about). ``docs/asyncapi.yaml`` is generated from this module.

Consumers read tolerantly (unknown fields are ignored), so adding an optional field is a compatible
change; removing or retyping one needs a new ``.v2`` type.
"""

from datetime import date, datetime
from typing import Annotated, ClassVar, Generic, Literal, TypeVar
from uuid import uuid4

from pydantic import BaseModel, ConfigDict, EmailStr, Field, field_validator, model_validator

from grants_shared.clock import utcnow
from grants_shared.money import Money

# Ids include identity-provider subjects, which may look like "auth0|abc" or "maya@example.org". The
# one rule for every id, wherever it appears: event bodies, request bodies, paths and queries.
ID_PATTERN = r"^[A-Za-z0-9_.:@|+-]+$"
ID_MAX_LENGTH = 128
Id = Annotated[str, Field(min_length=1, max_length=ID_MAX_LENGTH, pattern=ID_PATTERN)]
ShortText = Annotated[str, Field(min_length=1, max_length=200)]
LongText = Annotated[str, Field(max_length=10_000)]

APPLICATIONS, SCORING, DISBURSEMENT, NOTIFICATIONS = "applications", "scoring", "disbursement", "notifications"

#: Marks a field as personal data (contact details, text about people): consumers inside the platform
#: that need it get it; it is left out of anything that leaves the platform (webhooks).
PERSONAL: dict[str, object] = {"x-personal-data": True}

#: Every contract by its type name, filled in as the classes below are defined.
CONTRACTS: dict[str, type["EventData"]] = {}


class EventData(BaseModel):
    """The body of an event. Subclasses set the ClassVars that place them in the catalogue."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    type: ClassVar[str]
    owner: ClassVar[str]
    consumers: ClassVar[tuple[str, ...]]
    subject_field: ClassVar[str]

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        if "type" in cls.__dict__:
            CONTRACTS[cls.type] = cls

    @property
    def subject(self) -> str:
        return str(getattr(self, self.subject_field))

    def without_personal_data(self) -> dict[str, object]:
        """The event's data as JSON-ready values, minus the fields marked :data:`PERSONAL`, at any depth."""
        return _strip_personal(self, self.model_dump(mode="json"))


def is_personal(field: object) -> bool:
    extra = getattr(field, "json_schema_extra", None)
    return isinstance(extra, dict) and bool(extra.get("x-personal-data"))


def _strip_personal(model: BaseModel, dumped: dict[str, object]) -> dict[str, object]:
    for name, field in type(model).model_fields.items():
        key = field.serialization_alias or name
        if is_personal(field):
            dumped.pop(key, None)
            continue
        value = getattr(model, name)
        if isinstance(value, BaseModel) and isinstance(dumped.get(key), dict):
            _strip_personal(value, dumped[key])  # type: ignore[arg-type]
        elif isinstance(value, (list, tuple)) and isinstance(dumped.get(key), list):
            for item, item_dumped in zip(value, dumped[key]):  # type: ignore[arg-type]
                if isinstance(item, BaseModel) and isinstance(item_dumped, dict):
                    _strip_personal(item, item_dumped)
    return dumped


Data = TypeVar("Data", bound=EventData)


class Event(BaseModel, Generic[Data]):
    """An event as it travels: CloudEvents attributes around one contract's data.

    A handler names the contract it handles in its signature (``event: Event[ApplicationScored]``), so
    ``event.data`` is typed, and the consumer's registry finds the handler by that type."""

    model_config = ConfigDict(frozen=True)

    id: str = Field(default_factory=lambda: str(uuid4()))
    type: str
    source: str
    time: datetime = Field(default_factory=utcnow)
    subject: str
    traceparent: str | None = None
    #: Who caused it: the subject id of the person whose request it followed (None for a worker's or
    #: another event's doing). Personal data: it stays inside the platform, never in a webhook.
    actor: str | None = None
    data: Data

    @classmethod
    def new(
        cls, data: Data, source: str, traceparent: str | None = None, actor: str | None = None
    ) -> "Event[Data]":
        return cls(
            type=data.type, source=source, subject=data.subject, traceparent=traceparent, actor=actor, data=data
        )


# --- shared pieces -------------------------------------------------------------------------------


class ScoreGuidance(BaseModel):
    """What one score on a criterion means, so that every reviewer reads the scale the same way."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    score: Annotated[int, Field(ge=0, le=5)]
    meaning: Annotated[str, Field(min_length=1, max_length=500)]


class RubricCriterion(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    key: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,39}$")]
    title: ShortText
    weight: Annotated[int, Field(ge=1, le=100, description="Relative weight; weights need not sum to anything")]
    # Optional, so that criteria defined before guidance existed (and events queued then) still read.
    guidance: Annotated[list[ScoreGuidance], Field(
        max_length=6, description="What each score (0 to 5) means, shown to reviewers next to the criterion",
    )] = []  # fmt: skip

    @field_validator("guidance")
    @classmethod
    def _one_meaning_per_score(cls, guidance: list[ScoreGuidance]) -> list[ScoreGuidance]:
        scores = [g.score for g in guidance]
        if len(set(scores)) != len(scores):
            raise ValueError("a score's meaning is given more than once")
        return sorted(guidance, key=lambda g: g.score)


class Tranche(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    share_bps: Annotated[int, Field(ge=1, le=10_000, description="Share of the award in basis points (100 = 1%)")]
    due_after_days: Annotated[int, Field(ge=0, le=1_095, description="Days after the offer is accepted")]


class PaymentPolicy(BaseModel):
    """How an award is paid: all at once on acceptance, or in tranches whose shares add up to 100%."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["single", "tranches"] = "single"
    tranches: Annotated[list[Tranche], Field(max_length=12)] = []

    @model_validator(mode="after")
    def _tranches_match_kind(self) -> "PaymentPolicy":
        if self.kind == "single" and self.tranches:
            raise ValueError("a single payment takes no tranches")
        if self.kind == "tranches":
            if len(self.tranches) < 2:
                raise ValueError("tranches need at least two parts")
            if sum(t.share_bps for t in self.tranches) != 10_000:
                raise ValueError("tranche shares must add up to 10000 basis points (100%)")
        return self


class OrganisationSummary(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    id: Id
    name: ShortText
    kind: ShortText
    area: ShortText


class Contact(BaseModel):
    """Who to tell about an application. Personal data: only notifications keeps it."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    person_id: Id
    name: ShortText
    email: EmailStr


class Reason(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    code: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,59}$")]
    message: ShortText


class ScheduledAmount(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    sequence: Annotated[int, Field(ge=1)]
    amount: Money
    due_after_days: Annotated[int, Field(ge=0)]


class DecidedBy(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    recorded_by: Id
    panel: list[Id]


# --- the catalogue -------------------------------------------------------------------------------


class ProgrammeOpened(EventData):
    """A programme (funding round) opened for applications."""

    type = "grants.programme.opened.v1"
    owner = APPLICATIONS
    consumers = (SCORING, DISBURSEMENT, NOTIFICATIONS)
    subject_field = "programme_id"

    programme_id: Id
    name: ShortText
    budget: Money
    maximum_award: Money
    opens_at: datetime
    closes_at: datetime
    criteria: list[RubricCriterion]
    reviewers_per_application: Annotated[int, Field(ge=1, le=10)]
    # Who sits on a panel of experts by experience is theirs to share, not the platform's.
    panel: Annotated[list[Id], Field(json_schema_extra=PERSONAL)]
    payment_policy: PaymentPolicy


class ProgrammeClosed(EventData):
    """A programme stopped taking applications."""

    type = "grants.programme.closed.v1"
    owner = APPLICATIONS
    consumers = (SCORING, NOTIFICATIONS)
    subject_field = "programme_id"

    programme_id: Id


class ApplicationSubmitted(EventData):
    """An eligible application was submitted and awaits review."""

    type = "grants.application.submitted.v1"
    owner = APPLICATIONS
    consumers = (SCORING, NOTIFICATIONS)
    subject_field = "application_id"

    application_id: Id
    programme_id: Id
    organisation: OrganisationSummary
    title: ShortText
    summary: Annotated[LongText, Field(json_schema_extra=PERSONAL)]
    amount_requested: Money
    contact: Annotated[Contact, Field(json_schema_extra=PERSONAL)]
    submitted_at: datetime
    # Added by "programme's questions to reviewers" (compatible: optional): the answers to the
    # programme's own questions, for the reviewers who judge them (see QuestionAnswer at the end).
    answers: Annotated[list["QuestionAnswer"], Field(json_schema_extra=PERSONAL)] = []
    # Added with scored stages (compatible: optional): the stage the submission is for. An expression
    # of interest reaches scoring only where its programme scores that stage; the full application
    # of the same group then arrives under the same application id with stage "full".
    stage: Literal["expression_of_interest", "full"] = "full"


class ApplicationIneligible(EventData):
    """A submitted application failed the programme's eligibility rules; every failed rule is listed."""

    type = "grants.application.ineligible.v1"
    owner = APPLICATIONS
    consumers = (NOTIFICATIONS,)
    subject_field = "application_id"

    application_id: Id
    programme_id: Id
    title: ShortText
    reasons: list[Reason]
    contact: Annotated[Contact, Field(json_schema_extra=PERSONAL)]


class ApplicationWithdrawn(EventData):
    """The applicant withdrew a submitted application."""

    type = "grants.application.withdrawn.v1"
    owner = APPLICATIONS
    consumers = (SCORING, NOTIFICATIONS)
    subject_field = "application_id"

    application_id: Id
    programme_id: Id
    reason: Annotated[str, Field(max_length=1_000, json_schema_extra=PERSONAL)] = ""


class ReviewAssigned(EventData):
    """A reviewer from the panel was asked to score an application."""

    type = "grants.review.assigned.v1"
    owner = SCORING
    consumers = (NOTIFICATIONS,)
    subject_field = "review_id"

    review_id: Id
    application_id: Id
    programme_id: Id
    application_title: ShortText
    reviewer_id: Annotated[Id, Field(json_schema_extra=PERSONAL)]
    due_date: date


class ApplicationScored(EventData):
    """Every assigned reviewer scored the application; the weighted score is on the 0-5 scale."""

    type = "grants.application.scored.v1"
    owner = SCORING
    consumers = (APPLICATIONS, NOTIFICATIONS)
    subject_field = "application_id"

    application_id: Id
    programme_id: Id
    weighted_score: Annotated[float, Field(ge=0, le=5)]
    criterion_means: dict[str, Annotated[float, Field(ge=0, le=5)]]
    reviewer_count: Annotated[int, Field(ge=1)]
    needs_moderation: bool
    # Added with scored stages (compatible: optional): an expression of interest's score helps the
    # programme team shortlist; only a full application's goes on to a decision.
    stage: Literal["expression_of_interest", "full"] = "full"


class ApplicationDecided(EventData):
    """The panel decided: awarded (with an amount) or declined (with feedback). No longer published:
    scoring publishes ``grants.application.decided.v2``; consumers still handle this one, so events
    queued before an upgrade are not lost."""

    type = "grants.application.decided.v1"
    owner = SCORING
    consumers = (APPLICATIONS, DISBURSEMENT, NOTIFICATIONS)
    subject_field = "application_id"

    application_id: Id
    programme_id: Id
    organisation_id: Id
    outcome: Literal["awarded", "declined"]
    amount_awarded: Money | None = None
    feedback: Annotated[str, Field(max_length=5_000, json_schema_extra=PERSONAL)] = ""
    decided_at: datetime
    decided_by: Annotated[DecidedBy, Field(json_schema_extra=PERSONAL)]

    @model_validator(mode="after")
    def _amount_matches_outcome(self) -> "ApplicationDecided":
        if (self.outcome == "awarded") != (self.amount_awarded is not None):
            raise ValueError("an award carries an amount; a decline does not")
        return self


class GrantOffered(EventData):
    """An award became a grant offer with its payment schedule."""

    type = "grants.grant.offered.v1"
    owner = DISBURSEMENT
    consumers = (APPLICATIONS, NOTIFICATIONS)
    subject_field = "grant_id"

    grant_id: Id
    application_id: Id
    programme_id: Id
    amount: Money
    schedule: list[ScheduledAmount]
    #: When the offer lapses unless the grantee's signatory accepts it (optional, so a compatible
    #: addition: consumers that read v1 before offers had a window ignore it).
    expires_at: datetime | None = None


class GrantAccepted(EventData):
    """The grantee accepted the offer and gave bank details (which stay in disbursement)."""

    type = "grants.grant.accepted.v1"
    owner = DISBURSEMENT
    consumers = (APPLICATIONS, NOTIFICATIONS)
    subject_field = "grant_id"

    grant_id: Id
    application_id: Id


class PaymentScheduled(EventData):
    type = "grants.payment.scheduled.v1"
    owner = DISBURSEMENT
    consumers = (NOTIFICATIONS,)
    subject_field = "payment_id"

    payment_id: Id
    grant_id: Id
    application_id: Id
    amount: Money
    due_date: date


class PaymentSent(EventData):
    type = "grants.payment.sent.v1"
    owner = DISBURSEMENT
    consumers = (APPLICATIONS, NOTIFICATIONS)
    subject_field = "payment_id"

    payment_id: Id
    grant_id: Id
    application_id: Id
    amount: Money
    provider_reference: ShortText
    sent_at: datetime


class PaymentFailed(EventData):
    type = "grants.payment.failed.v1"
    owner = DISBURSEMENT
    consumers = (APPLICATIONS, NOTIFICATIONS)
    subject_field = "payment_id"

    payment_id: Id
    grant_id: Id
    application_id: Id
    reason: ShortText
    attempt: Annotated[int, Field(ge=1)]
    will_retry: bool


class NotificationDelivered(EventData):
    """A notification reached a channel. For integrators and audit; no personal data."""

    type = "grants.notification.delivered.v1"
    owner = NOTIFICATIONS
    consumers = ()
    subject_field = "notification_id"

    notification_id: Id
    channel: Literal["email", "inbox", "webhook"]
    recipient_kind: Literal["applicant", "reviewer", "integrator"]
    answered_event_id: Id
    answered_event_type: ShortText


# --- After the award ---


class GrantOfferDeclined(EventData):
    """The grantee's signatory declined the offer: its reservation went back to the budget."""

    type = "grants.grant.offer_declined.v1"
    owner = DISBURSEMENT
    consumers = (NOTIFICATIONS,)
    subject_field = "grant_id"

    grant_id: Id
    application_id: Id
    programme_id: Id
    #: What was reserved and is now free to award again.
    released: Money
    #: The grantee's own words: for the people who read them, not for integrators.
    reason: Annotated[str, Field(min_length=1, max_length=1_000, json_schema_extra=PERSONAL)]
    declined_at: datetime


class GrantOfferExpired(EventData):
    """Nobody accepted the offer within its acceptance window: its reservation went back to the budget."""

    type = "grants.grant.offer_expired.v1"
    owner = DISBURSEMENT
    consumers = (NOTIFICATIONS,)
    subject_field = "grant_id"

    grant_id: Id
    application_id: Id
    programme_id: Id
    released: Money
    expired_at: datetime


class GrantOfferReminder(EventData):
    """An offer is still open and its acceptance window closes soon."""

    type = "grants.grant.offer_reminder.v1"
    owner = DISBURSEMENT
    consumers = (NOTIFICATIONS,)
    subject_field = "grant_id"

    grant_id: Id
    application_id: Id
    amount: Money
    expires_at: datetime


class PaymentRunAwaitingApproval(EventData):
    """Due payments were gathered into a run; none is sent until finance approves it."""

    type = "grants.payment_run.awaiting_approval.v1"
    owner = DISBURSEMENT
    consumers = (NOTIFICATIONS,)
    subject_field = "run_id"

    run_id: Id
    total: Money
    payments: Annotated[int, Field(ge=1)]
    #: 2 when the total is above the programme's threshold: a second, different finance officer.
    approvals_needed: Annotated[int, Field(ge=1, le=2)]


class PaymentRunApproved(EventData):
    """Enough finance officers approved the run: its payments are being sent."""

    type = "grants.payment_run.approved.v1"
    owner = DISBURSEMENT
    consumers = (NOTIFICATIONS,)
    subject_field = "run_id"

    run_id: Id
    total: Money
    #: Payments released for sending (any held meanwhile left the run).
    payments: Annotated[int, Field(ge=0)]


class PaymentHeld(EventData):
    """Finance stopped a payment (or its grant) before it was sent."""

    type = "grants.payment.held.v1"
    owner = DISBURSEMENT
    consumers = (NOTIFICATIONS,)
    subject_field = "payment_id"

    payment_id: Id
    grant_id: Id
    application_id: Id


class PaymentReleased(EventData):
    """Finance released a held payment: it goes into the next payment run once due."""

    type = "grants.payment.released.v1"
    owner = DISBURSEMENT
    consumers = (NOTIFICATIONS,)
    subject_field = "payment_id"

    payment_id: Id
    grant_id: Id
    application_id: Id


class PaymentRunExported(EventData):
    """A finance officer took an approved run as a bank file (its content never travels)."""

    type = "grants.payment_run.exported.v1"
    owner = DISBURSEMENT
    consumers = (NOTIFICATIONS,)
    subject_field = "run_id"

    run_id: Id
    format: Literal["pain.001", "csv"]
    payments: Annotated[int, Field(ge=1)]
    #: The first export puts the payments in the file; later ones repeat the same file.
    first: bool


class GrantRepaymentRecorded(EventData):
    """Finance recorded money the grantee paid back; it is back in the programme's budget."""

    type = "grants.grant.repayment_recorded.v1"
    owner = DISBURSEMENT
    consumers = (NOTIFICATIONS,)
    subject_field = "grant_id"

    grant_id: Id
    application_id: Id
    programme_id: Id
    amount: Money
    recorded_at: datetime


class GrantVaried(EventData):
    """Finance varied a grant: its amount (up within the budget, or down), its end date, or cancelled it
    (its amount is then what it was paid; the rest went back to the budget)."""

    type = "grants.grant.varied.v1"
    owner = DISBURSEMENT
    consumers = (NOTIFICATIONS,)
    subject_field = "grant_id"

    grant_id: Id
    application_id: Id
    programme_id: Id
    kind: Literal["amount", "end_date", "cancellation"]
    amount: Money
    previous_amount: Money
    ends_on: date | None = None
    varied_at: datetime
# --- data protection -----------------------------------------------------------------------------


class PersonErasureRequested(EventData):
    """An administrator asked, on a person's behalf (UK GDPR article 17), that the platform erase their
    personal data: each service anonymises what it holds about them and keeps a record that it did."""

    type = "grants.person.erasure_requested.v1"
    owner = APPLICATIONS
    consumers = (SCORING, DISBURSEMENT, NOTIFICATIONS)
    subject_field = "request_id"

    request_id: Id
    person_id: Annotated[Id, Field(json_schema_extra=PERSONAL)]


class ApplicationAnonymised(EventData):
    """The programme's retention period for an application ended: what it says about people (contact
    details, the project's description, comments, feedback, messages) is removed everywhere; its
    amounts, scores and decision stay for audit."""

    type = "grants.application.anonymised.v1"
    owner = APPLICATIONS
    consumers = (SCORING, DISBURSEMENT, NOTIFICATIONS)
    subject_field = "application_id"

    application_id: Id
    programme_id: Id


# --- Operable and trustworthy: metrics, logs and traces; Standard Webhooks; people's choices ---


class WebhookSubscriptionDisabled(EventData):
    """An integrator's webhook endpoint was disabled after repeated failure: its events are held until
    an admin reactivates it. For operators and the integrator's other channels (the endpoint itself is
    what fails); no personal data."""

    type = "grants.webhook_subscription.disabled.v1"
    owner = NOTIFICATIONS
    consumers = ()
    subject_field = "subscription_id"

    subscription_id: Id
    reason: ShortText
    failing_since: datetime | None
    failed_deliveries: Annotated[int, Field(ge=0)]
    disabled_at: datetime


class WebhookSubscriptionReactivated(EventData):
    """A disabled or deactivated webhook endpoint was made active again; held deliveries go out."""

    type = "grants.webhook_subscription.reactivated.v1"
    owner = NOTIFICATIONS
    consumers = ()
    subject_field = "subscription_id"

    subscription_id: Id
    released: Annotated[int, Field(ge=0, description="Held deliveries queued again")]
    reactivated_at: datetime


# --- The panel decides ---------------------------------------------------------------------------


class DecisionTally(BaseModel):
    """How a panel's recommendations on one application fell; counts only, never names."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    fund: Annotated[int, Field(ge=0)]
    fund_different_amount: Annotated[int, Field(ge=0)]
    do_not_fund: Annotated[int, Field(ge=0)]
    abstain: Annotated[int, Field(ge=0)]
    recused: Annotated[int, Field(ge=0)]


class DecisionBasis(BaseModel):
    """Who held the decision: the panel in a meeting (its id and the tally), or the role a programme
    delegated its decisions to. No member's name: the bus does not need it."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    by: Literal["panel", "delegated"]
    meeting_id: Id | None = None
    tally: DecisionTally | None = None
    delegated_to: Literal["programme_manager", "admin"] | None = None

    @model_validator(mode="after")
    def _fits_by(self) -> "DecisionBasis":
        if self.by == "panel" and (self.meeting_id is None or self.tally is None or self.delegated_to):
            raise ValueError("a panel's decision names its meeting and tally, and no delegated role")
        if self.by == "delegated" and (self.delegated_to is None or self.meeting_id or self.tally):
            raise ValueError("a delegated decision names the role, and no meeting or tally")
        return self


class ApplicationDecidedV2(EventData):
    """The programme decided: awarded (with an amount) or declined (with feedback), by its panel in a
    decision meeting or by the role its decisions are delegated to. Replaces v1, which named the person
    who recorded the decision and the whole panel."""

    type = "grants.application.decided.v2"
    owner = SCORING
    consumers = (APPLICATIONS, DISBURSEMENT, NOTIFICATIONS)
    subject_field = "application_id"

    application_id: Id
    programme_id: Id
    organisation_id: Id
    outcome: Literal["awarded", "declined"]
    amount_awarded: Money | None = None
    feedback: Annotated[str, Field(max_length=5_000, json_schema_extra=PERSONAL)] = ""
    decided_at: datetime
    decided_by: DecisionBasis

    @model_validator(mode="after")
    def _amount_matches_outcome(self) -> "ApplicationDecidedV2":
        if (self.outcome == "awarded") != (self.amount_awarded is not None):
            raise ValueError("an award carries an amount; a decline does not")
        return self


class DecisionMeetingCalled(EventData):
    """A programme manager called a decision meeting: each panel member invited is told (notifications)."""

    type = "grants.decision_meeting.called.v1"
    owner = SCORING
    consumers = (NOTIFICATIONS,)
    subject_field = "meeting_id"

    meeting_id: Id
    programme_id: Id
    held_on: date
    item_count: Annotated[int, Field(ge=1)]
    # Who sits on a panel is theirs to share: only notifications needs it, to invite them.
    member_ids: Annotated[list[Id], Field(json_schema_extra=PERSONAL)]


# --- Applying is easy for small groups, and managers see who the programme reaches ---


class ApplicationReturnedForCorrection(EventData):
    """A submission broke some of the programme's eligibility rules while the programme still takes
    applications, so it went back to the group as a draft to put right (every failed rule listed)
    instead of ending there; ``grants.application.ineligible.v1`` is for one that can no longer be
    corrected. The group may submit it again until ``closes_at``."""

    type = "grants.application.returned_for_correction.v1"
    owner = APPLICATIONS
    consumers = (NOTIFICATIONS,)
    subject_field = "application_id"

    application_id: Id
    programme_id: Id
    title: ShortText
    reasons: list[Reason]
    closes_at: datetime
    contact: Annotated[Contact, Field(json_schema_extra=PERSONAL)]


class InterestSubmitted(EventData):
    """A group sent an expression of interest (the first stage of a programme that has one); the
    programme managers shortlist from these and invite some to the full application."""

    type = "grants.application.interest_submitted.v1"
    owner = APPLICATIONS
    consumers = (NOTIFICATIONS,)
    subject_field = "application_id"

    application_id: Id
    programme_id: Id
    organisation: OrganisationSummary
    title: ShortText
    contact: Annotated[Contact, Field(json_schema_extra=PERSONAL)]
    submitted_at: datetime


class ApplicationInvited(EventData):
    """A group whose expression of interest was shortlisted is invited to the full application (its
    earlier answers are kept), to submit by ``closes_at``."""

    type = "grants.application.invited.v1"
    owner = APPLICATIONS
    # scoring: a scored expression of interest's open reviews end with its stage
    consumers = (SCORING, NOTIFICATIONS)
    subject_field = "application_id"

    application_id: Id
    programme_id: Id
    title: ShortText
    closes_at: datetime
    contact: Annotated[Contact, Field(json_schema_extra=PERSONAL)]


class InterestDeclined(EventData):
    """An expression of interest was not invited to the full application, with the programme team's feedback."""

    type = "grants.application.interest_declined.v1"
    owner = APPLICATIONS
    # scoring: a scored expression of interest's open reviews end with its stage
    consumers = (SCORING, NOTIFICATIONS)
    subject_field = "application_id"

    application_id: Id
    programme_id: Id
    title: ShortText
    feedback: Annotated[str, Field(max_length=2_000, json_schema_extra=PERSONAL)] = ""
    contact: Annotated[Contact, Field(json_schema_extra=PERSONAL)]


# --- After the award: monitoring reports ---


class MonitoringReportDue(EventData):
    """A monitoring report the programme's policy asks for is due soon (``overdue`` False), or its due
    date has passed with no report accepted or awaiting review (``overdue`` True). Each at most once."""

    type = "grants.grant.monitoring_report_due.v1"
    owner = DISBURSEMENT
    consumers = (NOTIFICATIONS,)
    subject_field = "report_id"

    report_id: Id
    grant_id: Id
    application_id: Id
    name: ShortText
    due_at: datetime
    overdue: bool


class MonitoringReportSubmitted(EventData):
    """The grantee submitted (or resubmitted) a monitoring report for review. What it says stays in
    disbursement: only the spend goes on the bus."""

    type = "grants.grant.monitoring_report_submitted.v1"
    owner = DISBURSEMENT
    consumers = (NOTIFICATIONS,)  # only so that integrators can subscribe to it (a webhook)
    subject_field = "report_id"

    report_id: Id
    grant_id: Id
    application_id: Id
    name: ShortText
    spent: Money
    submitted_at: datetime


class MonitoringReportChangesRequested(EventData):
    """A reviewer asked the grantee to change a monitoring report and submit it again."""

    type = "grants.grant.monitoring_report_changes_requested.v1"
    owner = DISBURSEMENT
    consumers = (NOTIFICATIONS,)
    subject_field = "report_id"

    report_id: Id
    grant_id: Id
    application_id: Id
    name: ShortText
    # The reviewer's comments may be about the people the group works with: notifications needs them.
    comments: Annotated[str, Field(min_length=1, max_length=5_000, json_schema_extra=PERSONAL)]


class MonitoringReportAccepted(EventData):
    """A reviewer accepted a monitoring report."""

    type = "grants.grant.monitoring_report_accepted.v1"
    owner = DISBURSEMENT
    consumers = (NOTIFICATIONS,)
    subject_field = "report_id"

    report_id: Id
    grant_id: Id
    application_id: Id
    name: ShortText
    accepted_at: datetime


# --- Suicide-awareness training for funded groups ---
# The training a programme offers each funded group (disbursement: after the award). No attendee's
# name travels: only how many places were offered, booked and attended.


class GroupTrainingOffered(EventData):
    """A funded group's grant was accepted and its programme offers training: places on the course."""

    type = "grants.grant.training_offered.v1"
    owner = DISBURSEMENT
    consumers = (NOTIFICATIONS,)
    subject_field = "training_id"

    training_id: Id
    grant_id: Id
    application_id: Id
    programme_id: Id
    course: ShortText
    provider: ShortText
    places: Annotated[int, Field(ge=1, le=100)]


class GroupTrainingReminder(EventData):
    """A group offered training has not booked any places: reminded once."""

    type = "grants.grant.training_reminder.v1"
    owner = DISBURSEMENT
    consumers = (NOTIFICATIONS,)
    subject_field = "training_id"

    training_id: Id
    grant_id: Id
    application_id: Id
    course: ShortText
    places: Annotated[int, Field(ge=1, le=100)]


class GroupTrainingBooked(EventData):
    """A group booked (or changed its booking of) places on the training offered: how many, no names."""

    type = "grants.grant.training_booked.v1"
    owner = DISBURSEMENT
    consumers = (NOTIFICATIONS,)
    subject_field = "training_id"

    training_id: Id
    grant_id: Id
    application_id: Id
    programme_id: Id
    attendees: Annotated[int, Field(ge=1, le=100)]


class GroupTrainingAttended(EventData):
    """Staff recorded how many of a group's booked places were attended."""

    type = "grants.grant.training_attended.v1"
    owner = DISBURSEMENT
    consumers = (NOTIFICATIONS,)
    subject_field = "training_id"

    training_id: Id
    grant_id: Id
    application_id: Id
    programme_id: Id
    attended: Annotated[int, Field(ge=0, le=100)]
# --- review reminders (scoring) ---


class ReviewReminderDue(EventData):
    """An open review is due soon: its reviewer is reminded, once per review."""

    type = "grants.review.reminder_due.v1"
    owner = SCORING
    consumers = (NOTIFICATIONS,)
    subject_field = "review_id"

    review_id: Id
    application_id: Id
    programme_id: Id
    application_title: ShortText
    reviewer_id: Annotated[Id, Field(json_schema_extra=PERSONAL)]
    due_date: date


class ReviewOverdue(EventData):
    """An open review's due date has passed: its reviewer and the programme's manager are told, once
    per review. ``manager_id`` is who opened the programme (absent when scoring never heard who)."""

    type = "grants.review.overdue.v1"
    owner = SCORING
    consumers = (NOTIFICATIONS,)
    subject_field = "review_id"

    review_id: Id
    application_id: Id
    programme_id: Id
    application_title: ShortText
    reviewer_id: Annotated[Id, Field(json_schema_extra=PERSONAL)]
    manager_id: Annotated[Id | None, Field(json_schema_extra=PERSONAL)] = None
    due_date: date
# --- After the award: conditional tranches ---


class TrancheReleased(EventData):
    """Everything a conditional tranche waited for is met (an accepted monitoring report, a condition
    a programme manager marked met): it goes into the next payment run once its due date has come."""

    type = "grants.payment.tranche_released.v1"
    owner = DISBURSEMENT
    consumers = (NOTIFICATIONS,)
    subject_field = "payment_id"

    payment_id: Id
    grant_id: Id
    application_id: Id
    sequence: Annotated[int, Field(ge=1)]
    amount: Money
    due_date: date
    #: The reports and conditions it waited for (the programme's own names for them).
    met: list[ShortText]


class TrancheHeldForReport(EventData):
    """A monitoring report a tranche waits for went overdue: the tranche is held until the report is
    accepted. Published once per tranche and report."""

    type = "grants.payment.tranche_held_for_report.v1"
    owner = DISBURSEMENT
    consumers = (NOTIFICATIONS,)
    subject_field = "payment_id"

    payment_id: Id
    grant_id: Id
    application_id: Id
    sequence: Annotated[int, Field(ge=1)]
    amount: Money
    report_id: Id
    report_name: ShortText


# --- Finance officers told: a run awaits their approval ---


class NotificationDeliveredV2(EventData):
    """A notification reached a channel, naming finance officers among its recipients (v1 cannot:
    its ``recipient_kind`` is a closed list). Published for every delivery; v1 is still published
    alongside for the recipients it can name, so that existing subscribers keep working until they
    move to v2."""

    type = "grants.notification.delivered.v2"
    owner = NOTIFICATIONS
    consumers = ()
    subject_field = "notification_id"

    notification_id: Id
    channel: Literal["email", "inbox", "webhook"]
    recipient_kind: Literal["applicant", "reviewer", "finance_officer", "integrator"]
    answered_event_id: Id
    answered_event_type: ShortText


# --- vote reminders (scoring) ---


class MeetingVoteReminder(EventData):
    """A decision meeting's day has come and a member present, not recused and allowed to vote has
    not yet recorded a recommendation on some of its open items: reminded once per meeting, with how
    many items await them (not which, nor anyone else's votes)."""

    type = "grants.meeting.vote_reminder.v1"
    owner = SCORING
    consumers = (NOTIFICATIONS,)
    subject_field = "meeting_id"

    meeting_id: Id
    programme_id: Id
    held_on: date
    member_id: Annotated[Id, Field(json_schema_extra=PERSONAL)]
    items_awaiting: Annotated[int, Field(ge=1, le=1_000)]
# --- Involvement payments to panel members ---


class InvolvementClaimApproved(EventData):
    """A programme manager approved a panel member's claim: their recorded time valued at the
    programme's involvement rate, or an expense. Disbursement pays it as the member chose (bank,
    voucher, or not at all for a volunteer) from the programme's involvement budget."""

    type = "grants.involvement_claim.approved.v1"
    owner = SCORING
    consumers = (DISBURSEMENT, NOTIFICATIONS)
    subject_field = "claim_id"

    claim_id: Id
    programme_id: Id
    # Who is paid: disbursement needs it to find their choice and bank details; never to integrators.
    member_id: Annotated[Id, Field(json_schema_extra=PERSONAL)]
    kind: Literal["time", "expenses"]
    amount: Money
    approved_at: datetime


class InvolvementClaimRejected(EventData):
    """A programme manager did not approve a panel member's claim, with the reason they gave."""

    type = "grants.involvement_claim.rejected.v1"
    owner = SCORING
    consumers = (NOTIFICATIONS,)
    subject_field = "claim_id"

    claim_id: Id
    programme_id: Id
    member_id: Annotated[Id, Field(json_schema_extra=PERSONAL)]
    kind: Literal["time", "expenses"]
    amount: Money
    reason: Annotated[str, Field(min_length=1, max_length=2_000, json_schema_extra=PERSONAL)]


class InvolvementClaimPaid(EventData):
    """An approved involvement claim was paid: sent to the member's bank (``bank``) or recorded as a
    voucher issued (``voucher``). A volunteer's claim is never paid and has no such event."""

    type = "grants.involvement_claim.paid.v1"
    owner = DISBURSEMENT
    consumers = (NOTIFICATIONS,)
    subject_field = "claim_id"

    claim_id: Id
    payment_id: Id
    programme_id: Id
    member_id: Annotated[Id, Field(json_schema_extra=PERSONAL)]
    amount: Money
    method: Literal["bank", "voucher"]
    paid_at: datetime


class InvolvementPaymentFailed(EventData):
    """An involvement payment to a member's bank was declined on every attempt. Its budget stays
    taken; it goes again when the member gives new bank details or finance tries it again. The
    bank's reason stays in disbursement (it may quote the member's details)."""

    type = "grants.involvement_payment.failed.v1"
    owner = DISBURSEMENT
    consumers = (NOTIFICATIONS,)
    subject_field = "payment_id"

    claim_id: Id
    payment_id: Id
    programme_id: Id
    member_id: Annotated[Id, Field(json_schema_extra=PERSONAL)]
    amount: Money
    failed_at: datetime
# --- Applying: programme changes after opening ---


class ProgrammeChanged(EventData):
    """An open programme's terms changed (a manager's request, ``change_id``): each field given is its
    new value, each left out is unchanged. ``budget_added`` is what a budget increase adds; a decrease
    is never published here (it is ``grants.programme.budget_decrease_requested.v1``, which
    disbursement applies or refuses). Closing dates only move later."""

    type = "grants.programme.changed.v1"
    owner = APPLICATIONS
    consumers = (SCORING, DISBURSEMENT, NOTIFICATIONS)
    subject_field = "programme_id"

    programme_id: Id
    change_id: Id
    name: ShortText | None = None
    description: Annotated[str, Field(max_length=10_000)] | None = None
    budget: Money | None = None
    budget_added: Money | None = None
    maximum_award: Money | None = None
    closes_at: datetime | None = None
    expression_of_interest_closes_at: datetime | None = None


class ProgrammeBudgetDecreaseRequested(EventData):
    """A manager asked to lower an open programme's budget to ``budget``. Disbursement owns what is
    committed (grants offered and accepted), so it decides: it takes ``reduction`` out of what is still
    available, or refuses when that would leave the budget below what is committed."""

    type = "grants.programme.budget_decrease_requested.v1"
    owner = APPLICATIONS
    consumers = (DISBURSEMENT, NOTIFICATIONS)
    subject_field = "programme_id"

    programme_id: Id
    change_id: Id
    budget: Money
    reduction: Money


class ProgrammeBudgetDecreased(EventData):
    """Disbursement lowered the programme's budget by ``reduction`` (to ``budget``): it was taken out of
    what was still available, so nothing committed is touched. Applications records it; scoring lowers
    its budget line for decisions by as much as it still has."""

    type = "grants.programme.budget_decreased.v1"
    owner = DISBURSEMENT
    consumers = (APPLICATIONS, SCORING, NOTIFICATIONS)
    subject_field = "programme_id"

    programme_id: Id
    change_id: Id
    budget: Money
    reduction: Money


class ProgrammeBudgetDecreaseRefused(EventData):
    """Disbursement refused to lower the programme's budget: ``budget`` would be below what is
    ``committed`` already. The programme keeps its budget."""

    type = "grants.programme.budget_decrease_refused.v1"
    owner = DISBURSEMENT
    consumers = (APPLICATIONS, NOTIFICATIONS)
    subject_field = "programme_id"

    programme_id: Id
    change_id: Id
    budget: Money
    committed: Money
    reason: ShortText


# --- Applying: the programme's questions, answered, for reviewers ---


class QuestionAnswer(BaseModel):
    """One of the programme's own questions with the group's answer in words, and the rubric
    criteria that judge it: what reviewers read (``ApplicationSubmitted.answers``). Never an equality
    monitoring answer (those are never part of an application), never a file's content."""

    question_id: Annotated[str, Field(min_length=1, max_length=40)]
    label: Annotated[str, Field(min_length=1, max_length=500)]
    answer: Annotated[str, Field(max_length=50_000)]
    criteria: Annotated[list[Annotated[str, Field(max_length=40)]], Field(max_length=20)] = []


ApplicationSubmitted.model_rebuild()
