"""Documents that name each other are read in one round trip, inside the caller's transaction."""

from collections.abc import AsyncIterator

import pytest
from pymongo import AsyncMongoClient, monitoring

from grants_shared.documents import Joined, read_together
from grants_shared.settings import ServiceSettings
from grants_shared.unit_of_work import Database, Transaction

REVIEW_AND_WHAT_IT_NAMES = (
    Joined("review", "reviews"),
    Joined("application", "applications", "review.application_id"),
    Joined("programme", "programmes", "application.programme_id"),
)


class Commands(monitoring.CommandListener):
    def __init__(self) -> None:
        self.names: list[str] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        self.names.append(event.command_name)

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


@pytest.fixture
async def database(settings: ServiceSettings) -> AsyncIterator[tuple[Database[ServiceSettings], Commands]]:
    commands = Commands()
    client: AsyncMongoClient = AsyncMongoClient(settings.mongodb_url, tz_aware=True, event_listeners=[commands])
    database = Database(client, settings, "together-test")
    await database.db.reviews.insert_one({"_id": "rev-1", "application_id": "app-1"})
    await database.db.reviews.insert_one({"_id": "rev-2", "application_id": "app-gone"})
    await database.db.applications.insert_one({"_id": "app-1", "programme_id": "prg-1", "title": "Walk and talk"})
    await database.db.programmes.insert_one({"_id": "prg-1", "name": "Sharing the load"})
    try:
        yield database, commands
    finally:
        await client.drop_database(database.db.name)
        await client.close()


async def test_a_document_and_those_it_names_come_in_one_round_trip(
    database: tuple[Database[ServiceSettings], Commands],
) -> None:
    db, commands = database
    commands.names.clear()
    found = await read_together(db, "rev-1", *REVIEW_AND_WHAT_IT_NAMES)
    assert commands.names == ["aggregate"]
    assert found["review"] == {"_id": "rev-1", "application_id": "app-1"}
    assert found["application"] is not None and found["application"]["title"] == "Walk and talk"
    assert found["programme"] == {"_id": "prg-1", "name": "Sharing the load"}


async def test_what_is_missing_is_none_and_so_is_what_only_it_named(
    database: tuple[Database[ServiceSettings], Commands],
) -> None:
    db, _ = database
    assert await read_together(db, "rev-2", *REVIEW_AND_WHAT_IT_NAMES) == {
        "review": {"_id": "rev-2", "application_id": "app-gone"}, "application": None, "programme": None,
    }  # fmt: skip
    assert await read_together(db, "rev-none", *REVIEW_AND_WHAT_IT_NAMES) == {
        "review": None, "application": None, "programme": None,
    }  # fmt: skip


async def test_inside_a_transaction_it_reads_what_the_transaction_wrote(
    database: tuple[Database[ServiceSettings], Commands],
) -> None:
    db, _ = database

    async def change(tx: Transaction[ServiceSettings]) -> object:
        await tx.db.programmes.update_one({"_id": "prg-1"}, {"$set": {"name": "Renamed"}}, session=tx.session)
        return await read_together(tx, "rev-1", *REVIEW_AND_WHAT_IT_NAMES)

    found = await db.transact(change)
    assert found["programme"] == {"_id": "prg-1", "name": "Renamed"}  # type: ignore[index]


async def test_several_ids_asked_for_and_a_join_by_another_field_than_the_id(
    database: tuple[Database[ServiceSettings], Commands],
) -> None:
    db, commands = database
    commands.names.clear()
    found = await read_together(
        db, {"programme": "prg-1", "application": "app-1"}, Joined("programme", "programmes", "programme"),
        Joined("review", "reviews", "application", field="application_id"),
    )  # fmt: skip
    assert commands.names == ["aggregate"]
    assert found == {"programme": {"_id": "prg-1", "name": "Sharing the load"},
                     "review": {"_id": "rev-1", "application_id": "app-1"}}  # fmt: skip


async def test_a_join_of_many_gives_every_document_that_matches_narrowed_as_asked(
    database: tuple[Database[ServiceSettings], Commands],
) -> None:
    db, commands = database
    await db.db.reviews.insert_many([
        {"_id": "rev-3", "application_id": "app-1", "reviewer_id": "amara", "status": "open"},
        {"_id": "rev-4", "application_id": "app-1", "reviewer_id": "ben", "status": "completed"},
        {"_id": "rev-5", "application_id": "app-2", "reviewer_id": "ben", "status": "open"},
    ])  # fmt: skip
    await db.db.panels.insert_one({"_id": "panel-1", "members": ["amara", "ben", "chidi"]})
    commands.names.clear()
    found = await read_together(
        db, {"application": "app-1", "panel": "panel-1", "nobody": "app-none"},
        Joined("all", "reviews", "application", "application_id", many=True),
        Joined("open", "reviews", "application", "application_id", many=True, where={"status": "open"},
               only=("reviewer_id",)),
        Joined("panel", "panels", "panel"),
        # By an array of a document read before: every member's documents.
        Joined("members_open", "reviews", "panel.members", "reviewer_id", many=True, where={"status": "open"},
               only=("reviewer_id",)),
        Joined("none", "reviews", "nobody", "application_id", many=True),
    )  # fmt: skip
    assert commands.names == ["aggregate"]
    assert sorted(doc["_id"] for doc in found["all"]) == ["rev-1", "rev-3", "rev-4"]
    assert found["open"] == [{"_id": "rev-3", "reviewer_id": "amara"}]
    assert sorted(doc["_id"] for doc in found["members_open"]) == ["rev-3", "rev-5"]
    assert found["none"] == []


async def test_a_join_by_a_key_made_of_two_fields(database: tuple[Database[ServiceSettings], Commands]) -> None:
    db, commands = database
    await db.db.places.insert_many([{"_id": "prg-1|app-1", "held": True}, {"_id": "prg-1|app-2"}])
    commands.names.clear()
    found = await read_together(
        db, "rev-1", Joined("review", "reviews"), Joined("application", "applications", "review.application_id"),
        Joined("place", "places", ("application.programme_id", "review.application_id")),
    )  # fmt: skip
    assert commands.names == ["aggregate"]
    assert found["place"] == {"_id": "prg-1|app-1", "held": True}
