"""Reviewers score through the API; the application is scored, moderated, ranked and decided."""

import asyncio

from grants_shared.events import ApplicationDecidedV2, ApplicationScored
from scoring import store
from tests.integration.scoring.helpers import Scoring, gbp


async def test_reviewers_score_then_the_panel_decides_once(scoring: Scoring) -> None:
    await scoring.open_programme("prog-s", panel=["rev-a", "rev-b", "rev-c"], k=2, budget=10_000, maximum_award=5_000)
    await scoring.delegate("prog-s")
    await scoring.submit("app-s", "prog-s", "org-s", requested=4_000)
    review_a = await scoring.review_of("app-s", "rev-a")
    review_b = await scoring.review_of("app-s", "rev-b")

    first = await scoring.score(review_a, "rev-a", need=4, impact=2)
    assert first.status_code == 200
    assert first.json()["status"] == "completed"
    await asyncio.sleep(0.3)
    assert scoring.bus.of_type(ApplicationScored.type) == []  # one of two reviews is not a score yet

    assert (await scoring.score(review_b, "rev-b", need=5, impact=3)).status_code == 200
    [scored] = await scoring.bus.wait_for(ApplicationScored.type, application_id="app-s")
    assert scored.data.weighted_score == 4.0  # means need 4.5 (weight 3), impact 2.5 (weight 1)
    assert scored.data.criterion_means == {"need": 4.5, "impact": 2.5}
    assert scored.data.reviewer_count == 2
    assert scored.data.needs_moderation is False

    again = await scoring.http.post(f"/v1/reviews/{review_a}/submit", headers=scoring.reviewer("rev-a"))
    assert again.status_code == 409

    app = await scoring.application("app-s")
    assert app["status"] == "scored"
    assert {r["reviewer_id"]: r["scores"]["need"]["comment"] for r in app["reviews"]} == {
        "rev-a": "clear local need", "rev-b": "clear local need"
    }

    # the programme delegated its decisions to its manager: a panel member cannot decide alone
    award = {"outcome": "awarded", "amount_awarded": gbp(3_500)}
    alone = await scoring.http.post("/v1/applications/app-s/decision", json=award, headers=scoring.reviewer("rev-c"))
    assert alone.status_code == 403, alone.text
    assert "delegated to the programme_manager role" in alone.json()["detail"]
    decided = await scoring.http.post("/v1/applications/app-s/decision", json=award, headers=scoring.manager)
    assert decided.status_code == 200, decided.text
    assert decided.json()["by"] == "delegated" and decided.json()["delegated_to"] == "programme_manager"
    [event] = await scoring.bus.wait_for(ApplicationDecidedV2.type, application_id="app-s")
    assert event.data.outcome == "awarded"
    assert event.data.amount_awarded.amount == 350_000
    assert event.data.organisation_id == "org-s"
    assert event.data.decided_by.model_dump() == {
        "by": "delegated", "delegated_to": "programme_manager", "meeting_id": None, "tally": None
    }

    twice = await scoring.http.post(
        "/v1/applications/app-s/decision", json={"outcome": "declined", "feedback": "changed our minds"},
        headers=scoring.manager,
    )
    assert twice.status_code == 409
    assert twice.headers["content-type"] == "application/problem+json"

    ranking = (await scoring.http.get("/v1/programmes/prog-s/ranking", headers=scoring.manager)).json()
    assert ranking["awarded_total"] == gbp(3_500)
    assert ranking["remaining"] == gbp(6_500)
    assert [(e["application_id"], e["status"], e["fits_budget"]) for e in ranking["applications"]] == [
        ("app-s", "decided", True)
    ]


