"""A programme's statement always balances (budget + returned = available + committed + paid), read
while awards, declines, lapses, holds, payments and repayments commit at the same moment on the real
database; and each line is what it says."""

import asyncio
from datetime import timedelta

from grants_shared.clock import utcnow
from grants_shared.events import GrantOffered, PaymentSent
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
    programme_opened,
    statement,
    tranches,
)
from tests.support.bus import TestBus
from tests.support.waiting import eventually

BUDGET = 3_000_000


async def test_the_statement_balances_under_concurrent_awards_variations_and_payments(
    settings: ServiceSettings, bus: TestBus
) -> None:
    async with disbursement(settings, offer_poll_seconds=0.1) as (client, runtime):
        await bus.publish(programme_opened(budget=BUDGET, policy=tranches((5_000, 0), (5_000, 90))))
        await handled(runtime.db, 1)
        readings: list[dict] = []
        done = asyncio.Event()

        async def read_all_along() -> None:
            while not done.is_set():
                readings.append(await statement(client, settings))  # asserts the balance each time
                await asyncio.sleep(0.05)

        reader = asyncio.create_task(read_all_along())
        # Twelve awards at once: together more than the budget, so some are held for finance.
        amounts = [300_000 + 1_000 * n for n in range(12)]
        await asyncio.gather(*(bus.publish(awarded(f"app-{n}", a)) for n, a in enumerate(amounts)))
        await handled(runtime.db, 13, timeout=30)
        grants = (await client.get("/v1/grants", headers=finance(settings), params={"limit": 50})).json()["items"]
        offered = [g for g in grants if g["status"] == "offered"]
        held = [g for g in grants if g["status"] == "held"]
        assert len(offered) + len(held) == 12 and held and sum(g["amount"]["amount"] for g in offered) <= BUDGET

        declining, lapsing, accepting = offered[:2], offered[2:3], offered[3:]
        body = {"bank_account": ACCOUNT, "signatory": SIGNATORY}

        async def decline(grant: dict) -> None:
            answer = await client.post(f"/v1/grants/{grant['id']}/decline", headers=applicant(settings),
                                       json={"signatory": SIGNATORY, "reason": "Plans changed"})  # fmt: skip
            assert answer.status_code == 200, answer.text

        async def accept(grant: dict) -> None:
            answer = await client.post(f"/v1/grants/{grant['id']}/accept", json=body, headers=applicant(settings))
            assert answer.status_code == 200, answer.text

        async def lapse(grant: dict) -> None:
            await runtime.db.grants.update_one({"_id": grant["id"]}, {"$set": {"expires_at": utcnow() - timedelta(seconds=1)}})

        async def release_held() -> None:
            for grant in held:  # the money declines free may let finance offer held grants now
                await client.post(f"/v1/grants/{grant['id']}/release", headers=finance(settings))

        await asyncio.gather(*(decline(g) for g in declining), *(lapse(g) for g in lapsing),
                             *(accept(g) for g in accepting), release_held())  # fmt: skip

        # Pay the first tranches while finance holds one grant and records repayments on others.
        await approve_due_payments(client, settings)
        await bus.wait_for(PaymentSent.type, count=len(accepting), timeout=60)
        paid_grants = [g["id"] for g in accepting]
        assert len(paid_grants) >= 6, len(paid_grants)
        repayments = [client.post(f"/v1/grants/{grant_id}/repayments", headers=finance(settings),
                                  json={"amount": {"amount": 10_000, "currency": "GBP"}, "reason": "Unspent"})
                      for grant_id in paid_grants[:3]]  # fmt: skip
        smaller = await runtime.db.grants.find_one({"_id": paid_grants[3]})
        down = client.post(f"/v1/grants/{paid_grants[3]}/variations", headers=finance(settings), json={
            "kind": "amount", "amount": {"amount": smaller["amount"]["amount"] - 5_000, "currency": "GBP"}})
        cancel = client.post(f"/v1/grants/{paid_grants[4]}/variations", headers=finance(settings),
                             json={"kind": "cancellation"})  # fmt: skip
        hold = client.post(f"/v1/grants/{paid_grants[-1]}/hold", headers=finance(settings))
        answers = await asyncio.gather(*repayments, down, cancel, hold)
        assert [a.status_code for a in answers] == [200] * 6, [a.text for a in answers]
        too_much = await client.post(f"/v1/grants/{paid_grants[0]}/repayments", headers=finance(settings),
                                     json={"amount": {"amount": 10_000_000, "currency": "GBP"}, "reason": "x"})  # fmt: skip
        assert too_much.status_code == 422

        async def lapsed() -> bool:
            return (await runtime.db.grants.find_one({"_id": lapsing[0]["id"]}))["status"] == "expired"

        # Until the offer watcher has let it lapse: a lapse between the final statement and the grants
        # read below would make them disagree (this gave way under load with a 10 s wait).
        await eventually(lapsed, 60, what="the offer to lapse")
        done.set()
        await reader
        assert len(readings) > 10  # it read all along, and every reading balanced

        final = await statement(client, settings)
        stored = await runtime.db.grants.find({}).to_list(None)
        gone = sum(g["amount"]["amount"] for g in stored if g["status"] in ("declined", "expired"))
        live = sum(g["amount"]["amount"] for g in stored if g["status"] in ("offered", "accepted", "paid", "cancelled"))
        sent = sum(p["amount"]["amount"] for p in await runtime.db.payments.find({"status": "sent"}).to_list(None))
        held_payments = await runtime.db.payments.find({"status": "held"}).to_list(None)
        assert final["released"]["amount"] == gone and gone >= sum(g["amount"]["amount"] for g in declining)
        assert final["paid"]["amount"] == sent and final["committed"]["amount"] == live - sent
        assert final["returned"]["amount"] == 30_000
        assert final["held"]["amount"] == sum(p["amount"]["amount"] for p in held_payments) > 0
        assert final["available"]["amount"] == BUDGET + 30_000 - live
        cancelled = next(g for g in stored if g["_id"] == paid_grants[4])
        assert cancelled["status"] == "cancelled" and cancelled["amount"]["amount"] == sum(
            p["amount"]["amount"] for p in await runtime.db.payments.find({"grant_id": paid_grants[4], "status": "sent"}).to_list(None))
        offers = bus.of_type(GrantOffered.type)
        assert len({o.data.grant_id for o in offers}) == len(offers)  # each grant offered once
