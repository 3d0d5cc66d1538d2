"""Disbursement's collections, indexes and queries.

- ``ledgers``: one per programme (``_id`` = programme id): budget, reserved, paid and available as
  Money, and the programme's payment policy. ``available`` is kept so a reservation can be one
  conditional update.
- ``grants``: one per award (unique by application); bank details only as a Fernet token.
- ``payments``: one per schedule entry once the offer is accepted; the state machine in domain.py.

Grants and payments keep a ``history`` of what people did to them: ``{action, by, at}``, never details.
"""

from datetime import datetime, timedelta
from typing import Any

from pymongo import ASCENDING
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase

from disbursement.domain import ManualRetry, PaymentStatus, can_move
from grants_shared.clock import utcnow
from grants_shared.events import ProgrammeOpened
from grants_shared.money import Money
from grants_shared.unit_of_work import Transaction

Doc = dict[str, Any]


async def create_indexes(db: AsyncDatabase) -> None:
    # Unique: a second decision for the same application can never create a second grant.
    await db.grants.create_index("application_id", unique=True)
    await db.grants.create_index([("programme_id", ASCENDING), ("status", ASCENDING)])
    await db.grants.create_index("organisation_id")
    await db.payments.create_index("grant_id")
    await db.payments.create_index([("status", ASCENDING), ("due_at", ASCENDING)])
    await db.payments.create_index([("status", ASCENDING), ("next_attempt_at", ASCENDING)])
    await db.payments.create_index([("status", ASCENDING), ("claimed_at", ASCENDING)])


# --- ledgers -------------------------------------------------------------------------------------


async def open_ledger(tx: Transaction, programme: ProgrammeOpened) -> None:
    """Create the programme's ledger once; a repeated announcement changes nothing."""
    zero = Money(amount=0, currency=programme.budget.currency).model_dump()
    await tx.db.ledgers.update_one(
        {"_id": programme.programme_id},
        {"$setOnInsert": {
            "name": programme.name,
            "budget": programme.budget.model_dump(),
            "available": programme.budget.model_dump(),
            "reserved": zero,
            "paid": zero,
            "payment_policy": programme.payment_policy.model_dump(mode="json"),
            "opened_at": utcnow(),
        }},
        upsert=True,
        session=tx.session,
    )


async def get_ledger(db: AsyncDatabase, programme_id: str, session: AsyncClientSession | None = None) -> Doc | None:
    return await db.ledgers.find_one({"_id": programme_id}, session=session)


async def reserve(tx: Transaction, programme_id: str, amount: Money) -> bool:
    """Reserve an award in one atomic conditional update: it happens only if the ledger still has the
    money, so concurrent awards can never together take more than the budget."""
    result = await tx.db.ledgers.update_one(
        {"_id": programme_id, "available.currency": amount.currency, "available.amount": {"$gte": amount.amount}},
        {"$inc": {"available.amount": -amount.amount, "reserved.amount": amount.amount}},
        session=tx.session,
    )
    return result.modified_count == 1


async def move_reserved_to_paid(tx: Transaction, programme_id: str, amount: Money) -> bool:
    result = await tx.db.ledgers.update_one(
        {"_id": programme_id, "reserved.currency": amount.currency, "reserved.amount": {"$gte": amount.amount}},
        {"$inc": {"reserved.amount": -amount.amount, "paid.amount": amount.amount}},
        session=tx.session,
    )
    return result.modified_count == 1


# --- grants --------------------------------------------------------------------------------------


async def insert_grant(tx: Transaction, grant: Doc) -> None:
    await tx.db.grants.insert_one(grant, session=tx.session)


async def grant_for_application(tx: Transaction, application_id: str) -> Doc | None:
    return await tx.db.grants.find_one({"application_id": application_id}, session=tx.session)


def history_entry(action: str, by: str, at: datetime) -> Doc:
    return {"action": action, "by": by, "at": at}


async def get_grant(db: AsyncDatabase, grant_id: str, session: AsyncClientSession | None = None) -> Doc | None:
    return await db.grants.find_one({"_id": grant_id}, session=session)


async def find_grants(
    db: AsyncDatabase, *, organisation_ids: list[str] | None, programme_id: str | None, status: str | None,
    limit: int, offset: int,
) -> list[Doc]:
    """``organisation_ids`` None means every organisation (finance); a list scopes to those."""
    query: Doc = {}
    if organisation_ids is not None:
        query["organisation_id"] = {"$in": organisation_ids}
    if programme_id:
        query["programme_id"] = programme_id
    if status:
        query["status"] = status
    cursor = db.grants.find(query).sort([("created_at", ASCENDING), ("_id", ASCENDING)]).skip(offset).limit(limit)
    return await cursor.to_list(None)


async def accept_grant(
    tx: Transaction, grant_id: str, bank_details_token: str, accepted_by: str, accepted_at: datetime,
    expected_version: int | None,
) -> bool:
    query: Doc = {"_id": grant_id, "status": "offered"}
    if expected_version is not None:
        query["version"] = expected_version
    result = await tx.db.grants.update_one(
        query,
        {"$set": {"status": "accepted", "bank_account": bank_details_token, "accepted_by": accepted_by,
                  "accepted_at": accepted_at},
         "$inc": {"version": 1},
         "$push": {"history": history_entry("accepted", accepted_by, accepted_at)}},
        session=tx.session,
    )
    return result.modified_count == 1


