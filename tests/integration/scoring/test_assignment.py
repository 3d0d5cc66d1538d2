"""Reviewer assignment from events: k reviewers, least loaded, never one with a conflict of interest."""

import asyncio
from datetime import timedelta

from grants_shared.clock import utcnow
from grants_shared.events import ApplicationWithdrawn, ReviewAssigned
from grants_shared.money import Money
from tests.integration.scoring.helpers import Scoring


async def test_a_submitted_application_gets_k_reviewers_none_of_them_conflicted(scoring: Scoring) -> None:
    await scoring.open_programme("prog-1", panel=["rev-a", "rev-b", "rev-c", "rev-d"], k=2)
    declared = await scoring.http.post(
        "/v1/conflicts",
        json={"organisation_id": "org-mind", "reason": "I volunteer there"},
        headers=scoring.reviewer("rev-a"),
    )
    assert declared.status_code == 201, declared.text

    await scoring.submit("app-1", "prog-1", "org-mind")
    first = await scoring.assigned("app-1", 2)
    # rev-a is conflicted; of the rest, all unloaded, ties go by id
    assert sorted(a.reviewer_id for a in first) == ["rev-b", "rev-c"]
    assert all(a.due_date == (utcnow() + timedelta(days=14)).date() for a in first)
    assert all(a.programme_id == "prog-1" and a.application_title for a in first)

    await scoring.submit("app-2", "prog-1", "org-other")
    second = await scoring.assigned("app-2", 2)
    # rev-b and rev-c now each have an open review: the least loaded are rev-a and rev-d
    assert sorted(a.reviewer_id for a in second) == ["rev-a", "rev-d"]

    await asyncio.sleep(0.3)
    assert len(scoring.bus.of_type(ReviewAssigned.type)) == 4
    app = await scoring.application("app-1")
    assert app["status"] == "in_review"
    assert app["reviewers_missing"] == 0


async def test_too_few_free_reviewers_leaves_the_application_waiting_until_the_panel_grows(scoring: Scoring) -> None:
    await scoring.open_programme("prog-2", panel=["rev-a", "rev-b"], k=3)
    await scoring.http.post(
        "/v1/conflicts", json={"organisation_id": "org-x", "reason": "trustee"}, headers=scoring.reviewer("rev-b")
    )
    await scoring.submit("app-w", "prog-2", "org-x")
    [only] = await scoring.assigned("app-w", 1)
    assert only.reviewer_id == "rev-a"

    [waiting] = await scoring.every_item(
        "/v1/programmes/prog-2/applications", scoring.manager, status="awaiting_reviewers"
    )
    assert waiting["id"] == "app-w"
    assert waiting["reviewers_missing"] == 2

    programme = await scoring.http.get("/v1/programmes/prog-2", headers=scoring.manager)
    grown = await scoring.http.put(
        "/v1/programmes/prog-2/panel",
        json={"reviewer_ids": ["rev-a", "rev-b", "rev-c", "rev-d"]},
        headers={**scoring.manager, "If-Match": programme.headers["ETag"]},
    )
    assert grown.status_code == 200, grown.text
    assert grown.json()["panel"] == ["rev-a", "rev-b", "rev-c", "rev-d"]
    assigned = await scoring.assigned("app-w", 3)
    assert sorted(a.reviewer_id for a in assigned) == ["rev-a", "rev-c", "rev-d"]  # never the conflicted rev-b
    app = await scoring.application("app-w")
    assert app["status"] == "in_review"
    assert app["reviewers_missing"] == 0

    stale = await scoring.http.put(
        "/v1/programmes/prog-2/panel",
        json={"reviewer_ids": ["rev-a"]},
        headers={**scoring.manager, "If-Match": programme.headers["ETag"]},
    )
    assert stale.status_code == 412


