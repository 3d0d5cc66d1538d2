"""Events in from the bus; notifications out to the inbox (HTTP) and to a real SMTP server."""

import asyncio
import logging
from datetime import timedelta

import httpx
import pytest

from grants_shared.clock import utcnow
from grants_shared.events import NotificationDelivered
from grants_shared.service import Runtime
from notifications.config import Settings
from notifications.domain import Template, notification_id
from notifications.handlers import on_application_submitted
from notifications.main import build_app
from notifications.workers import EmailSender, OutgoingEmail
from tests.support.waiting import eventually
from tests.integration.notifications.builders import (
    PROGRAMME,
    admin,
    applicant,
    inbox,
    programme_known,
    review_assigned,
    reviewer,
    submitted,
    wait_for_inbox,
)
from tests.integration.notifications.conftest import SmtpSink
from tests.support.app import runtime_of, serve
from tests.support.bus import TestBus

DELIVERED = NotificationDelivered.type


async def test_a_submitted_application_reaches_the_applicants_inbox_and_mailbox(
    service_settings: Settings, bus: TestBus, running_sink: SmtpSink
) -> None:
    async with serve(build_app(service_settings)) as client:
        await programme_known(bus, client)
        event = await bus.publish(submitted(title="Walk & talk <peer> support"))
        nid = notification_id(event.data.application_id, "person-1", Template.APPLICATION_RECEIVED)

        [told] = await bus.wait_for(DELIVERED, channel="inbox", notification_id=nid)
        assert told.data.recipient_kind == "applicant"
        assert told.data.answered_event_id == event.id
        [item] = await wait_for_inbox(client, applicant(service_settings), 1)
        assert item["id"] == nid and item["kind"] == "application_received" and item["read_at"] is None
        assert item["subject"] == 'We have received your application "Walk & talk <peer> support"'

        [mailed] = await bus.wait_for(DELIVERED, channel="email", notification_id=nid)
        assert mailed.data.answered_event_type == "grants.application.submitted.v1"
        [email] = await running_sink.wait_for(1)
        assert running_sink.recipients == [["sam@hope.example"]]
        assert email["Message-ID"] == f"<{nid}@grants-test.example>"
        assert email["To"] == "Sam Okafor <sam@hope.example>"
        assert email["Subject"] == item["subject"]
        text = email.get_body(("plain",)).get_content()
        html = email.get_body(("html",)).get_content()
        assert "£5,000.00" in text and PROGRAMME in text and "Walk & talk <peer> support" in text
        assert "<strong>£5,000.00</strong>" in html and "Walk &amp; talk &lt;peer&gt; support" in html

        detail = (await client.get(f"/v1/inbox/{nid}", headers=applicant(service_settings))).json()
        assert detail["text"] == text.replace("\r\n", "\n")
        assert "Walk &amp; talk &lt;peer&gt; support" in detail["html"]
        assert detail["email"]["status"] == "sent" and detail["email"]["attempts"] == 1

        audit = await client.get("/v1/deliveries", headers=admin(service_settings), params={"notification_id": nid})
        assert audit.status_code == 200
        rows = audit.json()["items"]
        assert [(r["channel"], r["outcome"]) for r in rows] == [("email", "delivered"), ("inbox", "delivered")]
        assert all("html" not in r and "text" not in r and "subject" not in r for r in rows)


async def test_the_same_event_twice_makes_one_notification_and_one_email(
    service_settings: Settings, bus: TestBus, running_sink: SmtpSink
) -> None:
    app = build_app(service_settings)
    async with serve(app) as client:
        event = await bus.publish(submitted())
        await bus.publish_event(event)  # redelivered, or published twice by its sender
        nid = notification_id(event.data.application_id, "person-1", Template.APPLICATION_RECEIVED)
        await bus.wait_for(DELIVERED, channel="email", notification_id=nid)
        await running_sink.wait_for(1)

        # Past the consumer's inbox too: the handler itself, run again with the same event, adds nothing.
        runtime: Runtime = app.state.runtime
        emitted = await runtime.database.transact(lambda tx: _run_and_count(tx, event))
        assert emitted == 0

        await asyncio.sleep(0.6)  # room for any second email or notification to show up
        assert len(running_sink.messages) == 1
        assert [i["id"] for i in (await inbox(client, applicant(service_settings)))["items"]] == [nid]
        assert len(bus.of_type(DELIVERED)) == 2  # inbox + email, once each
        assert await runtime.db.notifications.count_documents({}) == 1


