"""Every change to the notifications database, each run inside the caller's transaction (``tx``) and
emitting the events it causes there: routes, handlers and the two senders call these.

- **Telling people**: an event's notification lands in the recipient's inbox at once (with its inbox
  delivery record and a NotificationDelivered event); its email part, if the person has an address,
  waits as ``pending`` for the email sender. The notification id comes from (event, recipient,
  template), so an event handled twice tells nobody twice.
- **Telling integrators**: one webhook delivery per subscription that wants the event, ``pending``
  for the webhook sender (``held`` for a subscription disabled after repeated failure); resending
  one, replaying a time range, disabling and reactivating a subscription, rotating its secret.
- **Settling what a sender attempted**, only while its claim holds: delivered (recorded and announced
  with NotificationDelivered), or failed and tried again with backoff until the attempts run out.
- **What people ask for**: their contact address, marking a notification read, their choices of
  what they are told (and one-click unsubscribes), admins' webhook subscriptions.
- **Daily digests**: one email per person per day gathering what waited for it.
"""

import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Literal

from pydantic import EmailStr, TypeAdapter, ValidationError

from grants_shared import privacy
from grants_shared.api import check_version
from grants_shared.auth import Caller
from grants_shared.clock import utcnow
from grants_shared.errors import (
    Conflict,
    NotFound,
    NotYetKnown,
    PreconditionFailed,
    PreconditionRequired,
    RuleViolation,
)
from grants_shared.events import (
    ApplicationIneligible,
    ApplicationInvited,
    ApplicationReturnedForCorrection,
    ApplicationSubmitted,
    Event,
    InterestDeclined,
    InterestSubmitted,
    NotificationDelivered,
    NotificationDeliveredV2,
    WebhookSubscriptionDisabled,
    WebhookSubscriptionReactivated,
)
from grants_shared.money import Money
from grants_shared.unit_of_work import Db, Transaction
from grants_shared.worker import ready_state
from notifications import domain, preferences, store
from notifications.config import Settings
from notifications.crypto import cipher_for
from notifications.domain import (
    ApplicationRecord,
    AttemptFailed,
    EmailStatus,
    Mailbox,
    Notice,
    Outcome,
    RecipientKind,
    SubscriptionStatus,
    Template,
    WebhookStatus,
)
from notifications.rendering import render
from notifications.schemas import ContactDetails, NewWebhook, PreferencesChange, Replay, Rotation, choices_of
from notifications.store import (
    Application,
    ApplicationContact,
    Contact,
    Delivery,
    Email,
    Grant,
    Notification,
    Preferences,
    SigningSubscription,
    WebhookDelivery,
    WebhookDeliverySummary,
    WebhookSubscription,
)
from notifications.webhooks import new_secret

log = logging.getLogger(__name__)

Tx = Transaction[Settings]

# --- what other services told us -----------------------------------------------------------------


class ApplicationNotYetKnown(NotYetKnown):
    """An event about an application whose submission has not reached us yet (events from different
    services can overtake each other). Deliberately transient: the consumer retries it later."""


async def record_programme_opened(tx: Tx, programme_id: str, name: str, closes_at: datetime) -> None:
    if await store.record_programme_opened(tx, programme_id, name, closes_at):
        # New here: whoever looked for it found nothing and kept nothing, so no old name is about.
        _programme_names.pop((tx.settings.database("notifications"), programme_id), None)
    else:
        _forget_programme_name(tx, programme_id)


async def record_programme_changed(tx: Tx, programme_id: str, name: str | None, closes_at: datetime | None) -> None:
    await store.record_programme_changed(tx, programme_id, name, closes_at)
    _forget_programme_name(tx, programme_id)


async def record_programme_closed(tx: Tx, programme_id: str, at: datetime) -> None:
    await store.record_programme_closed(tx, programme_id, at)


Introducing = (
    ApplicationSubmitted | ApplicationIneligible | ApplicationReturnedForCorrection | InterestSubmitted
    | ApplicationInvited | InterestDeclined
)  # fmt: skip


@dataclass(frozen=True)
class Introduced:
    """An application as kept here, with the address and choices its contact registered (if any)."""

    application: Application
    contact: Contact | None
    preferences: Preferences | None


async def introduce_application(tx: Tx, event: Event[Any]) -> Introduced:
    """Keep what later events need to find the person an application is about (each of these
    events carries the contact, whichever reaches us first); the application as kept, with the
    contact's address and choices (read with what was kept before)."""
    data: Introducing = event.data
    status: Literal["submitted", "ineligible", "returned_for_correction", "interest"] = "ineligible"
    person = data.contact
    found = await _what_telling_finds(tx, event, data.application_id, person.person_id)
    known = found.application
    # Only the submitted events name the organisation; keep the name a later event does not carry.
    organisation_name = known.organisation_name if known else None
    if isinstance(data, ApplicationSubmitted):
        status, organisation_name = "submitted", data.organisation.name
    elif isinstance(data, InterestSubmitted):
        status, organisation_name = "interest", data.organisation.name
    elif isinstance(data, ApplicationReturnedForCorrection):
        status = "returned_for_correction"
    elif isinstance(data, ApplicationInvited | InterestDeclined):
        status = "interest"
    contact = ApplicationContact(person_id=person.person_id, name=person.name, email=str(person.email))
    application = Application(
        id=data.application_id, programme_id=data.programme_id, title=data.title,
        organisation_name=organisation_name, contact=contact, status=status, updated_at=event.time,
    )  # fmt: skip
    store.save_application_later(tx, application)
    return Introduced(application, found.contact, found.preferences)


