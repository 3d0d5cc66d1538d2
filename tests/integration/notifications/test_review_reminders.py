"""Reviewers and panel members are emailed at the address in their sign-in token without registering
separately; a review's reminder reaches its reviewer, and its overdue notice the reviewer and the
programme's manager, each once."""

import asyncio
from datetime import date

from grants_shared.events import NotificationDelivered, ReviewOverdue, ReviewReminderDue
from notifications.config import Settings
from notifications.domain import Template, notification_id
from notifications.main import build_app
from tests.integration.notifications.builders import PROGRAMME, programme_known, review_assigned, wait_for_inbox
from tests.integration.notifications.conftest import SmtpSink
from tests.support.app import bearer, serve
from tests.support.bus import TestBus


async def test_a_reviewer_who_never_registered_gets_the_assignment_email_at_their_token_s_address(
    service_settings: Settings, bus: TestBus, running_sink: SmtpSink
) -> None:
    async with serve(build_app(service_settings)) as client:
        await programme_known(bus, client)
        signed_in = bearer(service_settings, "reviewer-9", "reviewer", name="Ade Bello", email="ade@panel.example")
        # the portal does this when they sign in: no form, no separate registration
        recorded = await client.put("/v1/me/contact/from-token", headers=signed_in)
        assert recorded.status_code == 201, recorded.text
        assert recorded.json() | {"updated_at": None} == {
            "person_id": "reviewer-9", "email": "ade@panel.example", "name": "Ade Bello", "version": 1,
            "updated_at": None, "source": "token",
        }
        again = await client.put("/v1/me/contact/from-token", headers=signed_in)  # every sign-in: no change
        assert again.status_code == 200 and again.json()["version"] == 1

        await bus.publish(review_assigned("rev-9", reviewer_id="reviewer-9"))
        [message] = await wait_for_inbox(client, signed_in, 1)
        assert message["kind"] == "review_assigned"
        await bus.wait_for(NotificationDelivered.type, channel="email", notification_id=message["id"])
        [email] = await running_sink.wait_for(1)
        assert email["To"] == "Ade Bello <ade@panel.example>"

        # a new address at their identity provider is followed...
        moved = bearer(service_settings, "reviewer-9", "reviewer", name="Ade Bello", email="ade@new.example")
        followed = await client.put("/v1/me/contact/from-token", headers=moved)
        assert followed.status_code == 200 and followed.json()["email"] == "ade@new.example"
        # ...until they register one themselves, which a token never replaces
        mine = await client.put("/v1/me/contact", json={"email": "ade@home.example", "name": "Ade"},
                                headers={**moved, "If-Match": followed.headers["ETag"]})  # fmt: skip
        assert mine.status_code == 200 and mine.json()["source"] == "registered"
        kept = await client.put("/v1/me/contact/from-token", headers=moved)
        assert kept.status_code == 200 and kept.json()["email"] == "ade@home.example"

        no_email = await client.put("/v1/me/contact/from-token", headers=bearer(service_settings, "rev-x", "reviewer"))
        assert no_email.status_code == 422
        assert no_email.headers["content-type"].startswith("application/problem+json")


async def test_reminder_to_the_reviewer_and_overdue_notice_to_reviewer_and_manager_each_once(
    service_settings: Settings, bus: TestBus, running_sink: SmtpSink
) -> None:
    async with serve(build_app(service_settings)) as client:
        await programme_known(bus, client)
        reviewer = bearer(service_settings, "reviewer-4", "reviewer", name="Kim Lee", email="kim@panel.example")
        manager = bearer(service_settings, "maya", "programme_manager", name="Maya Patel", email="maya@fund.example")
        for person in (reviewer, manager):
            assert (await client.put("/v1/me/contact/from-token", headers=person)).status_code == 201

        fields = {"review_id": "rev-4", "application_id": "app-1", "programme_id": "prog-1",
                  "application_title": "Walk and talk peer support", "reviewer_id": "reviewer-4",
                  "due_date": date(2026, 12, 16)}  # fmt: skip
        reminder = ReviewReminderDue(**fields)
        await bus.publish(reminder)
        await bus.publish(reminder)  # sent again (a new event id): told once
        [reminded] = await wait_for_inbox(client, reviewer, 1)
        assert reminded["id"] == notification_id("rev-4:reminder", "reviewer-4", Template.REVIEW_REMINDER)
        assert "by Wednesday 16 December 2026" in reminded["subject"]

        await bus.publish(ReviewOverdue(**fields, manager_id="maya"))
        told = await wait_for_inbox(client, reviewer, 2)
        assert sorted(m["kind"] for m in told) == ["review_overdue", "review_reminder"]
        [noticed] = await wait_for_inbox(client, manager, 1)
        assert noticed["kind"] == "review_overdue_manager" and noticed["page"] == "/manage/applications/app-1"
        emails = await running_sink.wait_for(3)
        to = sorted(e["To"] for e in emails)
        assert to == ["Kim Lee <kim@panel.example>", "Kim Lee <kim@panel.example>", "Maya Patel <maya@fund.example>"]
        manager_text = next(e for e in emails if "maya" in e["To"]).get_body(("plain",)).get_content()
        assert "was due on Wednesday 16 December 2026" in manager_text and PROGRAMME in manager_text
        assert "reviewer-4" not in manager_text and "Kim" not in manager_text  # the application, not the person


async def test_what_waited_for_an_address_is_emailed_once_the_first_sign_in_gives_one(
    service_settings: Settings, bus: TestBus, running_sink: SmtpSink
) -> None:
    async with serve(build_app(service_settings)) as client:
        await programme_known(bus, client)
        # assigned before they ever signed in: kept in the inbox, with no address to email
        await bus.publish(review_assigned("rev-early", reviewer_id="reviewer-6"))
        signed_in = bearer(service_settings, "reviewer-6", "reviewer", name="Noor Ali", email="noor@panel.example")
        [waiting] = await wait_for_inbox(client, signed_in, 1)
        assert waiting["email"] is None
        assert (await client.put("/v1/me/contact/from-token", headers=signed_in)).status_code == 201
        await bus.wait_for(NotificationDelivered.type, channel="email", notification_id=waiting["id"])
        [email] = await running_sink.wait_for(1, address="noor@panel.example")
        assert email["To"] == "Noor Ali <noor@panel.example>" and "/reviews/rev-early" in email.get_body(
            ("plain",)).get_content()
        # a later sign-in is not a first address: nothing is sent twice
        assert (await client.put("/v1/me/contact/from-token", headers=signed_in)).status_code == 200
        await bus.publish(review_assigned("rev-later", reviewer_id="reviewer-6"))
        await running_sink.wait_for(2, address="noor@panel.example")
        await asyncio.sleep(0.5)  # several rounds of the email sender
        assert len(running_sink.to("noor@panel.example")) == 2
