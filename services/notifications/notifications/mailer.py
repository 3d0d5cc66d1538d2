"""The SMTP side of email: the message a notification becomes, and handing it to the relay.

The Message-ID is the notification id, so a mail system that received an email sent twice (a claim
taken over from a sender that died) can recognise the copy. A refusal names what the server said;
the email sender keeps the recipient's address out of it before it is logged or stored.
"""

from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, formataddr

import aiosmtplib

from notifications import domain, preferences, unsubscribe
from notifications.config import Settings
from notifications.domain import AttemptFailed, describe, single_line
from notifications.store import Email, Notification


def message_id(notification_id: str, mail_from: str) -> str:
    return f"<{notification_id}@{mail_from.rsplit('@', 1)[1]}>"


def compose_email(notification: Notification, email: Email, settings: Settings, now: datetime) -> EmailMessage:
    """A multipart/alternative message: the plain text first, the HTML as the richer alternative."""
    message = EmailMessage()
    message["Subject"] = single_line(notification.subject)
    message["From"] = formataddr((settings.mail_from_name, str(settings.mail_from)))
    message["To"] = formataddr((single_line(email.name or ""), email.address))
    message["Message-ID"] = message_id(notification.id, str(settings.mail_from))
    message["Date"] = format_datetime(now)
    # Tells autoresponders not to answer (RFC 3834).
    message["Auto-Submitted"] = "auto-generated"
    if preferences.can_turn_off(notification.template) or notification.template == preferences.DIGEST_KIND:
        # One click in the mail client turns this kind of email off (RFC 8058); required ones have none.
        unsubscribe.add_headers(message, settings, notification.recipient_id, str(notification.template))
    message.set_content(notification.text)
    message.add_alternative(notification.html, subtype="html")
    return message


async def smtp_send(message: EmailMessage, settings: Settings) -> None:
    """Raises AttemptFailed: permanent when the server refuses every recipient with a 5xx."""
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
