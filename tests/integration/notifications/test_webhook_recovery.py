"""What integrators and admins do when deliveries go wrong, against the real broker and database and a
real HTTP endpoint on 127.0.0.1, every request verified with the official ``standardwebhooks``
library: a rotation's overlap (both signatures, then the new one only), resending one delivery,
replaying a time range, an endpoint disabled after repeated failure (its events held) and
reactivated (they go out), and the rule that webhooks go only to public addresses."""

import asyncio
import json
from datetime import timedelta

import httpx

from grants_shared.clock import utcnow
from grants_shared.events import (
    ApplicationSubmitted,
    NotificationDelivered,
    WebhookSubscriptionDisabled,
    WebhookSubscriptionReactivated,
)
from notifications.config import Settings
from notifications.crypto import cipher_for
from notifications.domain import webhook_delivery_id
from notifications.main import build_app
from tests.integration.notifications.builders import admin, applicant, submitted, wait_for_inbox
from tests.integration.notifications.conftest import WebhookReceiver
from tests.integration.notifications.test_webhooks import PROBLEM, deliveries, settled, signed_with, subscribe
from tests.support.app import runtime_of, serve
from tests.support.bus import TestBus
from tests.support.waiting import eventually

SUBMITTED = ApplicationSubmitted.type


async def test_during_a_rotations_overlap_both_secrets_sign_then_only_the_new_one(
    service_settings: Settings, bus: TestBus, receiver: WebhookReceiver
) -> None:
    async with serve(build_app(service_settings)) as client:
        subscription = await subscribe(client, service_settings, receiver.url, SUBMITTED)
        old = subscription["secret"]
        path = f"/v1/webhooks/{subscription['id']}/rotate-secret"
        rotated = await client.post(path, headers=admin(service_settings), json={"overlap_seconds": 2})
        assert rotated.status_code == 200, rotated.text
        new = rotated.json()["secret"]
        assert new.startswith("whsec_") and new != old
        assert rotated.json()["previous_secret_until"] > rotated.json()["secret_rotated_at"]
        listed = await client.get(f"/v1/webhooks/{subscription['id']}", headers=admin(service_settings))
        assert new not in listed.text and old not in listed.text and '"previous_secret"' not in listed.text
        stored = await runtime_of(client).db.webhook_subscriptions.find_one({"_id": subscription["id"]})
        assert old not in repr(stored) and new not in repr(stored)  # both kept only encrypted
        assert cipher_for(service_settings).decrypt(stored["previous_secret"]) == old

        await bus.publish(submitted(application_id="app-1"))
        [during] = await receiver.wait_for(1)
        assert len(during.headers["webhook-signature"].split(" ")) == 2
        assert signed_with(new, during) and signed_with(old, during)  # either side of the switch verifies

        await asyncio.sleep(2.2)  # the overlap ends
        await bus.publish(submitted(application_id="app-2"))
        _, after = await receiver.wait_for(2)
        assert json.loads(after.body)["subject"] == "app-2"
        assert len(after.headers["webhook-signature"].split(" ")) == 1
        assert signed_with(new, after) and not signed_with(old, after)

        # Without a body the service's overlap applies (a day here).
        again = await client.post(path, headers=admin(service_settings))
        assert again.status_code == 200, again.text
        until = again.json()["previous_secret_until"]
        assert until > (utcnow() + timedelta(hours=23)).isoformat()


async def test_one_delivery_is_resent_with_the_same_webhook_id_and_body_in_a_new_round(
    service_settings: Settings, bus: TestBus, receiver: WebhookReceiver
) -> None:
    settings = service_settings.model_copy(update={"webhook_max_attempts": 1})
    receiver.answers = [500]
    async with serve(build_app(settings)) as client:
        subscription = await subscribe(client, settings, receiver.url, SUBMITTED)
        event = await bus.publish(submitted())
        [failed] = await settled(client, settings, subscription["id"], 1, "failed")
        delivery_id = webhook_delivery_id(event.id, subscription["id"])
        assert failed["id"] == delivery_id

        path = f"/v1/webhooks/{subscription['id']}/deliveries/{delivery_id}/resend"
        resent = await client.post(path, headers=admin(settings))
        assert resent.status_code == 200, resent.text
        assert resent.json()["status"] in ("pending", "sending", "delivered") and resent.json()["requeued_at"]

        [item] = await settled(client, settings, subscription["id"], 1, "delivered")
        first, second = receiver.requests
        assert first.headers["webhook-id"] == second.headers["webhook-id"] == delivery_id
        assert first.body == second.body and signed_with(subscription["secret"], second)
        # The audit numbers on: a resend is a new round, not a rewrite of the first.
        assert [(h["attempt"], h["outcome"]) for h in item["history"]] == [(1, "gave_up"), (2, "delivered")]
        await bus.wait_for(NotificationDelivered.type, channel="webhook", notification_id=delivery_id)

        # Resending what is already on its way (or unknown) changes nothing / is not found.
        unknown = await client.post(f"/v1/webhooks/{subscription['id']}/deliveries/whd_nope/resend",
                                    headers=admin(settings))
        assert unknown.status_code == 404 and unknown.headers["content-type"] == PROBLEM