async def record_grant_offered(tx: Tx, grant_id: str, application_id: str, amount: Money) -> None:
    store.save_grant_later(tx, Grant(id=grant_id, application_id=application_id, amount=amount))


async def record_payment_sent(tx: Tx, payment_id: str, sent_at: datetime) -> None:
    store.note_payment_sent_later(tx, payment_id, sent_at)


async def record_payment_failed(tx: Tx, payment_id: str, attempt: int, will_retry: bool) -> bool:
    """Keep the failure; True when the applicant should hear of it (``domain.worth_telling_about_payment_failure``)."""
    # Written before the payment is read: handled at the same moment as its PaymentSent, the two
    # transactions conflict on this document and whichever is retried sees the other.
    await store.note_payment_failed(tx, payment_id, attempt)
    payment = await store.get_payment(tx, payment_id)
    already_sent = bool(payment and payment.sent_at)
    return domain.worth_telling_about_payment_failure(attempt, will_retry, already_sent)


# --- telling people --------------------------------------------------------------------------------

#: What an event tells an applicant, from what we know of the application and the programme's name.
ToApplicant = Callable[[ApplicationRecord, str | None], Notice]
#: As ToApplicant, from the amount the grant was offered for too.
ToApplicantOfGrant = Callable[[ApplicationRecord, str | None, Money | None], Notice]
#: What an event tells a reviewer, from the name they registered and the programme's name.
ToReviewer = Callable[[str | None, str | None], Notice]


async def tell_applicant(tx: Tx, event: Event[Any], application_id: str, telling: ToApplicant) -> None:
    """Tell the person an application is about; ApplicationNotYetKnown before its submission reached us.
    The application and its contact's address and choices are read together (one round trip)."""
    found = await _what_telling_finds(tx, event, application_id)
    await _tell_found(tx, event, application_id, found, telling)


async def tell_applicant_of_grant(
    tx: Tx, event: Event[Any], application_id: str, grant_id: str, telling: ToApplicantOfGrant
) -> None:
    """As ``tell_applicant``, telling what the grant was offered for too (read with the rest; None if
    its offer never reached us)."""
    found = await _what_telling_finds(tx, event, application_id, grant_id=grant_id)
    amount = found.grant.amount if found.grant else None
    await _tell_found(tx, event, application_id, found, lambda app, programme: telling(app, programme, amount))


async def _tell_found(
    tx: Tx, event: Event[Any], application_id: str, found: store.WhatTellingFinds, telling: ToApplicant
) -> None:
    if found.application is None:
        raise ApplicationNotYetKnown(f"application {application_id} has not been submitted here yet")
    await tell_about(tx, event, Introduced(found.application, found.contact, found.preferences), telling)


async def tell_about(tx: Tx, event: Event[Any], known: Introduced, telling: ToApplicant) -> None:
    """Tell the person an application is about, the application in hand (just introduced, or read)
    with its contact's address and choices."""
    application = known.application
    notice = telling(application.record(), await _programme_name(tx, application.programme_id))
    if notice.recipient.person_id == application.contact.person_id:
        contact, chosen = known.contact, known.preferences
    else:
        contact, chosen = await store.contact_and_preferences(tx, notice.recipient.person_id)
    on_application = Mailbox(application.contact.email, application.contact.name)
    await deliver(tx, event, notice, contact, choices_of(chosen), application_contact=on_application)


async def tell_reviewer(tx: Tx, event: Event[Any], reviewer_id: str, programme_id: str, telling: ToReviewer) -> None:
    found = await _what_telling_finds(tx, event, person_id=reviewer_id)
    notice = telling(found.contact.name if found.contact else None, await _programme_name(tx, programme_id))
    await deliver(tx, event, notice, found.contact, choices_of(found.preferences), application_contact=None)


async def _what_telling_finds(
    tx: Tx, event: Event[Any], application_id: str | None = None, person_id: str | None = None,
    grant_id: str | None = None,
) -> store.WhatTellingFinds:
    """The application and person to tell, read with the subscriptions that want the event, which
    ``tell_integrators`` then needs not read again."""
    found = await store.what_telling_finds(tx, event.type, application_id, person_id, grant_id)
    tx.keep(_subscribers_of(event.type), found.subscribers)
    return found


def _subscribers_of(event_type: str) -> tuple[str, str]:
    """What the subscriptions that want events of this type are kept under in a transaction (``tx.once``)."""
    return ("subscribers", event_type)


