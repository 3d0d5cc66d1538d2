"""Vote reminders: once a decision meeting's day has come, each member present, not recused and
allowed to vote who has still to record a recommendation on an open item is reminded once for the
meeting, with how many items await them; a member who has voted on everything is not."""

import asyncio
import json
from datetime import timedelta

from grants_shared.clock import utcnow
from grants_shared.events import ApplicationScored, DecisionMeetingCalled, MeetingVoteReminder
from grants_shared.settings import ServiceSettings
from tests.integration.scoring.helpers import running_scoring
from tests.integration.scoring.test_meetings import MAJORITY, PRESENT
from tests.support.bus import TestBus


async def test_members_who_have_not_voted_are_reminded_once_and_those_who_voted_are_not(
    settings: ServiceSettings, bus: TestBus
) -> None:
    async with running_scoring(settings, bus, vote_watch_seconds=0.1, vote_reminder_hours=12) as scoring:
        await scoring.open_programme("prog-vr", panel=["rev-a", "rev-b"], k=1, budget=10_000, maximum_award=5_000)
        assert (await scoring.rule("prog-vr", MAJORITY)).status_code == 200
        await scoring.scored_application("app-v1", "prog-vr", "org-v1", "rev-a", requested=4_000)
        await scoring.scored_application("app-v2", "prog-vr", "org-v2", "rev-a", requested=2_000)
        await scoring.bus.wait_for(ApplicationScored.type, 2)
        declared = await scoring.http.post(  # rev-c is recused from the second item
            "/v1/conflicts", json={"organisation_id": "org-v2", "reason": "I volunteer there"},
            headers=scoring.reviewer("rev-c"),
        )
        assert declared.status_code == 201, declared.text
        held_on = (utcnow() + timedelta(days=7)).date()
        called = await scoring.http.post("/v1/programmes/prog-vr/meetings", headers=scoring.manager, json={
            "held_on": held_on.isoformat(), "application_ids": ["app-v1", "app-v2"],
            "attendance": [m for m in PRESENT if m != "rev-b"],  # rev-b sends apologies
        })  # fmt: skip
        assert called.status_code == 201, called.text
        meeting_id = called.json()["id"]
        await bus.wait_for(DecisionMeetingCalled.type, meeting_id=meeting_id)
        stored = await scoring.db.meetings.find_one({"_id": meeting_id})
        assert stored["vote_reminder_at"].date() == held_on and stored["vote_reminder_at"].hour == 12
        await asyncio.sleep(0.4)  # the watcher's rounds: the day has not come
        assert bus.of_type(MeetingVoteReminder.type) == []

        for application_id in ("app-v1", "app-v2"):  # rev-a votes on everything
            voted = await scoring.http.put(
                f"/v1/meetings/{meeting_id}/items/{application_id}/recommendation", json={"recommendation": "fund"},
                headers=scoring.reviewer("rev-a"),
            )
            assert voted.status_code == 200, voted.text
        voted = await scoring.http.put(  # staff-1 on one item of two
            f"/v1/meetings/{meeting_id}/items/app-v1/recommendation", json={"recommendation": "abstain"},
            headers=scoring.reviewer("staff-1"),
        )
        assert voted.status_code == 200, voted.text
        etag = (await scoring.http.get(f"/v1/meetings/{meeting_id}", headers=scoring.manager)).headers["ETag"]

        await scoring.db.meetings.update_one({"_id": meeting_id}, {"$set": {"vote_reminder_at": utcnow()}})
        reminders = await bus.wait_for(MeetingVoteReminder.type, 2, meeting_id=meeting_id)
        await asyncio.sleep(0.5)  # several more rounds of the watcher: nobody is reminded twice
        reminders = [e for e in bus.of_type(MeetingVoteReminder.type) if e.data.meeting_id == meeting_id]
        # rev-c may vote only on the first item (recused from the second); rev-b was absent
        assert sorted((e.data.member_id, e.data.items_awaiting) for e in reminders) == [("rev-c", 1), ("staff-1", 1)]
        assert all(e.data.held_on == held_on and e.data.programme_id == "prog-vr" for e in reminders)
        assert "vote_reminder_at" not in await scoring.db.meetings.find_one({"_id": meeting_id})
        published = json.dumps([e.data.model_dump(mode="json") for e in reminders])
        assert "rev-a" not in published and "rev-b" not in published  # only each reminder's own recipient
        # the watcher leaves the meeting's version alone: the manager's If-Match still holds
        attendance = await scoring.http.put(
            f"/v1/meetings/{meeting_id}/attendance", json={"member_ids": PRESENT},
            headers={**scoring.manager, "If-Match": etag},
        )
        assert attendance.status_code == 200, attendance.text


async def test_a_meeting_whose_items_are_all_voted_on_reminds_nobody(settings: ServiceSettings, bus: TestBus) -> None:
    async with running_scoring(settings, bus, vote_watch_seconds=0.1) as scoring:
        await scoring.open_programme("prog-vn", panel=["rev-a", "rev-b"], k=1, budget=10_000, maximum_award=5_000)
        assert (await scoring.rule("prog-vn", MAJORITY)).status_code == 200
        await scoring.scored_application("app-n1", "prog-vn", "org-n1", "rev-a", requested=1_000)
        await scoring.bus.wait_for(ApplicationScored.type, application_id="app-n1")
        called = await scoring.http.post("/v1/programmes/prog-vn/meetings", headers=scoring.manager, json={
            "held_on": (utcnow() + timedelta(days=3)).date().isoformat(), "application_ids": ["app-n1"],
            "attendance": PRESENT,
        })  # fmt: skip
        assert called.status_code == 201, called.text
        meeting_id = called.json()["id"]
        for member in PRESENT:
            voted = await scoring.http.put(
                f"/v1/meetings/{meeting_id}/items/app-n1/recommendation", json={"recommendation": "fund"},
                headers=scoring.reviewer(member),
            )
            assert voted.status_code == 200, voted.text
        await scoring.db.meetings.update_one({"_id": meeting_id}, {"$set": {"vote_reminder_at": utcnow()}})
        await scoring.eventually(
            lambda: scoring.db.meetings.find_one({"_id": meeting_id, "vote_reminder_at": {"$exists": False}})
        )
        await asyncio.sleep(0.3)
        assert [e for e in bus.of_type(MeetingVoteReminder.type) if e.data.meeting_id == meeting_id] == []
