"""API request and response models. Bank details come in whole and only ever go out masked."""

from datetime import date, datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from disbursement.domain import BankAccount, GrantStatus, HeldReason, PaymentStatus
from grants_shared.events import ScheduledAmount
from grants_shared.money import Money


class BankAccountIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    account_name: Annotated[str, Field(min_length=1, max_length=140, pattern=r"^[^\x00-\x1f\x7f]+$")]
    sort_code: Annotated[str, Field(pattern=r"^([0-9]{2}-[0-9]{2}-[0-9]{2}|[0-9]{6})$", examples=["12-34-56"])]
    account_number: Annotated[str, Field(pattern=r"^[0-9]{8}$", examples=["12345678"])]

    def to_domain(self) -> BankAccount:
        return BankAccount(self.account_name, self.sort_code, self.account_number)


class AcceptOffer(BaseModel):
    model_config = ConfigDict(extra="forbid")

    bank_account: BankAccountIn


class ReplaceBankAccount(AcceptOffer):
    """The same body, and the same checks, as accepting an offer."""


class HistoryEntry(BaseModel):
    """Something a person did to a grant or payment: what, who (their subject id) and when."""

    action: Annotated[str, Field(examples=["accepted", "bank_account_replaced", "retried"])]
    by: str
    at: datetime


def _history(doc: dict[str, Any]) -> list[HistoryEntry]:
    return [HistoryEntry(**entry) for entry in doc.get("history", [])]


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
    #: Every attempt ever made; the attempt budget starts again with each manual retry.
    attempts: int
    retries: int = 0
    next_attempt_at: datetime | None = None
    last_failure_reason: str | None = None
    provider_reference: str | None = None
    sent_at: datetime | None = None
    history: list[HistoryEntry] = []

    @classmethod
    def of(cls, doc: dict[str, Any]) -> "PaymentView":
        return cls(
            id=doc["_id"], grant_id=doc["grant_id"], application_id=doc["application_id"],
            programme_id=doc["programme_id"], sequence=doc["sequence"], amount=Money(**doc["amount"]),
            due_date=doc["due_at"].date(), status=doc["status"], attempts=doc["attempts"],
            retries=doc.get("retries", 0), next_attempt_at=doc.get("next_attempt_at"),
            last_failure_reason=doc.get("last_failure_reason"), provider_reference=doc.get("provider_reference"),
            sent_at=doc.get("sent_at"), history=_history(doc),
        )


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
    version: int
    history: list[HistoryEntry] = []
    #: Filled in when one grant is read; lists leave it out.
    payments: list[PaymentView] | None = None

    @classmethod
    def of(
        cls, doc: dict[str, Any], bank_account: BankAccount | None, payments: list[dict[str, Any]] | None = None
    ) -> "GrantView":
        return cls(
            id=doc["_id"], application_id=doc["application_id"], programme_id=doc["programme_id"],
            organisation_id=doc["organisation_id"], amount=Money(**doc["amount"]), status=doc["status"],
            held_reason=doc.get("held_reason"), schedule=[ScheduledAmount(**s) for s in doc.get("schedule", [])],
            offered_at=doc.get("offered_at"), accepted_at=doc.get("accepted_at"),
            bank_account=MaskedBankAccount(**bank_account.masked()) if bank_account else None,
            version=doc["version"], history=_history(doc),
            payments=[PaymentView.of(p) for p in payments] if payments is not None else None,
        )


class LedgerView(BaseModel):
    programme_id: str
    name: str
    budget: Money
    reserved: Money
    paid: Money
    available: Money
