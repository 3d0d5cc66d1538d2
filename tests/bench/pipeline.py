"""Benchmark of the whole pipeline: applications from submission to paid and notified, the four services
as separate processes on an embedded database of the benchmark's own, people simulated as careful
front ends that act as soon as they can. Prints every figure beside the raw limits measured in the same
run, as ratios, and writes them to ``bench-results/pipeline.json``. Asserts nothing about time.

- **Raw limits**, measured first: the database's single writes/s and transactions/s (insert + update +
  commit, 16 at a time), the broker's publishes/s with confirms.
- **Round trips per application**, by service, by command and by what caused them (each service counts
  its own with PyMongo's command monitoring, ``/metrics``) until the last journey's work is done
  (its emails sent, every outbox drained), net of idle polling (measured for 10 s before), with
  people's reads (the front ends' GETs) shown apart.
- **WriteConflicts per application** (aborted transactions), **throughput** (applications/s from the
  first submission to the last notification) against the limit the database's transaction rate and the
  round-trip count allow, **latency** of each person's call (p50/p99), and the same pipeline run three
  times in a row (throughput must not fall as history grows), with the idle database's CPU after.
- **Awards at once**, last: BENCH_AWARDS_AT_ONCE (60) scored applications of one programme whose budget
  covers five in six, every decision asked for at the same moment, each once: how each was answered
  (never a 5xx: a conflict not resolved in time is a 409 or 503 with Retry-After), how long it took,
  and whether the budget was over-committed.
- **WiredTiger's blocked page splits** in each run (the slow phase's cause: README, "Performance"), from
  the embedded database's own statistics.

    make bench                      BENCH_APPLICATIONS=200 BENCH_RUNS=3 to change the size
"""

import asyncio
import json
import os
import re
import statistics
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any
from uuid import uuid4

import aio_pika
import httpx
from aiosmtpd.controller import Controller
from prometheus_client.parser import text_string_to_metric_families
from pymongo import AsyncMongoClient

from grants_shared.dev import infra
from grants_shared.dev.stack import SERVICES
from grants_shared.settings import ServiceSettings
from tests.soak.soak import AWARD, MANAGER, FrontEnd, Mail, Platform
from tests.support.bus import delete_topology

APPLICATIONS = int(os.environ.get("BENCH_APPLICATIONS", "200"))
RUNS = int(os.environ.get("BENCH_RUNS", "3"))
AWARDS_AT_ONCE = int(os.environ.get("BENCH_AWARDS_AT_ONCE", "60"))
RESULTS = Path(__file__).resolve().parents[2] / "bench-results"
#: The targets of "Fast" (issue 13), each printed beside what was measured.
TARGETS = {"round_trips_per_application": 35, "write_conflicts_per_application": 0.5, "throughput_share": 0.7,
           "third_run_share": 0.9, "idle_database_cpu": 0.05, "submit_p99_ms": 100, "decision_p99_ms": 250,
           "scores_p99_ms": 250}  # fmt: skip


def p(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, round(share * len(ordered)) - 1)] if ordered else 0.0


# --- the raw limits ------------------------------------------------------------------------------


