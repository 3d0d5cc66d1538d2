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

Every function takes ``tx``: the transaction it runs in, or the service's database for a plain read.
Where an event may arrive twice, writes are upserts that insert only what is new (a duplicate-key
error would abort the handler's whole transaction).
"""

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Literal

from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

from grants_shared.documents import Document, Part
from grants_shared.money import Money
from grants_shared.unit_of_work import Db
from grants_shared.worker import LeasedQueue
from notifications.domain import (
    ApplicationRecord,
    Channel,
    EmailStatus,
    Outcome,
    RecipientKind,
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
    version: int
    created_at: datetime
    updated_at: datetime


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
    """An integrator's endpoint as admins see it: without its secret, which is read only to sign."""

    url: str
    event_types: list[str]
    description: str
    active: bool
    created_by: str
    created_at: datetime
    secret_rotated_at: datetime
    deactivated_at: datetime | None = None
    version: int


class SigningSubscription(WebhookSubscription):
    """With its signing secret, encrypted (``crypto.SecretsCipher``)."""

    secret: str


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


async def create_indexes(db: AsyncDatabase) -> None:
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
    await db.webhook_subscriptions.create_index([("created_at", DESCENDING), ("_id", DESCENDING)], name="newest_first")
    # Belt and braces behind the deterministic _id: one delivery per (event, subscription).
    await db.webhook_deliveries.create_index(
        [("event_id", ASCENDING), ("subscription_id", ASCENDING)], unique=True, name="one_per_event_subscription"
    )
    await WEBHOOK_QUEUE.create_indexes(db)
    await db.webhook_deliveries.create_index(
        [("subscription_id", ASCENDING), ("created_at", DESCENDING), ("_id", DESCENDING)], name="by_subscription"
    )


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
    cursor = collection.find(query, projection, session=tx.session).sort(sort).skip(offset).limit(limit)
    return await cursor.to_list(None), await collection.count_documents(query, session=tx.session)


# --- what other services told us -----------------------------------------------------------------


async def record_programme_opened(tx: Db, programme_id: str, name: str, closes_at: datetime) -> None:
    # The status is only set on insert, so an open that arrives after its close does not reopen it.
    await tx.db.programmes.update_one(
        {"_id": programme_id},
        {"$set": {"name": name, "closes_at": closes_at}, "$setOnInsert": {"status": "open"}},
        upsert=True, session=tx.session,
    )  # fmt: skip


async def record_programme_closed(tx: Db, programme_id: str, at: datetime) -> None:
    await tx.db.programmes.update_one(
        {"_id": programme_id}, {"$set": {"status": "closed", "closed_at": at}}, upsert=True, session=tx.session
    )


async def get_programme(tx: Db, programme_id: str) -> Programme | None:
    return Programme.maybe(await tx.db.programmes.find_one({"_id": programme_id}, session=tx.session))


async def save_application(tx: Db, application: Application) -> None:
    """Keep the application as its latest submitted (or ineligible) event describes it."""
    await tx.db.applications.replace_one(
        {"_id": application.id}, application.to_doc(), upsert=True, session=tx.session
    )


async def get_application(tx: Db, application_id: str) -> Application | None:
    return Application.maybe(await tx.db.applications.find_one({"_id": application_id}, session=tx.session))


async def save_grant(tx: Db, grant: Grant) -> None:
    await tx.db.grants.replace_one({"_id": grant.id}, grant.to_doc(), upsert=True, session=tx.session)


async def get_grant(tx: Db, grant_id: str) -> Grant | None:
    return Grant.maybe(await tx.db.grants.find_one({"_id": grant_id}, session=tx.session))


async def note_payment_sent(tx: Db, payment_id: str, sent_at: datetime) -> None:
    await _note_payment(tx, payment_id, {"sent_at": sent_at})


async def note_payment_failed(tx: Db, payment_id: str, attempt: int) -> None:
    await _note_payment(tx, payment_id, {"last_failed_attempt": attempt})


async def _note_payment(tx: Db, payment_id: str, fields: dict[str, object]) -> None:
    # Each event sets only its own fact: a payment's events may be handled side by side, in any order.
    await tx.db.payments.update_one({"_id": payment_id}, {"$set": fields}, upsert=True, session=tx.session)


async def get_payment(tx: Db, payment_id: str) -> Payment | None:
    return Payment.maybe(await tx.db.payments.find_one({"_id": payment_id}, session=tx.session))


# --- contacts --------------------------------------------------------------------------------------


async def get_contact(tx: Db, person_id: str) -> Contact | None:
    return Contact.maybe(await tx.db.contacts.find_one({"_id": person_id}, session=tx.session))


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


async def insert_notification_if_new(tx: Db, notification: Notification) -> bool:
    return await _insert_if_new(tx, tx.db.notifications, notification)


#: What the inbox lists leaves out: the bodies (read one by one) and where the email went.
INBOX_PROJECTION = {"html": 0, "text": 0, "email.address": 0, "email.name": 0}


async def inbox_page(
    tx: Db, recipient_id: str, unread_only: bool, limit: int, offset: int
) -> tuple[list[NotificationSummary], int]:
    query: dict[str, Any] = {"recipient_id": recipient_id}
    if unread_only:
        query["read_at"] = None
    docs, total = await _page(tx, tx.db.notifications, query, limit, offset, NEWEST_FIRST, INBOX_PROJECTION)
    return [NotificationSummary.from_doc(d) for d in docs], total


async def unread_count(tx: Db, recipient_id: str) -> int:
    query = {"recipient_id": recipient_id, "read_at": None}
    return await tx.db.notifications.count_documents(query, session=tx.session)


async def own_notification(tx: Db, recipient_id: str, notification_id: str) -> Notification | None:
    # Scoped by recipient in the query itself: someone else's notification is simply not found.
    query = {"_id": notification_id, "recipient_id": recipient_id}
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
    tx: Db, notification_id: str, claim: str, status: EmailStatus, fields: Mapping[str, object]
) -> bool:
    return await EMAIL_QUEUE.finish(tx, notification_id, claim, {**fields, "status": status})


