"""The notifications database: its documents, indexes and every query on it.

What other services told us, kept for the messages:

- ``programmes``: programme names (from programme.opened / .closed).
- ``applications``: title, programme and contact of each application (from application.submitted /
  .ineligible); how later events find the person to tell.
- ``grants``: the offered amount of each grant, for the acceptance message.
- ``payments``: which payments were sent, so a failure that arrives late tells nobody it is delayed.

What notifications owns:

- ``contacts``: the email address a person registered for themselves (PUT /v1/me/contact).
- ``notifications``: one per (event, recipient, template), with its rendered bodies, its read state
  and its ``email`` part (the email sender's queue).
- ``deliveries``: one record per delivery attempt on a channel, for audit (no bodies, no addresses).
- ``webhook_subscriptions``: integrators' endpoints, the event types each wants and its signing
  secret (encrypted).
- ``webhook_deliveries``: one per (event, subscription) with the exact body to send; the webhook
  sender's queue.
- ``preferences``: a person's choices of what they are told (email, inbox, daily digest).

Every function takes ``tx``: the transaction it runs in, or the service's database for a plain read.
Where an event may arrive twice, writes are upserts that insert only what is new (a duplicate-key
error would abort the handler's whole transaction).
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from pydantic import model_validator
from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

from grants_shared.documents import Document, Joined, Part, read_together
from grants_shared.money import Money
from grants_shared.paging import offset_page
from grants_shared.privacy import ERASED_EMAIL, ERASED_NAME, PSEUDONYM, PersonalData
from grants_shared.unit_of_work import Db, Transaction
from grants_shared.worker import LeasedQueue
from notifications.domain import (
    ApplicationRecord,
    Channel,
    EmailStatus,
    Outcome,
    RecipientKind,
    SubscriptionStatus,
    Template,
    WebhookStatus,
)

# --- what other services told us -----------------------------------------------------------------


class Programme(Document):
    """A close may arrive before its open: then the name is not known yet."""

    name: str | None = None
    closes_at: datetime | None = None
    status: Literal["open", "closed"]
    closed_at: datetime | None = None


class ApplicationContact(Part):
    person_id: str
    name: str
    email: str


class Application(Document):
    programme_id: str
    title: str
    organisation_name: str | None = None
    contact: ApplicationContact
    status: Literal["submitted", "ineligible", "returned_for_correction", "interest"]
    updated_at: datetime

    def record(self) -> ApplicationRecord:
        return ApplicationRecord(
            application_id=self.id, programme_id=self.programme_id, title=self.title,
            organisation_name=self.organisation_name, person_id=self.contact.person_id,
            contact_name=self.contact.name, contact_email=self.contact.email,
        )  # fmt: skip


class Grant(Document):
    application_id: str
    amount: Money


class Payment(Document):
    sent_at: datetime | None = None
    last_failed_attempt: int | None = None


# --- what notifications owns ----------------------------------------------------------------------


class Contact(Document):
    """Where a person wants their notifications sent; ``id`` is their subject."""

    email: str
    name: str
    #: They signed in as a finance officer when they last registered it: told of payment runs to approve.
    finance_officer: bool = False
    version: int
    created_at: datetime
    updated_at: datetime
    #: "registered": the person gave it (PUT /v1/me/contact); "token": the address their sign-in
    #: token carries, recorded when they signed in (PUT /v1/me/contact/from-token). A registered
    #: address is never replaced by a token's.
    source: Literal["registered", "token"] = "registered"


class EmailProgress(Part):
    """Where a notification's email stands: its place on the email queue."""

    status: EmailStatus
    attempts: int = 0
    next_attempt_at: datetime | None = None
    claim: str | None = None
    claimed_at: datetime | None = None
    sent_at: datetime | None = None
    last_error: str | None = None


class Email(EmailProgress):
    """The email copy of a notification: where it goes, and where it stands."""

    address: str
    name: str | None = None


class NotificationSummary(Document):
    """A notification as the inbox lists it: no bodies, no address."""

    recipient_id: str
    recipient_kind: RecipientKind
    template: Template
    event_id: str
    event_type: str
    application_id: str | None = None
    #: The portal page it is about (a path), for the inbox to link to.
    page: str = "/"
    subject: str
    created_at: datetime
    read_at: datetime | None = None
    #: False when the person turned this kind off in their inbox (or for a digest's own email).
    in_inbox: bool = True
    #: ``waiting`` for the person's next daily digest, then ``gathered`` into ``digest_id``.
    digest: Literal["waiting", "gathered"] | None = None
    digest_id: str | None = None
    email: EmailProgress | None = None