async def test_scores_far_apart_need_moderation_before_a_decision(scoring: Scoring) -> None:
    await scoring.open_programme("prog-m", panel=["rev-a", "rev-b"], k=2)
    await scoring.delegate("prog-m")
    await scoring.submit("app-m", "prog-m", "org-m", requested=2_000)
    await scoring.score(await scoring.review_of("app-m", "rev-a"), "rev-a", need=1, impact=3)
    await scoring.score(await scoring.review_of("app-m", "rev-b"), "rev-b", need=5, impact=3)
    [scored] = await scoring.bus.wait_for(ApplicationScored.type, application_id="app-m")
    assert scored.data.needs_moderation is True
    assert scored.data.weighted_score == 3.0

    blocked = await scoring.http.post(
        "/v1/applications/app-m/decision", json={"outcome": "awarded", "amount_awarded": gbp(2_000)},
        headers=scoring.manager,
    )
    assert blocked.status_code == 409
    not_a_moderator = await scoring.http.post(
        "/v1/applications/app-m/moderation", json={"note": "ok"}, headers=scoring.reviewer("rev-a")
    )
    assert not_a_moderator.status_code == 403
    no_note = await scoring.http.post("/v1/applications/app-m/moderation", json={}, headers=scoring.manager)
    assert no_note.status_code == 422

    moderated = await scoring.http.post(
        "/v1/applications/app-m/moderation",
        json={"weighted_score": 3.6, "note": "Reviewer A misread the need section; panel agreed 3.6"},
        headers=scoring.manager,
    )
    assert moderated.status_code == 200, moderated.text
    body = moderated.json()
    assert body["needs_moderation"] is False
    assert body["weighted_score"] == 3.6
    assert body["computed_weighted_score"] == 3.0
    assert body["moderation"]["moderated_by"] == "pm-1"
    # a second look changes the score again: both moderations stay in the history, which only grows
    again = await scoring.http.post(
        "/v1/applications/app-m/moderation", json={"weighted_score": 3.4, "note": "Rechecked against the guidance"},
        headers=scoring.as_("pm-2", "programme_manager"),
    )
    assert again.status_code == 200, again.text
    history = (await scoring.application("app-m"))["score_history"]
    assert [(h["kind"], h["by"], h["before"], h["after"], h["why"]) for h in history] == [
        ("computed", "rev-b", None, 3.0, "every one of the 2 reviews was submitted"),
        ("moderated", "pm-1", 3.0, 3.6, "Reviewer A misread the need section; panel agreed 3.6"),
        ("moderated", "pm-2", 3.6, 3.4, "Rechecked against the guidance"),
    ]
    assert history[0]["at"] <= history[1]["at"] <= history[2]["at"]
    ranking = (await scoring.http.get("/v1/programmes/prog-m/ranking", headers=scoring.manager)).json()
    assert [(e["application_id"], e["weighted_score"]) for e in ranking["applications"]] == [("app-m", 3.4)]
    stored = await scoring.db.applications.find_one({"_id": "app-m"})
    assert stored["ranking_shortfall"] == 5 - 3.4  # the order the ranking's index keeps

    decided = await scoring.http.post(
        "/v1/applications/app-m/decision", json={"outcome": "declined", "feedback": "Strong idea; reapply with a plan"},
        headers=scoring.manager,
    )
    assert decided.status_code == 200, decided.text
    [event] = await scoring.bus.wait_for(ApplicationDecidedV2.type, application_id="app-m")
    assert event.data.outcome == "declined"
    assert event.data.amount_awarded is None
    assert event.data.feedback == "Strong idea; reapply with a plan"


