"""The outbox: events are written in the same transaction as the state change that causes them, and a
relay publishes them afterwards with publisher confirms.

A document is marked published only after the broker's confirm, so a crash or a broker outage loses
nothing: the relay runs at start-up and after each commit, and polls in between. Several replicas
of a service may run relays at once; each takes a short lease on a document before publishing it, so
normally one copy goes out (if a lease expires mid-publish a second copy may follow, and consumers'
inboxes make that harmless).
"""

import asyncio
import logging
from datetime import timedelta
from typing import Any
from uuid import uuid4

from pymongo import ASCENDING
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase

from grants_shared.broker import Broker
from grants_shared.clock import utcnow
from grants_shared.events import CONTRACTS, Event
from grants_shared.tasks import stop

log = logging.getLogger(__name__)

#: Long enough to publish a batch with confirms; short, so that what a killed relay had leased goes
#: out soon after (its replacement, or another replica, takes it when the lease runs out).
LEASE = timedelta(seconds=10)
BATCH = 100


async def create_outbox_indexes(db: AsyncDatabase, retention_days: int) -> None:
    await db.outbox.create_index([("published_at", ASCENDING), ("created_at", ASCENDING)])
    # Published documents expire; pending ones never do (a TTL index ignores a null published_at).
    await db.outbox.create_index("published_at", expireAfterSeconds=retention_days * 86_400, name="published_ttl")


async def add_to_outbox(db: AsyncDatabase, session: AsyncClientSession, event: Event) -> None:
    await db.outbox.insert_one(
        {
            "_id": event.id,
            "type": event.type,
            "source": event.source,
            "subject": event.subject,
            "time": event.time,
            "traceparent": event.traceparent,
            "actor": event.actor,
            "data": event.data.model_dump(mode="json"),
            "created_at": utcnow(),
            "published_at": None,
            "lease_until": None,
        },
        session=session,
    )


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
    def __init__(self, db: AsyncDatabase, broker: Broker, poll_seconds: float = 1.0) -> None:
        self.db = db
        self.broker = broker
        self.poll_seconds = poll_seconds
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="outbox-relay")

    def wake(self) -> None:
        """Called after a commit that wrote to the outbox, so events go out without waiting for the poll."""
        self._wake.set()

    async def _run(self) -> None:
        while True:
            try:
                if self.broker.is_connected:
                    while await self.publish_pending() > 0:
                        pass
            except Exception as error:
                log.warning("outbox relay: %s; will try again", error)
            try:
                # Not asyncio.wait_for: on Python 3.11 it swallows a cancellation that arrives as the
                # wake-up fires (gh-86296), and the relay would then never stop on shutdown.
                async with asyncio.timeout(self.poll_seconds):
                    await self._wake.wait()
            except TimeoutError:
                pass
            self._wake.clear()

    async def publish_pending(self) -> int:
        """Publish what is pending, oldest first; return how many documents were published.

        Three round trips per batch, not per event: lease the batch, publish it with confirms in
        flight together, mark what the broker confirmed.
        """
        now = utcnow()
        candidates = (
            self.db.outbox.find(
                {"published_at": None, "$or": [{"lease_until": None}, {"lease_until": {"$lt": now}}]},
                projection={"_id": 1},
            )
            .sort("created_at", ASCENDING)
            .limit(BATCH)
        )
        ids = [doc["_id"] async for doc in candidates]
        if not ids:
            return 0
        owner = uuid4().hex
        await self.db.outbox.update_many(
            {"_id": {"$in": ids}, "published_at": None, "$or": [{"lease_until": None}, {"lease_until": {"$lt": now}}]},
            {"$set": {"lease_until": now + LEASE, "lease_owner": owner}},
        )
        leased = await self.db.outbox.find({"lease_owner": owner, "published_at": None}).sort(
            "created_at", ASCENDING
        ).to_list(None)
        results = await asyncio.gather(
            *(self.broker.publish(_event_from(doc)) for doc in leased), return_exceptions=True
        )
        confirmed = [doc["_id"] for doc, result in zip(leased, results) if not isinstance(result, BaseException)]
        failed = [doc["_id"] for doc, result in zip(leased, results) if isinstance(result, BaseException)]
        if confirmed:
            await self.db.outbox.update_many(
                {"_id": {"$in": confirmed}}, {"$set": {"published_at": utcnow(), "lease_until": None}}
            )
        if failed:
            await self.db.outbox.update_many({"_id": {"$in": failed}}, {"$set": {"lease_until": None}})
            error = next(r for r in results if isinstance(r, BaseException))
            raise RuntimeError(f"{len(failed)} of {len(leased)} events not confirmed: {error}")
        return len(confirmed)

    async def close(self) -> None:
        await stop(self._task)