async def deliver(
    tx: Tx, event: Event[Any], notice: Notice, contact: Contact | None, choices: preferences.Choices,
    application_contact: Mailbox | None,
) -> None:  # fmt: skip
    """Create the notification once, put it in the inbox now, and queue its email if there is an address,
    as the person chose (``choices``): not emailed, kept for their daily digest, or not in the inbox."""
    recipient = notice.recipient
    notification_id = domain.notification_id(notice.about, recipient.person_id, notice.template)
    registered = Mailbox(contact.email, contact.name) if contact else None
    mailbox = domain.email_destination(recipient, registered, application_contact)
    rendered = render(notice, tx.settings.portal_url)
    now = utcnow()
    by_email = preferences.email_delivery(choices, notice.template) if mailbox else preferences.Delivery.OFF
    in_inbox = preferences.shows_in_inbox(choices, notice.template)
    notification = Notification(
        id=notification_id, recipient_id=recipient.person_id, recipient_kind=recipient.kind,
        template=notice.template, event_id=event.id, event_type=event.type, application_id=notice.application_id,
        page=notice.page,
        subject=rendered.subject, text=rendered.text, html=rendered.html, created_at=now,
        email=Email(address=mailbox.address, name=mailbox.name, **ready_state(now))
        if mailbox and by_email is preferences.Delivery.NOW else None,
        in_inbox=in_inbox, digest="waiting" if by_email is preferences.Delivery.DIGEST else None,
    )  # fmt: skip
    if not store.insert_notification_if_new_later(tx, notification):
        return  # the same event reached us again past the inbox: it was told already
    if in_inbox:
        await _delivered(tx, Parcel.of_notification(notification, "inbox"), attempt=1, at=now)


async def tell_finance_officers(tx: Tx, event: Event[Any], telling: Callable[[str, str | None], Notice]) -> None:
    """Tell every finance officer who registered a contact address (from their id and name)."""
    for officer in await tx.once("finance officers", lambda: store.finance_officers(tx)):
        choices = await person_choices(tx, officer.id)
        await deliver(tx, event, telling(officer.id, officer.name), officer, choices, application_contact=None)


#: How long a programme's name is kept as last read. Nearly every notice names its programme and a
#: name rarely changes: a rename handled in this process clears it at once, and one handled by
#: another replica reaches this one's notices within this many seconds.
PROGRAMME_NAME_SECONDS = 30.0
#: (when, name) by (database, programme); a name of None marks a programme just renamed here, read
#: afresh every time until the mark expires (a notice handled meanwhile may have read the old name).
_programme_names: dict[tuple[str, str], tuple[float, str | None]] = {}


async def _programme_name(tx: Tx, programme_id: str) -> str | None:
    key = (tx.settings.database("notifications"), programme_id)
    kept = _programme_names.get(key)
    fresh = kept is not None and time.monotonic() - kept[0] < PROGRAMME_NAME_SECONDS
    if kept and fresh and kept[1] is not None:
        return kept[1]
    programme = await store.get_programme(tx, programme_id)
    if programme is None:
        return None  # not opened here yet: asked again next time
    if not fresh:
        _programme_names[key] = (time.monotonic(), programme.name)
    return programme.name


def _forget_programme_name(tx: Tx, programme_id: str) -> None:
    _programme_names[(tx.settings.database("notifications"), programme_id)] = (time.monotonic(), None)


# --- telling integrators ---------------------------------------------------------------------------


async def tell_integrators(tx: Tx, event: Event[Any]) -> None:
    """Queue the event, without its personal data, for every active subscription that wants its type;
    for a disabled one it is kept ``held`` until the subscription is reactivated.

    The delivery id comes from (event, subscription), so handling the same event again adds nothing."""
    subscriptions = await tx.once(_subscribers_of(event.type), lambda: store.subscribers(tx, event.type))
    if not subscriptions:
        return
    body = domain.webhook_body(event).decode()
    now = utcnow()
    for subscription_id, status in subscriptions:
        held = status is SubscriptionStatus.DISABLED
        store.insert_webhook_delivery_if_new_later(tx, WebhookDelivery(
            id=domain.webhook_delivery_id(event.id, subscription_id), subscription_id=subscription_id,
            event_id=event.id, event_type=event.type, body=body, created_at=now,
            **ready_state(now, WebhookStatus.HELD if held else WebhookStatus.PENDING),
        ))  # fmt: skip


# --- settling what the senders attempted -------------------------------------------------------------


@dataclass(frozen=True)
class Parcel:
    """What the delivery audit and NotificationDelivered name about one thing delivered on a channel."""

    id: str
    channel: domain.Channel
    recipient_id: str
    recipient_kind: RecipientKind
    template: Template | None
    event_id: str
    event_type: str

    @classmethod
    def of_notification(cls, notification: Notification, channel: Literal["inbox", "email"]) -> "Parcel":
        n = notification
        return cls(n.id, channel, n.recipient_id, n.recipient_kind, n.template, n.event_id, n.event_type)

    @classmethod
    def of_webhook(cls, delivery: WebhookDelivery) -> "Parcel":
        """The recipient is the subscription."""
        d = delivery
        return cls(d.id, "webhook", d.subscription_id, RecipientKind.INTEGRATOR, None, d.event_id, d.event_type)

    def attempt(
        self, attempt: int, outcome: Outcome, at: datetime, error: str | None = None, status_code: int | None = None
    ) -> Delivery:
        """The audit's record of one attempt (no bodies, no addresses); the inbox is reached once."""
        record_id = f"{self.id}:inbox" if self.channel == "inbox" else f"{self.id}:{self.channel}:{attempt}"
        return Delivery(
            id=record_id, notification_id=self.id, channel=self.channel, outcome=outcome, attempt=attempt,
            recipient_id=self.recipient_id, recipient_kind=self.recipient_kind, template=self.template,
            answered_event_id=self.event_id, answered_event_type=self.event_type, at=at, error=error,
            status_code=status_code,
        )  # fmt: skip


