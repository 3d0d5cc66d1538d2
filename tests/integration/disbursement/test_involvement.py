"""Involvement payments in disbursement: an approved claim is paid once, as the member chose (bank
through the provider, voucher recorded as issued, volunteer not paid), from the programme's own
involvement budget, which is never over-committed; the member sees their totals per tax year."""

import asyncio

from grants_shared.clock import utcnow
from grants_shared.events import InvolvementClaimApproved, InvolvementClaimPaid, InvolvementPaymentFailed
from grants_shared.settings import ServiceSettings
from tests.integration.disbursement.helpers import ACCOUNT, disbursement, finance, gbp, handled, programme_opened
from tests.support.app import bearer
from tests.support.bus import TestBus
from tests.support.waiting import eventually


def approved(claim_id: str, member_id: str, amount: int, kind: str = "time") -> InvolvementClaimApproved:
    return InvolvementClaimApproved(claim_id=claim_id, programme_id="prog-1", member_id=member_id, kind=kind,
                                    amount=gbp(amount), approved_at=utcnow())  # fmt: skip


def pence(amount: int) -> dict:
    return {"amount": amount, "currency": "GBP"}


def member(settings: ServiceSettings, subject: str) -> dict[str, str]:
    return bearer(settings, subject, "reviewer")


async def _payment(runtime, claim_id: str, status: str) -> dict:
    async def moved() -> dict | None:
        return await runtime.db.involvement_payments.find_one({"_id": f"inv-{claim_id}", "status": status})

    return await eventually(moved, 10, what=f"claim {claim_id} {status}")


async def test_an_approved_claim_waits_for_choice_details_and_budget_then_is_paid_to_the_bank_once(
    settings: ServiceSettings, bus: TestBus
) -> None:
    async with disbursement(settings) as (client, runtime):
        await bus.publish(programme_opened(budget=1_000_000))
        await handled(runtime.db, 1)
        await bus.publish(approved("clm-1", "rev-a", 10_000))
        waiting = await _payment(runtime, "clm-1", "waiting")
        assert waiting["waiting_for"] == "payment_choice"

        headers = member(settings, "rev-a")
        chosen = await client.put("/v1/involvement/me/payment-choice", json={"choice": "bank"}, headers=headers)
        assert chosen.status_code == 200, chosen.text
        assert chosen.json()["payments"][0]["waiting_for"] == "bank_details"
        no_etag = await client.put("/v1/involvement/me/bank-details", json=ACCOUNT, headers=headers)
        assert no_etag.status_code == 428
        detailed = await client.put("/v1/involvement/me/bank-details", json=ACCOUNT,
                                    headers={**headers, "If-Match": chosen.headers["ETag"]})  # fmt: skip
        assert detailed.status_code == 200, detailed.text
        mine = detailed.json()
        assert mine["bank_account"]["account_number"] == "****5926"
        assert mine["payments"][0]["waiting_for"] == "budget"  # no involvement budget yet
        stored = await runtime.db.involvement_members.find_one({"member_id": "rev-a"})
        assert ACCOUNT["account_number"] not in str(stored)  # encrypted at rest

        url = "/v1/programmes/prog-1/involvement-budget"
        assert (await client.put(url, json={"total": pence(15_000)}, headers=headers)).status_code == 403
        budget = await client.put(url, json={"total": pence(15_000)}, headers=finance(settings))
        assert budget.status_code == 200, budget.text

        [paid] = await bus.wait_for(InvolvementClaimPaid.type, claim_id="clm-1")
        assert (paid.data.method, paid.data.amount, paid.data.payment_id) == ("bank", gbp(10_000), "inv-clm-1")
        assert "member_id" not in paid.data.without_personal_data()
        [transfer] = await runtime.db.simulated_provider_transfers.find({}).to_list(None)
        assert transfer["_id"] == "inv-clm-1"

        # the same approval again (a redelivery past the inbox, or a replay) pays nothing more
        await bus.publish(approved("clm-1", "rev-a", 10_000))
        await handled(runtime.db, 3)
        await asyncio.sleep(0.5)  # several runner rounds
        assert len(bus.of_type(InvolvementClaimPaid.type)) == 1
        assert await runtime.db.simulated_provider_transfers.count_documents({}) == 1
        assert await runtime.db.involvement_payments.count_documents({}) == 1

        # the budget is never over-committed: £50 left, a £100 claim waits for more
        await bus.publish(approved("clm-2", "rev-a", 10_000))
        assert (await _payment(runtime, "clm-2", "waiting"))["waiting_for"] == "budget"
        read = await client.get(url, headers=finance(settings))
        statement = read.json()
        assert (statement["total"], statement["paid"], statement["available"]) == (pence(15_000), pence(10_000), pence(5_000))
        too_low = await client.put(url, json={"total": pence(9_000)}, headers={**finance(settings), "If-Match": read.headers["ETag"]})
        assert too_low.status_code == 409
        raised = await client.put(url, json={"total": pence(25_000)}, headers={**finance(settings), "If-Match": read.headers["ETag"]})
        assert raised.status_code == 200, raised.text
        await bus.wait_for(InvolvementClaimPaid.type, claim_id="clm-2")
        after = (await client.get(url, headers=finance(settings))).json()
        assert (after["paid"], after["available"], after["committed"]) == (pence(20_000), pence(5_000), pence(0))

        # the member's totals for this tax year
        mine = (await client.get("/v1/involvement/me", headers=headers)).json()
        [year] = mine["tax_years"]
        assert year["time"] == pence(20_000) and year["expenses"] == pence(0) and year["total"] == pence(20_000)
        assert [p["status"] for p in mine["payments"]] == ["sent", "sent"]
        listed = (await client.get("/v1/programmes/prog-1/involvement-payments", headers=finance(settings))).json()
        assert listed["total"] == 2
        assert (await client.get("/v1/involvement/me", headers=member(settings, "rev-b"))).json()["payments"] == []


