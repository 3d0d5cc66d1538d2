"""An applicant group's journey over HTTP: profile, draft, edit, submit (eligible or not), withdraw, scope."""

import asyncio

import pytest

from grants_shared.events import (
    ApplicationIneligible,
    ApplicationReturnedForCorrection,
    ApplicationSubmitted,
    ApplicationWithdrawn,
)
from tests.integration.applications.conftest import Running
from tests.integration.applications.support import (
    applicant,
    draft,
    gbp,
    manager,
    open_programme,
    organisation_body,
    programme_body,
    register,
    submitted_application,
)
from tests.support.app import bearer
from tests.support.bus import TestBus


async def test_an_applicant_registers_drafts_edits_and_submits(service: Running, bus: TestBus) -> None:
    http, settings = service.http, service.settings
    programme = await open_programme(http, settings)
    me = applicant(settings, "org-shed")

    profile = await http.put("/v1/organisations/org-shed", json=organisation_body(charity_number="1234567"), headers=me)
    assert profile.status_code == 201, profile.text
    assert profile.headers["etag"] == '"1"'
    assert (await http.get("/v1/organisations/org-shed", headers=me)).json()["charity_number"] == "1234567"
    updated = await http.put("/v1/organisations/org-shed", json=organisation_body(area="Harrow"),
                             headers={**me, "If-Match": '"1"'})  # fmt: skip
    assert updated.status_code == 200 and updated.json()["area"] == "Harrow" and updated.json()["version"] == 2
    assert (await http.put("/v1/organisations/org-shed", json=organisation_body(), headers=me)).status_code == 428
    # A stale version, or one of a profile that does not exist, is refused, and nothing changes.
    stale = await http.put("/v1/organisations/org-shed", json=organisation_body(area="Brent"),
                           headers={**me, "If-Match": '"1"'})  # fmt: skip
    assert stale.status_code == 412 and "version 1" in stale.json()["detail"]
    assert (await http.put("/v1/organisations/org-none", json=organisation_body(),
                           headers={**applicant(settings, "org-none"), "If-Match": '"1"'})).status_code == 412
    assert await service.db.organisations.count_documents({"_id": "org-none"}) == 0
    kept = await service.db.organisations.find_one({"_id": "org-shed"})
    assert kept["area"] == "Harrow" and kept["version"] == 2 and kept["created_at"] < kept["updated_at"]

    created = await draft(http, settings, programme["id"], "org-shed")
    assert created.status_code == 201, created.text
    application = created.json()
    url = f"/v1/applications/{application['id']}"
    assert application["status"] == "draft"
    assert application["contact"] == {"name": "Amara Okafor", "email": "amara@example.org"}, "from the token"
    assert created.headers["location"] == url

    read = await http.get(url, headers=me)
    assert read.headers["etag"] == '"1"'
    edited = await http.patch(url, json={"title": "Peer support walks in Harrow", "amount_requested": gbp(7_500)},
                              headers={**me, "If-Match": read.headers["etag"]})  # fmt: skip
    assert edited.status_code == 200, edited.text
    assert edited.json()["title"] == "Peer support walks in Harrow" and edited.headers["etag"] == '"2"'

    emptied = await http.patch(url, json={"title": None}, headers={**me, "If-Match": '"2"'})
    assert emptied.status_code == 422 and "cannot be emptied: title" in emptied.text

    stale = await http.patch(url, json={"title": "Overwritten"}, headers={**me, "If-Match": '"1"'})
    assert stale.status_code == 412
    assert stale.headers["content-type"] == "application/problem+json"
    assert (await http.get(url, headers=me)).json()["title"] == "Peer support walks in Harrow"

    submitted = await http.post(f"{url}/submit", headers=me)
    assert submitted.status_code == 200, submitted.text
    assert submitted.json()["status"] == "submitted"

    [event] = await bus.wait_for(ApplicationSubmitted.type, application_id=application["id"])
    data: ApplicationSubmitted = event.data  # type: ignore[assignment]
    assert data.programme_id == programme["id"]
    assert data.organisation.model_dump() == {"id": "org-shed", "name": "Brent Men's Shed",
                                              "kind": "community_group", "area": "Harrow"}  # fmt: skip
    assert data.title == "Peer support walks in Harrow"
    assert data.summary == "Weekly walks led by people with lived experience."
    assert data.amount_requested.model_dump() == gbp(7_500)
    assert data.contact.model_dump() == {"person_id": "person-amara", "name": "Amara Okafor",
                                         "email": "amara@example.org"}  # fmt: skip
    assert bus.of_type(ApplicationIneligible.type) == []

    again = await http.post(f"{url}/submit", headers=me)
    assert again.status_code == 409
    late_edit = await http.patch(url, json={"title": "Too late"}, headers={**me, "If-Match": submitted.headers["etag"]})
    assert late_edit.status_code == 409

    timeline = (await http.get(f"{url}/timeline", headers=me)).json()
    assert timeline["status"] == "submitted"
    assert [e["kind"] for e in timeline["entries"]] == ["draft_started", "submitted"]
    assert "£7,500.00" in timeline["entries"][1]["words"]


