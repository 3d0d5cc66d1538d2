"""What the benchmarks of long lists share: one programme loaded to each size in turn, each list's page
timed (a deep page from the cursor of the page before), and the table of p99s against the target with
the growth between the sizes."""

import contextlib
import json
import statistics
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

from pymongo import AsyncMongoClient

from grants_shared.dev import infra

RESULTS = Path(__file__).resolve().parents[2] / "bench-results"
TARGET_MS = 200.0
#: One page of a list as a function of the cursor the page before gave (None: the first page).
Page = Callable[[Any], Awaitable[Any]]


class Plain:
    """A store's ``tx`` for plain reads and writes, outside any transaction."""

    def __init__(self, db: Any) -> None:
        self.db, self.session = db, None


@contextlib.asynccontextmanager
async def database(name: str, create_indexes: Callable[[Any], Awaitable[None]]) -> AsyncIterator[Any]:
    """A database with the service's indexes, on a server whose cache holds 100,000 applications and
    their indexes (the default 1 GB fills up)."""
    with infra.mongodb(cache_size="4G") as url:
        client: AsyncMongoClient[Any] = AsyncMongoClient(url, tz_aware=True)
        try:
            db = client[name]
            await create_indexes(db)
            yield db
        finally:
            await client.close()


async def load(db: Any, loaded: int, size: int, make: Callable[[int], dict[str, Any]]) -> None:
    """Applications ``loaded`` up to ``size`` (``make`` builds the n-th), a thousand at a time."""
    for first in range(loaded, size, 1000):
        await db.applications.insert_many([make(n) for n in range(first, min(first + 1000, size))])


async def timed(page: Page, number: int, requests: int) -> dict[str, float]:
    """Page ``number``'s p50 and p99 over ``requests`` requests, after two that warm the caches and learn
    the list's density."""
    cursor = None
    for _ in range(number - 1):
        cursor = await page(cursor)
    timings = []
    for n in range(requests + 2):
        began = time.perf_counter()
        await page(cursor)
        if n >= 2:
            timings.append((time.perf_counter() - began) * 1000)
    timings.sort()
    return {"p50_ms": statistics.median(timings), "p99_ms": timings[max(0, round(0.99 * len(timings)) - 1)]}


def report(title: str, what: str, sizes: list[int], figures: dict[int, dict[str, dict[str, float]]],
           results: str, **extra: Any) -> None:  # fmt: skip
    """Print each list's p99 at each size, the last against the target and the growth; write the figures."""
    print(f"{title} (target p99 {TARGET_MS:.0f} ms)\n")
    head = "".join(f"{f'p99 ms @{n:,}':>16}" for n in sizes)
    print(f"{what:<34}{head} {'p99/target':>10} {'growth':>7}")
    for name in figures[sizes[0]]:
        p99s = [figures[n][name]["p99_ms"] for n in sizes]
        row = "".join(f"{p:>16.1f}" for p in p99s)
        print(f"{name:<34}{row} {p99s[-1] / TARGET_MS:>10.2f} {p99s[-1] / p99s[0]:>6.1f}x")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / results).write_text(json.dumps(
        {"sizes": sizes, "target_ms": TARGET_MS, **extra, "lists": {str(n): figures[n] for n in sizes}}, indent=2))
