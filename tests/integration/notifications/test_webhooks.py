"""Standard Webhooks for integrators, against the real broker and database and a real HTTP endpoint on
127.0.0.1 (allowed by the test settings' allow-list): subscriptions (admins only, secret shown once
and stored encrypted), one signed POST per event without personal data (verified with the official
``standardwebhooks`` library), retries under the same webhook-id, deduplication, rotation and
deactivation. Resending, replaying, disabling and reactivating, and the public-address rule:
test_webhook_recovery.py."""

import asyncio
import json
from datetime import timedelta
from typing import Any

import httpx
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from grants_shared.clock import utcnow
from grants_shared.dev.infra import free_port
from grants_shared.events import ApplicationScored, ApplicationSubmitted, NotificationDelivered
from grants_shared.service import Runtime
from notifications.config import Settings
from notifications.crypto import cipher_for
from notifications.domain import webhook_delivery_id
from notifications.commands import tell_integrators
from notifications.main import build_app
from tests.integration.notifications.builders import (
    admin,
    applicant,
    decided_awarded,
    reviewer,
    submitted,
    wait_for_inbox,
)
from tests.integration.notifications.conftest import Received, WebhookReceiver
from tests.support.app import bearer, runtime_of, serve
from tests.support.bus import TestBus
from tests.support.waiting import eventually

DELIVERED = NotificationDelivered.type
SUBMITTED = ApplicationSubmitted.type
SCORED = ApplicationScored.type
PROBLEM = "application/problem+json"
CLOUDEVENT_KEYS = {"specversion", "id", "type", "source", "time", "subject", "datacontenttype", "data"}


def scored(application_id: str = "app-1") -> ApplicationScored:
    return ApplicationScored(
        application_id=application_id, programme_id="prog-1", weighted_score=3.75,
        criterion_means={"reach": 4.0, "lived_experience": 3.5}, reviewer_count=2, needs_moderation=False,
    )


async def subscribe(client: httpx.AsyncClient, settings: Settings, url: str, *event_types: str) -> dict[str, Any]:
    response = await client.post("/v1/webhooks", headers=admin(settings), json={
        "url": url, "event_types": list(event_types), "description": "Hope Street CRM",
    })
    assert response.status_code == 201, response.text
    return response.json()


def signed_with(secret: str, request: Received) -> bool:
    """What an integrator does with the request as it arrived: the official library, raw body and headers."""
    try:
        Webhook(secret).verify(request.body, request.headers)
    except WebhookVerificationError:
        return False
    return True


async def deliveries(client: httpx.AsyncClient, settings: Settings, subscription_id: str) -> list[dict[str, Any]]:
    response = await client.get(f"/v1/webhooks/{subscription_id}/deliveries", headers=admin(settings))
    assert response.status_code == 200, response.text
    return response.json()["items"]


async def settled(
    client: httpx.AsyncClient, settings: Settings, subscription_id: str, count: int, status: str
) -> list[dict[str, Any]]:
    async def check() -> list[dict[str, Any]]:
        items = await deliveries(client, settings, subscription_id)
        return items if len(items) == count and all(i["status"] == status for i in items) else []

    return await eventually(check, what=f"{count} deliveries {status}")


