"""Involvement payments in scoring: the programme's policy, time recorded once per meeting attended
and per review completed, claims for time and expenses, and a manager approving or rejecting them
(the approval published for disbursement, the rejection for notifications)."""

from grants_shared.events import ApplicationScored, InvolvementClaimApproved, InvolvementClaimRejected
from tests.integration.scoring.helpers import Scoring, gbp

MEMBERS = [
    {"member_id": "rev-a", "kind": "expert_by_experience"},
    {"member_id": "rev-b", "kind": "expert_by_experience"},
    {"member_id": "staff-1", "kind": "staff"},
]
MAJORITY = {"method": "majority", "members": MEMBERS, "quorum": {"members": 2, "experts": 1}}
HOURLY = {
    "unit": "hour", "rate": gbp(20), "meeting": 180, "review": 120,
    "expenses_allowed": True, "expense_categories": ["travel", "childcare"],
}  # fmt: skip


async def _time(scoring: Scoring, member: str) -> list[dict]:
    answer = await scoring.http.get("/v1/involvement/time-entries", params={"programme_id": "prog-i"},
                                    headers=scoring.reviewer(member))  # fmt: skip
    assert answer.status_code == 200, answer.text
    return answer.json()


async def test_time_is_recorded_once_claimed_valued_by_the_policy_and_approved_by_a_manager(scoring: Scoring) -> None:
    await scoring.open_programme("prog-i", panel=["rev-a", "rev-b"], k=1, budget=10_000, maximum_award=5_000)
    assert (await scoring.rule("prog-i", MAJORITY)).status_code == 200
    url = "/v1/programmes/prog-i/involvement-policy"
    assert (await scoring.http.get(url, headers=scoring.reviewer("rev-a"))).status_code == 404
    assert (await scoring.http.put(url, json=HOURLY, headers=scoring.reviewer("rev-a"))).status_code == 403
    euros = await scoring.http.put(url, json={**HOURLY, "rate": {"amount": 2_000, "currency": "EUR"}}, headers=scoring.manager)
    assert euros.status_code == 422
    policy = await scoring.http.put(url, json=HOURLY, headers=scoring.manager)
    assert policy.status_code == 200, policy.text
    assert policy.json()["meeting_worth"] == gbp(60) and policy.json()["review_worth"] == gbp(40)
    assert (await scoring.http.put(url, json=HOURLY, headers=scoring.manager)).status_code == 428
    seen = await scoring.http.get(url, headers=scoring.reviewer("rev-b"))
    assert seen.status_code == 200 and seen.headers["ETag"] == policy.headers["ETag"]

    # a review completed is time
    await scoring.scored_application("app-1", "prog-i", "org-1", "rev-a", requested=4_000)
    await scoring.bus.wait_for(ApplicationScored.type, application_id="app-1")
    [review_time] = await _time(scoring, "rev-a")
    assert review_time["kind"] == "review" and review_time["claim_id"] is None

    # a meeting attended is time, once however often attendance is saved; staff are not paid for it
    called = await scoring.http.post("/v1/programmes/prog-i/meetings", headers=scoring.manager, json={
        "held_on": "2026-12-09", "application_ids": ["app-1"], "attendance": ["rev-a", "rev-b", "staff-1"],
    })
    assert called.status_code == 201, called.text
    meeting = called.json()
    for attendance, etag in ((["rev-a", "rev-b", "staff-1"], called.headers["ETag"]),):
        saved = await scoring.http.put(f"/v1/meetings/{meeting['id']}/attendance", json={"member_ids": attendance},
                                       headers={**scoring.manager, "If-Match": etag})  # fmt: skip
        assert saved.status_code == 200, saved.text
    assert sorted(e["kind"] for e in await _time(scoring, "rev-a")) == ["meeting", "review"]
    assert [e["kind"] for e in await _time(scoring, "rev-b")] == ["meeting"]
    assert await scoring.db.time_entries.count_documents({"member_id": "staff-1"}) == 0
    # rev-b was recorded present by mistake: their unclaimed meeting time goes
    fixed = await scoring.http.put(f"/v1/meetings/{meeting['id']}/attendance", json={"member_ids": ["rev-a", "staff-1"]},
                                   headers={**scoring.manager, "If-Match": saved.headers["ETag"]})  # fmt: skip
    assert fixed.status_code == 200, fixed.text
    assert await _time(scoring, "rev-b") == []

    # the member claims their time: 3 hours and 2 hours at £20 an hour
    claims = "/v1/programmes/prog-i/involvement/time-claims"
    claimed = await scoring.http.post(claims, headers={**scoring.reviewer("rev-a"), "Idempotency-Key": "k-1"})
    assert claimed.status_code == 201, claimed.text
    claim = claimed.json()
    assert claim["amount"] == gbp(100) and claim["status"] == "submitted"
    assert sorted((line["kind"], line["quantity"]) for line in claim["lines"]) == [("meeting", "3 h"), ("review", "2 h")]
    retried = await scoring.http.post(claims, headers={**scoring.reviewer("rev-a"), "Idempotency-Key": "k-1"})
    assert retried.status_code == 201 and retried.json()["id"] == claim["id"]  # the same answer, no second claim
    assert (await scoring.http.post(claims, headers=scoring.reviewer("rev-a"))).status_code == 409  # nothing left
    assert {e["claim_id"] for e in await _time(scoring, "rev-a")} == {claim["id"]}

    # nobody else sees it; a manager approves it, once
    assert (await scoring.http.get(f"/v1/involvement/claims/{claim['id']}", headers=scoring.reviewer("rev-b"))).status_code == 404
    listed = await scoring.items("/v1/involvement/claims", scoring.manager, programme_id="prog-i", status="submitted")
    assert [c["id"] for c in listed] == [claim["id"]]
    approve = f"/v1/involvement/claims/{claim['id']}/approve"
    assert (await scoring.http.post(approve, headers=scoring.manager)).status_code == 428
    assert (await scoring.http.post(approve, headers={**scoring.reviewer("rev-b"), "If-Match": '"1"'})).status_code == 403
    approved = await scoring.http.post(approve, headers={**scoring.manager, "If-Match": claimed.headers["ETag"]})
    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] == "approved" and approved.json()["decided_by"] == "pm-1"
    again = await scoring.http.post(approve, headers={**scoring.manager, "If-Match": approved.headers["ETag"]})
    assert again.status_code == 409
    [event] = await scoring.bus.wait_for(InvolvementClaimApproved.type, claim_id=claim["id"])
    assert (event.data.member_id, event.data.kind, event.data.amount.amount) == ("rev-a", "time", 10_000)
    assert "member_id" not in event.data.without_personal_data()


