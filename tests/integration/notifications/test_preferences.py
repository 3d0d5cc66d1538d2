"""People's choices against the real broker, database and an SMTP sink: reading and changing them
(everyone their own only; the messages that must always go cannot be turned off), messages not
emailed or not shown as chosen, the daily digest (one email per person per day, however often the
worker runs) and one-click unsubscribe from the email's own List-Unsubscribe link, with no sign-in."""

import asyncio
from datetime import timedelta

import httpx

from grants_shared.clock import utcnow
from notifications.config import Settings
from notifications.main import build_app
from notifications.workers import gather_digests
from tests.integration.notifications.builders import (
    applicant,
    decided_awarded,
    inbox,
    review_assigned,
    reviewer,
    submitted,
    wait_for_inbox,
)
from tests.integration.notifications.conftest import SmtpSink
from tests.support.app import bearer, runtime_of, serve
from tests.support.bus import TestBus

PROBLEM = "application/problem+json"
PATH = "/v1/me/preferences"


async def choose(client: httpx.AsyncClient, headers: dict[str, str], body: dict, etag: str | None = None) -> httpx.Response:
    return await client.put(PATH, headers={**headers, **({"If-Match": etag} if etag else {})}, json=body)


async def test_a_person_reads_and_changes_their_own_choices_and_cannot_turn_off_what_must_go(
    service_settings: Settings, bus: TestBus
) -> None:
    async with serve(build_app(service_settings)) as client:
        sam = applicant(service_settings)
        first = await client.get(PATH, headers=sam)
        assert first.status_code == 200 and first.headers["etag"] == '"0"'
        body = first.json()
        assert body["version"] == 0 and body["digest"] is False and body["digest_available"] is False
        kinds = {k["kind"]: k for k in body["kinds"]}
        assert kinds["payment_failed"]["required"] and kinds["grant_offered"]["required"]
        assert kinds["application_awarded"]["required"] and kinds["application_declined"]["required"]
        assert not kinds["payment_sent"]["required"] and kinds["payment_sent"]["email"] and kinds["payment_sent"]["inbox"]
        assert "Always sent" in body["always_sent"]

        changed = await choose(client, sam, {"email_off": ["payment_sent"], "inbox_off": ["application_received"]})
        assert changed.status_code == 200, changed.text
        assert changed.headers["etag"] == '"1"'
        kinds = {k["kind"]: k for k in changed.json()["kinds"]}
        assert kinds["payment_sent"]["email"] is False and kinds["application_received"]["inbox"] is False

        for refused, why in (
            ({"email_off": ["payment_failed"]}, "cannot be turned off"),
            ({"inbox_off": ["grant_offered"]}, "cannot be turned off"),
            ({"email_off": ["nothing_such"]}, "cannot be turned off"),
            ({"digest": True}, "reviewers and programme managers"),
            ({"sms": True}, "Extra inputs"),
        ):
            response = await choose(client, sam, refused, '"1"')
            assert response.status_code == 422, refused
            assert response.headers["content-type"] == PROBLEM and why in response.text
        assert (await choose(client, sam, {})).status_code == 428
        assert (await choose(client, sam, {}, '"7"')).status_code == 412
        assert (await client.get(PATH, headers=sam)).json()["version"] == 1  # nothing refused was written

        # Somebody else's are their own; a reviewer may have the digest.
        ali = reviewer(service_settings)
        theirs = (await client.get(PATH, headers=ali)).json()
        assert theirs["version"] == 0 and theirs["digest_available"] is True
        assert (await choose(client, ali, {"digest": True})).json()["digest"] is True
        assert (await client.get(PATH, headers=sam)).json()["digest"] is False
        assert (await client.get(PATH)).status_code == 401


async def test_what_a_person_turned_off_is_not_emailed_or_not_shown_but_what_must_go_still_goes(
    service_settings: Settings, bus: TestBus, running_sink: SmtpSink
) -> None:
    async with serve(build_app(service_settings)) as client:
        sam = applicant(service_settings)
        await choose(client, sam, {"email_off": ["application_received"], "inbox_off": ["application_received"]})
        await bus.publish(submitted())
        await bus.publish(decided_awarded())  # must go: emailed and shown

        [award] = await running_sink.wait_for(1, address="sam@hope.example")
        assert "awarded" in award["Subject"].lower() or "grant" in award["Subject"].lower()
        assert award["List-Unsubscribe"] is None  # a decision cannot be turned off
        items = await wait_for_inbox(client, sam, 1)
        await asyncio.sleep(0.5)
        assert [i["kind"] for i in (await inbox(client, sam))["items"]] == ["application_awarded"]
        assert len(running_sink.messages) == 1
        db = runtime_of(client).db
        received = await db.notifications.find_one({"template": "application_received"})
        assert received is not None and received["in_inbox"] is False and received["email"] is None
        assert (await client.get(f"/v1/inbox/{received['_id']}", headers=sam)).status_code == 404
        assert items[0]["kind"] == "application_awarded"