async def test_an_integrator_gets_one_signed_post_per_subscribed_event_without_personal_data(
    service_settings: Settings, bus: TestBus, receiver: WebhookReceiver
) -> None:
    async with serve(build_app(service_settings)) as client:
        created = await client.post("/v1/webhooks", headers=admin(service_settings), json={
            "url": receiver.url, "event_types": [SUBMITTED, SCORED], "description": "Hope Street CRM",
        })
        assert created.status_code == 201, created.text
        assert created.headers["cache-control"] == "no-store"
        subscription = created.json()
        assert created.headers["location"] == f"/v1/webhooks/{subscription['id']}"
        assert subscription["event_types"] == sorted([SUBMITTED, SCORED]) and subscription["active"] is True
        assert subscription["created_by"] == "admin-1" and subscription["version"] == 1
        secret = subscription["secret"]
        assert secret.startswith("whsec_") and len(secret) == len("whsec_") + 44  # 32 bytes in base64

        submission = await bus.publish(submitted())
        scoring = await bus.publish(scored())  # a type no person is told about: webhook only
        await bus.publish(decided_awarded())  # not subscribed to

        requests = await receiver.wait_for(2)
        webhook_told = await bus.wait_for(DELIVERED, 2, channel="webhook")
        await asyncio.sleep(0.5)  # room for anything unwanted (the decision) to arrive
        assert len(receiver.requests) == 2

        by_type = {json.loads(r.body)["type"]: r for r in requests}
        assert set(by_type) == {SUBMITTED, SCORED}
        for event in (submission, scoring):
            request = by_type[event.type]
            assert request.method == "POST" and request.path == "/hooks/grants"
            assert request.headers["content-type"] == "application/cloudevents+json"
            assert request.headers["webhook-id"] == webhook_delivery_id(event.id, subscription["id"])
            assert abs(int(request.headers["webhook-timestamp"]) - utcnow().timestamp()) < 30
            assert request.headers["webhook-signature"].startswith("v1,")
            assert "grants-signature" not in request.headers  # the home-made scheme is gone
            assert signed_with(secret, request)
            assert not signed_with("whsec_" + "A" * 43 + "=", request)
            body = json.loads(request.body)
            assert set(body) == CLOUDEVENT_KEYS
            assert body["specversion"] == "1.0" and body["datacontenttype"] == "application/json"
            assert (body["id"], body["source"], body["subject"]) == (event.id, "/grants/test", "app-1")
            assert body["time"] == event.time.isoformat()
            assert body["data"] == event.data.without_personal_data()

        submitted_body = by_type[SUBMITTED].body
        data = json.loads(submitted_body)["data"]
        assert "contact" not in data and "summary" not in data
        assert data["title"] == "Walk and talk peer support" and data["amount_requested"]["amount"] == 500_000
        for personal in (b"sam@hope.example", b"Sam Okafor", b"Weekly walks", b"person-1"):
            assert personal not in submitted_body

        assert {e.data.notification_id for e in webhook_told} == {
            webhook_delivery_id(submission.id, subscription["id"]), webhook_delivery_id(scoring.id, subscription["id"])
        }
        assert all(e.data.recipient_kind == "integrator" for e in webhook_told)

        items = await settled(client, service_settings, subscription["id"], 2, "delivered")
        for item in items:
            assert item["attempts"] == 1 and item["delivered_at"] and item["last_status_code"] == 200
            assert [(h["attempt"], h["outcome"], h["status_code"]) for h in item["history"]] == [(1, "delivered", 200)]
            assert "body" not in item
        audit = (await client.get("/v1/deliveries", headers=admin(service_settings),
                                  params={"channel": "webhook"})).json()["items"]
        assert len(audit) == 2
        assert all(r["recipient_kind"] == "integrator" and r["recipient_id"] == subscription["id"] for r in audit)
        assert all(r["template"] is None and r["outcome"] == "delivered" for r in audit)

        # People are still told as before, including about the event no integrator wanted.
        items = await wait_for_inbox(client, applicant(service_settings), 2)
        assert {i["kind"] for i in items} == {"application_received", "application_awarded"}


async def test_a_failed_attempt_is_retried_with_the_same_delivery_id_and_body_until_delivered(
    service_settings: Settings, bus: TestBus, receiver: WebhookReceiver
) -> None:
    receiver.answers = [500, 200]
    async with serve(build_app(service_settings)) as client:
        subscription = await subscribe(client, service_settings, receiver.url, SUBMITTED)
        event = await bus.publish(submitted())

        first, second = await receiver.wait_for(2)
        delivery_id = webhook_delivery_id(event.id, subscription["id"])
        assert first.headers["webhook-id"] == second.headers["webhook-id"] == delivery_id
        assert first.body == second.body
        assert signed_with(subscription["secret"], first) and signed_with(subscription["secret"], second)

        [item] = await settled(client, service_settings, subscription["id"], 1, "delivered")
        assert item["id"] == delivery_id and item["attempts"] == 2 and item["last_error"] is None
        assert [(h["outcome"], h["status_code"]) for h in item["history"]] == [("failed", 500), ("delivered", 200)]
        assert "HTTP 500" in item["history"][0]["error"]
        await bus.wait_for(DELIVERED, channel="webhook", notification_id=delivery_id)
        await asyncio.sleep(0.5)
        assert len(receiver.requests) == 2
        assert len([e for e in bus.of_type(DELIVERED) if e.data.channel == "webhook"]) == 1