async def replace_bank_account(
    tx: Transaction, grant_id: str, bank_details_token: str, replaced_by: str, replaced_at: datetime,
    expected_version: int,
) -> bool:
    """New bank details for an accepted grant, only at the version the grantee last read."""
    result = await tx.db.grants.update_one(
        {"_id": grant_id, "status": "accepted", "version": expected_version},
        {"$set": {"bank_account": bank_details_token},
         "$inc": {"version": 1},
         "$push": {"history": history_entry("bank_account_replaced", replaced_by, replaced_at)}},
        session=tx.session,
    )
    return result.modified_count == 1


async def record_payment_on_grant(tx: Transaction, grant_id: str, sent_at: datetime) -> None:
    """Note a sent payment on its grant, which becomes `paid` when none is outstanding."""
    # Writing the grant first makes two payments of one grant that finish at once conflict, so one
    # retries and sees the other; otherwise each could count the other as outstanding (write skew).
    await tx.db.grants.update_one({"_id": grant_id}, {"$set": {"last_paid_at": sent_at}}, session=tx.session)
    outstanding = await tx.db.payments.count_documents(
        {"grant_id": grant_id, "status": {"$ne": "sent"}}, session=tx.session
    )
    if outstanding == 0:
        await tx.db.grants.update_one(
            {"_id": grant_id, "status": "accepted"}, {"$set": {"status": "paid"}, "$inc": {"version": 1}},
            session=tx.session,
        )


# --- payments ------------------------------------------------------------------------------------


async def insert_payments(tx: Transaction, payments: list[Doc]) -> None:
    if payments:
        await tx.db.payments.insert_many(payments, session=tx.session)


async def get_payment(db: AsyncDatabase, payment_id: str) -> Doc | None:
    return await db.payments.find_one({"_id": payment_id})


async def payments_of_grant(db: AsyncDatabase, grant_id: str) -> list[Doc]:
    return await db.payments.find({"grant_id": grant_id}).sort("sequence", ASCENDING).to_list(None)


async def find_payments(
    db: AsyncDatabase, *, grant_id: str | None, status: str | None, limit: int, offset: int
) -> list[Doc]:
    query: Doc = {}
    if grant_id:
        query["grant_id"] = grant_id
    if status:
        query["status"] = status
    cursor = db.payments.find(query).sort([("due_at", ASCENDING), ("_id", ASCENDING)]).skip(offset).limit(limit)
    return await cursor.to_list(None)


async def due_payments(db: AsyncDatabase, now: datetime, lease: timedelta, limit: int) -> list[Doc]:
    """Payments to attempt now: due ones, retries whose wait is over, and claims abandoned by a
    worker that died (or lost track of a provider call) longer than a lease ago."""
    query = {"$or": [
        {"status": "scheduled", "due_at": {"$lte": now}},
        {"status": "retrying", "next_attempt_at": {"$lte": now}},
        {"status": "sending", "claimed_at": {"$lte": now - lease}},
    ]}
    return await db.payments.find(query).sort("due_at", ASCENDING).limit(limit).to_list(None)


async def claim_payment(tx: Transaction, payment: Doc, claim_id: str, now: datetime) -> bool:
    """Take a payment for sending. The filter repeats what was read (status and previous claim), so of
    two workers that read the same payment only one can take it."""
    if not can_move(payment["status"], "sending"):
        return False
    result = await tx.db.payments.update_one(
        {"_id": payment["_id"], "status": payment["status"], "claim_id": payment.get("claim_id")},
        {"$set": {"status": "sending", "claim_id": claim_id, "claimed_at": now}},
        session=tx.session,
    )
    return result.modified_count == 1


async def restart_payment(tx: Transaction, payment: Doc, retry: ManualRetry, asked_by: str) -> bool:
    """Put a failed payment back in the queue, only as it was read (failed after the same attempts):
    of two retries asked at once, one does it."""
    result = await tx.db.payments.update_one(
        {"_id": payment["_id"], "status": "failed", "attempts": payment["attempts"]},
        {"$set": {"status": "scheduled", "due_at": retry.due_at, "retries": retry.retries,
                  "attempts_before_retry": retry.attempts_before_retry, "next_attempt_at": None},
         "$push": {"history": history_entry("retried", asked_by, retry.due_at)}},
        session=tx.session,
    )
    return result.modified_count == 1


async def finish_claim(tx: Transaction, payment_id: str, claim_id: str, status: PaymentStatus, changes: Doc) -> bool:
    """Move a payment out of `sending`, only if this worker's claim still holds."""
    if not can_move("sending", status):
        raise ValueError(f"a payment cannot move from sending to {status}")
    result = await tx.db.payments.update_one(
        {"_id": payment_id, "status": "sending", "claim_id": claim_id},
        {"$set": {"status": status, "claimed_at": None, **changes}},
        session=tx.session,
    )
    return result.modified_count == 1
