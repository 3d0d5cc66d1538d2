"""An offer's window as the grantee hears of it: the offer with the last day to answer, the reminder
before it closes, and the offer gone (declined by them, or lapsed); each told once."""

import asyncio
from datetime import UTC, datetime

from grants_shared.events import GrantOfferDeclined, GrantOfferExpired, GrantOffered, GrantOfferReminder, ScheduledAmount
from notifications.config import Settings
from notifications.main import build_app
from tests.integration.notifications.builders import applicant, decided_awarded, gbp, programme_known, submitted, wait_for_inbox
from tests.integration.notifications.conftest import SmtpSink
from tests.support.app import serve
from tests.support.bus import TestBus

EXPIRES = datetime(2026, 12, 31, tzinfo=UTC)  # the offer is open all of 30 December


async def test_the_grantee_hears_of_the_window_the_reminder_and_the_end_of_an_offer(
    service_settings: Settings, bus: TestBus, running_sink: SmtpSink
) -> None:
    async with serve(build_app(service_settings)) as client:
        owner = applicant(service_settings)
        await programme_known(bus, client)
        steps = [
            submitted(),
            decided_awarded(amount=450_000),
            GrantOffered(grant_id="grant-9", application_id="app-1", programme_id="prog-1", amount=gbp(450_000),
                         schedule=[ScheduledAmount(sequence=1, amount=gbp(450_000), due_after_days=0)],
                         expires_at=EXPIRES),
            GrantOfferReminder(grant_id="grant-9", application_id="app-1", amount=gbp(450_000), expires_at=EXPIRES),
            GrantOfferExpired(grant_id="grant-9", application_id="app-1", programme_id="prog-1",
                              released=gbp(450_000), expired_at=EXPIRES),
        ]
        for told, step in enumerate(steps, start=1):
            await bus.publish(step)
            await wait_for_inbox(client, owner, told)
        await bus.publish(steps[3])  # the same reminder again (a new event id): nobody is told twice
        await asyncio.sleep(0.5)

        items = await wait_for_inbox(client, owner, len(steps))
        assert [i["kind"] for i in items][:3] == ["grant_offer_expired", "grant_offer_reminder", "grant_offered"]
        text = {}
        for item in items:
            text[item["kind"]] = (await client.get(f"/v1/inbox/{item['id']}", headers=owner)).json()["text"]
        assert "by Wednesday 30 December 2026" in text["grant_offered"]
        assert "by Wednesday 30 December 2026" in text["grant_offer_reminder"] and "£4,500.00" in text["grant_offer_reminder"]
        assert "lapsed" in text["grant_offer_expired"] and "http://localhost:8000/grants/grant-9" in text["grant_offer_expired"]
        assert len(await running_sink.wait_for(len(steps))) == len(steps)


async def test_a_declined_offer_is_confirmed_to_the_grantee(
    service_settings: Settings, bus: TestBus, running_sink: SmtpSink
) -> None:
    async with serve(build_app(service_settings)) as client:
        owner = applicant(service_settings)
        await programme_known(bus, client)
        await bus.publish(submitted())
        await bus.publish(GrantOfferDeclined(
            grant_id="grant-9", application_id="app-1", programme_id="prog-1", released=gbp(450_000),
            reason="We have merged with another group", declined_at=EXPIRES,
        ))  # fmt: skip
        items = await wait_for_inbox(client, owner, 2)
        assert items[0]["kind"] == "grant_offer_declined"
        detail = (await client.get(f"/v1/inbox/{items[0]['id']}", headers=owner)).json()
        assert "declined the grant offer of £4,500.00" in detail["text"]


async def test_a_variation_reaches_the_grantee_and_finance_s_own_events_reach_nobody(
    service_settings: Settings, bus: TestBus, running_sink: SmtpSink
) -> None:
    from grants_shared.events import GrantVaried, PaymentRunAwaitingApproval

    async with serve(build_app(service_settings)) as client:
        owner = applicant(service_settings)
        await programme_known(bus, client)
        await bus.publish(submitted())
        await wait_for_inbox(client, owner, 1)
        await bus.publish(PaymentRunAwaitingApproval(run_id="run-1", total=gbp(450_000), payments=1, approvals_needed=1))
        varied = GrantVaried(grant_id="grant-9", application_id="app-1", programme_id="prog-1", kind="cancellation",
                             amount=gbp(200_000), previous_amount=gbp(450_000), varied_at=EXPIRES)  # fmt: skip
        await bus.publish(varied)
        items = await wait_for_inbox(client, owner, 2)
        assert items[0]["kind"] == "grant_varied" and "cancelled" in items[0]["subject"]
        detail = (await client.get(f"/v1/inbox/{items[0]['id']}", headers=owner)).json()
        assert "what was paid already (£2,000.00)" in detail["text"]
        await asyncio.sleep(0.5)
        assert len(await wait_for_inbox(client, owner, 2)) == 2  # the run told no applicant
