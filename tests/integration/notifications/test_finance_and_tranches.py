"""Finance officers hear that a payment run awaits their approval (inbox, and email at the address
they registered as finance officers; nobody else is told), and the grantee hears that a tranche was
released or is held for an overdue report; each once."""

import asyncio
from datetime import date

from grants_shared.events import (
    NotificationDelivered, NotificationDeliveredV2, PaymentRunAwaitingApproval, TrancheHeldForReport, TrancheReleased,
)  # fmt: skip
from notifications.config import Settings
from notifications.main import build_app
from tests.integration.notifications.builders import (
    applicant, gbp, inbox, programme_known, reviewer, submitted, wait_for_inbox,
)  # fmt: skip
from tests.integration.notifications.conftest import SmtpSink
from tests.support.app import bearer, serve
from tests.support.bus import TestBus


def finance(settings: Settings, person_id: str) -> dict[str, str]:
    return bearer(settings, person_id, "finance_officer")


async def test_every_finance_officer_is_told_once_that_a_run_awaits_approval(
    service_settings: Settings, bus: TestBus, running_sink: SmtpSink
) -> None:
    async with serve(build_app(service_settings)) as client:
        for headers, email, name in ((finance(service_settings, "fin-1"), "fin1@council.example", "Femi Ade"),
                                     (finance(service_settings, "fin-2"), "fin2@council.example", "Gill Ray"),
                                     (reviewer(service_settings, "rev-9"), "rev@panel.example", "Rae Vue")):  # fmt: skip
            registered = await client.put("/v1/me/contact", headers=headers, json={"email": email, "name": name})
            assert registered.status_code == 201, registered.text
        run = PaymentRunAwaitingApproval(run_id="run-7", total=gbp(1_250_000), payments=3, approvals_needed=2)
        await bus.publish(run)
        await bus.publish(run)  # announced again (a new event id): each officer is still told once

        for officer in ("fin-1", "fin-2"):
            [told] = await wait_for_inbox(client, finance(service_settings, officer), 1)
            assert told["kind"] == "payment_run_awaiting_approval"
            assert told["subject"] == "A payment run of £12,500.00 awaits your approval"
        emails = await running_sink.wait_for(2)
        assert sorted(e["To"] for e in emails) == ["Femi Ade <fin1@council.example>", "Gill Ray <fin2@council.example>"]
        text = emails[0].get_body(("plain",)).get_content()
        assert "two different finance officers" in text and "/finance/payment-runs/run-7" in text
        await bus.wait_for(NotificationDeliveredV2.type, count=4, recipient_kind="finance_officer")
        await asyncio.sleep(0.3)
        assert (await inbox(client, reviewer(service_settings, "rev-9")))["items"] == []
        # v1 cannot name a finance officer: only v2 reports these deliveries.
        assert not [e for e in bus.of_type(NotificationDelivered.type) if e.data.answered_event_type == run.type]
        assert len(running_sink.messages) == 2


async def test_the_grantee_hears_a_tranche_is_held_for_a_report_then_released(
    service_settings: Settings, bus: TestBus, running_sink: SmtpSink
) -> None:
    async with serve(build_app(service_settings)) as client:
        owner = applicant(service_settings)
        await programme_known(bus, client)
        await bus.publish(submitted())
        await wait_for_inbox(client, owner, 1)
        ids = {"payment_id": "pay-2", "grant_id": "grant-9", "application_id": "app-1", "sequence": 2,
               "amount": gbp(150_000)}  # fmt: skip
        held = TrancheHeldForReport(**ids, report_id="rep-1", report_name="midway report")
        await bus.publish(held)
        await wait_for_inbox(client, owner, 2)
        released = TrancheReleased(**ids, due_date=date(2026, 12, 1), met=["midway report"])
        await bus.publish(released)
        await bus.publish(released)  # again: told once
        await bus.publish(held)
        await asyncio.sleep(0.5)
        items = await wait_for_inbox(client, owner, 3)
        assert len(items) == 3
        assert [i["kind"] for i in items[:2]] == ["tranche_released", "tranche_held_for_report"]
        assert items[0]["subject"] == "Payment 2 of your grant (£1,500.00) is released"
        texts = [(await client.get(f"/v1/inbox/{i['id']}", headers=owner)).json()["text"] for i in items[:2]]
        assert "midway report" in texts[0] and "Tuesday 1 December 2026" in texts[0]
        assert "The report is overdue, so the payment is held" in texts[1]
        assert "http://localhost:8000/grants/grant-9" in texts[1]
