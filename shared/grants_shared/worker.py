"""Background work every service shares: a loop that polls, and a queue of items kept in MongoDB that
one worker at a time takes under a lease (payments to send, emails, webhook deliveries).

- **Due.** An item is due when its status is one of the queue's ready statuses and its
  ``next_attempt_at`` has come, or when it was claimed longer than a lease ago by a worker that
  died. Each of those is its own indexed query (one query with a top-level ``$or`` would scan the
  whole collection on the embedded database, and get slower with every item ever queued).
- **Claim.** An item is taken with a compare-and-set on the status, claim and attempts the worker
  read, so of several replicas exactly one takes it.
- **Finish.** An item leaves the claimed status only while the worker's claim still holds.
- **Backoff.** A failed attempt waits base, 2x base, 4x base ... up to a cap before the next.

Each item keeps its queue state in the document itself or in one sub-document (``part``): ``status``,
``attempts``, ``next_attempt_at``, ``claim``, ``claimed_at``.
"""

import asyncio
import logging
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Generic, TypeVar
from uuid import uuid4

from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase

from grants_shared.clock import utcnow
from grants_shared.logs import about
from grants_shared.retries import retry_delay  # noqa: F401  (workers import it from here too)
from grants_shared.tracing import SpanKind, current_traceparent, span
from grants_shared.unit_of_work import Database, Db, Transaction

log = logging.getLogger(__name__)

Doc = dict[str, Any]
Claimed = TypeVar("Claimed")


async def every(seconds: float, work: Callable[[], Awaitable[object]], name: str) -> None:
    """Call ``work`` every ``seconds`` for as long as the service runs; a failed round is logged and
    the next one comes at its time."""
    while True:
        try:
            await work()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("%s: a round failed; trying again in %gs", name, seconds)
        await asyncio.sleep(seconds)


