"""Conditional tranches over the real broker and database: a tranche that waits for an accepted
monitoring report, or for a named condition a programme manager marks met, is not gathered into a
payment run by date; it is released (published once) when what it waits for is met, an overdue
report holds it visibly (published once), and it is paid once, with the statement balancing."""

import asyncio
from datetime import timedelta

from grants_shared.clock import utcnow
from grants_shared.events import PaymentSent, TrancheHeldForReport, TrancheReleased
from grants_shared.settings import ServiceSettings
from tests.integration.disbursement.helpers import (
    ACCOUNT, SIGNATORY, applicant, approve_due_payments, disbursement, finance, handled, offered_grant,
    programme_opened, statement, tranches,
)  # fmt: skip
from tests.integration.disbursement.test_monitoring import REPORT, manager
from tests.support.app import bearer
from tests.support.bus import TestBus

MONITORING = {"points": [{"name": "midway", "due_after_days": 90}, {"name": "end", "due_after_days": 180}],
              "reminder_days": 14}  # fmt: skip
#: Three tranches: the first on acceptance; the second once the midway report is accepted; the third
#: once the programme manager has checked the group's safeguarding policy.
TRANCHE_POLICY = {"requirements": [{"sequence": 2, "report": "midway"},
                                   {"sequence": 3, "condition": "Safeguarding policy checked"}]}  # fmt: skip


async def _accepted(client, settings: ServiceSettings, bus: TestBus, runtime) -> tuple[str, list[dict]]:
    await bus.publish(programme_opened(policy=tranches((4000, 0), (3000, 0), (3000, 0))))
    await handled(runtime.db, 1)
    assert (await client.put("/v1/programmes/prog-1/monitoring-policy", json=MONITORING,
                             headers=manager(settings))).status_code == 200  # fmt: skip
    url = "/v1/programmes/prog-1/tranche-policy"
    assert (await client.put(url, json=TRANCHE_POLICY, headers=finance(settings))).status_code == 403
    for bad in ({"requirements": [{"sequence": 4, "condition": "x"}]},  # the policy has three tranches
                {"requirements": [{"sequence": 2, "report": "quarterly"}]},  # no such report point
                {"requirements": [{"sequence": 2}]}):  # nothing to wait for
        refused = await client.put(url, json=bad, headers=manager(settings))
        assert refused.status_code == 422 and refused.headers["content-type"] == "application/problem+json", bad
    assert (await client.put(url, json=TRANCHE_POLICY, headers=manager(settings))).status_code == 200
    assert (await client.get(url, headers=finance(settings))).json()["requirements"][1]["condition"] == \
        "Safeguarding policy checked"

    offer = await offered_grant(bus, "app-1", 500_000)
    accepted = await client.post(f"/v1/grants/{offer.grant_id}/accept",
                                 json={"bank_account": ACCOUNT, "signatory": SIGNATORY}, headers=applicant(settings))  # fmt: skip
    assert accepted.status_code == 200, accepted.text
    reports = (await client.get(f"/v1/grants/{offer.grant_id}/reports", headers=applicant(settings))).json()
    return offer.grant_id, reports


async def _payments(client, settings: ServiceSettings, grant_id: str) -> list[dict]:
    grant = await client.get(f"/v1/grants/{grant_id}", headers=applicant(settings))
    assert grant.status_code == 200
    return grant.json()["payments"]


def _waiting(payment: dict) -> list[tuple]:
    return [(w["kind"], w["name"], w["overdue"]) for w in payment["waiting_for"]]


