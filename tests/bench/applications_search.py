"""Benchmark of the managers' list and search of one programme's applications, straight on the store
and the embedded database with the service's indexes: loads BENCH_APPLICATIONS applications (default
10,000; the issue's target is 100,000 in a programme) through the store's own documents, then times
each query (newest page, a word, a status, a stage, an area, an amount range, two words with an
amount, a deep page) and prints its p50 and p99 against the 200 ms target as a ratio. Writes the
figures to bench-results/applications_search.json. Asserts nothing about time.

    make bench            (BENCH_APPLICATIONS=100000 for the issue's size, on a machine that has room)
"""

import asyncio
import json
import os
import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pymongo import AsyncMongoClient

from applications import domain, store
from applications.domain import ApplicationStatus, ContactDetails, Stage
from grants_shared.dev import infra
from grants_shared.events import OrganisationSummary
from grants_shared.money import Money

APPLICATIONS = int(os.environ.get("BENCH_APPLICATIONS", "10000"))
REQUESTS = int(os.environ.get("BENCH_SEARCH_REQUESTS", "50"))
TARGET_MS = 200.0
RESULTS = Path(__file__).resolve().parents[2] / "bench-results"
WORDS = ["peer", "support", "walks", "lantern", "allotment", "kitchen", "youth", "voices", "shed", "carers", "circle"]
AREAS = ["Brent", "Harrow", "Ealing", "Barnet", "Camden"]
STATUSES = [ApplicationStatus.DRAFT, ApplicationStatus.SUBMITTED, ApplicationStatus.SCORED, ApplicationStatus.WITHDRAWN]


class _Plain:
    """A store's ``tx`` for plain reads and writes, outside any transaction."""

    def __init__(self, db: Any) -> None:
        self.db, self.session = db, None


def application(number: int, programme_id: str, start: datetime, rng: random.Random) -> dict[str, Any]:
    status = rng.choice(STATUSES)
    created = start + timedelta(seconds=number)
    submitted = status is not ApplicationStatus.DRAFT
    return store.Application(
        id=f"app-{number:032x}", programme_id=programme_id, organisation_id=f"org-{number}",
        title=" ".join(rng.sample(WORDS, 3)).capitalize(), summary="Support.",
        amount_requested=Money(amount=rng.randrange(1_000, 10_000) * 100, currency="GBP"),
        contact=ContactDetails(name="A Person", email="a.person@example.org"), status=status, version=1,
        created_by="person", created_at=created, updated_at=created,
        submitted_at=created if submitted else None,
        organisation=OrganisationSummary(id=f"org-{number}", name=f"{rng.choice(WORDS).capitalize()} group {number}",
                                         kind="charity", area=rng.choice(AREAS)) if submitted else None,
        stage=rng.choice([Stage.FULL, Stage.FULL, Stage.EXPRESSION_OF_INTEREST]),
    ).to_doc()  # fmt: skip


QUERIES: dict[str, tuple[dict[str, Any], int]] = {
    "newest page": ({}, 0),
    "a word": ({"words": ["lantern"]}, 0),
    "two words, an amount range": ({"words": ["lantern", "kitchen"], "amount_min": 300_000, "amount_max": 600_000}, 0),
    "a status": ({"statuses": ["submitted"]}, 0),
    "a stage": ({"stage": "expression_of_interest"}, 0),
    "an area": ({"area": "Harrow"}, 0),
    "an amount range": ({"amount_min": 500_000, "amount_max": 510_000}, 0),
    "page 20 (offset 950)": ({}, 950),
}


async def run() -> dict[str, dict[str, float]]:
    with infra.mongodb() as url:
        client: AsyncMongoClient[Any] = AsyncMongoClient(url)
        db = client["bench_applications"]
        await store.create_indexes(db)
        rng = random.Random(8)
        programme_id, start = "prg-bench", datetime(2027, 1, 1, tzinfo=UTC)
        for first in range(0, APPLICATIONS, 1000):
            batch = [application(n, programme_id, start, rng) for n in range(first, min(first + 1000, APPLICATIONS))]
            await db.applications.insert_many(batch)
        tx = _Plain(db)
        figures = {}
        for name, (filters, offset) in QUERIES.items():
            query = store.search_query(programme_id, filters.get("words", []), filters.get("statuses", []),
                                       filters.get("stage"), filters.get("area"), filters.get("amount_min"),
                                       filters.get("amount_max"))  # fmt: skip
            timings = []
            for n in range(REQUESTS + 2):
                began = time.perf_counter()
                await store.search_applications(tx, query, 50, offset)  # type: ignore[arg-type]
                if n >= 2:  # the first two warm the caches
                    timings.append((time.perf_counter() - began) * 1000)
            timings.sort()
            figures[name] = {"p50_ms": statistics.median(timings),
                             "p99_ms": timings[max(0, round(0.99 * len(timings)) - 1)]}  # fmt: skip
        await client.close()
    return figures


def main() -> int:
    figures = asyncio.run(run())
    print(f"applications search: {APPLICATIONS} applications in one programme (the issue's target: 100,000), "
          f"{REQUESTS} requests each, a page of 50 with its total (target p99 {TARGET_MS:.0f} ms)\n")  # fmt: skip
    print(f"{'query':<32} {'p50 ms':>8} {'p99 ms':>8} {'p99/target':>10}")
    for name, figure in figures.items():
        print(f"{name:<32} {figure['p50_ms']:>8.1f} {figure['p99_ms']:>8.1f} {figure['p99_ms'] / TARGET_MS:>10.2f}")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "applications_search.json").write_text(json.dumps(
        {"applications": APPLICATIONS, "requests": REQUESTS, "target_ms": TARGET_MS, "queries": figures}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