async def claim_email(tx: Db, notification: Notification, claim: str) -> bool:
    """Take a due email for this sender: of several replicas that read it, one wins. One conditional
    update, so the sender makes it outside any transaction."""
    return await store.claim_email(tx, notification, claim, utcnow())


async def claim_emails(tx: Db, docs: list[dict[str, Any]], claim: str) -> list[Notification]:
    """Take together the due emails of these notifications (as the sender read them): one update,
    with no transaction; those this sender took (another replica may have been first to some)."""
    return await store.claim_ready_emails(tx, docs, claim, utcnow())


async def email_sent(tx: Tx, notification: Notification, claim: str, attempt: int) -> None:
    """The SMTP relay took the email."""
    now = utcnow()
    status = domain.check_move(EmailStatus.SENDING, EmailStatus.SENT)
    settled = await _settle_email(tx, notification, claim, status, {"sent_at": now, "last_error": None})
    if settled is None:
        _taken_over(notification.id)
    elif settled:
        await _delivered(tx, Parcel.of_notification(notification, "email"), attempt, now)


async def _settle_email(
    tx: Tx, notification: Notification, claim: str, status: EmailStatus, fields: dict[str, object]
) -> bool | None:
    """Settle a claimed email: True when it is settled for the recipient the sender read; False when
    settled but that person was erased while it was being sent (nothing of theirs is to be recorded
    then); None when the claim no longer holds."""
    if await store.finish_email(tx, notification.id, claim, status, fields, recipient_id=notification.recipient_id):
        return True
    return False if await store.finish_email(tx, notification.id, claim, status, fields) else None


class ClaimsLost(Exception):
    """Emails settled together were not all still claimed by their sender (a lease ran out and
    another sender took one over), or not all still for the person the sender read (erased
    meanwhile): nothing was written; each is settled alone instead."""


async def emails_sent(tx: Tx, sent: list[tuple[Notification, int]], claim: str) -> None:
    """The SMTP relay took these emails, claimed together under ``claim`` (each with its attempt):
    settled in one update, their audit records written with their events. ClaimsLost unless every
    claim held."""
    now = utcnow()
    status = domain.check_move(EmailStatus.SENDING, EmailStatus.SENT)
    fields = {"status": status, "sent_at": now, "last_error": None}
    ids, recipients = [n.id for n, _ in sent], {n.recipient_id for n, _ in sent}
    if not await store.finish_emails(tx, ids, claim, fields, recipient_ids=recipients):
        raise ClaimsLost  # or a recipient was erased meanwhile: each alone finds out which
    parcels = [(Parcel.of_notification(notification, "email"), attempt) for notification, attempt in sent]
    for parcel, attempt in parcels:
        store.record_delivery(tx, parcel.attempt(attempt, "delivered", now))
        await _announce_delivered(tx, parcel)


async def email_failed(tx: Tx, notification: Notification, claim: str, attempt: int, failure: AttemptFailed) -> None:
    """Tried again after the backoff; failed for good once the attempts run out, or at once when the
    server refused the recipient for good (a 5xx)."""
    s = tx.settings
    now = utcnow()
    retry_at = domain.next_attempt(
        attempt, now, max_attempts=s.email_max_attempts, base_seconds=s.email_retry_base_seconds,
        max_seconds=s.email_retry_max_seconds, permanent=failure.permanent,
    )  # fmt: skip
    status = domain.check_move(EmailStatus.SENDING, EmailStatus.PENDING if retry_at else EmailStatus.FAILED)
    if await _settle_email(tx, notification, claim, status, _retry_fields(failure, retry_at)):
        await _attempt_failed(tx, Parcel.of_notification(notification, "email"), attempt, failure, retry_at, now)


async def claim_webhook(tx: Tx, delivery: WebhookDelivery, claim: str) -> SigningSubscription | None:
    """Take a due webhook delivery for this sender, with the subscription it is signed for and sent to.
    A deactivated subscription's delivery is cancelled instead, a disabled one's held: nothing is
    sent, and that is no attempt."""
    if not await store.claim_webhook_delivery(tx, delivery, claim, utcnow()):
        return None
    subscription = await store.get_signing_subscription(tx, delivery.subscription_id)
    if subscription is None or subscription.status is not SubscriptionStatus.ACTIVE:
        if subscription is not None and subscription.status is SubscriptionStatus.DISABLED:
            status, why = WebhookStatus.HELD, "held: the subscription is disabled"
        else:
            status, why = WebhookStatus.CANCELLED, "the subscription was deactivated"
        moved = domain.check_move(WebhookStatus.SENDING, status)
        await store.finish_webhook_delivery(tx, delivery.id, claim, moved, {"last_error": why}, attempted=False)
        return None
    return subscription


