"""The reliability rules of the shared event machinery, on the real broker and database.

A small test service handles `grants.programme.closed.v1`: it counts each effect in its own
collection and emits a follow-up event through the outbox, or fails as the programme id asks.
"""

import asyncio
import json
from urllib.parse import urlparse

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from grants_shared.dev.infra import free_port
from grants_shared.errors import RuleViolation
from grants_shared.events import Event, ProgrammeClosed
from grants_shared.service import Service, running
from grants_shared.settings import ServiceSettings
from grants_shared.unit_of_work import Transaction
from tests.support.bus import TestBus
from tests.support.proxy import TcpProxy
from tests.support.waiting import eventually

CLOSED = ProgrammeClosed.type


async def count_effect(event: Event, tx: Transaction) -> None:
    data: ProgrammeClosed = event.data  # type: ignore[assignment]
    # Counted outside the transaction on purpose, so a test can see attempts that rolled back.
    await tx.db.attempts.update_one({"_id": data.programme_id}, {"$inc": {"n": 1}}, upsert=True)
    if data.programme_id.startswith("fails"):
        raise RuntimeError("the handler's downstream is broken")
    if data.programme_id.startswith("breaks-rule"):
        raise RuleViolation("this programme cannot be closed")
    if data.programme_id.startswith("once-only") and await tx.db.effects.find_one(
        {"_id": data.programme_id}, session=tx.session
    ):
        raise RuleViolation("this programme is closed already")  # a move its first handling made
    await tx.db.effects.update_one(
        {"_id": data.programme_id}, {"$inc": {"count": 1}}, upsert=True, session=tx.session
    )


async def no_indexes(db: AsyncDatabase) -> None:
    return None


TEST_SERVICE = Service(
    name="test", title="test", description="", routers=[], handlers={CLOSED: count_effect}, create_indexes=no_indexes
)


async def effects(db: AsyncDatabase, programme_id: str) -> int:
    doc = await db.effects.find_one({"_id": programme_id})
    return doc["count"] if doc else 0



async def test_the_same_event_delivered_twice_has_one_effect(settings: ServiceSettings, bus: TestBus) -> None:
    async with running(TEST_SERVICE, settings) as runtime:
        await runtime.broker.wait_connected(10)
        event = await bus.publish(ProgrammeClosed(programme_id="p-dup"))
        await bus.publish_event(event)  # the broker redelivers, or a publisher sent it twice
        await eventually(lambda: _inbox_has(runtime.db, event.id))
        await asyncio.sleep(0.5)  # give the second copy every chance to be handled
        assert await effects(runtime.db, "p-dup") == 1
        assert await runtime.db.inbox.count_documents({}) == 1


async def test_a_redelivered_event_its_handler_now_refuses_is_a_duplicate_not_a_dead_letter(
    settings: ServiceSettings, bus: TestBus
) -> None:
    async with running(TEST_SERVICE, settings) as runtime:
        await runtime.broker.wait_connected(10)
        event = await bus.publish(ProgrammeClosed(programme_id="once-only"))
        await eventually(lambda: _inbox_has(runtime.db, event.id))
        await bus.publish_event(event)  # redelivered after it was handled
        await eventually(lambda: _attempts(runtime.db, "once-only", 2))
        assert await bus.dead_letters("test", expect=1, timeout=1.5) == []
        assert await effects(runtime.db, "once-only") == 1


async def _attempts(db: AsyncDatabase, programme_id: str, n: int) -> bool:
    doc = await db.attempts.find_one({"_id": programme_id})
    return bool(doc) and doc["n"] >= n


async def _inbox_has(db: AsyncDatabase, event_id: str) -> bool:
    return await db.inbox.count_documents({"_id": {"$regex": f":{event_id}$"}}) == 1


