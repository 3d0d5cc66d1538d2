"""The soak: many applications through the whole journey while services are killed and the broker is
restarted, then a count of what was lost, doubled or left behind.

The four services run as separate processes on an embedded database of the soak's own and a RabbitMQ
node of its own (other ports, so restarting it touches no other user of the machine's broker). The
people are simulated as careful front ends: every create carries an Idempotency-Key, a request that
gets no answer is tried again (a change is first re-read, so it is not made twice), and each step
waits for the events before it. Every ``kill_every`` seconds one service, chosen at random, is
SIGKILLed and started again a second later (as an orchestrator would); the broker is restarted once.

Then, from the databases, the broker and the mail sink: every application paid and its payment
notification delivered (0 lost), no payment sent twice, no notification (inbox or email) told twice,
the budget exact in scoring and disbursement, every outbox drained, every dead-letter queue empty;
and how long events waited between being published and handled, for the services that were running
(the others had, by design, to wait for their restart).
"""

import asyncio
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any
from uuid import uuid4

import aio_pika
import httpx
from aiosmtpd.controller import Controller
from pymongo import AsyncMongoClient

from grants_shared.auth import mint_token
from grants_shared.clock import utcnow
from grants_shared.dev.infra import embedded_mongodb, free_port
from grants_shared.dev.stack import SERVICES, wait_ready
from grants_shared.settings import ServiceSettings
from tests.soak.broker import OwnBroker

MANAGER, PANEL = "soak-manager", ["soak-rev-1", "soak-rev-2", "soak-rev-3"]
FINANCE_OFFICERS = ("soak-finance-1", "soak-finance-2")
AWARD = 500_000  # £5,000 each, paid in one payment
STEP_TIMEOUT = 300.0  # a step may wait out a kill, a restart and a broker restart


class Mail:
    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []

    async def handle_DATA(self, server, session, envelope) -> str:  # type: ignore[no-untyped-def]
        subject = next((line[9:] for line in envelope.content.decode(errors="replace").splitlines()
                        if line.startswith("Subject: ")), "")  # fmt: skip
        self.sent += [(recipient, subject) for recipient in envelope.rcpt_tos]
        return "250 OK"


@dataclass
class Process:
    name: str
    port: int
    popen: subprocess.Popen | None = None
    downs: list[tuple[float, float]] = field(default_factory=list)  # (killed at, ready again at), monotonic


