"""Benchmark of the event path every service shares: transaction + outbox -> relay -> RabbitMQ ->
consumer (inbox + handler in one transaction) -> ack. Prints rates; asserts nothing about time.

    make bench            (BENCH_EVENTS=2000 to change the count)
"""

import asyncio
import os
import time
from uuid import uuid4

from pymongo.asynchronous.database import AsyncDatabase

from grants_shared.dev import infra
from grants_shared.events import Event, ProgrammeClosed
from grants_shared.service import Service, running
from grants_shared.settings import ServiceSettings
from grants_shared.unit_of_work import Transaction
from tests.support.bus import delete_topology

EVENTS = int(os.environ.get("BENCH_EVENTS", "1000"))


async def record(event: Event, tx: Transaction) -> None:
    await tx.db.handled.insert_one({"_id": event.id}, session=tx.session)


async def no_indexes(db: AsyncDatabase) -> None:
    return None


PRODUCER = Service("bench_producer", "producer", "", [], {}, no_indexes)
CONSUMER = Service("bench_consumer", "consumer", "", [], {ProgrammeClosed.type: record}, no_indexes)


async def measure(settings: ServiceSettings) -> None:
    async with running(CONSUMER, settings) as consumer, running(PRODUCER, settings) as producer:
        await consumer.broker.wait_connected(15)
        await producer.broker.wait_connected(15)
        start = time.perf_counter()

        async def emit_one(n: int) -> None:
            async def change(tx: Transaction) -> None:
                await tx.emit(ProgrammeClosed(programme_id=f"p{n}"))
            await producer.database.transact(change)

        for first in range(0, EVENTS, 50):
            await asyncio.gather(*(emit_one(n) for n in range(first, min(first + 50, EVENTS))))
        committed = time.perf_counter()
        while await producer.db.outbox.count_documents({"published_at": None}):
            await asyncio.sleep(0.05)
        published = time.perf_counter()
        while await consumer.db.handled.count_documents({}) < EVENTS:
            await asyncio.sleep(0.05)
        handled = time.perf_counter()
    print(f"{EVENTS} events")
    print(f"  commit state change + outbox: {EVENTS / (committed - start):8.0f} events/s")
    print(f"  relay published all by:       {published - start:8.2f} s")
    print(f"  consumer handled all by:      {handled - start:8.2f} s  ({EVENTS / (handled - start):.0f} events/s end to end)")


def main() -> None:
    rabbitmq_url = infra.ensure_rabbitmq()
    with infra.mongodb() as mongodb_url:
        settings = ServiceSettings(prefix=f"bench{uuid4().hex[:8]}", mongodb_url=mongodb_url,
                                   rabbitmq_url=rabbitmq_url, prefetch=100)
        try:
            asyncio.run(measure(settings))
        finally:
            asyncio.run(delete_topology(settings, (PRODUCER.name, CONSUMER.name)))


if __name__ == "__main__":
    main()