class Notification(NotificationSummary):
    """What one person is told about one event, rendered once when the event was handled."""

    text: str
    html: str
    email: Email | None = None


class Delivery(Document):
    """One attempt to deliver a notification (or a webhook) on one channel. No bodies, no addresses."""

    notification_id: str
    channel: Channel
    outcome: Outcome
    attempt: int
    recipient_id: str
    recipient_kind: RecipientKind
    #: Webhooks have no template: they carry the event itself.
    template: Template | None = None
    answered_event_id: str
    answered_event_type: str
    at: datetime
    error: str | None = None
    #: The HTTP status an integrator's endpoint answered (webhooks only).
    status_code: int | None = None


class WebhookSubscription(Document):
    """An integrator's endpoint as admins see it: without its secrets, which are read only to sign."""

    url: str
    event_types: list[str]
    description: str
    #: True while ``status`` is active (kept for the ``active`` filter and for older clients).
    active: bool
    status: SubscriptionStatus
    created_by: str
    created_at: datetime
    secret_rotated_at: datetime
    #: Until then the rotated-out secret signs too (a second signature).
    previous_secret_until: datetime | None = None
    deactivated_at: datetime | None = None
    disabled_at: datetime | None = None
    reactivated_at: datetime | None = None
    #: The first failed attempt since the last delivery (None while deliveries succeed).
    failing_since: datetime | None = None
    #: Deliveries in a row that failed for good (reset by any delivery).
    failed_deliveries: int = 0
    version: int

    @model_validator(mode="before")
    @classmethod
    def _status_of_older_documents(cls, data: Any) -> Any:
        # Subscriptions stored before statuses existed were active or deactivated.
        if isinstance(data, dict) and "status" not in data and "active" in data:
            data = {**data, "status": SubscriptionStatus.ACTIVE if data["active"] else SubscriptionStatus.DEACTIVATED}
        return data


class SigningSubscription(WebhookSubscription):
    """With its signing secrets, encrypted (``crypto.SecretsCipher``): the current one, and the one
    rotated out while its overlap lasts."""

    secret: str
    previous_secret: str | None = None


class WebhookDeliverySummary(Document):
    """One event on its way to one subscription, as admins list it: without the body."""

    subscription_id: str
    event_id: str
    event_type: str
    status: WebhookStatus
    attempts: int = 0
    next_attempt_at: datetime | None = None
    claim: str | None = None
    claimed_at: datetime | None = None
    delivered_at: datetime | None = None
    last_status_code: int | None = None
    last_error: str | None = None
    created_at: datetime
    #: Attempts made before the last resend, replay or reactivation (a new round of retries).
    attempts_before: int = 0
    #: When it was last queued again (resent, replayed, or released from being held).
    requeued_at: datetime | None = None


class WebhookDelivery(WebhookDeliverySummary):
    """With the exact body every attempt sends (the event without its personal data, rendered once)."""

    body: str


#: An email waits in its notification's ``email`` part; a webhook delivery is a document of its own.
EMAIL_QUEUE = LeasedQueue(
    collection="notifications", ready=(EmailStatus.PENDING,), claimed=EmailStatus.SENDING, part="email"
)
WEBHOOK_QUEUE = LeasedQueue(
    collection="webhook_deliveries", ready=(WebhookStatus.PENDING,), claimed=WebhookStatus.SENDING
)


# --- what this service holds about people (grants_shared.privacy) --------------------------------

PERSONAL_DATA = (
    PersonalData("contacts", "_id", {}, delete=True, about="The address you asked to be sent messages at"),
    PersonalData("preferences", "_id", {}, delete=True, about="Which messages you chose to get, and how"),
    # The email part first: the next line replaces the recipient the two are found by.
    PersonalData("notifications", "recipient_id", {"email.address": ERASED_EMAIL, "email.name": None},
                 where={"email.address": {"$exists": True}}, about="Emails sent to you"),  # fmt: skip
    PersonalData("notifications", "recipient_id", {
        "recipient_id": PSEUDONYM, "subject": ERASED_NAME, "text": "", "html": "",
    }, about="Messages in your inbox"),  # fmt: skip
    PersonalData("deliveries", "recipient_id", {"recipient_id": PSEUDONYM}, about="When each message reached you"),
    PersonalData("applications", "contact.person_id", {
        "contact.person_id": PSEUDONYM, "contact.name": ERASED_NAME, "contact.email": ERASED_EMAIL,
    }, about="Applications you are the contact for"),  # fmt: skip
    PersonalData("webhook_subscriptions", "created_by", {"created_by": PSEUDONYM}, withhold=("secret", "secrets"),
                 about="Webhook subscriptions you made"),  # fmt: skip
)