async def test_resolving_a_conflict_lets_a_waiting_application_be_assigned(scoring: Scoring) -> None:
    await scoring.open_programme("prog-3", panel=["rev-a", "rev-b"], k=2)
    declared = await scoring.http.post(
        "/v1/conflicts", json={"organisation_id": "org-y", "reason": "cousin works there"},
        headers=scoring.reviewer("rev-b"),
    )
    await scoring.submit("app-y", "prog-3", "org-y")
    await scoring.assigned("app-y", 1)
    assert (await scoring.application("app-y"))["status"] == "awaiting_reviewers"

    conflict = f"/v1/conflicts/{declared.json()['id']}"
    # The reviewer cannot resolve their own conflict (they could then score that organisation); they ask.
    alone = await scoring.http.post(f"{conflict}/resolve", headers=scoring.reviewer("rev-b"))
    assert alone.status_code == 403
    asked = await scoring.http.post(f"{conflict}/request-resolution", json={"note": "they left the group"},
                                    headers=scoring.reviewer("rev-b"))  # fmt: skip
    assert asked.status_code == 200, asked.text
    assert asked.json()["status"] == "declared" and asked.json()["resolution_requested_at"]
    assert (await scoring.application("app-y"))["status"] == "awaiting_reviewers"  # asking changes nothing yet
    someone_else = await scoring.http.post(f"{conflict}/request-resolution", headers=scoring.reviewer("rev-a"))
    assert someone_else.status_code == 404

    resolved = await scoring.http.post(f"{conflict}/resolve", json={"note": "checked"}, headers=scoring.manager)
    assert resolved.status_code == 200, resolved.text
    assert resolved.json()["status"] == "resolved"
    history = resolved.json()["history"]
    assert [(e["action"], e["by"]) for e in history] == [
        ("declared", "rev-b"), ("resolution_requested", "rev-b"), ("resolved", "pm-1")]
    assert (await scoring.http.post(f"{conflict}/resolve", headers=scoring.manager)).status_code == 409
    assigned = await scoring.assigned("app-y", 2)
    assert sorted(a.reviewer_id for a in assigned) == ["rev-a", "rev-b"]
    assert (await scoring.application("app-y"))["status"] == "in_review"


async def test_declaring_a_conflict_on_an_open_review_cancels_it_and_reassigns(scoring: Scoring) -> None:
    await scoring.open_programme("prog-4", panel=["rev-a", "rev-b", "rev-c"], k=2)
    await scoring.submit("app-z", "prog-4", "org-z")
    first = await scoring.assigned("app-z", 2)
    assert sorted(a.reviewer_id for a in first) == ["rev-a", "rev-b"]
    review_a = next(a.review_id for a in first if a.reviewer_id == "rev-a")

    organisations = await scoring.items("/v1/programmes/prog-4/organisations", scoring.reviewer("rev-a"))
    assert organisations == [{"id": "org-z", "name": "org-z peer support"}]

    declared = await scoring.http.post(
        "/v1/conflicts", json={"organisation_id": "org-z", "reason": "I used to work there"},
        headers=scoring.reviewer("rev-a"),
    )
    assert declared.status_code == 201
    assigned = await scoring.assigned("app-z", 3)
    assert assigned[-1].reviewer_id == "rev-c"

    assert (await scoring.http.get(f"/v1/reviews/{review_a}", headers=scoring.reviewer("rev-a"))).status_code == 404
    assert await scoring.items("/v1/reviews", scoring.reviewer("rev-a")) == []
    app = await scoring.application("app-z")
    assert {r["reviewer_id"]: r["status"] for r in app["reviews"]} == {
        "rev-a": "cancelled", "rev-b": "assigned", "rev-c": "assigned"
    }
    again = await scoring.http.post(
        "/v1/conflicts", json={"organisation_id": "org-z", "reason": "again"}, headers=scoring.reviewer("rev-a")
    )
    assert again.status_code == 409
    mine = await scoring.items("/v1/conflicts", scoring.reviewer("rev-a"))
    assert [(c["reviewer_id"], c["organisation_id"]) for c in mine] == [("rev-a", "org-z")]
    assert await scoring.items("/v1/conflicts", scoring.reviewer("rev-b")) == []
    everyone = await scoring.items("/v1/conflicts", scoring.manager, reviewer_id="rev-a")
    assert [c["id"] for c in everyone] == [declared.json()["id"]]


