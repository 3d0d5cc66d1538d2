"""Panel members supported, over the real broker and database: a member's profile is seen only by
them and programme managers; managers record courses; a programme's required courses keep untrained
members from being assigned, scoring and voting (naming what is missing), and a course recorded later
lets waiting applications reach them."""

import json

from grants_shared.events import ApplicationScored, PersonErasureRequested, ReviewAssigned
from tests.integration.scoring.helpers import Scoring

PROFILE = {
    "preferred_name": "Amara", "email": "amara@example.org", "phone": "07700 900123",
    "access_needs": ["large_print", "breaks", "large_print"], "access_notes": "Mornings are hard for me",
}  # fmt: skip


async def require(scoring: Scoring, programme_id: str, courses: list[str]) -> None:
    read = await scoring.http.get(f"/v1/programmes/{programme_id}", headers=scoring.manager)
    stale = await scoring.http.put(f"/v1/programmes/{programme_id}/required-courses", json={"courses": courses},
                                   headers={**scoring.manager, "If-Match": '"99"'})  # fmt: skip
    assert stale.status_code == 412
    done = await scoring.http.put(f"/v1/programmes/{programme_id}/required-courses", json={"courses": courses},
                                  headers={**scoring.manager, "If-Match": read.headers["ETag"]})  # fmt: skip
    assert done.status_code == 200, done.text
    assert done.json()["required_courses"] == courses


async def train(scoring: Scoring, member_id: str, course: str, on: str = "2026-11-20") -> None:
    recorded = await scoring.http.post(f"/v1/members/{member_id}/training", json={"course": course, "completed_on": on},
                                       headers=scoring.manager)  # fmt: skip
    assert recorded.status_code == 201, recorded.text


async def test_a_profile_is_the_member_s_own_and_managers_read_it(scoring: Scoring) -> None:
    url = "/v1/members/amara/profile"
    empty = await scoring.http.get(url, headers=scoring.reviewer("amara"))
    assert empty.status_code == 200 and empty.headers["ETag"] == '"1"' and empty.json()["access_needs"] == []
    saved = await scoring.http.put(url, json=PROFILE, headers={**scoring.reviewer("amara"), "If-Match": '"1"'})
    assert saved.status_code == 200, saved.text
    assert saved.json()["access_needs"] == ["large_print", "breaks"] and saved.headers["ETag"] == '"2"'
    stale = await scoring.http.put(url, json=PROFILE, headers={**scoring.reviewer("amara"), "If-Match": '"1"'})
    assert stale.status_code == 412

    seen = await scoring.http.get(url, headers=scoring.manager)
    assert seen.status_code == 200 and seen.json()["access_notes"] == "Mornings are hard for me"
    for stranger in (scoring.reviewer("ben"), scoring.as_("fin-1", "finance_officer"),
                     scoring.as_("sam", "applicant", organisations=("org-1",))):  # fmt: skip
        refused = await scoring.http.get(url, headers=stranger)
        assert refused.status_code == 403 and refused.headers["content-type"] == "application/problem+json"
        assert (await scoring.http.get("/v1/members/amara/training", headers=stranger)).status_code == 403
    assert (await scoring.http.put(url, json=PROFILE, headers=scoring.reviewer("ben"))).status_code == 403
    assert (await scoring.http.put(url, json=PROFILE, headers=scoring.manager)).status_code == 403  # hers to change
    bad = await scoring.http.put(url, json={**PROFILE, "email": "not an address"}, headers=scoring.reviewer("amara"))
    assert bad.status_code == 422
    assert (await scoring.http.put(url, json={**PROFILE, "access_needs": ["telepathy"]},
                                   headers=scoring.reviewer("amara"))).status_code == 422  # fmt: skip

    # her copy of what scoring holds about her has the profile and the courses
    await train(scoring, "amara", "safeguarding")
    copy = await scoring.http.get("/v1/personal-data/people/amara", headers=scoring.as_("ada", "admin"))
    assert copy.status_code == 200, copy.text
    held = json.dumps(copy.json())
    assert "Mornings are hard for me" in held and "safeguarding" in held

    # erasure takes the profile away entirely; the courses stay, no longer hers
    await scoring.bus.publish(PersonErasureRequested(request_id="erase-amara", person_id="amara"))
    await scoring.eventually(lambda: scoring.db.erasures.find_one({"_id": "erase-amara"}))
    assert await scoring.db.member_profiles.find_one({"_id": "amara"}) is None
    assert await scoring.db.training_records.count_documents({"member_id": "amara"}) == 0
    assert await scoring.db.training_records.count_documents({"member_id": "erased-erase-amara"}) == 1