async def test_a_submission_breaking_the_rules_returns_as_a_draft_to_correct(service: Running, bus: TestBus) -> None:
    http, settings = service.http, service.settings
    programme = await open_programme(http, settings)
    await register(http, settings, "org-big", kind="social_enterprise", area="Leeds", annual_income=gbp(900_000))
    created = await draft(http, settings, programme["id"], "org-big", contact={"name": "Sam Jones", "email": "sam@example.org"})
    me = applicant(settings, "org-big")
    url = f"/v1/applications/{created.json()['id']}"
    expected = ["organisation_kind_not_eligible", "area_not_served", "income_above_ceiling"]
    # The draft shows its eligibility before anything is submitted
    read = await http.get(url, headers=me)
    assert [r["code"] for r in read.json()["eligibility"]] == expected

    answer = await http.post(f"{url}/submit", headers=me)
    assert answer.status_code == 200
    assert answer.json()["status"] == "draft", "returned to the group, not ended"
    assert [r["code"] for r in answer.json()["ineligible_reasons"]] == expected

    [event] = await bus.wait_for(ApplicationReturnedForCorrection.type, application_id=created.json()["id"])
    data: ApplicationReturnedForCorrection = event.data  # type: ignore[assignment]
    assert [r.code for r in data.reasons] == expected and all(r.message for r in data.reasons)
    assert data.contact.model_dump() == {"person_id": "person-amara", "name": "Sam Jones", "email": "sam@example.org"}
    assert data.closes_at.isoformat().startswith(programme["closes_at"][:16])
    assert bus.of_type(ApplicationSubmitted.type) == [] and bus.of_type(ApplicationIneligible.type) == []
    timeline = (await http.get(f"{url}/timeline", headers=me)).json()
    assert timeline["entries"][-1]["kind"] == "returned_for_correction" and "Leeds" in timeline["entries"][-1]["words"]

    # The group puts it right and submits again
    fixed = await http.put("/v1/organisations/org-big", json=organisation_body(), headers={**me, "If-Match": '"1"'})
    assert fixed.status_code == 200, fixed.text
    assert (await http.get(url, headers=me)).json()["eligibility"] == []
    again = await http.post(f"{url}/submit", headers=me)
    assert again.json()["status"] == "submitted" and again.json()["ineligible_reasons"] == []
    await bus.wait_for(ApplicationSubmitted.type, application_id=created.json()["id"])


async def test_a_submission_after_the_programme_closed_is_ineligible_for_good(service: Running, bus: TestBus) -> None:
    http, settings = service.http, service.settings
    programme = await open_programme(http, settings)
    await register(http, settings, "org-shed")
    created = await draft(http, settings, programme["id"], "org-shed")
    closed = await http.post(f"/v1/programmes/{programme['id']}/close", headers=manager(settings))
    assert closed.status_code == 200
    answer = await http.post(f"/v1/applications/{created.json()['id']}/submit", headers=applicant(settings, "org-shed"))
    assert answer.json()["status"] == "ineligible"
    assert [r["code"] for r in answer.json()["ineligible_reasons"]] == ["programme_not_open"]
    [event] = await bus.wait_for(ApplicationIneligible.type, application_id=created.json()["id"])
    assert [r.code for r in event.data.reasons] == ["programme_not_open"]  # type: ignore[attr-defined]
    assert await service.db.active_submissions.count_documents({}) == 0


