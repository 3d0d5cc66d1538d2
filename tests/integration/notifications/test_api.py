"""The HTTP API: each person sees only their own inbox; contact addresses are validated and versioned;
the delivery audit is for admins."""

from grants_shared.events import NotificationDelivered
from notifications.config import Settings
from notifications.domain import Template, notification_id
from notifications.main import build_app
from tests.integration.notifications.builders import admin, applicant, inbox, reviewer, submitted, wait_for_inbox
from tests.integration.notifications.conftest import SmtpSink
from tests.support.app import bearer, serve
from tests.support.bus import TestBus

PROBLEM = "application/problem+json"


async def test_a_person_cannot_read_or_mark_anothers_notifications(
    service_settings: Settings, bus: TestBus, running_sink: SmtpSink
) -> None:
    async with serve(build_app(service_settings)) as client:
        event = await bus.publish(submitted(person_id="person-1"))
        nid = notification_id(event.data.application_id, "person-1", Template.APPLICATION_RECEIVED)
        owner = applicant(service_settings, "person-1")
        await wait_for_inbox(client, owner, 1)

        stranger = applicant(service_settings, "person-2")  # same organisation, different person
        for response in (
            await client.get(f"/v1/inbox/{nid}", headers=stranger),
            await client.post(f"/v1/inbox/{nid}/read", headers=stranger),
            await client.get("/v1/inbox/ntf_does-not-exist", headers=owner),
        ):
            assert response.status_code == 404
            assert response.headers["content-type"] == PROBLEM
        assert (await inbox(client, stranger)) == {"items": [], "limit": 20, "offset": 0, "total": 0, "unread_count": 0}
        unread = (await client.get(f"/v1/inbox/{nid}", headers=owner)).json()
        assert unread["read_at"] is None  # the stranger's attempt changed nothing


async def test_marking_read_is_idempotent_and_the_unread_filter_follows_it(
    service_settings: Settings, bus: TestBus, running_sink: SmtpSink
) -> None:
    async with serve(build_app(service_settings)) as client:
        first = await bus.publish(submitted(application_id="app-1"))
        await bus.publish(submitted(application_id="app-2"))
        owner = applicant(service_settings)
        await wait_for_inbox(client, owner, 2)
        assert (await inbox(client, owner))["unread_count"] == 2

        nid = notification_id(first.data.application_id, "person-1", Template.APPLICATION_RECEIVED)
        marked = await client.post(f"/v1/inbox/{nid}/read", headers=owner)
        assert marked.status_code == 200 and marked.json()["read_at"]
        again = await client.post(f"/v1/inbox/{nid}/read", headers=owner)
        assert again.json()["read_at"] == marked.json()["read_at"]  # the first reading is kept

        page = await inbox(client, owner, unread="true")
        assert page["unread_count"] == 1 and [i["application_id"] for i in page["items"]] == ["app-2"]
        assert len((await inbox(client, owner, limit=1))["items"]) == 1
        too_many = await client.get("/v1/inbox", headers=owner, params={"limit": 1000})
        assert too_many.status_code == 422


async def test_no_token_is_401_and_a_bad_token_is_401(service_settings: Settings, bus: TestBus) -> None:
    async with serve(build_app(service_settings)) as client:
        for method, path in (("GET", "/v1/inbox"), ("GET", "/v1/inbox/ntf_x"), ("POST", "/v1/inbox/ntf_x/read"),
                             ("GET", "/v1/me/contact"), ("PUT", "/v1/me/contact"), ("GET", "/v1/deliveries")):
            response = await client.request(method, path, json={"email": "a@b.example", "name": "A"})
            assert response.status_code == 401, (method, path)
            assert response.headers["content-type"] == PROBLEM
        forged = {"Authorization": "Bearer not-a-token"}
        assert (await client.get("/v1/inbox", headers=forged)).status_code == 401


async def test_the_delivery_audit_is_for_admins_only(service_settings: Settings, bus: TestBus) -> None:
    async with serve(build_app(service_settings)) as client:
        for headers in (applicant(service_settings), reviewer(service_settings),
                        bearer(service_settings, "fo-1", "finance_officer")):
            response = await client.get("/v1/deliveries", headers=headers)
            assert response.status_code == 403
            assert response.headers["content-type"] == PROBLEM
        empty = {"items": [], "limit": 50, "offset": 0, "total": 0}
        assert (await client.get("/v1/deliveries", headers=admin(service_settings))).json() == empty


async def test_the_delivery_audit_filters_by_any_subject_an_identity_provider_issues(
    service_settings: Settings, bus: TestBus, running_sink: SmtpSink
) -> None:
    async with serve(build_app(service_settings)) as client:
        for person in ("maya@example.org", "auth0|5f7c+x"):
            await bus.publish(submitted(application_id=f"app-{len(person)}", person_id=person))
            await wait_for_inbox(client, applicant(service_settings, person), 1)
            response = await client.get("/v1/deliveries", headers=admin(service_settings),
                                        params={"recipient_id": person, "channel": "inbox"})
            assert response.status_code == 200, response.text
            assert [r["recipient_id"] for r in response.json()["items"]] == [person]
        for odd in ("a b", "x" * 129, "", "$where"):
            response = await client.get("/v1/deliveries", headers=admin(service_settings), params={"recipient_id": odd})
            assert response.status_code == 422, odd
            assert response.headers["content-type"] == PROBLEM


