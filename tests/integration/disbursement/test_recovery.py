"""Putting a failed payment right: the grantee replaces the bank details, finance retries, it is paid once."""

import asyncio
from datetime import timedelta

from grants_shared.clock import utcnow
from grants_shared.events import PaymentFailed, PaymentScheduled, PaymentSent
from grants_shared.settings import ServiceSettings
from tests.integration.disbursement.helpers import (
    ACCOUNT,
    SIGNATORY,
    approve_due_payments,
    OTHER_ORG,
    applicant,
    disbursement,
    finance,
    offered_grant,
    programme_opened,
    statement,
    tranches,
)
from tests.integration.disbursement.test_acceptance import BAD_BANK_ACCOUNTS
from tests.support.app import bearer
from tests.support.bus import TestBus

OLD_NUMBER = ACCOUNT["account_number"]
NEW_ACCOUNT = {"account_name": "Hope Street Peer Support CIO", "sort_code": "20-00-00", "account_number": "55779911"}


async def _accept(client, settings: ServiceSettings, grant_id: str) -> dict:
    response = await client.post(f"/v1/grants/{grant_id}/accept", json={"bank_account": ACCOUNT, "signatory": SIGNATORY},
                                 headers=applicant(settings))
    assert response.status_code == 200, response.text
    await approve_due_payments(client, settings)  # nothing is sent before finance approves its run
    return response.json()


def _replace(client, settings: ServiceSettings, grant_id: str, etag: str | None, account: dict = NEW_ACCOUNT,
             headers: dict | None = None):
    headers = {**(headers or applicant(settings)), **({"If-Match": etag} if etag else {})}
    return client.put(f"/v1/grants/{grant_id}/bank-account", json={"bank_account": account}, headers=headers)