async def test_the_currency_and_the_maximum_are_checked_when_the_draft_is_written(service: Running) -> None:
    http, settings = service.http, service.settings
    programme = await open_programme(http, settings)
    await register(http, settings, "org-shed")
    me = applicant(settings, "org-shed")
    euros = await draft(http, settings, programme["id"], "org-shed", amount_requested={"amount": 0, "currency": "EUR"})
    assert euros.status_code == 422
    assert euros.json()["errors"][0]["location"] == ["body", "amount_requested"]
    assert "this programme makes grants in GBP" in euros.json()["errors"][0]["message"]
    too_much = await draft(http, settings, programme["id"], "org-shed", amount_requested=gbp(50_000))
    assert too_much.status_code == 422 and "The largest grant this programme makes is £10,000.00" in too_much.text
    nothing_yet = await draft(http, settings, programme["id"], "org-shed", amount_requested=gbp(0))
    assert nothing_yet.status_code == 201, "a draft may leave the amount until later"
    edit = await http.patch(f"/v1/applications/{nothing_yet.json()['id']}", json={"amount_requested": gbp(10_001)},
                            headers={**me, "If-Match": '"1"'})  # fmt: skip
    assert edit.status_code == 422 and edit.headers["content-type"] == "application/problem+json"


async def test_anyone_can_check_a_programmes_rules_before_applying(service: Running) -> None:
    http, settings = service.http, service.settings
    programme = await open_programme(http, settings)
    url = f"/v1/programmes/{programme['id']}/eligibility"
    good = await http.post(url, json={"kind": "charity", "area": " brent ", "annual_income": gbp(40_000)})
    assert good.status_code == 200 and good.json() == {"eligible": True, "failures": []}
    bad = await http.post(url, json={"kind": "other", "area": "Leeds", "annual_income": gbp(900_000),
                                     "amount_requested": {"amount": 100, "currency": "EUR"}})  # fmt: skip
    assert bad.json()["eligible"] is False
    assert [f["code"] for f in bad.json()["failures"]] == [
        "organisation_kind_not_eligible", "area_not_served", "income_above_ceiling", "currency_mismatch",
    ]  # fmt: skip
    assert all(f["message"].endswith(".") for f in bad.json()["failures"])
    assert (await http.post(url, json={"kind": "charity"})).status_code == 422
    draft_programme = await http.post("/v1/programmes", json=programme_body(), headers=manager(settings))
    hidden = await http.post(f"/v1/programmes/{draft_programme.json()['id']}/eligibility",
                             json={"kind": "charity", "area": "Brent", "annual_income": gbp(1)})  # fmt: skip
    assert hidden.status_code == 404


async def test_one_application_per_organisation_until_it_is_withdrawn(service: Running, bus: TestBus) -> None:
    http, settings = service.http, service.settings
    programme, first = await submitted_application(http, settings)
    me = applicant(settings, "org-shed")

    second = await draft(http, settings, programme["id"], "org-shed")
    duplicate = await http.post(f"/v1/applications/{second.json()['id']}/submit", headers=me)
    assert duplicate.json()["status"] == "draft"
    assert [r["code"] for r in duplicate.json()["ineligible_reasons"]] == ["duplicate_application"]

    withdrawn = await http.post(f"/v1/applications/{first['id']}/withdraw",
                                json={"reason": "We merged with another group"}, headers=me)  # fmt: skip
    assert withdrawn.status_code == 200, withdrawn.text
    assert withdrawn.json()["status"] == "withdrawn"
    [event] = await bus.wait_for(ApplicationWithdrawn.type, application_id=first["id"])
    assert event.data.reason == "We merged with another group"  # type: ignore[attr-defined]
    assert event.data.programme_id == programme["id"]  # type: ignore[attr-defined]

    # The draft returned as a duplicate can now go
    accepted = await http.post(f"/v1/applications/{second.json()['id']}/submit", headers=me)
    assert accepted.json()["status"] == "submitted"


async def test_two_submissions_at_the_same_moment_let_only_one_through(service: Running, bus: TestBus) -> None:
    http, settings = service.http, service.settings
    programme = await open_programme(http, settings)
    await register(http, settings, "org-shed")
    me = applicant(settings, "org-shed")
    drafts = [(await draft(http, settings, programme["id"], "org-shed")).json() for _ in range(2)]

    answers = await asyncio.gather(*(http.post(f"/v1/applications/{d['id']}/submit", headers=me) for d in drafts))
    assert sorted(a.json()["status"] for a in answers) == ["draft", "submitted"]
    [refused] = [a.json() for a in answers if a.json()["status"] == "draft"]
    assert [r["code"] for r in refused["ineligible_reasons"]] == ["duplicate_application"]
    await bus.wait_for(ApplicationReturnedForCorrection.type)
    assert len((await bus.wait_for(ApplicationSubmitted.type))) == 1


