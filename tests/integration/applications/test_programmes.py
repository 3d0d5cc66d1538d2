"""Programmes over HTTP, against the real broker and database: create, edit, open, close, who may."""

from datetime import UTC, datetime, timedelta

import pytest

from applications.main import build_app
from grants_shared.events import ProgrammeClosed, ProgrammeOpened
from tests.support.waiting import eventually
from tests.integration.applications.conftest import Running
from tests.integration.applications.support import (
    applicant,
    at,
    gbp,
    manager,
    open_programme,
    programme_body,
)
from tests.support.app import bearer, serve
from tests.support.bus import TestBus


async def test_a_manager_creates_and_opens_a_programme_and_it_is_announced(service: Running, bus: TestBus) -> None:
    http, settings = service.http, service.settings
    body = programme_body()
    created = await http.post("/v1/programmes", json=body, headers=manager(settings))
    assert created.status_code == 201, created.text
    programme = created.json()
    assert programme["status"] == "draft" and programme["version"] == 1
    assert created.headers["etag"] == '"1"'
    assert created.headers["location"] == f"/v1/programmes/{programme['id']}"

    opened = await http.post(f"/v1/programmes/{programme['id']}/open", headers=manager(settings))
    assert opened.status_code == 200, opened.text
    assert opened.json()["status"] == "open"
    assert opened.headers["etag"] == '"2"'

    [event] = await bus.wait_for(ProgrammeOpened.type, programme_id=programme["id"])
    data: ProgrammeOpened = event.data  # type: ignore[assignment]
    assert event.source == "/grants/applications" and event.subject == programme["id"]
    assert data.name == body["name"]
    assert data.budget.model_dump() == gbp(200_000)
    assert data.maximum_award.model_dump() == gbp(10_000)
    assert data.opens_at == datetime.fromisoformat(body["opens_at"])
    assert data.closes_at == datetime.fromisoformat(body["closes_at"])
    # scoring guidance is optional: criteria defined without it carry none
    assert [c.model_dump() for c in data.criteria] == [{**c, "guidance": []} for c in body["criteria"]]
    assert data.reviewers_per_application == 2
    assert data.panel == ["rev-ada", "rev-ben", "rev-cat"]
    assert data.payment_policy.kind == "tranches"
    assert [t.share_bps for t in data.payment_policy.tranches] == [5_000, 5_000]

    read = await http.get(f"/v1/programmes/{programme['id']}", headers=applicant(settings, "org-x"))
    assert read.status_code == 200 and read.json()["status"] == "open"
    assert read.headers["etag"] == '"2"'
    assert read.json()["panel"] is None, "applicants are not told who sits on the panel"


@pytest.mark.parametrize("role", ["applicant", "reviewer", "finance_officer"])
async def test_only_managers_and_admins_create_programmes(service: Running, role: str) -> None:
    answer = await service.http.post("/v1/programmes", json=programme_body(),
                                     headers=bearer(service.settings, "someone", role))  # fmt: skip
    assert answer.status_code == 403
    assert answer.headers["content-type"] == "application/problem+json"
    assert await service.db.programmes.count_documents({}) == 0
    admin = await service.http.post("/v1/programmes", json=programme_body(),
                                    headers=bearer(service.settings, "root", "admin"))  # fmt: skip
    assert admin.status_code == 201


