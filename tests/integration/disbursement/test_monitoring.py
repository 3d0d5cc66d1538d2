"""Monitoring reports over the real broker and database: the programme's policy gives each accepted
grant its reports; the grantee submits, a reviewer sends back with comments or accepts, each step
published; the watcher reminds once before due and once when overdue."""

import asyncio
from datetime import timedelta

from grants_shared.clock import utcnow
from grants_shared.events import (
    MonitoringReportAccepted, MonitoringReportChangesRequested, MonitoringReportDue, MonitoringReportSubmitted,
)  # fmt: skip
from grants_shared.settings import ServiceSettings
from tests.integration.disbursement.helpers import (
    ACCOUNT, OTHER_ORG, SIGNATORY, applicant, disbursement, finance, handled, offered_grant, programme_opened,
)  # fmt: skip
from tests.support.app import bearer
from tests.support.bus import TestBus

POLICY = {"points": [{"name": "Midway report", "due_after_days": 90},
                     {"name": "End of grant report", "due_after_days": 180}], "reminder_days": 14}  # fmt: skip
REPORT = {"what_was_done": "Twelve weekly walks", "people_reached": 48,
          "spent": {"amount": 120_000, "currency": "GBP"}, "what_changed": "People said they felt less alone"}  # fmt: skip


def manager(settings: ServiceSettings) -> dict[str, str]:
    return bearer(settings, "maya", "programme_manager")


async def accepted_grant_with_reports(client, settings: ServiceSettings, bus: TestBus, runtime) -> list[dict]:
    await bus.publish(programme_opened())
    await handled(runtime.db, 1)
    url = "/v1/programmes/prog-1/monitoring-policy"
    assert (await client.put(url, json=POLICY, headers=finance(settings))).status_code == 403
    bad = {**POLICY, "reminder_days": 120}
    refused = await client.put(url, json=bad, headers=manager(settings))
    assert refused.status_code == 422 and refused.headers["content-type"] == "application/problem+json"
    set_policy = await client.put(url, json=POLICY, headers=manager(settings))
    assert set_policy.status_code == 200 and set_policy.json()["set_by"] == "maya"

    offer = await offered_grant(bus, "app-1", 500_000)
    accepted = await client.post(f"/v1/grants/{offer.grant_id}/accept",
                                 json={"bank_account": ACCOUNT, "signatory": SIGNATORY}, headers=applicant(settings))  # fmt: skip
    assert accepted.status_code == 200, accepted.text
    listed = await client.get(f"/v1/grants/{offer.grant_id}/reports", headers=applicant(settings))
    assert listed.status_code == 200
    return listed.json()


