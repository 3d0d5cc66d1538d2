"""The email sender: a background loop that hands pending emails to the SMTP relay.

Each email is claimed with a conditional update (pending -> sending, with the claim time) so that
of several replicas exactly one sends it. A claim older than the lease belongs to a sender that
died mid-send; it is claimed again and sent with the same Message-ID (the notification id), so a
mail system that did receive the first copy can recognise the second. Success is recorded, with its
delivery record and a NotificationDelivered event, in one transaction; a failure is recorded too and
retried with backoff until the attempts run out (then the email is `failed`, visible in the inbox
item and in the delivery audit).
"""

import asyncio
import logging
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, formataddr
from typing import Any
from uuid import uuid4

import aiosmtplib

from grants_shared.clock import utcnow
from grants_shared.events import NotificationDelivered
from grants_shared.service import Runtime
from grants_shared.unit_of_work import Database, Transaction
from notifications import domain, store
from notifications.config import Settings, own_settings
from notifications.domain import EmailStatus, single_line

log = logging.getLogger(__name__)


def message_id(notification_id: str, mail_from: str) -> str:
    return f"<{notification_id}@{mail_from.rsplit('@', 1)[1]}>"


def compose_email(doc: dict[str, Any], settings: Settings, now: datetime) -> EmailMessage:
    """A multipart/alternative message: the plain text first, the HTML as the richer alternative."""
    email = doc["email"]
    message = EmailMessage()
    message["Subject"] = single_line(doc["subject"])
    message["From"] = formataddr((settings.mail_from_name, str(settings.mail_from)))
    message["To"] = formataddr((single_line(email.get("name") or ""), email["address"]))
    message["Message-ID"] = message_id(doc["_id"], str(settings.mail_from))
    message["Date"] = format_datetime(now)
    # Tells autoresponders not to answer (RFC 3834).
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(doc["text"])
    message.add_alternative(doc["html"], subtype="html")
    return message


class SendFailed(Exception):
    def __init__(self, reason: str, permanent: bool) -> None:
        super().__init__(reason)
        self.permanent = permanent


async def smtp_send(message: EmailMessage, settings: Settings) -> None:
    try:
        await aiosmtplib.send(
            message,
            hostname=settings.smtp_host,
            port=settings.smtp_port,
            username=settings.smtp_username,
            password=settings.smtp_password.get_secret_value() if settings.smtp_password else None,
            start_tls=settings.smtp_start_tls,
            timeout=settings.smtp_timeout,
        )
    except aiosmtplib.SMTPRecipientsRefused as error:
        codes = [refused.code for refused in error.recipients]
        raise SendFailed(f"recipient refused: {error}", domain.refusal_is_permanent(codes)) from None
    except (aiosmtplib.SMTPException, OSError, TimeoutError) as error:
        raise SendFailed(f"{type(error).__name__}: {error}" if str(error) else type(error).__name__, False) from None


class EmailSender:
    def __init__(self, database: Database, settings: Settings) -> None:
        self.database = database
        self.settings = settings

    async def send_due(self) -> int:
        """Send what is due now; return how many emails were handed to the relay."""
        now = utcnow()
        stale_before = now - timedelta(seconds=self.settings.email_lease_seconds)
        due = await store.due_emails(self.database.db, now, stale_before, self.settings.email_batch)
        sent = 0
        for doc in due:
            claim = uuid4().hex
            if not await self.database.transact(lambda tx, doc=doc: self._claim(tx, doc, claim)):
                continue  # another replica took it
            sent += await self._send(doc, claim)
        return sent

    async def _claim(self, tx: Transaction, doc: dict[str, Any], claim: str) -> bool:
        return await store.claim_email(tx.db, tx.session, doc, claim, utcnow())

    async def _send(self, doc: dict[str, Any], claim: str) -> int:
        attempt = doc["email"].get("attempts", 0) + 1
        try:
            await smtp_send(compose_email(doc, self.settings, utcnow()), self.settings)
        except Exception as error:
            # Anything unexpected counts as an attempt too, so one bad email cannot come back forever.
            failure = error if isinstance(error, SendFailed) else SendFailed(f"{type(error).__name__}: {error}", False)
            log.warning("email %s attempt %d failed: %s", doc["_id"], attempt, failure)
            await self.database.transact(lambda tx: self._record_failure(tx, doc, claim, attempt, failure))
            return 0
        await self.database.transact(lambda tx: self._record_success(tx, doc, claim, attempt))
        return 1

    async def _record_success(self, tx: Transaction, doc: dict[str, Any], claim: str, attempt: int) -> None:
        now = utcnow()
        fields = {"email.status": EmailStatus.SENT.value, "email.sent_at": now, "email.last_error": None}
        if not await store.finish_email(tx.db, tx.session, doc["_id"], claim, fields):
            # Our lease ran out mid-send and another sender took over; it records the delivery.
            log.warning("email %s was sent but its claim had been taken over", doc["_id"])
            return
        await store.record_delivery(tx.db, tx.session, _delivery(doc, attempt, "delivered", None, now))
        await tx.emit(NotificationDelivered(
            notification_id=doc["_id"], channel="email", recipient_kind=doc["recipient_kind"],
            answered_event_id=doc["event_id"], answered_event_type=doc["event_type"],
        ))

    async def _record_failure(
        self, tx: Transaction, doc: dict[str, Any], claim: str, attempt: int, failure: SendFailed
    ) -> None:
        now = utcnow()
        after = domain.after_failed_send(
            attempt, now,
            max_attempts=self.settings.email_max_attempts,
            base_seconds=self.settings.email_retry_base_seconds,
            max_seconds=self.settings.email_retry_max_seconds,
            permanent=failure.permanent,
        )
        reason = str(failure)[:500]
        fields = {"email.status": after.status.value, "email.last_error": reason}
        if after.next_attempt_at:
            fields["email.next_attempt_at"] = after.next_attempt_at
        if not await store.finish_email(tx.db, tx.session, doc["_id"], claim, fields):
            return
        outcome = "gave_up" if after.status is EmailStatus.FAILED else "failed"
        await store.record_delivery(tx.db, tx.session, _delivery(doc, attempt, outcome, reason, now))


def _delivery(doc: dict[str, Any], attempt: int, outcome: str, error: str | None, at: datetime) -> dict[str, Any]:
    return {
        "_id": f"{doc['_id']}:email:{attempt}",
        "notification_id": doc["_id"],
        "channel": "email",
        "outcome": outcome,
        "attempt": attempt,
        "recipient_id": doc["recipient_id"],
        "recipient_kind": doc["recipient_kind"],
        "template": doc["template"],
        "answered_event_id": doc["event_id"],
        "answered_event_type": doc["event_type"],
        "at": at,
        "error": error,
    }


async def send_emails(runtime: Runtime) -> None:
    """The worker: poll for due emails for as long as the service runs."""
    settings = own_settings(runtime.settings)
    if not settings.email_sender_enabled:
        log.info("email sender disabled on this replica")
        return
    sender = EmailSender(runtime.database, settings)
    while True:
        try:
            await sender.send_due()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("email sender: a round failed; trying again at the next poll")
        await asyncio.sleep(settings.email_poll_seconds)
