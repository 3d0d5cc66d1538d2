"""The disbursement database: its documents, indexes and every query on it.

- ``ledgers``: one per programme (``_id`` = programme id): its name, budget and payment policy.
- ``budget_buckets``: what each programme still has to award, over a few documents
  (``grants_shared.budget``), so concurrent awards do not all update one.
- ``grants``: one per award (unique by application); bank details only as a Fernet token.
- ``payments``: one per schedule entry once the offer is accepted, each an item of the payment queue
  (:data:`PAYMENT_QUEUE`, worked by ``workers.PaymentRunner``); the state machine is in domain.py.
- ``simulated_provider_transfers``, ``simulated_provider_attempts``: the simulated payment provider's
  own records (what a real provider keeps on its side); the service itself never reads them.

Grants and payments keep a ``history`` of what people did to them: who and when, never details.

Every function takes ``tx``: the transaction it runs in, or the service's database for a plain read.
A grant is replaced only if nobody changed it since it was read (its ``version``); payments change
through conditional updates on their queue state, so a worker's claim and a finance retry never
overwrite each other.
"""

from datetime import datetime
from typing import Any

from pymongo import ASCENDING
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

from disbursement.domain import GrantStatus, HeldReason, ManualRetry, PaymentStatus
from grants_shared.budget import create_budget_indexes
from grants_shared.documents import Document, Part
from grants_shared.events import PaymentPolicy, ScheduledAmount
from grants_shared.money import Money
from grants_shared.paging import offset_page
from grants_shared.privacy import PERSON, PSEUDONYM, PersonalData
from grants_shared.unit_of_work import Db
from grants_shared.worker import LeasedQueue

#: Payments wait here to be sent: a scheduled one from its due time, a retrying one from the end of
#: its back-off (``next_attempt_at`` either way); ``sending`` while a worker holds it.
PAYMENT_QUEUE = LeasedQueue(
    collection="payments", ready=(PaymentStatus.SCHEDULED, PaymentStatus.RETRYING), claimed=PaymentStatus.SENDING
)


# --- documents -----------------------------------------------------------------------------------


class Ledger(Document):
    """A programme as disbursement keeps it: its budget and how awards are paid. The money itself is not
    counted here, so that awards and payments need not all update one document: what is available is in
    the budget's buckets (``grants_shared.budget``), what is paid is the sum of the sent payments, and
    what is reserved is the rest (``statement``)."""

    name: str
    budget: Money
    payment_policy: PaymentPolicy
    opened_at: datetime


class HistoryEntry(Part):
    """Something a person did to a grant or payment: what, who (their subject id) and when."""

    action: str
    by: str
    at: datetime


class ScheduleEntry(Part):
    """One payment of a grant's schedule, due some days after the offer is accepted."""

    sequence: int
    amount: Money
    due_after_days: int

    @classmethod
    def of(cls, scheduled: ScheduledAmount) -> "ScheduleEntry":
        return cls(sequence=scheduled.sequence, amount=scheduled.amount, due_after_days=scheduled.due_after_days)


class Grant(Document):
    """An award made a grant: offered with its schedule (or held for finance), accepted with the bank
    account it is paid into, paid once every payment is sent."""

    application_id: str
    programme_id: str
    organisation_id: str
    amount: Money
    status: GrantStatus
    held_reason: HeldReason | None = None
    schedule: list[ScheduleEntry] = []
    decided_at: datetime
    created_at: datetime
    offered_at: datetime | None = None
    accepted_at: datetime | None = None
    accepted_by: str | None = None
    #: The Fernet token of the bank details (``crypto.BankDetailsCipher``), once the grantee gives them.
    bank_account: str | None = None
    #: The budget buckets the award was reserved from (grants_shared.budget), to give it back if ever undone.
    reserved: list[dict[str, Any]] = []
    last_paid_at: datetime | None = None
    version: int
    history: list[HistoryEntry] = []

    def to_doc(self) -> dict[str, Any]:
        # A field is stored once it is known, so a grant with no bank details has no bank_account
        # field at all: the shape grants have always been stored in.
        return self.model_dump(by_alias=True, exclude_none=True)


class Payment(Document):
    """A payment of a grant, and its place in the payment queue (``status``, ``attempts``,
    ``next_attempt_at``, ``claim``, ``claimed_at``: the fields ``grants_shared.worker`` works on)."""

    grant_id: str
    application_id: str
    programme_id: str
    sequence: int
    amount: Money
    #: The start of the day it is due (UTC), as shown; a scheduled payment's next_attempt_at is the same.
    due_at: datetime
    status: PaymentStatus
    #: Attempts the provider declined, over the payment's whole life.
    attempts: int = 0
    next_attempt_at: datetime | None = None
    claim: str | None = None
    claimed_at: datetime | None = None
    #: Manual retries by finance; each starts a new attempt series (``domain.provider_key``).
    retries: int = 0
    #: ``attempts`` when the latest manual retry began: the attempt budget counts from there.
    attempts_before_retry: int = 0
    last_failure_reason: str | None = None
    provider_reference: str | None = None
    sent_at: datetime | None = None
    created_at: datetime
    history: list[HistoryEntry] = []