async def test_no_token_is_401(service: Running) -> None:
    # Reading the open programmes is public (test_anyone_reads_the_open_programmes_without_signing_in).
    for method, path in [("POST", "/v1/programmes"), ("PATCH", "/v1/programmes/prg-1"), ("GET", "/v1/applications"),
                         ("GET", "/v1/programmes/prg-1/360giving")]:
        answer = await service.http.request(method, path, json=programme_body() if method == "POST" else None)
        assert answer.status_code == 401, (method, path)
        assert answer.headers["content-type"] == "application/problem+json"
        assert answer.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"maximum_award": gbp(300_000)}, "maximum award cannot be more than the budget"),
        ({"maximum_award": {"amount": 100, "currency": "EUR"}}, "budget's currency"),
        ({"closes_at": at(datetime.now(UTC) - timedelta(days=2))}, "closes_at must be later than opens_at"),
        ({"criteria": [{"key": "need", "title": "A", "weight": 1}, {"key": "need", "title": "B", "weight": 1}]},
         "criterion keys must be unique"),
        ({"criteria": []}, "at least 1 item"),
        ({"panel": ["rev-ada"]}, "the panel needs at least 2 reviewers"),
        ({"panel": ["rev-ada", "rev-ada", "rev-ben"]}, "only once"),
        ({"reviewers_per_application": 11}, "less than or equal to 10"),
        ({"budget": {"amount": 10.5, "currency": "GBP"}}, "valid integer"),
        ({"opens_at": "2027-03-01T09:00:00"}, "timezone"),
        ({"opens_at": "0001-01-01T00:00:00+05:00"}, "out of range once converted to UTC"),
        ({"closes_at": "9999-12-31T23:00:00-05:00"}, "out of range once converted to UTC"),
        ({"secret_field": 1}, "Extra inputs are not permitted"),
        ({"payment_policy": {"kind": "tranches", "tranches": [{"share_bps": 10_000, "due_after_days": 0}]}},
         "at least two parts"),
    ],
)  # fmt: skip
async def test_bad_programmes_are_422_problems_and_nothing_is_written(
    service: Running, change: dict, words: str
) -> None:
    answer = await service.http.post("/v1/programmes", json=programme_body(**change), headers=manager(service.settings))
    assert answer.status_code == 422
    assert answer.headers["content-type"] == "application/problem+json"
    assert words in answer.text
    assert await service.db.programmes.count_documents({}) == 0
    assert await service.db.outbox.count_documents({}) == 0


async def test_a_draft_is_edited_with_if_match_and_a_stale_etag_is_refused(service: Running) -> None:
    http, settings = service.http, service.settings
    created = (await http.post("/v1/programmes", json=programme_body(), headers=manager(settings))).json()
    url = f"/v1/programmes/{created['id']}"

    missing = await http.patch(url, json={"name": "Renamed"}, headers=manager(settings))
    assert missing.status_code == 428

    edited = await http.patch(url, json={"name": "Renamed", "maximum_award": gbp(5_000)},
                              headers={**manager(settings), "If-Match": '"1"'})  # fmt: skip
    assert edited.status_code == 200, edited.text
    assert edited.json()["name"] == "Renamed" and edited.json()["maximum_award"] == gbp(5_000)
    assert edited.headers["etag"] == '"2"'
    assert edited.json()["criteria"] == created["criteria"], "fields not sent are kept"

    stale = await http.patch(url, json={"name": "Lost update"}, headers={**manager(settings), "If-Match": '"1"'})
    assert stale.status_code == 412
    assert stale.headers["content-type"] == "application/problem+json"

    invalid = await http.patch(url, json={"maximum_award": gbp(900_000)},
                               headers={**manager(settings), "If-Match": '"2"'})  # fmt: skip
    assert invalid.status_code == 422
    assert "maximum award cannot be more than the budget" in invalid.text

    stored = await service.db.programmes.find_one({"_id": created["id"]})
    assert stored["name"] == "Renamed" and stored["version"] == 2 and stored["maximum_award"] == gbp(5_000)

    await http.post(f"{url}/open", headers=manager(settings))
    after_open = await http.patch(url, json={"name": "Too late"}, headers={**manager(settings), "If-Match": '"3"'})
    assert after_open.status_code == 409


async def test_invalid_transitions_are_409_and_closing_is_announced(service: Running, bus: TestBus) -> None:
    http, settings = service.http, service.settings
    created = (await http.post("/v1/programmes", json=programme_body(), headers=manager(settings))).json()
    url = f"/v1/programmes/{created['id']}"

    assert (await http.post(f"{url}/close", headers=manager(settings))).status_code == 409
    assert (await http.post(f"{url}/open", headers={**manager(settings), "If-Match": '"9"'})).status_code == 412
    assert (await http.post(f"{url}/open", headers=manager(settings))).status_code == 200
    assert (await http.post(f"{url}/open", headers=manager(settings))).status_code == 409
    closed = await http.post(f"{url}/close", headers=manager(settings))
    assert closed.status_code == 200 and closed.json()["status"] == "closed"
    assert (await http.post(f"{url}/close", headers=manager(settings))).status_code == 409
    assert (await http.post(f"{url}/open", headers=manager(settings))).status_code == 409

    await bus.wait_for(ProgrammeClosed.type, programme_id=created["id"])
    assert len(bus.of_type(ProgrammeOpened.type)) == 1
    assert await service.db.outbox.count_documents({}) == 2
    assert (await http.post("/v1/programmes/prg-nope/open", headers=manager(settings))).status_code == 404


