"""The audit trail of an application in one service, and what the outbox keeps once it has published."""

import asyncio

from grants_shared.events import ApplicationSubmitted, ApplicationWithdrawn
from tests.integration.applications.conftest import Running
from tests.integration.applications.support import applicant, manager, submitted_application
from tests.support.bus import TestBus


async def _published(service: Running, event_id: str) -> dict:
    for _ in range(100):
        entry = await service.db.outbox.find_one({"_id": event_id})
        if entry and entry["published_at"] is not None:
            return entry
        await asyncio.sleep(0.05)
    raise AssertionError(f"{event_id} was never published")


async def test_a_manager_reads_every_change_in_order_with_who_asked(service: Running, bus: TestBus) -> None:
    http, settings = service.http, service.settings
    programme, application = await submitted_application(http, settings)
    url = f"/v1/applications/{application['id']}"
    withdrawn = await http.post(f"{url}/withdraw", json={"reason": "Another funder said yes."},
                                headers=applicant(settings, "org-shed"))  # fmt: skip
    assert withdrawn.status_code == 200, withdrawn.text
    await bus.wait_for(ApplicationWithdrawn.type)

    answer = await http.get(f"/v1/audit/applications/{application['id']}", headers=manager(settings))
    assert answer.status_code == 200, answer.text
    trail = answer.json()
    assert trail["service"] == "applications" and trail["complete"] is True
    kinds = [entry["type"] for entry in trail["entries"]]
    assert kinds == [ApplicationSubmitted.type, ApplicationWithdrawn.type]
    assert [entry["at"] for entry in trail["entries"]] == sorted(entry["at"] for entry in trail["entries"])
    assert {entry["actor"] for entry in trail["entries"]} == {"person-amara"}, "the applicant asked for both"
    assert trail["entries"][0]["what"].startswith("An eligible application was submitted")

    # Another application's story is not in it, and nobody but managers may read it.
    assert (await http.get("/v1/audit/applications/app-unknown", headers=manager(settings))).json()["entries"] == []
    refused = await http.get(f"/v1/audit/applications/{application['id']}", headers=applicant(settings, "org-shed"))
    assert refused.status_code == 403 and refused.headers["content-type"] == "application/problem+json"


async def test_a_published_entry_keeps_no_personal_data(service: Running, bus: TestBus) -> None:
    http, settings = service.http, service.settings
    _, application = await submitted_application(http, settings)
    delivered = (await bus.wait_for(ApplicationSubmitted.type))[0]
    assert delivered.data.summary and delivered.data.contact.email, "consumers get what they need"

    entry = await _published(service, delivered.id)
    assert entry["data"]["application_id"] == application["id"] and entry["data"]["title"]
    assert "summary" not in entry["data"] and "contact" not in entry["data"]
    assert entry["actor"] == "person-amara" and entry["type"] == ApplicationSubmitted.type