async def test_tranches_wait_for_an_accepted_report_and_a_condition_met_and_are_paid_once(
    settings: ServiceSettings, bus: TestBus
) -> None:
    async with disbursement(settings) as (client, runtime):
        grant_id, reports = await _accepted(client, settings, bus, runtime)
        first, second, third = await _payments(client, settings, grant_id)
        # All three are due today by date; only the first waits for nothing else.
        assert _waiting(first) == [("finance_approval", None, False)]
        assert _waiting(second) == [("report", "midway", False)]
        assert _waiting(third) == [("condition", "Safeguarding policy checked", False)]

        [run] = await approve_due_payments(client, settings)
        assert run["payment_ids"] == [first["id"]]
        await bus.wait_for(PaymentSent.type, payment_id=first["id"])
        assert await approve_due_payments(client, settings) == []  # the others are not due: they wait

        # The midway report: sent back once, then accepted; only acceptance releases the tranche.
        midway = f"/v1/reports/{reports[0]['id']}"
        assert (await client.post(f"{midway}/submission", json=REPORT, headers=applicant(settings))).status_code == 200
        assert (await client.post(f"{midway}/review", json={"outcome": "changes_requested", "comments": "Spend?"},
                                  headers=manager(settings))).status_code == 200  # fmt: skip
        assert bus.of_type(TrancheReleased.type) == []
        assert (await client.post(f"{midway}/submission", json=REPORT, headers=applicant(settings))).status_code == 200
        assert (await client.get("/v1/reports", headers=applicant(settings))).status_code == 403
        waiting = await client.get("/v1/reports", params={"programme_id": "prog-1"}, headers=manager(settings))
        assert [r["id"] for r in waiting.json()["items"]] == [reports[0]["id"]]  # awaiting review
        assert (await client.post(f"{midway}/review", json={"outcome": "accepted"},
                                  headers=manager(settings))).status_code == 200  # fmt: skip
        [released] = await bus.wait_for(TrancheReleased.type, payment_id=second["id"])
        assert released.data.met == ["midway"] and released.data.amount.amount == 150_000
        [run] = await approve_due_payments(client, settings)
        assert run["payment_ids"] == [second["id"]]

        # The named condition: only a programme manager marks it, once, with who and when.
        met_url = f"/v1/grants/{grant_id}/conditions/met"
        condition = {"name": "Safeguarding policy checked"}
        assert (await client.post(met_url, json=condition, headers=applicant(settings))).status_code == 403
        unknown = await client.post(met_url, json={"name": "Something else"}, headers=manager(settings))
        assert unknown.status_code == 404 and unknown.headers["content-type"] == "application/problem+json"
        stale = await client.post(met_url, json=condition, headers={**manager(settings), "If-Match": '"1"'})
        assert stale.status_code == 412
        seen = await client.get(f"/v1/grants/{grant_id}/conditions", headers=manager(settings))
        assert seen.status_code == 200 and "bank_account" not in seen.json()
        assert [c["met_at"] for c in seen.json()["conditions"]] == [None]
        assert (await client.get(f"/v1/grants/{grant_id}/conditions", headers=applicant(settings))).status_code == 403
        met = await client.post(met_url, json=condition, headers=manager(settings))
        assert met.status_code == 200, met.text
        [marked] = met.json()["conditions"]
        assert marked["met_by"] == "maya" and marked["met_at"]
        assert (await client.post(met_url, json=condition, headers=manager(settings))).status_code == 409
        await bus.wait_for(TrancheReleased.type, payment_id=third["id"])
        [run] = await approve_due_payments(client, settings)
        assert run["payment_ids"] == [third["id"]]

        for payment in (second, third):
            await bus.wait_for(PaymentSent.type, payment_id=payment["id"])
        await asyncio.sleep(0.3)  # a few more rounds of the runner
        assert sorted(e.data.payment_id for e in bus.of_type(PaymentSent.type)) == sorted(
            p["id"] for p in (first, second, third))  # each once
        assert len(bus.of_type(TrancheReleased.type)) == 2
        paid = await client.get(f"/v1/grants/{grant_id}", headers=applicant(settings))
        assert paid.json()["status"] == "paid" and all(p["waiting_for"] == [] for p in paid.json()["payments"])
        ledger = await statement(client, settings)
        assert ledger["paid"]["amount"] == 500_000 and ledger["committed"]["amount"] == 0


