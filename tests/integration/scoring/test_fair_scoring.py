"""Scoring that is fair and explained: blind review (no reviewer-facing endpoint ever carries a field
the programme hides), scoring guidance served with the review form, and reminders before a review is
due and notices once it is overdue, each once."""

import asyncio
import json
import re
from datetime import timedelta

from grants_shared.clock import utcnow
from grants_shared.events import (
    ApplicationScored, ApplicationSubmitted, Contact, Event, OrganisationSummary, PaymentPolicy, ProgrammeOpened,
    ReviewAssigned, ReviewOverdue, ReviewReminderDue, RubricCriterion, ScoreGuidance,
)  # fmt: skip
from grants_shared.money import Money
from grants_shared.settings import ServiceSettings
from tests.integration.scoring.helpers import CRITERIA, Scoring, gbp, running_scoring
from tests.support.bus import TestBus

#: What identifies the applicant: none of it may reach a reviewer of a blind programme.
NAME, KIND, AREA = "Harbour Lights Collective", "community interest company", "Calderdale"
ALL_HIDDEN = ["organisation_area", "organisation_kind", "organisation_name"]


async def _submit_identifiable(scoring: Scoring, application_id: str, programme_id: str) -> None:
    await scoring.bus.publish(ApplicationSubmitted(
        application_id=application_id, programme_id=programme_id,
        organisation=OrganisationSummary(id="org-hl", name=NAME, kind=KIND, area=AREA),
        title="Walk and talk groups", summary="Weekly peer-led walks for men at risk.",
        amount_requested=Money(**gbp(3_000)),
        contact=Contact(person_id="person-hl", name="Jo Example", email="jo@example.org"), submitted_at=utcnow(),
    ))  # fmt: skip


async def _blind(scoring: Scoring, programme_id: str, hidden: list[str]) -> dict:
    read = await scoring.http.get(f"/v1/programmes/{programme_id}", headers=scoring.manager)
    changed = await scoring.http.put(
        f"/v1/programmes/{programme_id}/blind-review", json={"hidden_from_reviewers": hidden},
        headers={**scoring.manager, "If-Match": read.headers["ETag"]},
    )
    assert changed.status_code == 200, changed.text
    return changed.json()


def _leaks(body: str) -> list[str]:
    return [value for value in (NAME, KIND, AREA) if value.lower() in body.lower()]


async def test_the_manager_sets_blind_review_with_if_match_and_only_a_manager_may(scoring: Scoring) -> None:
    await scoring.open_programme("prog-bm", panel=["rev-a", "rev-b"], k=1)
    url = "/v1/programmes/prog-bm/blind-review"
    body = {"hidden_from_reviewers": ["organisation_name"]}
    assert (await scoring.http.put(url, json=body, headers=scoring.manager)).status_code == 428
    stale = await scoring.http.put(url, json=body, headers={**scoring.manager, "If-Match": '"99"'})
    assert stale.status_code == 412
    as_reviewer = await scoring.http.put(url, json=body, headers={**scoring.reviewer("rev-a"), "If-Match": '"1"'})
    assert as_reviewer.status_code == 403
    unknown = await scoring.http.put(
        url, json={"hidden_from_reviewers": ["bank_details"]}, headers={**scoring.manager, "If-Match": '"1"'}
    )
    assert unknown.status_code == 422 and unknown.headers["content-type"].startswith("application/problem+json")
    programme = await _blind(scoring, "prog-bm", ["organisation_name", "organisation_area"])
    assert programme["hidden_from_reviewers"] == ["organisation_area", "organisation_name"]
    seen = (await scoring.http.get("/v1/programmes/prog-bm", headers=scoring.reviewer("rev-a"))).json()
    assert seen["hidden_from_reviewers"] == ["organisation_area", "organisation_name"]  # they know what is hidden