async def _run_and_count(tx, event) -> int:
    await on_application_submitted(event, tx)
    return len(tx.emitted)


async def test_a_reviewer_is_told_in_the_inbox_and_by_email_only_once_they_registered_an_address(
    service_settings: Settings, bus: TestBus, running_sink: SmtpSink
) -> None:
    async with serve(build_app(service_settings)) as client:
        await programme_known(bus, client)
        first = await bus.publish(review_assigned("review-1"))
        first_id = notification_id(first.data.review_id, "reviewer-1", Template.REVIEW_ASSIGNED)
        [told] = await bus.wait_for(DELIVERED, channel="inbox", notification_id=first_id)
        assert told.data.recipient_kind == "reviewer"
        [item] = await wait_for_inbox(client, reviewer(service_settings), 1)
        assert item["kind"] == "review_assigned" and item["email"] is None
        assert item["subject"] == 'Please review "Walk and talk peer support" by Friday 4 December 2026'

        registered = await client.put("/v1/me/contact", headers=reviewer(service_settings),
                                      json={"email": "ali@panel.example", "name": "Ali Khan"})
        assert registered.status_code == 201, registered.text

        second = await bus.publish(review_assigned("review-2"))
        second_id = notification_id(second.data.review_id, "reviewer-1", Template.REVIEW_ASSIGNED)
        await bus.wait_for(DELIVERED, channel="email", notification_id=second_id)
        [email] = await running_sink.wait_for(1)
        assert email["To"] == "Ali Khan <ali@panel.example>"
        assert email["Message-ID"] == f"<{second_id}@grants-test.example>"
        assert "Dear Ali Khan," in email.get_body(("plain",)).get_content()
        assert PROGRAMME in email.get_body(("html",)).get_content()

        await asyncio.sleep(0.3)
        assert len(running_sink.messages) == 1  # the first assignment stays inbox-only
        assert not bus.of_type(DELIVERED) or all(
            e.data.notification_id != first_id for e in bus.of_type(DELIVERED) if e.data.channel == "email"
        )
        items = (await inbox(client, reviewer(service_settings)))["items"]
        assert [i["id"] for i in items] == [second_id, first_id]  # newest first


async def test_an_email_is_retried_while_smtp_is_down_and_delivered_exactly_once_when_it_is_back(
    service_settings: Settings, bus: TestBus, smtp_sink: SmtpSink
) -> None:
    app = build_app(service_settings)
    async with serve(app) as client:
        event = await bus.publish(submitted())
        nid = notification_id(event.data.application_id, "person-1", Template.APPLICATION_RECEIVED)
        headers = applicant(service_settings)

        async def failed_twice() -> bool:
            response = await client.get(f"/v1/inbox/{nid}", headers=headers)
            email = response.json().get("email") if response.status_code == 200 else None
            return bool(email) and email["attempts"] >= 2 and email["status"] == "pending"

        await eventually(failed_twice, what="two failed attempts")
        assert not bus.of_type(DELIVERED) or all(e.data.channel == "inbox" for e in bus.of_type(DELIVERED))
        item = (await client.get(f"/v1/inbox/{nid}", headers=headers)).json()
        assert item["email"]["last_error"]  # the failure is visible

        smtp_sink.start()
        await bus.wait_for(DELIVERED, channel="email", notification_id=nid)
        await smtp_sink.wait_for(1)
        await asyncio.sleep(0.6)
        assert len(smtp_sink.messages) == 1
        assert smtp_sink.messages[0]["Message-ID"] == f"<{nid}@grants-test.example>"

        item = (await client.get(f"/v1/inbox/{nid}", headers=headers)).json()
        assert item["email"]["status"] == "sent" and item["email"]["last_error"] is None
        rows = (await client.get("/v1/deliveries", headers=admin(service_settings),
                                 params={"notification_id": nid, "channel": "email"})).json()["items"]
        outcomes = [r["outcome"] for r in rows]
        assert outcomes[0] == "delivered" and outcomes.count("delivered") == 1
        assert len(outcomes) == item["email"]["attempts"] and set(outcomes[1:]) == {"failed"}
        assert all(r["error"] for r in rows[1:])


