"""Assisted applications over HTTP, on the real broker and database: a programme manager starts, fills
and submits an application for a group that asked for help, with the group's consent recorded; the
group's own people take one over, and from then on it is theirs alone."""

from datetime import UTC, datetime, timedelta
from typing import Any

from grants_shared.events import ApplicationSubmitted
from tests.integration.applications.conftest import Running
from tests.integration.applications.support import (
    applicant, at, gbp, manager, open_programme, organisation_body, register,
)  # fmt: skip
from tests.support.app import bearer
from tests.support.bus import TestBus

FORM = {"questions": [{"kind": "long_text", "id": "idea", "label": "Your idea", "max_words": 100}]}


def assisted_body(programme_id: str, organisation_id: str, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "programme_id": programme_id, "organisation_id": organisation_id, "title": "Listening circle",
        "summary": "A weekly circle for men bereaved by suicide.", "amount_requested": gbp(4_000),
        "contact": {"name": "Kwame Mensah", "email": "kwame@example.org"},
        "consent": {"given_by": "Kwame Mensah", "method": "phone",
                    "given_at": at(datetime.now(UTC) - timedelta(hours=1))},
        "organisation": organisation_body(name="Harrow Listening Circle", area="Harrow"),
    }  # fmt: skip
    body.update(overrides)
    return body


async def _programme_with_form(service: Running) -> dict[str, Any]:
    http, settings = service.http, service.settings
    programme = await open_programme(http, settings)
    etag = (await http.get(f"/v1/programmes/{programme['id']}", headers=manager(settings))).headers["etag"]
    form = await http.put(f"/v1/programmes/{programme['id']}/form", json=FORM,
                          headers={**manager(settings), "If-Match": etag})  # fmt: skip
    assert form.status_code == 200, form.text
    return programme


async def test_a_manager_starts_fills_and_submits_for_a_group_with_its_consent(service: Running, bus: TestBus) -> None:
    http, settings = service.http, service.settings
    programme = await _programme_with_form(service)
    pm = manager(settings)

    created = await http.post("/v1/applications/assisted", json=assisted_body(programme["id"], "org-circle"), headers=pm)
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["assisted"] is True
    assert body["assistance"]["assisted_by"] == "pm-1"
    assert body["assistance"]["consent_given_by"] == "Kwame Mensah" and body["assistance"]["consent_method"] == "phone"
    assert body["assistance"]["taken_over_at"] is None
    assert body["form_version"] == 1
    url = f"/v1/applications/{body['id']}"

    # the group's profile was created from the draft, and is readable by the group
    profile = await http.get("/v1/organisations/org-circle", headers=applicant(settings, "org-circle"))
    assert profile.status_code == 200 and profile.json()["name"] == "Harrow Listening Circle"

    saved = await http.put(f"{url}/answers", json={"answers": {"idea": "Circles"}},
                           headers={**pm, "If-Match": created.headers["etag"]})  # fmt: skip
    assert saved.status_code == 200, saved.text
    submitted = await http.post(f"{url}/submit", headers=pm)
    assert submitted.status_code == 200, submitted.text
    assert submitted.json()["status"] == "submitted"
    [event] = await bus.wait_for(ApplicationSubmitted.type, application_id=body["id"])
    assert event.data.contact.email == "kwame@example.org"  # type: ignore[attr-defined]

    # managers see it marked in the list; the group sees it as its own, with the consent it gave
    listed = await http.get(f"/v1/applications?programme_id={programme['id']}", headers=pm)
    assert [(a["id"], a["assisted"]) for a in listed.json()["items"]] == [(body["id"], True)]
    timeline = await http.get(f"{url}/timeline", headers=applicant(settings, "org-circle"))
    assert "with the consent of Kwame Mensah (phone" in timeline.json()["entries"][0]["words"]


