"""Windowed pages: every item once, in order, each read matching about a page's worth of documents."""

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pymongo import ASCENDING, AsyncMongoClient, monitoring

from grants_shared.errors import GrantsError
from grants_shared.paging import After, window_page
from grants_shared.settings import ServiceSettings

START = datetime(2026, 1, 1, tzinfo=UTC)


class Reads(monitoring.CommandListener):
    """What each find on the collection returned (the documents the database read and sent): its first
    batch and every batch after it."""

    def __init__(self) -> None:
        self.returned: list[int] = []
        self._finds: set[int] = set()
        self._cursors: dict[int, int] = {}  # cursor id -> its find's place in ``returned``
        self._more: dict[int, int] = {}  # a getMore's request id -> the find's place

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if event.command_name == "find" and event.command.get("find") == "items":
            self._finds.add(event.request_id)
        elif event.command_name == "getMore" and event.command["getMore"] in self._cursors:
            self._more[event.request_id] = self._cursors[event.command["getMore"]]

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        if event.request_id in self._finds:
            cursor = event.reply["cursor"]
            self.returned.append(len(cursor["firstBatch"]))
            if cursor["id"]:
                self._cursors[cursor["id"]] = len(self.returned) - 1
        elif event.request_id in self._more:
            self.returned[self._more.pop(event.request_id)] += len(event.reply["cursor"]["nextBatch"])

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


class Database:
    def __init__(self, client: AsyncMongoClient, name: str) -> None:
        self.db = client[name]
        self.session = None


@pytest.fixture
async def items(settings: ServiceSettings) -> Any:
    reads = Reads()
    client: AsyncMongoClient = AsyncMongoClient(settings.mongodb_url, tz_aware=True, event_listeners=[reads])
    db = Database(client, f"{settings.prefix}_paging")
    rng = random.Random(7)
    docs = [{"_id": f"i{n:05d}", "programme_id": "p-1" if n % 4 else "p-2",
             "submitted_at": START + timedelta(seconds=rng.randrange(0, 86_400 * 30)),
             "score": rng.randrange(0, 500) / 100} for n in range(3_000)]  # fmt: skip
    docs += [{"_id": "tie-a", "programme_id": "p-1", "submitted_at": START + timedelta(days=3), "score": 2.5},
             {"_id": "tie-b", "programme_id": "p-1", "submitted_at": START + timedelta(days=3), "score": 2.5},
             {"_id": "draft", "programme_id": "p-1"}]  # fmt: skip
    await db.db.items.insert_many(docs)
    await db.db.items.create_index([("programme_id", ASCENDING), ("submitted_at", ASCENDING)])
    await db.db.items.create_index([("programme_id", ASCENDING), ("score", ASCENDING)])
    yield db, reads, [d for d in docs if d["programme_id"] == "p-1" and "score" in d]
    await client.drop_database(db.db.name)
    await client.close()


async def _all_pages(db: Database, key: str, descending: bool, limit: int, **bounds: Any) -> list[list[str]]:
    pages, after = [], None
    while True:
        page, after = await window_page(db, "items", {"programme_id": "p-1"}, key, limit=limit,
                                        descending=descending, after=after, **bounds)  # fmt: skip
        if "then" in bounds:
            assert all(bounds["then"] in doc for doc in page)
        pages.append([doc["_id"] for doc in page])
        if after is None:
            return pages
        after = After.parse(after.token())  # as a client would send it back


