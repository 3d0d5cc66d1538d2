"""Who may see and do what: reviewers see only their own reviews, applicants nothing, nobody without a token."""

from grants_shared.events import ApplicationDecidedV2, ApplicationScored
from tests.integration.scoring.helpers import Scoring, gbp


async def test_a_reviewer_cannot_see_or_score_a_review_that_is_not_theirs(scoring: Scoring) -> None:
    await scoring.open_programme("prog-a", panel=["rev-a", "rev-b", "rev-c"], k=1)
    await scoring.submit("app-a", "prog-a", "org-a")
    review_id = await scoring.review_of("app-a", "rev-a")

    mine = await scoring.http.get(f"/v1/reviews/{review_id}", headers=scoring.reviewer("rev-a"))
    assert mine.status_code == 200
    body = mine.json()
    assert body["application_title"] == "Walk and talk groups (app-a)"
    assert body["organisation_name"] == "org-a peer support"
    assert body["amount_requested"] == {"amount": 400_000, "currency": "GBP"}
    assert [c["key"] for c in body["criteria"]] == ["need", "impact"]
    assert "contact" not in body and "email" not in mine.text

    theirs = await scoring.http.get(f"/v1/reviews/{review_id}", headers=scoring.reviewer("rev-b"))
    assert theirs.status_code == 404
    assert theirs.headers["content-type"] == "application/problem+json"
    put = await scoring.http.put(
        f"/v1/reviews/{review_id}/scores",
        json={"scores": {"need": {"score": 5}, "impact": {"score": 5}}},
        headers={**scoring.reviewer("rev-b"), "If-Match": mine.headers["ETag"]},
    )
    assert put.status_code == 404
    assert await scoring.items("/v1/reviews", scoring.reviewer("rev-b")) == []
    listed = await scoring.items("/v1/reviews", scoring.reviewer("rev-a"))
    assert [(r["id"], r["application_title"]) for r in listed] == [(review_id, "Walk and talk groups (app-a)")]
    assert (await scoring.http.get("/v1/applications/app-a", headers=scoring.reviewer("rev-a"))).status_code == 403


async def test_applicants_cannot_use_scoring_and_a_missing_token_is_401(scoring: Scoring) -> None:
    await scoring.open_programme("prog-x", panel=["rev-a"], k=1)
    applicant = scoring.as_("person-1", "applicant", organisations=("org-a",))
    for method, path in (
        ("GET", "/v1/reviews"),
        ("GET", "/v1/programmes/prog-x/ranking"),
        ("GET", "/v1/programmes/prog-x/organisations"),
        ("POST", "/v1/conflicts"),
        ("POST", "/v1/applications/app-a/decision"),
        ("GET", "/v1/applications/app-a"),
    ):
        json = {"organisation_id": "org-a", "reason": "x"} if path == "/v1/conflicts" else None
        if path.endswith("/decision"):
            json = {"outcome": "declined", "feedback": "x"}
        forbidden = await scoring.http.request(method, path, json=json, headers=applicant)
        assert forbidden.status_code == 403, (method, path, forbidden.text)
        assert forbidden.headers["content-type"] == "application/problem+json"
        anonymous = await scoring.http.request(method, path, json=json)
        assert anonymous.status_code == 401, (method, path)
    forged = {"Authorization": "Bearer not.a.token"}
    assert (await scoring.http.get("/v1/reviews", headers=forged)).status_code == 401


async def test_bad_scores_are_refused_with_problem_json_and_nothing_is_saved(scoring: Scoring) -> None:
    await scoring.open_programme("prog-q", panel=["rev-a"], k=1)
    await scoring.submit("app-q", "prog-q", "org-q")
    review_id = await scoring.review_of("app-q", "rev-a")
    headers = scoring.reviewer("rev-a")
    etag = (await scoring.http.get(f"/v1/reviews/{review_id}", headers=headers)).headers["ETag"]
    url = f"/v1/reviews/{review_id}/scores"

    for sheet in (
        {"scores": {"need": {"score": 6}, "impact": {"score": 3}}},          # above the scale
        {"scores": {"need": {"score": -1}, "impact": {"score": 3}}},         # below it
        {"scores": {"need": {"score": "4"}, "impact": {"score": 3}}},        # not an integer
        {"scores": {"need": {"score": 4, "comment": "x" * 2001}, "impact": {"score": 3}}},
        {"scores": {"need": {"score": 4}}},                                  # a criterion missing
        {"scores": {"need": {"score": 4}, "impact": {"score": 3}, "vibes": {"score": 5}}},  # not a criterion
        {"scores": {"need": {"score": 4}, "impact": {"score": 3}}, "extra": True},
    ):
        refused = await scoring.http.put(url, json=sheet, headers={**headers, "If-Match": etag})
        assert refused.status_code == 422, (sheet, refused.text)
        assert refused.headers["content-type"] == "application/problem+json"
    review = await scoring.db.reviews.find_one({"_id": review_id})
    assert review["status"] == "assigned" and review["scores"] == {}

    unsaved = await scoring.http.post(f"/v1/reviews/{review_id}/submit", headers=headers)
    assert unsaved.status_code == 409  # nothing scored yet
    no_etag = await scoring.http.put(url, json={"scores": {"need": {"score": 4}, "impact": {"score": 3}}}, headers=headers)
    assert no_etag.status_code == 428
    stale = await scoring.http.put(
        url, json={"scores": {"need": {"score": 4}, "impact": {"score": 3}}}, headers={**headers, "If-Match": '"99"'}
    )
    assert stale.status_code == 412


