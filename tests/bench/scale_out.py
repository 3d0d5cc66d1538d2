"""Benchmark of scale-out: each consumer service's stage on a backlog of events, run with one replica
and then with two (processes on the same broker queues and database), each on names of its own. Prints
each stage's events/s with one and with two replicas and the ratio, and checks that nothing was
processed twice: every event committed once (the service's inbox) and every effect made once
(scoring's reviews, disbursement's grants, notifications' messages and emails). Beside each, the
embedded database's CPU while the stage ran (one core is 100%: the database serves its connections
one statement at a time, so once it is the bottleneck a second replica cannot help). Writes the
figures to bench-results/scale_out.json. Asserts nothing about time.

- scoring: BENCH_SCALE_EVENTS (300) applications submitted at once to a programme with a panel of 30,
  two reviewers each (assignment reads and updates the reviewers' loads);
- disbursement: as many awards at once, each offered as a grant and reserved in the budget;
- notifications: as many submissions at once, each told to its group (a message and an email).

    make bench                      BENCH_SCALE_EVENTS=600 to change the size
"""

import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any
from uuid import uuid4

from aiosmtpd.controller import Controller
from pymongo import AsyncMongoClient

from grants_shared.clock import utcnow
from grants_shared.dev import infra
from grants_shared.dev.stack import wait_ready
from grants_shared.events import (
    ApplicationDecidedV2, ApplicationSubmitted, Contact, DecisionBasis, EventData, OrganisationSummary, PaymentPolicy,
    ProgrammeOpened, RubricCriterion,
)  # fmt: skip
from grants_shared.money import Money
from grants_shared.settings import ServiceSettings
from tests.bench.pipeline import database_cpu_seconds
from tests.soak.soak import Mail
from tests.support.bus import TestBus, delete_topology

EVENTS = int(os.environ.get("BENCH_SCALE_EVENTS", "300"))
RESULTS = Path(__file__).resolve().parents[2] / "bench-results"
AWARD = 500_000
PANEL = [f"bench-rev-{n:02d}" for n in range(30)]
DELEGATED = DecisionBasis(by="delegated", delegated_to="programme_manager")


def opened(programme_id: str) -> ProgrammeOpened:
    now = utcnow()
    return ProgrammeOpened(
        programme_id=programme_id, name="Scale-out fund", budget=Money(amount=EVENTS * AWARD, currency="GBP"),
        maximum_award=Money(amount=AWARD, currency="GBP"), opens_at=now - timedelta(minutes=1),
        closes_at=now + timedelta(days=30), criteria=[RubricCriterion(key="need", title="Need", weight=1)],
        reviewers_per_application=2, panel=PANEL, payment_policy=PaymentPolicy(),
    )  # fmt: skip


def submitted(programme_id: str, n: int) -> ApplicationSubmitted:
    return ApplicationSubmitted(
        application_id=f"app-{programme_id}-{n:05d}", programme_id=programme_id,
        organisation=OrganisationSummary(id=f"org-{n:05d}", name=f"Group {n}", kind="charity", area="Harrow"),
        title=f"Peer support {n}", summary="Weekly peer support.", amount_requested=Money(amount=AWARD, currency="GBP"),
        contact=Contact(person_id=f"person-{n:05d}", name=f"Person {n}", email=f"person-{n}@bench.example"),
        submitted_at=utcnow(),
    )  # fmt: skip


def awarded(programme_id: str, n: int) -> ApplicationDecidedV2:
    return ApplicationDecidedV2(
        application_id=f"app-{programme_id}-{n:05d}", programme_id=programme_id, organisation_id=f"org-{n:05d}",
        outcome="awarded", amount_awarded=Money(amount=AWARD, currency="GBP"), decided_at=utcnow(),
        decided_by=DELEGATED,
    )  # fmt: skip


@dataclass(frozen=True)
class Stage:
    service: str
    work: Callable[[str, int], EventData]
    #: The effects to count (collection, filter, how many each event makes).
    effects: tuple[tuple[str, dict[str, Any], int], ...]
    emails: bool = False


STAGES = [
    Stage("scoring", submitted, (("reviews", {}, 2), ("applications", {"status": "in_review"}, 1))),
    Stage("disbursement", awarded, (("grants", {}, 1),)),
    Stage("notifications", submitted, (("notifications", {}, 1),), emails=True),
]