async def test_an_email_that_can_never_be_sent_ends_failed_and_visible(
    service_settings: Settings, bus: TestBus, smtp_sink: SmtpSink
) -> None:
    settings = service_settings.model_copy(update={"email_max_attempts": 2})
    async with serve(build_app(settings)) as client:
        event = await bus.publish(submitted())
        nid = notification_id(event.data.application_id, "person-1", Template.APPLICATION_RECEIVED)

        async def gave_up() -> bool:
            response = await client.get(f"/v1/inbox/{nid}", headers=applicant(settings))
            return response.status_code == 200 and (response.json()["email"] or {}).get("status") == "failed"

        await eventually(gave_up, what="the email given up")
        item = (await client.get(f"/v1/inbox/{nid}", headers=applicant(settings))).json()
        assert item["email"]["attempts"] == 2
        rows = (await client.get("/v1/deliveries", headers=admin(settings),
                                 params={"outcome": "gave_up"})).json()["items"]
        assert [r["notification_id"] for r in rows] == [nid]
        smtp_sink.start()
        await asyncio.sleep(0.5)
        assert smtp_sink.messages == []  # failed is final


async def test_a_claim_abandoned_by_a_dead_sender_is_sent_again_with_the_same_message_id(
    service_settings: Settings, bus: TestBus, running_sink: SmtpSink
) -> None:
    quiet = service_settings.model_copy(update={"email_sender_enabled": False})
    quiet_app = build_app(quiet)
    async with serve(quiet_app) as client:
        abandoned = await bus.publish(submitted(application_id="app-1", email="one@hope.example"))
        in_flight = await bus.publish(submitted(application_id="app-2", email="two@hope.example"))
        await wait_for_inbox(client, applicant(quiet), 2)
        db = quiet_app.state.runtime.db
        now = utcnow()
        lease = timedelta(seconds=quiet.email_lease_seconds)
        for event, claimed_at in ((abandoned, now - 2 * lease), (in_flight, now)):
            nid = notification_id(event.data.application_id, "person-1", Template.APPLICATION_RECEIVED)
            # What a sender leaves behind when it dies after claiming (or while still sending).
            result = await db.notifications.update_one(
                {"_id": nid, "email.status": "pending"},
                {"$set": {"email.status": "sending", "email.claim": "dead-sender", "email.claimed_at": claimed_at}},
            )
            assert result.modified_count == 1
        await asyncio.sleep(0.5)
        assert running_sink.messages == []  # this replica sends nothing

    async with serve(build_app(service_settings)) as client:
        abandoned_id = notification_id(abandoned.data.application_id, "person-1", Template.APPLICATION_RECEIVED)
        [email] = await running_sink.wait_for(1)
        assert email["Message-ID"] == f"<{abandoned_id}@grants-test.example>"
        assert running_sink.recipients == [["one@hope.example"]]
        await bus.wait_for(DELIVERED, channel="email", notification_id=abandoned_id)
        await asyncio.sleep(0.5)
        assert len(running_sink.messages) == 1  # the claim still within its lease is left alone
        in_flight_id = notification_id(in_flight.data.application_id, "person-1", Template.APPLICATION_RECEIVED)
        item = (await client.get(f"/v1/inbox/{in_flight_id}", headers=applicant(service_settings))).json()
        assert item["email"]["status"] == "sending"


