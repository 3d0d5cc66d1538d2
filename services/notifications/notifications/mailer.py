"""The email sender: hands pending emails to the SMTP relay, one at a time per replica.

It works the email queue (each notification's ``email`` part) with the claim, lease and backoff of
:mod:`notifications.sender`. A claim taken over from a sender that died is sent with the same
Message-ID (the notification id), so a mail system that did receive the first copy can recognise the
second. A recipient the server refuses with a 5xx is not tried again. The address never reaches the
logs or the delivery audit, not even inside a server's answer that repeats it.
"""

import logging
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, formataddr
from typing import Any

import aiosmtplib

from grants_shared.clock import utcnow
from grants_shared.service import Runtime
from grants_shared.unit_of_work import Database
from notifications import domain, store
from notifications.config import Settings, own_settings
from notifications.domain import EMAIL_TRANSITIONS, EmailStatus, single_line
from notifications.sender import AttemptFailed, Pace, QueueSender, describe

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
        answers = "; ".join(f"{refused.code} {refused.message}" for refused in error.recipients)
        permanent = domain.refusal_is_permanent(refused.code for refused in error.recipients)
        raise AttemptFailed(f"recipient refused: {answers}", permanent=permanent) from None
    except (aiosmtplib.SMTPException, OSError) as error:
        raise AttemptFailed(describe(error)) from None


class EmailSender(QueueSender):
    channel = "email"
    queue = store.EMAIL_QUEUE
    transitions = EMAIL_TRANSITIONS
    delivered = (EmailStatus.SENT.value, "sent_at")

    def __init__(self, database: Database, settings: Settings) -> None:
        # One SMTP conversation at a time: the relay is one server, and it is ours.
        super().__init__(database, Pace(
            poll_seconds=settings.email_poll_seconds, batch=settings.email_batch, at_once=1,
            timeout_seconds=settings.smtp_timeout, lease_seconds=settings.email_lease_seconds,
            max_attempts=settings.email_max_attempts, retry_base_seconds=settings.email_retry_base_seconds,
            retry_max_seconds=settings.email_retry_max_seconds,
        ))
        self.settings = settings

    async def attempt(self, doc: dict[str, Any]) -> None:
        await smtp_send(compose_email(doc, self.settings, utcnow()), self.settings)

    def audience(self, doc: dict[str, Any]) -> dict[str, Any]:
        return {"recipient_id": doc["recipient_id"], "recipient_kind": doc["recipient_kind"],
                "template": doc["template"]}

    def fit_to_keep(self, doc: dict[str, Any], reason: str) -> str:
        return domain.without_address(reason, doc["email"]["address"])


async def send_emails(runtime: Runtime) -> None:
    """The worker: send due emails for as long as the service runs."""
    settings = own_settings(runtime.settings)
    if not settings.email_sender_enabled:
        log.info("email sender disabled on this replica")
        return
    await EmailSender(runtime.database, settings).run()
