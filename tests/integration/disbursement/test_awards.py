"""Awards become grant offers, reserved in the programme's budget ledger, never over-committed."""

import asyncio
import logging

import pytest

from disbursement.handlers import on_application_decided_v2
from grants_shared.events import ApplicationDecided, DecidedBy, Event, GrantOffered
from grants_shared.settings import ServiceSettings
from tests.integration.disbursement.helpers import (
    awarded,
    declined,
    disbursement,
    finance,
    gbp,
    handled,
    offered_grant,
    programme_opened,
    statement,
    tranches,
)
from tests.support.app import bearer
from tests.support.bus import TestBus
from tests.support.waiting import eventually


async def test_an_award_becomes_an_offer_with_its_payment_schedule(settings: ServiceSettings, bus: TestBus) -> None:
    async with disbursement(settings) as (client, runtime):
        await bus.publish(programme_opened(budget=5_000_000, policy=tranches((5_000, 0), (3_000, 90), (2_000, 180))))
        offer = await offered_grant(bus, "app-1", 1_000_001)

        assert offer.amount == gbp(1_000_001)
        assert [(s.sequence, s.amount.amount, s.due_after_days) for s in offer.schedule] == [
            (1, 500_000, 0), (2, 300_000, 90), (3, 200_001, 180)]

        ledger = await statement(client, settings)
        assert ledger["budget"] == {"amount": 5_000_000, "currency": "GBP"}
        assert ledger["reserved"]["amount"] == 1_000_001
        assert ledger["available"]["amount"] == 3_999_999
        assert ledger["paid"]["amount"] == 0

        grant = (await client.get(f"/v1/grants/{offer.grant_id}", headers=finance(settings))).json()
        assert grant["status"] == "offered" and grant["application_id"] == "app-1"
        assert grant["bank_account"] is None and grant["payments"] == []


async def test_an_award_in_the_retired_v1_contract_is_still_offered(settings: ServiceSettings, bus: TestBus) -> None:
    # Scoring publishes application.decided.v2 now; v1 events queued before an upgrade are not lost.
    v2 = awarded("app-v1", 150_000)
    v1 = ApplicationDecided(
        **v2.model_dump(exclude={"decided_by"}), decided_by=DecidedBy(recorded_by="pm-1", panel=["rev-1"])
    )
    async with disbursement(settings) as (client, runtime):
        await bus.publish(programme_opened())
        await bus.publish(v1)
        [offer] = await bus.wait_for(GrantOffered.type, application_id="app-v1")
        assert offer.data.amount == gbp(150_000)


async def test_a_decision_announced_twice_makes_one_grant(settings: ServiceSettings, bus: TestBus) -> None:
    async with disbursement(settings) as (client, runtime):
        await bus.publish(programme_opened())
        await offered_grant(bus, "app-dup", 200_000)
        await bus.publish(awarded("app-dup", 200_000))  # a new event id: only the grant's uniqueness stops it
        await handled(runtime.db, 3)
        await asyncio.sleep(0.3)

        assert len(bus.of_type(GrantOffered.type)) == 1
        assert await runtime.db.grants.count_documents({"application_id": "app-dup"}) == 1
        ledger = await statement(client, settings)
        assert ledger["reserved"]["amount"] == 200_000


async def test_a_declined_application_creates_nothing(settings: ServiceSettings, bus: TestBus) -> None:
    async with disbursement(settings) as (client, runtime):
        await bus.publish(programme_opened())
        await bus.publish(declined("app-no"))
        await handled(runtime.db, 2)
        assert await runtime.db.grants.count_documents({}) == 0
        assert bus.of_type(GrantOffered.type) == []


async def test_an_award_the_budget_cannot_cover_is_held_for_finance_and_offers_nothing(
    settings: ServiceSettings, bus: TestBus
) -> None:
    async with disbursement(settings) as (client, runtime):
        await bus.publish(programme_opened(budget=300_000))
        await bus.publish(awarded("app-big", 300_001))
        await handled(runtime.db, 2)
        await asyncio.sleep(0.3)

        held = (await client.get("/v1/grants", params={"status": "held"}, headers=finance(settings))).json()["items"]
        assert [(g["application_id"], g["held_reason"], g["schedule"]) for g in held] == [("app-big", "budget", [])]
        assert bus.of_type(GrantOffered.type) == []
        ledger = await statement(client, settings)
        assert (ledger["reserved"]["amount"], ledger["available"]["amount"]) == (0, 300_000)


async def test_an_award_in_another_currency_is_held_and_reserves_nothing(settings: ServiceSettings, bus: TestBus) -> None:
    async with disbursement(settings) as (client, runtime):
        await bus.publish(programme_opened(budget=300_000))
        await bus.publish(awarded("app-eur", 1_000, currency="EUR"))
        await handled(runtime.db, 2)
        grant = await runtime.db.grants.find_one({"application_id": "app-eur"})
        assert (grant["status"], grant["held_reason"]) == ("held", "currency")
        assert (await statement(client, settings))["reserved"]["amount"] == 0