async def test_a_refused_address_fails_at_once_and_stays_out_of_the_audit_and_the_logs(
    service_settings: Settings, bus: TestBus, running_sink: SmtpSink, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="notifications")
    address = "Gone.Away@Hope.example"
    # Real servers name the address they refuse, in whatever case they keep it.
    running_sink.refuse[address.lower()] = "550 5.1.1 <gone.away@hope.example>: Recipient address rejected: User unknown"
    async with serve(build_app(service_settings)) as client:
        event = await bus.publish(submitted(email=address))
        nid = notification_id(event.data.application_id, "person-1", Template.APPLICATION_RECEIVED)
        headers = applicant(service_settings)

        async def gave_up() -> dict | None:
            response = await client.get(f"/v1/inbox/{nid}", headers=headers)
            email = response.json().get("email") if response.status_code == 200 else None
            return email if email and email["status"] == "failed" else None

        email = await eventually(gave_up, what="the refused email given up")
        assert email["attempts"] == 1  # a 5xx refusal is not retried
        assert "550" in email["last_error"] and "User unknown" in email["last_error"]
        [row] = (await client.get("/v1/deliveries", headers=admin(service_settings),
                                  params={"notification_id": nid, "channel": "email"})).json()["items"]
        assert row["outcome"] == "gave_up" and "550" in row["error"]
        stored = await runtime_of(client).db.deliveries.find({}).to_list(None)
        # Every line logged in the process, but the test mail server's own ("mail.log" is not ours).
        logged = "\n".join(r.getMessage() for r in caplog.records if not r.name.startswith("mail."))
        for text in (row["error"], email["last_error"], str(stored), logged):
            assert "gone.away" not in text.lower()
        assert running_sink.messages == []


async def test_a_send_is_bounded_as_a_whole_so_the_lease_outlasts_it(
    service_settings: Settings, bus: TestBus, running_sink: SmtpSink
) -> None:
    # Every answer comes within the timeout, but the conversation as a whole does not: a sender still
    # talking when its lease ran out would see another replica send the same email again.
    running_sink.delay = 0.6
    settings = service_settings.model_copy(update={"smtp_timeout": 1, "email_lease_seconds": 1.5,
                                                   "email_max_attempts": 1})
    async with serve(build_app(settings)) as client:
        event = await bus.publish(submitted())
        nid = notification_id(event.data.application_id, "person-1", Template.APPLICATION_RECEIVED)

        async def gave_up() -> dict | None:
            response = await client.get(f"/v1/inbox/{nid}", headers=applicant(settings))
            email = response.json().get("email") if response.status_code == 200 else None
            return email if email and email["status"] == "failed" else None

        email = await eventually(gave_up, what="the slow send abandoned")
        assert "no answer within 1s" in email["last_error"]
        await asyncio.sleep(0.5)
        assert running_sink.messages == []


async def test_the_same_fact_published_again_under_a_new_event_id_tells_nobody_twice(
    service_settings: Settings, bus: TestBus, running_sink: SmtpSink
) -> None:
    from grants_shared.events import PaymentSent
    from tests.integration.notifications.builders import decided_awarded, gbp

    async with serve(build_app(service_settings)) as client:
        await programme_known(bus, client)
        await bus.publish(submitted())
        await wait_for_inbox(client, applicant(service_settings), 1)
        paid = PaymentSent(payment_id="pay-1", grant_id="grant-1", application_id="app-1", amount=gbp(300_000),
                           provider_reference="SIM-1", sent_at=utcnow())
        # Each fact twice, as two events with two ids (a publisher that sent it again).
        for data in (decided_awarded(), decided_awarded(), paid, paid):
            await bus.publish(data)
        await bus.wait_for(DELIVERED, 3, channel="inbox")
        await asyncio.sleep(1)  # every chance for a second copy to be told
        kinds = sorted(item["kind"] for item in (await inbox(client, applicant(service_settings)))["items"])
        assert kinds == ["application_awarded", "application_received", "payment_sent"]
        await running_sink.wait_for(3)
        await asyncio.sleep(0.5)
        assert len(running_sink.messages) == 3


def _held_back(settings: Settings) -> Settings:
    """No sender of the service's own (the test works the email queue), and a lease long enough for
    several sends one after another."""
    return settings.model_copy(update={"email_sender_enabled": False, "email_lease_seconds": 30})


async def _queue_emails(client: httpx.AsyncClient, bus: TestBus, settings: Settings, count: int) -> None:
    """``count`` groups' submissions told to their applicant (person-1): an email each, to the group."""
    for n in range(count):
        await bus.publish(submitted(application_id=f"app-{n}", email=f"group{n}@hope.example"))
    await wait_for_inbox(client, applicant(settings), count)


