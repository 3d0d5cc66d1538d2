"""Every short list answers one page: {"items", "limit", "offset", "total"}, limit 1..200 (default 100);
a list as long as a programme's applications answers {"items", "limit", "next"}, paged by cursor."""

import pytest

from tests.integration.scoring.helpers import Scoring


async def test_each_list_pages_through_its_items_in_a_stable_order(scoring: Scoring) -> None:
    await scoring.open_programme("prog-1", panel=["rev-a"], k=1)
    await scoring.open_programme("prog-2", panel=["rev-a", "rev-b"], k=1)
    for n in (1, 2, 3):
        await scoring.submit(f"app-{n}", "prog-1", f"org-{n}", minutes=n)
    await scoring.assigned("app-3", 1)
    await scoring.assigned("app-1", 1)
    await scoring.assigned("app-2", 1)
    for organisation in ("org-x", "org-y", "org-z"):
        declared = await scoring.http.post(
            "/v1/conflicts", json={"organisation_id": organisation, "reason": "trustee"},
            headers=scoring.reviewer("rev-b"),
        )
        assert declared.status_code == 201

    lists = {
        "/v1/programmes": (scoring.manager, "id", ["prog-1", "prog-2"]),
        "/v1/programmes/prog-1/organisations": (scoring.reviewer("rev-a"), "id", ["org-1", "org-2", "org-3"]),
        "/v1/conflicts": (scoring.reviewer("rev-b"), "organisation_id", ["org-x", "org-y", "org-z"]),
    }
    for path, (headers, key, everything) in lists.items():
        assert [i[key] for i in await scoring.items(path, headers)] == everything, path
        assert [i[key] for i in await scoring.items(path, headers, limit=1, offset=1)] == everything[1:2], path
        assert await scoring.items(path, headers, offset=len(everything)) == [], path
        # the total counts everything the list holds, whichever page is asked for
        for params in ({}, {"limit": 1, "offset": 1}, {"offset": len(everything)}):
            assert (await scoring.page(path, headers, **params))["total"] == len(everything), (path, params)

    reviews = await scoring.items("/v1/reviews", scoring.reviewer("rev-a"))
    assert sorted(r["application_id"] for r in reviews) == ["app-1", "app-2", "app-3"]
    second = await scoring.page("/v1/reviews", scoring.reviewer("rev-a"), limit=2, offset=1)
    assert [r["id"] for r in second["items"]] == [r["id"] for r in reviews[1:]]
    assert second["total"] == 3

    # A programme's applications, oldest submission first, a page at a time by cursor.
    path = "/v1/programmes/prog-1/applications"
    assert [i["id"] for i in await scoring.every_item(path, scoring.manager)] == ["app-1", "app-2", "app-3"]
    assert [i["id"] for i in await scoring.every_item(path, scoring.manager, limit=1)] == ["app-1", "app-2", "app-3"]
    first = (await scoring.http.get(path, params={"limit": 2}, headers=scoring.manager)).json()
    assert [i["id"] for i in first["items"]] == ["app-1", "app-2"] and first["next"]
    assert await scoring.every_item(path, scoring.manager, status="awaiting_reviewers") == []
    assert [i["id"] for i in await scoring.every_item(path, scoring.manager, status="in_review", limit=2)] == [
        "app-1", "app-2", "app-3"]  # fmt: skip
    refused = await scoring.http.get(path, params={"after": "not-a-cursor"}, headers=scoring.manager)
    assert refused.status_code == 400 and refused.headers["content-type"] == "application/problem+json"


async def test_a_reviewers_page_counts_only_the_reviews_they_may_see(scoring: Scoring) -> None:
    await scoring.open_programme("prog-c", panel=["rev-a"], k=1)
    for n in (1, 2, 3):
        await scoring.submit(f"app-{n}", "prog-c", f"org-{n}", minutes=n)
        await scoring.assigned(f"app-{n}", 1)
    done = await scoring.review_of("app-1", "rev-a")
    assert (await scoring.score(done, "rev-a", need=3, impact=3)).status_code == 200
    # A conflict declared after the review was completed: the review stands but rev-a no longer sees
    # it, so it must not take a place on rev-a's pages either.
    await scoring.http.post(
        "/v1/conflicts", json={"organisation_id": "org-1", "reason": "friend"}, headers=scoring.reviewer("rev-a")
    )
    first = await scoring.page("/v1/reviews", scoring.reviewer("rev-a"), limit=1)
    rest = await scoring.items("/v1/reviews", scoring.reviewer("rev-a"), limit=1, offset=1)
    assert sorted(r["application_id"] for r in first["items"] + rest) == ["app-2", "app-3"]
    assert first["total"] == 2


@pytest.mark.parametrize(
    "params", [{"limit": 0}, {"limit": 201}, {"limit": "ten"}, {"offset": -1}, {"offset": 10**30}, {"after": ""}]
)
async def test_a_page_out_of_bounds_is_a_422_problem(scoring: Scoring, params: dict) -> None:
    await scoring.open_programme("prog-q", panel=["rev-a"], k=1)
    offsets = (
        ("/v1/reviews", scoring.reviewer("rev-a")),
        ("/v1/programmes", scoring.manager),
        ("/v1/conflicts", scoring.manager),
        ("/v1/programmes/prog-q/organisations", scoring.manager),
    )
    cursors = (("/v1/programmes/prog-q/applications", scoring.manager), ("/v1/programmes/prog-q/ranking", scoring.manager))
    # An offset means something only to a short list, a cursor only to a long one.
    lists = offsets if "offset" in params else cursors if "after" in params else offsets + cursors
    for path, headers in lists:
        answer = await scoring.http.get(path, params=params, headers=headers)
        assert answer.status_code == 422, (path, params, answer.text)
        assert answer.headers["content-type"] == "application/problem+json"