async def test_withdrawal_is_only_for_submitted_applications(service: Running, bus: TestBus) -> None:
    http, settings = service.http, service.settings
    programme, application = await submitted_application(http, settings)
    me = applicant(settings, "org-shed")
    url = f"/v1/applications/{application['id']}"

    unknown_field = await http.post(f"{url}/withdraw", json={"reason": "x", "extra": 1}, headers=me)
    assert unknown_field.status_code == 422
    assert (await http.post(f"{url}/withdraw", json={}, headers=me)).status_code == 200
    again = await http.post(f"{url}/withdraw", json={}, headers=me)
    assert again.status_code == 409
    assert again.headers["content-type"] == "application/problem+json"

    a_draft = await draft(http, settings, programme["id"], "org-shed")
    not_submitted = await http.post(f"/v1/applications/{a_draft.json()['id']}/withdraw", json={}, headers=me)
    assert not_submitted.status_code == 409
    await bus.wait_for(ApplicationWithdrawn.type)
    assert len(bus.of_type(ApplicationWithdrawn.type)) == 1
    timeline = (await http.get(f"{url}/timeline", headers=me)).json()
    assert timeline["status"] == "withdrawn"
    assert timeline["entries"][-1]["kind"] == "withdrawn"


async def test_an_applicant_cannot_see_or_touch_another_organisations_application(service: Running) -> None:
    http, settings = service.http, service.settings
    programme, theirs = await submitted_application(http, settings, "org-shed")
    await register(http, settings, "org-choir")
    mine = (await draft(http, settings, programme["id"], "org-choir")).json()
    me = applicant(settings, "org-choir", subject="person-bo")
    url = f"/v1/applications/{theirs['id']}"

    assert (await http.get(url, headers=me)).status_code == 404
    assert (await http.get(f"{url}/timeline", headers=me)).status_code == 404
    assert (await http.patch(url, json={"title": "x"}, headers={**me, "If-Match": '"1"'})).status_code == 404
    assert (await http.post(f"{url}/withdraw", json={}, headers=me)).status_code == 404
    assert (await http.get("/v1/organisations/org-shed", headers=me)).status_code == 404

    listed = (await http.get("/v1/applications", headers=me)).json()["items"]
    assert [a["id"] for a in listed] == [mine["id"]]
    other = await http.get("/v1/applications", params={"organisation_id": "org-shed"}, headers=me)
    assert other.json()["items"] == []

    forged = await draft(http, settings, programme["id"], "org-shed")  # the helper signs as org-shed
    assert forged.status_code == 201
    not_mine = await http.post("/v1/applications", headers=me, json={
        "programme_id": programme["id"], "organisation_id": "org-shed", "title": "t", "amount_requested": gbp(1),
    })  # fmt: skip
    assert not_mine.status_code == 403
    assert (await http.put("/v1/organisations/org-shed", json=organisation_body(), headers=me)).status_code == 403

    everyone = (await http.get("/v1/applications", headers=manager(settings))).json()["items"]
    assert len(everyone) == 3
    by_status = await http.get("/v1/applications", params={"status": "submitted", "programme_id": programme["id"]},
                               headers=manager(settings))  # fmt: skip
    assert [a["id"] for a in by_status.json()["items"]] == [theirs["id"]]
    assert (await http.get(url, headers=manager(settings))).status_code == 200
    assert (await http.get("/v1/organisations/org-shed", headers=manager(settings))).status_code == 200


@pytest.mark.parametrize("role", ["reviewer", "finance_officer"])
async def test_reviewers_and_finance_do_not_read_applications_here(service: Running, role: str) -> None:
    http, settings = service.http, service.settings
    _, application = await submitted_application(http, settings)
    someone = bearer(settings, "someone", role)
    assert (await http.get(f"/v1/applications/{application['id']}", headers=someone)).status_code == 403
    assert (await http.get("/v1/applications", headers=someone)).status_code == 403


