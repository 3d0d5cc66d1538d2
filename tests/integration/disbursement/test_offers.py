"""Offers with terms: filled in from the programme's template, open for an acceptance window, accepted
by a named signatory or declined with a reason; declining or lapsing gives the reservation back to the
budget and is published; the grantee is reminded once before the window closes."""

import asyncio
from datetime import timedelta

from grants_shared.clock import utcnow
from grants_shared.events import GrantOfferDeclined, GrantOfferExpired, GrantOfferReminder
from grants_shared.settings import ServiceSettings
from tests.integration.disbursement.helpers import (
    ACCOUNT,
    SIGNATORY,
    applicant,
    disbursement,
    finance,
    handled,
    offered_grant,
    programme_opened,
    statement,
)
from tests.support.app import bearer
from tests.support.bus import TestBus
from tests.support.waiting import eventually

TERMS = "$programme_name offers $amount, paid $schedule, reference $grant_reference; accept by $expires_on."


def manager(settings: ServiceSettings) -> dict[str, str]:
    return bearer(settings, "maya", "programme_manager")


async def test_an_offer_carries_the_programme_s_terms_filled_in_and_its_window(
    settings: ServiceSettings, bus: TestBus
) -> None:
    async with disbursement(settings) as (client, runtime):
        await bus.publish(programme_opened(budget=5_000_000))
        await handled(runtime.db, 1)
        url = "/v1/programmes/prog-1/offer-terms"
        defaults = await client.get(url, headers=finance(settings))
        assert defaults.status_code == 200 and defaults.json()["acceptance_days"] == 28

        body = {"template": TERMS, "acceptance_days": 14, "reminder_days": 3}
        assert (await client.put(url, json=body, headers=applicant(settings))).status_code == 403
        assert (await client.put(url, json=body, headers=finance(settings))).status_code == 403
        for bad in ({**body, "template": "Pay $amount to $bank"}, {**body, "reminder_days": 14},
                    {**body, "template": "Costs $5"}):  # fmt: skip
            refused = await client.put(url, json=bad, headers=manager(settings))
            assert refused.status_code == 422, refused.text
            assert refused.headers["content-type"] == "application/problem+json"
        set_terms = await client.put(url, json=body, headers=manager(settings))
        assert set_terms.status_code == 200 and set_terms.json()["set_by"] == "maya"

        offer = await offered_grant(bus, "app-1", 800_000)
        grant = (await client.get(f"/v1/grants/{offer.grant_id}", headers=applicant(settings))).json()
        reference = "GRANT-" + offer.grant_id.replace("-", "")[:8].upper()
        assert grant["terms"].startswith("Community suicide prevention 2026 offers £8,000.00, paid in one payment")
        assert reference in grant["terms"] and "$" not in grant["terms"]
        assert offer.expires_at is not None and grant["expires_at"].startswith(offer.expires_at.date().isoformat())
        days_open = (offer.expires_at.date() - utcnow().date()).days
        assert days_open == 15  # today and the 14 whole days after it


async def test_the_signatory_accepting_is_recorded_who_and_when(settings: ServiceSettings, bus: TestBus) -> None:
    async with disbursement(settings) as (client, runtime):
        await bus.publish(programme_opened())
        offer = await offered_grant(bus, "app-1", 200_000)
        url = f"/v1/grants/{offer.grant_id}/accept"
        unsigned = await client.post(url, json={"bank_account": ACCOUNT}, headers=applicant(settings))
        assert unsigned.status_code == 422
        accepted = await client.post(url, json={"bank_account": ACCOUNT, "signatory": SIGNATORY},
                                     headers=applicant(settings))  # fmt: skip
        assert accepted.status_code == 200, accepted.text
        body = accepted.json()
        assert body["signatory"] == SIGNATORY and body["accepted_at"] and body["status"] == "accepted"
        assert [h["action"] for h in body["history"]] == ["accepted"] and body["history"][0]["by"] == "ann"


