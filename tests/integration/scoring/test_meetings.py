"""The panel decides in a meeting: the programme's rule (panel, quorum, majority), recommendations,
automatic recusal, and the decision with its tally and dissent published without names."""

import json

from grants_shared.events import ApplicationDecidedV2, ApplicationScored, DecisionMeetingCalled
from tests.integration.scoring.helpers import Scoring, gbp

MEMBERS = [
    {"member_id": "rev-a", "kind": "expert_by_experience"},
    {"member_id": "rev-b", "kind": "expert_by_experience"},
    {"member_id": "rev-c", "kind": "expert_by_experience"},
    {"member_id": "staff-1", "kind": "staff"},
]
MAJORITY = {"method": "majority", "members": MEMBERS, "quorum": {"members": 3, "experts": 2}}
PRESENT = ["rev-a", "rev-b", "rev-c", "staff-1"]


async def test_a_rule_the_panel_cannot_meet_is_refused_and_reviewers_do_not_see_who_decides(scoring: Scoring) -> None:
    await scoring.open_programme("prog-r1", panel=["rev-a", "rev-b"], k=1)
    impossible = await scoring.rule("prog-r1", {**MAJORITY, "quorum": {"members": 5, "experts": 1}})
    assert impossible.status_code == 422
    assert "cannot be met by a panel of 4" in impossible.json()["detail"]
    assert (await scoring.rule("prog-r1", {"method": "delegated"})).status_code == 422
    no_etag = await scoring.http.put("/v1/programmes/prog-r1/decision-rule", json=MAJORITY, headers=scoring.manager)
    assert no_etag.status_code == 428
    as_reviewer = await scoring.http.put(
        "/v1/programmes/prog-r1/decision-rule", json=MAJORITY, headers={**scoring.reviewer("rev-a"), "If-Match": '"1"'}
    )
    assert as_reviewer.status_code == 403

    assert (await scoring.rule("prog-r1", MAJORITY)).status_code == 200
    managed = (await scoring.http.get("/v1/programmes/prog-r1", headers=scoring.manager)).json()["decision_rule"]
    assert managed["members"] == MEMBERS and managed["quorum"] == {"members": 3, "experts": 2}
    seen = (await scoring.http.get("/v1/programmes/prog-r1", headers=scoring.reviewer("rev-a"))).json()["decision_rule"]
    assert seen["method"] == "majority" and seen["members"] is None