#: What this service holds about an application that goes when its retention period ends.
APPLICATION_DATA = (
    PersonalData("applications", "_id", {"contact.name": ERASED_NAME, "contact.email": ERASED_EMAIL},
                 about="Who to tell about it"),  # fmt: skip
    PersonalData("notifications", "application_id", {"email.address": ERASED_EMAIL, "email.name": None},
                 where={"email.address": {"$exists": True}}, about="Where its emails went"),  # fmt: skip
    PersonalData("notifications", "application_id", {"subject": ERASED_NAME, "text": "", "html": ""},
                 about="The messages about it"),  # fmt: skip
)


async def create_indexes(db: AsyncDatabase) -> None:
    await db.notifications.create_index("application_id")  # the messages about an application
    # Belt and braces behind the deterministic _id: one notification per (event, recipient, template).
    await db.notifications.create_index(
        [("event_id", ASCENDING), ("recipient_id", ASCENDING), ("template", ASCENDING)],
        unique=True, name="one_per_event_recipient_template",
    )  # fmt: skip
    await db.notifications.create_index(
        [("recipient_id", ASCENDING), ("created_at", DESCENDING), ("_id", DESCENDING)], name="inbox_newest_first"
    )
    await EMAIL_QUEUE.create_indexes(db)
    await db.deliveries.create_index([("at", DESCENDING), ("_id", DESCENDING)], name="newest_first")
    await db.deliveries.create_index([("notification_id", ASCENDING)], name="by_notification")

    await db.webhook_subscriptions.create_index([("event_types", ASCENDING), ("active", ASCENDING)], name="subscribers")
    await db.webhook_subscriptions.create_index([("event_types", ASCENDING), ("status", ASCENDING)], name="by_status")
    for active, status in ((True, SubscriptionStatus.ACTIVE), (False, SubscriptionStatus.DEACTIVATED)):
        # Subscriptions stored before statuses existed: active or deactivated (once, at start-up).
        await db.webhook_subscriptions.update_many(
            {"status": {"$exists": False}, "active": active}, {"$set": {"status": status}}
        )
    await db.webhook_subscriptions.create_index([("created_at", DESCENDING), ("_id", DESCENDING)], name="newest_first")
    # Belt and braces behind the deterministic _id: one delivery per (event, subscription).
    await db.webhook_deliveries.create_index(
        [("event_id", ASCENDING), ("subscription_id", ASCENDING)], unique=True, name="one_per_event_subscription"
    )
    await WEBHOOK_QUEUE.create_indexes(db)
    await db.webhook_deliveries.create_index(
        [("subscription_id", ASCENDING), ("created_at", DESCENDING), ("_id", DESCENDING)], name="by_subscription"
    )
    await db.notifications.create_index([("digest", ASCENDING), ("created_at", ASCENDING)], name="digest_waiting")
    await db.contacts.create_index([("finance_officer", ASCENDING), ("_id", ASCENDING)], name="finance_officers")


# --- helpers every collection uses ----------------------------------------------------------------

NEWEST_FIRST = [("created_at", DESCENDING), ("_id", DESCENDING)]


async def _insert_if_new(tx: Db, collection: AsyncCollection, document: Document) -> bool:
    """True if this created the document; False if it was there already (a redelivered event)."""
    doc = document.to_doc()
    result = await collection.update_one({"_id": doc["_id"]}, {"$setOnInsert": doc}, upsert=True, session=tx.session)
    return result.upserted_id is not None


async def _page(
    tx: Db, collection: AsyncCollection, query: dict[str, Any], limit: int, offset: int,
    sort: list[tuple[str, int]], projection: dict[str, int] | None = None,
) -> tuple[list[dict[str, Any]], int]:
    return await offset_page(collection, query, sort, limit, offset, tx.session, projection)


# --- what other services told us -----------------------------------------------------------------


