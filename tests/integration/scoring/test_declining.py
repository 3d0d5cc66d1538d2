"""A reviewer may decline an assignment: it goes to someone else (never back to them); no reviewer is
given more than the maximum load, and an application that waited for one is given them once a
reviewer submits a review or an application of theirs is withdrawn, or, if it arrived at the moment
they freed up, by the waiting watcher."""

from grants_shared.events import ApplicationWithdrawn, ReviewAssigned
from grants_shared.settings import ServiceSettings
from tests.integration.scoring.helpers import Scoring, running_scoring
from tests.support.bus import TestBus


async def waits_for_reviewers(scoring: Scoring, application_id: str) -> bool:
    found = await scoring.db.applications.find_one({"_id": application_id})
    return bool(found) and found["status"] == "awaiting_reviewers"


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
    async with running_scoring(settings, bus, max_open_reviews=1) as scoring:
        await scoring.open_programme("prog-ml", panel=["rev-a", "rev-b"], k=1)
        # One after another: submissions handled at the same instant each read the loads before the
        # other's assignment (the maximum, like load balancing, holds for assignments made in turn).
        for n in (1, 2):
            await scoring.submit(f"app-ml{n}", "prog-ml", f"org-ml{n}", minutes=n)
            await scoring.bus.wait_for(ReviewAssigned.type, n)
        await scoring.submit("app-ml3", "prog-ml", "org-ml3", minutes=3)
        await scoring.eventually(lambda: waits_for_reviewers(scoring, "app-ml3"))
        loads = {e.data.reviewer_id for e in scoring.bus.of_type(ReviewAssigned.type)}  # type: ignore[attr-defined]
        assert loads == {"rev-a", "rev-b"} and len(scoring.bus.of_type(ReviewAssigned.type)) == 2

        # the reviewer of app-ml1 submits: free again, they are given the waiting application
        holders = {e.data.application_id: e.data for e in scoring.bus.of_type(ReviewAssigned.type)}  # type: ignore[attr-defined]
        first, second = holders["app-ml1"], holders["app-ml2"]
        submitted = await scoring.score(first.review_id, first.reviewer_id, need=4, impact=3)
        assert submitted.status_code == 200, submitted.text
        await scoring.review_of("app-ml3", first.reviewer_id)
        third = await scoring.application("app-ml3")
        assert (third["status"], third["reviewers_missing"]) == ("in_review", 0)

        # a fourth waits (both at their maximum again); app-ml2's withdrawal frees its reviewer for it
        await scoring.submit("app-ml4", "prog-ml", "org-ml4", minutes=4)
        await scoring.eventually(lambda: waits_for_reviewers(scoring, "app-ml4"))
        await scoring.bus.publish(ApplicationWithdrawn(application_id="app-ml2", programme_id="prog-ml"))
        await scoring.review_of("app-ml4", second.reviewer_id)
        assert len(scoring.bus.of_type(ReviewAssigned.type)) == 4


async def test_an_application_that_arrived_as_its_reviewer_freed_up_is_given_them_by_the_waiting_watcher(
    settings: ServiceSettings, bus: TestBus
) -> None:
    async with running_scoring(settings, bus, max_open_reviews=1, waiting_watch_seconds=0.2) as scoring:
        await scoring.open_programme("prog-ww", panel=["rev-a"], k=1)
        await scoring.submit("app-ww1", "prog-ww", "org-ww1", minutes=1)
        await scoring.review_of("app-ww1", "rev-a")
        await scoring.submit("app-ww2", "prog-ww", "org-ww2", minutes=2)
        await scoring.eventually(lambda: waits_for_reviewers(scoring, "app-ww2"))
        # What the two transactions leave when the review is submitted while app-ww2 is being received:
        # the review is completed, and the submission, not seeing app-ww2, gave rev-a nothing.
        completed = await scoring.db.reviews.update_one({"application_id": "app-ww1", "reviewer_id": "rev-a"},
                                                        {"$set": {"status": "completed"}})  # fmt: skip
        assert completed.modified_count == 1

        await scoring.review_of("app-ww2", "rev-a")
        second = await scoring.application("app-ww2")
        assert (second["status"], second["reviewers_missing"]) == ("in_review", 0)
        assigned = [e.data.application_id for e in scoring.bus.of_type(ReviewAssigned.type)]  # type: ignore[attr-defined]
        assert assigned == ["app-ww1", "app-ww2"]
