"""Suicide-awareness training for funded groups over the real broker and database: the programme's
offer is made to each group when its grant is accepted (published); the group books places (names
optional, never published); staff record attendance; the watcher reminds a group that has not booked,
once; managers see the share of funded groups that booked and attended."""

import asyncio
import json

from grants_shared.clock import utcnow
from grants_shared.events import GroupTrainingAttended, GroupTrainingBooked, GroupTrainingOffered, GroupTrainingReminder
from grants_shared.settings import ServiceSettings
from tests.integration.disbursement.helpers import (
    ACCOUNT, OTHER_ORG, SIGNATORY, applicant, disbursement, finance, handled, offered_grant, programme_opened,
)  # fmt: skip
from tests.support.app import bearer
from tests.support.bus import TestBus

OFFER = {"course": "Suicide awareness and safety planning", "provider": "Zero Suicide Alliance",
         "places_per_group": 4, "reminder_days": 14}  # fmt: skip


def manager(settings: ServiceSettings) -> dict[str, str]:
    return bearer(settings, "maya", "programme_manager")


async def accepted_with_training(client, settings: ServiceSettings, bus: TestBus, application_id: str,
                                 organisation: str) -> dict:  # fmt: skip
    offer = await offered_grant(bus, application_id, 500_000, organisation_id=organisation)
    accepted = await client.post(f"/v1/grants/{offer.grant_id}/accept", json={"bank_account": ACCOUNT,
                                 "signatory": SIGNATORY}, headers=applicant(settings, organisation))  # fmt: skip
    assert accepted.status_code == 200, accepted.text
    [offered] = await bus.wait_for(GroupTrainingOffered.type, grant_id=offer.grant_id)
    read = await client.get(f"/v1/grants/{offer.grant_id}/training", headers=applicant(settings, organisation))
    assert read.status_code == 200, read.text
    assert read.json()["id"] == offered.data.training_id
    return read.json()


async def set_offer(client, settings: ServiceSettings, bus: TestBus, runtime) -> None:
    await bus.publish(programme_opened())
    await handled(runtime.db, 1)
    url = "/v1/programmes/prog-1/training-offer"
    assert (await client.get(url, headers=manager(settings))).json()["offer"] is None
    assert (await client.put(url, json=OFFER, headers=finance(settings))).status_code == 403
    too_many = await client.put(url, json={**OFFER, "places_per_group": 0}, headers=manager(settings))
    assert too_many.status_code == 422 and too_many.headers["content-type"] == "application/problem+json"
    done = await client.put(url, json=OFFER, headers=manager(settings))
    assert done.status_code == 200 and done.json()["offer"]["set_by"] == "maya"


