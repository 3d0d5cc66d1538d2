"""Inserts left for a transaction's end go with its events in one round trip: committed with them,
or, when one of them cannot be written, nothing of the transaction is."""

from collections.abc import AsyncIterator

import pytest
from pymongo import AsyncMongoClient
from pymongo.errors import DuplicateKeyError

from grants_shared.events import ProgrammeClosed
from grants_shared.settings import ServiceSettings
from grants_shared.unit_of_work import Database, Transaction


@pytest.fixture
async def database(settings: ServiceSettings) -> AsyncIterator[Database[ServiceSettings]]:
    client: AsyncMongoClient = AsyncMongoClient(settings.mongodb_url, tz_aware=True)
    database = Database(client, settings, "later-test")
    try:
        yield database
    finally:
        await client.drop_database(database.db.name)
        await client.close()


def closed(programme_id: str) -> ProgrammeClosed:
    return ProgrammeClosed(programme_id=programme_id, closed_at="2026-12-03T09:00:00Z")


async def test_inserts_left_for_later_commit_with_the_events(database: Database[ServiceSettings]) -> None:
    async def change(tx: Transaction[ServiceSettings]) -> None:
        await tx.db.things.insert_one({"_id": "now"}, session=tx.session)
        tx.insert_later("audit", {"_id": "a-1"})
        tx.insert_later("audit", {"_id": "a-2"})
        await tx.emit(closed("prg-1"))

    await database.transact(change)
    assert await database.db.audit.count_documents({}) == 2
    assert await database.db.things.count_documents({}) == 1
    assert [doc["type"] for doc in await database.db.outbox.find().to_list(None)] == [ProgrammeClosed.type]


async def test_a_duplicate_left_for_later_writes_nothing_of_the_transaction(database: Database[ServiceSettings]) -> None:
    await database.db.audit.insert_one({"_id": "a-1"})

    async def change(tx: Transaction[ServiceSettings]) -> None:
        await tx.db.things.insert_one({"_id": "now"}, session=tx.session)
        tx.insert_later("audit", {"_id": "a-2"})
        tx.insert_later("audit", {"_id": "a-1"})
        await tx.emit(closed("prg-1"))

    with pytest.raises(DuplicateKeyError):
        await database.transact(change)
    assert await database.db.things.count_documents({}) == 0
    assert await database.db.audit.count_documents({}) == 1
    assert await database.db.outbox.count_documents({}) == 0