async def test_a_time_range_is_replayed_to_one_endpoint_with_the_same_webhook_ids(
    service_settings: Settings, bus: TestBus, receiver: WebhookReceiver
) -> None:
    async with serve(build_app(service_settings)) as client:
        subscription = await subscribe(client, service_settings, receiver.url, SUBMITTED)
        other = WebhookReceiver()
        await other.start()
        try:
            elsewhere = await subscribe(client, service_settings, other.url, SUBMITTED)
            first = await bus.publish(submitted(application_id="app-1"))
            await settled(client, service_settings, subscription["id"], 1, "delivered")
            await asyncio.sleep(0.05)
            since = utcnow()
            later = [await bus.publish(submitted(application_id=f"app-{n}")) for n in (2, 3)]
            await settled(client, service_settings, subscription["id"], 3, "delivered")
            await settled(client, service_settings, elsewhere["id"], 3, "delivered")
            assert len(receiver.requests) == 3

            path = f"/v1/webhooks/{subscription['id']}/replay"
            replayed = await client.post(path, headers=admin(service_settings), json={"since": since.isoformat()})
            assert replayed.status_code == 200, replayed.text
            assert replayed.json() == {"queued": 2, "remaining": 0}
            requests = await receiver.wait_for(5)
            again = requests[3:]
            assert sorted(r.headers["webhook-id"] for r in again) == sorted(
                webhook_delivery_id(e.id, subscription["id"]) for e in later
            )
            assert all(signed_with(subscription["secret"], r) for r in again)
            assert webhook_delivery_id(first.id, subscription["id"]) not in {r.headers["webhook-id"] for r in again}
            await settled(client, service_settings, subscription["id"], 3, "delivered")
            await asyncio.sleep(0.3)
            assert len(other.requests) == 3  # one endpoint only

            # A bounded batch says how many are left; a range that is no range is refused.
            start = (since - timedelta(minutes=5)).isoformat()
            batch = await client.post(path, headers=admin(service_settings), json={"since": start, "limit": 1})
            assert batch.json() == {"queued": 1, "remaining": 2}
            bad = await client.post(path, headers=admin(service_settings), json={"since": start, "until": start})
            assert bad.status_code == 422 and bad.headers["content-type"] == PROBLEM

            gone = await client.delete(f"/v1/webhooks/{elsewhere['id']}", headers=admin(service_settings))
            assert gone.status_code == 200
            refused = await client.post(f"/v1/webhooks/{elsewhere['id']}/replay", headers=admin(service_settings),
                                        json={"since": start})
            assert refused.status_code == 409 and "reactivate" in refused.json()["detail"]
        finally:
            await other.close()


async def test_an_endpoint_that_keeps_failing_is_disabled_its_events_held_and_sent_once_reactivated(
    service_settings: Settings, bus: TestBus, receiver: WebhookReceiver
) -> None:
    settings = service_settings.model_copy(update={
        "webhook_max_attempts": 1, "webhook_disable_after_failed_deliveries": 2,
    })  # fmt: skip
    receiver.answers = [503, 503]
    async with serve(build_app(settings)) as client:
        subscription = await subscribe(client, settings, receiver.url, SUBMITTED)
        path = f"/v1/webhooks/{subscription['id']}"
        for n in (1, 2):
            await bus.publish(submitted(application_id=f"app-{n}"))
            await settled(client, settings, subscription["id"], n, "failed")

        [disabled_event] = await bus.wait_for(WebhookSubscriptionDisabled.type)
        assert disabled_event.data.subscription_id == subscription["id"]
        assert disabled_event.data.failed_deliveries == 2 and "2 deliveries in a row" in disabled_event.data.reason
        disabled = (await client.get(path, headers=admin(settings))).json()
        assert (disabled["status"], disabled["active"]) == ("disabled", False)
        assert disabled["disabled_at"] and disabled["failed_deliveries"] == 2 and disabled["failing_since"]
        assert disabled["version"] == 2
        listed = await client.get("/v1/webhooks", headers=admin(settings), params={"active": "false"})
        assert [s["id"] for s in listed.json()["items"]] == [subscription["id"]]

        # What happens meanwhile is kept, not sent.
        held_event = await bus.publish(submitted(application_id="app-3"))
        await wait_for_inbox(client, applicant(settings), 3)
        await asyncio.sleep(0.4)
        assert len(receiver.requests) == 2
        states = {d["event_id"]: d["status"] for d in await deliveries(client, settings, subscription["id"])}
        assert states[held_event.id] == "held"
        resend = await client.post(
            f"{path}/deliveries/{webhook_delivery_id(held_event.id, subscription['id'])}/resend", headers=admin(settings)
        )
        assert resend.status_code == 409  # not while it is disabled

        stale = await client.post(f"{path}/reactivate", headers={**admin(settings), "If-Match": '"1"'})
        assert stale.status_code == 412
        reactivated = await client.post(f"{path}/reactivate", headers=admin(settings))
        assert reactivated.status_code == 200, reactivated.text
        body = reactivated.json()
        assert (body["status"], body["active"], body["released"]) == ("active", True, 1)
        assert body["failed_deliveries"] == 0 and body["failing_since"] is None and body["reactivated_at"]
        assert reactivated.headers["etag"] == '"3"'

        requests = await receiver.wait_for(3)
        assert requests[2].headers["webhook-id"] == webhook_delivery_id(held_event.id, subscription["id"])
        assert signed_with(subscription["secret"], requests[2])
        [told] = await bus.wait_for(WebhookSubscriptionReactivated.type)
        assert told.data.subscription_id == subscription["id"] and told.data.released == 1
        again = await client.post(f"{path}/reactivate", headers=admin(settings))
        assert again.json()["released"] == 0 and again.json()["version"] == 3  # nothing changes twice

        # Once answering again, it stays active: a delivery clears the failures.
        await bus.publish(submitted(application_id="app-4"))
        await eventually(
            lambda: _delivered_count(client, settings, subscription["id"], 2), what="two deliveries delivered"
        )
        assert (await client.get(path, headers=admin(settings))).json()["status"] == "active"