async def test_the_panel_decides_by_majority_with_recusal_quorum_and_dissent(scoring: Scoring) -> None:
    await scoring.open_programme("prog-d", panel=["rev-a", "rev-b"], k=1, budget=10_000, maximum_award=5_000)
    assert (await scoring.rule("prog-d", MAJORITY)).status_code == 200
    await scoring.scored_application("app-1", "prog-d", "org-1", "rev-a", requested=4_000)
    await scoring.scored_application("app-2", "prog-d", "org-2", "rev-a", requested=2_000)
    await scoring.bus.wait_for(ApplicationScored.type, 2)
    # rev-c volunteers with the second group: a standing declaration recuses them from its item
    declared = await scoring.http.post(
        "/v1/conflicts", json={"organisation_id": "org-2", "reason": "I volunteer there"}, headers=scoring.reviewer("rev-c")
    )
    assert declared.status_code == 201, declared.text

    # a delegated decision is not for a programme whose panel decides
    alone = await scoring.http.post(
        "/v1/applications/app-1/decision", json={"outcome": "awarded", "amount_awarded": gbp(4_000)},
        headers=scoring.manager,
    )
    assert alone.status_code == 409 and "decision meeting" in alone.json()["detail"]

    called = await scoring.http.post("/v1/programmes/prog-d/meetings", headers=scoring.manager, json={
        "held_on": "2026-12-09", "application_ids": ["app-1", "app-2"], "attendance": PRESENT,
    })
    assert called.status_code == 201, called.text
    meeting = called.json()
    meeting_id = meeting["id"]
    [invited] = await scoring.bus.wait_for(DecisionMeetingCalled.type, meeting_id=meeting_id)
    assert invited.data.member_ids == ["rev-a", "rev-b", "rev-c", "staff-1"] and invited.data.item_count == 2
    again = await scoring.http.post("/v1/programmes/prog-d/meetings", headers=scoring.manager, json={
        "held_on": "2026-12-10", "application_ids": ["app-1"], "attendance": PRESENT,
    })
    assert again.status_code == 409  # already on an open agenda
    items = {i["application_id"]: i for i in meeting["items"]}
    assert [r["member_id"] for r in items["app-2"]["recusals"]] == ["rev-c"]
    assert items["app-1"]["recusals"] == []

    def vote(member: str, application_id: str, **body: object):
        return scoring.http.put(
            f"/v1/meetings/{meeting_id}/items/{application_id}/recommendation", json=body,
            headers=scoring.reviewer(member),
        )

    close = f"/v1/meetings/{meeting_id}/items/app-1/close"
    assert (await vote("rev-a", "app-1", recommendation="fund")).status_code == 200
    assert (await vote("rev-b", "app-1", recommendation="fund_different_amount", amount=gbp(3_000),
                       reason="the first year only")).status_code == 200  # fmt: skip
    early = await scoring.http.post(close, json={"rationale": "Strong"}, headers=scoring.manager)
    assert early.status_code == 409 and "2 of the 4 members" in early.json()["detail"]
    assert (await vote("rev-c", "app-1", recommendation="do_not_fund", reason="overlaps the NHS service")).status_code == 200
    assert (await vote("staff-1", "app-1", recommendation="abstain")).status_code == 200
    assert (await vote("rev-z", "app-1", recommendation="fund")).status_code == 404  # not on the panel
    bad = await vote("rev-a", "app-1", recommendation="fund", amount=gbp(1))
    assert bad.status_code == 422

    as_member = (await scoring.http.get(f"/v1/meetings/{meeting_id}", headers=scoring.reviewer("rev-c"))).json()
    item = next(i for i in as_member["items"] if i["application_id"] == "app-1")
    assert item["tally"] == {"fund": 1, "fund_different_amount": 1, "do_not_fund": 1, "abstain": 1, "recused": 0}
    assert item["waiting_for"] is None and item["recommendations"] is None
    assert item["your_recommendation"]["recommendation"] == "do_not_fund"
    assert as_member["attendance"] == PRESENT and as_member["rule"]["members"] is None

    closed = await scoring.http.post(close, headers=scoring.manager, json={
        "rationale": "Most of the panel found the need well evidenced", "feedback": "Funded for the first year",
    })
    assert closed.status_code == 200, closed.text
    decision = closed.json()["decision"]
    assert decision["outcome"] == "awarded"
    assert decision["amount_awarded"] == gbp(3_000)  # the lower median of £3,000 and £4,000
    assert decision["tally"] == {"fund": 1, "fund_different_amount": 1, "do_not_fund": 1, "abstain": 1, "recused": 0}
    # the minority, unnamed because neither agreed to be named
    assert [(d["recommendation"], d["member_id"], d["reason"]) for d in decision["dissent"]] == [
        ("fund", None, ""), ("do_not_fund", None, "overlaps the NHS service"),
    ]
    [event] = await scoring.bus.wait_for(ApplicationDecidedV2.type, application_id="app-1")
    assert event.data.amount_awarded.amount == 300_000
    assert event.data.decided_by.by == "panel" and event.data.decided_by.meeting_id == meeting_id
    assert event.data.decided_by.tally.model_dump() == decision["tally"]
    published = json.dumps(event.data.model_dump(mode="json"))
    assert not any(member in published for member in PRESENT)  # no names on the bus
    assert (await vote("rev-a", "app-1", recommendation="do_not_fund")).status_code == 409  # closed
    assert (await scoring.http.post(close, json={"rationale": "again"}, headers=scoring.manager)).status_code == 409

    # the recused member cannot vote on the second item, and sees that they are recused
    recused = await vote("rev-c", "app-2", recommendation="fund")
    assert recused.status_code == 409 and "recused" in recused.json()["detail"]
    mine = next(i for i in as_member["items"] if i["application_id"] == "app-2")
    assert mine["you_are_recused"] is True and [r["member_id"] for r in mine["recusals"]] == ["rev-c"]
    # without rev-b, those who may vote (rev-a, staff-1) are no quorum: nothing can be decided
    read = await scoring.http.get(f"/v1/meetings/{meeting_id}", headers=scoring.manager)
    fewer = await scoring.http.put(
        f"/v1/meetings/{meeting_id}/attendance", json={"member_ids": ["rev-a", "rev-c", "staff-1"]},
        headers={**scoring.manager, "If-Match": read.headers["ETag"]},
    )
    assert fewer.status_code == 200, fewer.text
    assert (await vote("rev-b", "app-2", recommendation="fund")).status_code == 409  # not present
    assert (await vote("rev-a", "app-2", recommendation="do_not_fund")).status_code == 200
    assert (await vote("staff-1", "app-2", recommendation="do_not_fund", may_be_named=True)).status_code == 200
    close_2 = f"/v1/meetings/{meeting_id}/items/app-2/close"
    no_quorum = await scoring.http.post(close_2, json={"rationale": "x", "feedback": "x"}, headers=scoring.manager)
    assert no_quorum.status_code == 409 and "no quorum" in no_quorum.json()["detail"]
    assert (await scoring.application("app-2"))["status"] == "scored"

    back = await scoring.http.put(
        f"/v1/meetings/{meeting_id}/attendance", json={"member_ids": PRESENT},
        headers={**scoring.manager, "If-Match": fewer.headers["ETag"]},
    )
    assert back.status_code == 200
    assert (await vote("rev-b", "app-2", recommendation="fund", reason="brave idea", may_be_named=True)).status_code == 200
    no_feedback = await scoring.http.post(close_2, json={"rationale": "Not yet ready"}, headers=scoring.manager)
    assert no_feedback.status_code == 422
    declined = await scoring.http.post(close_2, headers=scoring.manager, json={
        "rationale": "Not yet ready to deliver", "feedback": "Please reapply with a safeguarding plan",
    })
    assert declined.status_code == 200, declined.text
    decision = declined.json()["decision"]
    assert decision["outcome"] == "declined" and decision["amount_awarded"] is None
    assert decision["tally"] == {"fund": 1, "fund_different_amount": 0, "do_not_fund": 2, "abstain": 0, "recused": 1}
    assert [(d["recommendation"], d["member_id"]) for d in decision["dissent"]] == [("fund", "rev-b")]  # agreed
    assert (await scoring.application("app-2"))["decision"]["meeting_id"] == meeting_id

    managed = (await scoring.http.get(f"/v1/meetings/{meeting_id}", headers=scoring.manager)).json()
    assert [i["status"] for i in managed["items"]] == ["decided", "decided"]
    assert {r["member_id"] for r in managed["items"][0]["recommendations"]} == set(PRESENT)
    listed = await scoring.items("/v1/programmes/prog-d/meetings", scoring.reviewer("rev-a"))
    assert [(m["id"], m["items"], m["open_items"]) for m in listed] == [(meeting_id, 2, 0)]
    assert await scoring.items("/v1/programmes/prog-d/meetings", scoring.reviewer("rev-z")) == []
    assert (await scoring.http.get(f"/v1/meetings/{meeting_id}", headers=scoring.reviewer("rev-z"))).status_code == 404