async def test_a_failed_payment_is_paid_to_corrected_bank_details_after_finance_retries_it(
    settings: ServiceSettings, bus: TestBus
) -> None:
    responses: list[str] = []
    async with disbursement(settings, simulated_decline_accounts=[OLD_NUMBER],
                            payment_max_attempts=2) as (client, runtime):
        await bus.publish(programme_opened())
        offer = await offered_grant(bus, "app-1", 100_000)
        [payment] = (await _accept(client, settings, offer.grant_id))["payments"]
        failures = await bus.wait_for(PaymentFailed.type, count=2, payment_id=payment["id"])
        assert [(f.data.attempt, f.data.will_retry) for f in failures] == [(1, True), (2, False)]

        read = await client.get(f"/v1/grants/{offer.grant_id}", headers=applicant(settings))
        assert read.json()["payments"][0]["status"] == "failed" and read.headers["etag"] == '"2"'
        assert (await _replace(client, settings, offer.grant_id, None)).status_code == 428
        assert (await _replace(client, settings, offer.grant_id, '"1"')).status_code == 412

        replaced = await _replace(client, settings, offer.grant_id, read.headers["etag"])
        assert replaced.status_code == 200, replaced.text
        responses.append(replaced.text)
        body = replaced.json()
        assert replaced.headers["etag"] == '"3"' and body["status"] == "accepted"
        assert body["bank_account"] == {"account_name": NEW_ACCOUNT["account_name"], "sort_code": "**-**-00",
                                        "account_number": "****9911"}
        assert [(h["action"], h["by"]) for h in body["history"]] == [("accepted", "ann"),
                                                                    ("bank_account_replaced", "ann")]
        assert body["payments"][0]["status"] == "failed"  # details alone do not restart a failed payment

        url = f"/v1/payments/{payment['id']}/retry"
        first, second = await asyncio.gather(client.post(url, headers=finance(settings)),
                                             client.post(url, headers=finance(settings)))
        assert sorted([first.status_code, second.status_code]) == [200, 409]
        retried = (first if first.status_code == 200 else second).json()
        responses += [first.text, second.text]
        assert (retried["status"], retried["attempts"], retried["retries"]) == ("scheduled", 2, 1)
        assert [(h["action"], h["by"]) for h in retried["history"]] == [("retried", "fin-1")]

        again = (await bus.wait_for(PaymentScheduled.type, count=2, payment_id=payment["id"]))[-1]
        assert again.data.due_date.isoformat() == retried["due_date"]
        assert again.data.amount.amount == 100_000 and again.data.grant_id == offer.grant_id
        await asyncio.sleep(0.3)
        assert bus.of_type(PaymentSent.type) == []  # a retried payment waits for a run approved again
        await approve_due_payments(client, settings)
        [sent] = await bus.wait_for(PaymentSent.type, payment_id=payment["id"])

        # Exactly one transfer for this payment, under the retry's own key, to the new account.
        [transfer] = await runtime.db.simulated_provider_transfers.find({}).to_list(None)
        assert transfer["_id"] == f"{payment['id']}:r1"
        assert transfer["provider_reference"] == sent.data.provider_reference
        assert transfer["payee"] == {"sort_code": "**-**-00", "account_number": "****9911"}
        stored = await runtime.db.payments.find_one({"_id": payment["id"]})
        assert (stored["status"], stored["attempts"], stored["retries"]) == ("sent", 2, 1)
        ledger = await statement(client, settings)
        assert (ledger["reserved"]["amount"], ledger["paid"]["amount"]) == (0, 100_000)

        # Paid now: neither the payment nor the grant's bank details can change any more.
        assert (await client.post(url, headers=finance(settings))).status_code == 409
        paid = await client.get(f"/v1/grants/{offer.grant_id}", headers=applicant(settings))
        assert paid.json()["status"] == "paid"
        late = await _replace(client, settings, offer.grant_id, paid.headers["etag"])
        assert late.status_code == 409
        await asyncio.sleep(0.3)
        assert len(bus.of_type(PaymentSent.type)) == 1
        assert await runtime.db.simulated_provider_transfers.count_documents({}) == 1

        responses += [paid.text, (await client.get("/v1/payments", headers=finance(settings))).text]
        raw_grant = await runtime.db.grants.find_one({"_id": offer.grant_id})
        stored_text = str(raw_grant) + str(await runtime.db.payments.find({}).to_list(None))
        for text in [*responses, *(e.data.model_dump_json() for e in bus.seen), stored_text]:
            assert OLD_NUMBER not in text and NEW_ACCOUNT["account_number"] not in text


async def test_a_retry_without_new_details_gets_a_fresh_attempt_budget_and_fails_again(
    settings: ServiceSettings, bus: TestBus
) -> None:
    async with disbursement(settings, simulated_decline_accounts=[OLD_NUMBER],
                            payment_max_attempts=2) as (client, runtime):
        await bus.publish(programme_opened())
        offer = await offered_grant(bus, "app-1", 100_000)
        [payment] = (await _accept(client, settings, offer.grant_id))["payments"]
        await bus.wait_for(PaymentFailed.type, count=2, payment_id=payment["id"])

        admin = bearer(settings, "admin-1", "admin")
        assert (await client.post(f"/v1/payments/{payment['id']}/retry", headers=admin)).status_code == 200
        await approve_due_payments(client, settings)
        failures = await bus.wait_for(PaymentFailed.type, count=4, payment_id=payment["id"])
        assert [(f.data.attempt, f.data.will_retry) for f in failures[2:]] == [(3, True), (4, False)]
        stored = await runtime.db.payments.find_one({"_id": payment["id"]})
        assert (stored["status"], stored["attempts"], stored["retries"]) == ("failed", 4, 1)
        assert [(h["action"], h["by"]) for h in stored["history"]] == [("retried", "admin-1")]
        assert await runtime.db.simulated_provider_transfers.count_documents({}) == 0