async def raw_limits(mongodb_url: str, rabbitmq_url: str) -> dict[str, float]:
    client: AsyncMongoClient = AsyncMongoClient(mongodb_url, tz_aware=True)
    db = client[f"bench{uuid4().hex[:6]}_raw"]
    try:
        n, started = 2_000, time.perf_counter()
        for first in range(0, n, 16):
            await asyncio.gather(*(db.writes.insert_one({"n": i}) for i in range(first, first + 16)))
        writes = n / (time.perf_counter() - started)

        async def transaction(i: int) -> None:
            async with client.start_session() as session:
                async def change(s: Any) -> None:
                    await db.txs.insert_one({"_id": i}, session=s)
                    await db.counters.update_one({"_id": i % 64}, {"$inc": {"n": 1}}, upsert=True, session=s)
                await session.with_transaction(change)

        n, started = 1_000, time.perf_counter()
        for first in range(0, n, 16):
            await asyncio.gather(*(transaction(i) for i in range(first, first + 16)))
        transactions = n / (time.perf_counter() - started)
        await client.drop_database(db.name)
    finally:
        await client.close()
    connection = await aio_pika.connect(rabbitmq_url)
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        queue = await channel.declare_queue(f"bench{uuid4().hex[:6]}", durable=True, arguments={"x-queue-type": "quorum"})
        n, started = 3_000, time.perf_counter()
        for first in range(0, n, 100):
            await asyncio.gather(*(channel.default_exchange.publish(aio_pika.Message(b"x" * 1_000), queue.name)
                                   for _ in range(first, first + 100)))  # fmt: skip
        publishes = n / (time.perf_counter() - started)
        await queue.delete(if_unused=False, if_empty=False)
    # Each transaction above is three round trips (insert, update, commit).
    return {"database_writes_per_s": writes, "database_transactions_per_s": transactions,
            "database_round_trips_per_s": 3 * transactions, "broker_publishes_per_s": publishes}  # fmt: skip


# --- counting what the services do ---------------------------------------------------------------


async def scrape(http: httpx.AsyncClient, platform: Platform) -> dict[str, dict[tuple[str, str], float]]:
    """``{service: {(command, origin): round trips}}`` and ``{service: {("WriteConflict", origin): n}}``."""
    counts: dict[str, dict[tuple[str, str], float]] = {}
    for service in SERVICES:
        text = (await http.get(f"{platform.url(service)}/metrics")).text
        mine: dict[tuple[str, str], float] = defaultdict(float)
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name == "grants_database_commands_total":
                    mine[(sample.labels["command"], sample.labels["origin"])] += sample.value
                elif sample.name == "grants_database_command_failures_total" and sample.labels["error"] == "WriteConflict":
                    mine[("WriteConflict", sample.labels.get("origin", sample.labels["command"]))] += sample.value
        counts[service] = mine
    return counts


def difference(after: dict[str, dict[Any, float]], before: dict[str, dict[Any, float]]) -> dict[str, dict[Any, float]]:
    return {s: {k: v - before.get(s, {}).get(k, 0.0) for k, v in after[s].items()} for s in after}


def is_scrape(origin: str) -> bool:
    return origin in ("GET /metrics", "GET /readyz", "GET /healthz")


def is_persons_read(origin: str) -> bool:
    return origin.startswith("GET ") and not is_scrape(origin)


def is_idle_polling(origin: str) -> bool:
    return origin == "outbox relay" or origin.startswith("worker ")


def database_cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# --- the people, timed ---------------------------------------------------------------------------

ID = re.compile(r"/(app|prg|rev|grant|gr|pay|org|con)[-_][0-9a-zA-Z_-]+|/[0-9a-f]{8}-[0-9a-f-]{27,}|/org-[^/]+")


class TimedFrontEnd(FrontEnd):
    """The soak's careful front end, with every call's latency noted by what it was."""

    def __init__(self, platform: Platform, settings: ServiceSettings) -> None:
        super().__init__(platform, settings)
        self.http = httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=400))
        self.latencies: dict[str, list[float]] = defaultdict(list)

    async def call(self, method: str, service: str, path: str, headers: dict[str, str], **kwargs: Any) -> httpx.Response:
        started = time.perf_counter()
        answer = await super().call(method, service, path, headers, **kwargs)
        self.latencies[f"{method} {service} {ID.sub('/{id}', path)}"].append((time.perf_counter() - started) * 1000)
        return answer


# --- one run -------------------------------------------------------------------------------------


async def pipeline(platform: Platform, settings: ServiceSettings, applications: int, idle_rate: float) -> dict[str, Any]:
    people = TimedFrontEnd(platform, settings)
    http = httpx.AsyncClient(timeout=30)
    programme_id = await people.open_programme()
    before = await scrape(http, platform)
    started = time.perf_counter()
    done = await asyncio.gather(*(people.journey(programme_id, n) for n in range(applications)), return_exceptions=True)
    elapsed = time.perf_counter() - started
    # The round trips counted include what the journeys left to do when they ended (emails queued
    # behind the one SMTP conversation, events still in outboxes).
    drain = await drained(http, platform, idle_rate)
    after = await scrape(http, platform)
    await http.aclose()
    await people.http.aclose()
    failures = [d for d in done if isinstance(d, BaseException)]
    return {"elapsed_s": elapsed, "drained_s": drain, "completed": applications - len(failures),
            "failures": [repr(f) for f in failures[:3]], "counts": difference(after, before),
            "latencies": people.latencies}  # fmt: skip


