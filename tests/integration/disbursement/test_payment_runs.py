"""Finance in control of the money: due payments gather into runs, nothing is sent before a finance
officer approves its run, a run above the threshold needs a second, different officer, finance can
hold and release a payment or a grant (and offer a grant held for lack of budget once it allows), and
no payment is ever sent twice, however the approvals, gatherings and holds meet."""

import asyncio

from grants_shared.events import (
    GrantOffered, PaymentHeld, PaymentReleased, PaymentRunApproved, PaymentRunAwaitingApproval, PaymentSent,
)  # fmt: skip
from grants_shared.settings import ServiceSettings
from tests.integration.disbursement.helpers import (
    ACCOUNT,
    SIGNATORY,
    applicant,
    approve_due_payments,
    awarded,
    disbursement,
    finance,
    handled,
    offered_grant,
    programme_opened,
    second_finance,
    statement,
)
from tests.support.bus import TestBus


async def _accepted(client, settings: ServiceSettings, grant_id: str) -> list[dict]:
    answer = await client.post(f"/v1/grants/{grant_id}/accept", json={"bank_account": ACCOUNT, "signatory": SIGNATORY},
                               headers=applicant(settings))  # fmt: skip
    assert answer.status_code == 200, answer.text
    return answer.json()["payments"]


async def _gather(client, settings: ServiceSettings) -> list[dict]:
    answer = await client.post("/v1/payment-runs", headers=finance(settings))
    assert answer.status_code == 200, answer.text
    return answer.json()


async def test_nothing_is_sent_until_finance_approves_the_run(settings: ServiceSettings, bus: TestBus) -> None:
    async with disbursement(settings) as (client, runtime):
        await bus.publish(programme_opened())
        offer = await offered_grant(bus, "app-1", 300_000)
        [payment] = await _accepted(client, settings, offer.grant_id)
        await asyncio.sleep(0.5)  # several rounds of the payment runner
        assert bus.of_type(PaymentSent.type) == []
        assert (await runtime.db.payments.find_one({"_id": payment["id"]}))["status"] == "scheduled"

        assert (await client.post("/v1/payment-runs", headers=applicant(settings))).status_code == 403
        [run] = await _gather(client, settings)
        assert (run["status"], run["payment_ids"], run["total"]["amount"], run["approvals_needed"]) == (
            "awaiting_approval", [payment["id"]], 300_000, 1)
        assert await _gather(client, settings) == []  # already in a run: not gathered twice
        [announced] = await bus.wait_for(PaymentRunAwaitingApproval.type, run_id=run["id"])
        assert announced.data.payments == 1
        await asyncio.sleep(0.3)
        assert bus.of_type(PaymentSent.type) == []  # gathered, not approved

        url = f"/v1/payment-runs/{run['id']}/approve"
        assert (await client.post(url, headers=applicant(settings))).status_code == 403
        approved = await client.post(url, headers=finance(settings))
        assert approved.status_code == 200, approved.text
        body = approved.json()
        assert body["status"] == "approved" and [a["by"] for a in body["approvals"]] == ["fin-1"]
        await bus.wait_for(PaymentSent.type, payment_id=payment["id"])
        await bus.wait_for(PaymentRunApproved.type, run_id=run["id"])
        again = await client.post(url, headers=second_finance(settings))
        assert again.status_code == 409 and again.headers["content-type"] == "application/problem+json"
        await asyncio.sleep(0.3)
        assert len(bus.of_type(PaymentSent.type)) == 1
        assert await runtime.db.simulated_provider_transfers.count_documents({}) == 1
        listed = (await client.get("/v1/payment-runs", params={"status": "approved"}, headers=finance(settings))).json()
        assert [r["id"] for r in listed["items"]] == [run["id"]]
        one = (await client.get(f"/v1/payment-runs/{run['id']}", headers=finance(settings))).json()
        assert [p["status"] for p in one["payments"]] == ["sent"] and one["payments"][0]["run_id"] == run["id"]


async def test_a_run_above_the_threshold_needs_a_second_different_finance_officer(
    settings: ServiceSettings, bus: TestBus
) -> None:
    async with disbursement(settings, payment_run_second_approval_above=250_000) as (client, runtime):
        await bus.publish(programme_opened())
        small = await offered_grant(bus, "app-1", 100_000)
        large = await offered_grant(bus, "app-2", 200_000)
        for grant in (small, large):
            await _accepted(client, settings, grant.grant_id)
        [run] = await _gather(client, settings)
        assert (run["total"]["amount"], run["approvals_needed"]) == (300_000, 2)
        url = f"/v1/payment-runs/{run['id']}/approve"

        first = await client.post(url, headers=finance(settings))
        assert first.status_code == 200 and first.json()["status"] == "awaiting_approval"
        same_again = await client.post(url, headers=finance(settings))
        assert same_again.status_code == 409 and "another finance officer" in same_again.json()["detail"]
        await asyncio.sleep(0.4)
        assert bus.of_type(PaymentSent.type) == []

        second = await client.post(url, headers=second_finance(settings))
        assert second.status_code == 200 and second.json()["status"] == "approved"
        assert [a["by"] for a in second.json()["approvals"]] == ["fin-1", "fin-2"]
        await bus.wait_for(PaymentSent.type, count=2)
        ledger = await statement(client, settings)
        assert ledger["paid"]["amount"] == 300_000 and ledger["reserved"]["amount"] == 0