async def _delivered_count(client: httpx.AsyncClient, settings: Settings, subscription_id: str, count: int) -> bool:
    items = await deliveries(client, settings, subscription_id)
    return len([i for i in items if i["status"] == "delivered"]) >= count


async def test_webhooks_go_only_to_public_addresses_unless_allowed_checked_when_subscribing_and_sending(
    service_settings: Settings, bus: TestBus, receiver: WebhookReceiver
) -> None:
    strict = service_settings.model_copy(update={"webhook_allowed_targets": []})
    strict_app = build_app(strict)
    async with serve(strict_app) as client:
        for url in (receiver.url, f"http://localhost:{receiver.port}/hooks", "http://169.254.169.254/latest/meta-data",
                    "http://[::1]:8080/hooks", "http://10.0.0.7/hooks", "http://[::ffff:192.168.0.1]/hooks"):
            refused = await client.post("/v1/webhooks", headers=admin(strict), json={
                "url": url, "event_types": [SUBMITTED],
            })
            assert refused.status_code == 422, url
            assert refused.headers["content-type"] == PROBLEM and "public addresses" in refused.json()["detail"]
        assert await strict_app.state.runtime.db.webhook_subscriptions.count_documents({}) == 0

    # Subscribed while allowed; sent where it no longer is (the same rule as a name that now resolves
    # to an internal address): nothing is sent, and the audit says why, not what answers there.
    quiet = service_settings.model_copy(update={"webhook_sender_enabled": False})
    async with serve(build_app(quiet)) as client:
        subscription = await subscribe(client, quiet, receiver.url, SUBMITTED)
        await bus.publish(submitted())
        await settled(client, quiet, subscription["id"], 1, "pending")
    async with serve(build_app(strict)) as client:
        [item] = await settled(client, strict, subscription["id"], 1, "failed")
        assert "public addresses" in item["last_error"] and "loopback" in item["last_error"]
        assert item["last_status_code"] is None
        assert [(h["outcome"], h["status_code"]) for h in item["history"]] == [("gave_up", None)]
        await asyncio.sleep(0.3)
        assert receiver.requests == []
        assert not [e for e in bus.of_type(NotificationDelivered.type) if e.data.channel == "webhook"]


async def test_what_was_waiting_when_a_subscription_was_disabled_is_held_when_the_sender_reaches_it(
    service_settings: Settings, bus: TestBus, receiver: WebhookReceiver
) -> None:
    quiet = service_settings.model_copy(update={"webhook_sender_enabled": False})
    quiet_app = build_app(quiet)
    async with serve(quiet_app) as client:
        subscription = await subscribe(client, quiet, receiver.url, SUBMITTED)
        waiting = await bus.publish(submitted())
        await settled(client, quiet, subscription["id"], 1, "pending")
        # Disabled by another replica's sender meanwhile (as commands._disable_if_failing leaves it).
        await quiet_app.state.runtime.db.webhook_subscriptions.update_one(
            {"_id": subscription["id"]}, {"$set": {"status": "disabled", "active": False, "disabled_at": utcnow()}}
        )

    async with serve(build_app(service_settings)) as client:
        [held] = await settled(client, service_settings, subscription["id"], 1, "held")
        assert held["attempts"] == 0 and held["history"] == [] and "disabled" in held["last_error"]
        await asyncio.sleep(0.3)
        assert receiver.requests == []
        reactivated = await client.post(f"/v1/webhooks/{subscription['id']}/reactivate", headers=admin(service_settings))
        assert reactivated.json()["released"] == 1
        [request] = await receiver.wait_for(1)
        assert request.headers["webhook-id"] == webhook_delivery_id(waiting.id, subscription["id"])
        [item] = await settled(client, service_settings, subscription["id"], 1, "delivered")
        assert [h["attempt"] for h in item["history"]] == [1]
