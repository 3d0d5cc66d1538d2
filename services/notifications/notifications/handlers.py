"""Event handlers: keep what later messages need, tell the people an event concerns, and queue the
event for the integrators who subscribed to it.

Each notification lands in the recipient's inbox inside the handler's transaction (with its inbox
delivery record and a NotificationDelivered event); its email part, if the person has an address,
waits as `pending` for the email sender. Before any handler runs, :func:`tell_integrators` queues one
webhook delivery per subscription in the same transaction, for the webhook sender (see HANDLERS).
"""

from typing import Any, cast

from grants_shared.clock import utcnow
from grants_shared.consumer import Handler
from grants_shared.events import (
    ApplicationDecided,
    ApplicationIneligible,
    ApplicationScored,
    ApplicationSubmitted,
    ApplicationWithdrawn,
    Event,
    GrantAccepted,
    GrantOffered,
    NotificationDelivered,
    PaymentFailed,
    PaymentScheduled,
    PaymentSent,
    ProgrammeClosed,
    ProgrammeOpened,
    ReviewAssigned,
)
from grants_shared.unit_of_work import Transaction
from notifications import domain, store
from notifications.domain import ApplicationRecord, EmailStatus, Mailbox, Notice, WebhookStatus
from notifications.config import Settings
from notifications.rendering import render


class ApplicationNotYetKnown(Exception):
    """An event about an application whose submission has not reached us yet (events from different
    services can overtake each other). Deliberately transient: the consumer retries it later."""


async def on_programme_opened(event: Event, tx: Transaction) -> None:
    data: ProgrammeOpened = event.data  # type: ignore[assignment]
    await store.open_programme(tx.db, tx.session, data.programme_id, data.name, data.closes_at)


async def on_programme_closed(event: Event, tx: Transaction) -> None:
    data: ProgrammeClosed = event.data  # type: ignore[assignment]
    await store.close_programme(tx.db, tx.session, data.programme_id, event.time)


async def on_application_submitted(event: Event, tx: Transaction) -> None:
    data: ApplicationSubmitted = event.data  # type: ignore[assignment]
    app, programme = await introduce_application(event, tx, data, data.organisation.name, "submitted")
    await notify_applicant(event, tx, app, domain.application_received(app, programme, data.amount_requested))


async def on_application_ineligible(event: Event, tx: Transaction) -> None:
    data: ApplicationIneligible = event.data  # type: ignore[assignment]
    app, programme = await introduce_application(event, tx, data, None, "ineligible")
    await notify_applicant(event, tx, app, domain.application_ineligible(app, programme, data.reasons))


async def on_application_withdrawn(event: Event, tx: Transaction) -> None:
    data: ApplicationWithdrawn = event.data  # type: ignore[assignment]
    app, programme = await known_application(tx, data.application_id)
    await notify_applicant(event, tx, app, domain.application_withdrawn(app, programme, data.reason))


async def on_review_assigned(event: Event, tx: Transaction) -> None:
    data: ReviewAssigned = event.data  # type: ignore[assignment]
    contact = await store.find_contact(tx.db, data.reviewer_id, tx.session)
    programme = await store.programme_name(tx.db, tx.session, data.programme_id)
    notice = domain.review_assigned(
        data.reviewer_id, contact["name"] if contact else None, data.application_id, data.application_title,
        programme, data.due_date,
    )
    await deliver(event, tx, notice, contact, application_contact=None)


async def on_application_decided(event: Event, tx: Transaction) -> None:
    data: ApplicationDecided = event.data  # type: ignore[assignment]
    app, programme = await known_application(tx, data.application_id)
    notice = domain.application_decided(app, programme, data.outcome, data.amount_awarded, data.feedback)
    await notify_applicant(event, tx, app, notice)


async def on_grant_offered(event: Event, tx: Transaction) -> None:
    data: GrantOffered = event.data  # type: ignore[assignment]
    app, programme = await known_application(tx, data.application_id)
    await store.save_grant(tx.db, tx.session, data.grant_id, data.application_id, data.amount)
    notice = domain.grant_offered(app, programme, data.grant_id, data.amount, data.schedule)
    await notify_applicant(event, tx, app, notice)


async def on_grant_accepted(event: Event, tx: Transaction) -> None:
    data: GrantAccepted = event.data  # type: ignore[assignment]
    app, programme = await known_application(tx, data.application_id)
    amount = await store.grant_amount(tx.db, tx.session, data.grant_id)
    await notify_applicant(event, tx, app, domain.grant_accepted(app, programme, data.grant_id, amount))


async def on_payment_sent(event: Event, tx: Transaction) -> None:
    data: PaymentSent = event.data  # type: ignore[assignment]
    app, programme = await known_application(tx, data.application_id)
    await store.note_payment(tx.db, tx.session, data.payment_id, {"sent_at": data.sent_at})
    notice = domain.payment_sent(app, programme, data.amount, data.provider_reference, data.sent_at)
    await notify_applicant(event, tx, app, notice)


async def on_payment_failed(event: Event, tx: Transaction) -> None:
    data: PaymentFailed = event.data  # type: ignore[assignment]
    # Written before the payment is read: handled at the same moment as its PaymentSent, the two
    # transactions conflict on this document and whichever is retried sees the other.
    await store.note_payment(tx.db, tx.session, data.payment_id, {"last_failed_attempt": data.attempt})
    already_sent = await store.payment_sent(tx.db, tx.session, data.payment_id)
    if not domain.worth_telling_about_payment_failure(data.attempt, data.will_retry, already_sent):
        return
    app, programme = await known_application(tx, data.application_id)
    await notify_applicant(event, tx, app, domain.payment_failed(app, programme, data.reason, data.will_retry))