async def test_groups_are_offered_training_on_acceptance_book_it_and_attendance_is_counted(
    settings: ServiceSettings, bus: TestBus
) -> None:
    async with disbursement(settings) as (client, runtime):
        await set_offer(client, settings, bus, runtime)
        first = await accepted_with_training(client, settings, bus, "app-1", "org-1")
        second = await accepted_with_training(client, settings, bus, "app-2", "org-2")
        assert (first["status"], first["places"], first["course"]) == ("offered", 4, OFFER["course"])
        [event] = bus.of_type(GroupTrainingOffered.type)[:1]
        assert event.data.places == 4 and event.data.provider == "Zero Suicide Alliance"

        booking = f"/v1/training/{first['id']}/booking"
        assert (await client.post(booking, json={"attendees": 2}, headers=applicant(settings, OTHER_ORG))).status_code == 404
        over = await client.post(booking, json={"attendees": 5}, headers=applicant(settings, "org-1"))
        assert over.status_code == 422 and "4 places" in over.json()["detail"]
        names = await client.post(booking, json={"attendees": 1, "names": ["Ann", "Bo"]}, headers=applicant(settings, "org-1"))
        assert names.status_code == 422
        early = await client.post(f"/v1/training/{first['id']}/attendance", json={"attended": 1}, headers=manager(settings))
        assert early.status_code == 409  # nothing booked yet
        booked = await client.post(booking, json={"attendees": 3, "names": ["Ann Okafor", "Bo Lee"]},
                                   headers=applicant(settings, "org-1"))  # fmt: skip
        assert booked.status_code == 200, booked.text
        assert booked.json()["status"] == "booked" and booked.json()["names"] == ["Ann Okafor", "Bo Lee"]
        [published] = await bus.wait_for(GroupTrainingBooked.type, training_id=first["id"])
        assert published.data.attendees == 3
        assert "Ann Okafor" not in json.dumps(published.data.model_dump(mode="json"))  # no names on the bus
        stale = await client.post(booking, json={"attendees": 2}, headers={**applicant(settings, "org-1"), "If-Match": '"1"'})
        assert stale.status_code == 412

        attendance = f"/v1/training/{first['id']}/attendance"
        assert (await client.post(attendance, json={"attended": 2}, headers=applicant(settings, "org-1"))).status_code == 403
        assert (await client.post(attendance, json={"attended": 4}, headers=manager(settings))).status_code == 422
        attended = await client.post(attendance, json={"attended": 2}, headers=finance(settings))
        assert attended.status_code == 200 and attended.json()["status"] == "attended"
        await bus.wait_for(GroupTrainingAttended.type, training_id=first["id"])
        assert (await client.post(booking, json={"attendees": 1}, headers=applicant(settings, "org-1"))).status_code == 409

        share = await client.get("/v1/programmes/prog-1/training-share", headers=manager(settings))
        assert share.status_code == 200
        assert share.json() == {"programme_id": "prog-1", "funded_groups": 2, "booked": 1, "attended": 1,
                                "booked_percent": 50, "attended_percent": 50}  # fmt: skip
        assert (await client.get("/v1/programmes/prog-1/training-share",
                                 headers=applicant(settings, "org-1"))).status_code == 403  # fmt: skip
        listed = await client.get("/v1/programmes/prog-1/training", headers=manager(settings))
        assert listed.status_code == 200 and listed.json()["total"] == 2
        assert {t["id"]: t["status"] for t in listed.json()["items"]} == {first["id"]: "attended", second["id"]: "offered"}


async def test_a_group_that_has_not_booked_is_reminded_once(settings: ServiceSettings, bus: TestBus) -> None:
    async with disbursement(settings, offer_poll_seconds=0.1) as (client, runtime):
        await set_offer(client, settings, bus, runtime)
        quiet = await accepted_with_training(client, settings, bus, "app-1", "org-1")
        keen = await accepted_with_training(client, settings, bus, "app-2", "org-2")
        await asyncio.sleep(0.3)
        assert bus.of_type(GroupTrainingReminder.type) == []  # not due for a fortnight
        assert (await client.post(f"/v1/training/{keen['id']}/booking", json={"attendees": 4},
                                  headers=applicant(settings, "org-2"))).status_code == 200  # fmt: skip
        now = utcnow()
        await runtime.db.group_training.update_many({}, {"$set": {"remind_at": now}})
        [reminder] = await bus.wait_for(GroupTrainingReminder.type, training_id=quiet["id"])
        assert reminder.data.places == 4 and reminder.data.course == OFFER["course"]
        await asyncio.sleep(0.5)  # several more rounds of the watcher
        assert len(bus.of_type(GroupTrainingReminder.type)) == 1  # once, and not to the group that booked
        seen = (await client.get(f"/v1/grants/{quiet['grant_id']}/training", headers=applicant(settings, "org-1"))).json()
        assert seen["reminded_at"] is not None


async def test_attendees_names_go_when_the_application_is_anonymised(settings: ServiceSettings, bus: TestBus) -> None:
    from disbursement import commands

    async with disbursement(settings) as (client, runtime):
        await set_offer(client, settings, bus, runtime)
        training = await accepted_with_training(client, settings, bus, "app-1", "org-1")
        assert (await client.post(f"/v1/training/{training['id']}/booking", json={"attendees": 2, "names": ["Ann"]},
                                  headers=applicant(settings, "org-1"))).status_code == 200  # fmt: skip
        await runtime.database.transact(lambda tx: commands.anonymise_application(tx, "app-1"))
        kept = await runtime.db.group_training.find_one({"_id": training["id"]})
        assert kept["booking"]["names"] == [] and kept["booking"]["attendees"] == 2