class Platform:
    """The four services, each a process that can be killed and started again."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.env, self.logs = env, logs
        self.processes = {name: Process(name, free_port()) for name in SERVICES}

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.processes[name].port}"

    def start(self, name: str) -> None:
        process = self.processes[name]
        log = self.logs / f"{name}.log"
        process.popen = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", f"{name}.main:app", "--host", "127.0.0.1", "--port", str(process.port)],
            env=self.env, stdout=open(log, "ab"), stderr=subprocess.STDOUT, start_new_session=True,
        )

    def ready(self, name: str, seconds: float = 120) -> None:
        process = self.processes[name]
        assert process.popen is not None
        wait_ready(self.url(name), seconds, process.popen, self.logs / f"{name}.log")

    def kill(self, name: str) -> None:
        popen = self.processes[name].popen
        if popen and popen.poll() is None:
            os.killpg(popen.pid, signal.SIGKILL)
            popen.wait()

    def stop_all(self) -> None:
        for name in self.processes:
            self.kill(name)


@dataclass
class Figures:
    applications: int
    paid: int = 0
    lost: int = 0
    payments_sent_twice: int = 0
    notifications_told_twice: int = 0
    emails_sent_twice: int = 0
    budget_exact: bool = False
    outbox_pending: int = 0
    dead_letters: int = 0
    kills: list[str] = field(default_factory=list)
    broker_restart_seconds: float = 0.0
    broker_restarted: bool = False
    broker_down: tuple[float, float] = (0.0, 0.0)  # monotonic
    delay_p99_waiting_for_broker_seconds: float = 0.0
    delay_p50_seconds: float = 0.0
    delay_p99_seconds: float = 0.0
    delay_max_seconds: float = 0.0
    delay_p99_waiting_for_restart_seconds: float = 0.0
    events_measured: int = 0
    elapsed_seconds: float = 0.0

    @property
    def clean(self) -> bool:
        return (self.lost == 0 and self.payments_sent_twice == 0 and self.notifications_told_twice == 0
                and self.emails_sent_twice == 0 and self.budget_exact and self.outbox_pending == 0
                and self.dead_letters == 0)  # fmt: skip

    def report(self) -> str:
        lines = [
            f"soak: {self.applications} applications in {self.elapsed_seconds:.0f}s, "
            f"{len(self.kills)} services SIGKILLed ({', '.join(f'{k} x{n}' for k, n in sorted(Counter(self.kills).items()))}), "
            + (f"the broker restarted once ({self.broker_restart_seconds:.0f}s away)" if self.broker_restarted
               else "the broker never restarted (the run was too short)"),
            f"  paid and told:               {self.paid} of {self.applications}",
            f"  lost:                        {self.lost}",
            f"  payments sent twice:         {self.payments_sent_twice}",
            f"  notifications told twice:    {self.notifications_told_twice} (inbox), {self.emails_sent_twice} (email)",
            f"  budget exact:                {'yes' if self.budget_exact else 'NO'}",
            f"  outbox entries unpublished:  {self.outbox_pending}",
            f"  dead letters:                {self.dead_letters}",
            f"  event delay, running services ({self.events_measured} events): p50 {self.delay_p50_seconds:.2f}s, "
            f"p99 {self.delay_p99_seconds:.2f}s (target < 10s, ratio {self.delay_p99_seconds / 10:.2f}), "
            f"max {self.delay_max_seconds:.1f}s",
            f"  event delay, waiting for their service's restart: p99 {self.delay_p99_waiting_for_restart_seconds:.1f}s; "
            f"for the broker's: p99 {self.delay_p99_waiting_for_broker_seconds:.1f}s",
            f"  verdict: {'clean' if self.clean else 'PROBLEMS'}",
        ]
        return "\n".join(lines)


class FrontEnd:
    """The people, as careful front ends: each request retried until it gets an answer."""

    def __init__(self, platform: Platform, settings: ServiceSettings) -> None:
        self.platform, self.settings = platform, settings
        self.http = httpx.AsyncClient(timeout=15)

    def as_(self, subject: str, *roles: str, organisation: str | None = None) -> dict[str, str]:
        token = mint_token(self.settings, subject, list(roles), [organisation] if organisation else [],
                           name=subject, email=f"{subject}@soak.example")  # fmt: skip
        return {"Authorization": f"Bearer {token}"}

    async def call(self, method: str, service: str, path: str, headers: dict[str, str], **kwargs: Any) -> httpx.Response:
        """Until an answer that is not a server or connection failure (a killed service, a broker away)."""
        deadline = time.monotonic() + STEP_TIMEOUT
        delay = 0.2
        while True:
            try:
                response = await self.http.request(method, self.platform.url(service) + path, headers=headers,
                                                   **kwargs)  # fmt: skip
                if response.status_code < 500:
                    return response
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{method} {service}{path} never answered")
            await asyncio.sleep(delay)
            delay = min(delay * 2, 2.0)

    async def until(self, what: str, check: Callable[[], Awaitable[Any]]) -> Any:
        deadline = time.monotonic() + STEP_TIMEOUT
        while not (result := await check()):
            if time.monotonic() > deadline:
                raise RuntimeError(f"gave up waiting for {what}")
            await asyncio.sleep(0.5)
        return result

    async def open_programme(self, awards: int = 10_000) -> str:
        """A programme whose budget pays ``awards`` awards, open and known to scoring and disbursement."""
        manager = self.as_(MANAGER, "programme_manager")
        now = utcnow()
        body = {
            "name": f"Soak fund {uuid4().hex[:6]}", "budget": {"amount": awards * AWARD, "currency": "GBP"},
            "maximum_award": {"amount": AWARD, "currency": "GBP"}, "opens_at": (now - timedelta(minutes=1)).isoformat(),
            "closes_at": (now + timedelta(days=30)).isoformat(),
            "criteria": [{"key": "need", "title": "Need", "weight": 1}], "reviewers_per_application": 2,
            "panel": PANEL,
        }  # fmt: skip
        # One key per programme (its retries reuse it): the benchmark opens one programme per run.
        key = f"soak-programme-{body['name'][-6:]}"
        created = await self.call("POST", "applications", "/v1/programmes", {**manager, "Idempotency-Key": key},
                                  json=body)  # fmt: skip
        assert created.status_code == 201, created.text
        programme_id = created.json()["id"]
        opened = await self.call("POST", "applications", f"/v1/programmes/{programme_id}/open", manager)
        assert opened.status_code in (200, 409), opened.text  # 409: a retry of an open that went through

        async def known_downstream() -> bool:
            for service in ("scoring", "disbursement"):
                path = f"/v1/programmes/{programme_id}" + ("/ledger" if service == "disbursement" else "")
                headers = manager if service == "scoring" else self.as_("soak-finance", "finance_officer")
                if (await self.call("GET", service, path, headers)).status_code != 200:
                    return False
            return True

        await self.until("the programme to be known downstream", known_downstream)
        # A load test of the event path, not of meetings: the soak's programme delegates its decisions
        # to its manager (one call per award, recorded as delegated). The journey driver, make demo and
        # the end-to-end test decide through a panel meeting.
        shown = await self.call("GET", "scoring", f"/v1/programmes/{programme_id}", manager)
        if shown.json().get("decision_rule") is None:
            delegated = await self.call(
                "PUT", "scoring", f"/v1/programmes/{programme_id}/decision-rule",
                {**manager, "If-Match": shown.headers["etag"]},
                json={"method": "delegated", "delegated_to": "programme_manager"},
            )
            assert delegated.status_code in (200, 412), delegated.text  # 412: a retry of a change that went through
        return programme_id

    async def journey(self, programme_id: str, n: int) -> str:
        """One application from its organisation's profile to its payment and the group being told."""
        application_id, suffix, group = await self.apply_and_score(programme_id, n)
        manager = self.as_(MANAGER, "programme_manager")
        decided = await self.call("POST", "scoring", f"/v1/applications/{application_id}/decision", manager,
                                  json={"outcome": "awarded", "amount_awarded": {"amount": AWARD, "currency": "GBP"}})
        assert decided.status_code in (200, 409), decided.text  # 409: already decided by the lost request

        async def offered() -> dict[str, Any] | None:
            grants = await self.call("GET", "disbursement", "/v1/grants", group)
            return next((g for g in grants.json()["items"] if g["application_id"] == application_id), None)

        grant = await self.until("the grant offer", offered)
        account = {"signatory": {"name": f"Chair of group {suffix}", "position": "Chair"},
                   "bank_account": {"account_name": f"Group {suffix}", "sort_code": "20-00-00",
                                    "account_number": f"{n % 100_000_000:08d}"}}  # fmt: skip
        accepted = await self.call("POST", "disbursement", f"/v1/grants/{grant['id']}/accept", group, json=account)
        assert accepted.status_code in (200, 409), accepted.text  # 409: accepted by the lost request
        await self.approve_payment_run(grant["id"])

        async def paid_and_told() -> bool:
            inbox = await self.call("GET", "notifications", "/v1/inbox", group, params={"limit": 50})
            return inbox.status_code == 200 and "payment_sent" in {item["kind"] for item in inbox.json()["items"]}

        await self.until("the payment and its notification", paid_and_told)
        return application_id

    async def apply_and_score(self, programme_id: str, n: int) -> tuple[str, str, dict[str, str]]:
        """One application from its organisation's profile to scored by its reviewers: its id, the
        suffix of its group's names and the group's headers."""
        suffix = f"{n:04d}-{uuid4().hex[:6]}"
        organisation, person = f"org-{suffix}", f"group-{suffix}"
        group = self.as_(person, "applicant", organisation=organisation)
        manager = self.as_(MANAGER, "programme_manager")
        profile = {"name": f"Group {suffix}", "kind": "community_group", "area": "Harrow",
                   "annual_income": {"amount": 2_000_000, "currency": "GBP"}}  # fmt: skip
        answer = await self.call("PUT", "applications", f"/v1/organisations/{organisation}", group, json=profile)
        assert answer.status_code in (200, 201, 428), answer.text  # 428: a retried create that went through
        draft = await self.call("POST", "applications", "/v1/applications", {**group, "Idempotency-Key": f"draft-{suffix}"},
                                json={"programme_id": programme_id, "organisation_id": organisation,
                                      "title": f"Project {suffix}", "summary": "Peer support.",
                                      "amount_requested": {"amount": AWARD, "currency": "GBP"}})  # fmt: skip
        assert draft.status_code == 201, draft.text
        application_id = draft.json()["id"]
        submitted = await self.call("POST", "applications", f"/v1/applications/{application_id}/submit", group)
        if submitted.status_code == 409:  # the answer was lost but the submission was made: read it again
            submitted = await self.call("GET", "applications", f"/v1/applications/{application_id}", group)
        assert submitted.json()["status"] == "submitted", submitted.text

        async def two_reviews() -> list[dict[str, Any]] | None:
            shown = await self.call("GET", "scoring", f"/v1/applications/{application_id}", manager)
            reviews = [r for r in shown.json().get("reviews", []) if r["status"] != "cancelled"] if shown.status_code == 200 else []
            return reviews if len(reviews) >= 2 else None

        for review in await self.until("reviewers to be assigned", two_reviews):
            await self.score(review["id"], review["reviewer_id"])

        async def scored() -> bool:
            shown = await self.call("GET", "scoring", f"/v1/applications/{application_id}", manager)
            return shown.status_code == 200 and shown.json()["status"] in ("scored", "decided")

        await self.until("the application to be scored", scored)
        return application_id, suffix, group

    async def approve_payment_run(self, grant_id: str) -> None:
        """Finance gathers what is due and approves the run holding the grant's first payment, with the
        second officer when its total needs one. Journeys at once share runs: an approval another journey
        already made (409) is no failure, and the run is read again until it is approved."""
        officers = [self.as_(officer, "finance_officer") for officer in FINANCE_OFFICERS]

        async def in_a_run() -> str | None:
            await self.call("POST", "disbursement", "/v1/payment-runs", officers[0])
            payments = await self.call("GET", "disbursement", "/v1/payments", officers[0], params={"grant_id": grant_id})
            items = sorted(payments.json()["items"], key=lambda p: p["sequence"]) if payments.status_code == 200 else []
            return next((p["run_id"] for p in items if p.get("run_id")), None)

        run_id = await self.until("the first payment to be gathered into a run", in_a_run)

        async def approved() -> bool:
            for officer in officers:
                run = await self.call("GET", "disbursement", f"/v1/payment-runs/{run_id}", officers[0])
                if run.status_code == 200 and run.json()["status"] == "approved":
                    return True
                answer = await self.call("POST", "disbursement", f"/v1/payment-runs/{run_id}/approve", officer)
                assert answer.status_code in (200, 409), answer.text
            return False

        await self.until("finance to approve the payment run", approved)

    async def score(self, review_id: str, reviewer: str) -> None:
        headers = self.as_(reviewer, "reviewer")
        while True:
            current = await self.call("GET", "scoring", f"/v1/reviews/{review_id}", headers)
            if current.status_code == 404 or current.json()["status"] == "completed":
                return  # reassigned meanwhile, or submitted by a request whose answer was lost
            saved = await self.call("PUT", "scoring", f"/v1/reviews/{review_id}/scores",
                                    {**headers, "If-Match": current.headers["etag"]},
                                    json={"scores": {"need": {"score": 4, "comment": "Clear need."}}})  # fmt: skip
            if saved.status_code == 412:
                continue  # the lost request saved it: read again
            submitted = await self.call("POST", "scoring", f"/v1/reviews/{review_id}/submit", headers)
            if submitted.status_code in (200, 409):
                return