async def test_consent_and_profile_are_checked(service: Running) -> None:
    http, settings = service.http, service.settings
    programme = await open_programme(http, settings)
    pm = manager(settings)
    future = assisted_body(programme["id"], "org-a", consent={
        "given_by": "Kwame", "method": "phone", "given_at": at(datetime.now(UTC) + timedelta(days=1))})  # fmt: skip
    assert (await http.post("/v1/applications/assisted", json=future, headers=pm)).status_code == 422
    no_consent = assisted_body(programme["id"], "org-a")
    del no_consent["consent"]
    assert (await http.post("/v1/applications/assisted", json=no_consent, headers=pm)).status_code == 422
    no_profile = assisted_body(programme["id"], "org-a", organisation=None)
    missing = await http.post("/v1/applications/assisted", json=no_profile, headers=pm)
    assert missing.status_code == 409, missing.text
    await register(http, settings, "org-shed")
    replaced = await http.post("/v1/applications/assisted", json=assisted_body(programme["id"], "org-shed"), headers=pm)
    assert replaced.status_code == 409, "a group's own profile is not replaced by the team"
    existing = await http.post("/v1/applications/assisted", json=assisted_body(programme["id"], "org-shed", organisation=None),
                               headers=pm)  # fmt: skip
    assert existing.status_code == 201, existing.text
    not_a_manager = await http.post("/v1/applications/assisted", json=assisted_body(programme["id"], "org-b"),
                                    headers=applicant(settings, "org-b"))  # fmt: skip
    assert not_a_manager.status_code == 403


async def test_the_group_takes_it_over_and_then_it_is_theirs_alone(service: Running) -> None:
    http, settings = service.http, service.settings
    programme = await _programme_with_form(service)
    pm = manager(settings)
    created = (await http.post("/v1/applications/assisted", json=assisted_body(programme["id"], "org-circle"),
                               headers=pm)).json()  # fmt: skip
    url = f"/v1/applications/{created['id']}"
    group = applicant(settings, "org-circle", subject="person-kwame")
    other_group = applicant(settings, "org-other")
    assert (await http.post(f"{url}/take-over", headers=other_group)).status_code == 404

    taken = await http.post(f"{url}/take-over", headers=group)
    assert taken.status_code == 200, taken.text
    assert taken.json()["assistance"]["taken_over_by"] == "person-kwame"
    again = await http.post(f"{url}/take-over", headers=group)
    assert again.status_code == 200 and again.json()["version"] == taken.json()["version"], "taking over twice changes nothing"

    # the team may no longer change it; the group may, as its own
    refused = await http.patch(url, json={"title": "Changed by the team"},
                               headers={**pm, "If-Match": taken.headers["etag"]})  # fmt: skip
    assert refused.status_code == 404, refused.text
    assert (await http.post(f"{url}/submit", headers=pm)).status_code == 404
    edited = await http.patch(url, json={"title": "Our listening circle"}, headers={**group, "If-Match": taken.headers["etag"]})
    assert edited.status_code == 200, edited.text
    still_readable = await http.get(url, headers=pm)
    assert still_readable.status_code == 200 and still_readable.json()["assisted"] is True
    timeline = (await http.get(f"{url}/timeline", headers=group)).json()
    assert [e["kind"] for e in timeline["entries"]] == ["draft_started", "taken_over"]

    own = await http.post(f"/v1/applications/{created['id']}/take-over", headers=group)
    assert own.status_code == 200
    await register(http, settings, "org-shed")
    mine = (await http.post("/v1/applications", json={
        "programme_id": programme["id"], "organisation_id": "org-shed", "title": "Walks", "amount_requested": gbp(1_000),
    }, headers=applicant(settings, "org-shed"))).json()  # fmt: skip
    assert (await http.post(f"/v1/applications/{mine['id']}/take-over",
                            headers=applicant(settings, "org-shed"))).status_code == 409  # fmt: skip


