"""The payment runner pays what is due through the provider: retried on declines, never twice."""

import asyncio
import logging
from datetime import timedelta

import pytest

from disbursement.domain import BankAccount
from disbursement.provider import PaymentDeclined, SimulatedProvider
from disbursement.workers import PaymentRunner
from grants_shared.clock import utcnow
from grants_shared.events import PaymentFailed, PaymentScheduled, PaymentSent
from grants_shared.settings import ServiceSettings
from tests.integration.disbursement.helpers import (
    ACCOUNT,
    SIGNATORY,
    approve_due_payments,
    applicant,
    disbursement,
    finance,
    gbp,
    offered_grant,
    programme_opened,
    statement,
    tranches,
)
from tests.support.bus import TestBus
from tests.support.waiting import eventually


async def _accept(client, settings: ServiceSettings, grant_id: str, account: dict = ACCOUNT) -> dict:
    response = await client.post(f"/v1/grants/{grant_id}/accept", json={"bank_account": account, "signatory": SIGNATORY},
                                 headers=applicant(settings))
    assert response.status_code == 200, response.text
    await approve_due_payments(client, settings)  # nothing is sent before finance approves its run
    return response.json()


async def test_a_due_payment_is_sent_and_moves_from_reserved_to_paid(settings: ServiceSettings, bus: TestBus) -> None:
    async with disbursement(settings) as (client, runtime):
        await bus.publish(programme_opened(budget=1_000_000))
        offer = await offered_grant(bus, "app-1", 400_000)
        accepted = await _accept(client, settings, offer.grant_id)
        [payment] = accepted["payments"]

        [sent] = await bus.wait_for(PaymentSent.type, payment_id=payment["id"])
        assert sent.data.amount == gbp(400_000)
        assert sent.data.grant_id == offer.grant_id and sent.data.application_id == "app-1"
        assert sent.data.provider_reference.startswith("SIM-")

        [transfer] = await runtime.db.simulated_provider_transfers.find({}).to_list(None)
        assert transfer["_id"] == payment["id"]
        assert transfer["provider_reference"] == sent.data.provider_reference
        assert ACCOUNT["account_number"] not in str(transfer)

        ledger = await statement(client, settings)
        assert (ledger["reserved"]["amount"], ledger["paid"]["amount"], ledger["available"]["amount"]) == (
            0, 400_000, 600_000)
        grant = (await client.get(f"/v1/grants/{offer.grant_id}", headers=applicant(settings))).json()
        assert grant["status"] == "paid"
        assert grant["payments"][0]["status"] == "sent"
        listed = (await client.get("/v1/payments", params={"status": "sent"}, headers=finance(settings))).json()
        assert (listed["limit"], listed["offset"]) == (100, 0)
        assert [p["id"] for p in listed["items"]] == [payment["id"]]
        assert listed["items"][0]["provider_reference"] == sent.data.provider_reference


async def test_payments_due_later_wait_for_their_date(settings: ServiceSettings, bus: TestBus) -> None:
    async with disbursement(settings) as (client, runtime):
        await bus.publish(programme_opened(policy=tranches((4_000, 0), (6_000, 90))))
        offer = await offered_grant(bus, "app-1", 100_000)
        first, later = (await _accept(client, settings, offer.grant_id))["payments"]
        await bus.wait_for(PaymentSent.type, payment_id=first["id"])
        await asyncio.sleep(0.4)  # several runner rounds
        assert [e.data.payment_id for e in bus.of_type(PaymentSent.type)] == [first["id"]]
        assert (await runtime.db.payments.find_one({"_id": later["id"]}))["status"] == "scheduled"
        grant = await runtime.db.grants.find_one({"_id": offer.grant_id})
        assert grant["status"] == "accepted"  # not paid in full yet


async def test_a_declined_payment_is_retried_and_sent_once_the_declines_stop(
    settings: ServiceSettings, bus: TestBus
) -> None:
    async with disbursement(settings, simulated_fail_first_attempts=2) as (client, runtime):
        await bus.publish(programme_opened())
        offer = await offered_grant(bus, "app-1", 100_000)
        [payment] = (await _accept(client, settings, offer.grant_id))["payments"]

        [sent] = await bus.wait_for(PaymentSent.type, payment_id=payment["id"])
        failures = bus.of_type(PaymentFailed.type)
        assert [(f.data.attempt, f.data.will_retry) for f in failures] == [(1, True), (2, True)]
        assert all("temporarily unavailable" in f.data.reason for f in failures)
        assert sent.data.amount == gbp(100_000)
        stored = await runtime.db.payments.find_one({"_id": payment["id"]})
        assert (stored["status"], stored["attempts"]) == ("sent", 2)
        assert await runtime.db.simulated_provider_transfers.count_documents({}) == 1