async def webhook_delivered(
    tx: Tx, delivery: WebhookDelivery, claim: str, attempt: int, status_code: int | None
) -> None:
    """The integrator's endpoint answered 2xx."""
    now = utcnow()
    status = domain.check_move(WebhookStatus.SENDING, WebhookStatus.DELIVERED)
    fields = {"delivered_at": now, "last_error": None, "last_status_code": status_code}
    if not await store.finish_webhook_delivery(tx, delivery.id, claim, status, fields):
        _taken_over(delivery.id)
        return
    await store.note_webhook_success(tx, delivery.subscription_id)
    await _delivered(tx, Parcel.of_webhook(delivery), attempt, now, status_code)


async def webhook_failed(
    tx: Tx, delivery: WebhookDelivery, claim: str, attempt: int, failure: AttemptFailed
) -> None:
    """Another status, a refused connection or address, or no answer in time: tried again after the
    backoff, failed for good once this round's attempts run out. Repeated failure disables the
    subscription (``domain.should_disable``)."""
    s = tx.settings
    now = utcnow()
    retry_at = domain.next_attempt(
        attempt - delivery.attempts_before, now, max_attempts=s.webhook_max_attempts,
        base_seconds=s.webhook_retry_base_seconds, max_seconds=s.webhook_retry_max_seconds,
        permanent=failure.permanent,
    )  # fmt: skip
    status = domain.check_move(WebhookStatus.SENDING, WebhookStatus.PENDING if retry_at else WebhookStatus.FAILED)
    fields = {**_retry_fields(failure, retry_at), "last_status_code": failure.status_code}
    if await store.finish_webhook_delivery(tx, delivery.id, claim, status, fields):
        await _attempt_failed(tx, Parcel.of_webhook(delivery), attempt, failure, retry_at, now)
        await store.note_webhook_failure(tx, delivery.subscription_id, now, gave_up=retry_at is None)
        await _disable_if_failing(tx, delivery.subscription_id, now)


async def _disable_if_failing(tx: Tx, subscription_id: str, now: datetime) -> None:
    s = tx.settings
    subscription = await store.get_subscription(tx, subscription_id)
    if subscription is None or subscription.status is not SubscriptionStatus.ACTIVE:
        return
    if not domain.should_disable(
        subscription.failed_deliveries, subscription.failing_since, now,
        max_failed_deliveries=s.webhook_disable_after_failed_deliveries,
        max_failing_seconds=s.webhook_disable_after_failing_seconds,
    ):  # fmt: skip
        return
    if subscription.failed_deliveries >= s.webhook_disable_after_failed_deliveries:
        reason = f"{subscription.failed_deliveries} deliveries in a row failed for good"
    else:
        reason = f"every attempt has failed since {subscription.failing_since:%Y-%m-%d %H:%M} UTC"
    at = _now_as_stored()
    status = domain.check_move(subscription.status, SubscriptionStatus.DISABLED)
    disabled = await _change_subscription(tx, subscription, None, status=status, active=False, disabled_at=at)
    log.warning("webhook subscription %s disabled: %s", subscription_id, reason)
    await tx.emit(WebhookSubscriptionDisabled(
        subscription_id=subscription_id, reason=reason, failing_since=subscription.failing_since,
        failed_deliveries=subscription.failed_deliveries, disabled_at=disabled.disabled_at or at,
    ))  # fmt: skip


def _retry_fields(failure: AttemptFailed, retry_at: datetime | None) -> dict[str, object]:
    return {"last_error": str(failure), **({"next_attempt_at": retry_at} if retry_at else {})}


def _taken_over(item_id: str) -> None:
    # Our lease ran out mid-attempt and another sender took over; it records the delivery.
    log.warning("%s was delivered but its claim had been taken over", item_id)


async def _delivered(tx: Tx, parcel: Parcel, attempt: int, at: datetime, status_code: int | None = None) -> None:
    store.record_delivery(tx, parcel.attempt(attempt, "delivered", at, status_code=status_code))
    await _announce_delivered(tx, parcel)


async def _announce_delivered(tx: Tx, parcel: Parcel) -> None:
    delivered = {"notification_id": parcel.id, "channel": parcel.channel, "recipient_kind": parcel.recipient_kind,
                 "answered_event_id": parcel.event_id, "answered_event_type": parcel.event_type}  # fmt: skip
    if parcel.recipient_kind is not RecipientKind.FINANCE_OFFICER:  # v1 cannot name them
        await tx.emit(NotificationDelivered(**delivered))
    await tx.emit(NotificationDeliveredV2(**delivered))


async def _attempt_failed(
    tx: Tx, parcel: Parcel, attempt: int, failure: AttemptFailed, retry_at: datetime | None, at: datetime
) -> None:
    outcome: Outcome = "failed" if retry_at else "gave_up"
    store.record_delivery(tx, parcel.attempt(attempt, outcome, at, str(failure), failure.status_code))


# --- contact addresses -----------------------------------------------------------------------------


