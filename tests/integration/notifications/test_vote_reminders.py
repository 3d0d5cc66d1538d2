"""A member present at a decision meeting who has still to record recommendations is reminded once
per meeting, in their inbox and by email, with how many applications await them and a link to the
meeting's page; the reminder is kept apart from the invitation to the same meeting."""

import asyncio
from datetime import date

from grants_shared.events import DecisionMeetingCalled, MeetingVoteReminder, NotificationDelivered
from notifications.config import Settings
from notifications.domain import Template, notification_id
from notifications.main import build_app
from tests.integration.notifications.builders import PROGRAMME, programme_known, reviewer, wait_for_inbox
from tests.integration.notifications.conftest import SmtpSink
from tests.support.app import serve
from tests.support.bus import TestBus


async def test_a_member_is_reminded_of_the_votes_they_owe_once(
    service_settings: Settings, bus: TestBus, running_sink: SmtpSink
) -> None:
    async with serve(build_app(service_settings)) as client:
        await programme_known(bus, client)
        member = reviewer(service_settings, "member-3")
        registered = await client.put("/v1/me/contact", headers=member,
                                      json={"email": "cy@panel.example", "name": "Cy Jones"})  # fmt: skip
        assert registered.status_code == 201, registered.text
        await bus.publish(DecisionMeetingCalled(meeting_id="mtg-8", programme_id="prog-1", held_on=date(2026, 12, 9),
                                                item_count=3, member_ids=["member-3"]))  # fmt: skip
        await wait_for_inbox(client, member, 1)

        reminder = MeetingVoteReminder(meeting_id="mtg-8", programme_id="prog-1", held_on=date(2026, 12, 9),
                                       member_id="member-3", items_awaiting=2)  # fmt: skip
        await bus.publish(reminder)
        await bus.publish(reminder)  # sent again (a new event id): reminded once
        told = await wait_for_inbox(client, member, 2)
        assert sorted(m["kind"] for m in told) == ["decision_meeting_invitation", "meeting_vote_reminder"]
        reminded = next(m for m in told if m["kind"] == "meeting_vote_reminder")
        assert reminded["id"] == notification_id("mtg-8:vote_reminder", "member-3", Template.MEETING_VOTE_REMINDER)
        assert reminded["subject"] == "Reminder: 2 applications still await your recommendation"
        assert reminded["page"] == "/panel/meetings/mtg-8"
        await bus.wait_for(NotificationDelivered.type, channel="email", notification_id=reminded["id"])
        emails = await running_sink.wait_for(2, address="cy@panel.example")
        email = next(e for e in emails if e["Subject"].startswith("Reminder"))
        assert email["To"] == "Cy Jones <cy@panel.example>"
        text = email.get_body(("plain",)).get_content()
        assert "on Wednesday 9 December 2026" in text and PROGRAMME in text and "/panel/meetings/mtg-8" in text
        await asyncio.sleep(0.5)  # several rounds of the email sender
        assert len(running_sink.to("cy@panel.example")) == 2
        assert len(await wait_for_inbox(client, member, 2)) == 2