# --- telling integrators ---------------------------------------------------------------------------


async def tell_integrators(event: Event, tx: Transaction) -> None:
    """Queue the event, without its personal data, for every active subscription that wants its type.

    The delivery id comes from (event, subscription), so handling the same event again adds nothing."""
    subscription_ids = await store.subscribers(tx.db, tx.session, event.type)
    if not subscription_ids:
        return
    body = domain.webhook_body(event).decode()
    now = utcnow()
    for subscription_id in subscription_ids:
        await store.insert_webhook_delivery_if_new(tx.db, tx.session, {
            "_id": domain.webhook_delivery_id(event.id, subscription_id),
            "subscription_id": subscription_id,
            "event_id": event.id,
            "event_type": event.type,
            "body": body,
            "status": WebhookStatus.PENDING.value,
            "attempts": 0,
            "next_attempt_at": now,
            "claim": None,
            "claimed_at": None,
            "delivered_at": None,
            "last_status_code": None,
            "last_error": None,
            "created_at": now,
        })


# --- telling someone -------------------------------------------------------------------------------


async def introduce_application(
    event: Event, tx: Transaction, data: ApplicationSubmitted | ApplicationIneligible,
    organisation_name: str | None, status: str,
) -> tuple[ApplicationRecord, str | None]:
    """Keep what later events need to find the person an application is about; return it with the
    programme's name."""
    app = ApplicationRecord(
        application_id=data.application_id, programme_id=data.programme_id, title=data.title,
        organisation_name=organisation_name, person_id=data.contact.person_id,
        contact_name=data.contact.name, contact_email=str(data.contact.email),
    )
    await store.save_application(tx.db, tx.session, app, status, event.time)
    return app, await store.programme_name(tx.db, tx.session, data.programme_id)


async def known_application(tx: Transaction, application_id: str) -> tuple[ApplicationRecord, str | None]:
    app = await store.find_application(tx.db, tx.session, application_id)
    if app is None:
        raise ApplicationNotYetKnown(f"application {application_id} has not been submitted here yet")
    return app, await store.programme_name(tx.db, tx.session, app.programme_id)


async def notify_applicant(event: Event, tx: Transaction, app: ApplicationRecord, notice: Notice) -> None:
    contact = await store.find_contact(tx.db, notice.recipient.person_id, tx.session)
    await deliver(event, tx, notice, contact, application_contact=Mailbox(app.contact_email, app.contact_name))


async def deliver(
    event: Event, tx: Transaction, notice: Notice, contact: dict[str, Any] | None,
    application_contact: Mailbox | None,
) -> None:
    """Create the notification once, put it in the inbox now, and queue its email if there is an address."""
    recipient = notice.recipient
    notification_id = domain.notification_id(event.id, recipient.person_id, notice.template)
    registered = Mailbox(contact["email"], contact["name"]) if contact else None
    mailbox = domain.email_destination(recipient, registered, application_contact)

    rendered = render(notice, cast(Settings, tx.settings).portal_url)
    now = utcnow()
    doc = {
        "_id": notification_id,
        "recipient_id": recipient.person_id,
        "recipient_kind": recipient.kind.value,
        "template": notice.template.value,
        "event_id": event.id,
        "event_type": event.type,
        "application_id": notice.application_id,
        "subject": rendered.subject,
        "text": rendered.text,
        "html": rendered.html,
        "created_at": now,
        "read_at": None,
        "email": {
            "status": EmailStatus.PENDING.value,
            "address": mailbox.address,
            "name": mailbox.name,
            "attempts": 0,
            "next_attempt_at": now,
            "claim": None,
            "claimed_at": None,
            "sent_at": None,
            "last_error": None,
        } if mailbox else None,
    }
    if not await store.insert_notification_if_new(tx.db, tx.session, doc):
        return  # the same event reached us again past the inbox: it was told already
    await store.record_delivery(tx.db, tx.session, {
        "_id": f"{notification_id}:inbox",
        "notification_id": notification_id,
        "channel": "inbox",
        "outcome": "delivered",
        "attempt": 1,
        "recipient_id": recipient.person_id,
        "recipient_kind": recipient.kind.value,
        "template": notice.template.value,
        "answered_event_id": event.id,
        "answered_event_type": event.type,
        "at": now,
        "error": None,
    })
    await tx.emit(NotificationDelivered(
        notification_id=notification_id, channel="inbox", recipient_kind=recipient.kind.value,
        answered_event_id=event.id, answered_event_type=event.type,
    ))


def integrators_first(handler: Handler) -> Handler:
    """Every event is queued for the integrators who subscribed to it, in the same transaction as
    whatever else it causes, before anything else is done with it."""

    async def handle(event: Event, tx: Transaction) -> None:
        await tell_integrators(event, tx)
        await handler(event, tx)

    return handle


async def concerns_nobody(event: Event, tx: Transaction) -> None:
    """Consumed only so that integrators can subscribe to it."""


HANDLERS: dict[str, Handler] = {event_type: integrators_first(handler) for event_type, handler in {
    ProgrammeOpened.type: on_programme_opened,
    ProgrammeClosed.type: on_programme_closed,
    ApplicationSubmitted.type: on_application_submitted,
    ApplicationIneligible.type: on_application_ineligible,
    ApplicationWithdrawn.type: on_application_withdrawn,
    ReviewAssigned.type: on_review_assigned,
    ApplicationDecided.type: on_application_decided,
    GrantOffered.type: on_grant_offered,
    GrantAccepted.type: on_grant_accepted,
    PaymentSent.type: on_payment_sent,
    PaymentFailed.type: on_payment_failed,
    ApplicationScored.type: concerns_nobody,
    PaymentScheduled.type: concerns_nobody,
}.items()}
