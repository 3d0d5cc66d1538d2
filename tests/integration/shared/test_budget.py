"""The budget many awards draw on at once: never over-committed, whatever the concurrency, and with
no one document that every award must update."""

import asyncio

from pymongo import AsyncMongoClient
from pymongo.errors import PyMongoError

from grants_shared import budget
from grants_shared.money import Money
from grants_shared.settings import ServiceSettings
from grants_shared.unit_of_work import Database


def gbp(pence: int) -> Money:
    return Money(amount=pence, currency="GBP")


async def test_concurrent_reservations_never_take_more_than_the_budget(settings: ServiceSettings) -> None:
    client: AsyncMongoClient = AsyncMongoClient(settings.mongodb_url, tz_aware=True)
    database = Database(client, settings, "budget-test")
    try:
        await budget.create_budget_indexes(database.db)
        await database.transact(lambda tx: budget.open_budget(tx, "prg-1", gbp(100_000)))
        await database.transact(lambda tx: budget.open_budget(tx, "prg-1", gbp(999_999)))  # once only

        async def award() -> budget.Reservation | None:
            return await database.transact(lambda tx: budget.reserve(tx, "prg-1", gbp(3_000)))

        results = await asyncio.gather(*(award() for _ in range(40)), return_exceptions=True)
        unexpected = [r for r in results if isinstance(r, BaseException) and not isinstance(r, PyMongoError)]
        assert unexpected == []
        made = [r for r in results if isinstance(r, budget.Reservation)]
        assert len(made) == 33  # 33 x £30 fit in £1,000; the 34th would not
        left = await budget.available(database, "prg-1")
        assert left == gbp(100_000 - 33 * 3_000)
        assert sum(r.amount for r in made) + left.amount == 100_000
        # Spread over the buckets, not all on one document.
        assert len({part.bucket for r in made for part in r.parts}) == budget.BUCKETS
    finally:
        await client.drop_database(database.db.name)
        await client.close()


async def test_an_award_larger_than_a_bucket_takes_from_several_and_is_given_back(settings: ServiceSettings) -> None:
    client: AsyncMongoClient = AsyncMongoClient(settings.mongodb_url, tz_aware=True)
    database = Database(client, settings, "budget-test-2")
    try:
        await database.transact(lambda tx: budget.open_budget(tx, "prg-2", gbp(80_000)))
        big = await database.transact(lambda tx: budget.reserve(tx, "prg-2", gbp(70_000)))
        assert big is not None and big.amount == 70_000 and len(big.parts) >= 7
        assert await database.transact(lambda tx: budget.reserve(tx, "prg-2", gbp(10_001))) is None
        assert await database.transact(lambda tx: budget.reserve(tx, "prg-2", Money(amount=1, currency="EUR"))) is None
        await database.transact(lambda tx: budget.release(tx, big))
        assert await budget.available(database, "prg-2") == gbp(80_000)
        await database.transact(lambda tx: budget.add(tx, "prg-2", gbp(5)))
        assert await budget.available_of(database, ["prg-2", "nowhere"]) == {"prg-2": gbp(80_005)}
        assert budget.split(10, 4) == [3, 3, 2, 2]
    finally:
        await client.drop_database(database.db.name)
        await client.close()