async def record_programme_opened(tx: Db, programme_id: str, name: str, closes_at: datetime) -> bool:
    """True when the programme was not known here before."""
    # The status is only set on insert, so an open that arrives after its close does not reopen it.
    result = await tx.db.programmes.update_one(
        {"_id": programme_id},
        {"$set": {"name": name, "closes_at": closes_at}, "$setOnInsert": {"status": "open"}},
        upsert=True, session=tx.session,
    )  # fmt: skip
    return result.upserted_id is not None


async def record_programme_changed(tx: Db, programme_id: str, name: str | None, closes_at: datetime | None) -> None:
    """Only what changed. Applications publishes a change after the opening from one outbox, so the
    opening is here first (a change that overtook it would be overwritten by it: names and dates only)."""
    fields = {k: v for k, v in {"name": name, "closes_at": closes_at}.items() if v is not None}
    if fields:
        await tx.db.programmes.update_one({"_id": programme_id}, {"$set": fields}, session=tx.session)


async def record_programme_closed(tx: Db, programme_id: str, at: datetime) -> None:
    await tx.db.programmes.update_one(
        {"_id": programme_id}, {"$set": {"status": "closed", "closed_at": at}}, upsert=True, session=tx.session
    )


async def get_programme(tx: Db, programme_id: str) -> Programme | None:
    return Programme.maybe(await tx.db.programmes.find_one({"_id": programme_id}, session=tx.session))


def save_application_later(tx: Transaction, application: Application) -> None:
    """Keep the application as its latest submitted (or ineligible) event describes it, written with
    the transaction's events (``replace_later``): nothing reads it back in the same handling."""
    tx.replace_later("applications", {"_id": application.id}, application.to_doc(), upsert=True)


async def get_application(tx: Db, application_id: str) -> Application | None:
    return Application.maybe(await tx.db.applications.find_one({"_id": application_id}, session=tx.session))


def save_grant_later(tx: Transaction, grant: Grant) -> None:
    """Written with the transaction's events (``replace_later``): nothing reads it back in the same handling."""
    tx.replace_later("grants", {"_id": grant.id}, grant.to_doc(), upsert=True)


def note_payment_sent_later(tx: Transaction, payment_id: str, sent_at: datetime) -> None:
    """Written with the transaction's events (``update_later``); a PaymentFailed handled at the same
    moment still conflicts with it on the document, so one of the two sees the other."""
    tx.update_later("payments", {"_id": payment_id}, {"$set": {"sent_at": sent_at}}, upsert=True)


async def note_payment_failed(tx: Db, payment_id: str, attempt: int) -> None:
    await _note_payment(tx, payment_id, {"last_failed_attempt": attempt})


async def _note_payment(tx: Db, payment_id: str, fields: dict[str, object]) -> None:
    # Each event sets only its own fact: a payment's events may be handled side by side, in any order.
    await tx.db.payments.update_one({"_id": payment_id}, {"$set": fields}, upsert=True, session=tx.session)


async def get_payment(tx: Db, payment_id: str) -> Payment | None:
    return Payment.maybe(await tx.db.payments.find_one({"_id": payment_id}, session=tx.session))


# --- contacts --------------------------------------------------------------------------------------


async def unemailed_notifications(tx: Db, person_id: str, since: datetime, limit: int) -> list[NotificationSummary]:
    """The person's unread inbox messages since ``since`` that had no address to go to (no email, no
    digest), newest first (the inbox index)."""
    query = {"recipient_id": person_id, "created_at": {"$gte": since}, "email": None, "digest": None,
             "read_at": None, "in_inbox": True}  # fmt: skip
    cursor = tx.db.notifications.find(query, {"text": 0, "html": 0}, session=tx.session)
    cursor = cursor.sort([("created_at", DESCENDING), ("_id", DESCENDING)]).limit(limit)
    return [NotificationSummary.from_doc(d) async for d in cursor]


async def add_late_email(tx: Db, notification_id: str, email: Email | None, digest: str | None = None) -> None:
    """Give a message that had no address its email (or a place in the digest), if it still has neither."""
    change: dict[str, Any] = {"email": email.model_dump()} if email else {"digest": digest}
    await tx.db.notifications.update_one(
        {"_id": notification_id, "email": None, "digest": None}, {"$set": change}, session=tx.session
    )


async def get_contact(tx: Db, person_id: str) -> Contact | None:
    return Contact.maybe(await tx.db.contacts.find_one({"_id": person_id}, session=tx.session))