async def test_the_ranking_walks_the_remaining_budget(scoring: Scoring) -> None:
    await scoring.open_programme("prog-r", panel=["rev-a"], k=1, budget=10_000, maximum_award=8_000)
    await scoring.delegate("prog-r")
    await scoring.submit("app-1", "prog-r", "org-1", requested=6_000, minutes=1)
    await scoring.submit("app-2", "prog-r", "org-2", requested=5_000, minutes=2)
    await scoring.submit("app-3", "prog-r", "org-3", requested=3_000, minutes=3)
    for app_id, need in (("app-1", 5), ("app-2", 4), ("app-3", 4)):
        review = await scoring.review_of(app_id, "rev-a")
        assert (await scoring.score(review, "rev-a", need=need, impact=need)).status_code == 200
    await scoring.bus.wait_for(ApplicationScored.type, 3)

    await scoring.http.post(
        "/v1/conflicts", json={"organisation_id": "org-2", "reason": "friend"}, headers=scoring.reviewer("rev-a")
    )
    ranking = (await scoring.http.get("/v1/programmes/prog-r/ranking", headers=scoring.manager)).json()
    assert ranking["budget"] == gbp(10_000) and ranking["remaining"] == gbp(10_000)
    rows = [(e["application_id"], e["weighted_score"], e["cumulative_requested"]["amount"], e["fits_budget"])
            for e in ranking["applications"]]
    # app-2 and app-3 tie on score: app-2 was submitted first; app-2 no longer fits after app-1
    assert rows == [("app-1", 5.0, 600_000, True), ("app-2", 4.0, 1_100_000, False), ("app-3", 4.0, 1_400_000, True)]

    seen_by_reviewer = (await scoring.http.get("/v1/programmes/prog-r/ranking", headers=scoring.reviewer("rev-a"))).json()
    assert [e["application_id"] for e in seen_by_reviewer["applications"]] == ["app-1", "app-3"]
    outsider = await scoring.http.get("/v1/programmes/prog-r/ranking", headers=scoring.reviewer("rev-z"))
    assert outsider.status_code == 404
    # a reviewer conflicted with the organisation cannot decide its application either
    conflicted = await scoring.http.post(
        "/v1/applications/app-2/decision", json={"outcome": "declined", "feedback": "no"},
        headers=scoring.reviewer("rev-a"),
    )
    assert conflicted.status_code == 404


async def _every_page(scoring: Scoring, programme_id: str, headers: dict[str, str], limit: int) -> list[dict]:
    entries, after = [], None
    while True:
        params = {"limit": limit} | ({"after": after} if after else {})
        page = await scoring.http.get(f"/v1/programmes/{programme_id}/ranking", params=params, headers=headers)
        assert page.status_code == 200, page.text
        assert len(page.json()["applications"]) <= limit
        entries += page.json()["applications"]
        after = page.json()["next"]
        if after is None:
            return entries


async def test_the_ranking_read_a_page_at_a_time_is_the_whole_ranking(scoring: Scoring) -> None:
    await scoring.open_programme("prog-p", panel=["rev-a"], k=1, budget=10_000, maximum_award=8_000)
    await scoring.delegate("prog-p")
    scores = {"app-1": 3, "app-2": 5, "app-3": 4, "app-4": 4, "app-5": 2}
    requested = {"app-1": 2_000, "app-2": 6_000, "app-3": 5_000, "app-4": 3_000, "app-5": 1_000}
    for minute, app_id in enumerate(scores, start=1):
        await scoring.submit(app_id, "prog-p", f"org-{app_id}", requested=requested[app_id], minutes=minute)
    for app_id, need in scores.items():
        review = await scoring.review_of(app_id, "rev-a")
        assert (await scoring.score(review, "rev-a", need=need, impact=need)).status_code == 200
    await scoring.bus.wait_for(ApplicationScored.type, 5)

    whole = (await scoring.http.get("/v1/programmes/prog-p/ranking", headers=scoring.manager)).json()
    assert whole["next"] is None
    # app-2 takes 6,000 (4,000 left); app-3 does not fit: the budget line; app-4 takes 3,000 (1,000 left);
    # app-1 does not fit; app-5 takes the last 1,000. app-3 before app-4: the same score, submitted first.
    rows = [(e["application_id"], e["position"], e["fits_budget"], e["budget_line"]) for e in whole["applications"]]
    assert rows == [
        ("app-2", 1, True, False), ("app-3", 2, False, True), ("app-4", 3, True, False), ("app-1", 4, False, False),
        ("app-5", 5, True, False),
    ]  # fmt: skip
    assert whole["budget_line_position"] == 2
    for limit in (1, 2, 3):
        assert await _every_page(scoring, "prog-p", scoring.manager, limit) == whole["applications"]
    first = (await scoring.http.get("/v1/programmes/prog-p/ranking", params={"limit": 1}, headers=scoring.manager))
    assert first.json()["budget_line_position"] is None  # not reached on the first page

    # A reviewer's pages leave out what they are conflicted with, the walk past it still counted.
    declared = await scoring.http.post("/v1/conflicts", json={"organisation_id": "org-app-3", "reason": "friend"},
                                       headers=scoring.reviewer("rev-a"))  # fmt: skip
    assert declared.status_code == 201, declared.text
    seen = await _every_page(scoring, "prog-p", scoring.reviewer("rev-a"), 2)
    assert seen == [e for e in whole["applications"] if e["application_id"] != "app-3"]

    refused = await scoring.http.get("/v1/programmes/prog-p/ranking", params={"after": "not-a-cursor"},
                                     headers=scoring.manager)  # fmt: skip
    assert refused.status_code == 400
    assert refused.headers["content-type"].startswith("application/problem+json")