async def test_accepting_gives_the_grant_its_reports_and_the_review_cycle_runs(
    settings: ServiceSettings, bus: TestBus
) -> None:
    async with disbursement(settings) as (client, runtime):
        reports = await accepted_grant_with_reports(client, settings, bus, runtime)
        assert [(r["sequence"], r["name"], r["status"], r["overdue"]) for r in reports] == [
            (1, "Midway report", "due", False), (2, "End of grant report", "due", False)]
        due = reports[0]["due_at"][:10]
        assert due == (utcnow() + timedelta(days=90)).date().isoformat()
        report_id = reports[0]["id"]
        url = f"/v1/reports/{report_id}"
        assert (await client.get(url, headers=applicant(settings, OTHER_ORG))).status_code == 404

        euros = await client.post(f"{url}/submission", json={**REPORT, "spent": {"amount": 1, "currency": "EUR"}},
                                  headers=applicant(settings))  # fmt: skip
        assert euros.status_code == 422
        early_review = await client.post(f"{url}/review", json={"outcome": "accepted"}, headers=finance(settings))
        assert early_review.status_code == 409  # nothing submitted yet
        submitted = await client.post(f"{url}/submission", json=REPORT, headers=applicant(settings))
        assert submitted.status_code == 200, submitted.text
        assert submitted.json()["status"] == "submitted" and submitted.json()["people_reached"] == 48
        [event] = await bus.wait_for(MonitoringReportSubmitted.type, report_id=report_id)
        assert event.data.spent.amount == 120_000
        again = await client.post(f"{url}/submission", json=REPORT, headers=applicant(settings))
        assert again.status_code == 409  # awaiting review

        silent = await client.post(f"{url}/review", json={"outcome": "changes_requested"}, headers=finance(settings))
        assert silent.status_code == 422
        assert (await client.post(f"{url}/review", json={"outcome": "accepted"},
                                  headers=applicant(settings))).status_code == 403  # fmt: skip
        sent_back = await client.post(f"{url}/review", json={"outcome": "changes_requested",
                                      "comments": "Say what the spend was for"}, headers=finance(settings))  # fmt: skip
        assert sent_back.status_code == 200 and sent_back.json()["status"] == "changes_requested"
        [changes] = await bus.wait_for(MonitoringReportChangesRequested.type, report_id=report_id)
        assert changes.data.comments == "Say what the spend was for"

        resubmitted = await client.post(f"{url}/submission", json={**REPORT, "what_was_done": "Walks; £1,200 on a guide"},
                                        headers=applicant(settings))  # fmt: skip
        assert resubmitted.status_code == 200
        stale = await client.post(f"{url}/review", json={"outcome": "accepted"},
                                  headers={**manager(settings), "If-Match": '"1"'})  # fmt: skip
        assert stale.status_code == 412
        accepted = await client.post(f"{url}/review", json={"outcome": "accepted"}, headers=manager(settings))
        assert accepted.status_code == 200, accepted.text
        body = accepted.json()
        assert body["status"] == "accepted" and [r["outcome"] for r in body["reviews"]] == ["changes_requested", "accepted"]
        await bus.wait_for(MonitoringReportAccepted.type, report_id=report_id)
        assert (await client.post(f"{url}/submission", json=REPORT, headers=applicant(settings))).status_code == 409


async def test_the_grantee_is_reminded_once_before_due_and_told_once_when_overdue(
    settings: ServiceSettings, bus: TestBus
) -> None:
    async with disbursement(settings, offer_poll_seconds=0.1) as (client, runtime):
        reports = await accepted_grant_with_reports(client, settings, bus, runtime)
        await asyncio.sleep(0.3)
        assert bus.of_type(MonitoringReportDue.type) == []  # neither due yet

        first = reports[0]["id"]
        await runtime.db.monitoring_reports.update_one({"_id": first}, {"$set": {"remind_at": utcnow()}})
        [reminder] = await bus.wait_for(MonitoringReportDue.type, report_id=first)
        assert reminder.data.overdue is False and reminder.data.name == "Midway report"

        past = utcnow() - timedelta(days=1)
        await runtime.db.monitoring_reports.update_one({"_id": first}, {"$set": {"due_at": past, "overdue_at": past}})
        notices = await bus.wait_for(MonitoringReportDue.type, count=2, report_id=first)
        assert [n.data.overdue for n in notices] == [False, True]
        late = (await client.get(f"/v1/reports/{first}", headers=applicant(settings))).json()
        assert late["overdue"] is True
        await asyncio.sleep(0.5)  # several more rounds of the watcher
        assert len(bus.of_type(MonitoringReportDue.type)) == 2


async def test_the_report_s_words_go_when_the_application_is_anonymised_and_reviewers_when_erased(
    settings: ServiceSettings, bus: TestBus
) -> None:
    from disbursement import commands

    async with disbursement(settings) as (client, runtime):
        reports = await accepted_grant_with_reports(client, settings, bus, runtime)
        url = f"/v1/reports/{reports[0]['id']}"
        assert (await client.post(f"{url}/submission", json=REPORT, headers=applicant(settings))).status_code == 200
        assert (await client.post(f"{url}/review", json={"outcome": "changes_requested", "comments": "About Sam"},
                                  headers=manager(settings))).status_code == 200  # fmt: skip
        await runtime.database.transact(lambda tx: commands.erase_person(tx, "erase-maya", "maya"))
        await runtime.database.transact(lambda tx: commands.anonymise_application(tx, "app-1"))
        kept = await runtime.db.monitoring_reports.find_one({"_id": reports[0]["id"]})
        assert kept["answers"]["what_was_done"] is None and kept["answers"]["what_changed"] is None
        assert kept["answers"]["people_reached"] == 48  # the numbers are not about anyone
        assert kept["reviews"][0]["comments"] is None and kept["reviews"][0]["by"] != "maya"
