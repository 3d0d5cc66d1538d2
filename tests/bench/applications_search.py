"""Benchmark of the managers' list and search of one programme's applications, straight on the store
and the embedded database with the service's indexes: loads one programme with 10,000 applications,
then up to 100,000 (BENCH_APPLICATIONS="10000,100000"), through the store's own documents, and at
each size times each query (the newest page, a word, a status, a stage, an area, an amount range, two
words with an amount, page 20 by cursor) and prints its p99 at each size, the last against the 200 ms
target as a ratio, and the growth between the sizes. Writes the figures to
bench-results/applications_search.json. Asserts nothing about time.

    make bench
"""

import asyncio
import os
import random
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

from applications import store
from applications.domain import ApplicationStatus, ContactDetails, Stage
from grants_shared.events import OrganisationSummary
from grants_shared.money import Money
from grants_shared.paging import After
from tests.bench.at_scale import Page, Plain, database, load, report, timed

#: The programme's sizes, measured one after another (the growth between them is printed).
SIZES = [int(n) for n in os.environ.get("BENCH_APPLICATIONS", "10000,100000").split(",")]
REQUESTS = int(os.environ.get("BENCH_SEARCH_REQUESTS", "50"))
OPEN = timedelta(weeks=6)
WORDS = ["peer", "support", "walks", "lantern", "allotment", "kitchen", "youth", "voices", "shed", "carers", "circle"]
AREAS = ["Brent", "Harrow", "Ealing", "Barnet", "Camden"]
STATUSES = [ApplicationStatus.DRAFT, ApplicationStatus.SUBMITTED, ApplicationStatus.SCORED, ApplicationStatus.WITHDRAWN]


def application(number: int, programme_id: str, start: datetime, rng: random.Random) -> dict[str, Any]:
    status = rng.choice(STATUSES)
    created = start + timedelta(seconds=rng.uniform(0, OPEN.total_seconds()))
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


QUERIES: dict[str, tuple[dict[str, Any], int]] = {  # a search's filters, and which page (1 = the first)
    "newest page": ({}, 1),
    "a word": ({"words": ["lantern"]}, 1),
    "two words, an amount range": ({"words": ["lantern", "kitchen"], "amount_min": 300_000, "amount_max": 600_000}, 1),
    "a status": ({"statuses": ["submitted"]}, 1),
    "a stage": ({"stage": "expression_of_interest"}, 1),
    "an area": ({"area": "Harrow"}, 1),
    "an amount range": ({"amount_min": 500_000, "amount_max": 510_000}, 1),
    "page 20, newest first": ({}, 20),
    "page 20 of a word": ({"words": ["lantern"]}, 20),
}


def _search(tx: Any, programme_id: str, filters: dict[str, Any], since: datetime, until: datetime) -> Page:
    """A search's page as a function of the cursor the page before gave."""
    query = store.ApplicationSearch(programme_id, tuple(filters.get("words", ())), tuple(filters.get("statuses", ())),
                                    filters.get("stage"), filters.get("area"), filters.get("amount_min"),
                                    filters.get("amount_max"))  # fmt: skip

    async def page(after: After | None) -> After | None:
        return (await store.search_applications(tx, query, 50, after, since=since, likely_newest=until))[1]

    return page


async def run() -> dict[int, dict[str, dict[str, float]]]:
    """Figures at each size, loading the one programme up to the next size in between."""
    async with database("bench_applications", store.create_indexes) as db:
        rng = random.Random(8)
        # A programme open for six weeks, closed before now; its applications are created while it is open.
        programme_id, start = "prg-bench", datetime(2026, 1, 1, tzinfo=UTC)
        tx, loaded, figures = Plain(db), 0, {}
        for size in SIZES:
            await load(db, loaded, size, lambda n: application(n, programme_id, start, rng))
            loaded = size
            figures[size] = {name: await timed(_search(tx, programme_id, filters, start, start + OPEN), page, REQUESTS)
                             for name, (filters, page) in QUERIES.items()}  # fmt: skip
    return figures


def main() -> int:
    figures = asyncio.run(run())
    report(f"applications search: one programme of {', then '.join(f'{n:,}' for n in SIZES)} applications, "
           f"{REQUESTS} requests each, a page of 50 by cursor", "query", SIZES, figures, "applications_search.json",
           requests=REQUESTS)  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