async def test_new_details_pay_the_payments_not_yet_sent_and_leave_sent_ones_alone(
    settings: ServiceSettings, bus: TestBus
) -> None:
    async with disbursement(settings) as (client, runtime):
        await bus.publish(programme_opened(policy=tranches((4_000, 0), (6_000, 90))))
        offer = await offered_grant(bus, "app-1", 100_000)
        first, later = (await _accept(client, settings, offer.grant_id))["payments"]
        [sent_first] = await bus.wait_for(PaymentSent.type, payment_id=first["id"])

        read = await client.get(f"/v1/grants/{offer.grant_id}", headers=applicant(settings))
        assert (await _replace(client, settings, offer.grant_id, read.headers["etag"])).status_code == 200
        yesterday = utcnow() - timedelta(days=1)
        await runtime.db.payments.update_one({"_id": later["id"]},
                                             {"$set": {"due_at": yesterday, "next_attempt_at": yesterday}})
        await approve_due_payments(client, settings)
        await bus.wait_for(PaymentSent.type, payment_id=later["id"])

        transfers = {t["_id"]: t for t in await runtime.db.simulated_provider_transfers.find({}).to_list(None)}
        assert transfers[first["id"]]["payee"]["account_number"] == "****5926"
        assert transfers[first["id"]]["provider_reference"] == sent_first.data.provider_reference
        assert transfers[later["id"]]["payee"]["account_number"] == "****9911"
        assert len(transfers) == 2


async def test_who_may_replace_bank_details_and_retry_payments(settings: ServiceSettings, bus: TestBus) -> None:
    async with disbursement(settings) as (client, runtime):
        await bus.publish(programme_opened(policy=tranches((5_000, 30), (5_000, 60))))
        offer = await offered_grant(bus, "app-1", 100_000)
        other = await offered_grant(bus, "app-2", 100_000)
        # An open offer's details are given by accepting it, not replaced.
        assert (await _replace(client, settings, other.grant_id, '"1"')).status_code == 409
        payment = (await _accept(client, settings, offer.grant_id))["payments"][0]
        await bus.wait_for(PaymentScheduled.type, count=2)
        etag = '"2"'

        assert (await client.put(f"/v1/grants/{offer.grant_id}/bank-account", json={"bank_account": NEW_ACCOUNT},
                                 headers={"If-Match": etag})).status_code == 401
        assert (await _replace(client, settings, offer.grant_id, etag,
                               headers=applicant(settings, OTHER_ORG))).status_code == 404
        for roles in (("finance_officer",), ("admin",), ("reviewer",), ("programme_manager",),
                      ("applicant", "finance_officer")):
            headers = bearer(settings, "x", *roles, organisations=(OTHER_ORG,))
            refused = await _replace(client, settings, offer.grant_id, etag, headers=headers)
            assert refused.status_code == 403, roles
        for bad in BAD_BANK_ACCOUNTS:
            refused = await _replace(client, settings, offer.grant_id, etag, account=bad)
            assert refused.status_code == 422 and refused.json()["errors"], bad
            assert OLD_NUMBER not in refused.text
        grant = await runtime.db.grants.find_one({"_id": offer.grant_id})
        assert grant["version"] == 2 and [h["action"] for h in grant["history"]] == ["accepted"]

        url = f"/v1/payments/{payment['id']}/retry"
        assert (await client.post(url)).status_code == 401
        for roles in (("applicant",), ("reviewer",), ("programme_manager",)):
            headers = bearer(settings, "x", *roles, organisations=("org-hope-street",))
            assert (await client.post(url, headers=headers)).status_code == 403, roles
        scheduled = await client.post(url, headers=finance(settings))
        assert scheduled.status_code == 409 and scheduled.headers["content-type"] == "application/problem+json"
        assert (await client.post("/v1/payments/no-such-payment/retry", headers=finance(settings))).status_code == 404
        stored = await runtime.db.payments.find_one({"_id": payment["id"]})
        assert (stored["status"], stored["retries"], stored.get("history", [])) == ("scheduled", 0, [])
        await asyncio.sleep(0.2)
        assert len(bus.of_type(PaymentScheduled.type)) == 2  # the two at acceptance, no more