async def test_a_manager_cannot_act_on_a_group_s_own_application_or_its_equality_answers(service: Running) -> None:
    http, settings = service.http, service.settings
    programme = await open_programme(http, settings)
    pm = manager(settings)
    await register(http, settings, "org-shed")
    mine = await http.post("/v1/applications", json={
        "programme_id": programme["id"], "organisation_id": "org-shed", "title": "Walks", "amount_requested": gbp(1_000),
    }, headers=applicant(settings, "org-shed"))  # fmt: skip
    url = f"/v1/applications/{mine.json()['id']}"
    assert (await http.patch(url, json={"title": "x"}, headers={**pm, "If-Match": mine.headers["etag"]})).status_code == 404
    assert (await http.post(f"{url}/submit", headers=pm)).status_code == 404

    assisted = (await http.post("/v1/applications/assisted", json=assisted_body(programme["id"], "org-circle"),
                                headers=pm)).json()  # fmt: skip
    monitoring = await http.put(f"/v1/applications/{assisted['id']}/equality-monitoring",
                                json={"answers": {"communities_served": ["men"]}}, headers=pm)  # fmt: skip
    assert monitoring.status_code in (403, 404), "equality answers are the group's own to give"
    reviewer = bearer(settings, "rev-ada", "reviewer")
    assert (await http.post("/v1/applications/assisted", json=assisted_body(programme["id"], "org-c"),
                            headers=reviewer)).status_code == 403  # fmt: skip


async def test_the_submission_carries_the_answers_reviewers_judge_and_never_equality_answers(
    service: Running, bus: TestBus
) -> None:
    """What scoring receives: each shown question's answer in words with the criteria that point at it."""
    http, settings = service.http, service.settings
    programme = await open_programme(http, settings)
    etag = (await http.get(f"/v1/programmes/{programme['id']}", headers=manager(settings))).headers["etag"]
    form = {"questions": [
        {"kind": "long_text", "id": "idea", "label": "Your idea", "max_words": 100},
        {"kind": "yes_no", "id": "has_venue", "label": "Do you have a venue?"},
        {"kind": "short_text", "id": "venue", "label": "Where?", "shown_if": {"question_id": "has_venue", "any_of": ["yes"]}},
        {"kind": "multiple_choice", "id": "who", "label": "Who takes part?",
         "options": [{"value": "men", "label": "Men"}, {"value": "young", "label": "Young people"}]},
    ], "criteria": {"need": ["idea", "who"], "lived_experience": ["idea"]}}  # fmt: skip
    assert (await http.put(f"/v1/programmes/{programme['id']}/form", json=form,
                           headers={**manager(settings), "If-Match": etag})).status_code == 200  # fmt: skip
    await register(http, settings, "org-shed")
    me = applicant(settings, "org-shed")
    created = await http.post("/v1/applications", json={
        "programme_id": programme["id"], "organisation_id": "org-shed", "title": "Walks", "amount_requested": gbp(1_000),
    }, headers=me)  # fmt: skip
    url = f"/v1/applications/{created.json()['id']}"
    answers = {"idea": "Walks", "has_venue": False, "venue": "The hall", "who": ["young", "men"]}
    assert (await http.put(f"{url}/answers", json={"answers": answers},
                           headers={**me, "If-Match": created.headers["etag"]})).status_code == 200  # fmt: skip
    await http.put(f"{url}/equality-monitoring", json={"answers": {"communities_served": ["men"]}}, headers=me)
    assert (await http.post(f"{url}/submit", headers=me)).json()["status"] == "submitted"
    [event] = await bus.wait_for(ApplicationSubmitted.type, application_id=created.json()["id"])
    assert [a.model_dump() for a in event.data.answers] == [  # type: ignore[attr-defined]
        {"question_id": "idea", "label": "Your idea", "answer": "Walks", "criteria": ["need", "lived_experience"]},
        {"question_id": "has_venue", "label": "Do you have a venue?", "answer": "No", "criteria": []},
        {"question_id": "who", "label": "Who takes part?", "answer": "Young people, Men", "criteria": ["need"]},
    ], "the hidden question's answer is not sent"
    assert "communities_served" not in event.model_dump_json()
