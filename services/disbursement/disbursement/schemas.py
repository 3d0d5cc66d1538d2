"""The bodies the API reads and answers with. Bank details come in whole and only ever go out masked;
answers are built from stored documents with ``of``."""

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from disbursement.crypto import BankDetailsCipher
from disbursement.domain import (
    BankAccount, GrantStatus, HeldReason, PaymentRunStatus, PaymentStatus, ReportPoint, ReportStatus,
    report_is_overdue,
)  # fmt: skip
from disbursement.store import (
    Grant, Ledger, MonitoringPolicy, MonitoringReport, OfferTerms, Payment, PaymentRun, Reconciliation, ReportAnswers,
    Signatory,
)  # fmt: skip
from grants_shared.events import ScheduledAmount
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
    history: list[HistoryEntryView] = []

    @classmethod
    def of(cls, payment: Payment) -> "PaymentView":
        fields = payment.model_dump(include=set(cls.model_fields) - {"due_date"})
        return cls(**fields, due_date=payment.due_at.date())


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

    def to_domain(self) -> list[ReportPoint]:
        return [ReportPoint(name=p.name, due_after_days=p.due_after_days) for p in self.points]


class MonitoringPolicyView(BaseModel):
    programme_id: str
    points: list[ReportPointIn]
    reminder_days: int
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

    def to_document(self) -> ReportAnswers:
        return ReportAnswers(**self.model_dump())


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
    submitted_by: str | None = None
    submitted_at: datetime | None = None
    reviews: list[ReportReviewView] = []

    @classmethod
    def of(cls, report: MonitoringReport, now: datetime) -> "MonitoringReportView":
        answers = report.answers.model_dump() if report.answers else {}
        return cls(
            **report.model_dump(include={"id", "grant_id", "programme_id", "organisation_id", "sequence", "name",
                                         "due_at", "status", "submitted_by", "submitted_at"}),
            overdue=report_is_overdue(report.status, report.due_at, now),
            reviews=[ReportReviewView(**r.model_dump()) for r in report.reviews], **answers,
        )  # fmt: skip


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