def round_trips(counts: dict[str, dict[tuple[str, str], float]], idle: dict[str, dict[tuple[str, str], float]],
                idle_seconds: float, elapsed: float, applications: int) -> dict[str, Any]:  # fmt: skip
    """Per application: by service, by command and by cause, net of idle polling, people's reads apart."""
    by_service: dict[str, float] = {}
    by_command: Counter[str] = Counter()
    by_origin: Counter[str] = Counter()
    commands_by_origin: dict[str, Counter[str]] = defaultdict(Counter)
    reads: dict[str, float] = {}
    conflicts = 0.0
    conflicts_by_origin: Counter[str] = Counter()
    for service, figures in counts.items():
        total = reads_here = 0.0
        for (command, origin), n in figures.items():
            if command == "WriteConflict":
                conflicts += n
                conflicts_by_origin[f"{service}: {origin}"] += n
                continue
            if is_scrape(origin):
                continue
            if is_idle_polling(origin):
                n = max(0.0, n - idle[service].get((command, origin), 0.0) / idle_seconds * elapsed)
            if is_persons_read(origin):
                reads_here += n
                continue
            total += n
            by_command[command] += n
            by_origin[f"{service}: {origin}"] += n
            commands_by_origin[f"{service}: {origin}"][command] += n
        by_service[service] = total / applications
        reads[service] = reads_here / applications
    return {
        "per_application": sum(by_service.values()),
        "by_service": by_service,
        "by_command": {k: v / applications for k, v in by_command.most_common()},
        "by_cause": {k: v / applications for k, v in by_origin.most_common()},
        "commands_by_cause": {k: {c: n / applications for c, n in commands_by_origin[k].most_common() if n}
                              for k, _ in by_origin.most_common()},
        "persons_reads_per_application": reads,
        "write_conflicts_per_application": conflicts / applications,
        "write_conflicts_by_cause": {k: v / applications for k, v in conflicts_by_origin.most_common(10) if v},
    }


async def drained(http: httpx.AsyncClient, platform: Platform, idle_rate: float, most_s: float = 180.0) -> float:
    """Seconds until what the last journeys left behind (emails queued behind the one SMTP conversation,
    events still in outboxes) is done: the services ask no more of the database than when idle, give or
    take. Idle is measured after that, not over a backlog still draining."""
    started = time.perf_counter()
    while time.perf_counter() - started < most_s:
        before = await scrape(http, platform)
        await asyncio.sleep(5)
        rate = sum(idle_rates(difference(await scrape(http, platform), before), 5).values())
        if rate <= idle_rate * 1.2 + 1:
            break
    return time.perf_counter() - started


def idle_rates(counts: dict[str, dict[tuple[str, str], float]], seconds: float) -> dict[str, float]:
    """What the services asked of an idle database, per second, by service and cause (scrapes apart)."""
    rates: Counter[str] = Counter()
    for service, figures in counts.items():
        for (command, origin), n in figures.items():
            if command != "WriteConflict" and not is_scrape(origin) and n:
                rates[f"{service}: {origin}"] += n / seconds
    return dict(rates.most_common())


