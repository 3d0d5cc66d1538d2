"""Two stages over HTTP, on the real broker and database: a group expresses interest (its own form and
dates), a manager invites it and its full application starts from its earlier answers, or declines
it with feedback; nothing reaches scoring before the full application is submitted."""

from datetime import UTC, datetime, timedelta
from typing import Any

from grants_shared.events import (
    ApplicationInvited, ApplicationScored, ApplicationSubmitted, InterestDeclined, InterestSubmitted,
)  # fmt: skip
from tests.support.waiting import eventually
from tests.integration.applications.conftest import Running
from tests.integration.applications.support import applicant, at, draft, manager, open_programme, register
from tests.support.bus import TestBus

INTEREST_FORM = {"questions": [
    {"kind": "long_text", "id": "idea", "label": "Your idea in a few words", "max_words": 50},
    {"kind": "yes_no", "id": "led_by_lived_experience", "label": "Is your group led by people with lived experience?"},
]}  # fmt: skip
FULL_FORM = {"questions": [
    {"kind": "long_text", "id": "idea", "label": "Your idea in full", "max_words": 500},
    {"kind": "number", "id": "people_reached", "label": "How many people will you reach?", "minimum": 1},
]}  # fmt: skip


async def two_stage_programme(service: Running, interest_closes_in: timedelta = timedelta(days=10)) -> dict[str, Any]:
    http, settings = service.http, service.settings
    now = datetime.now(UTC)
    stage = {"opens_at": at(now - timedelta(days=1)), "closes_at": at(now + interest_closes_in)}
    created = await http.post("/v1/programmes", json={**_body(), "expression_of_interest": stage},
                              headers=manager(settings))  # fmt: skip
    assert created.status_code == 201, created.text
    url = f"/v1/programmes/{created.json()['id']}"
    first = await http.put(f"{url}/form?stage=expression_of_interest", json=INTEREST_FORM,
                           headers={**manager(settings), "If-Match": created.headers["etag"]})  # fmt: skip
    assert first.status_code == 200, first.text
    assert first.json()["stage"] == "expression_of_interest"
    second = await http.put(f"{url}/form", json=FULL_FORM, headers={**manager(settings), "If-Match": first.headers["etag"]})
    assert second.status_code == 200, second.text
    opened = await http.post(f"{url}/open", headers=manager(settings))
    assert opened.status_code == 200, opened.text
    return opened.json()


def _body() -> dict[str, Any]:
    from tests.integration.applications.support import programme_body

    return programme_body()


async def expressed_interest(service: Running, bus: TestBus, organisation_id: str = "org-shed") -> dict[str, Any]:
    http, settings = service.http, service.settings
    programme = await two_stage_programme(service)
    await register(http, settings, organisation_id)
    me = applicant(settings, organisation_id)
    created = (await draft(http, settings, programme["id"], organisation_id)).json()
    assert created["stage"] == "expression_of_interest" and created["form_version"] == 1
    url = f"/v1/applications/{created['id']}"
    saved = await http.put(f"{url}/answers", json={"answers": {"idea": "Walks", "led_by_lived_experience": True}},
                           headers={**me, "If-Match": '"1"'})  # fmt: skip
    assert saved.status_code == 200, saved.text
    sent = await http.post(f"{url}/submit", headers=me)
    assert sent.json()["status"] == "interest_submitted", sent.text
    [event] = await bus.wait_for(InterestSubmitted.type, application_id=created["id"])
    assert event.data.organisation.name == "Brent Men's Shed"  # type: ignore[attr-defined]
    return {"programme": programme, "application": sent.json(), "url": url, "me": me}


async def test_an_invited_group_makes_its_full_application_from_its_earlier_answers(
    service: Running, bus: TestBus
) -> None:
    http, settings = service.http, service.settings
    known = await expressed_interest(service, bus)
    url, me = known["url"], known["me"]
    assert bus.of_type(ApplicationSubmitted.type) == [], "an expression of interest does not go to scoring"
    waiting = await http.get(f"/v1/applications?programme_id={known['programme']['id']}&status=interest_submitted",
                             headers=manager(settings))  # fmt: skip
    assert [a["id"] for a in waiting.json()["items"]] == [known["application"]["id"]]
    assert (await http.post(f"{url}/invite", headers=me)).status_code == 403, "managers shortlist"

    invited = await http.post(f"{url}/invite", headers=manager(settings))
    assert invited.status_code == 200, invited.text
    body = invited.json()
    assert (body["status"], body["stage"], body["form_version"]) == ("draft", "full", 1)
    assert body["answers"] == {"idea": "Walks"}, "an answer the full form asks again is carried over"
    assert body["interest_answers"] == {"idea": "Walks", "led_by_lived_experience": True}
    [event] = await bus.wait_for(ApplicationInvited.type, application_id=body["id"])
    assert event.data.contact.person_id == "person-amara"  # type: ignore[attr-defined]
    assert (await http.post(f"{url}/invite", headers=manager(settings))).status_code == 409, "once"

    read = await http.get(url, headers=me)
    assert [p["question_id"] for p in read.json()["unfinished"]] == ["people_reached"]
    done = await http.put(f"{url}/answers", json={"answers": {"people_reached": 40}},
                          headers={**me, "If-Match": read.headers["etag"]})  # fmt: skip
    assert done.status_code == 200, done.text
    submitted = await http.post(f"{url}/submit", headers=me)
    assert submitted.json()["status"] == "submitted", submitted.text
    [sent] = await bus.wait_for(ApplicationSubmitted.type, application_id=body["id"])
    assert sent.data.title == "Peer support walks"  # type: ignore[attr-defined]
    timeline = (await http.get(f"{url}/timeline", headers=me)).json()
    assert [e["kind"] for e in timeline["entries"]] == ["draft_started", "interest_submitted", "invited", "submitted"]


