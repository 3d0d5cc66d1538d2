"""One application's journey as the other services tell it, and events that overtake the submission."""

import asyncio
from datetime import UTC, datetime

from grants_shared.events import (
    ApplicationDecidedV2,
    ApplicationIneligible,
    ApplicationWithdrawn,
    Contact,
    DecisionBasis,
    DecisionTally,
    GrantAccepted,
    GrantOffered,
    NotificationDelivered,
    PaymentFailed,
    PaymentSent,
    ProgrammeClosed,
    Reason,
    ScheduledAmount,
)
from notifications.config import Settings
from notifications.main import build_app
from tests.support.waiting import eventually
from tests.integration.notifications.builders import (
    PROGRAMME,
    applicant,
    decided_awarded,
    gbp,
    programme_known,
    submitted,
    wait_for_inbox,
)
from tests.integration.notifications.conftest import SmtpSink
from tests.support.app import serve
from tests.support.bus import TestBus

PANEL_DECISION = DecisionBasis(
    by="panel", meeting_id="mtg-1",
    tally=DecisionTally(fund=2, fund_different_amount=0, do_not_fund=1, abstain=0, recused=0),
)


async def test_every_step_of_an_award_reaches_the_applicant(
    service_settings: Settings, bus: TestBus, running_sink: SmtpSink
) -> None:
    app = build_app(service_settings)
    async with serve(app) as client:
        owner = applicant(service_settings)
        await programme_known(bus, client)
        steps = [
            submitted(),
            decided_awarded(amount=450_000),
            GrantOffered(grant_id="grant-9", application_id="app-1", programme_id="prog-1", amount=gbp(450_000),
                         schedule=[ScheduledAmount(sequence=1, amount=gbp(300_000), due_after_days=0),
                                   ScheduledAmount(sequence=2, amount=gbp(150_000), due_after_days=180)]),
            GrantAccepted(grant_id="grant-9", application_id="app-1"),
            PaymentFailed(payment_id="pay-1", grant_id="grant-9", application_id="app-1",
                          reason="The bank did not answer", attempt=1, will_retry=True),
            PaymentFailed(payment_id="pay-1", grant_id="grant-9", application_id="app-1",
                          reason="The bank did not answer", attempt=2, will_retry=True),
            PaymentSent(payment_id="pay-1", grant_id="grant-9", application_id="app-1", amount=gbp(300_000),
                        provider_reference="BACS-0042", sent_at=datetime(2026, 12, 1, 9, tzinfo=UTC)),
        ]
        quiet = {5}  # the second failure of the same payment: the applicant already knows it is delayed
        told = 0
        for n, step in enumerate(steps):
            event = await bus.publish(step)
            if n in quiet:
                await eventually(lambda: _handled(app, event.id), what="the repeated failure handled")
                continue
            told += 1
            await wait_for_inbox(client, owner, told)  # in order, as they would arrive
        await bus.publish(ProgrammeClosed(programme_id="prog-1"))  # concerns nobody: no notification

        items = await wait_for_inbox(client, owner, told)
        assert len(items) == told == len(steps) - 1
        assert [i["kind"] for i in items] == [
            "payment_sent", "payment_failed", "grant_accepted", "grant_offered", "application_awarded",
            "application_received",
        ]
        body = {}
        for item in items:
            detail = (await client.get(f"/v1/inbox/{item['id']}", headers=owner)).json()
            body[item["kind"]] = detail["text"]
        assert "£4,500.00" in body["application_awarded"] and "Strong local roots." in body["application_awarded"]
        assert "1. £3,000.00, when you accept the offer" in body["grant_offered"]
        assert "2. £1,500.00, 180 days after you accept the offer" in body["grant_offered"]
        assert "How to accept" in body["grant_offered"]
        assert "your grant of £4,500.00" in body["grant_accepted"]
        # Each message links to the portal page it is about, never to a bare id.
        assert "http://localhost:8000/grants/grant-9" in body["grant_accepted"]
        assert "The bank did not answer" in body["payment_failed"] and "try again" in body["payment_failed"]
        assert "£3,000.00" in body["payment_sent"] and "Tuesday 1 December 2026" in body["payment_sent"]
        assert all(PROGRAMME in text for kind, text in body.items() if kind in ("application_received",
                                                                               "application_awarded"))
        assert len(await running_sink.wait_for(told)) == told
        await bus.wait_for(NotificationDelivered.type, 2 * told)
        await asyncio.sleep(0.3)
        assert len(bus.of_type(NotificationDelivered.type)) == 2 * told
        assert len(running_sink.messages) == told


async def _handled(app, event_id: str) -> bool:
    return await app.state.runtime.db.inbox.count_documents({"_id": {"$regex": f":{event_id}$"}}) == 1