async def test_approvals_and_gatherings_at_once_send_each_payment_once(settings: ServiceSettings, bus: TestBus) -> None:
    async with disbursement(settings, payment_run_second_approval_above=10_000_000) as (client, runtime):
        await bus.publish(programme_opened(budget=5_000_000))
        offers = [await offered_grant(bus, f"app-{n}", 100_000 + n) for n in range(4)]
        for offer in offers:
            await _accepted(client, settings, offer.grant_id)
        gathered = await asyncio.gather(*(client.post("/v1/payment-runs", headers=finance(settings)) for _ in range(3)))
        runs = [run for answer in gathered if answer.status_code == 200 for run in answer.json()]
        in_runs = [pid for run in runs for pid in run["payment_ids"]]
        assert len(in_runs) == len(set(in_runs)) == 4  # each payment in exactly one run

        approvals = await asyncio.gather(*(
            client.post(f"/v1/payment-runs/{run['id']}/approve", headers=officer(settings))
            for run in runs for officer in (finance, second_finance)
        ))  # fmt: skip
        assert sorted(a.status_code for a in approvals) == [200] * len(runs) + [409] * len(runs)
        await bus.wait_for(PaymentSent.type, count=4)
        await asyncio.sleep(0.5)
        sent = [e.data.payment_id for e in bus.of_type(PaymentSent.type)]
        assert sorted(sent) == sorted(in_runs)
        assert await runtime.db.simulated_provider_transfers.count_documents({}) == 4
        assert await _gather(client, settings) == []


async def test_finance_holds_and_releases_a_payment_and_a_grant(settings: ServiceSettings, bus: TestBus) -> None:
    async with disbursement(settings) as (client, runtime):
        await bus.publish(programme_opened())
        offer = await offered_grant(bus, "app-1", 100_000)
        [payment] = await _accepted(client, settings, offer.grant_id)
        [run] = await _gather(client, settings)
        held = await client.post(f"/v1/payments/{payment['id']}/hold", headers=finance(settings))
        assert held.status_code == 200 and held.json()["status"] == "held" and held.json()["run_id"] is None
        await bus.wait_for(PaymentHeld.type, payment_id=payment["id"])
        assert (await client.post(f"/v1/payments/{payment['id']}/hold", headers=finance(settings))).status_code == 409
        assert (await client.post(f"/v1/payment-runs/{run['id']}/approve", headers=finance(settings))).status_code == 200
        await asyncio.sleep(0.4)
        assert bus.of_type(PaymentSent.type) == []  # held: it left the run before it was approved

        # The whole grant on hold: its payment cannot be released on its own.
        assert (await client.post(f"/v1/grants/{offer.grant_id}/hold", headers=applicant(settings))).status_code == 403
        grant = await client.post(f"/v1/grants/{offer.grant_id}/hold", headers=finance(settings))
        assert grant.status_code == 200 and grant.json()["on_hold"] is True
        refused = await client.post(f"/v1/payments/{payment['id']}/release", headers=finance(settings))
        assert refused.status_code == 409 and "on hold" in refused.json()["detail"]
        released = await client.post(f"/v1/grants/{offer.grant_id}/release", headers=finance(settings))
        assert released.status_code == 200 and released.json()["on_hold"] is False
        assert released.json()["payments"][0]["status"] == "scheduled"
        await bus.wait_for(PaymentReleased.type, payment_id=payment["id"])
        assert [h["action"] for h in released.json()["history"]] == ["accepted", "held", "released"]

        await approve_due_payments(client, settings)
        await bus.wait_for(PaymentSent.type, payment_id=payment["id"])
        sent = await client.post(f"/v1/payments/{payment['id']}/hold", headers=finance(settings))
        assert sent.status_code == 409  # sent is final
        stored = await runtime.db.payments.find_one({"_id": payment["id"]})
        assert [h["action"] for h in stored["history"]] == ["held", "released"]


async def test_a_grant_held_for_lack_of_budget_is_offered_once_the_budget_allows(
    settings: ServiceSettings, bus: TestBus
) -> None:
    async with disbursement(settings) as (client, runtime):
        await bus.publish(programme_opened(budget=1_000_000))
        first = await offered_grant(bus, "app-1", 700_000)
        await bus.publish(awarded("app-2", 500_000))
        await handled(runtime.db, 3)
        held = await runtime.db.grants.find_one({"application_id": "app-2"})
        assert held["status"] == "held" and held["held_reason"] == "budget"
        url = f"/v1/grants/{held['_id']}/release"
        still = await client.post(url, headers=finance(settings))
        assert still.status_code == 409 and "still cannot cover" in still.json()["detail"]

        declined = await client.post(f"/v1/grants/{first.grant_id}/decline", headers=applicant(settings),
                                     json={"signatory": SIGNATORY, "reason": "We found other funding"})  # fmt: skip
        assert declined.status_code == 200
        released = await client.post(url, headers=finance(settings))
        assert released.status_code == 200, released.text
        grant = released.json()
        assert grant["status"] == "offered" and grant["held_reason"] is None and grant["terms"] and grant["expires_at"]
        [offer] = await bus.wait_for(GrantOffered.type, grant_id=held["_id"])
        assert offer.data.amount.amount == 500_000
        ledger = await statement(client, settings)
        assert ledger["reserved"]["amount"] == 500_000 and ledger["available"]["amount"] == 500_000
        assert (await client.post(url, headers=finance(settings))).status_code == 409
