"""Variations: a grant's amount up (within the budget) or down, its end date moved, or cancelled;
each through the ledger (the statement balances after each), published, and in the grant's history."""

from datetime import date

from grants_shared.events import GrantVaried, PaymentSent
from grants_shared.settings import ServiceSettings
from tests.integration.disbursement.helpers import (
    ACCOUNT,
    SIGNATORY,
    applicant,
    approve_due_payments,
    disbursement,
    finance,
    offered_grant,
    programme_opened,
    statement,
    tranches,
)
from tests.support.bus import TestBus


async def _accepted_and_first_paid(client, settings: ServiceSettings, bus: TestBus, amount: int) -> tuple[str, list]:
    offer = await offered_grant(bus, "app-1", amount)
    accepted = await client.post(f"/v1/grants/{offer.grant_id}/accept", headers=applicant(settings),
                                 json={"bank_account": ACCOUNT, "signatory": SIGNATORY})  # fmt: skip
    first, later = accepted.json()["payments"]
    await approve_due_payments(client, settings)
    await bus.wait_for(PaymentSent.type, payment_id=first["id"])
    return offer.grant_id, [first, later]


async def test_the_amount_goes_up_within_the_budget_and_down_to_what_is_paid(settings: ServiceSettings, bus: TestBus) -> None:
    async with disbursement(settings) as (client, runtime):
        await bus.publish(programme_opened(budget=1_000_000, policy=tranches((5_000, 0), (5_000, 90))))
        grant_id, (first, later) = await _accepted_and_first_paid(client, settings, bus, 400_000)
        url = f"/v1/grants/{grant_id}/variations"
        assert (await client.post(url, json={"kind": "amount", "amount": {"amount": 500_000, "currency": "GBP"}}, headers=applicant(settings))).status_code == 403
        too_much = await client.post(url, json={"kind": "amount", "amount": {"amount": 1_100_000, "currency": "GBP"}}, headers=finance(settings))
        assert too_much.status_code == 422 and "budget" in too_much.json()["detail"]
        assert (await statement(client, settings))["committed"]["amount"] == 200_000  # nothing reserved by the refusal

        up = await client.post(url, json={"kind": "amount", "amount": {"amount": 500_000, "currency": "GBP"}}, headers=finance(settings))
        assert up.status_code == 200, up.text
        assert up.json()["amount"]["amount"] == 500_000
        assert {p["id"]: p["amount"]["amount"] for p in up.json()["payments"]} == {first["id"]: 200_000, later["id"]: 300_000}
        ledger = await statement(client, settings)
        assert (ledger["committed"]["amount"], ledger["paid"]["amount"], ledger["available"]["amount"]) == (300_000, 200_000, 500_000)

        below = await client.post(url, json={"kind": "amount", "amount": {"amount": 150_000, "currency": "GBP"}}, headers=finance(settings))
        assert below.status_code == 422  # below what is paid
        down = await client.post(url, json={"kind": "amount", "amount": {"amount": 200_000, "currency": "GBP"}}, headers=finance(settings))
        assert down.status_code == 200 and down.json()["status"] == "paid"  # nothing outstanding any more
        assert [p["status"] for p in down.json()["payments"]] == ["sent", "cancelled"]
        ledger = await statement(client, settings)
        assert (ledger["committed"]["amount"], ledger["available"]["amount"]) == (0, 800_000)
        varied = await bus.wait_for(GrantVaried.type, count=2, grant_id=grant_id)
        assert [(v.data.previous_amount.amount, v.data.amount.amount) for v in varied] == [(400_000, 500_000), (500_000, 200_000)]
        assert [h["action"] for h in down.json()["history"]] == ["accepted", "amount_varied", "amount_varied"]

        moved = await client.post(url, json={"kind": "end_date", "ends_on": "2027-09-30"}, headers=finance(settings))
        assert moved.status_code == 200 and moved.json()["ends_on"] == "2027-09-30"
        [_, _, end] = await bus.wait_for(GrantVaried.type, count=3, grant_id=grant_id)
        assert end.data.kind == "end_date" and end.data.ends_on == date(2027, 9, 30)
        assert (await client.post(url, json={"kind": "end_date"}, headers=finance(settings))).status_code == 422


async def test_cancelling_ends_the_payments_not_sent_and_gives_back_the_rest(settings: ServiceSettings, bus: TestBus) -> None:
    async with disbursement(settings) as (client, runtime):
        await bus.publish(programme_opened(budget=1_000_000, policy=tranches((5_000, 0), (5_000, 90))))
        grant_id, (first, later) = await _accepted_and_first_paid(client, settings, bus, 400_000)
        url = f"/v1/grants/{grant_id}/variations"
        cancelled = await client.post(url, json={"kind": "cancellation"}, headers=finance(settings))
        assert cancelled.status_code == 200, cancelled.text
        body = cancelled.json()
        assert body["status"] == "cancelled" and body["amount"]["amount"] == 200_000
        assert {p["id"]: p["status"] for p in body["payments"]} == {first["id"]: "sent", later["id"]: "cancelled"}
        ledger = await statement(client, settings)
        assert (ledger["committed"]["amount"], ledger["paid"]["amount"], ledger["available"]["amount"]) == (0, 200_000, 800_000)
        [event] = await bus.wait_for(GrantVaried.type, grant_id=grant_id)
        assert event.data.kind == "cancellation" and event.data.previous_amount.amount == 400_000
        assert (await client.post(url, json={"kind": "cancellation"}, headers=finance(settings))).status_code == 409
        await runtime.db.payments.update_one({"_id": later["id"]}, {"$set": {"due_at": None}})  # would be due
        assert await approve_due_payments(client, settings) == []  # a cancelled payment is never gathered


async def test_a_grant_with_a_payment_in_flight_is_not_cancelled(settings: ServiceSettings, bus: TestBus) -> None:
    async with disbursement(settings, payment_poll_seconds=3_600) as (client, runtime):
        await bus.publish(programme_opened(budget=1_000_000))
        offer = await offered_grant(bus, "app-1", 100_000)
        await client.post(f"/v1/grants/{offer.grant_id}/accept", headers=applicant(settings),
                          json={"bank_account": ACCOUNT, "signatory": SIGNATORY})  # fmt: skip
        await approve_due_payments(client, settings)  # approved: the runner may take it any moment
        refused = await client.post(f"/v1/grants/{offer.grant_id}/variations", json={"kind": "cancellation"},
                                    headers=finance(settings))  # fmt: skip
        assert refused.status_code == 409 and "hold it" in refused.json()["detail"]
        assert (await statement(client, settings))["committed"]["amount"] == 100_000
