"""Events that arrive together are handled in one transaction, and a batch with a bad event in it
is handled again event by event: each event's outcome is its own, as if it had come alone."""

import asyncio
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from grants_shared.errors import RuleViolation
from grants_shared.events import ApplicationAnonymised, Event, ProgrammeClosed
from grants_shared.service import Runtime, Service, running
from grants_shared.settings import ServiceSettings
from grants_shared.unit_of_work import Transaction
from tests.support.bus import TestBus
from tests.support.waiting import eventually

#: Opened by the test once the events it wants in one batch are waiting behind the first (made anew
#: in each test's event loop).
gate = entered = asyncio.Event()


def new_gate() -> None:
    global gate, entered
    gate, entered = asyncio.Event(), asyncio.Event()


async def close_programme(event: Event, tx: Transaction) -> None:
    data: ProgrammeClosed = event.data  # type: ignore[assignment]
    if data.programme_id == "gate":
        entered.set()
        await gate.wait()
    if data.programme_id.startswith("breaks-rule"):
        raise RuleViolation("this programme cannot be closed")
    if data.programme_id.startswith("fails"):
        raise RuntimeError("the database is having a bad moment")
    if data.programme_id.startswith("counted"):
        # Read, then written with the events: each event of a batch must see what the one before left.
        read = await tx.db.effects.find_one({"_id": "counted"}, session=tx.session) or {"count": 0}
        tx.update_later("effects", {"_id": "counted", "count": read["count"]}, {"$inc": {"count": 1}}, upsert=True)
        return
    await tx.db.effects.update_one({"_id": data.programme_id}, {"$inc": {"count": 1}}, upsert=True,
                                   session=tx.session)  # fmt: skip
    await tx.emit(ApplicationAnonymised(application_id=f"app-{data.programme_id}", programme_id=data.programme_id))


async def no_indexes(db: AsyncDatabase) -> None:
    return None


BATCHING = Service(
    name="batching", title="batching", description="", routers=[], create_indexes=no_indexes,
    handlers={ProgrammeClosed.type: close_programme},
)  # fmt: skip


def one_at_a_time(settings: ServiceSettings) -> ServiceSettings:
    # One batch at a time, so that the events published behind the gate wait for it together.
    return settings.model_copy(update={"consumer_batch": 10, "consumer_batches_at_once": 1})


async def behind_the_gate(runtime: Runtime[Any], bus: TestBus, programme_ids: list[str]) -> None:
    """Hold the consumer on the gate's event while these arrive, then let them go as one batch."""
    await bus.publish(ProgrammeClosed(programme_id="gate"))
    await asyncio.wait_for(entered.wait(), 10)
    for programme_id in programme_ids:
        await bus.publish(ProgrammeClosed(programme_id=programme_id))
    waiting = len(programme_ids)
    await eventually(lambda: _true(len(runtime.consumer._arrived) == waiting), what=f"{waiting} events waiting")
    gate.set()


async def counts(db: AsyncDatabase) -> dict[str, int]:
    return {doc["_id"]: doc["count"] async for doc in db.effects.find({})}


async def test_events_that_arrive_together_share_one_transaction(settings: ServiceSettings, bus: TestBus) -> None:
    new_gate()
    async with running(BATCHING, one_at_a_time(settings)) as runtime:
        await runtime.broker.wait_connected(10)
        await behind_the_gate(runtime, bus, [f"p{n}" for n in range(12)])
        await eventually(lambda: _has(runtime.db, 13))
        assert await counts(runtime.db) == {"gate": 1, **{f"p{n}": 1 for n in range(12)}}
        # The inbox records of one transaction carry one time: the gate alone, then ten, then two.
        times = [doc["handled_at"] async for doc in runtime.db.inbox.find({})]
        assert len(times) == 13 and len(set(times)) == 3
        # Each event's own follow-up went out, all of them from the outbox.
        await eventually(lambda: _published(runtime.db, 13))