async def finance_officers(tx: Db) -> list[Contact]:
    """Everyone to tell that a payment run awaits approval."""
    cursor = tx.db.contacts.find({"finance_officer": True}, session=tx.session).sort("_id", ASCENDING)
    return [Contact.from_doc(doc) async for doc in cursor]


async def insert_contact_if_new(tx: Db, contact: Contact) -> bool:
    """Insert unless someone (a concurrent first registration) got there first."""
    return await _insert_if_new(tx, tx.db.contacts, contact)


async def replace_contact(tx: Db, contact: Contact, read_version: int) -> bool:
    """Store ``contact`` if nobody changed it since ``read_version`` was read."""
    result = await tx.db.contacts.replace_one(
        {"_id": contact.id, "version": read_version}, contact.to_doc(), session=tx.session
    )
    return result.modified_count == 1


# --- notifications ---------------------------------------------------------------------------------


def insert_notification_if_new_later(tx: Transaction, notification: Notification) -> bool:
    """False if the notification is there already (the same fact told again): written with the
    transaction's events, without a round trip of its own (``insert_if_new_later``)."""
    return tx.insert_if_new_later("notifications", notification.to_doc())


#: What the inbox lists leaves out: the bodies (read one by one) and where the email went.
INBOX_PROJECTION = {"html": 0, "text": 0, "email.address": 0, "email.name": 0}


async def inbox_page(
    tx: Db, recipient_id: str, unread_only: bool, limit: int, offset: int
) -> tuple[list[NotificationSummary], int]:
    query: dict[str, Any] = {"recipient_id": recipient_id, "in_inbox": {"$ne": False}}
    if unread_only:
        query["read_at"] = None
    docs, total = await _page(tx, tx.db.notifications, query, limit, offset, NEWEST_FIRST, INBOX_PROJECTION)
    return [NotificationSummary.from_doc(d) for d in docs], total


async def unread_count(tx: Db, recipient_id: str) -> int:
    query = {"recipient_id": recipient_id, "read_at": None, "in_inbox": {"$ne": False}}
    return await tx.db.notifications.count_documents(query, session=tx.session)


async def own_notification(tx: Db, recipient_id: str, notification_id: str) -> Notification | None:
    # Scoped by recipient in the query itself: someone else's notification is simply not found.
    query = {"_id": notification_id, "recipient_id": recipient_id, "in_inbox": {"$ne": False}}
    return Notification.maybe(await tx.db.notifications.find_one(query, session=tx.session))


async def mark_read(tx: Db, recipient_id: str, notification_id: str, at: datetime) -> None:
    # Conditional on read_at being unset: reading twice keeps the first time.
    await tx.db.notifications.update_one(
        {"_id": notification_id, "recipient_id": recipient_id, "read_at": None},
        {"$set": {"read_at": at}},
        session=tx.session,
    )


# --- the two queues: a claim is taken, and settled only while it holds -----------------------------


async def claim_email(tx: Db, notification: Notification, claim: str, now: datetime) -> bool:
    return await EMAIL_QUEUE.claim(tx, notification.to_doc(), claim, now)


async def finish_email(
    tx: Db, notification_id: str, claim: str, status: EmailStatus, fields: Mapping[str, object],
    recipient_id: str | None = None,
) -> bool:
    """``recipient_id``: only if the notification is still that person's (not erased meanwhile)."""
    also = {"recipient_id": recipient_id} if recipient_id else None
    return await EMAIL_QUEUE.finish(tx, notification_id, claim, {**fields, "status": status}, also=also)


async def claim_ready_emails(tx: Db, docs: list[dict[str, Any]], claim: str, now: datetime) -> list[Notification]:
    """Of these notifications as read, claim together those whose email is due; the ones taken."""
    return [Notification.from_doc(doc) for doc in await EMAIL_QUEUE.claim_ready(tx, docs, claim, now)]


async def finish_emails(
    tx: Db, notification_ids: list[str], claim: str, fields: Mapping[str, object], recipient_ids: set[str]
) -> bool:
    """True only when the claim held on every one and each is still one of ``recipient_ids``' (none
    erased meanwhile); the caller's transaction must not commit otherwise."""
    also = {"recipient_id": {"$in": sorted(recipient_ids)}}
    return await EMAIL_QUEUE.finish_all(tx, notification_ids, claim, dict(fields), also=also)


async def claim_webhook_delivery(tx: Db, delivery: WebhookDelivery, claim: str, now: datetime) -> bool:
    return await WEBHOOK_QUEUE.claim(tx, delivery.to_doc(), claim, now)


