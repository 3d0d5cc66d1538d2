"""Every member of a programme's decision panel is invited to a decision meeting: in their inbox,
and by email once they have an address."""

from datetime import date

from grants_shared.events import DecisionMeetingCalled, NotificationDelivered
from notifications.config import Settings
from notifications.domain import Template, notification_id
from notifications.main import build_app
from tests.integration.notifications.builders import PROGRAMME, programme_known, reviewer, wait_for_inbox
from tests.integration.notifications.conftest import SmtpSink
from tests.support.app import serve
from tests.support.bus import TestBus


async def test_each_panel_member_is_invited_once(service_settings: Settings, bus: TestBus, running_sink: SmtpSink) -> None:
    async with serve(build_app(service_settings)) as client:
        await programme_known(bus, client)
        registered = await client.put("/v1/me/contact", headers=reviewer(service_settings, "member-2"),
                                      json={"email": "bo@panel.example", "name": "Bo Smith"})  # fmt: skip
        assert registered.status_code == 201, registered.text
        called = DecisionMeetingCalled(meeting_id="mtg-7", programme_id="prog-1", held_on=date(2026, 12, 9),
                                       item_count=3, member_ids=["member-1", "member-2"])  # fmt: skip
        await bus.publish(called)
        await bus.publish(called)  # announced again (a new event id): each member is still told once

        [first] = await wait_for_inbox(client, reviewer(service_settings, "member-1"), 1)
        assert first["kind"] == "decision_meeting_invitation" and first["email"] is None
        assert first["subject"] == "You are invited to the panel's decision meeting on Wednesday 9 December 2026"
        [second] = await wait_for_inbox(client, reviewer(service_settings, "member-2"), 1)
        assert second["id"] == notification_id("mtg-7", "member-2", Template.DECISION_MEETING_INVITATION)
        await bus.wait_for(NotificationDelivered.type, channel="email", notification_id=second["id"])
        [email] = await running_sink.wait_for(1)
        assert email["To"] == "Bo Smith <bo@panel.example>"
        text = email.get_body(("plain",)).get_content()
        assert "decide 3 applications" in text and PROGRAMME in text and "/panel/meetings/mtg-7" in text