async def test_refused_connections_and_timeouts_are_retried_until_the_attempts_run_out(
    service_settings: Settings, bus: TestBus, receiver: WebhookReceiver
) -> None:
    settings = service_settings.model_copy(update={"webhook_max_attempts": 2, "webhook_timeout": 0.3})
    receiver.delay = 1.0  # longer than the timeout
    async with serve(build_app(settings)) as client:
        nobody_listens = await subscribe(client, settings, f"http://127.0.0.1:{free_port()}/hook", SUBMITTED)
        too_slow = await subscribe(client, settings, receiver.url, SUBMITTED)
        await bus.publish(submitted())

        for subscription in (nobody_listens, too_slow):
            [item] = await settled(client, settings, subscription["id"], 1, "failed")
            assert item["attempts"] == 2 and item["last_error"]
            assert [h["outcome"] for h in item["history"]] == ["failed", "gave_up"]
            assert all(h["error"] and h["status_code"] is None for h in item["history"])
        [slow] = await deliveries(client, settings, too_slow["id"])
        assert "no answer within" in slow["last_error"]
        assert len(receiver.requests) == 2  # it did reach the slow endpoint, twice
        assert not [e for e in bus.of_type(DELIVERED) if e.data.channel == "webhook"]


async def test_a_duplicated_event_yields_one_delivery(
    service_settings: Settings, bus: TestBus, receiver: WebhookReceiver
) -> None:
    app = build_app(service_settings)
    async with serve(app) as client:
        subscription = await subscribe(client, service_settings, receiver.url, SUBMITTED)
        event = await bus.publish(submitted())
        await bus.publish_event(event)  # redelivered, or published twice by its sender
        await receiver.wait_for(1)
        await settled(client, service_settings, subscription["id"], 1, "delivered")

        # Past the consumer's inbox too: queuing the same event again adds nothing.
        runtime: Runtime = app.state.runtime
        await runtime.database.transact(lambda tx: tell_integrators(tx, event))
        await asyncio.sleep(0.6)
        assert len(receiver.requests) == 1
        assert await runtime.db.webhook_deliveries.count_documents({}) == 1


async def test_webhooks_are_for_admins_only_and_bad_input_writes_nothing(
    service_settings: Settings, bus: TestBus
) -> None:
    app = build_app(service_settings)
    async with serve(app) as client:
        good = {"url": "https://crm.example.org/hooks", "event_types": [SUBMITTED], "description": ""}
        endpoints = [("POST", "/v1/webhooks"), ("GET", "/v1/webhooks"), ("GET", "/v1/webhooks/event-types"),
                     ("GET", "/v1/webhooks/whs_x"), ("DELETE", "/v1/webhooks/whs_x"),
                     ("POST", "/v1/webhooks/whs_x/rotate-secret"), ("GET", "/v1/webhooks/whs_x/deliveries"),
                     ("POST", "/v1/webhooks/whs_x/reactivate"), ("POST", "/v1/webhooks/whs_x/deliveries/whd_x/resend")]
        for method, path in endpoints:
            response = await client.request(method, path, json=good if method == "POST" else None)
            assert response.status_code == 401, (method, path)
            assert response.headers["content-type"] == PROBLEM
            for headers in (applicant(service_settings), reviewer(service_settings),
                            bearer(service_settings, "pm-1", "programme_manager")):
                response = await client.request(method, path, headers=headers, json=good if method == "POST" else None)
                assert response.status_code == 403, (method, path)
                assert response.headers["content-type"] == PROBLEM

        bad_bodies = [
            {**good, "url": "ftp://crm.example.org/hooks"},
            {**good, "url": "not a url"},
            {**good, "url": "https://crm.example.org/" + "a" * 480},
            {**good, "url": "https://user:password@crm.example.org/hooks"},
            {**good, "event_types": ["grants.nothing.happened.v1"]},
            {**good, "event_types": [NotificationDelivered.type]},  # it would loop
            {**good, "event_types": []},
            {**good, "secret": "chosen-by-me"},
            {"url": "https://crm.example.org/hooks"},
        ]
        for body in bad_bodies:
            response = await client.post("/v1/webhooks", headers=admin(service_settings), json=body)
            assert response.status_code == 422, body
            assert response.headers["content-type"] == PROBLEM
        looping = await client.post("/v1/webhooks", headers=admin(service_settings),
                                    json={**good, "event_types": [NotificationDelivered.type]})
        assert "would loop" in looping.text

        assert await app.state.runtime.db.webhook_subscriptions.count_documents({}) == 0
        empty = {"items": [], "limit": 100, "offset": 0, "total": 0}
        assert (await client.get("/v1/webhooks", headers=admin(service_settings))).json() == empty
        for method, path in endpoints[3:]:
            response = await client.request(method, path, headers=admin(service_settings))
            assert response.status_code == 404, (method, path)
            assert response.headers["content-type"] == PROBLEM
        types = (await client.get("/v1/webhooks/event-types", headers=admin(service_settings))).json()["items"]
        assert SUBMITTED in types and SCORED in types and NotificationDelivered.type not in types