async def chaos(platform: Platform, broker: OwnBroker, figures: Figures, every: float, stop: asyncio.Event,
                second_kill: asyncio.Event) -> None:  # fmt: skip
    """A random service SIGKILLed every ``every`` seconds and started again; the broker restarted once."""
    loop = asyncio.get_running_loop()
    for n in range(1_000_000):
        # The broker's restart comes half-way between the first kill and the second.
        pause = every / 2 if n == 1 else every
        try:
            await asyncio.wait_for(stop.wait(), timeout=pause)
            return
        except TimeoutError:
            pass
        if n == 1:
            away = time.monotonic()
            figures.broker_restart_seconds = await loop.run_in_executor(None, broker.restart)
            figures.broker_restarted = True
            figures.broker_down = (away, time.monotonic())
            continue
        name = random.choice(SERVICES)
        killed_at = time.monotonic()
        platform.kill(name)
        figures.kills.append(name)
        if len(figures.kills) == 2:
            second_kill.set()
        await asyncio.sleep(1.0)
        platform.start(name)
        await loop.run_in_executor(None, platform.ready, name)
        platform.processes[name].downs.append((killed_at, time.monotonic()))


def p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[max(0, round(0.99 * len(ordered)) - 1)] if ordered else 0.0


async def drained(settings: ServiceSettings, mongodb_url: str, seconds: float = 60) -> None:
    """Wait (a while) for what is still on its way: events nobody waits for (a delivery record), and what
    a killed relay had leased, which goes out when its lease runs out."""
    client: AsyncMongoClient = AsyncMongoClient(mongodb_url, tz_aware=True)
    try:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            pending = [await client[settings.database(n)].outbox.count_documents({"published_at": None}) for n in SERVICES]
            if not any(pending):
                break
            await asyncio.sleep(0.5)
        await asyncio.sleep(2)  # and for the consumers to handle the last of it
    finally:
        await client.close()