async def awards_at_once(platform: Platform, settings: ServiceSettings, asked: int) -> dict[str, Any]:
    """``asked`` scored applications of one programme whose budget covers five in six of them, then all
    their awards asked for at the same moment, each once (no retry, unlike the careful front end)."""
    people = FrontEnd(platform, settings)
    covered = asked - asked // 6
    programme_id = await people.open_programme(awards=covered)
    scored = await asyncio.gather(*(people.apply_and_score(programme_id, n) for n in range(asked)))
    manager = people.as_(MANAGER, "programme_manager")
    http = httpx.AsyncClient(timeout=300, limits=httpx.Limits(max_connections=asked))
    award = {"outcome": "awarded", "amount_awarded": {"amount": AWARD, "currency": "GBP"}}

    async def decide(application_id: str) -> tuple[int, float, bool]:
        started = time.perf_counter()
        answer = await http.post(f"{platform.url('scoring')}/v1/applications/{application_id}/decision",
                                 json=award, headers=manager)  # fmt: skip
        told = answer.headers.get("content-type", "").startswith("application/problem+json") or answer.is_success
        return answer.status_code, (time.perf_counter() - started) * 1000, told

    answers = await asyncio.gather(*(decide(application_id) for application_id, _, _ in scored))
    shown = await people.call("GET", "scoring", f"/v1/programmes/{programme_id}", manager)
    await http.aclose()
    await people.http.aclose()
    awarded = sum(1 for status, _, _ in answers if status == 200)
    remaining = shown.json()["remaining_budget"]["amount"]
    return {
        "asked": asked, "budget_covers": covered, "answers": dict(Counter(str(status) for status, _, _ in answers)),
        "server_errors": sum(1 for status, _, _ in answers if status >= 500),
        "without_a_problem_body": sum(1 for _, _, told in answers if not told),
        "awarded": awarded, "over_committed": remaining < 0 or awarded > covered,
        "remaining_budget": remaining, "expected_remaining": (covered - awarded) * AWARD,
        "p50_ms": statistics.median(ms for _, ms, _ in answers), "p99_ms": p([ms for _, ms, _ in answers], 0.99),
    }  # fmt: skip


BLOCKED, ASLEEP, LARGEST = (
    "cache: hazard pointer blocked page eviction", "thread-yield: page acquire time sleeping (usecs)",
    "cache: maximum page size seen at eviction",
)


async def wiredtiger_counters(path: Path) -> dict[str, float]:
    """The embedded database's watched WiredTiger counters as last written (every 2 s), after waiting for
    a fresh line."""
    await asyncio.sleep(2.5)
    lines = path.read_text().splitlines() if path.exists() else []
    return json.loads(lines[-1]) if lines else {}


def latency(latencies: dict[str, list[float]]) -> dict[str, dict[str, float]]:
    return {what: {"n": len(values), "p50_ms": statistics.median(values), "p99_ms": p(values, 0.99)}
            for what, values in sorted(latencies.items())}  # fmt: skip