async def test_the_secret_is_shown_once_and_stored_only_encrypted(service_settings: Settings, bus: TestBus) -> None:
    app = build_app(service_settings)
    async with serve(app) as client:
        subscription = await subscribe(client, service_settings, "https://crm.example.org/hooks", SUBMITTED)
        secret = subscription["secret"]

        listed = await client.get("/v1/webhooks", headers=admin(service_settings))
        one = await client.get(f"/v1/webhooks/{subscription['id']}", headers=admin(service_settings))
        for response in (listed, one):
            assert response.status_code == 200
            assert secret not in response.text and '"secret"' not in response.text
        assert one.headers["etag"] == '"1"'
        assert [i["id"] for i in listed.json()["items"]] == [subscription["id"]]

        stored = await app.state.runtime.db.webhook_subscriptions.find_one({"_id": subscription["id"]})
        assert secret not in repr(stored)
        assert stored["secret"] != secret and cipher_for(service_settings).decrypt(stored["secret"]) == secret


async def test_rotating_the_secret_with_no_overlap_makes_the_old_one_fail_at_once(
    service_settings: Settings, bus: TestBus, receiver: WebhookReceiver
) -> None:
    async with serve(build_app(service_settings)) as client:
        subscription = await subscribe(client, service_settings, receiver.url, SUBMITTED)
        old = subscription["secret"]
        await bus.publish(submitted(application_id="app-1"))
        [before] = await receiver.wait_for(1)
        assert signed_with(old, before)

        path = f"/v1/webhooks/{subscription['id']}/rotate-secret"
        stale = await client.post(path, headers={**admin(service_settings), "If-Match": '"7"'})
        assert stale.status_code == 412 and stale.headers["content-type"] == PROBLEM
        rotated = await client.post(path, headers=admin(service_settings), json={"overlap_seconds": 0})
        assert rotated.status_code == 200, rotated.text
        assert rotated.json()["previous_secret_until"] is None
        assert rotated.headers["cache-control"] == "no-store" and rotated.headers["etag"] == '"2"'
        new = rotated.json()["secret"]
        assert new != old and rotated.json()["version"] == 2
        assert rotated.json()["secret_rotated_at"] > subscription["secret_rotated_at"]

        await bus.publish(submitted(application_id="app-2"))
        _, after = await receiver.wait_for(2)
        assert json.loads(after.body)["subject"] == "app-2"
        assert signed_with(new, after) and not signed_with(old, after)
        assert " " not in after.headers["webhook-signature"]  # one signature only


async def test_a_deactivated_subscription_gets_nothing_more_not_even_what_was_waiting(
    service_settings: Settings, bus: TestBus, receiver: WebhookReceiver
) -> None:
    quiet = service_settings.model_copy(update={"webhook_sender_enabled": False})
    quiet_app = build_app(quiet)
    async with serve(quiet_app) as client:
        subscription = await subscribe(client, quiet, receiver.url, SUBMITTED)
        waiting = await bus.publish(submitted(application_id="app-1"))
        [item] = await settled(client, quiet, subscription["id"], 1, "pending")
        assert item["id"] == webhook_delivery_id(waiting.id, subscription["id"]) and item["history"] == []

        path = f"/v1/webhooks/{subscription['id']}"
        removed = await client.delete(path, headers=admin(quiet))
        assert removed.status_code == 200 and removed.json()["active"] is False and removed.json()["deactivated_at"]
        again = await client.delete(path, headers=admin(quiet))
        assert again.json() == removed.json()  # deactivating twice changes nothing
        assert removed.json()["status"] == "deactivated"
        rotate = await client.post(f"{path}/rotate-secret", headers=admin(quiet))
        assert rotate.status_code == 409 and rotate.headers["content-type"] == PROBLEM
        assert [s["id"] for s in (await client.get("/v1/webhooks", headers=admin(quiet),
                                                   params={"active": "false"})).json()["items"]] == [subscription["id"]]
        assert (await client.get("/v1/webhooks", headers=admin(quiet), params={"active": "true"})).json()["items"] == []

        later = await bus.publish(submitted(application_id="app-2"))
        await wait_for_inbox(client, applicant(quiet), 2)  # the later event has been handled
        db = quiet_app.state.runtime.db
        assert await db.webhook_deliveries.count_documents({"event_id": later.id}) == 0

    async with serve(build_app(service_settings)) as client:
        [item] = await settled(client, service_settings, subscription["id"], 1, "cancelled")
        assert item["attempts"] == 0 and item["history"] == []
        await asyncio.sleep(0.3)
        assert receiver.requests == []


