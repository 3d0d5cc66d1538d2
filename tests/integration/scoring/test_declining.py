"""A reviewer may decline an assignment: it goes to someone else (never back to them); no reviewer is
given more than the maximum load."""

from grants_shared.events import ReviewAssigned
from grants_shared.settings import ServiceSettings
from scoring.config import Settings
from scoring.main import build_app
from tests.integration.scoring.helpers import Scoring
from tests.support.app import serve
from tests.support.bus import TestBus


async def test_a_declined_review_goes_to_another_member_and_never_back(scoring: Scoring) -> None:
    await scoring.open_programme("prog-dc", panel=["rev-a", "rev-b", "rev-c"], k=1)
    await scoring.submit("app-dc", "prog-dc", "org-dc")
    first = await scoring.review_of("app-dc", "rev-a")

    declined = await scoring.http.post(
        f"/v1/reviews/{first}/decline", json={"reason": "no_time", "note": "Away this month"},
        headers=scoring.reviewer("rev-a"),
    )
    assert declined.status_code == 200, declined.text
    assert declined.json()["status"] == "cancelled"
    second = await scoring.review_of("app-dc", "rev-b")  # rev-a is free again, but said no
    assert (await scoring.http.post(f"/v1/reviews/{first}/decline", json={"reason": "other"},
                                    headers=scoring.reviewer("rev-a"))).status_code == 404  # fmt: skip
    bad = await scoring.http.post(f"/v1/reviews/{second}/decline", json={"reason": "bored"},
                                  headers=scoring.reviewer("rev-b"))  # fmt: skip
    assert bad.status_code == 422

    # declining for a conflict declares it: rev-b is kept from the organisation from now on
    conflicted = await scoring.http.post(
        f"/v1/reviews/{second}/decline", json={"reason": "conflict", "note": "My sister runs it"},
        headers=scoring.reviewer("rev-b"),
    )
    assert conflicted.status_code == 200, conflicted.text
    await scoring.review_of("app-dc", "rev-c")
    conflicts = await scoring.items("/v1/conflicts", scoring.reviewer("rev-b"))
    assert [(c["organisation_id"], c["reason"]) for c in conflicts] == [("org-dc", "My sister runs it")]

    # the last member declines too: nobody is left, so the application waits
    third = await scoring.review_of("app-dc", "rev-c")
    assert (await scoring.http.post(f"/v1/reviews/{third}/decline", json={"reason": "other"},
                                    headers=scoring.reviewer("rev-c"))).status_code == 200  # fmt: skip
    app = await scoring.application("app-dc")
    assert (app["status"], app["reviewers_missing"]) == ("awaiting_reviewers", 1)
    assert sorted(r["status"] for r in app["reviews"]) == ["cancelled", "cancelled", "cancelled"]
    assert len(scoring.bus.of_type(ReviewAssigned.type)) == 3


async def test_no_reviewer_is_given_more_than_the_maximum_load(settings: ServiceSettings, bus: TestBus) -> None:
    app = build_app(Settings(**{**settings.model_dump(), "max_open_reviews": 1}))
    async with serve(app) as http:
        scoring = Scoring(http=http, db=app.state.runtime.db, bus=bus, settings=settings)
        await scoring.open_programme("prog-ml", panel=["rev-a", "rev-b"], k=1)
        # One after another: submissions handled at the same instant each read the loads before the
        # other's assignment (the maximum, like load balancing, holds for assignments made in turn).
        for n in (1, 2):
            await scoring.submit(f"app-ml{n}", "prog-ml", f"org-ml{n}", minutes=n)
            await scoring.bus.wait_for(ReviewAssigned.type, n)
        await scoring.submit("app-ml3", "prog-ml", "org-ml3", minutes=3)

        async def third_waits() -> bool:
            found = await scoring.db.applications.find_one({"_id": "app-ml3"})
            return bool(found) and found["status"] == "awaiting_reviewers"

        await scoring.eventually(third_waits)
        loads = {e.data.reviewer_id for e in scoring.bus.of_type(ReviewAssigned.type)}  # type: ignore[attr-defined]
        assert loads == {"rev-a", "rev-b"} and len(scoring.bus.of_type(ReviewAssigned.type)) == 2
