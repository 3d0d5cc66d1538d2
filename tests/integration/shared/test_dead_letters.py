"""`grants dlq`: an operator lists what a service dead-lettered, looks at one without its personal
data, and replays it once the cause is fixed; the inbox makes a replay of a handled event harmless."""

import asyncio
import os
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from grants_shared.dead_letters import DeadLetterQueue
from grants_shared.errors import RuleViolation
from grants_shared.events import ApplicationSubmitted, Contact, Event, OrganisationSummary
from grants_shared.money import Money
from grants_shared.service import Service, running
from grants_shared.settings import ServiceSettings
from grants_shared.unit_of_work import Transaction
from tests.support.bus import TestBus, delete_topology
from tests.support.waiting import eventually


async def take_in(event: Event[ApplicationSubmitted], tx: Transaction) -> None:
    # Rejected until an operator has fixed the cause (here: a document saying it is fixed).
    if await tx.db.repairs.find_one({"_id": "fixed"}, session=tx.session) is None:
        raise RuleViolation("the programme is not known here")
    await tx.db.taken.update_one({"_id": event.data.application_id}, {"$inc": {"n": 1}}, upsert=True,
                                 session=tx.session)  # fmt: skip


async def no_indexes(db: AsyncDatabase) -> None:
    return None


SERVICE = Service("dlqtest", "dlq test", "", [], {ApplicationSubmitted.type: take_in}, no_indexes)


@pytest.fixture(autouse=True)
async def _own_queues_removed(settings: ServiceSettings) -> AsyncIterator[None]:
    """This test's own service declares queues the shared fixture does not know of: removed here."""
    yield
    await delete_topology(settings, (SERVICE.name,))


def submitted(application_id: str) -> ApplicationSubmitted:
    return ApplicationSubmitted(
        application_id=application_id, programme_id="p-1", title="Peer support",
        organisation=OrganisationSummary(id="o-1", name="Harrow Peer Group", kind="community_group", area="Harrow"),
        summary="Our members have been in crisis.", amount_requested=Money(amount=500_000, currency="GBP"),
        contact=Contact(person_id="u-1", name="Ana Example", email="ana@example.org"),
        submitted_at=datetime(2026, 12, 1, tzinfo=UTC),
    )  # fmt: skip


async def test_list_show_without_personal_data_then_replay_once_fixed(settings: ServiceSettings, bus: TestBus) -> None:
    queue = DeadLetterQueue(settings, "dlqtest")
    async with running(SERVICE, settings) as runtime:
        await runtime.broker.wait_connected(10)
        first = await bus.publish(submitted("a-1"))
        second = await bus.publish(submitted("a-2"))

        async def both_dead() -> bool:
            return len(await queue.list()) == 2

        await eventually(both_dead)
        letters = await queue.list()
        assert {letter.event_id for letter in letters} == {first.id, second.id}
        assert all(letter.reason == "RuleViolation: the programme is not known here" for letter in letters)
        assert len(await queue.list()) == 2  # looking takes nothing away

        shown = next(letter for letter in letters if letter.event_id == first.id).data()
        assert shown["title"] == "Peer support" and "summary" not in shown and "contact" not in shown

        # The same through the command line, as an operator would.
        env = {**os.environ, "GRANTS_PREFIX": settings.prefix, "GRANTS_RABBITMQ_URL": settings.rabbitmq_url}
        listed = await _grants(env, "dlq", "list", "--service", "dlqtest")
        assert first.id in listed and second.id in listed and "2 in " in listed
        assert "Ana Example" not in await _grants(env, "dlq", "show", "--service", "dlqtest", first.id)
        assert "Ana Example" in await _grants(env, "dlq", "show", "--service", "dlqtest", first.id, "--full")

        await runtime.db.repairs.insert_one({"_id": "fixed"})
        assert await queue.replay({first.id}) == 1
        await eventually(lambda: _taken(runtime.db, "a-1", 1))
        assert [letter.event_id for letter in await queue.list()] == [second.id]

        # Replaying what was already handled (a copy left behind) has no second effect.
        await bus.publish_event(first)
        await bus.publish_event(second)
        await eventually(lambda: _taken(runtime.db, "a-2", 1))
        assert await queue.purge(None) == 1  # the second's dead letter, now handled
        assert await queue.list() == []
        assert (await runtime.db.taken.find_one({"_id": "a-1"}))["n"] == 1


async def _grants(env: dict[str, str], *args: str) -> str:
    process = await asyncio.create_subprocess_exec(sys.executable, "-m", "grants_shared.cli", *args, env=env,
                                                   stdout=asyncio.subprocess.PIPE)  # fmt: skip
    out, _ = await process.communicate()
    assert process.returncode == 0, out
    return out.decode()


async def _taken(db: AsyncDatabase, application_id: str, n: int) -> bool:
    doc = await db.taken.find_one({"_id": application_id})
    return doc is not None and doc["n"] == n