async def measure() -> dict[str, Any]:
    rabbitmq_url = infra.ensure_rabbitmq()
    logs = Path(tempfile.mkdtemp(prefix="grants-bench-logs-"))
    results: dict[str, Any] = {"machine": machine(), "applications": APPLICATIONS}
    # A mail server that takes every email: one that refused them would have the email sender retrying
    # long after the pipeline, and the idle figures would measure that.
    mail, smtp_port = Mail(), infra.free_port()
    sink = Controller(mail, hostname="127.0.0.1", port=smtp_port)
    sink.start()
    counters_file = logs / "wiredtiger.jsonl"
    with infra.embedded_mongodb_process(":memory:", logs / "mongodb.log", cache_size="4G",
                                        statistics_file=counters_file) as (mongodb_url, pid):  # fmt: skip
        results["limits"] = limits = await raw_limits(mongodb_url, rabbitmq_url)
        settings = ServiceSettings(prefix=f"bench{uuid4().hex[:6]}", rabbitmq_url=rabbitmq_url, mongodb_url=mongodb_url)
        env = {**os.environ, "GRANTS_PREFIX": settings.prefix, "GRANTS_MONGODB_URL": mongodb_url,
               "GRANTS_RABBITMQ_URL": rabbitmq_url, "GRANTS_SMTP_HOST": "127.0.0.1", "GRANTS_SMTP_PORT": str(smtp_port),
               "GRANTS_PAYMENT_POLL_SECONDS": "0.5", "GRANTS_EMAIL_POLL_SECONDS": "0.5",
               "GRANTS_OUTBOX_POLL_SECONDS": "0.5", "GRANTS_LOG_LEVEL": "WARNING"}  # fmt: skip
        platform = Platform(env, logs)
        try:
            for name in SERVICES:
                platform.start(name)
            for name in SERVICES:
                platform.ready(name)
            http = httpx.AsyncClient(timeout=30)
            idle_before, cpu_before, idle_seconds = await scrape(http, platform), database_cpu_seconds(pid), 10.0
            await asyncio.sleep(idle_seconds)
            idle = difference(await scrape(http, platform), idle_before)
            results["idle_database_cpu_before"] = (database_cpu_seconds(pid) - cpu_before) / idle_seconds
            runs = []
            counters = await wiredtiger_counters(counters_file)
            for run in range(RUNS):
                counters_before = counters  # as the run before left them
                figures = await pipeline(platform, settings, APPLICATIONS, sum(idle_rates(idle, idle_seconds).values()))
                counters = await wiredtiger_counters(counters_file)
                figures["wiredtiger"] = {
                    "blocked_page_splits": counters.get(BLOCKED, 0) - counters_before.get(BLOCKED, 0),
                    "asleep_waiting_for_pages_s": (counters.get(ASLEEP, 0) - counters_before.get(ASLEEP, 0)) / 1e6,
                    "largest_page_bytes": counters.get(LARGEST, 0),
                }
                counted_s = figures["elapsed_s"] + figures["drained_s"]
                figures["round_trips"] = round_trips(figures["counts"], idle, idle_seconds, counted_s, APPLICATIONS)
                figures["throughput_per_s"] = figures["completed"] / figures["elapsed_s"]
                figures["latency"] = latency(figures.pop("latencies"))
                figures.pop("counts")
                runs.append(figures)
                print(f"run {run + 1}: {figures['completed']} applications in {figures['elapsed_s']:.1f}s", file=sys.stderr)
            results["backlog_drained_s"] = runs[-1]["drained_s"]
            idle_after_before, cpu_before = await scrape(http, platform), database_cpu_seconds(pid)
            await asyncio.sleep(idle_seconds)
            results["idle_database_cpu_after"] = (database_cpu_seconds(pid) - cpu_before) / idle_seconds
            idle_after = difference(await scrape(http, platform), idle_after_before)
            results["idle_round_trips_per_s"] = {
                "before": idle_rates(idle, idle_seconds), "after": idle_rates(idle_after, idle_seconds)
            }
            if AWARDS_AT_ONCE:
                results["awards_at_once"] = await awards_at_once(platform, settings, AWARDS_AT_ONCE)
            await http.aclose()
            results["emails_sent"] = len(mail.sent)
        finally:
            platform.stop_all()
            sink.stop()
            await delete_topology(settings)
    first = runs[0]
    limit = limits["database_round_trips_per_s"] / max(first["round_trips"]["per_application"], 1e-9)
    results["runs"] = runs
    results["throughput_limit_per_s"] = limit
    results["throughput_share"] = first["throughput_per_s"] / limit
    results["third_run_share"] = runs[-1]["throughput_per_s"] / first["throughput_per_s"]
    return results


def machine() -> dict[str, Any]:
    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), "unknown")  # fmt: skip
    return {"cpu": model, "cores": os.cpu_count(), "python": sys.version.split()[0]}