async def test_declining_frees_the_reservation_and_is_published(settings: ServiceSettings, bus: TestBus) -> None:
    async with disbursement(settings) as (client, runtime):
        await bus.publish(programme_opened(budget=1_000_000))
        offer = await offered_grant(bus, "app-1", 300_000)
        assert (await statement(client, settings))["available"]["amount"] == 700_000
        url = f"/v1/grants/{offer.grant_id}/decline"
        body = {"signatory": SIGNATORY, "reason": "Our volunteers have moved on"}
        assert (await client.post(url, json={"signatory": SIGNATORY}, headers=applicant(settings))).status_code == 422
        assert (await client.post(url, json=body, headers=finance(settings))).status_code == 403
        assert (await client.post(url, json=body, headers=applicant(settings, "org-other"))).status_code == 404

        declined = await client.post(url, json=body, headers=applicant(settings))
        assert declined.status_code == 200, declined.text
        grant = declined.json()
        assert grant["status"] == "declined" and grant["declined_reason"] == "Our volunteers have moved on"
        assert grant["signatory"] == SIGNATORY and grant["closed_at"]
        ledger = await statement(client, settings)
        assert ledger["available"]["amount"] == 1_000_000 and ledger["reserved"]["amount"] == 0

        [event] = await bus.wait_for(GrantOfferDeclined.type, grant_id=offer.grant_id)
        assert event.data.released.amount == 300_000 and event.data.reason == "Our volunteers have moved on"
        again = await client.post(url, json=body, headers=applicant(settings))
        accept = await client.post(f"/v1/grants/{offer.grant_id}/accept",
                                   json={"bank_account": ACCOUNT, "signatory": SIGNATORY}, headers=applicant(settings))
        assert again.status_code == 409 and accept.status_code == 409
        await asyncio.sleep(0.3)
        assert len(bus.of_type(GrantOfferDeclined.type)) == 1
        assert (await statement(client, settings))["available"]["amount"] == 1_000_000  # released once


async def test_an_offer_past_its_window_cannot_be_accepted_and_lapses_freeing_its_money(
    settings: ServiceSettings, bus: TestBus
) -> None:
    async with disbursement(settings, offer_poll_seconds=3600) as (client, runtime):
        await bus.publish(programme_opened(budget=1_000_000))
        offer = await offered_grant(bus, "app-1", 400_000)
        # The window closed a moment ago (as if 28 days had gone by); the watcher has not run yet.
        await runtime.db.grants.update_one({"_id": offer.grant_id}, {"$set": {"expires_at": utcnow() - timedelta(seconds=1)}})
        late = await client.post(f"/v1/grants/{offer.grant_id}/accept",
                                 json={"bank_account": ACCOUNT, "signatory": SIGNATORY}, headers=applicant(settings))
        assert late.status_code == 409 and "expired" in late.json()["detail"]
        assert (await statement(client, settings))["available"]["amount"] == 600_000

    async with disbursement(settings, offer_poll_seconds=0.1) as (client, runtime):
        [expired] = await bus.wait_for(GrantOfferExpired.type, grant_id=offer.grant_id)
        assert expired.data.released.amount == 400_000
        grant = (await client.get(f"/v1/grants/{offer.grant_id}", headers=finance(settings))).json()
        assert grant["status"] == "expired" and grant["history"][-1]["action"] == "expired"
        ledger = await statement(client, settings)
        assert ledger["available"]["amount"] == 1_000_000 and ledger["reserved"]["amount"] == 0
        await asyncio.sleep(0.5)  # several more rounds of the watcher
        assert len(bus.of_type(GrantOfferExpired.type)) == 1
        assert (await statement(client, settings))["available"]["amount"] == 1_000_000


async def test_the_grantee_is_reminded_once_before_the_window_closes(settings: ServiceSettings, bus: TestBus) -> None:
    async with disbursement(settings, offer_poll_seconds=0.1) as (client, runtime):
        await bus.publish(programme_opened())
        offer = await offered_grant(bus, "app-1", 100_000)
        reminded_later = await runtime.db.grants.find_one({"_id": offer.grant_id})
        assert reminded_later["remind_at"] == reminded_later["expires_at"] - timedelta(days=7)
        await asyncio.sleep(0.3)
        assert bus.of_type(GrantOfferReminder.type) == []  # not yet due

        await runtime.db.grants.update_one({"_id": offer.grant_id}, {"$set": {"remind_at": utcnow()}})
        [reminder] = await bus.wait_for(GrantOfferReminder.type, grant_id=offer.grant_id)
        assert reminder.data.expires_at == offer.expires_at and reminder.data.amount.amount == 100_000
        await asyncio.sleep(0.5)
        assert len(bus.of_type(GrantOfferReminder.type)) == 1

        async def still_open() -> bool:
            grant = (await client.get(f"/v1/grants/{offer.grant_id}", headers=finance(settings))).json()
            return grant["status"] == "offered"

        await eventually(still_open, 2, what="the reminded offer still open")