async def test_no_reviewer_facing_endpoint_carries_a_hidden_field(scoring: Scoring) -> None:
    await scoring.open_programme("prog-bl", panel=["rev-a", "rev-b"], k=1)
    members = [{"member_id": "rev-a", "kind": "expert_by_experience"}, {"member_id": "rev-b", "kind": "staff"}]
    rule = {"method": "majority", "members": members, "quorum": {"members": 1, "experts": 0}}
    assert (await scoring.rule("prog-bl", rule)).status_code == 200
    await _blind(scoring, "prog-bl", ALL_HIDDEN)
    await _submit_identifiable(scoring, "app-bl", "prog-bl")
    [assigned] = await scoring.assigned("app-bl", 1)
    reviewer, review_id = assigned.reviewer_id, assigned.review_id
    other = "rev-b" if reviewer == "rev-a" else "rev-a"
    headers = scoring.reviewer(reviewer)
    bodies: dict[str, str] = {}

    # the writes a reviewer makes answer with the review too
    read = await scoring.http.get(f"/v1/reviews/{review_id}", headers=headers)
    sheet = {"scores": {"need": {"score": 4}, "impact": {"score": 3}}}
    saved = await scoring.http.put(f"/v1/reviews/{review_id}/scores", json=sheet,
                                   headers={**headers, "If-Match": read.headers["ETag"]})  # fmt: skip
    bodies["PUT scores"] = saved.text
    submitted = await scoring.http.post(f"/v1/reviews/{review_id}/submit", headers=headers)
    assert submitted.status_code == 200, submitted.text
    bodies["POST submit"] = submitted.text
    await scoring.bus.wait_for(ApplicationScored.type, application_id="app-bl")
    called = await scoring.http.post("/v1/programmes/prog-bl/meetings", headers=scoring.manager, json={
        "held_on": "2026-12-09", "application_ids": ["app-bl"], "attendance": ["rev-a", "rev-b"],
    })
    assert called.status_code == 201, called.text
    meeting_id = called.json()["id"]
    assert NAME in called.text  # managers still see everything
    voted = await scoring.http.put(f"/v1/meetings/{meeting_id}/items/app-bl/recommendation",
                                   json={"recommendation": "fund"}, headers=headers)  # fmt: skip
    assert voted.status_code == 200, voted.text
    bodies["PUT recommendation"] = voted.text

    # every GET in scoring's OpenAPI document, with its ids filled in, as a reviewer and a panel member
    ids = {"programme_id": "prog-bl", "review_id": review_id, "meeting_id": meeting_id, "application_id": "app-bl",
           "conflict_id": "none", "person_id": reviewer, "request_id": "none", "member_id": reviewer,
           "claim_id": "none"}  # fmt: skip
    paths = (await scoring.http.get("/openapi.json")).json()["paths"]
    walked = []
    for path, operations in paths.items():
        if "get" not in operations:
            continue
        url = re.sub(r"\{(\w+)\}", lambda m: ids[m.group(1)], path)
        for who in (reviewer, other):
            answer = await scoring.http.get(url, headers=scoring.reviewer(who))
            bodies[f"GET {url} as {who}"] = answer.text
        walked.append(path)
    assert {"/v1/reviews", "/v1/reviews/{review_id}", "/v1/programmes/{programme_id}/ranking",
            "/v1/programmes/{programme_id}/organisations", "/v1/meetings/{meeting_id}",
            "/v1/applications/{application_id}"} <= set(walked)  # fmt: skip
    leaks = {what: _leaks(body) for what, body in bodies.items() if _leaks(body)}
    assert leaks == {}, leaks
    # ...and reviewers still see what they need: the application itself, and that the rest is hidden
    review = json.loads(bodies[f"GET /v1/reviews/{review_id} as {reviewer}"])
    assert review["application_summary"] == "Weekly peer-led walks for men at risk."
    assert (review["organisation_name"], review["organisation_kind"], review["organisation_area"]) == (None,) * 3
    assert review["hidden_fields"] == ALL_HIDDEN
    ranking = json.loads(bodies[f"GET /v1/programmes/prog-bl/ranking as {reviewer}"])
    assert [(e["application_id"], e["organisation_name"]) for e in ranking["applications"]] == [("app-bl", None)]

    # managers see every field on the same endpoints
    managed = (await scoring.http.get("/v1/programmes/prog-bl/ranking", headers=scoring.manager)).json()
    assert managed["applications"][0]["organisation_name"] == NAME
    meeting = (await scoring.http.get(f"/v1/meetings/{meeting_id}", headers=scoring.manager)).json()
    assert meeting["items"][0]["organisation_name"] == NAME
    assert (await scoring.application("app-bl"))["organisation"] == {"id": "org-hl", "name": NAME, "kind": KIND,
                                                                      "area": AREA}  # fmt: skip


async def test_conflict_rules_keep_working_under_blind_review(scoring: Scoring) -> None:
    await scoring.open_programme("prog-bc", panel=["rev-a", "rev-b"], k=1)
    await _blind(scoring, "prog-bc", ALL_HIDDEN)
    await _submit_identifiable(scoring, "app-bc", "prog-bc")
    [assigned] = await scoring.assigned("app-bc", 1)
    first = assigned.reviewer_id
    # the reviewer recognises the group from what it wrote, and declines for a conflict
    declined = await scoring.http.post(f"/v1/reviews/{assigned.review_id}/decline",
                                       json={"reason": "conflict", "note": "I know them"},
                                       headers=scoring.reviewer(first))  # fmt: skip
    assert declined.status_code == 200, declined.text
    second = "rev-b" if first == "rev-a" else "rev-a"
    await scoring.review_of("app-bc", second)
    # the conflict holds on the organisation's id: a second application of the group never reaches them
    await _submit_identifiable(scoring, "app-bc2", "prog-bc")
    [again] = await scoring.assigned("app-bc2", 1)
    assert again.reviewer_id == second
    # and a representative of the group still may not score it, blind or not
    rep = scoring.as_(second, "reviewer", organisations=("org-hl",))
    read = await scoring.http.get(f"/v1/reviews/{again.review_id}", headers=rep)
    scored = await scoring.http.put(f"/v1/reviews/{again.review_id}/scores",
                                    json={"scores": {"need": {"score": 1}, "impact": {"score": 1}}},
                                    headers={**rep, "If-Match": read.headers["ETag"]})  # fmt: skip
    assert scored.status_code == 403