def report(results: dict[str, Any]) -> str:
    limits, first = results["limits"], results["runs"][0]
    trips = first["round_trips"]
    lines = [
        f"pipeline: {results['applications']} applications, submission to paid and notified, {len(results['runs'])} runs "
        f"({results['machine']['cores']} cores, {results['machine']['cpu']})",
        "raw limits measured in this run:",
        f"  database single writes        {limits['database_writes_per_s']:8.0f} /s",
        f"  database transactions         {limits['database_transactions_per_s']:8.0f} /s "
        f"({limits['database_round_trips_per_s']:.0f} round trips/s)",
        f"  broker publishes (confirmed)  {limits['broker_publishes_per_s']:8.0f} /s",
        f"round trips per application     {trips['per_application']:8.1f}   target <= {TARGETS['round_trips_per_application']}"
        f"  ratio {trips['per_application'] / TARGETS['round_trips_per_application']:.2f}",
        "  by service:  " + ", ".join(f"{s} {n:.1f}" for s, n in trips["by_service"].items()),
        "  by command:  " + ", ".join(f"{c} {n:.1f}" for c, n in trips["by_command"].items()),
        "  people's reads (GETs, apart): " + ", ".join(f"{s} {n:.1f}" for s, n in trips["persons_reads_per_application"].items()),
        "  most round trips by cause:",
        *[f"    {n:6.2f}  {cause} ("
          + ", ".join(f"{c} {m:.1f}" for c, m in trips["commands_by_cause"][cause].items()) + ")"
          for cause, n in list(trips["by_cause"].items())[:12]],
        f"write conflicts per application {trips['write_conflicts_per_application']:8.2f}   target < "
        f"{TARGETS['write_conflicts_per_application']}",
        "  by cause:    " + ", ".join(f"{cause} {n:.2f}" for cause, n in trips["write_conflicts_by_cause"].items()),
        f"emails taken by the mail server {results['emails_sent']:8d}",
        f"throughput                      {first['throughput_per_s']:8.2f} applications/s; the database allows "
        f"{results['throughput_limit_per_s']:.2f}/s at this round-trip count: share {results['throughput_share']:.2f} "
        f"(target >= {TARGETS['throughput_share']})",
        "runs one after another:         " + ", ".join(f"{r['throughput_per_s']:.2f}/s" for r in results["runs"])
        + f"; last/first {results['third_run_share']:.2f} (target >= {TARGETS['third_run_share']})",
        "  WiredTiger, each run: " + "; ".join(
            f"{r['wiredtiger']['blocked_page_splits']:.0f} blocked page splits, "
            f"{r['wiredtiger']['asleep_waiting_for_pages_s']:.1f} s asleep waiting for pages"
            for r in results["runs"])
        + f"; largest page {results['runs'][-1]['wiredtiger']['largest_page_bytes'] / 2**20:.1f} MB",
        f"idle database CPU               {results['idle_database_cpu_before']:.1%} before, "
        f"{results['idle_database_cpu_after']:.1%} after the runs (target < {TARGETS['idle_database_cpu']:.0%}), "
        f"measured once the last work was done ({results['backlog_drained_s']:.0f} s after the last journey)",
        *[f"  idle round trips/s {when}: {sum(rates.values()):.1f} ("
          + ", ".join(f"{cause} {n:.1f}" for cause, n in list(rates.items())[:6]) + ")"
          for when, rates in results["idle_round_trips_per_s"].items()],
        "latency of people's calls, first run (p50 / p99 ms):",
        *[f"    {figure['p50_ms']:7.1f} {figure['p99_ms']:8.1f}  {what} (x{figure['n']})"
          for what, figure in first["latency"].items() if not what.startswith("GET")],
    ]
    if awards := results.get("awards_at_once"):
        lines += [
            f"awards at once: {awards['asked']} asked for at the same moment, the budget covering "
            f"{awards['budget_covers']}: answers {awards['answers']}, {awards['server_errors']} server errors "
            f"(target 0), {awards['without_a_problem_body']} refusals without a problem body; "
            f"{awards['awarded']} awarded, over-committed: {awards['over_committed']} (remaining "
            f"{awards['remaining_budget']} of the {awards['expected_remaining']} expected); "
            f"p50 {awards['p50_ms']:.0f} ms, p99 {awards['p99_ms']:.0f} ms",
        ]
    if any(r["failures"] for r in results["runs"]):
        lines.append(f"FAILURES: {[r['failures'] for r in results['runs']]}")
    return "\n".join(lines)


def main() -> int:
    results = asyncio.run(measure())
    print(report(results))
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "pipeline.json").write_text(json.dumps(results, indent=2, default=str))
    return 0 if all(r["completed"] == APPLICATIONS for r in results["runs"]) else 1


if __name__ == "__main__":
    sys.exit(main())