async def test_a_declined_expression_of_interest_hears_the_feedback(service: Running, bus: TestBus) -> None:
    http, settings = service.http, service.settings
    known = await expressed_interest(service, bus)
    url = known["url"]
    declined = await http.post(f"{url}/decline-interest", json={"feedback": "Tell us more about who you reach."},
                               headers=manager(settings))  # fmt: skip
    assert declined.status_code == 200, declined.text
    assert declined.json()["status"] == "interest_declined"
    [event] = await bus.wait_for(InterestDeclined.type, application_id=known["application"]["id"])
    assert event.data.feedback == "Tell us more about who you reach."  # type: ignore[attr-defined]
    assert "feedback" not in event.data.without_personal_data(), "feedback is personal: not for integrators"
    read = (await http.get(url, headers=known["me"])).json()
    assert read["interest_feedback"] == "Tell us more about who you reach."
    assert (await http.post(f"{url}/invite", headers=manager(settings))).status_code == 409
    assert await service.db.active_submissions.count_documents({}) == 0, "the group may express interest again"


async def test_the_expression_of_interest_keeps_its_own_dates(service: Running, bus: TestBus) -> None:
    http, settings = service.http, service.settings
    # The first stage closed a minute ago; the programme (the full application) is open for a month
    programme = await two_stage_programme(service, interest_closes_in=-timedelta(minutes=1))
    assert programme["interest_form_version"] == 1 and programme["form_version"] == 1
    await register(http, settings, "org-late")
    created = (await draft(http, settings, programme["id"], "org-late")).json()
    me = applicant(settings, "org-late")
    await http.put(f"/v1/applications/{created['id']}/answers",
                   json={"answers": {"idea": "Walks", "led_by_lived_experience": False}},
                   headers={**me, "If-Match": '"1"'})  # fmt: skip
    late = await http.post(f"/v1/applications/{created['id']}/submit", headers=me)
    assert late.json()["status"] == "ineligible", "its stage is over: it cannot be corrected"
    assert [r["code"] for r in late.json()["ineligible_reasons"]] == ["programme_not_open"]
    assert "closed for applications" in late.json()["ineligible_reasons"][0]["message"]
    no_stage = await open_programme(http, settings)
    refused = await http.put(f"/v1/programmes/{no_stage['id']}/form?stage=expression_of_interest", json=INTEREST_FORM,
                             headers={**manager(settings), "If-Match": f'"{no_stage["version"]}"'})  # fmt: skip
    assert refused.status_code == 409


async def test_a_scored_first_stage_sends_expressions_of_interest_to_reviewers(service: Running, bus: TestBus) -> None:
    """Where the programme scores its expression of interest, the submission goes to scoring too (stage
    expression_of_interest, with its answers) and the reviewers' score is shown to managers, not the group."""
    http, settings = service.http, service.settings
    now = datetime.now(UTC)
    stage = {"opens_at": at(now - timedelta(days=1)), "closes_at": at(now + timedelta(days=10)), "scored": True}
    created = await http.post("/v1/programmes", json={**_body(), "expression_of_interest": stage},
                              headers=manager(settings))  # fmt: skip
    url = f"/v1/programmes/{created.json()['id']}"
    first = await http.put(f"{url}/form?stage=expression_of_interest", json=INTEREST_FORM,
                           headers={**manager(settings), "If-Match": created.headers["etag"]})  # fmt: skip
    programme = (await http.post(f"{url}/open", headers=manager(settings))).json()
    assert first.status_code == 200 and programme["expression_of_interest"]["scored"] is True
    await register(http, settings, "org-shed")
    me = applicant(settings, "org-shed")
    created_app = (await draft(http, settings, programme["id"], "org-shed")).json()
    app_url = f"/v1/applications/{created_app['id']}"
    await http.put(f"{app_url}/answers", json={"answers": {"idea": "Walks", "led_by_lived_experience": True}},
                   headers={**me, "If-Match": '"1"'})  # fmt: skip
    assert (await http.post(f"{app_url}/submit", headers=me)).json()["status"] == "interest_submitted"
    [sent] = await bus.wait_for(ApplicationSubmitted.type, application_id=created_app["id"])
    assert sent.data.stage == "expression_of_interest"  # type: ignore[attr-defined]
    assert [a.question_id for a in sent.data.answers] == ["idea", "led_by_lived_experience"]  # type: ignore[attr-defined]

    await bus.publish(ApplicationScored(
        application_id=created_app["id"], programme_id=programme["id"], weighted_score=4.2,
        criterion_means={"need": 4.0, "lived_experience": 4.5}, reviewer_count=2, needs_moderation=False,
        stage="expression_of_interest",
    ))  # fmt: skip

    async def shown() -> bool:
        read = (await http.get(app_url, headers=manager(settings))).json()
        return (read.get("interest_score") or {}).get("weighted_score") == 4.2

    await eventually(shown, 15, what="the interest score recorded")
    as_manager = (await http.get(app_url, headers=manager(settings))).json()
    assert as_manager["status"] == "interest_submitted" and as_manager["score"] is None
    assert (await http.get(app_url, headers=me)).json()["interest_score"] is None, "the group is not shown scores"