async def test_the_review_form_carries_each_criterion_s_scoring_guidance(scoring: Scoring) -> None:
    guided = [
        RubricCriterion(key="need", title="Need in the community", weight=3, guidance=[
            ScoreGuidance(score=5, meaning="Clear evidence of need, in the community's own words"),
            ScoreGuidance(score=0, meaning="No need described"),
        ]),
        CRITERIA[1],
    ]  # fmt: skip
    now = utcnow()
    await scoring.bus.publish(ProgrammeOpened(
        programme_id="prog-gd", name="Guided fund", budget=Money(**gbp(10_000)), maximum_award=Money(**gbp(5_000)),
        opens_at=now, closes_at=now + timedelta(days=30), criteria=guided, reviewers_per_application=1,
        panel=["rev-a"], payment_policy=PaymentPolicy(),
    ))  # fmt: skip
    await scoring.eventually(lambda: scoring.db.programmes.find_one({"_id": "prog-gd"}))
    await scoring.submit("app-gd", "prog-gd", "org-gd")
    review_id = await scoring.review_of("app-gd", "rev-a")
    review = (await scoring.http.get(f"/v1/reviews/{review_id}", headers=scoring.reviewer("rev-a"))).json()
    need, impact = review["criteria"]
    assert need["guidance"] == [
        {"score": 0, "meaning": "No need described"},
        {"score": 5, "meaning": "Clear evidence of need, in the community's own words"},
    ]
    assert impact["guidance"] == []


async def test_a_review_is_reminded_before_it_is_due_and_noticed_once_overdue(
    settings: ServiceSettings, bus: TestBus
) -> None:
    async with running_scoring(settings, bus, review_watch_seconds=0.1, review_reminder_days=3) as scoring:
        now = utcnow()
        # opened by pm-1 (the event's actor): the manager told of overdue reviews
        await bus.publish_event(Event.new(ProgrammeOpened(
            programme_id="prog-rm", name="Reminded fund", budget=Money(**gbp(10_000)),
            maximum_award=Money(**gbp(5_000)), opens_at=now, closes_at=now + timedelta(days=30), criteria=CRITERIA,
            reviewers_per_application=2, panel=["rev-a", "rev-b"], payment_policy=PaymentPolicy(),
        ), source="/grants/test", actor="pm-1"))  # fmt: skip
        await scoring.eventually(lambda: scoring.db.programmes.find_one({"_id": "prog-rm"}))
        await scoring.submit("app-rm", "prog-rm", "org-rm")
        assigned = {a.reviewer_id: a for a in await scoring.assigned("app-rm", 2)}
        late, done = assigned["rev-a"].review_id, assigned["rev-b"].review_id
        stored = await scoring.db.reviews.find_one({"_id": late})
        due = assigned["rev-a"].due_date
        assert stored["remind_at"].date() == due - timedelta(days=3)
        assert stored["overdue_at"].date() == due + timedelta(days=1)
        await asyncio.sleep(0.4)
        assert bus.of_type(ReviewReminderDue.type) == [] and bus.of_type(ReviewOverdue.type) == []

        # rev-b submits: a completed review is never chased
        assert (await scoring.score(done, "rev-b", need=4, impact=4)).status_code == 200
        completed = await scoring.db.reviews.find_one({"_id": done})
        assert "remind_at" not in completed and "overdue_at" not in completed

        for review_id in (late, done):  # both reminders come due
            await scoring.db.reviews.update_one({"_id": review_id}, {"$set": {"remind_at": utcnow()}})
        [reminder] = await bus.wait_for(ReviewReminderDue.type, review_id=late)
        assert (reminder.data.reviewer_id, reminder.data.due_date) == ("rev-a", due)

        past = utcnow() - timedelta(days=2)
        await scoring.db.reviews.update_one(
            {"_id": late}, {"$set": {"due_date": (past - timedelta(days=1)).date().isoformat(), "overdue_at": past}}
        )
        [overdue] = await bus.wait_for(ReviewOverdue.type, review_id=late)
        assert (overdue.data.reviewer_id, overdue.data.manager_id) == ("rev-a", "pm-1")
        await asyncio.sleep(0.5)  # several more rounds of the watcher
        assert len(bus.of_type(ReviewReminderDue.type)) == 1 and len(bus.of_type(ReviewOverdue.type)) == 1
        assert [e.data.review_id for e in bus.of_type(ReviewReminderDue.type)] == [late]
        assert len(bus.of_type(ReviewAssigned.type)) == 2
