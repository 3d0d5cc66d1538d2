"""Benchmark of the portal's pages: the time each page takes in the portal (its own ``Server-Timing``,
which includes the API calls it waits for) and how many API calls it makes (``X-Api-Calls``), for
every kind of page and person, on the local stack (the whole platform as separate processes on an
embedded database), after one grant's journey has given every page something to show.

Prints each page's median and 95th percentile against the 150 ms target as a ratio, and its calls;
writes the figures to bench-results/portal_pages.json. Asserts nothing about time.

    make bench            (BENCH_PAGE_REQUESTS=40 to change the count)
"""

import json
import os
import re
import statistics
import sys
from pathlib import Path
from uuid import uuid4

import httpx

from grants_shared.dev import infra
from grants_shared.dev.journey import Journey
from grants_shared.dev.stack import PORTS, local_stack
from grants_shared.settings import ServiceSettings
from tests.support.bus import delete_topology
from tests.support.portal_pages import pages_after, signed_in

REQUESTS = int(os.environ.get("BENCH_PAGE_REQUESTS", "20"))
TARGET_MS = 150.0
#: Beyond this a page's calls would grow with what it shows: every page here makes a bounded number.
CALLS_LIMIT = 8
RESULTS = Path(__file__).resolve().parents[2] / "bench-results"


def measure(client: httpx.Client, path: str) -> dict[str, float]:
    timings, calls = [], set()
    for n in range(REQUESTS + 2):
        answer = client.get(path)
        assert answer.status_code == 200, f"{path}: {answer.status_code}"
        if n >= 2:  # the first two warm the connections and caches
            timings.append(float(answer.headers["server-timing"].split("dur=")[1]))
            calls.add(int(answer.headers["x-api-calls"]))
    timings.sort()
    return {
        "p50_ms": statistics.median(timings),
        "p95_ms": timings[max(0, round(0.95 * len(timings)) - 1)],
        "api_calls": max(calls),
    }


def main() -> int:
    import asyncio

    bus = ServiceSettings(prefix=f"bench{uuid4().hex[:8]}")
    ports = {name: infra.free_port() for name in PORTS}
    rabbitmq_url = infra.ensure_rabbitmq()
    figures: dict[str, dict[str, float]] = {}
    with infra.mongodb() as mongodb_url, local_stack(
        mongodb_url, rabbitmq_url, RESULTS / "logs", ports=ports, env={"GRANTS_PREFIX": bus.prefix}
    ) as stack:
        journey = Journey(stack.urls, ServiceSettings(prefix=bus.prefix), say=lambda _: None)
        done = journey.run(person="sam-harrow", organisation_id="org-harrow-mens-shed")
        pages = pages_after(done)
        for subject, paths in pages.items():
            client = signed_in(stack.urls["portal"], subject)
            for path in paths:
                figures[f"{subject or 'anyone'} {path}"] = measure(client, path)
            client.close()
    asyncio.run(delete_topology(bus))

    print(f"portal pages: {REQUESTS} requests each, server time in the portal (target {TARGET_MS:.0f} ms)\n")
    print(f"{'page':<78} {'p50 ms':>7} {'p95 ms':>7} {'p95/target':>10} {'API calls':>9}")
    for page, figure in figures.items():
        shown = re.sub(r"(app|prg|rev)-[0-9a-f]{32}|[0-9a-f-]{36}", "{id}", page)
        print(f"{shown:<78} {figure['p50_ms']:>7.1f} {figure['p95_ms']:>7.1f} "
              f"{figure['p95_ms'] / TARGET_MS:>10.2f} {figure['api_calls']:>9.0f}")
    worst = max(f["p95_ms"] for f in figures.values())
    most_calls = max(f["api_calls"] for f in figures.values())
    print(f"\nslowest page p95 {worst:.1f} ms = {worst / TARGET_MS:.2f} of the target; "
          f"most API calls on a page: {most_calls:.0f} (limit {CALLS_LIMIT})")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "portal_pages.json").write_text(json.dumps(
        {"requests": REQUESTS, "target_ms": TARGET_MS, "calls_limit": CALLS_LIMIT, "pages": figures}, indent=2))
    return 0 if most_calls <= CALLS_LIMIT else 1


if __name__ == "__main__":
    sys.exit(main())
