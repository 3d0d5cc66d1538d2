"""The whole journey: four services as separate processes, real RabbitMQ, a MongoDB-wire server and an
SMTP sink; a manager, an applicant, reviewers and a grantee act over HTTP only."""

import asyncio
import json
from collections.abc import Iterator
from email import message_from_bytes
from email.policy import default
from pathlib import Path
from uuid import uuid4

import aio_pika
import pytest
from aiosmtpd.controller import Controller

from grants_shared.dev.infra import free_port
from grants_shared.dev.journey import Journey
from grants_shared.dev.stack import local_stack
from grants_shared.settings import ServiceSettings
from tests.support.bus import delete_topology
from tests.support.otlp import otlp_collector

pytestmark = pytest.mark.e2e

ACCOUNT_NUMBER = "55779911"  # the grantee's, as the journey gives it


class Mailbox:
    def __init__(self) -> None:
        self.messages: list = []

    async def handle_DATA(self, server, session, envelope) -> str:
        self.messages.append(message_from_bytes(envelope.content, policy=default))
        return "250 OK"


@pytest.fixture
def smtp_sink() -> Iterator[tuple[Mailbox, int]]:
    mailbox, port = Mailbox(), free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield mailbox, port
    controller.stop()


async def _tap(settings: ServiceSettings, drain: bool) -> list[aio_pika.abc.AbstractIncomingMessage]:
    """A queue of our own on the events exchange, as an integrator would bind one."""
    connection = await aio_pika.connect(settings.rabbitmq_url)
    async with connection:
        channel = await connection.channel()
        exchange = await channel.declare_exchange(settings.exchange, aio_pika.ExchangeType.TOPIC, durable=True)
        queue = await channel.declare_queue(f"{settings.prefix}.integrator", durable=True)
        await queue.bind(exchange, routing_key="#")
        messages = []
        while drain and (message := await queue.get(no_ack=True, fail=False)):
            messages.append(message)
        if drain:
            await queue.delete(if_unused=False, if_empty=False)
        return messages