async def test_a_handler_that_keeps_failing_ends_in_the_dlq_with_its_reason(
    settings: ServiceSettings, bus: TestBus
) -> None:
    async with running(TEST_SERVICE, settings) as runtime:
        await runtime.broker.wait_connected(10)
        event = await bus.publish(ProgrammeClosed(programme_id="fails-always"))
        [dead] = await bus.dead_letters("test", expect=1, timeout=15)
        assert dead["headers"]["cloudEvents_id"] == event.id
        assert "gave up after 3 attempts" in dead["reason"]
        assert "the handler's downstream is broken" in dead["reason"]
        # one first try plus one per retry delay, and nothing committed by any of them
        assert (await runtime.db.attempts.find_one({"_id": "fails-always"}))["n"] == 3
        assert await effects(runtime.db, "fails-always") == 0
        assert await runtime.db.inbox.count_documents({}) == 0


async def test_a_rule_violation_goes_straight_to_the_dlq(settings: ServiceSettings, bus: TestBus) -> None:
    async with running(TEST_SERVICE, settings) as runtime:
        await runtime.broker.wait_connected(10)
        await bus.publish(ProgrammeClosed(programme_id="breaks-rule"))
        [dead] = await bus.dead_letters("test", expect=1, timeout=5)
        assert dead["reason"] == "RuleViolation: this programme cannot be closed"
        assert "x-grants-attempt" not in dead["headers"]


@pytest.mark.parametrize(
    ("body", "headers", "reason"),
    [
        (b"not json at all", "valid", "body does not match grants.programme.closed.v1"),
        (json.dumps({"wrong": 1}).encode(), "valid", "body does not match grants.programme.closed.v1"),
        (json.dumps({"programme_id": "p"}).encode(), {}, "missing CloudEvents attribute"),
    ],
)
async def test_a_malformed_message_goes_to_the_dlq_and_does_not_block_the_queue(
    settings: ServiceSettings, bus: TestBus, body: bytes, headers: object, reason: str
) -> None:
    async with running(TEST_SERVICE, settings) as runtime:
        await runtime.broker.wait_connected(10)
        if headers == "valid":
            headers = {
                "cloudEvents_specversion": "1.0", "cloudEvents_id": "bad-1", "cloudEvents_source": "/x",
                "cloudEvents_type": CLOSED, "cloudEvents_time": "2026-11-26T10:00:00+00:00",
                "cloudEvents_subject": "p",
            }
        await bus.publish_raw(CLOSED, body, headers)  # type: ignore[arg-type]
        await bus.publish(ProgrammeClosed(programme_id="p-after"))
        [dead] = await bus.dead_letters("test", expect=1, timeout=5)
        assert reason in dead["reason"]
        assert dead["body"] == body
        await eventually(lambda: _effects_at_least(runtime.db, "p-after", 1))


async def _effects_at_least(db: AsyncDatabase, programme_id: str, n: int) -> bool:
    return await effects(db, programme_id) >= n


async def test_events_committed_while_the_broker_is_unreachable_are_published_when_it_is_back(
    settings: ServiceSettings, bus: TestBus
) -> None:
    broker = urlparse(settings.rabbitmq_url)
    proxy = TcpProxy(broker.hostname or "127.0.0.1", broker.port or 5672)
    port = free_port()
    cut_off = settings.model_copy(
        update={"rabbitmq_url": f"amqp://{broker.username}:{broker.password}@127.0.0.1:{port}/"}
    )
    async with running(TEST_SERVICE, cut_off) as runtime:

        async def close_three(tx: Transaction) -> None:
            for n in range(3):
                await tx.emit(ProgrammeClosed(programme_id=f"offline-{n}"))

        await runtime.database.transact(close_three)
        await asyncio.sleep(1)
        assert not runtime.broker.is_connected
        assert await runtime.db.outbox.count_documents({"published_at": None}) == 3
        assert bus.of_type(CLOSED) == []

        await proxy.open(port)
        try:
            arrived = await bus.wait_for(CLOSED, count=3, timeout=30)
            assert sorted(e.data.programme_id for e in arrived) == ["offline-0", "offline-1", "offline-2"]
            await eventually(lambda: _none_pending(runtime.db))
        finally:
            await proxy.close()