async def test_an_ineligible_application_hears_every_reason(
    service_settings: Settings, bus: TestBus, running_sink: SmtpSink
) -> None:
    async with serve(build_app(service_settings)) as client:
        await bus.publish(ApplicationIneligible(
            application_id="app-5", programme_id="prog-1", title="Crisis café",
            reasons=[Reason(code="outside_area", message="Your group works outside the programme's area"),
                     Reason(code="over_maximum", message="You asked for more than the maximum award of £10,000")],
            contact=Contact(person_id="person-1", name="Sam Okafor", email="sam@hope.example"),
        ))
        [item] = await wait_for_inbox(client, applicant(service_settings), 1)
        assert item["kind"] == "application_ineligible"
        detail = (await client.get(f"/v1/inbox/{item['id']}", headers=applicant(service_settings))).json()
        assert "Your group works outside the programme's area" in detail["text"]
        assert "You asked for more than the maximum award of £10,000" in detail["text"]
        [email] = await running_sink.wait_for(1)
        html = email.get_body(("html",)).get_content()
        assert "<li>Your group works outside the programme&#39;s area</li>" in html
        assert "<li>You asked for more than the maximum award of £10,000</li>" in html

        # a later withdrawal of the same application is confirmed too: the ineligible event introduced it
        await bus.publish(ApplicationWithdrawn(application_id="app-5", programme_id="prog-1", reason="Wrong fund"))
        items = await wait_for_inbox(client, applicant(service_settings), 2)
        assert items[0]["kind"] == "application_withdrawn"


async def test_a_decision_that_overtakes_its_submission_waits_for_it(
    service_settings: Settings, bus: TestBus, running_sink: SmtpSink
) -> None:
    async with serve(build_app(service_settings)) as client:
        owner = applicant(service_settings)
        declined = ApplicationDecidedV2(
            application_id="app-7", programme_id="prog-1", organisation_id="org-1", outcome="declined",
            feedback="Please say more about safeguarding.", decided_at=datetime.now(UTC),
            decided_by=PANEL_DECISION,
        )
        await bus.publish(declined)
        await bus.publish(submitted(application_id="app-7"))
        items = await wait_for_inbox(client, owner, 2)
        assert sorted(i["kind"] for i in items) == ["application_declined", "application_received"]
        assert await bus.dead_letters("notifications", expect=1, timeout=0.5) == []


async def test_an_event_for_an_application_never_submitted_waits_for_it_then_is_parked(
    service_settings: Settings, bus: TestBus
) -> None:
    # It waits for the submission past the retry budget meant for failures (two delays here), and is
    # parked only once it has waited longer than any outage should last (two seconds in this test).
    app = build_app(service_settings.model_copy(update={"prerequisite_wait_seconds": 2}))
    async with serve(app) as client:
        await bus.publish(GrantAccepted(grant_id="grant-x", application_id="app-unknown"))
        assert await bus.dead_letters("notifications", expect=1, timeout=1) == []  # past 2 attempts' delays
        [dead] = await bus.dead_letters("notifications", expect=1, timeout=10)
        assert "ApplicationNotYetKnown" in dead["reason"] and "gave up waiting after" in dead["reason"]
        assert (await client.get("/v1/inbox", headers=applicant(service_settings))).json()["items"] == []

        assert await app.state.runtime.db.notifications.count_documents({}) == 0


async def test_a_payment_failure_that_arrives_after_the_payment_was_sent_tells_nobody_it_is_delayed(
    service_settings: Settings, bus: TestBus, running_sink: SmtpSink
) -> None:
    app = build_app(service_settings)
    async with serve(app) as client:
        owner = applicant(service_settings)
        await bus.publish(submitted())
        await wait_for_inbox(client, owner, 1)
        await bus.publish(PaymentSent(payment_id="pay-1", grant_id="grant-9", application_id="app-1",
                                      amount=gbp(300_000), provider_reference="BACS-0042",
                                      sent_at=datetime(2026, 12, 1, 9, tzinfo=UTC)))
        await wait_for_inbox(client, owner, 2)
        # The first attempt's failure, overtaken on the way (a retry queue, a backlog handled side by side).
        late = await bus.publish(PaymentFailed(payment_id="pay-1", grant_id="grant-9", application_id="app-1",
                                               reason="The bank did not answer", attempt=1, will_retry=True))
        await eventually(lambda: _handled(app, late.id), what="the late failure handled")
        # Another payment of the same grant failing is news, and arrives after the late one.
        await bus.publish(PaymentFailed(payment_id="pay-2", grant_id="grant-9", application_id="app-1",
                                        reason="The bank did not answer", attempt=1, will_retry=True))
        await wait_for_inbox(client, owner, 3)
        await asyncio.sleep(0.3)
        items = (await client.get("/v1/inbox", headers=owner)).json()["items"]
        assert [i["kind"] for i in items] == ["payment_failed", "payment_sent", "application_received"]