async def finish_webhook_delivery(
    tx: Db, delivery_id: str, claim: str, status: WebhookStatus, fields: Mapping[str, object], attempted: bool = True
) -> bool:
    return await WEBHOOK_QUEUE.finish(tx, delivery_id, claim, {**fields, "status": status}, attempted)


# --- the delivery audit ----------------------------------------------------------------------------


def record_delivery(tx: Transaction[Any], delivery: Delivery) -> None:
    """Written with the transaction's events, last (``record_later``): each record is of an attempt
    that nobody can have recorded yet, settled while its sender's claim held, or of a notification
    just put in the inbox for the first time, and no change reads it."""
    tx.record_later("deliveries", delivery.to_doc())


async def list_deliveries(
    tx: Db, filters: dict[str, str], limit: int, offset: int
) -> tuple[list[Delivery], int]:
    """Attempts whose fields equal ``filters``, newest first."""
    sort = [("at", DESCENDING), ("_id", DESCENDING)]
    docs, total = await _page(tx, tx.db.deliveries, filters, limit, offset, sort)
    return [Delivery.from_doc(d) for d in docs], total


async def webhook_attempts(tx: Db, delivery_ids: list[str]) -> dict[str, list[Delivery]]:
    """The audit records of these webhook deliveries' attempts, by delivery id, oldest first."""
    attempts: dict[str, list[Delivery]] = {}
    if not delivery_ids:
        return attempts
    query = {"notification_id": {"$in": delivery_ids}, "channel": "webhook"}
    async for doc in tx.db.deliveries.find(query, session=tx.session).sort([("attempt", ASCENDING)]):
        record = Delivery.from_doc(doc)
        attempts.setdefault(record.notification_id, []).append(record)
    return attempts


# --- webhook subscriptions -------------------------------------------------------------------------

#: The encrypted secrets stay in the database: nothing read for an API answer carries them.
WITHOUT_SECRET = {"secret": 0, "previous_secret": 0}


async def insert_subscription(tx: Db, subscription: SigningSubscription) -> None:
    await tx.db.webhook_subscriptions.insert_one(subscription.to_doc(), session=tx.session)


async def get_subscription(tx: Db, subscription_id: str) -> WebhookSubscription | None:
    doc = await tx.db.webhook_subscriptions.find_one({"_id": subscription_id}, WITHOUT_SECRET, session=tx.session)
    return WebhookSubscription.maybe(doc)


async def get_signing_subscription(tx: Db, subscription_id: str) -> SigningSubscription | None:
    return SigningSubscription.maybe(
        await tx.db.webhook_subscriptions.find_one({"_id": subscription_id}, session=tx.session)
    )


async def list_subscriptions(
    tx: Db, active: bool | None, limit: int, offset: int
) -> tuple[list[WebhookSubscription], int]:
    query = {} if active is None else {"active": active}
    docs, total = await _page(tx, tx.db.webhook_subscriptions, query, limit, offset, NEWEST_FIRST, WITHOUT_SECRET)
    return [WebhookSubscription.from_doc(d) for d in docs], total


async def update_subscription(tx: Db, subscription: WebhookSubscription, read_version: int) -> bool:
    """Store the changed fields of a subscription, unless someone (or the webhook sender, disabling
    it) changed it since ``read_version`` was read. A ``SigningSubscription`` stores its new secrets
    too; a plain one leaves them as they are. The failure counters are the sender's own: left alone."""
    fields = subscription.to_doc()
    for own in ("_id", "failing_since", "failed_deliveries"):
        fields.pop(own, None)
    result = await tx.db.webhook_subscriptions.update_one(
        {"_id": subscription.id, "version": read_version}, {"$set": fields}, session=tx.session
    )
    return result.modified_count == 1


#: Subscriptions that are sent events (active) or keep them (disabled: held until reactivated).
_SUBSCRIBED = {"status": {"$in": [SubscriptionStatus.ACTIVE, SubscriptionStatus.DISABLED]}}


async def subscribers(tx: Db, event_type: str) -> list[tuple[str, SubscriptionStatus]]:
    """The subscriptions that want events of this type and are active, or disabled (whose events are
    held): their ids and statuses."""
    query = {"event_types": event_type, **_SUBSCRIBED}
    cursor = tx.db.webhook_subscriptions.find(query, {"_id": 1, "status": 1}, session=tx.session)
    return [(doc["_id"], SubscriptionStatus(doc["status"])) async for doc in cursor]