async def test_an_application_submitted_before_its_programme_opened_is_retried_not_dead_lettered(
    scoring: Scoring,
) -> None:
    await scoring.submit("app-early", "prog-late", "org-e")
    await asyncio.sleep(0.15)  # the first attempt fails: the programme is unknown
    await scoring.open_programme("prog-late", panel=["rev-a", "rev-b"], k=2)
    assigned = await scoring.assigned("app-early", 2)
    assert sorted(a.reviewer_id for a in assigned) == ["rev-a", "rev-b"]
    assert await scoring.bus.dead_letters("scoring", expect=1, timeout=0.5) == []


async def test_withdrawal_cancels_open_reviews_and_rules_out_a_decision(scoring: Scoring) -> None:
    await scoring.open_programme("prog-5", panel=["rev-a", "rev-b"], k=2)
    await scoring.delegate("prog-5")
    await scoring.submit("app-gone", "prog-5", "org-g")
    await scoring.assigned("app-gone", 2)
    await scoring.bus.publish(ApplicationWithdrawn(application_id="app-gone", programme_id="prog-5", reason="merged"))

    async def withdrawn() -> bool:
        return (await scoring.application("app-gone"))["status"] == "withdrawn"

    await scoring.eventually(withdrawn)
    app = await scoring.application("app-gone")
    assert {r["status"] for r in app["reviews"]} == {"cancelled"}
    assert await scoring.items("/v1/reviews", scoring.reviewer("rev-a")) == []
    decision = await scoring.http.post(
        "/v1/applications/app-gone/decision",
        json={"outcome": "declined", "feedback": "n/a"},
        headers=scoring.manager,
    )
    assert decision.status_code == 409


async def test_a_scored_application_withdrawn_leaves_the_ranking(scoring: Scoring) -> None:
    await scoring.open_programme("prog-5w", panel=["rev-a"], k=1)
    await scoring.scored_application("app-stays", "prog-5w", "org-s", "rev-a", requested=1_000)
    await scoring.scored_application("app-leaves", "prog-5w", "org-l", "rev-a", requested=1_000)
    await scoring.bus.publish(ApplicationWithdrawn(application_id="app-leaves", programme_id="prog-5w"))

    async def withdrawn() -> bool:
        return (await scoring.application("app-leaves"))["status"] == "withdrawn"

    await scoring.eventually(withdrawn)
    ranking = (await scoring.http.get("/v1/programmes/prog-5w/ranking", headers=scoring.manager)).json()
    assert [e["application_id"] for e in ranking["applications"]] == ["app-stays"]


async def test_a_repeated_submission_does_not_assign_more_reviewers(scoring: Scoring) -> None:
    await scoring.open_programme("prog-6", panel=["rev-a", "rev-b", "rev-c"], k=2)
    submitted = await scoring.submit("app-twice", "prog-6", "org-t")
    await scoring.assigned("app-twice", 2)
    again = await scoring.bus.publish(submitted)  # the same submission again, as a new event
    await scoring.eventually(lambda: scoring.db.inbox.find_one({"_id": {"$regex": f":{again.id}$"}}))
    assert len([e for e in scoring.bus.of_type(ReviewAssigned.type) if e.data.application_id == "app-twice"]) == 2
    assert await scoring.db.reviews.count_documents({"application_id": "app-twice"}) == 2


