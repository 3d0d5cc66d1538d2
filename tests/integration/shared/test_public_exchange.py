"""Integrators read the public exchange: every event, without the personal data the services need."""

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import aio_pika
import pytest
from pymongo.asynchronous.database import AsyncDatabase

from grants_shared.events import ApplicationSubmitted, Contact, OrganisationSummary
from grants_shared.money import Money
from grants_shared.service import Service, running
from grants_shared.settings import ServiceSettings
from grants_shared.unit_of_work import Transaction
from tests.support.bus import TestBus, delete_topology


async def no_indexes(db: AsyncDatabase) -> None:
    return None


PUBLISHER = Service("publisher", "publisher", "", [], {}, no_indexes)


@pytest.fixture(autouse=True)
async def _own_queues_removed(settings: ServiceSettings) -> AsyncIterator[None]:
    """This test's own service declares queues the shared fixture does not know of: removed here."""
    yield
    await delete_topology(settings, (PUBLISHER.name,))


async def submit(tx: Transaction) -> None:
    await tx.emit(ApplicationSubmitted(
        application_id="a-1", programme_id="p-1", title="Peer support",
        organisation=OrganisationSummary(id="o-1", name="Harrow Peer Group", kind="community_group", area="Harrow"),
        summary="Our members have been in crisis.", amount_requested=Money(amount=500_000, currency="GBP"),
        contact=Contact(person_id="u-1", name="Ana Example", email="ana@example.org"),
        submitted_at=datetime(2026, 12, 1, tzinfo=UTC),
    ))  # fmt: skip


async def test_the_public_exchange_carries_each_event_without_its_personal_data(
    settings: ServiceSettings, bus: TestBus
) -> None:
    connection = await aio_pika.connect(settings.rabbitmq_url)
    async with connection, running(PUBLISHER, settings) as runtime:
        channel = await connection.channel()
        await runtime.broker.wait_connected(10)
        public = await channel.get_exchange(settings.public_exchange)
        integrator = await channel.declare_queue(f"{settings.prefix}.integrator", exclusive=True)
        await integrator.bind(public, routing_key="grants.application.#")

        await runtime.database.transact(submit, actor="ana")
        [internal] = await bus.wait_for(ApplicationSubmitted.type)
        assert internal.data.contact.email == "ana@example.org"  # the services' consumers need it

        message = await integrator.get(timeout=10)
        body = json.loads(message.body)
        assert body["title"] == "Peer support" and body["organisation"]["name"] == "Harrow Peer Group"
        assert "summary" not in body and "contact" not in body
        assert b"ana@example.org" not in message.body and b"crisis" not in message.body
        headers = message.headers or {}
        assert headers["cloudEvents_id"] == internal.id and headers["cloudEvents_type"] == ApplicationSubmitted.type
        assert "cloudEvents_actor" not in headers  # a person's id is personal data too
        await message.ack()
