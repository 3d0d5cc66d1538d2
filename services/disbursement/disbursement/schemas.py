"""The bodies the API reads and answers with. Bank details come in whole and only ever go out masked;
answers are built from stored documents with ``of``."""

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from disbursement.crypto import BankDetailsCipher
from disbursement.domain import (
    BankAccount, GrantStatus, HeldReason, PaymentRunStatus, PaymentStatus, ReportPoint, ReportStatus,
    TrainingShare, TrainingStatus, TrancheRequirement, Wait, Waiting, WaitKind, report_is_overdue, waiting_for,
)  # fmt: skip
from disbursement.store import (
    Grant, GroupTraining, Ledger, MonitoringPolicy, MonitoringReport, OfferTerms, Payment, PaymentRun, Reconciliation,
    ReportAnswers, Signatory, TrainingOffer, TranchePolicy,
)  # fmt: skip
from grants_shared.clock import utcnow
from grants_shared.events import ScheduledAmount
from grants_shared.forms import FormDefinition, Question
from disbursement.domain import InvolvementPaymentStatus, PaymentChoice, WaitingFor
from disbursement.store import InvolvementPayment
from grants_shared.money import Money

# --- requests ------------------------------------------------------------------------------------


class BankAccountIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    account_name: Annotated[str, Field(min_length=1, max_length=140, pattern=r"^[^\x00-\x1f\x7f]+$")]
    sort_code: Annotated[str, Field(pattern=r"^([0-9]{2}-[0-9]{2}-[0-9]{2}|[0-9]{6})$", examples=["12-34-56"])]
    account_number: Annotated[str, Field(pattern=r"^[0-9]{8}$", examples=["12345678"])]

    def to_domain(self) -> BankAccount:
        return BankAccount(self.account_name, self.sort_code, self.account_number)


PlainText = Annotated[str, Field(min_length=1, max_length=140, pattern=r"^[^\x00-\x1f\x7f]+$")]


class SignatoryIn(BaseModel):
    """The person signing for the grantee organisation: their name and their role there."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: Annotated[PlainText, Field(examples=["Ann Okafor"])]
    position: Annotated[PlainText, Field(examples=["Chair of trustees"])]

    def to_document(self) -> Signatory:
        return Signatory(name=self.name, position=self.position)


class ReplaceBankAccount(BaseModel):
    model_config = ConfigDict(extra="forbid")

    bank_account: BankAccountIn


class AcceptOffer(ReplaceBankAccount):
    """The bank account the grant is paid into, and who signs the offer's terms for the organisation."""

    signatory: SignatoryIn