async def test_a_reviewers_daily_digest_gathers_their_messages_into_one_email_once_a_day(
    service_settings: Settings, bus: TestBus, running_sink: SmtpSink
) -> None:
    app = build_app(service_settings.model_copy(update={"digest_sender_enabled": False}))
    async with serve(app) as client:
        ali = reviewer(service_settings)
        registered = await client.put("/v1/me/contact", headers=ali, json={"email": "ali@panel.example", "name": "Ali"})
        assert registered.status_code == 201
        assert (await choose(client, ali, {"digest": True})).status_code == 200
        await bus.publish(review_assigned("review-1"))
        await bus.publish(review_assigned("review-2", application_id="app-2"))
        items = await wait_for_inbox(client, ali, 2)  # shown at once, as ever
        assert all(i["email"] is None for i in items)
        await asyncio.sleep(0.5)
        assert running_sink.messages == []  # but not emailed one by one

        database = runtime_of(client).database
        assert await gather_digests(database, utcnow()) == 0  # today's digest was gathered before they came
        tomorrow = utcnow() + timedelta(days=1)
        assert await gather_digests(database, tomorrow) == 1
        [digest] = await running_sink.wait_for(1, address="ali@panel.example")
        text = digest.get_body(("plain",)).get_content()
        assert text.count("Walk and talk peer support") == 2 and "/reviews/review-1" in text and "/reviews/review-2" in text
        assert digest["List-Unsubscribe"].startswith("<http://localhost:8004/v1/unsubscribe/")
        assert digest["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"

        # Idempotent per person per day: the worker running again (or on another replica) sends nothing more.
        assert await gather_digests(database, tomorrow + timedelta(minutes=5)) == 0
        await asyncio.sleep(0.5)
        assert len(running_sink.messages) == 1
        assert [i["kind"] for i in (await inbox(client, ali))["items"]] == ["review_assigned", "review_assigned"]

        # One click on the digest's own link, with no sign-in: the digest stops.
        link = digest["List-Unsubscribe"].strip("<>")
        path = link.removeprefix("http://localhost:8004")
        clicked = await client.post(path, content=b"List-Unsubscribe=One-Click",
                                    headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert clicked.status_code == 200, clicked.text
        assert clicked.json() == {"kind": "daily_digest", "email": False}
        assert (await client.get(PATH, headers=ali)).json()["digest"] is False


async def test_one_click_in_an_email_turns_off_that_kind_for_that_person_without_signing_in(
    service_settings: Settings, bus: TestBus, running_sink: SmtpSink
) -> None:
    async with serve(build_app(service_settings)) as client:
        ali = reviewer(service_settings)
        await client.put("/v1/me/contact", headers=ali, json={"email": "ali@panel.example", "name": "Ali"})
        await bus.publish(review_assigned("review-1"))
        [email] = await running_sink.wait_for(1, address="ali@panel.example")
        assert email["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        path = email["List-Unsubscribe"].strip("<>").removeprefix("http://localhost:8004")

        clicked = await client.post(path, content=b"List-Unsubscribe=One-Click",
                                    headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert clicked.status_code == 200 and clicked.json() == {"kind": "review_assigned", "email": False}
        assert (await client.post(path)).json() == clicked.json()  # twice: nothing more
        kinds = {k["kind"]: k for k in (await client.get(PATH, headers=ali)).json()["kinds"]}
        assert kinds["review_assigned"]["email"] is False and kinds["review_assigned"]["inbox"] is True
        other = bearer(service_settings, "reviewer-2", "reviewer")
        assert (await client.get(PATH, headers=other)).json()["version"] == 0  # nobody else's changed

        await bus.publish(review_assigned("review-2"))
        await wait_for_inbox(client, ali, 2)
        await asyncio.sleep(0.5)
        assert len(running_sink.messages) == 1  # still told in the portal, no longer emailed

        for bad in (path[:-4] + "AAAA", "/v1/unsubscribe/" + "x" * 40):
            refused = await client.post(bad)
            assert refused.status_code == 400 and refused.headers["content-type"] == PROBLEM