class MaskedPayee(Part):
    sort_code: str
    account_number: str


class SimulatedTransfer(Document):
    """A transfer the simulated provider made, under its idempotency key (``_id``)."""

    provider_reference: str
    amount: Money
    reference: str
    #: Like a real provider's statement line: never the full account details.
    payee: MaskedPayee
    created_at: datetime


# --- what this service holds about people (grants_shared.privacy) --------------------------------

PERSONAL_DATA = (
    # A grant and its payments are financial records, kept for as long as the law asks: erasure takes
    # the person's name off them, and the bank details (the organisation's) stay with the payments.
    PersonalData("grants", "accepted_by", {"accepted_by": PSEUDONYM}, withhold=("bank_account", "reserved"),
                 about="Grant offers you accepted for your organisation (bank details not shown)"),  # fmt: skip
    PersonalData("grants", "history.by", {"history.$[entry].by": PSEUDONYM}, array_filters=[{"entry.by": PERSON}],
                 withhold=("bank_account", "reserved"), about="What you did to grants, and when"),  # fmt: skip
    PersonalData("payments", "history.by", {"history.$[entry].by": PSEUDONYM}, array_filters=[{"entry.by": PERSON}],
                 about="What you did to payments, and when"),  # fmt: skip
)

#: What this service holds about an application that goes when its retention period ends: the bank
#: details (every payment was made years before).
APPLICATION_DATA = (
    PersonalData("grants", "application_id", {"bank_account": None}, about="The bank details payments went to"),
)


async def create_indexes(db: AsyncDatabase) -> None:
    await create_budget_indexes(db)
    await db.payments.create_index([("programme_id", ASCENDING), ("status", ASCENDING)])  # the statement
    # Unique: a second decision for the same application can never create a second grant.
    await db.grants.create_index("application_id", unique=True)
    await db.grants.create_index([("programme_id", ASCENDING), ("status", ASCENDING)])
    await db.grants.create_index("organisation_id")
    # Finance's lists of every grant, and of those in one status, oldest first.
    await db.grants.create_index([("created_at", ASCENDING), ("_id", ASCENDING)])
    await db.grants.create_index([("status", ASCENDING), ("created_at", ASCENDING), ("_id", ASCENDING)])
    await db.payments.create_index("grant_id")
    await db.payments.create_index([("status", ASCENDING), ("due_at", ASCENDING)])  # finance's list
    await db.payments.create_index([("due_at", ASCENDING), ("_id", ASCENDING)])  # ... of every payment
    await PAYMENT_QUEUE.create_indexes(db)


async def _page(
    collection: AsyncCollection, query: dict[str, Any], limit: int, offset: int, sort: list[tuple[str, int]], tx: Db
) -> tuple[list[Any], int]:
    return await offset_page(collection, query, sort, limit, offset, tx.session)


# --- ledgers -------------------------------------------------------------------------------------


async def open_ledger(tx: Db, ledger: Ledger) -> None:
    """Create the programme's ledger once; a repeated announcement changes nothing."""
    fields = ledger.to_doc()
    del fields["_id"]
    await tx.db.ledgers.update_one({"_id": ledger.id}, {"$setOnInsert": fields}, upsert=True, session=tx.session)


async def get_ledger(tx: Db, programme_id: str) -> Ledger | None:
    return Ledger.maybe(await tx.db.ledgers.find_one({"_id": programme_id}, session=tx.session))


async def paid_and_granted(tx: Db, programme_id: str) -> tuple[int, int]:
    """What the programme has paid (its sent payments) and what its grants amount to (those not held:
    held ones reserve nothing), in minor units."""
    paid = await tx.db.payments.aggregate([
        {"$match": {"programme_id": programme_id, "status": PaymentStatus.SENT}},
        {"$group": {"_id": None, "total": {"$sum": "$amount.amount"}}},
    ], session=tx.session)  # fmt: skip
    granted = await tx.db.grants.aggregate([
        {"$match": {"programme_id": programme_id, "status": {"$ne": GrantStatus.HELD}}},
        {"$group": {"_id": None, "total": {"$sum": "$amount.amount"}}},
    ], session=tx.session)  # fmt: skip
    paid_total = next(iter(await paid.to_list(None)), {}).get("total", 0)
    granted_total = next(iter(await granted.to_list(None)), {}).get("total", 0)
    return paid_total, granted_total


# --- grants --------------------------------------------------------------------------------------


async def insert_grant(tx: Db, grant: Grant) -> None:
    await tx.db.grants.insert_one(grant.to_doc(), session=tx.session)


async def get_grant(tx: Db, grant_id: str) -> Grant | None:
    return Grant.maybe(await tx.db.grants.find_one({"_id": grant_id}, session=tx.session))


async def grant_for_application(tx: Db, application_id: str) -> Grant | None:
    return Grant.maybe(await tx.db.grants.find_one({"application_id": application_id}, session=tx.session))


