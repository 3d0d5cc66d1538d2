"""The grantee accepts an offer with bank details: kept encrypted, shown masked, never on the bus."""

import asyncio
import logging
from datetime import date

import pytest

from grants_shared.events import GrantAccepted, PaymentScheduled
from grants_shared.settings import ServiceSettings
from tests.integration.disbursement.helpers import (
    ACCOUNT,
    SIGNATORY,
    OTHER_ORG,
    applicant,
    disbursement,
    finance,
    offered_grant,
    programme_opened,
    tranches,
)
from tests.support.app import bearer
from tests.support.bus import TestBus

SECRETS = (ACCOUNT["account_number"], "123456", "12-34-56", ACCOUNT["account_name"])


def _assert_masked(bank_account: dict) -> None:
    assert bank_account == {"account_name": ACCOUNT["account_name"], "sort_code": "**-**-56",
                            "account_number": "****5926"}


async def test_accepting_schedules_the_payments_and_keeps_bank_details_encrypted_and_masked(
    settings: ServiceSettings, bus: TestBus, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    # Payments due later, so the runner leaves them alone while this test looks at them.
    policy = tranches((7_000, 30), (3_000, 180))
    async with disbursement(settings) as (client, runtime):
        await bus.publish(programme_opened(policy=policy))
        offer = await offered_grant(bus, "app-1", 250_000)

        response = await client.post(f"/v1/grants/{offer.grant_id}/accept", json={"bank_account": ACCOUNT, "signatory": SIGNATORY},
                                     headers=applicant(settings))
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["status"] == "accepted" and response.headers["etag"] == '"2"'
        _assert_masked(body["bank_account"])
        assert [(p["sequence"], p["amount"]["amount"], p["status"]) for p in body["payments"]] == [
            (1, 175_000, "scheduled"), (2, 75_000, "scheduled")]
        accepted_on = body["accepted_at"][:10]

        [accepted] = await bus.wait_for(GrantAccepted.type, grant_id=offer.grant_id)
        assert accepted.data.application_id == "app-1"
        scheduled = await bus.wait_for(PaymentScheduled.type, count=2, grant_id=offer.grant_id)
        assert sorted(e.data.amount.amount for e in scheduled) == [75_000, 175_000]
        days = sorted((e.data.due_date.toordinal() - _ordinal(accepted_on)) for e in scheduled)
        assert days == [30, 180]

        # At rest: a Fernet token, not the details.
        raw = await runtime.db.grants.find_one({"_id": offer.grant_id})
        assert raw["bank_account"].startswith("gAAAA")
        stored = str(raw) + str(await runtime.db.payments.find({}).to_list(None))
        assert not any(secret in stored for secret in SECRETS)

        # Every way of reading a grant shows the details masked, for the grantee and for finance.
        for headers in (applicant(settings), finance(settings)):
            one = (await client.get(f"/v1/grants/{offer.grant_id}", headers=headers)).json()
            _assert_masked(one["bank_account"])
            [listed] = (await client.get("/v1/grants", headers=headers)).json()["items"]
            _assert_masked(listed["bank_account"])
        payments = (await client.get("/v1/payments", params={"grant_id": offer.grant_id},
                                     headers=finance(settings))).text
        assert ACCOUNT["account_number"] not in payments and "5926" not in payments

        # Nothing on the bus, nothing in the logs.
        await asyncio.sleep(0.3)
        for event in bus.seen:
            text = event.data.model_dump_json()
            assert not any(secret in text for secret in SECRETS), event.type
        assert not any(secret in caplog.text for secret in SECRETS)


def _ordinal(iso_day: str) -> int:
    return date.fromisoformat(iso_day).toordinal()


async def test_an_offer_is_accepted_once(settings: ServiceSettings, bus: TestBus) -> None:
    async with disbursement(settings) as (client, runtime):
        await bus.publish(programme_opened(policy=tranches((5_000, 30), (5_000, 60))))
        offer = await offered_grant(bus, "app-1", 100_000)
        url = f"/v1/grants/{offer.grant_id}/accept"
        first, second = await asyncio.gather(
            client.post(url, json={"bank_account": ACCOUNT, "signatory": SIGNATORY}, headers=applicant(settings)),
            client.post(url, json={"bank_account": {**ACCOUNT, "account_number": "99999999"}, "signatory": SIGNATORY},
                        headers=applicant(settings)),
        )
        assert sorted([first.status_code, second.status_code]) == [200, 409]
        loser = first if first.status_code == 409 else second
        assert loser.headers["content-type"] == "application/problem+json"
        assert await runtime.db.payments.count_documents({"grant_id": offer.grant_id}) == 2
        again = await client.post(url, json={"bank_account": ACCOUNT, "signatory": SIGNATORY}, headers=applicant(settings))
        assert again.status_code == 409


async def test_the_events_an_acceptance_causes_carry_the_request_trace_and_the_grantee(
    settings: ServiceSettings, bus: TestBus
) -> None:
    trace = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    async with disbursement(settings) as (client, runtime):
        await bus.publish(programme_opened(policy=tranches((5_000, 30), (5_000, 60))))
        offer = await offered_grant(bus, "app-1", 100_000)
        response = await client.post(f"/v1/grants/{offer.grant_id}/accept", json={"bank_account": ACCOUNT, "signatory": SIGNATORY},
                                     headers={**applicant(settings), "traceparent": trace})
        assert response.status_code == 200, response.text
        caused = [*await bus.wait_for(GrantAccepted.type, grant_id=offer.grant_id),
                  *await bus.wait_for(PaymentScheduled.type, count=2, grant_id=offer.grant_id)]
        # The request's trace continued (same trace id, the service's own spans), and who asked.
        assert [(e.traceparent.split("-")[1], e.actor) for e in caused] == [(trace.split("-")[1], "ann")] * 3
        assert all(e.traceparent != trace for e in caused)


async def test_a_stale_if_match_is_refused(settings: ServiceSettings, bus: TestBus) -> None:
    async with disbursement(settings) as (client, runtime):
        await bus.publish(programme_opened(policy=tranches((5_000, 30), (5_000, 60))))
        offer = await offered_grant(bus, "app-1", 100_000)
        read = await client.get(f"/v1/grants/{offer.grant_id}", headers=applicant(settings))
        assert read.headers["etag"] == '"1"'
        stale = await client.post(f"/v1/grants/{offer.grant_id}/accept", json={"bank_account": ACCOUNT, "signatory": SIGNATORY},
                                  headers={**applicant(settings), "If-Match": '"7"'})
        assert stale.status_code == 412
        fresh = await client.post(f"/v1/grants/{offer.grant_id}/accept", json={"bank_account": ACCOUNT, "signatory": SIGNATORY},
                                  headers={**applicant(settings), "If-Match": read.headers["etag"]})
        assert fresh.status_code == 200


async def test_only_the_grantee_organisation_can_accept(settings: ServiceSettings, bus: TestBus) -> None:
    async with disbursement(settings) as (client, runtime):
        await bus.publish(programme_opened())
        offer = await offered_grant(bus, "app-1", 100_000)
        url = f"/v1/grants/{offer.grant_id}/accept"
        body = {"bank_account": ACCOUNT, "signatory": SIGNATORY}

        assert (await client.post(url, json=body)).status_code == 401
        assert (await client.post(url, json=body, headers=applicant(settings, OTHER_ORG))).status_code == 404
        for role in ("finance_officer", "reviewer", "programme_manager"):
            assert (await client.post(url, json=body, headers=bearer(settings, "x", role))).status_code == 403
        # Finance reads every grant, but naming the account it is paid into is the grantee's alone, even
        # for someone who is also an applicant for another organisation.
        for role in ("finance_officer", "admin"):
            both = bearer(settings, "x", "applicant", role, organisations=(OTHER_ORG,))
            refused = await client.post(url, json=body, headers=both)
            assert refused.status_code == 403 and refused.headers["content-type"] == "application/problem+json"
        assert (await client.post("/v1/grants/no-such-grant/accept", json=body,
                                  headers=applicant(settings))).status_code == 404

        grant = await runtime.db.grants.find_one({"_id": offer.grant_id})
        assert grant["status"] == "offered" and "bank_account" not in grant
        assert await runtime.db.payments.count_documents({}) == 0
        assert bus.of_type(GrantAccepted.type) == []


BAD_BANK_ACCOUNTS = [
    {**ACCOUNT, "account_number": "1234567"},
    {**ACCOUNT, "account_number": "123456789"},
    {**ACCOUNT, "account_number": "1234567a"},
    {**ACCOUNT, "sort_code": "12-34-5"},
    {**ACCOUNT, "sort_code": "12 34 56"},
    {**ACCOUNT, "sort_code": "١٢٣٤٥٦"},
    {**ACCOUNT, "account_name": ""},
    {**ACCOUNT, "account_name": "x" * 141},
    {**ACCOUNT, "iban": "GB00"},
    {"account_name": "No numbers"},
]


async def test_bad_bank_details_are_refused_and_nothing_is_written(settings: ServiceSettings, bus: TestBus) -> None:
    async with disbursement(settings) as (client, runtime):
        await bus.publish(programme_opened())
        offer = await offered_grant(bus, "app-1", 100_000)
        for bank_account in [*BAD_BANK_ACCOUNTS, None]:
            body = ({"bank_account": bank_account, "signatory": SIGNATORY} if bank_account
                    else {"bank_account": ACCOUNT, "signatory": SIGNATORY, "extra": 1})
            response = await client.post(f"/v1/grants/{offer.grant_id}/accept", json=body,
                                         headers=applicant(settings))
            assert response.status_code == 422, bank_account
            assert response.headers["content-type"] == "application/problem+json"
            assert response.json()["errors"]
            assert "31415926" not in response.text
        grant = await runtime.db.grants.find_one({"_id": offer.grant_id})
        assert grant["status"] == "offered" and "bank_account" not in grant
        assert await runtime.db.payments.count_documents({}) == 0
        assert bus.of_type(GrantAccepted.type) == []