async def run_stage(
    stage: Stage, replicas: int, mongodb_url: str, database_pid: int, rabbitmq_url: str, logs: Path
) -> dict[str, Any]:
    """The stage on fresh names with ``replicas`` processes: the programme opened, then EVENTS events
    published at once; timed from the first publish until the service's inbox holds them all."""
    settings = ServiceSettings(prefix=f"scale{uuid4().hex[:6]}", rabbitmq_url=rabbitmq_url, mongodb_url=mongodb_url)
    mail, smtp_port = Mail(), infra.free_port()
    sink = Controller(mail, hostname="127.0.0.1", port=smtp_port)
    sink.start()
    env = {**os.environ, "GRANTS_PREFIX": settings.prefix, "GRANTS_MONGODB_URL": mongodb_url,
           "GRANTS_RABBITMQ_URL": rabbitmq_url, "GRANTS_SMTP_HOST": "127.0.0.1", "GRANTS_SMTP_PORT": str(smtp_port),
           "GRANTS_EMAIL_POLL_SECONDS": "0.5", "GRANTS_OUTBOX_POLL_SECONDS": "0.5", "GRANTS_LOG_LEVEL": "WARNING",
           "GRANTS_MAX_OPEN_REVIEWS": "1000"}  # fmt: skip (a panel that can take the whole backlog)
    processes = []
    client: AsyncMongoClient[Any] = AsyncMongoClient(mongodb_url)
    db = client[f"{settings.prefix}_{stage.service}"]
    try:
        for replica in range(replicas):
            port = infra.free_port()
            log = open(logs / f"{stage.service}-{replicas}-{replica}.log", "ab")  # noqa: SIM115 (the process keeps it)
            popen = subprocess.Popen([sys.executable, "-m", "uvicorn", f"{stage.service}.main:app", "--host",
                                      "127.0.0.1", "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT,
                                     start_new_session=True)  # fmt: skip
            processes.append(popen)
            wait_ready(f"http://127.0.0.1:{port}", 120, popen, logs / f"{stage.service}-{replicas}-{replica}.log")
        programme_id = f"prg-{settings.prefix}"
        async with TestBus(settings) as bus:
            await bus.publish(opened(programme_id))
            await _until(lambda: db.inbox.count_documents({}), 1)
            started, cpu_before = time.perf_counter(), database_cpu_seconds(database_pid)
            for n in range(EVENTS):
                await bus.publish(stage.work(programme_id, n))
            await _until(lambda: db.inbox.count_documents({}), EVENTS + 1)
            elapsed = time.perf_counter() - started
            database_cpu = (database_cpu_seconds(database_pid) - cpu_before) / elapsed
            # Let anything that would be done twice be done: what a second handling would add.
            await asyncio.sleep(3)
            effects = {f"{name} {query or ''}".strip(): (await db[name].count_documents(query), EVENTS * each)
                       for name, query, each in stage.effects}  # fmt: skip
            if stage.emails:
                await _until(lambda: _sent(mail), EVENTS)
                effects["emails"] = (len(mail.sent), EVENTS)
            handled = await db.inbox.count_documents({})
    finally:
        for popen in processes:
            popen.terminate()
        for popen in processes:
            popen.wait(timeout=30)
        sink.stop()
        await client.drop_database(db.name)
        await client.close()
        await delete_topology(settings, (stage.service, "test"))
    return {"replicas": replicas, "elapsed_s": elapsed, "events_per_s": EVENTS / elapsed, "database_cpu": database_cpu,
            "inbox": (handled, EVENTS + 1), "effects": effects,
            "processed_twice": handled != EVENTS + 1 or any(n != want for n, want in effects.values())}  # fmt: skip


async def _sent(mail: Mail) -> int:
    return len(mail.sent)


async def _until(count: Callable[[], Any], wanted: int, seconds: float = 600) -> None:
    deadline = time.monotonic() + seconds
    while await count() < wanted:
        if time.monotonic() > deadline:
            raise RuntimeError(f"gave up waiting for {wanted}")
        await asyncio.sleep(0.1)


async def measure() -> dict[str, Any]:
    rabbitmq_url = infra.ensure_rabbitmq()
    logs = Path(tempfile.mkdtemp(prefix="grants-bench-scale-"))
    figures: dict[str, Any] = {"events": EVENTS, "cores": os.cpu_count(), "stages": {}}
    with infra.embedded_mongodb_process(":memory:", logs / "mongodb.log", cache_size="4G") as (mongodb_url, pid):
        for stage in STAGES:
            one = await run_stage(stage, 1, mongodb_url, pid, rabbitmq_url, logs)
            two = await run_stage(stage, 2, mongodb_url, pid, rabbitmq_url, logs)
            figures["stages"][stage.service] = {"one": one, "two": two, "ratio": two["events_per_s"] / one["events_per_s"]}
            print(f"{stage.service}: {one['events_per_s']:.1f}/s with one replica, {two['events_per_s']:.1f}/s with two",
                  file=sys.stderr)  # fmt: skip
    return figures


def main() -> int:
    figures = asyncio.run(measure())
    print(f"scale-out: {figures['events']} events at once to each stage, one replica then two "
          f"({figures['cores']} cores, the database and the broker on the same machine)\n")  # fmt: skip
    print(f"{'stage':<15}{'1 replica /s':>14}{'2 replicas /s':>15}{'ratio':>7}{'database CPU (1, 2)':>21}"
          "  processed twice")
    for service, stage in figures["stages"].items():
        twice = [f"{what}: {n} of {want}" for run in (stage["one"], stage["two"])
                 for what, (n, want) in {**run["effects"], "inbox": run["inbox"]}.items() if n != want]  # fmt: skip
        print(f"{service:<15}{stage['one']['events_per_s']:>14.1f}{stage['two']['events_per_s']:>15.1f}"
              f"{stage['ratio']:>7.2f}{stage['one']['database_cpu']:>11.0%}{stage['two']['database_cpu']:>10.0%}"
              f"  {'; '.join(twice) or 'nothing'}")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "scale_out.json").write_text(json.dumps(figures, indent=2))
    processed_twice = any(run["processed_twice"] for stage in figures["stages"].values() for run in (stage["one"], stage["two"]))
    return 1 if processed_twice else 0


if __name__ == "__main__":
    sys.exit(main())
