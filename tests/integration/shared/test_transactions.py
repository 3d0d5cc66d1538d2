"""Writes left for a transaction's end go with its events in one round trip: committed with them,
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


async def test_updates_left_for_later_commit_with_the_events(database: Database[ServiceSettings]) -> None:
    await database.db.things.insert_many([{"_id": "counted", "n": 1}, {"_id": "replaced", "n": 1}])
    await database.db.items.insert_many([{"_id": n, "open": n < 3} for n in range(5)])

    async def change(tx: Transaction[ServiceSettings]) -> None:
        tx.update_later("things", {"_id": "counted"}, {"$inc": {"n": 1}})
        tx.update_later("things", {"_id": "new"}, {"$setOnInsert": {"n": 7}}, upsert=True)
        tx.replace_later("things", {"_id": "upserted"}, {"n": 8}, upsert=True)
        tx.replace_later("things", {"_id": "replaced"}, {"n": 9})
        tx.update_later("items", {"open": True}, {"$set": {"open": False, "dropped": True}}, many=True)
        # Not yet written: nothing in the transaction reads them back before its end.
        assert (await tx.db.things.find_one({"_id": "counted"}, session=tx.session))["n"] == 1
        await tx.emit(closed("prg-1"))

    await database.transact(change)
    found = {doc["_id"]: doc["n"] for doc in await database.db.things.find().to_list(None)}
    assert found == {"counted": 2, "new": 7, "upserted": 8, "replaced": 9}
    assert await database.db.items.count_documents({"dropped": True}) == 3
    assert await database.db.outbox.count_documents({}) == 1


async def test_writes_left_for_later_are_made_when_asked_and_committed_with_the_rest(
    database: Database[ServiceSettings],
) -> None:
    await database.db.things.insert_one({"_id": "counted", "n": 1})

    async def change(tx: Transaction[ServiceSettings]) -> tuple[int, int, int]:
        tx.update_later("things", {"_id": "counted"}, {"$inc": {"n": 1}})
        tx.insert_later("audit", {"_id": "a-1"})
        tx.record_later("records", {"_id": "r-1"})  # read by nothing: kept for the very end
        await tx.write_pending()
        seen = (await tx.db.things.find_one({"_id": "counted"}, session=tx.session))["n"]
        tx.insert_later("audit", {"_id": "a-2"})
        in_the_transaction = await tx.db.audit.count_documents({}, session=tx.session)
        return seen, in_the_transaction, await tx.db.records.count_documents({}, session=tx.session)

    assert await database.transact(change) == (2, 1, 0)
    assert (await database.db.things.find_one({"_id": "counted"}))["n"] == 2
    assert await database.db.audit.count_documents({}) == 2
    assert await database.db.records.count_documents({}) == 1


async def test_an_update_left_for_later_of_what_changed_since_it_was_read_is_made_again(
    database: Database[ServiceSettings],
) -> None:
    """The update's query names the version read; another writer changes the document in between:
    the transaction meets the write conflict at its end and runs again on what is there now."""
    await database.db.things.insert_one({"_id": "counted", "n": 1, "version": 1})
    attempts = 0

    async def change(tx: Transaction[ServiceSettings]) -> None:
        nonlocal attempts
        attempts += 1
        read = await tx.db.things.find_one({"_id": "counted"}, session=tx.session)
        if attempts == 1:
            await database.db.things.update_one({"_id": "counted"}, {"$inc": {"n": 10, "version": 1}})
        tx.update_later("things", {"_id": "counted", "version": read["version"]}, {"$inc": {"n": 1, "version": 1}})
        await tx.emit(closed("prg-1"))

    await database.transact(change)
    assert attempts == 2
    assert (await database.db.things.find_one({"_id": "counted"}))["n"] == 12
    assert await database.db.outbox.count_documents({}) == 1


async def test_an_insert_if_new_of_a_new_document_commits_with_the_events(database: Database[ServiceSettings]) -> None:
    async def change(tx: Transaction[ServiceSettings]) -> list[bool]:
        made = [tx.insert_if_new_later("told", {"_id": "n-1"}), tx.insert_if_new_later("told", {"_id": "n-2"})]
        # The same document again in the same transaction is known without asking the database.
        made.append(tx.insert_if_new_later("told", {"_id": "n-1", "again": True}))
        await tx.emit(closed("prg-1"))
        return made

    assert await database.transact(change) == [True, True, False]
    assert sorted(doc["_id"] for doc in await database.db.told.find().to_list(None)) == ["n-1", "n-2"]
    assert await database.db.told.count_documents({"again": True}) == 0
    assert await database.db.outbox.count_documents({}) == 1


async def test_an_insert_if_new_of_a_document_there_makes_the_transaction_again_without_it(
    database: Database[ServiceSettings],
) -> None:
    await database.db.told.insert_one({"_id": "n-1", "first": True})
    attempts: list[list[bool]] = []

    async def change(tx: Transaction[ServiceSettings]) -> None:
        await tx.db.things.insert_one({"_id": f"now-{len(attempts)}"}, session=tx.session)
        made = [tx.insert_if_new_later("told", {"_id": "n-2"}), tx.insert_if_new_later("told", {"_id": "n-1"})]
        attempts.append(made)
        if made[1]:
            await tx.emit(closed("prg-1"))  # what telling n-1 would cause: not written when it is there

    await database.transact(change)
    assert attempts == [[True, True], [True, False]]
    # Nothing of the first attempt was written; the second wrote n-2 and left n-1 as it was.
    assert [doc["_id"] for doc in await database.db.things.find().to_list(None)] == ["now-1"]
    assert await database.db.told.find_one({"_id": "n-1"}) == {"_id": "n-1", "first": True}
    assert await database.db.told.count_documents({"_id": "n-2"}) == 1
    assert await database.db.outbox.count_documents({}) == 0


async def test_an_insert_if_new_made_before_a_later_read_is_found_there_when_the_transaction_is_made_again(
    database: Database[ServiceSettings],
) -> None:
    """Made in the middle of the transaction (``write_pending``, between the events of a batch)."""
    await database.db.told.insert_one({"_id": "n-1"})
    attempts: list[bool] = []

    async def change(tx: Transaction[ServiceSettings]) -> None:
        attempts.append(tx.insert_if_new_later("told", {"_id": "n-1", "second": True}))
        await tx.write_pending()

    await database.transact(change)
    assert attempts == [True, False]
    assert await database.db.told.count_documents({"second": True}) == 0


async def test_a_plain_duplicate_beside_an_insert_if_new_is_still_a_duplicate(database: Database[ServiceSettings]) -> None:
    await database.db.audit.insert_one({"_id": "a-1"})

    async def change(tx: Transaction[ServiceSettings]) -> None:
        tx.insert_if_new_later("told", {"_id": "n-1"})
        tx.insert_later("audit", {"_id": "a-1"})

    with pytest.raises(DuplicateKeyError):
        await database.transact(change)
    assert await database.db.told.count_documents({}) == 0