async def test_a_voucher_is_recorded_as_issued_and_a_volunteer_is_not_paid(settings: ServiceSettings, bus: TestBus) -> None:
    async with disbursement(settings) as (client, runtime):
        await bus.publish(programme_opened(budget=1_000_000))
        await handled(runtime.db, 1)
        budget = await client.put("/v1/programmes/prog-1/involvement-budget", json={"total": pence(10_000)},
                                  headers=finance(settings))  # fmt: skip
        assert budget.status_code == 200, budget.text
        for subject, choice in (("rev-v", "voucher"), ("rev-x", "volunteer")):
            answer = await client.put("/v1/involvement/me/payment-choice", json={"choice": choice},
                                      headers=member(settings, subject))  # fmt: skip
            assert answer.status_code == 200, answer.text
        await bus.publish(approved("clm-v", "rev-v", 4_000))
        await bus.publish(approved("clm-x", "rev-x", 6_000))
        [voucher] = await bus.wait_for(InvolvementClaimPaid.type, claim_id="clm-v")
        assert voucher.data.method == "voucher"
        await _payment(runtime, "clm-x", "not_paid")
        await asyncio.sleep(0.3)
        assert [e.data.claim_id for e in bus.of_type(InvolvementClaimPaid.type)] == ["clm-v"]
        assert await runtime.db.simulated_provider_transfers.count_documents({}) == 0  # no bank payment at all
        statement = (await client.get("/v1/programmes/prog-1/involvement-budget", headers=finance(settings))).json()
        assert (statement["paid"], statement["available"]) == (pence(4_000), pence(6_000))  # the volunteer took nothing
        mine = (await client.get("/v1/involvement/me", headers=member(settings, "rev-v"))).json()
        assert mine["tax_years"][0]["time"] == pence(4_000) and mine["tax_years"][0]["expenses"] == pence(0)

        # expenses are money the member spent: repaid to their bank even for a volunteer
        await bus.publish(approved("clm-xe", "rev-x", 1_500, kind="expenses"))
        assert (await _payment(runtime, "clm-xe", "waiting"))["waiting_for"] == "bank_details"
        detailed = await client.put("/v1/involvement/me/bank-details", json=ACCOUNT,
                                    headers={**member(settings, "rev-x"), "If-Match": '"1"'})  # fmt: skip
        assert detailed.status_code == 200, detailed.text
        [repaid] = await bus.wait_for(InvolvementClaimPaid.type, claim_id="clm-xe")
        assert (repaid.data.method, repaid.data.amount) == ("bank", gbp(1_500))
        volunteer = (await client.get("/v1/involvement/me", headers=member(settings, "rev-x"))).json()
        assert volunteer["tax_years"][0]["expenses"] == pence(1_500) and volunteer["tax_years"][0]["time"] == pence(0)
        # a member can change their choice (If-Match): what was issued stays
        changed = await client.put("/v1/involvement/me/payment-choice", json={"choice": "volunteer"},
                                   headers={**member(settings, "rev-v"), "If-Match": '"1"'})  # fmt: skip
        assert changed.status_code == 200 and changed.json()["choice"] == "volunteer"
        assert changed.json()["payments"][0]["status"] == "voucher_issued"


