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

log = logging.getLogger(__name__)

LEASE = timedelta(seconds=30)
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
                    while await self.publish_pending() == BATCH:
                        pass
            except Exception as error:
                log.warning("outbox relay: %s; will try again", error)
            try:
                await asyncio.wait_for(self._wake.wait(), self.poll_seconds)
            except TimeoutError:
                pass
            self._wake.clear()

    async def publish_pending(self) -> int:
        """Publish what is pending, oldest first; return how many documents were published."""
        now = utcnow()
        pending = (
            self.db.outbox.find({"published_at": None, "$or": [{"lease_until": None}, {"lease_until": {"$lt": now}}]})
            .sort("created_at", ASCENDING)
            .limit(BATCH)
        )
        published = 0
        async for doc in pending:
            lease = {"lease_until": utcnow() + LEASE, "lease_owner": uuid4().hex}
            claimed = await self.db.outbox.update_one(
                {"_id": doc["_id"], "published_at": None, "lease_until": doc["lease_until"]}, {"$set": lease}
            )
            if claimed.modified_count != 1:
                continue  # another relay took it
            try:
                await self.broker.publish(_event_from(doc))
            except Exception:
                await self.db.outbox.update_one({"_id": doc["_id"]}, {"$set": {"lease_until": None}})
                raise
            await self.db.outbox.update_one(
                {"_id": doc["_id"]}, {"$set": {"published_at": utcnow(), "lease_until": None}}
            )
            published += 1
        return published

    async def close(self) -> None:
        if self._task:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