class DeclineOffer(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    signatory: SignatoryIn
    reason: Annotated[str, Field(min_length=1, max_length=1_000, examples=["We could not find match funding"])]


class OfferTermsIn(BaseModel):
    """A programme's offer terms. The template may use ``$programme_name``, ``$amount``, ``$schedule``,
    ``$expires_on`` and ``$grant_reference``, filled in with each grant's own values."""

    model_config = ConfigDict(extra="forbid")

    template: Annotated[str, Field(min_length=1, max_length=20_000)]
    acceptance_days: Annotated[int, Field(ge=1, le=365, description="Whole days an offer stays open")]
    reminder_days: Annotated[int, Field(ge=0, le=364, description="Days before it closes the grantee is reminded; 0: never")]


# --- answers -------------------------------------------------------------------------------------


class HistoryEntryView(BaseModel):
    """Something a person did to a grant or payment: what, who (their subject id) and when."""

    action: Annotated[str, Field(examples=["accepted", "bank_account_replaced", "retried"])]
    by: str
    at: datetime


class MaskedBankAccount(BaseModel):
    account_name: str
    sort_code: Annotated[str, Field(examples=["**-**-56"])]
    account_number: Annotated[str, Field(examples=["****5678"])]


class TrancheWaitView(BaseModel):
    """Something a conditional tranche waits for: a monitoring report (accepted: ``met_at``) or a named
    condition of the grant; ``overdue`` when the report went overdue and the tranche is held for it."""

    kind: WaitKind
    name: str
    report_id: str | None = None
    met_at: datetime | None = None
    overdue: bool = False


class WaitingForView(BaseModel):
    """One thing a payment is still waiting for: its ``date`` (``due_date``), a ``report`` or a
    ``condition`` (``name``; ``overdue`` for a report past due, which holds the tranche), a
    ``finance_hold``, or ``finance_approval`` (due and free: it goes into the next payment run)."""

    kind: Waiting
    name: str | None = None
    due_date: date | None = None
    overdue: bool = False


def _waiting_for(payment: Payment) -> list[WaitingForView]:
    waits = [Wait(kind=w.kind, name=w.name, met=w.met_at is not None, overdue=w.overdue) for w in payment.waits]
    return [
        WaitingForView(kind=kind, name=wait.name if wait else None, overdue=wait.overdue if wait else False,
                       due_date=payment.due_at.date() if kind is Waiting.DATE else None)
        for kind, wait in waiting_for(payment.status, payment.due_at, waits, utcnow())
    ]  # fmt: skip


class PaymentView(BaseModel):
    id: str
    grant_id: str
    application_id: str
    programme_id: str
    sequence: int
    amount: Money
    due_date: date
    status: PaymentStatus
    #: Attempts the provider declined, over the payment's life; the attempt budget starts again with
    #: each manual retry.
    attempts: int
    retries: int = 0
    next_attempt_at: datetime | None = None
    last_failure_reason: str | None = None
    provider_reference: str | None = None
    sent_at: datetime | None = None
    run_id: str | None = None
    #: A conditional tranche's reports and conditions, met or not.
    waits: list[TrancheWaitView] = []
    #: What it is still waiting for, now (empty once it is being sent or settled).
    waiting_for: list[WaitingForView] = []
    history: list[HistoryEntryView] = []

    @classmethod
    def of(cls, payment: Payment) -> "PaymentView":
        fields = payment.model_dump(include=set(cls.model_fields) - {"due_date", "waiting_for"})
        return cls(**fields, due_date=payment.due_at.date(), waiting_for=_waiting_for(payment))


class SignatoryView(BaseModel):
    name: str
    position: str


class OfferTermsView(BaseModel):
    programme_id: str
    template: str
    acceptance_days: int
    reminder_days: int
    set_by: str | None = None
    set_at: datetime | None = None

    @classmethod
    def of(cls, programme_id: str, terms: OfferTerms) -> "OfferTermsView":
        return cls(programme_id=programme_id, **terms.model_dump())


class GrantConditionView(BaseModel):
    name: str
    met_at: datetime | None = None
    met_by: str | None = None


class GrantView(BaseModel):
    id: str
    application_id: str
    programme_id: str
    organisation_id: str
    amount: Money
    status: GrantStatus
    held_reason: HeldReason | None = None
    schedule: list[ScheduledAmount]
    offered_at: datetime | None = None
    accepted_at: datetime | None = None
    bank_account: MaskedBankAccount | None = None
    #: The offer's terms with the grant's own values, and when the offer lapses unless accepted.
    terms: str | None = None
    expires_at: datetime | None = None
    signatory: SignatoryView | None = None
    declined_reason: str | None = None
    closed_at: datetime | None = None
    on_hold: bool = False
    ends_on: date | None = None
    #: Named conditions its tranches wait for, and who marked each met when.
    conditions: list[GrantConditionView] = []
    version: int
    history: list[HistoryEntryView] = []
    #: Filled in when one grant is read; lists leave it out.
    payments: list[PaymentView] | None = None

    @classmethod
    def of(cls, grant: Grant, cipher: BankDetailsCipher, payments: list[Payment] | None = None) -> "GrantView":
        fields = grant.model_dump(include=set(cls.model_fields) - {"bank_account", "payments", "ends_on"})
        account = cipher.decrypt(grant.bank_account) if grant.bank_account else None
        return cls(
            **fields, ends_on=grant.ends_on.date() if grant.ends_on else None,
            bank_account=MaskedBankAccount(**account.masked()) if account else None,
            payments=[PaymentView.of(p) for p in payments] if payments is not None else None,
        )


class LedgerView(BaseModel):
    """A programme's statement: ``budget + returned = available + committed + paid``, always.

    ``committed`` (also ``reserved``, its older name) is what the grants offered, accepted or paid
    amount to, less what is paid; ``held`` is the part of it in payments finance holds; ``released``
    what declined and lapsed offers gave back (in ``available`` again); ``returned`` the repayments
    recorded (back in ``available``)."""

    programme_id: str
    name: str
    budget: Money
    committed: Money
    reserved: Money
    paid: Money
    released: Money
    held: Money
    returned: Money
    available: Money

    @classmethod
    def of(cls, ledger: Ledger, available: int, parts: dict[str, int]) -> "LedgerView":
        def money(amount: int) -> Money:
            return Money(amount=amount, currency=ledger.budget.currency)

        committed = money(parts["granted"] - parts["paid"])
        return cls(
            programme_id=ledger.id, name=ledger.name, budget=ledger.budget, committed=committed, reserved=committed,
            paid=money(parts["paid"]), released=money(parts["released"]), held=money(parts["held"]),
            returned=money(parts["returned"]), available=money(available),
        )  # fmt: skip


class VariationIn(BaseModel):
    """One variation: ``amount`` (with the new amount), ``end_date`` (with ``ends_on``) or ``cancellation``."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["amount", "end_date", "cancellation"]
    amount: Money | None = None
    ends_on: date | None = None

    @model_validator(mode="after")
    def _what_the_kind_needs(self) -> "VariationIn":
        if (self.kind == "amount") != (self.amount is not None) or (self.kind == "end_date") != (self.ends_on is not None):
            raise ValueError("an amount variation takes amount, an end date one takes ends_on, a cancellation neither")
        return self


class RepaymentIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    amount: Money
    reason: Annotated[str, Field(min_length=1, max_length=1_000, examples=["Unspent at the end of the project"])]


class ApprovalView(BaseModel):
    by: str
    at: datetime


class ExportView(BaseModel):
    format: str
    by: str
    at: datetime
    payments: int
    sha256: str


class ReconciliationView(BaseModel):
    by: str
    at: datetime
    paid: int
    failed: int
    #: Rows for payments already recorded (the same file again): nothing changed.
    unchanged: int
    #: Rows for no payment of the run's file.
    unmatched: int

    @classmethod
    def of(cls, reconciliation: Reconciliation) -> "ReconciliationView":
        return cls(**reconciliation.model_dump())


class PaymentRunView(BaseModel):
    id: str
    currency: str
    total: Money
    payment_ids: list[str]
    status: PaymentRunStatus
    approvals_needed: int
    approvals: list[ApprovalView]
    created_at: datetime
    approved_at: datetime | None = None
    #: Every bank file taken of it (who, when, format; never the content).
    exports: list[ExportView] = []
    reconciliations: list[ReconciliationView] = []
    #: Filled in when one run is read; lists leave it out.
    payments: list[PaymentView] | None = None

    @classmethod
    def of(cls, run: PaymentRun, payments: list[Payment] | None = None) -> "PaymentRunView":
        fields = run.model_dump(include=set(cls.model_fields) - {"payments", "exports"})
        exports = [ExportView(format=e.format, by=e.by, at=e.at, payments=len(e.payment_ids), sha256=e.sha256)
                   for e in run.exports]  # fmt: skip
        return cls(**fields, exports=exports,
                   payments=[PaymentView.of(p) for p in payments] if payments is not None else None)


# --- monitoring reports --------------------------------------------------------------------------


class ReportPointIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: Annotated[str, Field(min_length=1, max_length=200, examples=["Midway report"])]
    due_after_days: Annotated[int, Field(ge=1, le=3_650, description="Days after the offer is accepted")]


class MonitoringPolicyIn(BaseModel):
    """The reports each grant owes (none: no monitoring), due some days after acceptance, in order."""

    model_config = ConfigDict(extra="forbid")

    points: Annotated[list[ReportPointIn], Field(max_length=20)]
    reminder_days: Annotated[int, Field(ge=0, le=365, description="Days before each is due the grantee is reminded; 0: never")]
    #: The programme's own questions, asked in every report besides the four every report asks
    #: (``grants_shared.forms``, as application forms are; no file questions).
    questions: Annotated[list[Question], Field(max_length=30)] = []

    @model_validator(mode="after")
    def _questions_well_formed(self) -> "MonitoringPolicyIn":
        if any(q.kind == "file" for q in self.questions):
            raise ValueError("a monitoring report cannot ask for a file")
        FormDefinition(questions=self.questions)  # ids unique, shown_if pointing back: raises if not
        return self

    def to_domain(self) -> list[ReportPoint]:
        return [ReportPoint(name=p.name, due_after_days=p.due_after_days) for p in self.points]


class MonitoringPolicyView(BaseModel):
    programme_id: str
    points: list[ReportPointIn]
    reminder_days: int
    questions: list[Question] = []
    set_by: str | None = None
    set_at: datetime | None = None

    @classmethod
    def of(cls, programme_id: str, policy: MonitoringPolicy) -> "MonitoringPolicyView":
        return cls(programme_id=programme_id, **policy.model_dump())


LongText = Annotated[str, Field(min_length=1, max_length=10_000)]


class ReportIn(BaseModel):
    """The grantee's monitoring report: what was done, how many people it reached, what was spent of the
    grant (minor units, the grant's currency) and what changed for them."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    what_was_done: LongText
    people_reached: Annotated[int, Field(ge=0, le=100_000_000)]
    spent: Money
    what_changed: LongText
    #: Answers to the programme's own questions, by question id (checked against the report's questions).
    answers: Annotated[dict[Annotated[str, Field(max_length=40)], Any], Field(max_length=30)] = {}

    def to_document(self) -> ReportAnswers:
        fields = self.model_dump(exclude={"answers"})
        return ReportAnswers(**fields, extra=self.answers or None)


class ReviewIn(BaseModel):
    """Accept the report, or request changes (comments required)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    outcome: Literal["accepted", "changes_requested"]
    comments: Annotated[str | None, Field(max_length=5_000)] = None


class ReportReviewView(BaseModel):
    outcome: str
    comments: str | None = None
    by: str
    at: datetime


class MonitoringReportView(BaseModel):
    id: str
    grant_id: str
    application_id: str
    programme_id: str
    organisation_id: str
    sequence: int
    name: str
    due_at: datetime
    status: ReportStatus
    overdue: bool
    what_was_done: str | None = None
    people_reached: int | None = None
    spent: Money | None = None
    what_changed: str | None = None
    #: The programme's own questions this report asks, and the grantee's answers to them.
    questions: list[Question] = []
    answers: dict[str, Any] = {}
    submitted_by: str | None = None
    submitted_at: datetime | None = None
    reviews: list[ReportReviewView] = []

    @classmethod
    def of(cls, report: MonitoringReport, now: datetime) -> "MonitoringReportView":
        answers = report.answers.model_dump(exclude={"extra"}) if report.answers else {}
        extra = (report.answers.extra if report.answers else None) or {}
        return cls(questions=report.questions, answers=extra,
            **report.model_dump(include={"id", "grant_id", "application_id", "programme_id", "organisation_id", "sequence", "name",
                                         "due_at", "status", "submitted_by", "submitted_at"}),
            overdue=report_is_overdue(report.status, report.due_at, now),
            reviews=[ReportReviewView(**r.model_dump()) for r in report.reviews], **answers,
        )  # fmt: skip


# --- suicide-awareness training for funded groups --------------------------------------------------


class TrainingOfferIn(BaseModel):
    """The training each funded group is offered when its grant is accepted."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    course: Annotated[str, Field(min_length=1, max_length=200, examples=["Suicide awareness and safety planning"])]
    provider: Annotated[str, Field(min_length=1, max_length=200, examples=["Zero Suicide Alliance"])]
    places_per_group: Annotated[int, Field(ge=1, le=100)]
    reminder_days: Annotated[int, Field(
        ge=0, le=365, description="Days after the offer a group that has not booked is reminded, once; 0: never"
    )] = 14


class TrainingOfferView(BaseModel):
    programme_id: str
    offer: TrainingOffer | None = Field(description="None: the programme offers no training")


class BookingIn(BaseModel):
    """How many of the group's places it books, and (optionally) who is coming."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    attendees: Annotated[int, Field(ge=1, le=100)]
    names: Annotated[list[Annotated[str, Field(min_length=1, max_length=200)]], Field(max_length=100)] = []


class AttendanceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    attended: Annotated[int, Field(ge=0, le=100)]


class GroupTrainingView(BaseModel):
    id: str
    grant_id: str
    programme_id: str
    organisation_id: str
    course: str
    provider: str
    places: int
    status: TrainingStatus
    offered_at: datetime
    reminded_at: datetime | None = None
    attendees: int | None = None
    names: list[str] | None = Field(default=None, description="Who is coming, if the group said")
    booked_at: datetime | None = None
    attended: int | None = None
    attendance_recorded_at: datetime | None = None
    version: int

    @classmethod
    def of(cls, training: GroupTraining) -> "GroupTrainingView":
        booking, attendance = training.booking, training.attendance
        return cls(
            **training.model_dump(include={"id", "grant_id", "programme_id", "organisation_id", "course", "provider",
                                           "places", "status", "offered_at", "reminded_at", "version"}),
            attendees=booking.attendees if booking else None, names=booking.names if booking else None,
            booked_at=booking.booked_at if booking else None, attended=attendance.attended if attendance else None,
            attendance_recorded_at=attendance.recorded_at if attendance else None,
        )  # fmt: skip


class TrainingShareView(BaseModel):
    """The share of the programme's funded groups (those offered training on acceptance) who booked
    places and who attended, in whole percent."""

    programme_id: str
    funded_groups: int
    booked: int
    attended: int
    booked_percent: int
    attended_percent: int

    @classmethod
    def of(cls, programme_id: str, share: TrainingShare) -> "TrainingShareView":
        return cls(programme_id=programme_id, funded_groups=share.funded, booked=share.booked,
                   attended=share.attended, booked_percent=share.booked_percent,
                   attended_percent=share.attended_percent)  # fmt: skip
# --- conditional tranches ------------------------------------------------------------------------

ConditionName = Annotated[str, Field(min_length=1, max_length=140, pattern=r"^[^\x00-\x1f\x7f]+$")]


class TrancheRequirementIn(BaseModel):
    """What one tranche (its sequence in the payment schedule, from 1) waits for besides its date."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    sequence: Annotated[int, Field(ge=1, le=12)]
    report: Annotated[ConditionName | None, Field(description="A report point of the monitoring policy, e.g. midway")] = None
    condition: Annotated[ConditionName | None, Field(description="A condition a programme manager marks met")] = None


class TranchePolicyIn(BaseModel):
    """Which tranches wait for an accepted monitoring report or a named condition (none: by date alone)."""

    model_config = ConfigDict(extra="forbid")

    requirements: Annotated[list[TrancheRequirementIn], Field(max_length=12)]

    def to_domain(self) -> list[TrancheRequirement]:
        return [TrancheRequirement(r.sequence, r.report, r.condition) for r in self.requirements]


class TranchePolicyView(BaseModel):
    programme_id: str
    requirements: list[TrancheRequirementIn]
    set_by: str | None = None
    set_at: datetime | None = None

    @classmethod
    def of(cls, programme_id: str, policy: TranchePolicy) -> "TranchePolicyView":
        return cls(programme_id=programme_id, **policy.model_dump())


class ConditionMetIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: ConditionName


class GrantConditionsView(BaseModel):
    """A grant as those who mark its conditions met see it: its conditions and what each payment waits
    for; no bank details, not even masked (a programme manager has no need of them)."""

    grant_id: str
    application_id: str
    programme_id: str
    organisation_id: str
    status: GrantStatus
    amount: Money
    conditions: list[GrantConditionView]
    payments: list[PaymentView]
    version: int

    @classmethod
    def of(cls, grant: Grant, payments: list[Payment]) -> "GrantConditionsView":
        return cls(
            grant_id=grant.id, application_id=grant.application_id, programme_id=grant.programme_id,
            organisation_id=grant.organisation_id, status=grant.status, amount=grant.amount,
            conditions=[GrantConditionView(**c.model_dump()) for c in grant.conditions],
            payments=[PaymentView.of(p) for p in payments], version=grant.version,
        )  # fmt: skip


class GrantRefView(BaseModel):
    """Which grant was made on an application, for those who go on to its conditions or reports."""

    grant_id: str
    application_id: str
    programme_id: str
    status: GrantStatus

    @classmethod
    def of(cls, grant: Grant) -> "GrantRefView":
        return cls(grant_id=grant.id, application_id=grant.application_id, programme_id=grant.programme_id,
                   status=grant.status)  # fmt: skip


# --- involvement payments to panel members -------------------------------------------------------


class PaymentChoiceIn(BaseModel):
    """PUT /v1/involvement/me/payment-choice: how the member wants to receive involvement payments."""

    model_config = ConfigDict(extra="forbid")

    choice: PaymentChoice = Field(description="bank: paid to your bank; voucher: a voucher; volunteer: not paid")


class InvolvementBudgetIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    total: Money = Field(description="The programme's involvement budget in all, in minor units")


class InvolvementPaymentView(BaseModel):
    id: str
    claim_id: str
    programme_id: str
    member_id: str
    kind: str
    amount: Money
    method: PaymentChoice | None
    status: InvolvementPaymentStatus
    waiting_for: WaitingFor | None
    paid_at: datetime | None
    approved_at: datetime
    last_failure_reason: str | None
    #: Times it was sent again after failing.
    retries: int

    @classmethod
    def of(cls, payment: InvolvementPayment) -> "InvolvementPaymentView":
        return cls.model_validate(payment.model_dump(include=set(cls.model_fields)))


class TaxYearTotalView(BaseModel):
    tax_year: Annotated[str, Field(examples=["2026-27"])]
    starts_on: date
    ends_on: date
    time: Money
    expenses: Money
    total: Money


class MemberInvolvementView(BaseModel):
    """A panel member's own involvement payments: their choice, bank account (masked), what each
    approved claim became, and what they received in each UK tax year."""

    member_id: str
    choice: PaymentChoice | None
    bank_account: MaskedBankAccount | None
    version: int | None
    payments: list[InvolvementPaymentView]
    tax_years: list[TaxYearTotalView]


class InvolvementBudgetView(BaseModel):
    programme_id: str
    total: Money | None
    available: Money | None
    committed: Money | None
    paid: Money | None
    set_by: str | None
    set_at: datetime | None
    version: int | None
