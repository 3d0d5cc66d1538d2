"""The two senders: background loops in every replica that work the email queue (each
notification's ``email`` part) and the webhook queue (``webhook_deliveries``), built on
:class:`grants_shared.worker.LeasedWorker`: claim, lease and backoff are the shared worker's.

- **Claim** (``commands.claim_emails``, one conditional update for all of a poll's due emails, with
  no transaction; ``claim_webhook``, in a transaction that also reads the subscription): of several
  replicas exactly one takes a due item; a claim older than the lease belongs to a sender that died and is taken over (and sent
  again: same Message-ID, same ``webhook-id``).
- **Attempt**, outside any transaction: an SMTP conversation or an HTTP POST, bounded as a whole by
  the channel's timeout, which the settings keep shorter than the lease, so no other sender takes a
  claim while its sender is still trying.
- **Settle**, in one transaction, by a command (``commands.emails_sent`` for all the emails of a claim
  that the relay took, ``email_failed`` ...): delivered, or failed and tried again with backoff until
  the attempts run out. The email sender keeps the recipient's address
  out of every reason it logs or stores.

Emails go one at a time per replica (one SMTP relay, ours); webhooks of a batch go side by side, so
one slow endpoint does not hold up the others.
"""

import asyncio
import logging
from datetime import datetime, timedelta
from abc import abstractmethod
from typing import Any, TypeVar
from uuid import uuid4

import httpx

from grants_shared.clock import utcnow
from grants_shared.service import Runtime
from grants_shared.unit_of_work import Database, Db, Transaction
from grants_shared.logs import about
from grants_shared.worker import Doc, LeasedWorker, Pace, every, stop_if_cancelled
from notifications import commands, domain, mailer, preferences, store, webhook_targets, webhooks
from notifications.config import Settings
from notifications.crypto import cipher_for
from notifications.domain import AttemptFailed, describe
from notifications.store import Email, Notification, SigningSubscription, WebhookDelivery

log = logging.getLogger(__name__)

Claimed = TypeVar("Claimed")


class Sender(LeasedWorker[Claimed]):
    """Makes one bounded attempt per claimed item and has it settled."""

    def __init__(self, database: Database[Settings], pace: Pace, timeout_seconds: float) -> None:
        super().__init__(database, pace)
        self.settings = database.settings
        self.timeout_seconds = timeout_seconds

    async def work(self, doc: Doc, claim: str, claimed: Claimed) -> bool:
        attempt = self.queue.state(doc).get("attempts", 0) + 1
        delivered, status_code = await self.try_once(doc["_id"], claim, claimed, attempt)
        if delivered:
            await self.database.transact(lambda tx: self.succeeded(tx, claimed, claim, attempt, status_code))
        return delivered

    async def try_once(self, item_id: object, claim: str, claimed: Claimed, attempt: int) -> tuple[bool, int | None]:
        """One bounded attempt: (True, the status answered) when it delivered; a failure is settled here."""
        try:
            async with asyncio.timeout(self.timeout_seconds):
                return True, await self.attempt(claimed)
        except Exception as error:
            # Anything unexpected counts as an attempt too, so one bad item cannot come back forever.
            failure = self._failure(error, claimed)
            log.warning("%s: %s attempt %d failed: %s", self.name, item_id, attempt, failure)
            await self.database.transact(lambda tx: self.failed(tx, claimed, claim, attempt, failure))
            return False, None

    def _failure(self, error: Exception, claimed: Claimed) -> AttemptFailed:
        if isinstance(error, AttemptFailed):
            failure = error
        elif isinstance(error, TimeoutError):
            failure = AttemptFailed(f"no answer within {self.timeout_seconds:g}s")
        else:
            failure = AttemptFailed(describe(error))
        reason = self.fit_to_keep(str(failure), claimed)[:500]
        return AttemptFailed(reason, permanent=failure.permanent, status_code=failure.status_code)

    def fit_to_keep(self, reason: str, claimed: Claimed) -> str:
        """A failure's reason as it may be logged and stored."""
        return reason

    @abstractmethod
    async def attempt(self, claimed: Claimed) -> int | None:
        """Deliver once and return the status the other end answered with, if the channel has one;
        raise when it did not deliver."""

    @abstractmethod
    async def succeeded(
        self, tx: Transaction[Any], claimed: Claimed, claim: str, attempt: int, status_code: int | None
    ) -> None:
        """Settle a delivered item (a command)."""

    @abstractmethod
    async def failed(
        self, tx: Transaction[Any], claimed: Claimed, claim: str, attempt: int, failure: AttemptFailed
    ) -> None:
        """Settle an attempt that delivered nothing (a command)."""