async def _none_pending(db: AsyncDatabase) -> bool:
    return await db.outbox.count_documents({"published_at": None}) == 0


async def test_an_event_whose_ack_was_lost_after_commit_is_redelivered_and_has_no_second_effect(
    settings: ServiceSettings, bus: TestBus
) -> None:
    """The handler's transaction commits, then its ack is lost on the wire and the connection dies:
    RabbitMQ redelivers the event, and the inbox turns the second delivery into a no-op."""
    proxy, flaky, port = await _broker_behind_proxy(settings)
    try:
        async with running(TEST_SERVICE, flaky) as runtime:
            await runtime.broker.wait_connected(10)
            real_transact = runtime.database.transact
            deliveries = 0

            async def transact_then_lose_the_ack(change, traceparent=None):  # type: ignore[no-untyped-def]
                nonlocal deliveries
                deliveries += 1
                result = await real_transact(change, traceparent)
                proxy.drop_upstream = True  # committed; whatever the consumer sends next (its ack) is lost
                return result

            runtime.consumer.database = _WithTransact(runtime.database, transact_then_lose_the_ack)
            await bus.publish(ProgrammeClosed(programme_id="p-lost-ack"))
            await eventually(lambda: _effects_at_least(runtime.db, "p-lost-ack", 1))
            await proxy.close()
            proxy.drop_upstream = False
            await proxy.open(port)
            # Redelivered after the reconnect; its transaction finds the inbox record and changes nothing.
            await eventually(lambda: _true(deliveries >= 2), timeout=30, what="the redelivery")
            await asyncio.sleep(0.5)
            assert deliveries == 2
            assert await effects(runtime.db, "p-lost-ack") == 1
            assert await runtime.db.inbox.count_documents({}) == 1
    finally:
        await proxy.close()


async def test_an_event_whose_connection_dies_mid_handler_is_handled_once_after_reconnecting(
    settings: ServiceSettings, bus: TestBus
) -> None:
    proxy, flaky, port = await _broker_behind_proxy(settings)
    entered, release = asyncio.Event(), asyncio.Event()

    async def slow_first_time(event: Event, tx: Transaction) -> None:
        await count_effect(event, tx)
        if not entered.is_set():
            entered.set()
            await release.wait()

    service = Service(name="test", title="test", description="", routers=[], handlers={CLOSED: slow_first_time},
                      create_indexes=no_indexes)
    try:
        async with running(service, flaky) as runtime:
            await runtime.broker.wait_connected(10)
            await bus.publish(ProgrammeClosed(programme_id="p-cut"))
            await asyncio.wait_for(entered.wait(), 10)
            await proxy.close()  # the broker goes away while the handler is inside its transaction
            release.set()
            await proxy.open(port)
            await eventually(lambda: _effects_at_least(runtime.db, "p-cut", 1), timeout=30)
            await asyncio.sleep(0.5)
            assert await effects(runtime.db, "p-cut") == 1
            assert await runtime.db.inbox.count_documents({}) == 1
    finally:
        await proxy.close()


class _WithTransact:
    """The service's Database with ``transact`` wrapped, so a test can act right after a commit."""

    def __init__(self, database, transact) -> None:  # type: ignore[no-untyped-def]
        self._database = database
        self.transact = transact

    def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
        return getattr(self._database, name)


async def _broker_behind_proxy(settings: ServiceSettings) -> tuple[TcpProxy, ServiceSettings, int]:
    broker = urlparse(settings.rabbitmq_url)
    proxy = TcpProxy(broker.hostname or "127.0.0.1", broker.port or 5672)
    port = free_port()
    await proxy.open(port)
    url = f"amqp://{broker.username}:{broker.password}@127.0.0.1:{port}/"
    return proxy, settings.model_copy(update={"rabbitmq_url": url}), port


async def _true(value: bool) -> bool:
    return value


