"""The relay marks what it published beside its publishing, gathering what is confirmed for a moment:
one write marks many transactions' events; closing the relay writes the marks still queued."""

import asyncio
from collections.abc import AsyncIterator

import pytest
from pymongo import AsyncMongoClient, monitoring

from grants_shared.events import Event, PersonErasureRequested, ProgrammeClosed
from grants_shared.outbox import OutboxRelay, outbox_document
from grants_shared.settings import ServiceSettings
from grants_shared.tracing import trace


class Updates(monitoring.CommandListener):
    def __init__(self) -> None:
        self.count = 0

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        self.count += event.command_name == "update"

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


@pytest.fixture
async def outbox(settings: ServiceSettings) -> AsyncIterator[tuple[AsyncMongoClient, Updates]]:
    updates = Updates()
    client: AsyncMongoClient = AsyncMongoClient(settings.mongodb_url, tz_aware=True, event_listeners=[updates])
    try:
        yield client, updates
    finally:
        await client.drop_database(f"{settings.prefix}_marks")
        await client.close()


def closed(n: int) -> Event:
    return Event.new(ProgrammeClosed(programme_id=f"prg-{n}", closed_at="2026-12-04T09:00:00Z"), source="/test")


async def relay_holding(settings: ServiceSettings, client: AsyncMongoClient, events: list[Event]) -> OutboxRelay:
    """A relay (no broker: the tests hand it confirms) whose outbox holds these events, leased to it."""
    db = client[f"{settings.prefix}_marks"]
    relay = OutboxRelay(db, broker=None, service="marks", tracer=trace.get_tracer("test"))  # type: ignore[arg-type]
    await db.outbox.insert_many([outbox_document(e, relay.owner) for e in events])
    return relay


async def test_marks_confirmed_at_once_are_written_together_and_closing_writes_what_is_queued(
    settings: ServiceSettings, outbox: tuple[AsyncMongoClient, Updates]
) -> None:
    client, updates = outbox
    events = [closed(n) for n in range(5)]
    relay = await relay_holding(settings, client, events)
    db = relay.db
    before = updates.count
    # Three publishes confirmed before the marking task has run: one write marks them all.
    relay._mark_soon(events[:1])
    relay._mark_soon(events[1:3])
    relay._mark_soon(events[3:])
    await relay.close()
    assert updates.count - before == 1
    assert await db.outbox.count_documents({"published_at": {"$ne": None}}) == 5


async def test_marks_wait_to_be_gathered_but_personal_data_is_dropped_as_soon_as_before(
    settings: ServiceSettings, outbox: tuple[AsyncMongoClient, Updates]
) -> None:
    client, _ = outbox
    plain = closed(1)
    personal = Event.new(PersonErasureRequested(request_id="era-1", person_id="amara"), source="/test")
    relay = await relay_holding(settings, client, [plain, personal])
    db = relay.db
    marked = {"published_at": {"$ne": None}}

    relay._mark_soon([plain])
    await asyncio.sleep(0.5)
    assert await db.outbox.count_documents(marked) == 0  # gathering what else is confirmed
    relay._mark_soon([personal])
    await asyncio.sleep(0.3)
    # The event that names a person goes at once, and takes what waited with it.
    assert await db.outbox.count_documents(marked) == 2
    assert "person_id" not in (await db.outbox.find_one({"_id": personal.id}))["data"]

    later = closed(2)
    await db.outbox.insert_one(outbox_document(later, relay.owner))
    relay._mark_soon([later])
    await asyncio.sleep(0.4)
    assert await db.outbox.count_documents(marked) == 2  # nothing personal: it waits its second
    await asyncio.sleep(0.9)
    assert await db.outbox.count_documents(marked) == 3
    await relay.close()
