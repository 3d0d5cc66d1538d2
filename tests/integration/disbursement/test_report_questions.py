"""A programme's own questions in its monitoring reports, over the real broker and database: set with
the monitoring policy (checked as application forms are; no file questions), kept on each report when
the offer is accepted, every answer checked at submission (each problem named by its question), and
gone with the report's other words at the end of the application's retention."""

from grants_shared.settings import ServiceSettings
from tests.integration.disbursement.helpers import (
    ACCOUNT, SIGNATORY, applicant, disbursement, handled, offered_grant, programme_opened,
)  # fmt: skip
from tests.integration.disbursement.test_monitoring import REPORT, manager
from tests.support.bus import TestBus

QUESTIONS = [
    {"id": "volunteers", "kind": "number", "label": "How many volunteers helped?", "minimum": 0},
    {"id": "safeguarding", "kind": "yes_no", "label": "Were there any safeguarding concerns?"},
    {"id": "concerns", "kind": "long_text", "label": "What happened, and what did you do?",
     "shown_if": {"question_id": "safeguarding", "any_of": ["yes"]}},
]
POLICY = {"points": [{"name": "Midway report", "due_after_days": 90}], "reminder_days": 14, "questions": QUESTIONS}


async def test_reports_ask_the_programme_s_own_questions_and_check_every_answer(
    settings: ServiceSettings, bus: TestBus
) -> None:
    from disbursement import commands

    async with disbursement(settings) as (client, runtime):
        await bus.publish(programme_opened())
        await handled(runtime.db, 1)
        url = "/v1/programmes/prog-1/monitoring-policy"
        with_file = {**POLICY, "questions": [{"id": "receipts", "kind": "file", "label": "Receipts",
                                              "allowed_types": ["application/pdf"]}]}  # fmt: skip
        assert (await client.put(url, json=with_file, headers=manager(settings))).status_code == 422
        twice = {**POLICY, "questions": [QUESTIONS[0], QUESTIONS[0]]}
        assert (await client.put(url, json=twice, headers=manager(settings))).status_code == 422
        set_policy = await client.put(url, json=POLICY, headers=manager(settings))
        assert set_policy.status_code == 200, set_policy.text
        assert [q["id"] for q in set_policy.json()["questions"]] == ["volunteers", "safeguarding", "concerns"]

        offer = await offered_grant(bus, "app-1", 500_000)
        assert (await client.post(f"/v1/grants/{offer.grant_id}/accept", headers=applicant(settings),
                                  json={"bank_account": ACCOUNT, "signatory": SIGNATORY})).status_code == 200  # fmt: skip
        # A later policy does not change what a report already made asks.
        assert (await client.put(url, json={**POLICY, "questions": []}, headers=manager(settings))).status_code == 200
        [report] = (await client.get(f"/v1/grants/{offer.grant_id}/reports", headers=applicant(settings))).json()
        assert [q["id"] for q in report["questions"]] == ["volunteers", "safeguarding", "concerns"]

        submission = f"/v1/reports/{report['id']}/submission"
        refused = await client.post(submission, json={**REPORT, "answers": {"volunteers": -2, "safeguarding": True}},
                                    headers=applicant(settings))  # fmt: skip
        assert refused.status_code == 422 and refused.headers["content-type"] == "application/problem+json"
        named = {tuple(e["location"]) for e in refused.json()["errors"]}
        assert named == {("body", "answers", "volunteers"), ("body", "answers", "concerns")}  # too few; missing
        answers = {"volunteers": 6, "safeguarding": True, "concerns": "One disclosure, passed to the lead the same day"}
        sent = await client.post(submission, json={**REPORT, "answers": answers}, headers=applicant(settings))
        assert sent.status_code == 200, sent.text
        assert sent.json()["answers"] == answers

        await runtime.database.transact(lambda tx: commands.anonymise_application(tx, "app-1"))
        kept = await runtime.db.monitoring_reports.find_one({"_id": report["id"]})
        assert kept["answers"]["extra"] is None and kept["answers"]["people_reached"] == 48