async def test_each_event_of_a_batch_reads_what_the_one_before_left_for_later(
    settings: ServiceSettings, bus: TestBus
) -> None:
    new_gate()
    async with running(BATCHING, one_at_a_time(settings)) as runtime:
        await runtime.broker.wait_connected(10)
        await behind_the_gate(runtime, bus, [f"counted-{n}" for n in range(5)])
        await eventually(lambda: _inboxed(runtime.db, 6))
        # One transaction for the five, and each counted on from the one before.
        assert len({doc["handled_at"] async for doc in runtime.db.inbox.find({})}) == 2
        assert await counts(runtime.db) == {"gate": 1, "counted": 5}


async def test_a_batch_with_a_bad_event_is_handled_again_one_by_one(settings: ServiceSettings, bus: TestBus) -> None:
    new_gate()
    async with running(BATCHING, one_at_a_time(settings)) as runtime:
        await runtime.broker.wait_connected(10)
        done_before = await bus.publish(ProgrammeClosed(programme_id="done-before"))
        await eventually(lambda: _has(runtime.db, 1))
        await bus.publish(ProgrammeClosed(programme_id="gate"))
        await asyncio.wait_for(entered.wait(), 10)
        await bus.publish(ProgrammeClosed(programme_id="a"))
        rule_broken = await bus.publish(ProgrammeClosed(programme_id="breaks-rule"))
        await bus.publish_event(done_before)  # a second delivery of one handled already
        await bus.publish(ProgrammeClosed(programme_id="b"))
        await eventually(lambda: _true(len(runtime.consumer._arrived) == 4), what="four events waiting")
        gate.set()
        [dead] = await bus.dead_letters("batching", expect=1, timeout=15)
        assert dead["headers"]["cloudEvents_id"] == rule_broken.id
        assert "this programme cannot be closed" in dead["reason"]
        await eventually(lambda: _has(runtime.db, 4))
        # The good ones once each, the duplicate not again, nothing of the rule-breaking one.
        assert await counts(runtime.db) == {"done-before": 1, "gate": 1, "a": 1, "b": 1}
        assert await runtime.db.inbox.count_documents({}) == 4
        assert runtime.consumer._alone_until == 0.0  # an event's own outcome does not pause batching


async def test_after_a_batch_fails_for_no_event_of_its_own_events_go_alone_for_a_while(
    settings: ServiceSettings, bus: TestBus
) -> None:
    new_gate()
    async with running(BATCHING, one_at_a_time(settings)) as runtime:
        await runtime.broker.wait_connected(10)
        await behind_the_gate(runtime, bus, ["a", "fails", "b"])
        await eventually(lambda: _has(runtime.db, 3))
        assert await counts(runtime.db) == {"gate": 1, "a": 1, "b": 1}
        # A failure that is not a rule an event broke (nor a duplicate) pauses batching.
        loop = asyncio.get_running_loop()
        assert runtime.consumer._alone_until - loop.time() > settings.consumer_batch_pause_seconds - 10


async def _true(value: bool) -> bool:
    return value


async def _inboxed(db: AsyncDatabase, n: int) -> bool:
    return await db.inbox.count_documents({}) == n


async def _has(db: AsyncDatabase, n: int) -> bool:
    return await db.effects.count_documents({}) == n


async def _published(db: AsyncDatabase, n: int) -> bool:
    return await db.outbox.count_documents({"published_at": {"$ne": None}}) == n


async def test_an_event_about_what_a_running_batch_handles_waits_for_it(settings: ServiceSettings, bus: TestBus) -> None:
    """Side by side, the two would write one document at once and one of them be made again."""
    new_gate()
    two_at_once = settings.model_copy(update={"consumer_batch": 10, "consumer_batches_at_once": 2})
    async with running(BATCHING, two_at_once) as runtime:
        await runtime.broker.wait_connected(10)
        await bus.publish(ProgrammeClosed(programme_id="gate"))
        await asyncio.wait_for(entered.wait(), 10)
        await bus.publish(ProgrammeClosed(programme_id="gate"))  # the same programme again
        await bus.publish(ProgrammeClosed(programme_id="other"))
        # The other programme's event goes beside the held batch; the same programme's waits for it.
        await eventually(lambda: _has(runtime.db, 1))
        assert await counts(runtime.db) == {"other": 1}
        assert len(runtime.consumer._arrived) == 1
        gate.set()
        await eventually(lambda: _inboxed(runtime.db, 3))
        assert await counts(runtime.db) == {"gate": 2, "other": 1}
        assert runtime.consumer._arrived == []