async def check(platform: Platform, broker: OwnBroker, settings: ServiceSettings, mongodb_url: str, mail: Mail,
                figures: Figures, programme_id: str, wall_start: float, mono_start: float) -> None:  # fmt: skip
    client: AsyncMongoClient = AsyncMongoClient(mongodb_url, tz_aware=True)
    db = {name: client[settings.database(name)] for name in SERVICES}
    try:
        transfers = await db["disbursement"].simulated_provider_transfers.find({}, {"_id": 1}).to_list(None)
        per_payment = Counter(t["_id"].split(":r")[0] for t in transfers)
        figures.payments_sent_twice = sum(1 for n in per_payment.values() if n > 1)
        told = await db["notifications"].notifications.aggregate([
            {"$group": {"_id": {"r": "$recipient_id", "t": "$template", "a": "$application_id", "s": "$subject"},
                        "n": {"$sum": 1}}}, {"$match": {"n": {"$gt": 1}}},
        ])  # fmt: skip
        figures.notifications_told_twice = len(await told.to_list(None))
        figures.emails_sent_twice = sum(1 for n in Counter(mail.sent).values() if n > 1)
        paid = await db["disbursement"].payments.count_documents({"programme_id": programme_id, "status": "sent"})
        figures.lost = figures.applications - paid
        finance = {"Authorization": f"Bearer {mint_token(settings, 'soak-finance', ['finance_officer'])}"}
        manager = {"Authorization": f"Bearer {mint_token(settings, MANAGER, ['programme_manager'])}"}
        async with httpx.AsyncClient(timeout=15) as http:
            ledger = (await http.get(f"{platform.url('disbursement')}/v1/programmes/{programme_id}/ledger",
                                     headers=finance)).json()  # fmt: skip
            scoring = (await http.get(f"{platform.url('scoring')}/v1/programmes/{programme_id}", headers=manager)).json()
        awarded = figures.applications * AWARD
        figures.budget_exact = (
            ledger["paid"]["amount"] == awarded and ledger["reserved"]["amount"] == 0
            and ledger["available"]["amount"] == ledger["budget"]["amount"] - awarded
            and scoring["awarded_total"]["amount"] == awarded
        )  # fmt: skip
        for name in SERVICES:
            figures.outbox_pending += await db[name].outbox.count_documents({"published_at": None})
        connection = await aio_pika.connect(broker.url)
        async with connection:
            channel = await connection.channel()
            for name in SERVICES:
                queue = await channel.declare_queue(settings.dead_letter_queue(name), passive=True)
                figures.dead_letters += queue.declaration_result.message_count or 0
        def wall(window: tuple[float, float]) -> tuple[float, float]:
            return wall_start + window[0] - mono_start, wall_start + window[1] - mono_start

        broker_down = wall(figures.broker_down)
        running, own_restart, broker_restart = [], [], []
        for name in SERVICES:
            downs = [wall(window) for window in platform.processes[name].downs]
            async for entry in db[name].inbox.find({"event_time": {"$exists": True}}, {"event_time": 1, "handled_at": 1}):
                published, handled = entry["event_time"].timestamp(), entry["handled_at"].timestamp()
                delay = max(0.0, handled - published)
                if any(a < handled and published < b for a, b in downs):
                    own_restart.append(delay)  # its consumer was the one killed: it waited for the restart
                elif broker_down[0] < handled and published < broker_down[1]:
                    broker_restart.append(delay)
                else:
                    running.append(delay)  # everything else: the work that must go on after a kill
        figures.events_measured = len(running)
        if running:
            figures.delay_p50_seconds = statistics.median(running)
            figures.delay_p99_seconds = p99(running)
            figures.delay_max_seconds = max(running)
        figures.delay_p99_waiting_for_restart_seconds = p99(own_restart)
        figures.delay_p99_waiting_for_broker_seconds = p99(broker_restart)
    finally:
        await client.close()


