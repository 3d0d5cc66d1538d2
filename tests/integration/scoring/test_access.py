"""Who may see and do what: reviewers see only their own reviews, applicants nothing, nobody without a token."""

from tests.integration.scoring.helpers import Scoring


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
    assert (await scoring.http.get("/v1/reviews", headers=scoring.reviewer("rev-b"))).json() == []
    listed = (await scoring.http.get("/v1/reviews", headers=scoring.reviewer("rev-a"))).json()
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