def test_one_application_travels_from_submission_to_a_paid_grant_and_notifications(
    mongodb_url: str, rabbitmq_url: str, smtp_sink: tuple[Mailbox, int], tmp_path: Path
) -> None:
    mailbox, smtp_port = smtp_sink
    settings = ServiceSettings(prefix=f"e2e{uuid4().hex[:8]}", mongodb_url=mongodb_url, rabbitmq_url=rabbitmq_url)
    ports = {name: free_port() for name in ("applications", "scoring", "disbursement", "notifications")}
    collector_port = free_port()
    env = {
        "GRANTS_OTLP_TRACES_ENDPOINT": f"http://127.0.0.1:{collector_port}/v1/traces",
        "OTEL_BSP_SCHEDULE_DELAY": "200",
        "GRANTS_PREFIX": settings.prefix,
        "GRANTS_SMTP_HOST": "127.0.0.1",
        "GRANTS_SMTP_PORT": str(smtp_port),
        "GRANTS_PAYMENT_POLL_SECONDS": "0.5",
        "GRANTS_EMAIL_POLL_SECONDS": "0.5",
        "GRANTS_OUTBOX_POLL_SECONDS": "0.5",
    }
    asyncio.run(_tap(settings, drain=False))
    try:
        with otlp_collector(collector_port) as collector, \
                local_stack(mongodb_url, rabbitmq_url, tmp_path / "logs", ports=ports, env=env) as stack:
            steps: list[str] = []
            result = Journey(stack.urls, settings, say=steps.append, timeout=60).run()

            assert result["timeline"]["status"] == "part_paid"  # the first of two tranches is paid
            kinds = [entry["kind"] for entry in result["timeline"]["entries"]]
            for expected in ("submitted", "under_review", "awarded", "offered", "accepted", "payment_sent"):
                assert expected in kinds, f"no {expected} in timeline {kinds}"
            assert {"application_received", "application_awarded", "grant_offered", "payment_sent"} <= {
                item["kind"] for item in result["inbox"]
            }
            assert [amount["amount"]["amount"] for amount in result["grant"]["schedule"]] == [640_000, 160_000]

            journey = Journey(stack.urls, settings)
            finance = journey.as_("fin-1", "finance_officer")
            payments = journey.call("GET", "disbursement", "/v1/payments", finance,
                                    params={"grant_id": result["grant"]["id"]}).json()
            payments = payments["items"] if isinstance(payments, dict) else payments
            assert sorted(p["status"] for p in payments) == ["scheduled", "sent"]

            journey.until("the emails to arrive", lambda: len(_mail_to(mailbox, result["applicant"])) >= 4)

            # The audit trail: every service's part, put together in time order, says who asked for each change.
            manager = journey.as_("maya-manager", "programme_manager")
            trail = sorted((entry for service in ("applications", "scoring", "disbursement", "notifications")
                            for entry in journey.call("GET", service, f"/v1/audit/applications/{result['application_id']}",
                                                      manager).json()["entries"]), key=lambda e: e["at"])  # fmt: skip
            by_type = {entry["type"]: entry for entry in trail}
            assert trail[0]["type"] == "grants.application.submitted.v1" and trail[0]["actor"] == result["applicant"]
            assert by_type["grants.grant.accepted.v1"]["actor"] == result["applicant"]
            assert by_type["grants.payment.sent.v1"]["actor"] is None, "the payment runner sent it, nobody asked"
            assert {e["service"] for e in trail} >= {"applications", "scoring", "disbursement"}
            assert trail[-1]["at"] >= by_type["grants.payment.sent.v1"]["at"]
    finally:
        events = asyncio.run(_tap(settings, drain=True))
        asyncio.run(delete_topology(settings))

    types = [m.headers["cloudEvents_type"] for m in events]
    for expected in ("grants.application.submitted.v1", "grants.review.assigned.v1", "grants.application.scored.v1",
                     "grants.application.decided.v2", "grants.grant.offered.v1", "grants.grant.accepted.v1",
                     "grants.payment.scheduled.v1", "grants.payment.sent.v1", "grants.notification.delivered.v1",
                     "grants.decision_meeting.called.v1"):
        assert expected in types, f"{expected} never crossed the bus"
    assert types.count("grants.payment.sent.v1") == 1
    # Bank details never travel on the bus.
    assert not [m for m in events if ACCOUNT_NUMBER.encode() in m.body]
    subjects = [m["Subject"] for m in _mail_to(mailbox, result["applicant"])]
    assert len(subjects) == len(set(subjects)), f"an email was sent twice: {subjects}"

    # One trace follows the decision through every service: the request that made it, the publish of
    # each event and each consumer's handling, down to the emails (spans exported over OTLP).
    [offer] = [s for s in collector.spans if s.service == "disbursement"
               and s.name == "process grants.application.decided.v2"]  # fmt: skip
    trace = collector.in_trace(offer.trace_id)
    assert {s.service for s in trace} == {"applications", "scoring", "disbursement", "notifications"}
    names = {(s.service, s.name) for s in trace}
    assert ("scoring", "publish grants.application.decided.v2") in names
    assert ("applications", "process grants.application.decided.v2") in names
    assert ("notifications", "process grants.grant.offered.v1") in names
    by_id = {s.span_id: s for s in trace}
    assert by_id[offer.parent_span_id].name == "publish grants.application.decided.v2"  # parent: the publish
    # The services log JSON lines naming the service, the trace and what the line is about.
    lines = [json.loads(line) for line in (tmp_path / "logs" / "scoring.log").read_text().splitlines()
             if line.startswith("{")]  # fmt: skip
    [decision] = [line for line in lines if line.get("trace_id") == offer.trace_id
                  and line["logger"] == "grants.requests"]  # fmt: skip
    assert decision["service"] == "scoring" and decision["level"] == "INFO" and "application_id" in decision


def _mail_to(mailbox: Mailbox, person: str) -> list:
    return [m for m in mailbox.messages if person in str(m["To"])]