async def register_contact(
    tx: Tx, person_id: str, details: ContactDetails, version: int | None, finance_officer: bool = False
) -> tuple[Contact, bool]:
    """Register the address (no If-Match), or change it (the version last read). True when registered.
    ``finance_officer``: the caller's role now, so that they are told of payment runs to approve."""
    existing = await store.get_contact(tx, person_id)
    now = utcnow()
    if existing is None and version is None:
        created = Contact(
            id=person_id, email=str(details.email), name=details.name, finance_officer=finance_officer, version=1,
            created_at=now, updated_at=now,
        )
        if await store.insert_contact_if_new(tx, created):
            return created, True
        existing = await store.get_contact(tx, person_id)  # registered at the same moment: this is a change
    if existing is None:
        raise PreconditionFailed("there is no contact address to change yet; register one without If-Match")
    if version is None:
        raise PreconditionRequired("send the ETag you last read in an If-Match header")
    check_version(version, existing.version)
    changed = existing.model_copy(update={
        "email": str(details.email), "name": details.name, "finance_officer": finance_officer, "updated_at": now,
        "version": existing.version + 1,
        "source": "registered",  # from now on theirs: a token's address no longer replaces it
    })  # fmt: skip
    if not await store.replace_contact(tx, changed, existing.version):
        raise PreconditionFailed(f"your contact is at version {existing.version}; read it again and retry")
    return changed, False


async def record_token_contact(tx: Tx, caller: Caller) -> tuple[Contact, bool]:
    """The address in the caller's sign-in token becomes where their notifications go, unless they
    registered one themselves (that always wins). Called when they sign in, so a reviewer or panel
    member is emailed without registering separately. True when the contact was created."""
    if not caller.email:
        raise RuleViolation("your sign-in carries no email address: register one instead")
    try:
        email = str(_EMAIL.validate_python(caller.email))
    except ValidationError:
        raise RuleViolation("the email address your sign-in carries is not one we can write to") from None
    name = (caller.name or "").strip()[:200]
    existing = await store.get_contact(tx, caller.subject)
    now = utcnow()
    if existing is None:
        created = Contact(
            id=caller.subject, email=email, name=name, version=1, created_at=now, updated_at=now, source="token"
        )
        if await store.insert_contact_if_new(tx, created):
            await _email_what_waited(tx, created, now)
            return created, True
        existing = await store.get_contact(tx, caller.subject)
        assert existing is not None
    if existing.source != "token" or (existing.email, existing.name) == (email, name):
        return existing, False
    # Their identity provider's address changed: follow it (they never chose another).
    changed = existing.model_copy(
        update={"email": email, "name": name, "updated_at": now, "version": existing.version + 1}
    )
    if not await store.replace_contact(tx, changed, existing.version):
        raise PreconditionFailed("your contact changed at the same moment; sign in again")
    return changed, False


_EMAIL = TypeAdapter(EmailStr)

#: Messages to someone with no address yet that are still worth emailing once their first address is
#: known (a review assigned before the reviewer first signed in); older ones stay in the inbox only.
WAITED_FOR_AN_ADDRESS = timedelta(days=30)
#: At most this many are emailed at once, so a first sign-in stays a quick request.
MOST_EMAILED_LATE = 50


async def _email_what_waited(tx: Tx, contact: Contact, now: datetime) -> None:
    """Email the unread messages that were kept for the person while no address was known, as their
    choices say (now, or in their next digest). Only once: their first address is recorded once."""
    choices = await person_choices(tx, contact.id)
    waited = await store.unemailed_notifications(tx, contact.id, now - WAITED_FOR_AN_ADDRESS, MOST_EMAILED_LATE)
    for notification in waited:
        delivery = preferences.email_delivery(choices, notification.template)
        if delivery is preferences.Delivery.NOW:
            email = Email(address=contact.email, name=contact.name or None, **ready_state(now))
            await store.add_late_email(tx, notification.id, email)
        elif delivery is preferences.Delivery.DIGEST:
            await store.add_late_email(tx, notification.id, None, digest="waiting")


# --- the inbox -------------------------------------------------------------------------------------


async def mark_read(tx: Tx, recipient_id: str, notification_id: str) -> Notification:
    await store.mark_read(tx, recipient_id, notification_id, utcnow())
    notification = await store.own_notification(tx, recipient_id, notification_id)
    if notification is None:
        raise NotFound("no such notification in your inbox")
    return notification


# --- webhook subscriptions -------------------------------------------------------------------------


async def subscribe_webhook(tx: Tx, request: NewWebhook) -> tuple[WebhookSubscription, str]:
    """The new subscription, and its signing secret in the clear: the one time it is shown. (The API
    has checked that the endpoint is at a public address, before the transaction.)"""
    secret = new_secret()
    now = _now_as_stored()
    subscription = SigningSubscription(
        id="whs_" + secrets.token_hex(12), url=request.url, event_types=sorted(set(request.event_types)),
        description=request.description, active=True, status=SubscriptionStatus.ACTIVE,
        secret=cipher_for(tx.settings).encrypt(secret), created_by=tx.actor or "system", created_at=now,
        secret_rotated_at=now, version=1,
    )  # fmt: skip
    await store.insert_subscription(tx, subscription)
    return _without_secret(subscription), secret


async def deactivate_webhook(tx: Tx, subscription_id: str, version: int | None) -> WebhookSubscription:
    """Nothing more is queued for it; what still waits is cancelled when the sender reaches it.
    Deactivating twice changes nothing."""
    subscription = await _subscription(tx, subscription_id)
    if subscription.status is SubscriptionStatus.DEACTIVATED:
        return subscription
    status = domain.check_move(subscription.status, SubscriptionStatus.DEACTIVATED)
    return await _change_subscription(
        tx, subscription, version, status=status, active=False, deactivated_at=_now_as_stored()
    )