async def test_required_courses_steer_assignment_and_a_course_recorded_later_brings_reviews(scoring: Scoring) -> None:
    await scoring.open_programme("prog-t", panel=["rev-a", "rev-b"], k=2)
    await train(scoring, "rev-b", "panel_induction")
    as_reviewer = await scoring.http.post("/v1/members/rev-a/training", headers=scoring.reviewer("rev-a"),
                                          json={"course": "panel_induction", "completed_on": "2026-11-20"})  # fmt: skip
    assert as_reviewer.status_code == 403  # a manager records courses
    future = await scoring.http.post("/v1/members/rev-a/training", headers=scoring.manager,
                                     json={"course": "panel_induction", "completed_on": "2999-01-01"})  # fmt: skip
    assert future.status_code == 422
    await require(scoring, "prog-t", ["panel_induction"])

    await scoring.submit("app-t1", "prog-t", "org-1")
    [only] = await scoring.assigned("app-t1", 1)
    assert only.reviewer_id == "rev-b"  # rev-a has no panel induction
    waiting = await scoring.application("app-t1")
    assert waiting["status"] == "awaiting_reviewers" and waiting["reviewers_missing"] == 1

    members = await scoring.http.get("/v1/programmes/prog-t/members", headers=scoring.manager)
    assert members.status_code == 200, members.text
    by_id = {m["member_id"]: m for m in members.json()["members"]}
    assert by_id["rev-a"]["missing_courses"] == ["panel_induction"] and by_id["rev-b"]["missing_courses"] == []
    assert [t["course_name"] for t in by_id["rev-b"]["training"]] == ["Panel induction"]
    assert (await scoring.http.get("/v1/programmes/prog-t/members", headers=scoring.reviewer("rev-b"))).status_code == 403

    await train(scoring, "rev-a", "panel_induction", on="2026-12-01")
    await scoring.bus.wait_for(ReviewAssigned.type, application_id="app-t1", reviewer_id="rev-a")
    assert (await scoring.application("app-t1"))["status"] == "in_review"
    mine = await scoring.http.get("/v1/members/rev-a/training", headers=scoring.reviewer("rev-a"))
    assert [(t["course"], t["completed_on"]) for t in mine.json()] == [("panel_induction", "2026-12-01")]


async def test_a_member_lacking_a_required_course_may_neither_score_nor_vote(scoring: Scoring) -> None:
    await scoring.open_programme("prog-v", panel=["rev-a"], k=1)
    rule = {"method": "majority", "quorum": {"members": 1, "experts": 1}, "members": [
        {"member_id": "rev-a", "kind": "expert_by_experience"}, {"member_id": "rev-c", "kind": "expert_by_experience"}]}
    assert (await scoring.rule("prog-v", rule)).status_code == 200
    await scoring.submit("app-v1", "prog-v", "org-1")
    review_id = await scoring.review_of("app-v1", "rev-a")
    # a requirement that reaches a review already held (as if set while it was being read)
    await scoring.db.programmes.update_one({"_id": "prog-v"}, {"$set": {"required_courses": ["safeguarding"]}})
    read = await scoring.http.get(f"/v1/reviews/{review_id}", headers=scoring.reviewer("rev-a"))
    sheet = {"scores": {"need": {"score": 4}, "impact": {"score": 3}}}
    refused = await scoring.http.put(f"/v1/reviews/{review_id}/scores", json=sheet,
                                     headers={**scoring.reviewer("rev-a"), "If-Match": read.headers["ETag"]})  # fmt: skip
    assert refused.status_code == 403 and refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["missing_courses"] == ["safeguarding"] and "Safeguarding" in refused.json()["detail"]
    await train(scoring, "rev-a", "safeguarding")
    assert (await scoring.score(review_id, "rev-a", need=4, impact=3)).status_code == 200
    await scoring.bus.wait_for(ApplicationScored.type, application_id="app-v1")

    called = await scoring.http.post("/v1/programmes/prog-v/meetings", headers=scoring.manager, json={
        "held_on": "2026-12-09", "application_ids": ["app-v1"], "attendance": ["rev-a", "rev-c"]})
    assert called.status_code == 201, called.text
    meeting_id = called.json()["id"]
    vote = f"/v1/meetings/{meeting_id}/items/app-v1/recommendation"
    untrained = await scoring.http.put(vote, json={"recommendation": "fund"}, headers=scoring.reviewer("rev-c"))
    assert untrained.status_code == 403 and untrained.json()["missing_courses"] == ["safeguarding"]
    assert (await scoring.http.put(vote, json={"recommendation": "fund"}, headers=scoring.reviewer("rev-a"))).status_code == 200
    # rev-c, present but not yet trained, neither votes nor holds the item up: rev-a alone is the quorum
    [item] = (await scoring.http.get(f"/v1/meetings/{meeting_id}", headers=scoring.manager)).json()["items"]
    assert item["may_vote"] == 1 and item["recorded"] == 1 and item["waiting_for"] is None
    closed = await scoring.http.post(f"/v1/meetings/{meeting_id}/items/app-v1/close", headers=scoring.manager,
                                     json={"rationale": "Clear need"})  # fmt: skip
    assert closed.status_code == 200, closed.text
    assert closed.json()["decision"]["outcome"] == "awarded"