@dataclass(frozen=True)
class LeasedQueue:
    """Where a kind of work waits: a collection, the statuses that are ready to take, and the
    sub-document that holds each item's state (None: the document itself)."""

    collection: str
    ready: tuple[str, ...] = ("pending",)
    claimed: str = "sending"
    part: str | None = None
    #: Where an item ends when it will not be tried again (counted for ``/metrics`` with the others).
    given_up: tuple[str, ...] = ("failed",)

    @property
    def name(self) -> str:
        return self.part or self.collection

    async def count_by_status(self, tx: Db) -> dict[str, int]:
        """Items waiting, being worked and given up (each a count on the due index's status prefix)."""
        collection = tx.db[self.collection]
        return {status: await collection.count_documents({self.field("status"): status}, session=tx.session)
                for status in (*self.ready, self.claimed, *self.given_up)}  # fmt: skip

    def field(self, name: str) -> str:
        return f"{self.part}.{name}" if self.part else name

    def state(self, doc: Doc) -> Doc:
        return doc[self.part] if self.part else doc

    async def create_indexes(self, db: AsyncDatabase) -> None:
        """The two indexes the due queries need; create them at start-up with the service's own."""
        await db[self.collection].create_index(
            [(self.field("status"), ASCENDING), (self.field("next_attempt_at"), ASCENDING)], name=f"{self.name}_due"
        )
        await db[self.collection].create_index(
            [(self.field("status"), ASCENDING), (self.field("claimed_at"), ASCENDING)], name=f"{self.name}_claims"
        )

    async def due(self, tx: Db, now: datetime, lease: timedelta, limit: int) -> list[Doc]:
        """Items to take now, soonest first: ready ones whose time has come, then claims older than a lease."""
        collection = tx.db[self.collection]
        found: list[Doc] = []
        for status in self.ready:
            query = {self.field("status"): status, self.field("next_attempt_at"): {"$lte": now}}
            cursor = collection.find(query, session=tx.session).sort(self.field("next_attempt_at"), ASCENDING)
            found += await cursor.limit(limit).to_list(None)
        abandoned = {self.field("status"): self.claimed, self.field("claimed_at"): {"$lt": now - lease}}
        cursor = collection.find(abandoned, session=tx.session).sort(self.field("claimed_at"), ASCENDING)
        found += await cursor.limit(limit).to_list(None)
        found.sort(key=lambda doc: self.state(doc).get("next_attempt_at") or now)
        return found[:limit]

    async def claim(self, tx: Db, doc: Doc, claim: str, now: datetime) -> bool:
        """Compare-and-set on what this worker saw: of several replicas that read the item, one wins."""
        state = self.state(doc)
        result = await tx.db[self.collection].update_one(
            {
                "_id": doc["_id"],
                self.field("status"): state["status"],
                self.field("claim"): state.get("claim"),
                # attempts acts as a version: a retry recorded since this worker looked is not claimed early
                self.field("attempts"): state.get("attempts", 0),
            },
            {"$set": {self.field("status"): self.claimed, self.field("claim"): claim, self.field("claimed_at"): now}},
            session=tx.session,
        )
        return result.modified_count == 1

    async def claim_ready(self, tx: Db, docs: list[Doc], claim: str, now: datetime) -> list[Doc]:
        """Claim every ready, due item of ``docs`` with one update (one round trip however many),
        and return those this worker took: all of them, or (when another replica was first to some)
        those read back under ``claim``. An item retried since it was read is not due, so not taken."""
        ids = [doc["_id"] for doc in docs if self.state(doc)["status"] in self.ready]
        if not ids:
            return []
        collection = tx.db[self.collection]
        due = {"_id": {"$in": ids}, self.field("status"): {"$in": list(self.ready)},
               self.field("next_attempt_at"): {"$lte": now}}  # fmt: skip
        claimed = {self.field("status"): self.claimed, self.field("claim"): claim, self.field("claimed_at"): now}
        result = await collection.update_many(due, {"$set": claimed}, session=tx.session)
        if result.modified_count == len(ids):
            wanted = set(ids)
            return [self._with_state(doc, claimed) for doc in docs if doc["_id"] in wanted]
        return await collection.find({"_id": {"$in": ids}, self.field("claim"): claim}, session=tx.session).to_list(None)

    def _with_state(self, doc: Doc, fields: Doc) -> Doc:
        changed = {name.removeprefix(f"{self.part}."): value for name, value in fields.items()}
        return {**doc, self.part: {**doc[self.part], **changed}} if self.part else {**doc, **changed}

    async def finish_all(self, tx: Db, item_ids: list[str], claim: str, fields: Doc, also: Doc | None = None) -> bool:
        """Settle several items claimed together with the same ``fields`` in one update; True only
        when this worker's claim still held on every one (else the caller's transaction must not
        commit). ``also``: further conditions every item must meet."""
        update: Doc = {
            "$set": {self.field(name): value for name, value in {**fields, "claim": None, "claimed_at": None}.items()},
            "$inc": {self.field("attempts"): 1},
        }
        held = {"_id": {"$in": item_ids}, self.field("status"): self.claimed, self.field("claim"): claim, **(also or {})}
        result = await tx.db[self.collection].update_many(held, update, session=tx.session)
        return result.modified_count == len(item_ids)

    async def finish(
        self, tx: Db, item_id: str, claim: str, fields: Doc, attempted: bool = True, also: Doc | None = None
    ) -> bool:
        """Settle a claim with ``fields`` (names within the state), only while this worker still holds it
        (and the item meets ``also``, further conditions on the document)."""
        update: Doc = {
            "$set": {self.field(name): value for name, value in {**fields, "claim": None, "claimed_at": None}.items()}
        }
        if attempted:
            update["$inc"] = {self.field("attempts"): 1}
        held = {"_id": item_id, self.field("status"): self.claimed, self.field("claim"): claim, **(also or {})}
        result = await tx.db[self.collection].update_one(held, update, session=tx.session)
        return result.modified_count == 1


def ready_state(now: datetime, status: str = "pending") -> Doc:
    """The queue fields of an item that is due at ``now`` and was never attempted, with the trace it
    was queued in (the worker that takes it continues that trace)."""
    return {"status": status, "attempts": 0, "next_attempt_at": now, "claim": None, "claimed_at": None,
            "traceparent": current_traceparent()}  # fmt: skip