async def list_grants(
    tx: Db, organisation_ids: list[str] | None, programme_id: str | None, status: GrantStatus | None, limit: int,
    offset: int,
) -> tuple[list[Grant], int]:  # fmt: skip
    """``organisation_ids`` None means every organisation (finance); a list scopes to those."""
    query: dict[str, Any] = {}
    if organisation_ids is not None:
        query["organisation_id"] = {"$in": organisation_ids}
    if programme_id:
        query["programme_id"] = programme_id
    if status:
        query["status"] = status
    docs, total = await _page(tx.db.grants, query, limit, offset, [("created_at", ASCENDING), ("_id", ASCENDING)], tx)
    return [Grant.from_doc(d) for d in docs], total


async def replace_grant(tx: Db, grant: Grant, read_version: int) -> bool:
    """Store ``grant`` if nobody changed it since ``read_version`` was read."""
    result = await tx.db.grants.replace_one(
        {"_id": grant.id, "version": read_version}, grant.to_doc(), session=tx.session
    )
    return result.modified_count == 1


async def note_payment_on_grant(tx: Db, grant_id: str, sent_at: datetime) -> None:
    """Write a sent payment's time on its grant. Two payments of one grant sent at once both write the
    grant first, so their transactions conflict and one retries, seeing the other (without this, each
    could count the other as outstanding and neither mark the grant paid: write skew)."""
    await tx.db.grants.update_one({"_id": grant_id}, {"$set": {"last_paid_at": sent_at}}, session=tx.session)


# --- payments ------------------------------------------------------------------------------------


async def insert_payments(tx: Db, payments: list[Payment]) -> None:
    if payments:
        await tx.db.payments.insert_many([p.to_doc() for p in payments], session=tx.session)


async def get_payment(tx: Db, payment_id: str) -> Payment | None:
    return Payment.maybe(await tx.db.payments.find_one({"_id": payment_id}, session=tx.session))


async def payments_of_grant(tx: Db, grant_id: str) -> list[Payment]:
    cursor = tx.db.payments.find({"grant_id": grant_id}, session=tx.session).sort("sequence", ASCENDING)
    return [Payment.from_doc(doc) async for doc in cursor]


async def unsent_payments(tx: Db, grant_id: str) -> int:
    query = {"grant_id": grant_id, "status": {"$ne": PaymentStatus.SENT}}
    return await tx.db.payments.count_documents(query, session=tx.session)


async def list_payments(
    tx: Db, grant_id: str | None, status: PaymentStatus | None, limit: int, offset: int
) -> tuple[list[Payment], int]:
    query: dict[str, Any] = {}
    if grant_id:
        query["grant_id"] = grant_id
    if status:
        query["status"] = status
    docs, total = await _page(tx.db.payments, query, limit, offset, [("due_at", ASCENDING), ("_id", ASCENDING)], tx)
    return [Payment.from_doc(d) for d in docs], total


async def claim_payment(tx: Db, payment: Payment, claim: str, now: datetime) -> bool:
    """Take a payment for sending, only as it was read: of two workers that read it, one takes it."""
    return await PAYMENT_QUEUE.claim(tx, payment.to_doc(), claim, now)


async def finish_payment(tx: Db, payment_id: str, claim: str, fields: dict[str, Any], declined: bool) -> bool:
    """Settle a claimed payment with ``fields``, only while this worker's claim still holds. A decline
    counts as an attempt (``attempts + 1``); a transfer does not."""
    return await PAYMENT_QUEUE.finish(tx, payment_id, claim, fields, attempted=declined)


async def restart_payment(tx: Db, payment: Payment, retry: ManualRetry, entry: HistoryEntry) -> bool:
    """Put a failed payment back in the queue, due now, only as it was read (failed after the same
    attempts): of two retries asked at once, one does it."""
    result = await tx.db.payments.update_one(
        {"_id": payment.id, "status": PaymentStatus.FAILED, "attempts": payment.attempts},
        {"$set": {"status": PaymentStatus.SCHEDULED, "due_at": retry.due_at, "next_attempt_at": retry.due_at,
                  "retries": retry.retries, "attempts_before_retry": retry.attempts_before_retry},
         "$push": {"history": entry.model_dump()}},
        session=tx.session,
    )  # fmt: skip
    return result.modified_count == 1


# --- the simulated payment provider's own records ------------------------------------------------


async def simulated_transfer(tx: Db, idempotency_key: str) -> SimulatedTransfer | None:
    doc = await tx.db.simulated_provider_transfers.find_one({"_id": idempotency_key}, session=tx.session)
    return SimulatedTransfer.maybe(doc)


async def record_simulated_transfer(tx: Db, transfer: SimulatedTransfer) -> None:
    """Raises DuplicateKeyError if a transfer under the same key was recorded first."""
    await tx.db.simulated_provider_transfers.insert_one(transfer.to_doc(), session=tx.session)


async def count_simulated_attempt(tx: Db, idempotency_key: str) -> int:
    """Count one more attempt under ``idempotency_key``; the count so far."""
    attempts = tx.db.simulated_provider_attempts
    await attempts.update_one({"_id": idempotency_key}, {"$inc": {"count": 1}}, upsert=True, session=tx.session)
    doc = await attempts.find_one({"_id": idempotency_key}, session=tx.session)
    return int(doc["count"]) if doc else 0