async def test_a_contact_address_is_validated(service_settings: Settings, bus: TestBus) -> None:
    async with serve(build_app(service_settings)) as client:
        me = reviewer(service_settings)
        for body in (
            {"email": "not-an-address", "name": "Ali"},
            {"email": "ali@panel.example", "name": ""},
            {"email": "ali@panel.example", "name": "x" * 201},
            {"email": "ali@panel.example", "name": "Ali", "role": "admin"},
            {"name": "Ali"},
        ):
            response = await client.put("/v1/me/contact", headers=me, json=body)
            assert response.status_code == 422, body
            assert response.headers["content-type"] == PROBLEM
            assert response.json()["status"] == 422
        # nothing half-written
        assert (await client.get("/v1/me/contact", headers=me)).status_code == 404


async def test_a_contact_address_is_changed_with_the_etag_last_read(service_settings: Settings, bus: TestBus) -> None:
    async with serve(build_app(service_settings)) as client:
        me = reviewer(service_settings)
        created = await client.put("/v1/me/contact", headers=me, json={"email": "Ali@Panel.example", "name": " Ali "})
        assert created.status_code == 201
        assert created.headers["etag"] == '"1"'
        assert created.json()["name"] == "Ali" and created.json()["person_id"] == "reviewer-1"

        read = await client.get("/v1/me/contact", headers=me)
        assert read.status_code == 200 and read.headers["etag"] == '"1"'
        new = {"email": "ali.khan@panel.example", "name": "Ali Khan"}
        assert (await client.put("/v1/me/contact", headers=me, json=new)).status_code == 428
        stale = await client.put("/v1/me/contact", headers={**me, "If-Match": '"7"'}, json=new)
        assert stale.status_code == 412 and stale.headers["content-type"] == PROBLEM
        changed = await client.put("/v1/me/contact", headers={**me, "If-Match": read.headers["etag"]}, json=new)
        assert changed.status_code == 200 and changed.headers["etag"] == '"2"'
        assert changed.json()["email"] == "ali.khan@panel.example"
        replayed = await client.put("/v1/me/contact", headers={**me, "If-Match": '"1"'}, json=new)
        assert replayed.status_code == 412
        # An If-Match this service never issued is a failed precondition too, even past MongoDB's 64 bits.
        for odd in ('"99999999999999999999999"', '"9223372036854775808"', "garbage", '"2.0"'):
            refused = await client.put("/v1/me/contact", headers={**me, "If-Match": odd}, json={**new, "name": "X"})
            assert refused.status_code == 412, odd
            assert refused.headers["content-type"] == PROBLEM
        # "*" names no version: editing needs the ETag actually read.
        star = await client.put("/v1/me/contact", headers={**me, "If-Match": "*"}, json={**new, "name": "X"})
        assert star.status_code == 428
        assert (await client.get("/v1/me/contact", headers=me)).json()["name"] == "Ali Khan"

        # each person has their own
        other = reviewer(service_settings, "reviewer-2")
        assert (await client.get("/v1/me/contact", headers=other)).status_code == 404


async def test_an_applicants_own_address_takes_over_from_the_application_contact(
    service_settings: Settings, bus: TestBus, running_sink: SmtpSink
) -> None:
    async with serve(build_app(service_settings)) as client:
        owner = applicant(service_settings)
        registered = await client.put("/v1/me/contact", headers=owner,
                                      json={"email": "sam.personal@mail.example", "name": "Sam O"})
        assert registered.status_code == 201
        event = await bus.publish(submitted(email="office@hope.example"))
        nid = notification_id(event.data.application_id, "person-1", Template.APPLICATION_RECEIVED)
        await bus.wait_for(NotificationDelivered.type, channel="email", notification_id=nid)
        [email] = await running_sink.wait_for(1)
        assert running_sink.recipients == [["sam.personal@mail.example"]]
        assert email["To"] == "Sam O <sam.personal@mail.example>"


async def test_the_inbox_and_the_audit_page_with_a_total_and_an_offset(
    service_settings: Settings, bus: TestBus, running_sink: SmtpSink
) -> None:
    async with serve(build_app(service_settings)) as client:
        owner = applicant(service_settings)
        for n in range(3):
            await bus.publish(submitted(application_id=f"app-{n}"))
        await wait_for_inbox(client, owner, 3)
        newest_first = [i["id"] for i in (await inbox(client, owner))["items"]]

        first = await inbox(client, owner, limit=2)
        assert [i["id"] for i in first["items"]] == newest_first[:2]
        assert (first["limit"], first["offset"], first["total"], first["unread_count"]) == (2, 0, 3, 3)
        rest = await inbox(client, owner, limit=2, offset=2)
        assert [i["id"] for i in rest["items"]] == newest_first[2:] and rest["total"] == 3

        audit = await client.get("/v1/deliveries", headers=admin(service_settings),
                                 params={"channel": "inbox", "limit": 1, "offset": 1})
        assert audit.status_code == 200, audit.text
        assert audit.json()["total"] == 3 and len(audit.json()["items"]) == 1
        for path, headers in (("/v1/inbox", owner), ("/v1/deliveries", admin(service_settings))):
            too_far = await client.get(path, headers=headers, params={"offset": 10_001})
            assert too_far.status_code == 422 and too_far.headers["content-type"] == PROBLEM


async def test_a_path_takes_any_id_the_platform_issues_and_nothing_else(
    service_settings: Settings, bus: TestBus
) -> None:
    async with serve(build_app(service_settings)) as client:
        owner, operator = applicant(service_settings), admin(service_settings)
        for odd in ("maya@example.org", "auth0|5f7c+x"):
            assert (await client.get(f"/v1/inbox/{odd}", headers=owner)).status_code == 404
            assert (await client.get(f"/v1/webhooks/{odd}", headers=operator)).status_code == 404
        for bad in ("a b", "x" * 129, "$where"):
            for path, headers in ((f"/v1/inbox/{bad}", owner), (f"/v1/webhooks/{bad}", operator)):
                response = await client.get(path, headers=headers)
                assert response.status_code == 422, path
                assert response.headers["content-type"] == PROBLEM