async def note_webhook_failure(tx: Db, subscription_id: str, at: datetime, gave_up: bool) -> None:
    """An attempt failed: the first since the last delivery starts ``failing_since``; a delivery that
    failed for good counts one more in a row. Only these writes touch the subscription, so a busy
    endpoint that answers is no hot document."""
    await tx.db.webhook_subscriptions.update_one(
        {"_id": subscription_id, "failing_since": None}, {"$set": {"failing_since": at}}, session=tx.session
    )
    if gave_up:
        await tx.db.webhook_subscriptions.update_one(
            {"_id": subscription_id}, {"$inc": {"failed_deliveries": 1}}, session=tx.session
        )


async def note_webhook_success(tx: Db, subscription_id: str) -> None:
    """A delivery went through: the failures in a row end (written only when there were some)."""
    await tx.db.webhook_subscriptions.update_one(
        {"_id": subscription_id, "$or": [{"failing_since": {"$ne": None}}, {"failed_deliveries": {"$gt": 0}}]},
        {"$set": {"failing_since": None, "failed_deliveries": 0}},
        session=tx.session,
    )


async def reset_webhook_failures(tx: Db, subscription_id: str) -> None:
    await tx.db.webhook_subscriptions.update_one(
        {"_id": subscription_id}, {"$set": {"failing_since": None, "failed_deliveries": 0}}, session=tx.session
    )


# --- webhook deliveries ----------------------------------------------------------------------------


def insert_webhook_delivery_if_new_later(tx: Transaction, delivery: WebhookDelivery) -> bool:
    """As ``insert_notification_if_new_later``: False if the event was queued for the subscription already."""
    return tx.insert_if_new_later("webhook_deliveries", delivery.to_doc())


async def get_webhook_delivery(tx: Db, subscription_id: str, delivery_id: str) -> WebhookDeliverySummary | None:
    query = {"_id": delivery_id, "subscription_id": subscription_id}
    doc = await tx.db.webhook_deliveries.find_one(query, {"body": 0}, session=tx.session)
    return WebhookDeliverySummary.maybe(doc)


async def deliveries_to_send_again(
    tx: Db, subscription_id: str, statuses: frozenset[WebhookStatus], since: datetime | None = None,
    until: datetime | None = None, limit: int = 0,
) -> tuple[list[WebhookDeliverySummary], int]:
    """A subscription's deliveries in these statuses (queued in [since, until) when given), oldest
    first, at most ``limit`` (0: all), and how many there are in all."""
    query: dict[str, Any] = {"subscription_id": subscription_id, "status": {"$in": sorted(statuses)}}
    if since is not None or until is not None:
        query["created_at"] = {
            **({"$gte": since} if since is not None else {}), **({"$lt": until} if until is not None else {})
        }
    cursor = tx.db.webhook_deliveries.find(query, {"body": 0}, session=tx.session).sort(
        [("created_at", ASCENDING), ("_id", ASCENDING)]
    ).limit(limit)
    docs = await cursor.to_list(None)
    return [WebhookDeliverySummary.from_doc(d) for d in docs], await tx.db.webhook_deliveries.count_documents(
        query, session=tx.session
    )


async def queue_webhook_again(tx: Db, delivery: WebhookDeliverySummary, now: datetime, why: str | None) -> bool:
    """Back to ``pending`` now, as it was read (status and attempts unchanged since): a new round of
    retries under the same webhook-id. False when it changed meanwhile."""
    result = await tx.db.webhook_deliveries.update_one(
        {"_id": delivery.id, "status": delivery.status, "attempts": delivery.attempts},
        {"$set": {
            "status": WebhookStatus.PENDING, "next_attempt_at": now, "attempts_before": delivery.attempts,
            "requeued_at": now, "claim": None, "claimed_at": None, "last_error": why, "delivered_at": None,
        }},
        session=tx.session,
    )  # fmt: skip
    return result.modified_count == 1


async def list_webhook_deliveries(
    tx: Db, subscription_id: str, status: WebhookStatus | None, limit: int, offset: int
) -> tuple[list[WebhookDeliverySummary], int]:
    query: dict[str, Any] = {"subscription_id": subscription_id}
    if status is not None:
        query["status"] = status
    docs, total = await _page(tx, tx.db.webhook_deliveries, query, limit, offset, NEWEST_FIRST, {"body": 0})
    return [WebhookDeliverySummary.from_doc(d) for d in docs], total


