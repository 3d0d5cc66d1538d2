"""Training for funded groups as the group hears of it: places offered (course, provider, how many)
and, if it has not booked, one reminder; each told once, linking to the booking page."""

import asyncio

from grants_shared.events import GroupTrainingAttended, GroupTrainingBooked, GroupTrainingOffered, GroupTrainingReminder
from notifications.config import Settings
from notifications.main import build_app
from tests.integration.notifications.builders import applicant, programme_known, submitted, wait_for_inbox
from tests.integration.notifications.conftest import SmtpSink
from tests.support.app import serve
from tests.support.bus import TestBus

IDS = {"training_id": "gtr-1", "grant_id": "grant-9", "application_id": "app-1"}
COURSE = "Suicide awareness and safety planning"


async def test_the_group_hears_of_its_training_places_and_is_reminded_once(
    service_settings: Settings, bus: TestBus, running_sink: SmtpSink
) -> None:
    async with serve(build_app(service_settings)) as client:
        owner = applicant(service_settings)
        await programme_known(bus, client)
        await bus.publish(submitted())
        await wait_for_inbox(client, owner, 1)
        offered = GroupTrainingOffered(**IDS, programme_id="prog-1", course=COURSE, provider="Zero Suicide Alliance",
                                       places=4)  # fmt: skip
        await bus.publish(offered)
        await wait_for_inbox(client, owner, 2)
        reminder = GroupTrainingReminder(**IDS, course=COURSE, places=4)
        await bus.publish(reminder)
        await wait_for_inbox(client, owner, 3)
        await bus.publish(reminder.model_copy())  # the same reminder again (a new event id): told once
        await bus.publish(GroupTrainingBooked(**IDS, programme_id="prog-1", attendees=3))
        await bus.publish(GroupTrainingAttended(**IDS, programme_id="prog-1", attended=3))
        await asyncio.sleep(0.5)

        items = await wait_for_inbox(client, owner, 3)
        assert len(items) == 3
        assert [i["kind"] for i in items[:2]] == ["group_training_reminder", "group_training_offered"]
        texts = [(await client.get(f"/v1/inbox/{i['id']}", headers=owner)).json()["text"] for i in items[:2]]
        assert "only reminder" in texts[0]
        assert "4 free places" in texts[1] and "Zero Suicide Alliance" in texts[1]
        assert "http://localhost:8000/grants/grant-9/training" in texts[1]
