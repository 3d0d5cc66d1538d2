"""A scored expression of interest: scoring reviews it as a record of its own, says its score with the
stage, never ranks or decides it; the full application that follows is reviewed afresh."""

from grants_shared.clock import utcnow
from grants_shared.events import (
    ApplicationInvited, ApplicationScored, ApplicationSubmitted, InterestDeclined, ReviewAssigned,
)  # fmt: skip
from tests.integration.scoring.helpers import Scoring


async def test_an_expression_of_interest_is_scored_and_the_full_application_reviewed_afresh(scoring: Scoring) -> None:
    await scoring.open_programme("prog-s", panel=["rev-a", "rev-b"], k=1)
    full = await scoring.submit("app-s", "prog-s", "org-s")  # the helper's: a full application
    await scoring.bus.wait_for(ReviewAssigned.type, application_id="app-s")
    # the same group's expression of interest, as a programme with a scored first stage sends it
    interest = ApplicationSubmitted.model_validate({**full.model_dump(), "application_id": "app-e",
                                                    "stage": "expression_of_interest"})  # fmt: skip
    await scoring.bus.publish(interest)
    [assigned] = await scoring.assigned("app-e:interest", 1)
    review = await scoring.http.get(f"/v1/reviews/{assigned.review_id}", headers=scoring.reviewer(assigned.reviewer_id))
    assert review.json()["stage"] == "expression_of_interest"
    submitted = await scoring.score(assigned.review_id, assigned.reviewer_id, need=5, impact=3)
    assert submitted.status_code == 200, submitted.text
    [scored] = await scoring.bus.wait_for(ApplicationScored.type, application_id="app-e")
    assert scored.data.stage == "expression_of_interest"  # type: ignore[attr-defined]

    # an expression of interest is not ranked, and cannot be decided
    ranking = (await scoring.http.get("/v1/programmes/prog-s/ranking", headers=scoring.manager)).json()
    assert [a["application_id"] for a in ranking["applications"]] == []
    await scoring.delegate("prog-s")
    refused = await scoring.http.post("/v1/applications/app-e:interest/decision",
                                      json={"outcome": "declined", "feedback": "no"}, headers=scoring.manager)  # fmt: skip
    assert refused.status_code == 409 and "only a full application is decided" in refused.text, refused.text

    # invited, the group's full application comes under the same id: a new record, reviewed afresh
    await scoring.bus.publish(ApplicationSubmitted.model_validate({**interest.model_dump(), "stage": "full"}))
    [again] = await scoring.assigned("app-e", 1)
    assert again.review_id != assigned.review_id
    record = await scoring.application("app-e")
    assert record["stage"] == "full" and record["status"] == "in_review"
    assert (await scoring.application("app-e:interest"))["status"] == "scored"


async def test_open_reviews_of_an_expression_of_interest_end_when_it_is_invited_or_declined(scoring: Scoring) -> None:
    await scoring.open_programme("prog-t", panel=["rev-a", "rev-b"], k=1)
    full = await scoring.submit("app-x", "prog-t", "org-t")
    await scoring.bus.wait_for(ReviewAssigned.type, application_id="app-x")
    for application_id in ("app-i", "app-d"):
        await scoring.bus.publish(ApplicationSubmitted.model_validate(
            {**full.model_dump(), "application_id": application_id, "stage": "expression_of_interest"}))  # fmt: skip
        await scoring.assigned(f"{application_id}:interest", 1)
    contact = full.contact
    await scoring.bus.publish(ApplicationInvited(application_id="app-i", programme_id="prog-t", title="t",
                                                 closes_at=utcnow(), contact=contact))  # fmt: skip
    await scoring.bus.publish(InterestDeclined(application_id="app-d", programme_id="prog-t", title="t", contact=contact))
    # a full application's reviews are not touched by either
    await scoring.bus.publish(InterestDeclined(application_id="app-x", programme_id="prog-t", title="t", contact=contact))

    async def ended() -> bool:
        statuses = {doc["_id"]: doc["status"] async for doc in scoring.db.applications.find({})}
        return statuses == {"app-x": "in_review", "app-i:interest": "withdrawn", "app-d:interest": "withdrawn"}

    await scoring.eventually(ended)
    open_reviews = [doc async for doc in scoring.db.reviews.find({"status": {"$in": ["assigned", "in_progress"]}})]
    assert [r["application_id"] for r in open_reviews] == ["app-x"]