@pytest.mark.parametrize("descending", [False, True])
async def test_every_item_once_in_order_by_time(items: Any, descending: bool) -> None:
    db, reads, expected = items
    pages = await _all_pages(db, "submitted_at", descending, 50, lowest=START - timedelta(days=1),
                             highest=START + timedelta(days=400))  # fmt: skip
    listed = [item for page in pages for item in page]
    order = sorted(expected, key=lambda d: (d["submitted_at"], d["_id"]), reverse=descending)
    assert listed == [d["_id"] for d in order]  # every one once, ties by id, the draft (no key) not at all
    assert all(len(page) == 50 for page in pages[:-1])
    # Once the density is learnt, a page is about one read of about a page's worth of documents.
    steady = reads.returned[len(reads.returned) // 2:]
    assert max(steady) <= 4 * 50, steady
    assert len(reads.returned) <= 2.5 * len(pages) + 12


async def test_by_score_highest_first_with_ties(items: Any) -> None:
    db, _, expected = items
    pages = await _all_pages(db, "score", True, 40, lowest=0, highest=5)
    listed = [item for page in pages for item in page]
    assert listed == [d["_id"] for d in sorted(expected, key=lambda d: (d["score"], d["_id"]), reverse=True)]


@pytest.mark.parametrize("descending", [False, True])
async def test_ties_broken_by_a_second_field_before_the_id(items: Any, descending: bool) -> None:
    db, _, expected = items
    # Scores of 0.00 to 4.99 among 2,250 items: ties of about five, and pages that end inside one.
    pages = await _all_pages(db, "score", descending, 7, lowest=0, highest=5, then="submitted_at")
    listed = [item for page in pages for item in page]
    order = sorted(expected, key=lambda d: (d["score"], d["submitted_at"], d["_id"]), reverse=descending)
    assert listed == [d["_id"] for d in order]


async def test_a_cursor_that_is_not_one_is_a_bad_request() -> None:
    with pytest.raises(GrantsError):
        After.parse("not-a-cursor")
    with pytest.raises(GrantsError):
        After.parse(After(1.5, "x").token()[:-3] + "!!!")
    assert After.parse(After(START, "x").token()) == After(START, "x")
    assert After.parse(After(2.5, "x", START).token()) == After(2.5, "x", START)
    with pytest.raises(GrantsError):
        After.parse(After(2.5, "x", START).token()[:-6])


async def test_by_a_key_inside_an_embedded_document_with_an_exclusive_projection_and_a_test_of_each(items: Any) -> None:
    db, _, expected = items
    await db.db.items.update_many({}, [{"$set": {"amount": {"pence": {"$toInt": {"$multiply": ["$score", 100]}}}}}])
    # A field after the key: the embedded database's $lte on such an index leaves out what equals the bound.
    await db.db.items.create_index([("programme_id", ASCENDING), ("amount.pence", ASCENDING), ("_id", ASCENDING)])
    listed, after = [], None
    while True:
        page, after = await window_page(db, "items", {"programme_id": "p-1"}, "amount.pence", lowest=100, highest=300,
                                        limit=60, after=after, projection={"score": 0},
                                        keep=lambda doc: doc["_id"] != "i00002")  # fmt: skip
        assert all("score" not in doc and "amount" in doc for doc in page)
        listed += [doc["_id"] for doc in page]
        if after is None:
            break
    wanted = sorted((d for d in expected if 100 <= int(d["score"] * 100) <= 300 and d["_id"] != "i00002"),
                    key=lambda d: (int(d["score"] * 100), d["_id"]))  # fmt: skip
    assert listed == [d["_id"] for d in wanted]
    assert any(int(d["score"] * 100) == 300 for d in wanted), "the upper bound itself is in the list"


async def test_a_list_whose_documents_thicken_is_read_a_page_at_a_time_once_learnt(settings: ServiceSettings) -> None:
    """A ranking's shape: a few documents at the top of the range, thousands just after them. The first
    page ever asked for learns the density of each stretch it crosses (it may read the thick part whole,
    as nothing told it where that starts); every first page after it is sized by what was learnt."""
    reads = Reads()
    client: AsyncMongoClient = AsyncMongoClient(settings.mongodb_url, tz_aware=True, event_listeners=[reads])
    db = Database(client, f"{settings.prefix}_paging_thick")
    try:
        rng = random.Random(11)
        sparse = [{"_id": f"s{n:03d}", "programme_id": "p-1", "key": rng.uniform(0, 1)} for n in range(30)]
        dense = [{"_id": f"d{n:05d}", "programme_id": "p-1", "key": rng.uniform(1, 1.5)} for n in range(3_000)]
        await db.db.items.insert_many(sparse + dense)
        await db.db.items.create_index([("programme_id", ASCENDING), ("key", ASCENDING)])
        expected = [d["_id"] for d in sorted(sparse + dense, key=lambda d: d["key"])][:50]
        calls = []
        for _ in range(4):  # the first page, as often as people open the list
            before = len(reads.returned)
            page, _ = await window_page(db, "items", {"programme_id": "p-1"}, "key", lowest=0, highest=5, limit=50)
            assert [d["_id"] for d in page] == expected
            calls.append(reads.returned[before:])
        later = [read for call in calls[1:] for read in call]
        assert max(later) <= 4 * 50 and all(len(call) <= 4 for call in calls[1:]), calls
    finally:
        await client.drop_database(db.db.name)
        await client.close()