async def test_someone_who_represents_the_applicant_may_not_score_or_decide_its_application(scoring: Scoring) -> None:
    # An expert by experience on the panel who also runs the applicant group: their token says so.
    await scoring.open_programme("prog-own", panel=["rev-a", "rev-b"], k=1)
    await scoring.delegate("prog-own", "admin")
    await scoring.submit("app-own", "prog-own", "org-own")
    review_id = await scoring.review_of("app-own", "rev-a")
    both = scoring.as_("rev-a", "reviewer", "applicant", organisations=("org-own",))

    read = await scoring.http.get(f"/v1/reviews/{review_id}", headers=both)
    assert read.status_code == 200  # their own group's application: nothing they do not know
    scored = await scoring.http.put(
        f"/v1/reviews/{review_id}/scores",
        json={"scores": {"need": {"score": 5}, "impact": {"score": 5}}},
        headers={**both, "If-Match": read.headers["ETag"]},
    )
    assert scored.status_code == 403, scored.text
    assert "declare a conflict" in scored.json()["detail"]
    assert (await scoring.http.post(f"/v1/reviews/{review_id}/submit", headers=both)).status_code == 403
    assert (await scoring.db.reviews.find_one({"_id": review_id}))["scores"] == {}

    # they declare the conflict, the review goes to rev-b, and the application is scored
    declared = await scoring.http.post(
        "/v1/conflicts", json={"organisation_id": "org-own", "reason": "I run it"}, headers=both
    )
    assert (await scoring.score(await scoring.review_of("app-own", "rev-b"), "rev-b", 4, 4)).status_code == 200
    await scoring.scored_application("app-other", "prog-own", "org-other", "rev-a", requested=1_000)
    await scoring.bus.wait_for(ApplicationScored.type, 2)

    # even with the declaration resolved, the token alone keeps them from deciding it or ranking it
    resolved = await scoring.http.post(f"/v1/conflicts/{declared.json()['id']}/resolve", headers=scoring.manager)
    assert resolved.status_code == 200, resolved.text
    decision = await scoring.http.post(
        "/v1/applications/app-own/decision", json={"outcome": "awarded", "amount_awarded": gbp(1_000)}, headers=both
    )
    assert decision.status_code == 403, decision.text
    assert (await scoring.application("app-own"))["status"] == "scored"
    assert await scoring.db.outbox.count_documents({"type": ApplicationDecidedV2.type}) == 0
    ranking = (await scoring.http.get("/v1/programmes/prog-own/ranking", headers=both)).json()
    assert [e["application_id"] for e in ranking["applications"]] == ["app-other"]
    # another organisation's application is not theirs to decide either: the programme delegated to admins
    decline = {"outcome": "declined", "feedback": "Not this round"}
    other = await scoring.http.post("/v1/applications/app-other/decision", json=decline, headers=both)
    assert other.status_code == 403, other.text
    assert "delegated to the admin role" in other.json()["detail"]
    admin = scoring.as_("admin-1", "admin")
    assert (await scoring.http.post("/v1/applications/app-other/decision", json=decline, headers=admin)).status_code == 200


async def test_reviewers_are_not_shown_who_else_sits_on_the_panel(scoring: Scoring) -> None:
    await scoring.open_programme("prog-p", panel=["rev-a", "rev-b"], k=1)
    as_reviewer = await scoring.http.get("/v1/programmes/prog-p", headers=scoring.reviewer("rev-a"))
    assert as_reviewer.status_code == 200
    assert as_reviewer.json()["panel"] is None
    assert [p["panel"] for p in await scoring.items("/v1/programmes", scoring.reviewer("rev-a"))] == [None]
    as_manager = await scoring.http.get("/v1/programmes/prog-p", headers=scoring.manager)
    assert as_manager.json()["panel"] == ["rev-a", "rev-b"]
    assert [p["panel"] for p in await scoring.items("/v1/programmes", scoring.manager)] == [["rev-a", "rev-b"]]


async def test_ids_in_paths_and_filters_follow_the_one_id_rule(scoring: Scoring) -> None:
    longest = "x" * 128
    for method, path, headers in (
        ("GET", "/v1/programmes/{}", scoring.manager),
        ("GET", "/v1/programmes/{}/ranking", scoring.manager),
        ("GET", "/v1/reviews/{}", scoring.reviewer("rev-a")),
        ("GET", "/v1/applications/{}", scoring.manager),
        ("POST", "/v1/conflicts/{}/resolve", scoring.manager),
    ):
        for bad in ("two words", "semi;colon", longest + "x"):
            refused = await scoring.http.request(method, path.format(bad), headers=headers)
            assert refused.status_code == 422, (method, path, bad, refused.text)
            assert refused.headers["content-type"] == "application/problem+json"
        unknown = await scoring.http.request(method, path.format(longest), headers=headers)
        assert unknown.status_code == 404, (method, path, unknown.text)
    for bad in ("two words", longest + "x"):
        answer = await scoring.http.get("/v1/conflicts", params={"reviewer_id": bad}, headers=scoring.manager)
        assert answer.status_code == 422, (bad, answer.text)
    assert await scoring.items("/v1/conflicts", scoring.manager, reviewer_id=longest) == []