OutgoingEmail = tuple[Notification, Email]


class EmailSender(Sender[OutgoingEmail]):
    queue = store.EMAIL_QUEUE
    name = "email sender"
    claims_alone = True  # the claim is the one conditional update on the notification

    def __init__(self, database: Database[Settings]) -> None:
        settings = database.settings
        # One SMTP conversation at a time: the relay is one server, and it is ours.
        pace = Pace(
            poll_seconds=settings.email_poll_seconds, batch=settings.email_batch, at_once=1,
            lease_seconds=settings.email_lease_seconds,
        )  # fmt: skip
        super().__init__(database, pace, settings.smtp_timeout)
        #: How many emails are claimed together: as many as half a lease can send one after another,
        #: each send bounded by the SMTP timeout, so no claim runs out while it waits its turn.
        self.together = max(1, int(settings.email_lease_seconds / settings.smtp_timeout) // 2)

    async def work_due(self) -> int:
        """Due emails are claimed together and those the relay took settled together: a handful of
        round trips for a poll's batch instead of five for each email. Claims a dead sender left
        behind are taken one by one (``LeasedWorker``)."""
        stop_if_cancelled()
        now = utcnow()
        due = await self.queue.due(self.database, now, timedelta(seconds=self.pace.lease_seconds), self.pace.batch)
        ready = [doc for doc in due if self.queue.state(doc)["status"] in self.queue.ready]
        sent = 0
        for first in range(0, len(ready), self.together):
            sent += await self._send_together(ready[first : first + self.together])
        return sent + await self.take_each([doc for doc in due if doc not in ready])

    async def _send_together(self, docs: list[Doc]) -> int:
        claim = uuid4().hex
        delivered: list[tuple[Notification, int]] = []
        for notification in await commands.claim_emails(self.database, docs, claim):
            stop_if_cancelled()
            email = notification.email
            assert email is not None  # the email queue holds only notifications with one
            attempt = email.attempts + 1
            with about(item_id=notification.id, queue=self.queue.name):
                if (await self.try_once(notification.id, claim, (notification, email), attempt))[0]:
                    delivered.append((notification, attempt))
        if not delivered:
            return 0
        try:
            await self.database.transact(lambda tx: commands.emails_sent(tx, delivered, claim))
        except commands.ClaimsLost:
            # A lease ran out on one of them (the database was slow): each is settled alone, where its
            # claim still holds.
            for notification, attempt in delivered:
                await self.database.transact(
                    lambda tx, n=notification, a=attempt: commands.email_sent(tx, n, claim, a)
                )  # fmt: skip
        return len(delivered)

    async def claim(self, tx: Db, doc: Doc, claim: str) -> OutgoingEmail | None:  # type: ignore[override]
        notification = Notification.from_doc(doc)
        email = notification.email
        if email is None or not await commands.claim_email(tx, notification, claim):
            return None
        return notification, email

    async def attempt(self, outgoing: OutgoingEmail) -> None:
        notification, email = outgoing
        await mailer.smtp_send(mailer.compose_email(notification, email, self.settings, utcnow()), self.settings)

    async def succeeded(
        self, tx: Transaction[Any], outgoing: OutgoingEmail, claim: str, attempt: int, status_code: int | None
    ) -> None:
        await commands.email_sent(tx, outgoing[0], claim, attempt)

    async def failed(
        self, tx: Transaction[Any], outgoing: OutgoingEmail, claim: str, attempt: int, failure: AttemptFailed
    ) -> None:
        await commands.email_failed(tx, outgoing[0], claim, attempt, failure)

    def fit_to_keep(self, reason: str, outgoing: OutgoingEmail) -> str:
        return domain.without_address(reason, outgoing[1].address)


OutgoingWebhook = tuple[WebhookDelivery, SigningSubscription]


class WebhookSender(Sender[OutgoingWebhook]):
    """Every attempt sends the same stored body under the same ``webhook-id``, signed afresh with the
    subscription's secrets in use and the time of the attempt, to an address checked just before
    (``webhook_targets``): a refused one is a failure that names why, never what answers there."""

    queue = store.WEBHOOK_QUEUE
    name = "webhook sender"

    def __init__(self, database: Database[Settings], client: httpx.AsyncClient) -> None:
        settings = database.settings
        pace = Pace(
            poll_seconds=settings.webhook_poll_seconds, batch=settings.webhook_batch, at_once=settings.webhook_batch,
            lease_seconds=settings.webhook_lease_seconds,
        )  # fmt: skip
        super().__init__(database, pace, settings.webhook_timeout)
        self.client = client
        self.cipher = cipher_for(settings)
        self.allowed = webhook_targets.Allowed.of(settings.webhook_allowed_targets)

    async def claim(self, tx: Transaction[Any], doc: Doc, claim: str) -> OutgoingWebhook | None:
        delivery = WebhookDelivery.from_doc(doc)
        subscription = await commands.claim_webhook(tx, delivery, claim)
        return (delivery, subscription) if subscription else None

    async def attempt(self, outgoing: OutgoingWebhook) -> int:
        delivery, subscription = outgoing
        now = utcnow()
        previous = self.cipher.decrypt(subscription.previous_secret) if subscription.previous_secret else None
        signing = domain.secrets_in_use(
            self.cipher.decrypt(subscription.secret), previous, subscription.previous_secret_until, now
        )
        try:
            destination = await webhook_targets.checked_destination(subscription.url, self.allowed)
        except webhook_targets.TargetRefused as refused:
            # Nothing was sent: trying again would meet the same rule (and counts towards disabling).
            raise AttemptFailed(str(refused), permanent=True) from None
        except OSError as error:
            raise AttemptFailed(f"the endpoint's host did not resolve: {describe(error)}") from None
        body = delivery.body.encode()
        headers = webhooks.request_headers(delivery.id, signing, body, now)
        return await post(self.client, destination, body, headers)

    async def succeeded(
        self, tx: Transaction[Any], outgoing: OutgoingWebhook, claim: str, attempt: int, status_code: int | None
    ) -> None:
        await commands.webhook_delivered(tx, outgoing[0], claim, attempt, status_code)

    async def failed(
        self, tx: Transaction[Any], outgoing: OutgoingWebhook, claim: str, attempt: int, failure: AttemptFailed
    ) -> None:
        await commands.webhook_failed(tx, outgoing[0], claim, attempt, failure)


async def post(
    client: httpx.AsyncClient, destination: webhook_targets.Destination, body: bytes, headers: dict[str, str]
) -> int:
    """POST to the checked address and return the status; the answer's body is never read (an endpoint
    cannot make us download). Any 2xx is a delivery; anything else raises AttemptFailed."""
    headers = {**headers, "Host": destination.host_header}
    # The TLS server name (and the name the certificate must carry) is the URL's, not the address's.
    extensions = {"sni_hostname": destination.tls_server_name} if destination.tls_server_name else None
    try:
        async with client.stream(
            "POST", destination.url, content=body, headers=headers, extensions=extensions
        ) as response:
            status_code = response.status_code
    except httpx.TimeoutException:
        raise TimeoutError from None  # one phase ran out of time; the sender words it for the request
    except httpx.HTTPError as error:
        raise AttemptFailed(describe(error)) from None
    if not domain.webhook_accepted(status_code):
        raise AttemptFailed(f"the endpoint answered HTTP {status_code}", status_code=status_code)
    return status_code


async def send_emails(runtime: Runtime[Settings]) -> None:
    """Send due emails for as long as the service runs."""
    if not runtime.settings.email_sender_enabled:
        log.info("email sender disabled on this replica")
        return
    await EmailSender(runtime.database).run()


async def send_webhooks(runtime: Runtime[Settings]) -> None:
    """Send due webhook deliveries for as long as the service runs."""
    settings = runtime.settings
    if not settings.webhook_sender_enabled:
        log.info("webhook sender disabled on this replica")
        return
    # Redirects are not followed: the subscription names the endpoint; a move is the admin's to make.
    async with httpx.AsyncClient(timeout=settings.webhook_timeout, follow_redirects=False) as client:
        await WebhookSender(runtime.database, client).run()


async def send_digests(runtime: Runtime[Settings]) -> None:
    """Once a day (from ``DIGEST_HOUR_UTC``), one email per person who chose a digest, gathering what
    waited for it; looked for every ``DIGEST_POLL_SECONDS``, so a replica that was down catches up."""
    settings = runtime.settings
    if not settings.digest_sender_enabled:
        log.info("digest sender disabled on this replica")
        return
    await every(settings.digest_poll_seconds, lambda: gather_digests(runtime.database, utcnow()), "digest sender")


async def gather_digests(database: Database[Settings], now: datetime, batch: int = 500) -> int:
    """Make the digests due at ``now``, each in a transaction of its own (the email sender then sends
    them); how many were made. Idempotent: a digest's id names its person and day."""
    day, cutoff = preferences.digest_due(now, database.settings.digest_hour_utc)
    made = 0
    for person_id in await store.digest_recipients(database, cutoff, batch):
        if await database.transact(lambda tx, person=person_id: commands.send_digest(tx, person, day, cutoff)):
            made += 1
    return made


WORKERS = (send_emails, send_webhooks, send_digests)