async def test_a_payment_declined_every_time_fails_after_the_last_attempt(
    settings: ServiceSettings, bus: TestBus, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with disbursement(settings, simulated_decline_accounts=[ACCOUNT["account_number"]],
                            payment_max_attempts=3) as (client, runtime):
        await bus.publish(programme_opened())
        offer = await offered_grant(bus, "app-1", 100_000)
        [payment] = (await _accept(client, settings, offer.grant_id))["payments"]

        failures = await bus.wait_for(PaymentFailed.type, count=3, payment_id=payment["id"])
        assert [(f.data.attempt, f.data.will_retry) for f in failures] == [(1, True), (2, True), (3, False)]
        await asyncio.sleep(0.4)
        assert len(bus.of_type(PaymentFailed.type)) == 3
        assert bus.of_type(PaymentSent.type) == []
        stored = await runtime.db.payments.find_one({"_id": payment["id"]})
        assert (stored["status"], stored["attempts"]) == ("failed", 3)
        assert await runtime.db.simulated_provider_transfers.count_documents({}) == 0
        ledger = await statement(client, settings)
        assert (ledger["reserved"]["amount"], ledger["paid"]["amount"]) == (100_000, 0)
        assert "declined (attempt 3)" in caplog.text
        assert ACCOUNT["account_number"] not in caplog.text and ACCOUNT["account_name"] not in caplog.text


async def test_a_payment_left_sending_by_a_crash_is_completed_with_the_original_transfer(
    settings: ServiceSettings, bus: TestBus
) -> None:
    async with disbursement(settings, payment_sending_lease_seconds=60) as (client, runtime):
        await bus.publish(programme_opened(policy=tranches((5_000, 30), (5_000, 60))))
        offer = await offered_grant(bus, "app-1", 100_000)
        first, _ = (await _accept(client, settings, offer.grant_id))["payments"]

        # The crash: a worker claimed the payment and the provider paid, then the process died before
        # committing. The claim is older than the lease now.
        provider = SimulatedProvider(runtime.database)
        original = await provider.pay(idempotency_key=first["id"], amount=gbp(50_000),
                                      account=BankAccount(**ACCOUNT), reference="GRANT-X-1")
        await runtime.db.payments.update_one(
            {"_id": first["id"]},
            {"$set": {"status": "sending", "claim": "dead-worker", "claimed_at": utcnow() - timedelta(minutes=5)}},
        )

        [sent] = await bus.wait_for(PaymentSent.type, payment_id=first["id"])
        assert sent.data.provider_reference == original.provider_reference
        assert await runtime.db.simulated_provider_transfers.count_documents({}) == 1
        ledger = await statement(client, settings)
        assert (ledger["reserved"]["amount"], ledger["paid"]["amount"]) == (50_000, 50_000)
        await asyncio.sleep(0.3)
        assert len(bus.of_type(PaymentSent.type)) == 1


async def test_a_payment_claimed_recently_is_left_to_its_worker(settings: ServiceSettings, bus: TestBus) -> None:
    async with disbursement(settings) as (client, runtime):
        await bus.publish(programme_opened(policy=tranches((5_000, 30), (5_000, 60))))
        offer = await offered_grant(bus, "app-1", 100_000)
        first, _ = (await _accept(client, settings, offer.grant_id))["payments"]
        await runtime.db.payments.update_one(
            {"_id": first["id"]}, {"$set": {"status": "sending", "claim": "busy-worker", "claimed_at": utcnow()}},
        )
        await asyncio.sleep(0.4)
        assert (await runtime.db.payments.find_one({"_id": first["id"]}))["claim"] == "busy-worker"
        assert await runtime.db.simulated_provider_transfers.count_documents({}) == 0


async def test_two_runners_racing_for_the_same_payments_pay_each_once(settings: ServiceSettings, bus: TestBus) -> None:
    # The service's own runner waits an hour between rounds; two more runners race each other.
    async with disbursement(settings, payment_poll_seconds=3_600) as (client, runtime):
        await bus.publish(programme_opened(policy=tranches((5_000, 30), (5_000, 60))))
        offer = await offered_grant(bus, "app-1", 100_000)
        payments = (await _accept(client, settings, offer.grant_id))["payments"]
        await bus.wait_for(PaymentScheduled.type, count=2)
        yesterday = utcnow() - timedelta(days=1)
        await runtime.db.payments.update_many({}, {"$set": {"due_at": yesterday, "next_attempt_at": yesterday}})
        await approve_due_payments(client, settings)

        runners = [PaymentRunner(runtime.database, SimulatedProvider(runtime.database)) for _ in range(2)]
        worked = await asyncio.gather(*(r.work_due() for r in runners))

        assert sum(worked) == 2
        await bus.wait_for(PaymentSent.type, count=2)
        await asyncio.sleep(0.3)
        assert sorted(e.data.payment_id for e in bus.of_type(PaymentSent.type)) == sorted(p["id"] for p in payments)
        assert await runtime.db.simulated_provider_transfers.count_documents({}) == 2

        async def paid_in_full() -> bool:
            return (await runtime.db.grants.find_one({"_id": offer.grant_id}))["status"] == "paid"

        await eventually(paid_in_full)


async def test_the_runner_stops_even_if_a_database_call_swallowed_its_cancellation(
    settings: ServiceSettings, bus: TestBus
) -> None:
    async with disbursement(settings, payment_poll_seconds=3_600) as (client, runtime):
        runner = PaymentRunner(runtime.database, SimulatedProvider(runtime.database))
        started = asyncio.Event()

        async def round_after_a_swallowed_cancel() -> None:
            started.set()
            try:
                await asyncio.sleep(10)
            except asyncio.CancelledError:
                pass  # what PyMongo 4.20 on Python 3.11 occasionally does while opening a connection
            await runner.work_due()
            raise AssertionError("the runner went on after it was cancelled")

        task = asyncio.create_task(round_after_a_swallowed_cancel())
        await started.wait()
        task.cancel()
        done, _ = await asyncio.wait({task}, timeout=5)
        assert done and task.cancelled()


class _ChattyBank:
    """A provider whose refusals quote the account back, as some banks' messages do."""

    async def pay(self, *, idempotency_key: str, amount, account: BankAccount, reference: str):
        raise PaymentDeclined(f"account {account.account_number} at sort code {account.sort_code} "
                              f"({account.sort_code[:2]}-{account.sort_code[2:4]}-{account.sort_code[4:]}) is closed")


async def test_a_decline_that_quotes_the_bank_details_reaches_nobody_with_them(
    settings: ServiceSettings, bus: TestBus, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="disbursement")
    async with disbursement(settings, payment_poll_seconds=3_600) as (client, runtime):
        await bus.publish(programme_opened())
        offer = await offered_grant(bus, "app-1", 100_000)
        [payment] = (await _accept(client, settings, offer.grant_id))["payments"]
        runner = PaymentRunner(runtime.database, _ChattyBank())
        assert await runner.work_due() == 1

        [failed] = await bus.wait_for(PaymentFailed.type, payment_id=payment["id"])
        assert failed.data.reason == "account ****5926 at sort code **-**-56 (**-**-56) is closed"
        stored = await runtime.db.payments.find_one({"_id": payment["id"]})
        listed = (await client.get("/v1/payments", headers=finance(settings))).text
        for text in (failed.data.model_dump_json(), str(stored), listed, caplog.text):
            assert ACCOUNT["account_number"] not in text and "123456" not in text and "12-34-56" not in text


class _HangsOnce:
    """A provider whose first call never answers (an outage mid-call), then pays as the simulated one does."""

    def __init__(self, paying: SimulatedProvider) -> None:
        self.paying = paying
        self.keys: list[str] = []

    async def pay(self, *, idempotency_key: str, amount, account: BankAccount, reference: str):
        self.keys.append(idempotency_key)
        if len(self.keys) == 1:
            await asyncio.sleep(10)
        return await self.paying.pay(idempotency_key=idempotency_key, amount=amount, account=account,
                                     reference=reference)


async def test_a_provider_call_with_no_answer_leaves_the_claim_to_expire_and_retries_with_the_same_key(
    settings: ServiceSettings, bus: TestBus
) -> None:
    async with disbursement(settings, payment_poll_seconds=3_600, payment_provider_timeout_seconds=0.2,
                            payment_sending_lease_seconds=0.5) as (client, runtime):
        await bus.publish(programme_opened())
        offer = await offered_grant(bus, "app-1", 100_000)
        [payment] = (await _accept(client, settings, offer.grant_id))["payments"]
        provider = _HangsOnce(SimulatedProvider(runtime.database))
        runner = PaymentRunner(runtime.database, provider)

        assert await runner.work_due() == 0  # the outcome is unknown: nothing was recorded
        stored = await runtime.db.payments.find_one({"_id": payment["id"]})
        assert (stored["status"], stored["attempts"]) == ("sending", 0) and stored["claim"]
        assert await runner.work_due() == 0  # still claimed, within its lease

        await asyncio.sleep(0.6)
        assert await runner.work_due() == 1
        [sent] = await bus.wait_for(PaymentSent.type, payment_id=payment["id"])
        assert provider.keys == [payment["id"], payment["id"]]
        stored = await runtime.db.payments.find_one({"_id": payment["id"]})
        assert (stored["status"], stored["attempts"], stored["claim"]) == ("sent", 0, None)
        assert stored["provider_reference"] == sent.data.provider_reference
        assert bus.of_type(PaymentFailed.type) == []