async def reactivate_webhook(tx: Tx, subscription_id: str, version: int | None) -> tuple[WebhookSubscription, int]:
    """Active again, with its failure count cleared; the deliveries held while it was disabled go out
    (a new round of retries each). Reactivating an active one changes nothing. How many were released."""
    subscription = await _subscription(tx, subscription_id)
    if subscription.status is SubscriptionStatus.ACTIVE:
        return subscription, 0
    status = domain.check_move(subscription.status, SubscriptionStatus.ACTIVE)
    at = _now_as_stored()
    reactivated = await _change_subscription(
        tx, subscription, version, status=status, active=True, reactivated_at=at, deactivated_at=None,
        disabled_at=None, failing_since=None, failed_deliveries=0,
    )  # fmt: skip
    await store.reset_webhook_failures(tx, subscription_id)
    held, _ = await store.deliveries_to_send_again(tx, subscription_id, frozenset({WebhookStatus.HELD}))
    released = await _queue_again(tx, held, "released: the subscription was reactivated")
    await tx.emit(WebhookSubscriptionReactivated(subscription_id=subscription_id, released=released, reactivated_at=at))
    return reactivated, released


async def rotate_webhook_secret(
    tx: Tx, subscription_id: str, version: int | None, rotation: Rotation | None = None
) -> tuple[WebhookSubscription, str]:
    """A new signing secret, in the clear for the one answer that shows it. The old one goes on
    signing (a second signature) for the overlap asked for, the settings' by default; then it stops.
    Rotating again within an overlap drops the oldest secret at once."""
    subscription = await _subscription(tx, subscription_id)
    if subscription.status is SubscriptionStatus.DEACTIVATED:
        raise Conflict("the subscription is deactivated; reactivate it or create a new one")
    signing = await store.get_signing_subscription(tx, subscription_id)
    assert signing is not None  # read in this transaction just above
    overlap = tx.settings.webhook_secret_overlap_seconds
    if rotation is not None and rotation.overlap_seconds is not None:
        overlap = rotation.overlap_seconds
    secret = new_secret()
    now = _now_as_stored()
    rotated = await _change_subscription(
        tx, signing, version, secret=cipher_for(tx.settings).encrypt(secret), secret_rotated_at=now,
        previous_secret=signing.secret if overlap > 0 else None,
        previous_secret_until=now + timedelta(seconds=overlap) if overlap > 0 else None,
    )  # fmt: skip
    return _without_secret(rotated), secret


async def resend_webhook_delivery(tx: Tx, subscription_id: str, delivery_id: str) -> WebhookDeliverySummary:
    """Send one delivery again, with the same webhook-id and body (a new round of retries); one that
    is already waiting or being sent is left as it is."""
    subscription = await _subscription(tx, subscription_id)
    _check_sendable(subscription)
    delivery = await store.get_webhook_delivery(tx, subscription_id, delivery_id)
    if delivery is None:
        raise NotFound("no such delivery for this subscription")
    if delivery.status in domain.SENDABLE_AGAIN:
        if not await store.queue_webhook_again(tx, delivery, utcnow(), None):
            raise PreconditionFailed("the delivery changed meanwhile; read it again and retry")
    found = await store.get_webhook_delivery(tx, subscription_id, delivery_id)
    assert found is not None
    return found


async def replay_webhook_deliveries(tx: Tx, subscription_id: str, replay: Replay) -> tuple[int, int]:
    """Queue again, oldest first, every delivery of this subscription queued in the time range that is
    not already waiting: the same webhook-id per (event, subscription), so the integrator can tell a
    replayed event from a new one. At most ``replay.limit`` at once: (queued, how many remain)."""
    subscription = await _subscription(tx, subscription_id)
    _check_sendable(subscription)
    found, total = await store.deliveries_to_send_again(
        tx, subscription_id, domain.SENDABLE_AGAIN, replay.since, replay.until, replay.limit
    )
    queued = await _queue_again(tx, found, None)
    return queued, total - queued


def _check_sendable(subscription: WebhookSubscription) -> None:
    if subscription.status is not SubscriptionStatus.ACTIVE:
        raise Conflict(f"the subscription is {subscription.status}; reactivate it first")


async def _queue_again(tx: Tx, deliveries: list[WebhookDeliverySummary], why: str | None) -> int:
    now = utcnow()
    queued = 0
    for delivery in deliveries:
        domain.check_move(delivery.status, WebhookStatus.PENDING)
        if not await store.queue_webhook_again(tx, delivery, now, why):
            raise PreconditionFailed("a delivery changed meanwhile; try again")
        queued += 1
    return queued


async def _subscription(tx: Tx, subscription_id: str) -> WebhookSubscription:
    subscription = await store.get_subscription(tx, subscription_id)
    if subscription is None:
        raise NotFound("no such webhook subscription")
    return subscription


async def _change_subscription(
    tx: Tx, subscription: WebhookSubscription, version: int | None, **changes: object
) -> WebhookSubscription:
    """Deactivating and rotating need no If-Match (they edit nothing a person wrote); one that is sent
    must still be current."""
    check_version(version, subscription.version)
    changed = subscription.model_copy(update={**changes, "version": subscription.version + 1})
    if not await store.update_subscription(tx, changed, subscription.version):
        raise PreconditionFailed("the subscription changed meanwhile; read it again and retry")
    return changed


