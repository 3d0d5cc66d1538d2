"""The outbox: events are written in the same transaction as the state change that causes them, and a
relay publishes them afterwards with publisher confirms.

A document is marked published only after the broker's confirm, so a crash or a broker outage loses
nothing. Round trips are what the database spends most of its time on, so the common path costs one
write per transaction and one per batch published:

- a transaction's events are inserted together (one ``insert_many``) already leased to this process's
  relay, and handed to it in memory once the transaction commits;
- the relay publishes what it was handed, every confirm in flight together, and marks what was
  confirmed published with one bulk write, which also drops the events' personal data: a published
  entry stays, for ``audit_retention_days``, as the service's audit trail (``grants_shared.audit``).
  The mark is written beside the publishing, not before the next batch goes out, and gathers what
  is confirmed for ``MARK_GATHER_SECONDS`` first (``PERSONAL_MARK_SECONDS`` once an event with
  personal data waits: that is dropped as soon as before), so one write marks many transactions' events (a
  mark that fails, or a process that dies meanwhile, leaves them leased; the poll publishes them
  again once the lease runs out, and consumers' inboxes make that harmless);
- only what no relay is holding (its process died, the broker was away for longer than a lease) is
  found by the poll, whose query (pending and the lease run out) is answered from one index.

Several replicas may run relays at once; a lease keeps each document with one of them, so normally
one copy goes out (if a lease runs out mid-publish a second copy may follow, and consumers' inboxes
make that harmless).
"""

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

from pymongo import ASCENDING, UpdateOne
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import OperationFailure

from grants_shared.broker import Broker
from grants_shared.clock import utcnow
from grants_shared.events import CONTRACTS, Event
from grants_shared.metrics import EVENTS_PUBLISHED, ORIGIN, OUTBOX_OLDEST_SECONDS, OUTBOX_PENDING
from grants_shared.tasks import stop
from grants_shared.tracing import SpanKind, Tracer, current_traceparent, span

log = logging.getLogger(__name__)

#: Long enough to publish a batch with confirms; short, so that what a killed relay had leased goes
#: out soon after (its replacement, or another replica, takes it when the lease runs out).
LEASE = timedelta(seconds=10)
BATCH = 500
#: How long confirmed events wait to be marked published together: far inside the lease, and what
#: they wait for is only the mark (they are out already). A second: under load one write then marks
#: what a second's transactions emitted (at 0.2 s, 40 applications at once cost 4 marks each).
MARK_GATHER_SECONDS = 1.0
#: How long at most once an event with personal data waits among them: the mark drops its personal
#: data, which stays no longer than it must once its consumers have it.
PERSONAL_MARK_SECONDS = 0.2
HELD_IN_MEMORY = 10_000
def _carries_personal_data(event: Event) -> bool:
    """Whether the event's data has fields marked personal (which its mark drops)."""
    return event.data.without_personal_data() != event.data.model_dump(mode="json")


#: What an unleased document's lease_until holds: a date in the past rather than null, so that the
#: poll is one range on one index (a top-level ``$or`` of null and a range scanned the collection).
NOT_LEASED = datetime(1970, 1, 1, tzinfo=UTC)
INDEX_OPTIONS_CONFLICT = 85


async def create_outbox_indexes(db: AsyncDatabase, retention_days: int) -> None:
    await db.outbox.create_index([("published_at", ASCENDING), ("lease_until", ASCENDING)], name="pending_by_lease")
    # Published documents (the audit trail, grants_shared.audit) expire; pending ones never do (a TTL
    # index ignores a null published_at).
    ttl = retention_days * 86_400
    try:
        await db.outbox.create_index("published_at", expireAfterSeconds=ttl, name="published_ttl")
    except OperationFailure as error:
        if error.code != INDEX_OPTIONS_CONFLICT:
            raise
        # The retention changed since the index was made: change the index rather than fail to start.
        await db.command({"collMod": "outbox", "index": {"name": "published_ttl", "expireAfterSeconds": ttl}})


def outbox_document(event: Event, lease_owner: str | None) -> dict[str, Any]:
    now = utcnow()
    return {
        "_id": event.id,
        "type": event.type,
        "source": event.source,
        "subject": event.subject,
        "time": event.time,
        "traceparent": event.traceparent,
        "actor": event.actor,
        "data": event.data.model_dump(mode="json"),
        "created_at": now,
        "published_at": None,
        "lease_owner": lease_owner,
        "lease_until": now + LEASE if lease_owner else NOT_LEASED,
    }


