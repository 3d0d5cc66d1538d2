"""A programme's budget that many awards can draw on at once without one hot document, and that can
never be over-committed.

The money still available is split over bucket documents (``BUCKETS`` of them per budget). A
reservation first tries buckets chosen at random, taking the whole amount from one of them with a
single conditional update (``available >= amount``) and no read; only when those have too little does
it read every bucket and take what it needs from several, one conditional update each. It commits
with the rest of its transaction: two reservations at the same moment usually touch different
buckets and do not conflict, and when they touch the same one the later write conflicts (or finds
too little) and its transaction is retried. No update can take a bucket below zero, so the sum of
what was reserved never exceeds the budget.

What was reserved is returned to the buckets it came from (``release``); the caller keeps the parts
(``Reservation``) with what it reserved them for.
"""

import random
from dataclasses import dataclass
from typing import Any

from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase

from grants_shared.documents import Document
from grants_shared.money import Money
from grants_shared.unit_of_work import Db

COLLECTION = "budget_buckets"
#: Enough that concurrent awards rarely meet in one bucket (8 gave 1.9 write conflicts per decision
#: with 40 awards at once in the pipeline benchmark); few enough to read in one small query. A budget
#: keeps the buckets it was opened with: one opened with fewer is served by the read-and-spread path.
BUCKETS = 32
#: Single buckets tried, without reading them, before reading them all.
DIRECT_TRIES = 2


class BudgetUnavailable(Exception):
    """There is no budget of that id here (yet): the programme's opening has not arrived."""


class BucketTaken(Exception):
    """A bucket changed between reading and taking from it (another reservation committed): retry."""


class Bucket(Document):
    budget_id: str
    currency: str
    available: int


@dataclass(frozen=True)
class Part:
    bucket: str
    amount: int


@dataclass(frozen=True)
class Reservation:
    currency: str
    parts: tuple[Part, ...]

    @property
    def amount(self) -> int:
        return sum(part.amount for part in self.parts)

    def to_doc(self) -> list[dict[str, Any]]:
        return [{"bucket": p.bucket, "amount": p.amount} for p in self.parts]

    @classmethod
    def from_doc(cls, currency: str, parts: list[dict[str, Any]]) -> "Reservation":
        return cls(currency, tuple(Part(str(p["bucket"]), int(p["amount"])) for p in parts))


def split(total: int, buckets: int = BUCKETS) -> list[int]:
    """``total`` in ``buckets`` parts that differ by at most one unit and add up exactly."""
    share, left = divmod(total, buckets)
    return [share + (1 if n < left else 0) for n in range(buckets)]


def _bucket_id(budget_id: str, n: int) -> str:
    return f"{budget_id}:{n}"


async def create_budget_indexes(db: AsyncDatabase) -> None:
    await db[COLLECTION].create_index([("budget_id", ASCENDING)])


async def open_budget(tx: Db, budget_id: str, total: Money) -> None:
    """Create a budget once; opening it again changes nothing."""
    for n, amount in enumerate(split(total.amount)):
        await tx.db[COLLECTION].update_one(
            {"_id": _bucket_id(budget_id, n)},
            {"$setOnInsert": {"budget_id": budget_id, "currency": total.currency, "available": amount}},
            upsert=True, session=tx.session,
        )


async def buckets(tx: Db, budget_id: str) -> list[Bucket]:
    cursor = tx.db[COLLECTION].find({"budget_id": budget_id}, session=tx.session).sort("_id", ASCENDING)
    return [Bucket.from_doc(doc) async for doc in cursor]


async def available(tx: Db, budget_id: str) -> Money | None:
    """What is left to reserve (None for a budget not opened here)."""
    found = await buckets(tx, budget_id)
    if not found:
        return None
    return Money(amount=sum(b.available for b in found), currency=found[0].currency)