async def test_a_payment_the_bank_refuses_fails_and_goes_again_with_new_details_or_when_finance_retries(
    settings: ServiceSettings, bus: TestBus
) -> None:
    async with disbursement(settings, simulated_decline_accounts=[ACCOUNT["account_number"]],
                            payment_max_attempts=2) as (client, runtime):  # fmt: skip
        await bus.publish(programme_opened(budget=1_000_000))
        await handled(runtime.db, 1)
        assert (await client.put("/v1/programmes/prog-1/involvement-budget", json={"total": pence(20_000)},
                                 headers=finance(settings))).status_code == 200  # fmt: skip
        headers = member(settings, "rev-a")
        chosen = await client.put("/v1/involvement/me/payment-choice", json={"choice": "bank"}, headers=headers)
        detailed = await client.put("/v1/involvement/me/bank-details", json=ACCOUNT,
                                    headers={**headers, "If-Match": chosen.headers["ETag"]})  # fmt: skip
        assert detailed.status_code == 200, detailed.text
        await bus.publish(approved("clm-1", "rev-a", 10_000))

        [failed] = await bus.wait_for(InvolvementPaymentFailed.type, claim_id="clm-1")
        assert (failed.data.payment_id, failed.data.amount) == ("inv-clm-1", gbp(10_000))
        assert "member_id" not in failed.data.without_personal_data()
        stored = await _payment(runtime, "clm-1", "failed")
        assert stored["attempts"] == 2 and ACCOUNT["account_number"] not in stored["last_failure_reason"]
        statement = (await client.get("/v1/programmes/prog-1/involvement-budget", headers=finance(settings))).json()
        assert (statement["committed"], statement["available"]) == (pence(10_000), pence(10_000))  # still set aside

        url = "/v1/involvement-payments/inv-clm-1/retry"
        assert (await client.post(url, headers=headers)).status_code == 403  # only finance
        assert (await client.post("/v1/involvement-payments/inv-nothing/retry", headers=finance(settings))).status_code == 404
        retried = await client.post(url, headers=finance(settings))
        assert retried.status_code == 200, retried.text
        again = await client.post(url, headers=finance(settings))
        assert again.status_code == 409 and again.headers["content-type"] == "application/problem+json"
        # the same account is refused again: a second failure, told once more
        await bus.wait_for(InvolvementPaymentFailed.type, count=2, claim_id="clm-1")
        assert (await _payment(runtime, "clm-1", "failed"))["retries"] == 1

        # the member gives another account: it goes again, under a new provider key, and is paid once
        mine = await client.get("/v1/involvement/me", headers=headers)
        other = {**ACCOUNT, "account_number": "27182818"}
        changed = await client.put("/v1/involvement/me/bank-details", json=other,
                                   headers={**headers, "If-Match": mine.headers["ETag"]})  # fmt: skip
        assert changed.status_code == 200, changed.text
        [paid] = await bus.wait_for(InvolvementClaimPaid.type, claim_id="clm-1")
        assert paid.data.method == "bank"
        [transfer] = await runtime.db.simulated_provider_transfers.find({}).to_list(None)
        assert transfer["_id"] == "inv-clm-1:r2"
        await asyncio.sleep(0.3)
        assert len(bus.of_type(InvolvementClaimPaid.type)) == 1
        after = (await client.get("/v1/programmes/prog-1/involvement-budget", headers=finance(settings))).json()
        assert (after["paid"], after["committed"], after["available"]) == (pence(10_000), pence(0), pence(10_000))
        refused = await client.post(url, headers=finance(settings))
        assert refused.status_code == 409  # a sent payment never goes again