async def test_concurrent_awards_that_together_exceed_the_budget_reserve_only_what_fits(
    settings: ServiceSettings, bus: TestBus
) -> None:
    async with disbursement(settings) as (client, runtime):
        await bus.publish(programme_opened(budget=1_000_000))
        await handled(runtime.db, 1)
        decisions = [awarded("app-a", 600_000), awarded("app-b", 600_000), awarded("app-c", 600_000)]
        events = [Event.new(d, source="/grants/scoring") for d in decisions]

        await asyncio.gather(*(
            runtime.database.transact(lambda tx, e=e: on_application_decided_v2(e, tx)) for e in events
        ))

        statuses = sorted(g["status"] for g in await runtime.db.grants.find({}).to_list(None))
        assert statuses == ["held", "held", "offered"]
        ledger = await statement(client, settings)
        assert (ledger["reserved"]["amount"], ledger["available"]["amount"]) == (600_000, 400_000)
        await bus.wait_for(GrantOffered.type)
        await asyncio.sleep(0.3)
        assert len(bus.of_type(GrantOffered.type)) == 1


async def test_a_decision_that_overtakes_its_programme_is_retried_until_the_programme_opens(
    settings: ServiceSettings, bus: TestBus, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)  # an event that waits for its programme is expected, not an error
    async with disbursement(settings) as (client, runtime):
        await bus.publish(awarded("app-early", 100_000))

        async def refused_once() -> bool:
            return "prog-1 has not been opened here yet" in caplog.text

        await eventually(refused_once)
        assert await runtime.db.grants.count_documents({}) == 0
        await bus.publish(programme_opened())
        [offer] = await bus.wait_for(GrantOffered.type, application_id="app-early")
        assert offer.data.amount == gbp(100_000)
        assert await bus.dead_letters("disbursement", expect=1, timeout=0.5) == []


async def test_who_may_see_grants_and_ledgers(settings: ServiceSettings, bus: TestBus) -> None:
    async with disbursement(settings) as (client, runtime):
        await bus.publish(programme_opened())
        await bus.publish(programme_opened("prog-2"))
        mine = await offered_grant(bus, "app-mine", 100_000)
        theirs = await offered_grant(bus, "app-theirs", 100_000, programme_id="prog-2", organisation_id="org-other")

        reviewer = bearer(settings, "rev-1", "reviewer")
        assert (await client.get("/v1/grants", headers=reviewer)).status_code == 403
        assert (await client.get(f"/v1/grants/{mine.grant_id}", headers=reviewer)).status_code == 403
        assert (await client.get("/v1/payments", headers=reviewer)).status_code == 403
        assert (await client.get("/v1/programmes/prog-1/ledger", headers=reviewer)).status_code == 403
        none = await client.get("/v1/grants")
        assert none.status_code == 401
        assert none.headers["content-type"] == "application/problem+json"

        own = bearer(settings, "ann", "applicant", organisations=("org-hope-street",))
        listed = (await client.get("/v1/grants", headers=own)).json()["items"]
        assert [g["id"] for g in listed] == [mine.grant_id]
        assert (await client.get(f"/v1/grants/{theirs.grant_id}", headers=own)).status_code == 404
        assert (await client.get("/v1/payments", headers=own)).status_code == 403

        everything = (await client.get("/v1/grants", headers=finance(settings))).json()["items"]
        assert {g["id"] for g in everything} == {mine.grant_id, theirs.grant_id}
        by_programme = (await client.get("/v1/grants", params={"programme_id": "prog-2"},
                                         headers=finance(settings))).json()["items"]
        assert [g["id"] for g in by_programme] == [theirs.grant_id]

        manager = bearer(settings, "pm-1", "programme_manager")
        assert (await client.get("/v1/programmes/prog-2/ledger", headers=manager)).status_code == 200
        assert (await client.get("/v1/grants", headers=manager)).status_code == 403
        missing = await client.get("/v1/programmes/nope/ledger", headers=manager)
        assert missing.status_code == 404 and missing.headers["content-type"] == "application/problem+json"


async def test_grants_and_payments_come_in_pages(settings: ServiceSettings, bus: TestBus) -> None:
    async with disbursement(settings) as (client, runtime):
        await bus.publish(programme_opened())
        offers = [await offered_grant(bus, f"app-{n}", 100_000) for n in range(3)]

        first = (await client.get("/v1/grants", params={"limit": 2}, headers=finance(settings))).json()
        rest = (await client.get("/v1/grants", params={"limit": 2, "offset": 2}, headers=finance(settings))).json()
        assert (first["limit"], first["offset"], rest["limit"], rest["offset"]) == (2, 0, 2, 2)
        assert (first["total"], rest["total"]) == (3, 3)
        assert len(first["items"]) == 2 and len(rest["items"]) == 1
        assert sorted(g["id"] for g in first["items"] + rest["items"]) == sorted(o.grant_id for o in offers)
        payments = (await client.get("/v1/payments", params={"offset": 5}, headers=finance(settings))).json()
        assert payments == {"items": [], "limit": 100, "offset": 5, "total": 0}
        at_the_cap = await client.get("/v1/grants", params={"offset": 10_000}, headers=finance(settings))
        assert at_the_cap.status_code == 200 and at_the_cap.json()["items"] == []

        for path in ("/v1/grants", "/v1/payments"):
            for params in ({"limit": 0}, {"limit": 201}, {"limit": "ten"}, {"offset": -1}, {"offset": 10_001},
                           {"offset": 100_001}, {"offset": 10**30}, {"status": "stolen"}):
                response = await client.get(path, params=params, headers=finance(settings))
                assert response.status_code == 422, (path, params)
                assert response.headers["content-type"] == "application/problem+json"