async def reserve(tx: Db, budget_id: str, amount: Money) -> Reservation | None:
    """Take ``amount`` from the budget in this transaction, or None if it does not have that much.

    Raises BudgetUnavailable for a budget not opened here, and BucketTaken when a concurrent
    reservation changed a bucket after it was read (retry the transaction)."""
    for n in random.sample(range(BUCKETS), DIRECT_TRIES):
        bucket_id = _bucket_id(budget_id, n)
        taken = await tx.db[COLLECTION].update_one(
            {"_id": bucket_id, "currency": amount.currency, "available": {"$gte": amount.amount}},
            {"$inc": {"available": -amount.amount}}, session=tx.session,
        )  # fmt: skip
        if taken.modified_count == 1:
            return Reservation(amount.currency, (Part(bucket_id, amount.amount),))
    found = await buckets(tx, budget_id)
    if not found:
        raise BudgetUnavailable(f"no budget {budget_id} here yet")
    if found[0].currency != amount.currency:
        return None
    random.shuffle(found)  # so that concurrent reservations start in different buckets
    wanted, parts = amount.amount, []
    for bucket in found:
        take = min(wanted, bucket.available)
        if take > 0:
            parts.append(Part(bucket.id, take))
            wanted -= take
        if wanted == 0:
            break
    if wanted > 0:
        return None
    for part in parts:
        taken = await tx.db[COLLECTION].update_one(
            {"_id": part.bucket, "available": {"$gte": part.amount}},
            {"$inc": {"available": -part.amount}}, session=tx.session,
        )
        if taken.modified_count != 1:
            raise BucketTaken(f"bucket {part.bucket} changed since it was read")
    return Reservation(amount.currency, tuple(parts))


async def release(tx: Db, reservation: Reservation) -> None:
    """Give what a reservation took back to the buckets it came from."""
    for part in reservation.parts:
        await tx.db[COLLECTION].update_one({"_id": part.bucket}, {"$inc": {"available": part.amount}},
                                           session=tx.session)  # fmt: skip


async def add(tx: Db, budget_id: str, amount: Money) -> None:
    """More money for the budget (a top-up), spread over its buckets."""
    found = await buckets(tx, budget_id)
    if not found:
        raise BudgetUnavailable(f"no budget {budget_id} here yet")
    for bucket, part in zip(found, split(amount.amount, len(found)), strict=True):
        if part:
            await tx.db[COLLECTION].update_one({"_id": bucket.id}, {"$inc": {"available": part}},
                                               session=tx.session)  # fmt: skip


async def available_of(tx: Db, budget_ids: list[str]) -> dict[str, Money]:
    """What is left of each of these budgets, in one query."""
    cursor = tx.db[COLLECTION].find({"budget_id": {"$in": budget_ids}}, session=tx.session)
    left: dict[str, Money] = {}
    async for doc in cursor:
        bucket = Bucket.from_doc(doc)
        earlier = left.get(bucket.budget_id)
        amount = bucket.available + (earlier.amount if earlier else 0)
        left[bucket.budget_id] = Money(amount=amount, currency=bucket.currency)
    return left


async def take_up_to(tx: Db, budget_id: str, amount: Money) -> Money:
    """Take as much of ``amount`` out of the budget for good as it still has (a budget decrease where
    another service decided the decrease may go ahead), never taking a bucket below zero; what was
    taken is returned. Raises BudgetUnavailable for a budget not opened here, and BucketTaken when a
    concurrent reservation changed a bucket after it was read (retry the transaction)."""
    found = await buckets(tx, budget_id)
    if not found:
        raise BudgetUnavailable(f"no budget {budget_id} here yet")
    wanted, taken = amount.amount, 0
    for bucket in found:
        take = min(wanted - taken, bucket.available)
        if take <= 0:
            continue
        result = await tx.db[COLLECTION].update_one(
            {"_id": bucket.id, "available": {"$gte": take}}, {"$inc": {"available": -take}}, session=tx.session
        )
        if result.modified_count != 1:
            raise BucketTaken(f"bucket {bucket.id} changed since it was read")
        taken += take
        if taken == wanted:
            break
    return Money(amount=taken, currency=found[0].currency)
