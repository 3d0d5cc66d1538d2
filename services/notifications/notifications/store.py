"""Collections, indexes and queries.

- ``programmes``: programme names for the messages (from programme.opened / .closed).
- ``applications``: title, programme and contact of each application (from application.submitted /
  .ineligible); how later events find the person to tell.
- ``grants``: the offered amount of each grant, for the acceptance message.
- ``payments``: which payments were sent, so a failure that arrives late tells nobody it is delayed.
- ``contacts``: the email address a person registered for themselves (PUT /v1/me/contact).
- ``notifications``: one per (event, recipient, template), with its rendered bodies, its read state
  and its email part (the email sender's queue).
- ``deliveries``: one record per delivery attempt on a channel, for audit (no bodies).
- ``webhook_subscriptions``: integrators' endpoints, the event types each wants and its signing
  secret (encrypted).
- ``webhook_deliveries``: one per (event, subscription) with the exact body to send; the webhook
  sender's queue.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase

from grants_shared.money import Money
from notifications.domain import ApplicationRecord

Doc = dict[str, Any]


async def create_indexes(db: AsyncDatabase) -> None:
    # Belt and braces behind the deterministic _id: one notification per (event, recipient, template).
    await db.notifications.create_index(
        [("event_id", ASCENDING), ("recipient_id", ASCENDING), ("template", ASCENDING)],
        unique=True, name="one_per_event_recipient_template",
    )
    await db.notifications.create_index(
        [("recipient_id", ASCENDING), ("created_at", DESCENDING), ("_id", DESCENDING)], name="inbox_newest_first"
    )
    await db.notifications.create_index(
        [("email.status", ASCENDING), ("email.next_attempt_at", ASCENDING)], name="email_queue"
    )
    await db.notifications.create_index(
        [("email.status", ASCENDING), ("email.claimed_at", ASCENDING)], name="email_claims"
    )
    await db.deliveries.create_index([("at", DESCENDING), ("_id", DESCENDING)], name="newest_first")
    await db.deliveries.create_index([("notification_id", ASCENDING)], name="by_notification")

    await db.webhook_subscriptions.create_index(
        [("event_types", ASCENDING), ("active", ASCENDING)], name="subscribers"
    )
    await db.webhook_subscriptions.create_index([("created_at", DESCENDING), ("_id", DESCENDING)], name="newest_first")
    # Belt and braces behind the deterministic _id: one delivery per (event, subscription).
    await db.webhook_deliveries.create_index(
        [("event_id", ASCENDING), ("subscription_id", ASCENDING)], unique=True, name="one_per_event_subscription"
    )
    await db.webhook_deliveries.create_index([("status", ASCENDING), ("next_attempt_at", ASCENDING)], name="queue")
    await db.webhook_deliveries.create_index([("status", ASCENDING), ("claimed_at", ASCENDING)], name="claims")
    await db.webhook_deliveries.create_index(
        [("subscription_id", ASCENDING), ("created_at", DESCENDING), ("_id", DESCENDING)], name="by_subscription"
    )


# --- what other services told us -------------------------------------------------------------------


async def open_programme(
    db: AsyncDatabase, session: AsyncClientSession, programme_id: str, name: str, closes_at: datetime
) -> None:
    # The status is only set on insert, so an open that arrives after its close does not reopen it.
    await db.programmes.update_one(
        {"_id": programme_id},
        {"$set": {"name": name, "closes_at": closes_at}, "$setOnInsert": {"status": "open"}},
        upsert=True, session=session,
    )


async def close_programme(db: AsyncDatabase, session: AsyncClientSession, programme_id: str, at: datetime) -> None:
    await db.programmes.update_one(
        {"_id": programme_id}, {"$set": {"status": "closed", "closed_at": at}}, upsert=True, session=session
    )


async def programme_name(db: AsyncDatabase, session: AsyncClientSession, programme_id: str) -> str | None:
    doc = await db.programmes.find_one({"_id": programme_id}, {"name": 1}, session=session)
    return doc.get("name") if doc else None


async def save_application(
    db: AsyncDatabase, session: AsyncClientSession, app: ApplicationRecord, status: str, at: datetime
) -> None:
    await db.applications.update_one(
        {"_id": app.application_id},
        {"$set": {
            "programme_id": app.programme_id,
            "title": app.title,
            "organisation_name": app.organisation_name,
            "contact": {"person_id": app.person_id, "name": app.contact_name, "email": app.contact_email},
            "status": status,
            "updated_at": at,
        }},
        upsert=True,
        session=session,
    )


async def find_application(db: AsyncDatabase, session: AsyncClientSession, application_id: str) -> ApplicationRecord | None:
    doc = await db.applications.find_one({"_id": application_id}, session=session)
    if doc is None:
        return None
    contact = doc["contact"]
    return ApplicationRecord(
        application_id=doc["_id"],
        programme_id=doc["programme_id"],
        title=doc["title"],
        organisation_name=doc.get("organisation_name"),
        person_id=contact["person_id"],
        contact_name=contact["name"],
        contact_email=contact["email"],
    )


async def save_grant(
    db: AsyncDatabase, session: AsyncClientSession, grant_id: str, application_id: str, amount: Money
) -> None:
    await db.grants.update_one(
        {"_id": grant_id},
        {"$set": {"application_id": application_id, "amount": amount.model_dump()}},
        upsert=True,
        session=session,
    )


async def note_payment(db: AsyncDatabase, session: AsyncClientSession, payment_id: str, fields: Doc) -> None:
    await db.payments.update_one({"_id": payment_id}, {"$set": fields}, upsert=True, session=session)


async def payment_sent(db: AsyncDatabase, session: AsyncClientSession, payment_id: str) -> bool:
    doc = await db.payments.find_one({"_id": payment_id}, {"sent_at": 1}, session=session)
    return bool(doc and doc.get("sent_at"))


async def grant_amount(db: AsyncDatabase, session: AsyncClientSession, grant_id: str) -> Money | None:
    doc = await db.grants.find_one({"_id": grant_id}, {"amount": 1}, session=session)
    return Money.model_validate(doc["amount"]) if doc else None


# --- contacts --------------------------------------------------------------------------------------


async def find_contact(db: AsyncDatabase, person_id: str, session: AsyncClientSession | None = None) -> Doc | None:
    return await db.contacts.find_one({"_id": person_id}, session=session)


async def create_contact(db: AsyncDatabase, session: AsyncClientSession, doc: Doc) -> bool:
    """Insert unless someone (a concurrent first PUT) got there first; the caller then treats it as an edit."""
    result = await db.contacts.update_one({"_id": doc["_id"]}, {"$setOnInsert": doc}, upsert=True, session=session)
    return result.upserted_id is not None


async def replace_contact(
    db: AsyncDatabase, session: AsyncClientSession, person_id: str, expected_version: int, fields: Doc
) -> bool:
    result = await db.contacts.update_one(
        {"_id": person_id, "version": expected_version},
        {"$set": fields, "$inc": {"version": 1}},
        session=session,
    )
    return result.modified_count == 1


# --- notifications ---------------------------------------------------------------------------------


async def insert_notification_if_new(db: AsyncDatabase, session: AsyncClientSession, doc: Doc) -> bool:
    """True if this created the notification; False if it already existed (a redelivered event).

    An upsert, not an insert: a duplicate-key error would abort the whole transaction."""
    result = await db.notifications.update_one(
        {"_id": doc["_id"]}, {"$setOnInsert": doc}, upsert=True, session=session
    )
    return result.upserted_id is not None


INBOX_FIELDS = {"html": 0, "text": 0, "email.address": 0, "email.name": 0, "email.claim": 0}


async def inbox_page(db: AsyncDatabase, recipient_id: str, unread_only: bool, limit: int) -> list[Doc]:
    query: Doc = {"recipient_id": recipient_id}
    if unread_only:
        query["read_at"] = None
    cursor = db.notifications.find(query, INBOX_FIELDS).sort([("created_at", DESCENDING), ("_id", DESCENDING)])
    return await cursor.limit(limit).to_list(None)


async def unread_count(db: AsyncDatabase, recipient_id: str) -> int:
    return await db.notifications.count_documents({"recipient_id": recipient_id, "read_at": None})


async def own_notification(
    db: AsyncDatabase, recipient_id: str, notification_id: str, session: AsyncClientSession | None = None
) -> Doc | None:
    # Scoped by recipient in the query itself: someone else's notification is simply not found.
    projection = {"email.claim": 0}
    return await db.notifications.find_one(
        {"_id": notification_id, "recipient_id": recipient_id}, projection, session=session
    )


async def mark_read(
    db: AsyncDatabase, session: AsyncClientSession, recipient_id: str, notification_id: str, at: datetime
) -> None:
    # Conditional on read_at being unset: reading twice keeps the first time.
    await db.notifications.update_one(
        {"_id": notification_id, "recipient_id": recipient_id, "read_at": None},
        {"$set": {"read_at": at}},
        session=session,
    )


# --- the delivery queues ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Queue:
    """Where a channel's deliveries wait: a collection, and the sub-document that holds each one's state
    (``status``, ``attempts``, ``next_attempt_at``, ``claim``, ``claimed_at``, ``last_error``...), or
    None when that is the document itself."""

    collection: str
    part: str | None = None

    def field(self, name: str) -> str:
        return f"{self.part}.{name}" if self.part else name

    def state(self, doc: Doc) -> Doc:
        return doc[self.part] if self.part else doc


#: An email waits in its notification's ``email`` part; a webhook delivery is a document of its own.
EMAIL_QUEUE = Queue("notifications", "email")
WEBHOOK_QUEUE = Queue("webhook_deliveries")


async def due_deliveries(
    db: AsyncDatabase, queue: Queue, now: datetime, stale_before: datetime, limit: int
) -> list[Doc]:
    """Pending deliveries whose time has come, and claims abandoned by a sender that died."""
    query = {"$or": [
        {queue.field("status"): "pending", queue.field("next_attempt_at"): {"$lte": now}},
        {queue.field("status"): "sending", queue.field("claimed_at"): {"$lt": stale_before}},
    ]}
    cursor = db[queue.collection].find(query).sort(queue.field("next_attempt_at"), ASCENDING)
    return await cursor.limit(limit).to_list(None)


async def claim_delivery(
    db: AsyncDatabase, session: AsyncClientSession, queue: Queue, doc: Doc, claim: str, now: datetime
) -> bool:
    """Compare-and-set on the status and claim this sender saw: of several replicas, one wins."""
    state = queue.state(doc)
    result = await db[queue.collection].update_one(
        {"_id": doc["_id"], queue.field("status"): state["status"], queue.field("claim"): state.get("claim"),
         # attempts acts as a version: a retry recorded since this sender looked is not claimed early
         queue.field("attempts"): state.get("attempts", 0)},
        {"$set": {queue.field("status"): "sending", queue.field("claim"): claim, queue.field("claimed_at"): now}},
        session=session,
    )
    return result.modified_count == 1


async def finish_delivery(
    db: AsyncDatabase, session: AsyncClientSession, queue: Queue, delivery_id: str, claim: str, fields: Doc,
    attempted: bool = True,
) -> bool:
    """Settle a claim with ``fields`` (names within the state), but only while this sender still holds it."""
    update: Doc = {"$set": {queue.field(name): value for name, value in {**fields, "claim": None}.items()}}
    if attempted:
        update["$inc"] = {queue.field("attempts"): 1}
    result = await db[queue.collection].update_one(
        {"_id": delivery_id, queue.field("status"): "sending", queue.field("claim"): claim}, update, session=session
    )
    return result.modified_count == 1


# --- deliveries ------------------------------------------------------------------------------------


async def record_delivery(db: AsyncDatabase, session: AsyncClientSession, doc: Doc) -> None:
    await db.deliveries.update_one({"_id": doc["_id"]}, {"$setOnInsert": doc}, upsert=True, session=session)


async def deliveries_page(db: AsyncDatabase, filters: Doc, limit: int) -> list[Doc]:
    cursor = db.deliveries.find(filters).sort([("at", DESCENDING), ("_id", DESCENDING)]).limit(limit)
    return await cursor.to_list(None)


# --- webhook subscriptions -------------------------------------------------------------------------

#: The encrypted secret stays in the database: nothing read for an API answer carries it.
WITHOUT_SECRET = {"secret": 0}


async def create_subscription(db: AsyncDatabase, session: AsyncClientSession, doc: Doc) -> None:
    await db.webhook_subscriptions.insert_one(doc, session=session)


async def find_subscription(
    db: AsyncDatabase, subscription_id: str, session: AsyncClientSession | None = None, *, with_secret: bool = False
) -> Doc | None:
    projection = None if with_secret else WITHOUT_SECRET
    return await db.webhook_subscriptions.find_one({"_id": subscription_id}, projection, session=session)


async def subscriptions_page(db: AsyncDatabase, active: bool | None, limit: int) -> list[Doc]:
    query: Doc = {} if active is None else {"active": active}
    cursor = db.webhook_subscriptions.find(query, WITHOUT_SECRET)
    return await cursor.sort([("created_at", DESCENDING), ("_id", DESCENDING)]).limit(limit).to_list(None)


async def change_subscription(
    db: AsyncDatabase, session: AsyncClientSession, subscription_id: str, expected_version: int, fields: Doc
) -> bool:
    """Change an active subscription, unless someone changed it since it was read."""
    result = await db.webhook_subscriptions.update_one(
        {"_id": subscription_id, "version": expected_version, "active": True},
        {"$set": fields, "$inc": {"version": 1}},
        session=session,
    )
    return result.modified_count == 1


async def subscribers(db: AsyncDatabase, session: AsyncClientSession, event_type: str) -> list[str]:
    """The ids of the active subscriptions that want events of this type."""
    cursor = db.webhook_subscriptions.find({"event_types": event_type, "active": True}, {"_id": 1}, session=session)
    return [doc["_id"] for doc in await cursor.to_list(None)]


# --- webhook deliveries ----------------------------------------------------------------------------


async def insert_webhook_delivery_if_new(db: AsyncDatabase, session: AsyncClientSession, doc: Doc) -> bool:
    # An upsert, not an insert: a duplicate-key error would abort the handler's whole transaction.
    result = await db.webhook_deliveries.update_one(
        {"_id": doc["_id"]}, {"$setOnInsert": doc}, upsert=True, session=session
    )
    return result.upserted_id is not None


WITHOUT_BODY = {"body": 0, "claim": 0}


async def webhook_deliveries_page(db: AsyncDatabase, subscription_id: str, status: str | None, limit: int) -> list[Doc]:
    query: Doc = {"subscription_id": subscription_id}
    if status is not None:
        query["status"] = status
    cursor = db.webhook_deliveries.find(query, WITHOUT_BODY).sort([("created_at", DESCENDING), ("_id", DESCENDING)])
    return await cursor.limit(limit).to_list(None)


async def attempts_of(db: AsyncDatabase, delivery_ids: list[str]) -> list[Doc]:
    """The audit records of these webhook deliveries' attempts, oldest first."""
    if not delivery_ids:
        return []
    cursor = db.deliveries.find({"notification_id": {"$in": delivery_ids}, "channel": "webhook"})
    return await cursor.sort([("attempt", ASCENDING)]).to_list(None)