async def add_to_outbox(
    db: AsyncDatabase, session: AsyncClientSession, events: list[Event], lease_owner: str | None = None
) -> None:
    """One write for all of a transaction's events, leased to ``lease_owner``'s relay if given."""
    await db.outbox.insert_many([outbox_document(event, lease_owner) for event in events], session=session)


def _event_from(doc: dict[str, Any]) -> Event:
    return Event(
        id=doc["_id"],
        type=doc["type"],
        source=doc["source"],
        time=doc["time"],
        subject=doc["subject"],
        traceparent=doc.get("traceparent"),
        actor=doc.get("actor"),
        data=CONTRACTS[doc["type"]].model_validate(doc["data"]),
    )


class OutboxRelay:
    def __init__(self, db: AsyncDatabase, broker: Broker, service: str, tracer: Tracer, poll_seconds: float = 1.0) -> None:
        self.db = db
        self.broker = broker
        self.service = service
        self.tracer = tracer
        self.poll_seconds = poll_seconds
        #: The lease every event this process writes starts with, so its own relay needs no round trip
        #: to take it.
        self.owner = uuid4().hex
        self._handed: list[Event] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        #: Confirmed, handed events waiting to be marked published, and the task marking them.
        self._to_mark: list[Event] = []
        self._marking: asyncio.Task[None] | None = None
        #: Set on closing: what is queued is marked at once rather than after the gathering wait.
        self._closing = asyncio.Event()
        #: The ids of the events waiting to be marked that carry personal data, and an event set
        #: while there are any: the wait is cut short.
        self._personal_to_mark: set[str] = set()
        self._personal_waiting = asyncio.Event()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="outbox-relay")

    def hand_over(self, events: list[Event]) -> None:
        """Called after a commit with the events it wrote (leased to this relay), so they go out now."""
        self._handed.extend(events)
        if len(self._handed) > HELD_IN_MEMORY:
            # The broker has been away a while: the database has them all, and the poll finds what is
            # dropped here once its lease runs out.
            del self._handed[: len(self._handed) - HELD_IN_MEMORY]
        self._wake.set()

    async def _run(self) -> None:
        next_poll = 0.0
        ORIGIN.set("outbox relay")
        loop = asyncio.get_running_loop()
        while True:
            try:
                if self.broker.is_connected:
                    while self._handed:
                        await self.publish_handed()
                    if loop.time() >= next_poll:
                        while await self.publish_pending() > 0:
                            pass
                        next_poll = loop.time() + self.poll_seconds
            except Exception as error:
                log.warning("outbox relay: %s; will try again", error)
            try:
                # Not asyncio.wait_for: on Python 3.11 it swallows a cancellation that arrives as the
                # wake-up fires (gh-86296), and the relay would then never stop on shutdown.
                async with asyncio.timeout(max(0.0, next_poll - loop.time()) or self.poll_seconds):
                    await self._wake.wait()
            except TimeoutError:
                pass
            self._wake.clear()

    async def publish_handed(self) -> int:
        """Publish what committed transactions handed over; the marks are written beside it, one round
        trip for whatever was confirmed meanwhile (``_mark_soon``)."""
        batch, self._handed = self._handed[:BATCH], self._handed[BATCH:]
        published, failed = await self._publish(batch, mark_soon=True)
        if failed:
            # Still leased to us in the database: kept to try again (if the lease runs out first, the
            # poll finds them, here or in another replica).
            self._handed = failed + self._handed
            raise RuntimeError(f"{len(failed)} of {len(batch)} events not confirmed")
        return published

    async def publish_pending(self) -> int:
        """Publish what no relay holds (pending, lease run out), oldest lease first; return how many.

        Three round trips per batch: find the candidates, lease them, read what this relay now holds.
        """
        now = utcnow()
        unheld = {"published_at": None, "lease_until": {"$lt": now}}
        candidates = self.db.outbox.find(unheld, projection={"_id": 1}).sort("lease_until", ASCENDING).limit(BATCH)
        ids = [doc["_id"] async for doc in candidates]
        if not ids:
            return 0
        owner = uuid4().hex
        await self.db.outbox.update_many(
            {"_id": {"$in": ids}, **unheld}, {"$set": {"lease_until": now + LEASE, "lease_owner": owner}}
        )
        leased = await self.db.outbox.find({"_id": {"$in": ids}, "lease_owner": owner}).to_list(None)
        published, failed = await self._publish([_event_from(doc) for doc in leased])
        if failed:
            await self.db.outbox.update_many(
                {"_id": {"$in": [e.id for e in failed]}, "lease_owner": owner}, {"$set": {"lease_until": NOT_LEASED}}
            )
            raise RuntimeError(f"{len(failed)} of {len(leased)} events not confirmed")
        return published

    async def _publish(self, events: list[Event], mark_soon: bool = False) -> tuple[int, list[Event]]:
        """Publish with every confirm in flight together; mark the confirmed published in one write
        (now, or beside what follows: ``mark_soon``). Answers how many were published and the events
        that were not."""
        if not events:
            return 0, []
        results = await asyncio.gather(*(self._publish_one(event) for event in events), return_exceptions=True)
        confirmed = [event for event, result in zip(events, results) if not isinstance(result, BaseException)]
        failed = [event for event, result in zip(events, results) if isinstance(result, BaseException)]
        for event in confirmed:
            EVENTS_PUBLISHED.labels(self.service, event.type).inc()
        if confirmed and mark_soon:
            self._mark_soon(confirmed)
        elif confirmed:
            await self._mark(confirmed)
        if failed:
            log.warning("outbox relay: %d events not confirmed: %s", len(failed),
                        next(r for r in results if isinstance(r, BaseException)))
        return len(confirmed), failed

    async def _mark(self, confirmed: list[Event]) -> None:
        """Mark published in one write. Once out, an entry is the audit trail's: it keeps no personal
        data (contact details, text about people) beyond the moment its consumers have it."""
        now = utcnow()
        await self.db.outbox.bulk_write([
            UpdateOne({"_id": event.id}, {"$set": {
                "published_at": now, "lease_until": NOT_LEASED, "data": event.data.without_personal_data(),
            }})
            for event in confirmed
        ], ordered=False)  # fmt: skip

    def _mark_soon(self, confirmed: list[Event]) -> None:
        """Queue the marks; one task writes them, taking all that queued while it waited and wrote."""
        self._to_mark.extend(confirmed)
        self._personal_to_mark.update(event.id for event in confirmed if _carries_personal_data(event))
        if self._personal_to_mark:
            self._personal_waiting.set()
        if self._marking is None or self._marking.done():
            self._marking = asyncio.create_task(self._mark_queued(), name="outbox-marks")

    async def _mark_queued(self) -> None:
        while self._to_mark:
            await self._gather()
            batch, self._to_mark = self._to_mark[:BATCH], self._to_mark[BATCH:]
            self._personal_to_mark.difference_update(event.id for event in batch)
            if not self._personal_to_mark:
                self._personal_waiting.clear()
            try:
                await self._mark(batch)
            except Exception as error:
                log.warning("outbox relay: %d published events not marked (%s); they go out again once "
                            "their lease runs out", len(batch), error)  # fmt: skip

    async def _gather(self) -> None:
        """Wait for more confirms to mark with these: ``MARK_GATHER_SECONDS``, or only until
        ``PERSONAL_MARK_SECONDS`` have passed once personal data waits, or not at all on closing."""
        loop = asyncio.get_running_loop()
        started = loop.time()
        closing = asyncio.ensure_future(self._closing.wait())
        personal = asyncio.ensure_future(self._personal_waiting.wait())
        try:
            await asyncio.wait({closing, personal}, timeout=MARK_GATHER_SECONDS, return_when=asyncio.FIRST_COMPLETED)
        finally:
            closing.cancel()
            personal.cancel()
        if self._personal_waiting.is_set() and not self._closing.is_set():
            await asyncio.sleep(max(0.0, PERSONAL_MARK_SECONDS - (loop.time() - started)))

    async def _publish_one(self, event: Event) -> None:
        """In a producer span continuing the event's trace; the message carries the span's context."""
        attributes = {"messaging.system": "rabbitmq", "messaging.message.id": event.id,
                      "messaging.destination.name": event.type}  # fmt: skip
        with span(self.tracer, f"publish {event.type}", SpanKind.PRODUCER, event.traceparent, attributes):
            await self.broker.publish(event.model_copy(update={"traceparent": current_traceparent()}))

    async def measure_backlog(self) -> None:
        """How many entries wait, and since when (for ``/metrics``; two reads on the pending index)."""
        pending = {"published_at": None}
        OUTBOX_PENDING.labels(self.service).set(await self.db.outbox.count_documents(pending))
        oldest = await self.db.outbox.find_one(pending, {"created_at": 1}, sort=[("published_at", 1), ("lease_until", 1)])
        age = (utcnow() - oldest["created_at"]).total_seconds() if oldest else 0.0
        OUTBOX_OLDEST_SECONDS.labels(self.service).set(age)

    async def close(self) -> None:
        await stop(self._task)
        if self._marking is not None:
            # What was published is marked before the process goes, so it does not go out again.
            self._closing.set()
            await asyncio.gather(self._marking, return_exceptions=True)