def _without_secret(subscription: WebhookSubscription) -> WebhookSubscription:
    return WebhookSubscription.model_validate(subscription.model_dump(exclude={"secret", "previous_secret"}))


def _now_as_stored() -> datetime:
    """MongoDB keeps milliseconds: answer with the time a later GET will show."""
    now = utcnow()
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


# --- erasing a person (UK GDPR article 17) --------------------------------------------------------


async def erase_person(tx: Tx, request_id: str, person_id: str) -> None:
    """Anonymise what this service holds about the person, once per request; the record that it did
    is this service's confirmation (GET /v1/personal-data/erasures/{request_id})."""
    await privacy.erase(tx, store.PERSONAL_DATA, person_id, request_id)


async def anonymise_application(tx: Tx, application_id: str) -> None:
    """The application's retention period ended: remove what this service holds about people in it."""
    await privacy.erase(tx, store.APPLICATION_DATA, application_id, f"retention-{application_id}", actor=False)


# --- people's choices ------------------------------------------------------------------------------


async def person_choices(tx: Tx, person_id: str) -> preferences.Choices:
    return choices_of(await store.get_preferences(tx, person_id))


async def change_preferences(
    tx: Tx, person_id: str, change: PreferencesChange, version: int | None, may_digest: bool
) -> Preferences:
    """Store a person's choices: the first time needs no If-Match, a change the version last read.
    The request has been checked already: only kinds that can be turned off, a digest only for those
    whose role may have one."""
    if change.digest and not may_digest:
        raise RuleViolation("a daily digest is for reviewers and programme managers")
    existing = await store.get_preferences(tx, person_id)
    now = _now_as_stored()
    fields = {"email_off": sorted(set(change.email_off)), "inbox_off": sorted(set(change.inbox_off)),
              "digest": change.digest, "updated_at": now}  # fmt: skip
    if existing is None:
        created = Preferences(id=person_id, version=1, **fields)
        if await store.insert_preferences_if_new(tx, created):
            return created
        existing = await store.get_preferences(tx, person_id)
        assert existing is not None
    if version is None:
        raise PreconditionRequired("send the ETag you last read in an If-Match header")
    check_version(version, existing.version)
    changed = existing.model_copy(update={**fields, "version": existing.version + 1})
    if not await store.replace_preferences(tx, changed, existing.version):
        raise PreconditionFailed(f"your choices are at version {existing.version}; read them again and retry")
    return changed


async def unsubscribe(tx: Tx, person_id: str, kind: str) -> preferences.Choices:
    """One click in an email: that kind of email is turned off for that person (the digest, for a
    digest). Clicking twice changes nothing more."""
    before = await person_choices(tx, person_id)
    after = preferences.unsubscribed(before, kind)
    if after == before:
        return after
    existing = await store.get_preferences(tx, person_id)
    now = _now_as_stored()
    fields = {"email_off": sorted(after.email_off), "inbox_off": sorted(after.inbox_off), "digest": after.digest,
              "updated_at": now}  # fmt: skip
    if existing is None:
        if not await store.insert_preferences_if_new(tx, Preferences(id=person_id, version=1, **fields)):
            raise PreconditionFailed("your choices changed meanwhile; try again")
        return after
    changed = existing.model_copy(update={**fields, "version": existing.version + 1})
    if not await store.replace_preferences(tx, changed, existing.version):
        raise PreconditionFailed("your choices changed meanwhile; try again")
    return after


# --- daily digests ---------------------------------------------------------------------------------


async def send_digest(tx: Tx, person_id: str, day: date, cutoff: datetime) -> bool:
    """Gather what waited for this person's digest from before ``cutoff`` into one email, once per
    person per day (its id comes from both). False when there was nothing to gather, or the digest of
    that day exists already (what waited since is gathered by the next one)."""
    waiting = await store.waiting_for_digest(tx, person_id, cutoff)
    contact = await store.get_contact(tx, person_id)
    if not waiting:
        return False
    digest_id = domain.notification_id(f"digest:{day.isoformat()}", person_id, Template.DAILY_DIGEST)
    if contact is None:
        await store.gather_into_digest(tx, [n.id for n in waiting], digest_id)  # nowhere to send it
        return False
    lines = [preferences.DigestLine(n.subject, n.page, n.created_at) for n in waiting]
    notice = preferences.digest_notice(person_id, waiting[0].recipient_kind, contact.name, day, lines)
    rendered = render(notice, tx.settings.portal_url)
    now = utcnow()
    digest = Notification(
        id=digest_id, recipient_id=person_id, recipient_kind=waiting[0].recipient_kind,
        template=Template.DAILY_DIGEST, event_id=digest_id, event_type="digest", page="/inbox",
        subject=rendered.subject, text=rendered.text, html=rendered.html, created_at=now, in_inbox=False,
        email=Email(address=contact.email, name=contact.name, **ready_state(now)),
    )  # fmt: skip
    if not store.insert_notification_if_new_later(tx, digest):
        return False
    await store.gather_into_digest(tx, [n.id for n in waiting], digest_id)
    return True