async def claim_webhook_delivery(tx: Db, delivery: WebhookDelivery, claim: str, now: datetime) -> bool:
    return await WEBHOOK_QUEUE.claim(tx, delivery.to_doc(), claim, now)


async def finish_webhook_delivery(
    tx: Db, delivery_id: str, claim: str, status: WebhookStatus, fields: Mapping[str, object], attempted: bool = True
) -> bool:
    return await WEBHOOK_QUEUE.finish(tx, delivery_id, claim, {**fields, "status": status}, attempted)


# --- the delivery audit ----------------------------------------------------------------------------


async def record_delivery(tx: Db, delivery: Delivery) -> None:
    await _insert_if_new(tx, tx.db.deliveries, delivery)


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

#: The encrypted secret stays in the database: nothing read for an API answer carries it.
WITHOUT_SECRET = {"secret": 0}


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
    """Store the changed fields of an active subscription, unless someone changed it since
    ``read_version`` was read. A ``SigningSubscription`` stores its new secret too; a plain one
    leaves the secret as it is."""
    fields = subscription.to_doc()
    del fields["_id"]
    result = await tx.db.webhook_subscriptions.update_one(
        {"_id": subscription.id, "version": read_version, "active": True}, {"$set": fields}, session=tx.session
    )
    return result.modified_count == 1


async def subscribers(tx: Db, event_type: str) -> list[str]:
    """The ids of the active subscriptions that want events of this type."""
    query = {"event_types": event_type, "active": True}
    cursor = tx.db.webhook_subscriptions.find(query, {"_id": 1}, session=tx.session)
    return [doc["_id"] async for doc in cursor]


# --- webhook deliveries ----------------------------------------------------------------------------


async def insert_webhook_delivery_if_new(tx: Db, delivery: WebhookDelivery) -> bool:
    return await _insert_if_new(tx, tx.db.webhook_deliveries, delivery)


async def list_webhook_deliveries(
    tx: Db, subscription_id: str, status: WebhookStatus | None, limit: int, offset: int
) -> tuple[list[WebhookDeliverySummary], int]:
    query: dict[str, Any] = {"subscription_id": subscription_id}
    if status is not None:
        query["status"] = status
    docs, total = await _page(tx, tx.db.webhook_deliveries, query, limit, offset, NEWEST_FIRST, {"body": 0})
    return [WebhookDeliverySummary.from_doc(d) for d in docs], total