async def test_a_body_sent_under_another_types_routing_key_is_dead_lettered_not_handled(
    settings: ServiceSettings, bus: TestBus
) -> None:
    from grants_shared.cloudevents import to_message
    from grants_shared.events import ApplicationWithdrawn, Event

    two_types = Service(name="test", title="test", description="", routers=[], create_indexes=no_indexes,
                        handlers={CLOSED: count_effect, ApplicationWithdrawn.type: count_effect})
    async with running(two_types, settings) as runtime:
        await runtime.broker.wait_connected(10)
        event = Event.new(ProgrammeClosed(programme_id="p-wrong-key"), source="/grants/test")
        # A programme.closed event (type header and body) published under another type's routing key.
        await bus.exchange.publish(to_message(event), routing_key=ApplicationWithdrawn.type)
        [dead] = await bus.dead_letters("test", expect=1, timeout=5)
        assert "differs from the CloudEvents type" in dead["reason"]
        assert await effects(runtime.db, "p-wrong-key") == 0


async def test_a_retried_event_keeps_its_routing_key_through_the_retry_queues(
    settings: ServiceSettings, bus: TestBus
) -> None:
    async with running(TEST_SERVICE, settings) as runtime:
        await runtime.broker.wait_connected(10)
        await bus.publish(ProgrammeClosed(programme_id="fails-always"))
        [dead] = await bus.dead_letters("test", expect=1, timeout=15)
        # It went through both retry queues and came back each time under its queue's name: never
        # mistaken for a message with the wrong routing key.
        assert "gave up after 3 attempts" in dead["reason"]
        assert dead["headers"]["x-grants-original-routing-key"] == CLOSED


async def test_an_event_waiting_for_what_it_depends_on_outwaits_the_retry_budget(
    settings: ServiceSettings, bus: TestBus
) -> None:
    """Two retries are all a failure gets (retry_delays_ms has two delays); an event whose programme has
    not arrived yet waits through many more, and is handled once it has."""
    from grants_shared.errors import NotYetKnown

    arrived = asyncio.Event()
    waits = 0

    async def needs_the_programme(event: Event, tx: Transaction) -> None:
        nonlocal waits
        if not arrived.is_set():
            waits += 1
            if waits == 5:
                arrived.set()  # the prerequisite turns up after the fifth wait
            raise NotYetKnown("the programme has not been opened here yet")
        await tx.db.effects.update_one({"_id": "p-late"}, {"$inc": {"count": 1}}, upsert=True, session=tx.session)

    waiting = Service(name="test", title="test", description="", routers=[], create_indexes=no_indexes,
                      handlers={CLOSED: needs_the_programme})
    async with running(waiting, settings) as runtime:
        await runtime.broker.wait_connected(10)
        await bus.publish(ProgrammeClosed(programme_id="p-late"))
        await eventually(lambda: _effects_at_least(runtime.db, "p-late", 1), timeout=15)
        assert waits == 5
        assert await bus.dead_letters("test", expect=1, timeout=1) == []


async def test_an_event_that_waits_longer_than_an_outage_could_last_is_dead_lettered_with_why(
    settings: ServiceSettings, bus: TestBus
) -> None:
    from grants_shared.errors import NotYetKnown

    async def never_arrives(event: Event, tx: Transaction) -> None:
        raise NotYetKnown("application app-9 has not been submitted here yet")

    impatient = settings.model_copy(update={"prerequisite_wait_seconds": 1})
    waiting = Service(name="test", title="test", description="", routers=[], create_indexes=no_indexes,
                      handlers={CLOSED: never_arrives})
    async with running(waiting, impatient) as runtime:
        await runtime.broker.wait_connected(10)
        await bus.publish(ProgrammeClosed(programme_id="p-never"))
        [dead] = await bus.dead_letters("test", expect=1, timeout=15)
        assert "gave up waiting after" in dead["reason"] and "app-9 has not been submitted" in dead["reason"]