async def test_emails_due_together_are_claimed_and_settled_together_and_two_senders_send_each_once(
    service_settings: Settings, bus: TestBus, running_sink: SmtpSink
) -> None:
    quiet = _held_back(service_settings)
    async with serve(build_app(quiet)) as client:
        await _queue_emails(client, bus, quiet, 6)
        database = runtime_of(client).database
        senders = [EmailSender(database), EmailSender(database)]
        assert senders[0].together > 1  # the settings let a lease cover several sends

        assert sum(await asyncio.gather(*(sender.work_due() for sender in senders))) == 6
        assert sorted(r[0] for r in running_sink.recipients) == [f"group{n}@hope.example" for n in range(6)]
        rows = (await client.get("/v1/deliveries", headers=admin(quiet), params={"channel": "email"})).json()["items"]
        assert sorted(r["outcome"] for r in rows) == ["delivered"] * 6 and {r["attempt"] for r in rows} == {1}
        delivered = await bus.wait_for(DELIVERED, 6, channel="email")
        assert len({e.data.notification_id for e in delivered}) == 6
        assert [await s.work_due() for s in senders] == [0, 0]  # nothing is left to send, nothing again


async def test_emails_settled_together_when_a_claim_was_taken_over_are_settled_alone_where_their_claim_holds(
    service_settings: Settings, bus: TestBus, running_sink: SmtpSink
) -> None:
    quiet = _held_back(service_settings)
    async with serve(build_app(quiet)) as client:
        await _queue_emails(client, bus, quiet, 3)
        db = runtime_of(client).db
        first = notification_id("app-0", "person-1", Template.APPLICATION_RECEIVED)

        class OutlivedItsLease(EmailSender):
            """While the later emails are sent, another sender takes the first one over."""

            async def attempt(self, outgoing: OutgoingEmail) -> None:
                await super().attempt(outgoing)
                if outgoing[0].id != first:
                    await db.notifications.update_one({"_id": first}, {"$set": {"email.claim": "another-sender"}})

        assert await OutlivedItsLease(runtime_of(client).database).work_due() == 3
        assert len(running_sink.messages) == 3
        rows = (await client.get("/v1/deliveries", headers=admin(quiet), params={"channel": "email"})).json()["items"]
        assert first not in {r["notification_id"] for r in rows} and len(rows) == 2
        taken_over = await db.notifications.find_one({"_id": first})
        assert taken_over["email"]["status"] == "sending" and taken_over["email"]["claim"] == "another-sender"
        others = await db.notifications.find({"_id": {"$ne": first}, "email": {"$ne": None}}).to_list(None)
        assert [o["email"]["status"] for o in others] == ["sent", "sent"]


async def test_an_email_whose_person_is_erased_while_it_is_sent_leaves_no_record_naming_them(
    service_settings: Settings, bus: TestBus, running_sink: SmtpSink
) -> None:
    quiet = _held_back(service_settings)
    async with serve(build_app(quiet)) as client:
        await _queue_emails(client, bus, quiet, 2)
        db = runtime_of(client).db

        class ErasedMeanwhile(EmailSender):
            """The person's erasure lands while their emails are being sent (it pseudonymises them)."""

            async def attempt(self, outgoing: OutgoingEmail) -> None:
                await super().attempt(outgoing)
                for collection in (db.notifications, db.deliveries):
                    await collection.update_many({"recipient_id": "person-1"}, {"$set": {"recipient_id": "erased-1"}})

        assert await ErasedMeanwhile(runtime_of(client).database).work_due() == 2
        assert len(running_sink.messages) == 2  # already on their way when the erasure came
        assert await db.deliveries.count_documents({"channel": "email"}) == 0
        assert await db.deliveries.count_documents({"recipient_id": "person-1"}) == 0
        statuses = [n["email"]["status"] async for n in db.notifications.find({"email": {"$ne": None}})]
        assert statuses == ["sent", "sent"]  # settled all the same: not sent again