async def test_what_was_scored_before_the_ranking_kept_its_key_is_ranked_after_the_upgrade(scoring: Scoring) -> None:
    await scoring.open_programme("prog-u", panel=["rev-a"], k=1)
    await scoring.scored_application("app-u", "prog-u", "org-u", "rev-a", requested=1_000)
    # As an application scored by the code before: no ranking key, and the upgrade not yet made.
    await scoring.db.applications.update_one({"_id": "app-u"}, {"$unset": {"ranking_shortfall": ""}})
    await scoring.db.upgrades.delete_many({})

    async def ranked() -> list[str]:
        ranking = await scoring.http.get("/v1/programmes/prog-u/ranking", headers=scoring.manager)
        return [e["application_id"] for e in ranking.json()["applications"]]

    assert await ranked() == []
    await store.create_indexes(scoring.db)  # what the service does as it starts
    assert await ranked() == ["app-u"]
    assert await scoring.db.upgrades.find_one({"_id": "ranking_shortfall"})


async def test_an_award_over_the_budget_is_refused_and_nothing_is_written(scoring: Scoring) -> None:
    await scoring.open_programme("prog-b", panel=["rev-a"], k=1, budget=5_000, maximum_award=5_000)
    await scoring.delegate("prog-b")
    await scoring.scored_application("app-1", "prog-b", "org-1", "rev-a", requested=4_000)
    await scoring.scored_application("app-2", "prog-b", "org-2", "rev-a", requested=4_000)
    await scoring.bus.wait_for(ApplicationScored.type, 2)

    first = await scoring.http.post(
        "/v1/applications/app-1/decision", json={"outcome": "awarded", "amount_awarded": gbp(4_000)},
        headers=scoring.manager,
    )
    assert first.status_code == 200
    over = await scoring.http.post(
        "/v1/applications/app-2/decision", json={"outcome": "awarded", "amount_awarded": gbp(1_500)},
        headers=scoring.manager,
    )
    assert over.status_code == 422
    assert over.headers["content-type"] == "application/problem+json"
    assert "budget" in over.json()["detail"]

    assert (await scoring.application("app-2"))["status"] == "scored"
    programme = (await scoring.http.get("/v1/programmes/prog-b", headers=scoring.manager)).json()
    assert programme["awarded_total"]["amount"] == 400_000
    assert programme["remaining_budget"]["amount"] == 100_000
    assert await scoring.db.outbox.count_documents({"type": ApplicationDecidedV2.type}) == 1

    for bad, why in (
        ({"outcome": "awarded", "amount_awarded": gbp(5_001)}, "maximum"),
        ({"outcome": "awarded", "amount_awarded": {"amount": 100, "currency": "EUR"}}, "GBP"),
        ({"outcome": "awarded", "amount_awarded": {"amount": 0, "currency": "GBP"}}, "more than zero"),
    ):
        refused = await scoring.http.post("/v1/applications/app-2/decision", json=bad, headers=scoring.manager)
        assert refused.status_code == 422
        assert why in refused.json()["detail"]
    for malformed in ({"outcome": "awarded"}, {"outcome": "declined"}, {"outcome": "awarded", "amount_awarded": 10}):
        assert (await scoring.http.post(
            "/v1/applications/app-2/decision", json=malformed, headers=scoring.manager
        )).status_code == 422