async def test_a_meeting_needs_a_panel_rule_and_scored_applications(scoring: Scoring) -> None:
    await scoring.open_programme("prog-n", panel=["rev-a", "rev-b"], k=1)
    await scoring.submit("app-n", "prog-n", "org-n")
    await scoring.assigned("app-n", 1)
    body = {"held_on": "2026-12-09", "application_ids": ["app-n"], "attendance": ["rev-a"]}
    no_rule = await scoring.http.post("/v1/programmes/prog-n/meetings", json=body, headers=scoring.manager)
    assert no_rule.status_code == 409 and "no decision rule" in no_rule.json()["detail"]
    assert (await scoring.rule("prog-n", MAJORITY)).status_code == 200
    unscored = await scoring.http.post("/v1/programmes/prog-n/meetings", json=body, headers=scoring.manager)
    assert unscored.status_code == 409 and "in_review" in unscored.json()["detail"]
    stranger = {**body, "attendance": ["rev-z"]}
    assert (await scoring.http.post("/v1/programmes/prog-n/meetings", json=stranger, headers=scoring.manager)).status_code == 422


async def test_a_conflict_declared_after_the_meeting_was_called_recuses_the_member_at_once(scoring: Scoring) -> None:
    await scoring.open_programme("prog-late", panel=["rev-a", "rev-b"], k=1)
    assert (await scoring.rule("prog-late", MAJORITY)).status_code == 200
    await scoring.scored_application("app-late", "prog-late", "org-late", "rev-a", requested=1_000)
    called = await scoring.http.post("/v1/programmes/prog-late/meetings", headers=scoring.manager, json={
        "held_on": "2026-12-09", "application_ids": ["app-late"], "attendance": PRESENT,
    })
    meeting_id = called.json()["id"]
    assert called.json()["items"][0]["recusals"] == [] and called.json()["items"][0]["may_vote"] == 4
    url = f"/v1/meetings/{meeting_id}/items/app-late/recommendation"
    assert (await scoring.http.put(url, json={"recommendation": "fund"}, headers=scoring.reviewer("staff-1"))).status_code == 200

    declared = await scoring.http.post(
        "/v1/conflicts", json={"organisation_id": "org-late", "reason": "I am their treasurer"},
        headers=scoring.reviewer("staff-1"),
    )
    assert declared.status_code == 201, declared.text
    [item] = (await scoring.http.get(f"/v1/meetings/{meeting_id}", headers=scoring.manager)).json()["items"]
    assert [r["member_id"] for r in item["recusals"]] == ["staff-1"]
    assert item["may_vote"] == 3 and item["tally"]["fund"] == 0 and item["tally"]["recused"] == 1  # no longer counted
    again = await scoring.http.put(url, json={"recommendation": "fund"}, headers=scoring.reviewer("staff-1"))
    assert again.status_code == 409 and "recused" in again.json()["detail"]