async def test_a_claim_abandoned_by_a_dead_sender_is_sent_again_under_the_same_delivery_id(
    service_settings: Settings, bus: TestBus, receiver: WebhookReceiver
) -> None:
    quiet = service_settings.model_copy(update={"webhook_sender_enabled": False})
    quiet_app = build_app(quiet)
    async with serve(quiet_app) as client:
        subscription = await subscribe(client, quiet, receiver.url, SUBMITTED)
        abandoned = await bus.publish(submitted(application_id="app-1"))
        in_flight = await bus.publish(submitted(application_id="app-2"))
        await settled(client, quiet, subscription["id"], 2, "pending")
        lease = timedelta(seconds=quiet.webhook_lease_seconds)
        for event, claimed_at in ((abandoned, utcnow() - 2 * lease), (in_flight, utcnow())):
            # What a sender leaves behind when it dies after claiming (or while still sending).
            result = await quiet_app.state.runtime.db.webhook_deliveries.update_one(
                {"_id": webhook_delivery_id(event.id, subscription["id"]), "status": "pending"},
                {"$set": {"status": "sending", "claim": "dead-sender", "claimed_at": claimed_at}},
            )
            assert result.modified_count == 1

    async with serve(build_app(service_settings)) as client:
        [request] = await receiver.wait_for(1)
        assert request.headers["webhook-id"] == webhook_delivery_id(abandoned.id, subscription["id"])
        assert signed_with(subscription["secret"], request)
        await asyncio.sleep(0.5)
        assert len(receiver.requests) == 1  # the claim still within its lease is left alone
        states = {i["event_id"]: i["status"] for i in await deliveries(client, service_settings, subscription["id"])}
        assert states == {abandoned.id: "delivered", in_flight.id: "sending"}


async def test_subscriptions_and_their_deliveries_page_with_a_total_and_an_offset(
    service_settings: Settings, bus: TestBus
) -> None:
    quiet = service_settings.model_copy(update={"webhook_sender_enabled": False})
    async with serve(build_app(quiet)) as client:
        ids = [(await subscribe(client, quiet, f"https://crm{n}.example.org/hooks", SUBMITTED))["id"] for n in range(3)]
        first = (await client.get("/v1/webhooks", headers=admin(quiet), params={"limit": 2})).json()
        rest = (await client.get("/v1/webhooks", headers=admin(quiet), params={"limit": 2, "offset": 2})).json()
        assert (first["total"], len(first["items"]), rest["total"], len(rest["items"])) == (3, 2, 3, 1)
        assert {s["id"] for s in first["items"] + rest["items"]} == set(ids)

        for n in range(3):
            await bus.publish(submitted(application_id=f"app-{n}"))
        everything = await settled(client, quiet, ids[0], 3, "pending")
        path = f"/v1/webhooks/{ids[0]}/deliveries"
        page = (await client.get(path, headers=admin(quiet), params={"limit": 2, "offset": 1})).json()
        assert (page["limit"], page["offset"], page["total"]) == (2, 1, 3)
        assert [d["id"] for d in page["items"]] == [d["id"] for d in everything[1:]]
        too_far = await client.get(path, headers=admin(quiet), params={"offset": 10_001})
        assert too_far.status_code == 422 and too_far.headers["content-type"] == PROBLEM


async def test_a_retried_subscription_gets_the_same_secret_which_is_kept_encrypted_meanwhile(
    service_settings: Settings, receiver: WebhookReceiver
) -> None:
    body = {"url": receiver.url, "event_types": [ApplicationScored.type]}
    headers = {**admin(service_settings), "Idempotency-Key": "subscribe-once"}
    async with serve(build_app(service_settings)) as client:
        first = await client.post("/v1/webhooks", headers=headers, json=body)
        again = await client.post("/v1/webhooks", headers=headers, json=body)
        assert first.status_code == again.status_code == 201
        assert again.json() == first.json() and again.headers["cache-control"] == "no-store"
        db = runtime_of(client).db
        assert await db.webhook_subscriptions.count_documents({}) == 1
        [kept] = await db.idempotency_keys.find({}).to_list(None)
        assert first.json()["secret"] not in json.dumps(kept, default=str)  # sealed, not in plain text