async def test_a_programme_whose_closing_time_passed_cannot_be_opened(service: Running) -> None:
    now = datetime.now(UTC)
    body = programme_body(opens_at=at(now - timedelta(days=20)), closes_at=at(now - timedelta(days=1)))
    created = (await service.http.post("/v1/programmes", json=body, headers=manager(service.settings))).json()
    answer = await service.http.post(f"/v1/programmes/{created['id']}/open", headers=manager(service.settings))
    assert answer.status_code == 409
    assert "closing time has passed" in answer.json()["detail"]


async def test_drafts_are_visible_to_managers_only(service: Running) -> None:
    http, settings = service.http, service.settings
    body = programme_body(name="Draft round")
    draft = (await http.post("/v1/programmes", json=body, headers=manager(settings))).json()
    live = await open_programme(http, settings, name="Live round")

    as_manager = (await http.get("/v1/programmes", headers=manager(settings))).json()
    assert {p["id"] for p in as_manager["items"]} == {draft["id"], live["id"]}
    assert as_manager["total"] == 2
    # The panel is applications' only while the programme is a draft; once open it is scoring's (which
    # may change it), so applications no longer shows a copy that could be stale.
    panels = {p["id"]: p["panel"] for p in as_manager["items"]}
    assert panels == {draft["id"]: body["panel"], live["id"]: None}

    reviewer = bearer(settings, "rev-ada", "reviewer")
    as_reviewer = (await http.get("/v1/programmes", headers=reviewer)).json()
    assert [p["id"] for p in as_reviewer["items"]] == [live["id"]]
    assert (await http.get("/v1/programmes", params={"status": "draft"}, headers=reviewer)).json()["items"] == []
    assert (await http.get(f"/v1/programmes/{draft['id']}", headers=reviewer)).status_code == 404

    page = await http.get("/v1/programmes", params={"limit": 1}, headers=manager(settings))
    assert len(page.json()["items"]) == 1 and page.json()["total"] == 2
    assert (await http.get("/v1/programmes", params={"limit": 1000}, headers=manager(settings))).status_code == 422


async def test_the_closer_closes_programmes_past_their_closing_time(app_settings, bus: TestBus) -> None:
    quick = app_settings.model_copy(update={"programme_closer_interval_seconds": 0.2})
    app = build_app(quick)
    async with serve(app) as http:
        now = datetime.now(UTC)
        programme = await open_programme(http, quick, closes_at=(now + timedelta(seconds=1.5)).isoformat())
        lasting = await open_programme(http, quick)
        [event] = await bus.wait_for(ProgrammeClosed.type, programme_id=programme["id"], timeout=10)
        assert event.subject == programme["id"]

        async def closed() -> bool:
            read = await http.get(f"/v1/programmes/{programme['id']}", headers=manager(quick))
            return read.json()["status"] == "closed"

        await eventually(closed)
        still_open = await http.get(f"/v1/programmes/{lasting['id']}", headers=manager(quick))
        assert still_open.json()["status"] == "open"
        assert [e.data.programme_id for e in bus.of_type(ProgrammeClosed.type)] == [programme["id"]]


async def test_anyone_reads_the_open_programmes_without_signing_in(service: Running) -> None:
    http, settings = service.http, service.settings
    draft = (await http.post("/v1/programmes", json=programme_body(name="Not yet"), headers=manager(settings))).json()
    live = await open_programme(http, settings, name="Open to all")

    listed = await http.get("/v1/programmes")
    assert listed.status_code == 200
    assert [p["id"] for p in listed.json()["items"]] == [live["id"]] and listed.json()["total"] == 1
    assert listed.json()["items"][0]["panel"] is None
    assert (await http.get(f"/v1/programmes/{live['id']}")).status_code == 200
    assert (await http.get(f"/v1/programmes/{draft['id']}")).status_code == 404
    assert (await http.get("/v1/programmes", params={"status": "draft"})).json()["items"] == []
    # A token that is sent is still checked.
    assert (await http.get("/v1/programmes", headers={"Authorization": "Bearer nonsense"})).status_code == 401