async def test_expenses_are_claimed_as_the_policy_allows_and_a_rejection_gives_the_reason(scoring: Scoring) -> None:
    await scoring.open_programme("prog-i", panel=["rev-a", "rev-b"], k=1)
    expense = {"category": "travel", "amount": {"amount": 1_250, "currency": "GBP"}, "incurred_on": "2026-01-10",
               "note": "Bus to the meeting"}  # fmt: skip
    url = "/v1/programmes/prog-i/involvement/expense-claims"
    assert (await scoring.http.post(url, json=expense, headers=scoring.reviewer("rev-a"))).status_code == 409  # no policy
    set_policy = await scoring.http.put("/v1/programmes/prog-i/involvement-policy", json=HOURLY, headers=scoring.manager)
    assert set_policy.status_code == 200
    assert (await scoring.http.post(url, json=expense, headers=scoring.reviewer("stranger"))).status_code == 404
    carer = await scoring.http.post(url, json={**expense, "category": "carer_costs"}, headers=scoring.reviewer("rev-a"))
    assert carer.status_code == 422 and "carer costs" in carer.json()["detail"]
    created = await scoring.http.post(url, json=expense, headers=scoring.reviewer("rev-a"))
    assert created.status_code == 201, created.text
    claim = created.json()
    assert (claim["kind"], claim["category"], claim["amount"]["amount"]) == ("expenses", "travel", 1_250)

    mine = await scoring.items("/v1/involvement/claims", scoring.reviewer("rev-a"))
    assert [c["id"] for c in mine] == [claim["id"]]
    assert await scoring.items("/v1/involvement/claims", scoring.reviewer("rev-b")) == []
    rejected = await scoring.http.post(
        f"/v1/involvement/claims/{claim['id']}/reject", json={"reason": "This journey was paid by the venue"},
        headers={**scoring.manager, "If-Match": created.headers["ETag"]},
    )  # fmt: skip
    assert rejected.status_code == 200, rejected.text
    assert rejected.json()["status"] == "rejected"
    [event] = await scoring.bus.wait_for(InvolvementClaimRejected.type, claim_id=claim["id"])
    assert event.data.reason == "This journey was paid by the venue"
    assert scoring.bus.of_type(InvolvementClaimApproved.type) == []