async def test_no_token_is_401_everywhere(service: Running) -> None:
    for method, path in [
        ("GET", "/v1/applications"), ("POST", "/v1/applications"), ("GET", "/v1/applications/app-1"),
        ("POST", "/v1/applications/app-1/submit"), ("GET", "/v1/applications/app-1/timeline"),
        ("PUT", "/v1/organisations/org-1"), ("GET", "/v1/organisations/org-1"),
    ]:  # fmt: skip
        answer = await service.http.request(method, path)
        assert answer.status_code == 401, (method, path)
    expired = {"Authorization": "Bearer not.a.token"}
    assert (await service.http.get("/v1/applications", headers=expired)).status_code == 401


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"summary": "x" * 10_001}, "at most 10000 characters"),
        ({"title": ""}, "at least 1 character"),
        ({"amount_requested": {"amount": -5, "currency": "GBP"}}, "greater than or equal to 0"),
        ({"amount_requested": {"amount": 100, "currency": "pounds"}}, "pattern"),
        ({"contact": {"name": "Sam", "email": "not-an-email"}}, "email"),
        ({"programme_id": "has spaces"}, "pattern"),
        ({"unexpected": True}, "Extra inputs are not permitted"),
    ],
)
async def test_bad_applications_are_422_problems_and_nothing_is_written(
    service: Running, change: dict, words: str
) -> None:
    http, settings = service.http, service.settings
    programme = await open_programme(http, settings)
    await register(http, settings, "org-shed")
    fields = dict(change)
    answer = await draft(http, settings, fields.pop("programme_id", programme["id"]), "org-shed", **fields)
    assert answer.status_code == 422
    assert answer.headers["content-type"] == "application/problem+json"
    assert words in answer.text
    assert await service.db.applications.count_documents({}) == 0


async def test_bad_organisation_profiles_are_422(service: Running) -> None:
    me = applicant(service.settings, "org-shed")
    for change in ({"kind": "company"}, {"annual_income": {"amount": 1}}, {"name": "x" * 201}, {"area": ""}):
        answer = await service.http.put("/v1/organisations/org-shed", json=organisation_body(**change), headers=me)
        assert answer.status_code == 422, change
        assert answer.headers["content-type"] == "application/problem+json"
    assert await service.db.organisations.count_documents({}) == 0


async def test_drafting_needs_a_profile_an_open_programme_and_a_contact(service: Running) -> None:
    http, settings = service.http, service.settings
    programme = await open_programme(http, settings)
    no_profile = await draft(http, settings, programme["id"], "org-shed")
    assert no_profile.status_code == 409
    assert "PUT /v1/organisations/org-shed" in no_profile.json()["detail"]

    await register(http, settings, "org-shed")
    assert (await draft(http, settings, "prg-unknown", "org-shed")).status_code == 404
    hidden = (await http.post("/v1/programmes", json=programme_body(), headers=manager(settings))).json()
    assert (await draft(http, settings, hidden["id"], "org-shed")).status_code == 404, "drafts are not visible"

    await http.post(f"/v1/programmes/{programme['id']}/close", headers=manager(settings))
    assert (await draft(http, settings, programme["id"], "org-shed")).status_code == 409

    other = await open_programme(http, settings)
    anonymous = bearer(settings, "person-x", "applicant", organisations=("org-shed",))
    no_contact = await http.post("/v1/applications", headers=anonymous, json={
        "programme_id": other["id"], "organisation_id": "org-shed", "title": "t", "amount_requested": gbp(1),
    })  # fmt: skip
    assert no_contact.status_code == 422
    assert "contact" in no_contact.json()["detail"]
    assert await service.db.applications.count_documents({}) == 0


async def test_a_draft_can_be_deleted_but_a_submitted_application_cannot(service: Running) -> None:
    http, settings = service.http, service.settings
    programme, submitted = await submitted_application(http, settings)
    me = applicant(settings, "org-shed")
    a_draft = (await draft(http, settings, programme["id"], "org-shed")).json()

    stale = await http.delete(f"/v1/applications/{a_draft['id']}", headers={**me, "If-Match": '"7"'})
    assert stale.status_code == 412
    assert (await http.delete(f"/v1/applications/{a_draft['id']}", headers=me)).status_code == 204
    assert (await http.get(f"/v1/applications/{a_draft['id']}", headers=me)).status_code == 404
    assert (await http.delete(f"/v1/applications/{submitted['id']}", headers=me)).status_code == 409
    assert await service.db.applications.count_documents({}) == 1