async def test_two_concurrent_awards_that_together_exceed_the_budget_only_one_succeeds(scoring: Scoring) -> None:
    await scoring.open_programme("prog-c", panel=["rev-a"], k=1, budget=5_000, maximum_award=5_000)
    await scoring.delegate("prog-c")
    await scoring.scored_application("app-1", "prog-c", "org-1", "rev-a", requested=3_000)
    await scoring.scored_application("app-2", "prog-c", "org-2", "rev-a", requested=3_000)
    await scoring.bus.wait_for(ApplicationScored.type, 2)

    award = {"outcome": "awarded", "amount_awarded": gbp(3_000)}
    responses = await asyncio.gather(
        scoring.http.post("/v1/applications/app-1/decision", json=award, headers=scoring.manager),
        scoring.http.post("/v1/applications/app-2/decision", json=award, headers=scoring.as_("pm-2", "programme_manager")),
    )
    assert sorted(r.status_code for r in responses) == [200, 422]
    programme = (await scoring.http.get("/v1/programmes/prog-c", headers=scoring.manager)).json()
    assert programme["awarded_total"]["amount"] == 300_000
    assert programme["remaining_budget"]["amount"] == 200_000
    statuses = sorted([(await scoring.application(a))["status"] for a in ("app-1", "app-2")])
    assert statuses == ["decided", "scored"]
    await scoring.bus.wait_for(ApplicationDecidedV2.type, 1)
    await asyncio.sleep(0.3)
    assert len(scoring.bus.of_type(ApplicationDecidedV2.type)) == 1


async def test_the_ranking_adds_up_requests_beyond_the_largest_single_amount(scoring: Scoring) -> None:
    largest = 100_000_000_000  # pounds: the ceiling of one Money amount
    await scoring.open_programme("prog-big", panel=["rev-a"], k=1, budget=largest, maximum_award=largest)
    await scoring.delegate("prog-big")
    await scoring.scored_application("app-1", "prog-big", "org-1", "rev-a", requested=largest)
    await scoring.scored_application("app-2", "prog-big", "org-2", "rev-a", requested=largest)
    await scoring.bus.wait_for(ApplicationScored.type, 2)

    ranking = await scoring.http.get("/v1/programmes/prog-big/ranking", headers=scoring.manager)
    assert ranking.status_code == 200, ranking.text
    rows = [(e["cumulative_requested"], e["fits_budget"]) for e in ranking.json()["applications"]]
    assert rows == [(gbp(largest), True), (gbp(2 * largest), False)]


async def test_events_a_request_causes_carry_its_trace_and_the_person_who_made_it(scoring: Scoring) -> None:
    await scoring.open_programme("prog-t", panel=["rev-a"], k=1)
    await scoring.delegate("prog-t")
    await scoring.scored_application("app-t", "prog-t", "org-t", "rev-a", requested=1_000)
    [scored] = await scoring.bus.wait_for(ApplicationScored.type, application_id="app-t")
    assert scored.actor == "rev-a"  # the reviewer whose submission completed the reviews

    trace = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    decided = await scoring.http.post(
        "/v1/applications/app-t/decision", json={"outcome": "awarded", "amount_awarded": gbp(1_000)},
        headers={**scoring.manager, "traceparent": trace},
    )
    assert decided.status_code == 200, decided.text
    [event] = await scoring.bus.wait_for(ApplicationDecidedV2.type, application_id="app-t")
    assert event.traceparent.split("-")[1] == trace.split("-")[1]  # the request's trace, continued
    assert event.traceparent != trace
    assert event.actor == "pm-1"