@dataclass(frozen=True)
class Pace:
    """How a queue is worked, from the service's settings."""

    poll_seconds: float
    batch: int
    #: How many of a batch are worked side by side.
    at_once: int
    lease_seconds: float


class LeasedWorker(ABC, Generic[Claimed]):
    """Works a :class:`LeasedQueue`: at every poll, takes what is due, claims each item in a
    transaction of its own, then :meth:`work` s it outside any transaction.

    A subclass says what a claim also reads (:meth:`claim`, e.g. the bank details a payment is sent
    to, in the claim's own transaction, or no transaction at all with ``claims_alone``) and what working an item means (:meth:`work`, which settles
    it with ``self.queue.finish`` while its claim holds)."""

    queue: LeasedQueue
    name: str
    #: True when the only write :meth:`claim` makes is the claim's one conditional update (it may read
    #: too): atomic on its own, it is made outside a transaction, given the database (a commit fewer).
    claims_alone: bool = False

    def __init__(self, database: Database[Any], pace: Pace) -> None:
        self.database = database
        self.pace = pace
        self._at_once = asyncio.Semaphore(pace.at_once)

    async def run(self) -> None:
        await every(self.pace.poll_seconds, self.work_due, self.name)

    async def work_due(self) -> int:
        """Work what is due now; return how many items were worked to a result."""
        # Items are worked in tasks of their own, where a cancellation this task swallowed cannot be
        # seen: check here, before and after, so the loop stops when shutdown asks.
        stop_if_cancelled()
        lease = timedelta(seconds=self.pace.lease_seconds)
        due = await self.queue.due(self.database, utcnow(), lease, self.pace.batch)
        return await self.take_each(due)

    async def take_each(self, docs: list[Doc]) -> int:
        """Claim and work each of ``docs`` on its own; how many were worked to a result."""
        results = await asyncio.gather(*(self._take(doc) for doc in docs), return_exceptions=True)
        for doc, result in zip(docs, results, strict=True):
            if isinstance(result, BaseException):
                # Its type only: a message could carry personal data. The item stays as it was: a
                # ready one is tried at the next poll, a claimed one when its lease runs out.
                log.error("%s %s: %s; it will be tried again", self.name, doc["_id"], type(result).__name__)
        stop_if_cancelled()
        return sum(1 for result in results if result is True)

    async def _take(self, doc: Doc) -> bool:
        parent = self.queue.state(doc).get("traceparent")
        with about(item_id=str(doc["_id"]), queue=self.queue.part or self.queue.collection), \
                span(self.database.tracer, f"{self.name} {self.queue.collection}", SpanKind.INTERNAL, parent):
            return await self._take_claimed(doc)

    async def _take_claimed(self, doc: Doc) -> bool:
        async with self._at_once:
            stop_if_cancelled()
            claim = uuid4().hex
            if self.claims_alone:
                claimed = await self.claim(self.database, doc, claim)  # type: ignore[arg-type]
            else:
                claimed = await self.database.transact(lambda tx: self.claim(tx, doc, claim))
            if claimed is None:
                return False  # another replica took it, or there is nothing it can be sent with
            return await self.work(doc, claim, claimed)

    @abstractmethod
    async def claim(self, tx: Transaction[Any], doc: Doc, claim: str) -> Claimed | None:
        """Take the item with ``self.queue.claim``; return what working it needs, or None if it was
        not taken (another replica was first) or cannot be worked."""

    @abstractmethod
    async def work(self, doc: Doc, claim: str, claimed: Claimed) -> bool:
        """Work a claimed item and settle it; True when it reached a result (sent, delivered...)."""


def stop_if_cancelled() -> None:
    """PyMongo 4.20 on Python 3.11 can swallow a cancellation that lands while it opens a connection
    (its asyncio.wait_for around sock_connect, CPython gh-86296): a worker checks before taking the
    next item, so it does not go on sending after shutdown asked it to stop."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError
