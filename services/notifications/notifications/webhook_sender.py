"""The webhook sender: a background loop that POSTs pending webhook deliveries to integrators.

Like the email sender: each delivery is claimed with a conditional update (pending -> sending, with
the claim time), so of several replicas exactly one sends it, and a claim older than the lease
(a sender that died mid-request) is taken over. Every attempt sends the same stored body under the
same ``Grants-Webhook-Id``, signed afresh with the subscription's current secret and the time of the
attempt. Any 2xx answer is a delivery: in one transaction it is marked `delivered`, recorded in the
delivery audit and announced with NotificationDelivered. Anything else (another status, a timeout, a
refused connection) is recorded as a failed attempt and retried with backoff until the attempts run
out (`failed`). A deactivated subscription's waiting deliveries are `cancelled`, not sent.
"""

import asyncio
import logging
from datetime import datetime, timedelta
from typing import Any
from uuid import uuid4

import httpx

from grants_shared.clock import utcnow
from grants_shared.events import NotificationDelivered
from grants_shared.service import Runtime
from grants_shared.unit_of_work import Database, Transaction
from notifications import domain, store, webhooks
from notifications.config import Settings, own_settings
from notifications.crypto import cipher_for
from notifications.domain import RecipientKind, WebhookStatus

log = logging.getLogger(__name__)

USER_AGENT = "grants-webhooks/1.0"


class AttemptFailed(Exception):
    def __init__(self, reason: str, status_code: int | None = None) -> None:
        super().__init__(reason)
        self.status_code = status_code


def request_headers(delivery_id: str, secret: str, body: bytes, now: datetime) -> dict[str, str]:
    return {
        webhooks.ID_HEADER: delivery_id,
        webhooks.SIGNATURE_HEADER: webhooks.sign(secret, int(now.timestamp()), body),
        "Content-Type": webhooks.CONTENT_TYPE,
        "User-Agent": USER_AGENT,
    }


async def post(client: httpx.AsyncClient, url: str, body: bytes, headers: dict[str, str], timeout: float) -> int:
    """POST and return the status; the answer's body is never read (an endpoint cannot make us download)."""
    try:
        # httpx's timeout bounds each phase; this bounds the whole request.
        async with asyncio.timeout(timeout):
            async with client.stream("POST", url, content=body, headers=headers) as response:
                status_code = response.status_code
    except (TimeoutError, httpx.TimeoutException):
        raise AttemptFailed(f"no answer within {timeout:g}s") from None
    except httpx.HTTPError as error:
        raise AttemptFailed(f"{type(error).__name__}: {error}" if str(error) else type(error).__name__) from None
    if not domain.webhook_accepted(status_code):
        raise AttemptFailed(f"the endpoint answered HTTP {status_code}", status_code)
    return status_code


class WebhookSender:
    def __init__(self, database: Database, settings: Settings, client: httpx.AsyncClient) -> None:
        self.database = database
        self.settings = settings
        self.client = client
        self.cipher = cipher_for(settings)

    async def send_due(self) -> int:
        """Send what is due now, side by side (one slow endpoint does not hold up the others);
        return how many were delivered."""
        now = utcnow()
        stale_before = now - timedelta(seconds=self.settings.webhook_lease_seconds)
        due = await store.due_webhook_deliveries(self.database.db, now, stale_before, self.settings.webhook_batch)
        results = await asyncio.gather(*(self._deliver(doc) for doc in due), return_exceptions=True)
        for doc, result in zip(due, results, strict=True):
            if isinstance(result, BaseException):
                # Left as it is: pending is tried at the next poll, a claim when its lease runs out.
                log.error("webhook %s: could not be settled: %r", doc["_id"], result)
        return sum(r for r in results if isinstance(r, int))

    async def _deliver(self, doc: dict[str, Any]) -> int:
        claim = uuid4().hex
        if not await self.database.transact(
            lambda tx: store.claim_webhook_delivery(tx.db, tx.session, doc, claim, utcnow())
        ):
            return 0  # another replica took it
        subscription = await store.find_subscription(self.database.db, doc["subscription_id"], with_secret=True)
        if subscription is None or not subscription["active"]:
            await self.database.transact(lambda tx: self._cancel(tx, doc, claim))
            return 0
        attempt = doc.get("attempts", 0) + 1
        try:
            body = doc["body"].encode()
            secret = self.cipher.decrypt(subscription["secret"])
            headers = request_headers(doc["_id"], secret, body, utcnow())
            status_code = await post(self.client, subscription["url"], body, headers, self.settings.webhook_timeout)
        except Exception as error:
            # Anything unexpected counts as an attempt too, so one bad delivery cannot come back forever.
            failure = error if isinstance(error, AttemptFailed) else AttemptFailed(f"{type(error).__name__}: {error}")
            log.warning("webhook %s to %s attempt %d failed: %s", doc["_id"], doc["subscription_id"], attempt, failure)
            await self.database.transact(lambda tx: self._record_failure(tx, doc, claim, attempt, failure))
            return 0
        await self.database.transact(lambda tx: self._record_success(tx, doc, claim, attempt, status_code))
        return 1

    async def _cancel(self, tx: Transaction, doc: dict[str, Any], claim: str) -> None:
        fields = {"status": WebhookStatus.CANCELLED.value, "last_error": "the subscription was deactivated"}
        await store.finish_webhook_delivery(tx.db, tx.session, doc["_id"], claim, fields, attempted=False)

    async def _record_success(
        self, tx: Transaction, doc: dict[str, Any], claim: str, attempt: int, status_code: int
    ) -> None:
        now = utcnow()
        fields = {"status": WebhookStatus.DELIVERED.value, "delivered_at": now, "last_status_code": status_code,
                  "last_error": None}
        if not await store.finish_webhook_delivery(tx.db, tx.session, doc["_id"], claim, fields):
            # Our lease ran out mid-request and another sender took over; it records the delivery.
            log.warning("webhook %s was delivered but its claim had been taken over", doc["_id"])
            return
        await store.record_delivery(tx.db, tx.session, _attempt(doc, attempt, "delivered", None, status_code, now))
        await tx.emit(NotificationDelivered(
            notification_id=doc["_id"], channel="webhook", recipient_kind=RecipientKind.INTEGRATOR.value,
            answered_event_id=doc["event_id"], answered_event_type=doc["event_type"],
        ))

    async def _record_failure(
        self, tx: Transaction, doc: dict[str, Any], claim: str, attempt: int, failure: AttemptFailed
    ) -> None:
        now = utcnow()
        next_attempt_at = domain.next_webhook_attempt(
            attempt, now,
            max_attempts=self.settings.webhook_max_attempts,
            base_seconds=self.settings.webhook_retry_base_seconds,
            max_seconds=self.settings.webhook_retry_max_seconds,
        )
        reason = str(failure)[:500]
        status = WebhookStatus.PENDING if next_attempt_at else WebhookStatus.FAILED
        fields: dict[str, Any] = {"status": status.value, "last_error": reason, "last_status_code": failure.status_code}
        if next_attempt_at:
            fields["next_attempt_at"] = next_attempt_at
        if not await store.finish_webhook_delivery(tx.db, tx.session, doc["_id"], claim, fields):
            return
        outcome = "failed" if next_attempt_at else "gave_up"
        record = _attempt(doc, attempt, outcome, reason, failure.status_code, now)
        await store.record_delivery(tx.db, tx.session, record)


def _attempt(
    doc: dict[str, Any], attempt: int, outcome: str, error: str | None, status_code: int | None, at: datetime
) -> dict[str, Any]:
    """The delivery audit's record of one attempt; the recipient is the subscription."""
    return {
        "_id": f"{doc['_id']}:webhook:{attempt}",
        "notification_id": doc["_id"],
        "channel": "webhook",
        "outcome": outcome,
        "attempt": attempt,
        "recipient_id": doc["subscription_id"],
        "recipient_kind": RecipientKind.INTEGRATOR.value,
        "template": None,
        "answered_event_id": doc["event_id"],
        "answered_event_type": doc["event_type"],
        "at": at,
        "error": error,
        "status_code": status_code,
    }


async def send_webhooks(runtime: Runtime) -> None:
    """The worker: poll for due webhook deliveries for as long as the service runs."""
    settings = own_settings(runtime.settings)
    if not settings.webhook_sender_enabled:
        log.info("webhook sender disabled on this replica")
        return
    # Redirects are not followed: the subscription names the endpoint; a move is the admin's to make.
    async with httpx.AsyncClient(timeout=settings.webhook_timeout, follow_redirects=False) as client:
        sender = WebhookSender(runtime.database, settings, client)
        while True:
            try:
                await sender.send_due()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("webhook sender: a round failed; trying again at the next poll")
            await asyncio.sleep(settings.webhook_poll_seconds)
