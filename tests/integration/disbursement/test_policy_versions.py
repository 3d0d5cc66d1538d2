"""A programme's after-award settings (offer terms, monitoring policy, tranche policy) each carry an
ETag: a save naming the version it read is refused with 412 once someone else has saved since, so two
managers' edits do not silently cross. And a manager finds the grant made on an application by the
application's id, to go on to its conditions."""

from grants_shared.settings import ServiceSettings
from tests.integration.disbursement.helpers import (
    applicant, disbursement, finance, handled, offered_grant, programme_opened, tranches,
)  # fmt: skip
from tests.integration.disbursement.test_offers import manager
from tests.support.bus import TestBus

TERMS = {"template": "$programme_name offers $amount; accept by $expires_on.", "acceptance_days": 21,
         "reminder_days": 5}  # fmt: skip
MONITORING = {"points": [{"name": "midway", "due_after_days": 90}, {"name": "end", "due_after_days": 180}],
              "reminder_days": 14}  # fmt: skip
TRANCHES = {"requirements": [{"sequence": 2, "report": "midway"}]}


async def test_each_setting_is_saved_only_over_the_version_its_editor_read(
    settings: ServiceSettings, bus: TestBus
) -> None:
    async with disbursement(settings) as (client, runtime):
        await bus.publish(programme_opened(policy=tranches((5000, 0), (5000, 90))))
        await handled(runtime.db, 1)
        for path, body in (("offer-terms", TERMS), ("monitoring-policy", MONITORING), ("tranche-policy", TRANCHES)):
            url = f"/v1/programmes/prog-1/{path}"
            read = await client.get(url, headers=manager(settings))
            assert read.status_code == 200 and read.headers["etag"] == '"1"', (path, read.headers)
            first = await client.put(url, json=body, headers={**manager(settings), "If-Match": '"1"'})
            assert first.status_code == 200 and first.headers["etag"] == '"2"', (path, first.text)
            # The second editor read version 1 too: their save is refused, and nothing changes.
            stale = await client.put(url, json=body, headers={**manager(settings), "If-Match": '"1"'})
            assert stale.status_code == 412, (path, stale.text)
            assert stale.headers["content-type"] == "application/problem+json"
            assert (await client.get(url, headers=finance(settings))).headers["etag"] == '"2"'
            # Without If-Match a save still goes through (the header is optional), and moves the version on.
            later = await client.put(url, json=body, headers=manager(settings))
            assert later.status_code == 200 and later.headers["etag"] == '"3"', path
            assert (await client.put(url, json=body, headers={**manager(settings), "If-Match": '"3"'})).status_code == 200
            assert (await client.put(url, json=body, headers=finance(settings))).status_code == 403

        terms = (await client.get("/v1/programmes/prog-1/offer-terms", headers=manager(settings))).json()
        assert terms["acceptance_days"] == 21 and terms["set_by"] == "maya"


async def test_a_setting_stored_before_versions_reads_as_version_1_and_saves(
    settings: ServiceSettings, bus: TestBus
) -> None:
    async with disbursement(settings) as (client, runtime):
        await bus.publish(programme_opened())
        await handled(runtime.db, 1)
        await runtime.db.ledgers.update_one({"_id": "prog-1"}, {"$unset": {"offer_terms.version": ""}})
        url = "/v1/programmes/prog-1/offer-terms"
        assert (await client.get(url, headers=manager(settings))).headers["etag"] == '"1"'
        saved = await client.put(url, json=TERMS, headers={**manager(settings), "If-Match": '"1"'})
        assert saved.status_code == 200 and saved.headers["etag"] == '"2"', saved.text


async def test_a_manager_finds_the_grant_made_on_an_application(settings: ServiceSettings, bus: TestBus) -> None:
    async with disbursement(settings) as (client, runtime):
        await bus.publish(programme_opened(budget=5_000_000))
        await handled(runtime.db, 1)
        assert (await client.get("/v1/applications/app-1/grant", headers=manager(settings))).status_code == 404
        offer = await offered_grant(bus, "app-1", 800_000)
        found = await client.get("/v1/applications/app-1/grant", headers=manager(settings))
        assert found.status_code == 200, found.text
        assert found.json() == {"grant_id": offer.grant_id, "application_id": "app-1", "programme_id": "prog-1",
                                "status": "offered"}  # fmt: skip
        assert (await client.get("/v1/applications/app-1/grant", headers=finance(settings))).status_code == 200
        assert (await client.get("/v1/applications/app-1/grant", headers=applicant(settings))).status_code == 403