# --- people's choices and daily digests ---------------------------------------------------------------


class Preferences(Document):
    """A person's choices (``id`` is their subject): kinds of message not emailed, kinds not shown in
    the inbox, and whether their emails are gathered into one a day."""

    email_off: list[str] = []
    inbox_off: list[str] = []
    digest: bool = False
    version: int
    updated_at: datetime


async def get_preferences(tx: Db, person_id: str) -> Preferences | None:
    return Preferences.maybe(await tx.db.preferences.find_one({"_id": person_id}, session=tx.session))


@dataclass(frozen=True)
class WhatTellingFinds:
    """What telling someone of an event reads (``what_telling_finds``)."""

    application: Application | None
    contact: Contact | None
    preferences: Preferences | None
    #: The subscriptions that want the event (as ``subscribers``).
    subscribers: list[tuple[str, SubscriptionStatus]]
    grant: Grant | None = None


async def what_telling_finds(
    tx: Db, event_type: str, application_id: str | None = None, person_id: str | None = None,
    grant_id: str | None = None,
) -> WhatTellingFinds:
    """In one round trip: the application (if named), the address and choices of the person named
    (or else of the application's contact), the grant (if named) and the subscriptions that want
    events of this type."""
    whose = "person" if person_id else "application.contact.person_id"
    joined = [Joined("subscribers", "webhook_subscriptions", "event_type", "event_types", many=True,
                     where=_SUBSCRIBED, only=("status",))]  # fmt: skip
    if application_id:
        joined.append(Joined("application", "applications", "application"))
    if person_id or application_id:
        joined += [Joined("contact", "contacts", whose), Joined("preferences", "preferences", whose)]
    if grant_id:
        joined.append(Joined("grant", "grants", "grant"))
    asked = {"event_type": event_type, "application": application_id or "", "person": person_id or "",
             "grant": grant_id or ""}  # fmt: skip
    found = await read_together(tx, asked, *joined)
    return WhatTellingFinds(
        application=Application.maybe(found.get("application")), contact=Contact.maybe(found.get("contact")),
        preferences=Preferences.maybe(found.get("preferences")), grant=Grant.maybe(found.get("grant")),
        subscribers=[(doc["_id"], SubscriptionStatus(doc["status"])) for doc in found["subscribers"] or []],
    )  # fmt: skip


async def contact_and_preferences(tx: Db, person_id: str) -> tuple[Contact | None, Preferences | None]:
    """A person's registered address and their choices of messages (either may be missing), in one round trip."""
    found = await read_together(tx, person_id, Joined("contact", "contacts"), Joined("preferences", "preferences"))
    return Contact.maybe(found["contact"]), Preferences.maybe(found["preferences"])


async def insert_preferences_if_new(tx: Db, preferences: Preferences) -> bool:
    return await _insert_if_new(tx, tx.db.preferences, preferences)


async def replace_preferences(tx: Db, preferences: Preferences, read_version: int) -> bool:
    result = await tx.db.preferences.replace_one(
        {"_id": preferences.id, "version": read_version}, preferences.to_doc(), session=tx.session
    )
    return result.modified_count == 1


async def digest_recipients(tx: Db, cutoff: datetime, limit: int) -> list[str]:
    """People with messages waiting for a digest from before ``cutoff`` (at most ``limit`` of them)."""
    query = {"digest": "waiting", "created_at": {"$lt": cutoff}}
    cursor = tx.db.notifications.find(query, {"recipient_id": 1}, session=tx.session).sort("created_at", ASCENDING)
    people: dict[str, None] = {}
    async for doc in cursor:
        people.setdefault(doc["recipient_id"], None)
        if len(people) >= limit:
            break
    return list(people)


async def waiting_for_digest(tx: Db, recipient_id: str, cutoff: datetime) -> list[NotificationSummary]:
    query = {"recipient_id": recipient_id, "digest": "waiting", "created_at": {"$lt": cutoff}}
    cursor = tx.db.notifications.find(query, INBOX_PROJECTION, session=tx.session).sort("created_at", ASCENDING)
    return [NotificationSummary.from_doc(doc) async for doc in cursor]


async def gather_into_digest(tx: Db, notification_ids: list[str], digest_id: str) -> None:
    await tx.db.notifications.update_many(
        {"_id": {"$in": notification_ids}, "digest": "waiting"},
        {"$set": {"digest": "gathered", "digest_id": digest_id}},
        session=tx.session,
    )
