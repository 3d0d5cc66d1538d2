"""Reviewers read the answers to the programme's own questions, each with the criteria that judge it,
from the submission scoring receives; the answers go when the application's retention period ends."""

from grants_shared.events import ApplicationAnonymised, ApplicationSubmitted, QuestionAnswer
from tests.integration.scoring.helpers import Scoring

ANSWERS = [
    QuestionAnswer(question_id="idea", label="What will you do?", answer="Weekly walks", criteria=["need"]),
    QuestionAnswer(question_id="led_by", label="Is the group led by lived experience?", answer="Yes"),
]


async def test_a_reviewer_reads_the_answers_with_the_criteria_they_inform(scoring: Scoring) -> None:
    await scoring.open_programme("prog-q", panel=["rev-a", "rev-b"], k=1)
    submitted = await scoring.submit("app-q", "prog-q", "org-q")
    # the helper's submission has no answers; this one does (a new application)
    with_answers = submitted.model_copy(update={"application_id": "app-a", "answers": ANSWERS})
    await scoring.bus.publish(ApplicationSubmitted.model_validate(with_answers.model_dump()))
    [assigned] = await scoring.assigned("app-a", 1)
    review = await scoring.http.get(f"/v1/reviews/{assigned.review_id}", headers=scoring.reviewer(assigned.reviewer_id))
    assert review.status_code == 200, review.text
    assert review.json()["answers"] == [a.model_dump() for a in ANSWERS]
    [plain] = await scoring.assigned("app-q", 1)
    without = await scoring.http.get(f"/v1/reviews/{plain.review_id}", headers=scoring.reviewer(plain.reviewer_id))
    assert without.json()["answers"] == [], "an application with no questions of its own shows none"

    await scoring.bus.publish(ApplicationAnonymised(application_id="app-a", programme_id="prog-q"))

    async def gone() -> bool:
        doc = await scoring.db.applications.find_one({"_id": "app-a"})
        return bool(doc) and doc["answers"] == []

    await scoring.eventually(gone)