async def test_an_overdue_report_holds_the_tranche_waiting_for_it_visibly_and_once(
    settings: ServiceSettings, bus: TestBus
) -> None:
    async with disbursement(settings, offer_poll_seconds=0.1) as (client, runtime):
        grant_id, reports = await _accepted(client, settings, bus, runtime)
        _, second, _ = await _payments(client, settings, grant_id)
        midway = reports[0]["id"]
        past = utcnow() - timedelta(days=1)
        await runtime.db.monitoring_reports.update_one({"_id": midway}, {"$set": {"due_at": past, "overdue_at": past}})
        [held] = await bus.wait_for(TrancheHeldForReport.type, payment_id=second["id"])
        assert held.data.report_name == "midway" and held.data.sequence == 2
        _, second, _ = await _payments(client, settings, grant_id)
        assert _waiting(second) == [("report", "midway", True)]

        # Sent back after its due date it is overdue again: the tranche was held already, not again.
        url = f"/v1/reports/{midway}"
        assert (await client.post(f"{url}/submission", json=REPORT, headers=applicant(settings))).status_code == 200
        assert (await client.post(f"{url}/review", json={"outcome": "changes_requested", "comments": "More"},
                                  headers=manager(settings))).status_code == 200  # fmt: skip
        await asyncio.sleep(0.5)  # several rounds of the watcher
        assert len(bus.of_type(TrancheHeldForReport.type)) == 1
        gathered = await client.post("/v1/payment-runs", headers=finance(settings))
        assert second["id"] not in [pid for run in gathered.json() for pid in run["payment_ids"]]

        # Finance holding and releasing the grant does not let a waiting tranche through.
        assert (await client.post(f"/v1/grants/{grant_id}/hold", headers=finance(settings))).status_code == 200
        assert (await client.post(f"/v1/grants/{grant_id}/release", headers=finance(settings))).status_code == 200
        runs = await approve_due_payments(client, settings)  # the first tranche, released with the grant
        assert second["id"] not in [pid for run in runs for pid in run["payment_ids"]]

        assert (await client.post(f"{url}/submission", json=REPORT, headers=applicant(settings))).status_code == 200
        assert (await client.post(f"{url}/review", json={"outcome": "accepted"},
                                  headers=bearer(settings, "fin-1", "finance_officer"))).status_code == 200  # fmt: skip
        await bus.wait_for(TrancheReleased.type, payment_id=second["id"])
        _, second, _ = await _payments(client, settings, grant_id)
        assert _waiting(second) == [("finance_approval", None, False)]
        [run] = await approve_due_payments(client, settings)
        assert run["payment_ids"] == [second["id"]]
        await statement(client, settings)


async def test_a_report_accepted_and_a_condition_met_at_once_release_the_tranche_once(
    settings: ServiceSettings, bus: TestBus
) -> None:
    both = {"requirements": [{"sequence": 2, "report": "midway", "condition": "Accounts seen"}]}
    async with disbursement(settings) as (client, runtime):
        await bus.publish(programme_opened(policy=tranches((5000, 0), (5000, 0))))
        await handled(runtime.db, 1)
        assert (await client.put("/v1/programmes/prog-1/monitoring-policy", json=MONITORING,
                                 headers=manager(settings))).status_code == 200  # fmt: skip
        assert (await client.put("/v1/programmes/prog-1/tranche-policy", json=both,
                                 headers=manager(settings))).status_code == 200  # fmt: skip
        offer = await offered_grant(bus, "app-1", 500_000)
        assert (await client.post(f"/v1/grants/{offer.grant_id}/accept", headers=applicant(settings),
                                  json={"bank_account": ACCOUNT, "signatory": SIGNATORY})).status_code == 200  # fmt: skip
        reports = (await client.get(f"/v1/grants/{offer.grant_id}/reports", headers=applicant(settings))).json()
        _, second = await _payments(client, settings, offer.grant_id)
        assert _waiting(second) == [("report", "midway", False), ("condition", "Accounts seen", False)]
        midway = f"/v1/reports/{reports[0]['id']}"
        assert (await client.post(f"{midway}/submission", json=REPORT, headers=applicant(settings))).status_code == 200

        accepted, met = await asyncio.gather(
            client.post(f"{midway}/review", json={"outcome": "accepted"}, headers=manager(settings)),
            client.post(f"/v1/grants/{offer.grant_id}/conditions/met", json={"name": "Accounts seen"},
                        headers=bearer(settings, "maya-2", "programme_manager")),
        )  # fmt: skip
        assert accepted.status_code == 200 and met.status_code == 200, (accepted.text, met.text)
        [released] = await bus.wait_for(TrancheReleased.type, payment_id=second["id"])
        assert sorted(released.data.met) == ["Accounts seen", "midway"]
        await asyncio.sleep(0.3)
        assert len(bus.of_type(TrancheReleased.type)) == 1
        _, second = await _payments(client, settings, offer.grant_id)
        assert _waiting(second) == [("finance_approval", None, False)]

        # Whoever marked the condition met is erased like anyone else who acted on a grant.
        from disbursement import commands

        await runtime.database.transact(lambda tx: commands.erase_person(tx, "erase-maya-2", "maya-2"))
        kept = await runtime.db.grants.find_one({"_id": offer.grant_id})
        assert kept["conditions"][0]["met_by"] not in (None, "maya-2") and kept["conditions"][0]["met_at"]