async def test_a_withdrawal_that_overtakes_its_submission_stops_the_review(scoring: Scoring) -> None:
    await scoring.open_programme("prog-7", panel=["rev-a"], k=1)
    await scoring.bus.publish(ApplicationWithdrawn(application_id="app-ghost", programme_id="prog-7"))
    await scoring.eventually(lambda: scoring.db.early_withdrawals.find_one({"_id": "app-ghost"}))
    await scoring.submit("app-ghost", "prog-7", "org-h")
    await scoring.eventually(lambda: scoring.db.applications.find_one({"_id": "app-ghost"}))
    await scoring.submit("app-real", "prog-7", "org-h")
    await scoring.assigned("app-real", 1)
    assert (await scoring.application("app-ghost"))["status"] == "withdrawn"
    assert await scoring.db.reviews.count_documents({"application_id": "app-ghost"}) == 0


async def test_an_application_in_another_currency_than_its_programme_is_dead_lettered(scoring: Scoring) -> None:
    await scoring.open_programme("prog-8", panel=["rev-a"], k=1)
    submitted = await scoring.submit("app-eur", "prog-8", "org-e")
    euros = submitted.model_copy(update={"amount_requested": Money(amount=100, currency="EUR")})
    await scoring.bus.publish(euros.model_copy(update={"application_id": "app-eur-2"}))
    [dead] = await scoring.bus.dead_letters("scoring", expect=1, timeout=5)
    assert dead["reason"].startswith("RuleViolation")
    assert "EUR" in dead["reason"]
    assert await scoring.db.applications.find_one({"_id": "app-eur-2"}) is None


async def test_a_panel_too_small_for_the_reviews_each_application_needs_is_refused(scoring: Scoring) -> None:
    await scoring.open_programme("prog-9", panel=["rev-a", "rev-b", "rev-c"], k=2)
    programme = await scoring.http.get("/v1/programmes/prog-9", headers=scoring.manager)
    for panel in ([], ["rev-a"]):
        refused = await scoring.http.put(
            "/v1/programmes/prog-9/panel",
            json={"reviewer_ids": panel},
            headers={**scoring.manager, "If-Match": programme.headers["ETag"]},
        )
        assert refused.status_code == 422, (panel, refused.text)
        assert refused.headers["content-type"] == "application/problem+json"
        assert "at least 2 reviewers" in refused.json()["detail"]
    stored = await scoring.db.programmes.find_one({"_id": "prog-9"})
    assert stored["panel"] == ["rev-a", "rev-b", "rev-c"] and stored["version"] == 1


async def test_a_reviewer_who_leaves_the_panel_hands_their_open_reviews_on(scoring: Scoring) -> None:
    await scoring.open_programme("prog-10", panel=["rev-a", "rev-b", "rev-c"], k=1)
    await scoring.submit("app-done", "prog-10", "org-1", minutes=1)
    done = await scoring.review_of("app-done", "rev-a")
    assert (await scoring.score(done, "rev-a", need=3, impact=3)).status_code == 200
    await scoring.submit("app-open", "prog-10", "org-2", minutes=2)
    still_open = await scoring.review_of("app-open", "rev-a")  # nobody has an open review: ties go by id

    programme = await scoring.http.get("/v1/programmes/prog-10", headers=scoring.manager)
    changed = await scoring.http.put(
        "/v1/programmes/prog-10/panel",
        json={"reviewer_ids": ["rev-b", "rev-c"]},
        headers={**scoring.manager, "If-Match": programme.headers["ETag"]},
    )
    assert changed.status_code == 200, changed.text
    [handed_on] = [a for a in await scoring.assigned("app-open", 2) if a.review_id != still_open]
    assert handed_on.reviewer_id == "rev-b"

    gone = scoring.reviewer("rev-a")
    assert (await scoring.http.get(f"/v1/reviews/{still_open}", headers=gone)).status_code == 404
    assert [r["id"] for r in await scoring.items("/v1/reviews", gone)] == [done]  # a completed review stands
    app = await scoring.application("app-open")
    assert {r["reviewer_id"]: r["status"] for r in app["reviews"]} == {"rev-a": "cancelled", "rev-b": "assigned"}
    assert app["status"] == "in_review" and app["reviewers_missing"] == 0
    assert (await scoring.application("app-done"))["status"] == "scored"
