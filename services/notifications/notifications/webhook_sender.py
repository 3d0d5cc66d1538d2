"""The webhook sender: POSTs pending webhook deliveries to integrators, side by side (one slow
endpoint does not hold up the others).

It works the webhook queue (``webhook_deliveries``) with the claim, lease and backoff of
:mod:`notifications.sender`. Every attempt sends the same stored body under the same
``Grants-Webhook-Id``, signed afresh with the subscription's current secret and the time of the
attempt. Any 2xx answer is a delivery; anything else (another status, a timeout, a refused
connection) is a failed attempt. A deactivated subscription's waiting deliveries are `cancelled`,
not sent.
"""

import logging
from datetime import datetime
from typing import Any

import httpx

from grants_shared.clock import utcnow
from grants_shared.service import Runtime
from grants_shared.unit_of_work import Database
from notifications import domain, store, webhooks
from notifications.config import Settings, own_settings
from notifications.crypto import cipher_for
from notifications.domain import WEBHOOK_TRANSITIONS, RecipientKind, WebhookStatus
from notifications.sender import AttemptFailed, NothingToSend, Pace, QueueSender, describe

log = logging.getLogger(__name__)

USER_AGENT = "grants-webhooks/1.0"


def request_headers(delivery_id: str, secret: str, body: bytes, now: datetime) -> dict[str, str]:
    return {
        webhooks.ID_HEADER: delivery_id,
        webhooks.SIGNATURE_HEADER: webhooks.sign(secret, int(now.timestamp()), body),
        "Content-Type": webhooks.CONTENT_TYPE,
        "User-Agent": USER_AGENT,
    }


async def post(client: httpx.AsyncClient, url: str, body: bytes, headers: dict[str, str]) -> int:
    """POST and return the status; the answer's body is never read (an endpoint cannot make us download)."""
    try:
        async with client.stream("POST", url, content=body, headers=headers) as response:
            status_code = response.status_code
    except httpx.TimeoutException:
        raise TimeoutError from None  # one phase ran out of time; the sender words it for the request
    except httpx.HTTPError as error:
        raise AttemptFailed(describe(error)) from None
    if not domain.webhook_accepted(status_code):
        raise AttemptFailed(f"the endpoint answered HTTP {status_code}", status_code=status_code)
    return status_code


class WebhookSender(QueueSender):
    channel = "webhook"
    queue = store.WEBHOOK_QUEUE
    transitions = WEBHOOK_TRANSITIONS
    delivered = (WebhookStatus.DELIVERED.value, "delivered_at")

    def __init__(self, database: Database, settings: Settings, client: httpx.AsyncClient) -> None:
        super().__init__(database, Pace(
            poll_seconds=settings.webhook_poll_seconds, batch=settings.webhook_batch, at_once=settings.webhook_batch,
            timeout_seconds=settings.webhook_timeout, lease_seconds=settings.webhook_lease_seconds,
            max_attempts=settings.webhook_max_attempts, retry_base_seconds=settings.webhook_retry_base_seconds,
            retry_max_seconds=settings.webhook_retry_max_seconds,
        ))
        self.client = client
        self.cipher = cipher_for(settings)

    async def attempt(self, doc: dict[str, Any]) -> int:
        subscription = await store.find_subscription(self.database.db, doc["subscription_id"], with_secret=True)
        if subscription is None or not subscription["active"]:
            raise NothingToSend("the subscription was deactivated")
        body = doc["body"].encode()
        headers = request_headers(doc["_id"], self.cipher.decrypt(subscription["secret"]), body, utcnow())
        return await post(self.client, subscription["url"], body, headers)

    def audience(self, doc: dict[str, Any]) -> dict[str, Any]:
        """The recipient is the subscription."""
        return {"recipient_id": doc["subscription_id"], "recipient_kind": RecipientKind.INTEGRATOR.value,
                "template": None}


async def send_webhooks(runtime: Runtime) -> None:
    """The worker: send due webhook deliveries for as long as the service runs."""
    settings = own_settings(runtime.settings)
    if not settings.webhook_sender_enabled:
        log.info("webhook sender disabled on this replica")
        return
    # Redirects are not followed: the subscription names the endpoint; a move is the admin's to make.
    async with httpx.AsyncClient(timeout=settings.webhook_timeout, follow_redirects=False) as client:
        await WebhookSender(runtime.database, settings, client).run()