async def soak(applications: int = 200, kill_every: float = 10.0, concurrency: int = 16) -> Figures:
    figures = Figures(applications=applications)
    broker = OwnBroker()
    logs = Path(tempfile.mkdtemp(prefix="grants-soak-logs-"))
    mail, smtp_port = Mail(), free_port()
    sink = Controller(mail, hostname="127.0.0.1", port=smtp_port)
    sink.start()
    platform: Platform | None = None
    try:
        await asyncio.get_running_loop().run_in_executor(None, broker.start)
        with embedded_mongodb(":memory:", logs / "mongodb.log", cache_size="2G") as mongodb_url:
            settings = ServiceSettings(prefix=f"soak{uuid4().hex[:6]}", rabbitmq_url=broker.url, mongodb_url=mongodb_url)
            env = {**os.environ, "GRANTS_PREFIX": settings.prefix, "GRANTS_MONGODB_URL": mongodb_url,
                   "GRANTS_RABBITMQ_URL": broker.url, "GRANTS_SMTP_HOST": "127.0.0.1", "GRANTS_SMTP_PORT": str(smtp_port),
                   "GRANTS_PAYMENT_POLL_SECONDS": "0.5", "GRANTS_EMAIL_POLL_SECONDS": "0.5",
                   "GRANTS_OUTBOX_POLL_SECONDS": "0.5", "GRANTS_PAYMENT_SENDING_LEASE_SECONDS": "40",
                   "GRANTS_PAYMENT_PROVIDER_TIMEOUT_SECONDS": "10", "GRANTS_EMAIL_LEASE_SECONDS": "30"}  # fmt: skip
            platform = Platform(env, logs)
            for name in SERVICES:
                platform.start(name)
            for name in SERVICES:
                platform.ready(name)
            people = FrontEnd(platform, settings)
            mono_start, wall_start = time.monotonic(), time.time()
            programme_id = await people.open_programme()
            stop, second_kill = asyncio.Event(), asyncio.Event()
            troublemaker = asyncio.create_task(chaos(platform, broker, figures, kill_every, stop, second_kill))
            gate = asyncio.Semaphore(concurrency)

            async def one(n: int) -> str:
                if n >= applications * 2 // 3:
                    # However fast the rest went, the last third meets the second kill and what
                    # follows it: a short soak is not over before its chaos has happened.
                    await second_kill.wait()
                async with gate:
                    return await people.journey(programme_id, n)

            done = await asyncio.gather(*(one(n) for n in range(applications)), return_exceptions=True)
            stop.set()
            await troublemaker
            figures.paid = sum(1 for d in done if isinstance(d, str))
            await drained(settings, mongodb_url)
            await check(platform, broker, settings, mongodb_url, mail, figures, programme_id, wall_start, mono_start)
            figures.elapsed_seconds = time.monotonic() - mono_start
            await people.http.aclose()
            failures = [d for d in done if isinstance(d, BaseException)]
            if failures:
                print(f"{len(failures)} journeys failed, the first: {failures[0]!r}; logs in {logs}", file=sys.stderr)
    finally:
        if platform is not None:
            platform.stop_all()
        sink.stop()
        broker.remove()
    return figures
