"""HTTP API for integrators' webhooks, for admins only: subscriptions, their signing secrets (shown
once, on creation and rotation) and what was delivered to each."""

import secrets
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response, status

from grants_shared.auth import Caller, Role, require
from grants_shared.clock import utcnow
from grants_shared.errors import Conflict, NotFound, PreconditionFailed
from grants_shared.http import optional_version, set_etag
from grants_shared.service import RuntimeDep
from grants_shared.unit_of_work import Transaction
from notifications import store
from notifications.config import own_settings
from notifications.crypto import cipher_for
from notifications.domain import SUBSCRIBABLE_EVENT_TYPES, WebhookStatus
from notifications.models import (
    EventTypes,
    WebhookDeliveryOut,
    WebhookDeliveryPage,
    WebhookIn,
    WebhookOut,
    WebhookPage,
    WebhookWithSecret,
)

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])

Admin = Annotated[Caller, Depends(require(Role.ADMIN))]
SubscriptionId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def now_as_stored() -> datetime:
    """MongoDB keeps milliseconds: answer with the time a later GET will show."""
    now = utcnow()
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def shown_once(response: Response, doc: dict[str, Any]) -> None:
    """Headers of an answer that carries a signing secret: no cache may keep a copy."""
    response.headers["Cache-Control"] = "no-store"
    set_etag(response, doc["version"])


async def existing(tx: Transaction, subscription_id: str) -> dict[str, Any]:
    doc = await store.find_subscription(tx.db, subscription_id, tx.session)
    if doc is None:
        raise NotFound("no such webhook subscription")
    return doc


async def changed(tx: Transaction, request: Request, doc: dict[str, Any], fields: dict[str, Any]) -> dict[str, Any]:
    """Apply ``fields`` to an active subscription as it was read. Deactivating and rotating need no
    If-Match (they edit nothing a person wrote); one that is sent must still be current."""
    if optional_version(request) not in (None, doc["version"]):
        raise PreconditionFailed(f"the subscription is at version {doc['version']}; read it again and retry")
    if not await store.change_subscription(tx.db, tx.session, doc["_id"], doc["version"], fields):
        raise PreconditionFailed("the subscription changed meanwhile; read it again and retry")
    return {**doc, **fields, "version": doc["version"] + 1}


@router.get("/event-types", summary="The event types integrators can subscribe to")
async def event_types(caller: Admin) -> EventTypes:
    return EventTypes(items=sorted(SUBSCRIBABLE_EVENT_TYPES))


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Subscribe an integrator's endpoint to events; the answer shows its signing secret, once",
)
async def create_webhook(body: WebhookIn, caller: Admin, runtime: RuntimeDep, response: Response) -> WebhookWithSecret:
    secret = new_secret()
    now = now_as_stored()
    doc = {
        "_id": "whs_" + secrets.token_hex(12),
        "url": body.url,
        "event_types": sorted(set(body.event_types)),
        "description": body.description,
        "active": True,
        "secret": cipher_for(own_settings(runtime.settings)).encrypt(secret),
        "created_by": caller.subject,
        "created_at": now,
        "secret_rotated_at": now,
        "deactivated_at": None,
        "version": 1,
    }
    await runtime.database.transact(lambda tx: store.create_subscription(tx.db, tx.session, dict(doc)))
    response.headers["Location"] = f"/v1/webhooks/{doc['_id']}"
    shown_once(response, doc)
    return WebhookWithSecret.with_secret(doc, secret)


@router.get("", summary="Webhook subscriptions, newest first (never their secrets)")
async def list_webhooks(
    caller: Admin,
    runtime: RuntimeDep,
    active: Annotated[bool | None, Query(description="Only active (true) or deactivated (false) ones")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 100,
) -> WebhookPage:
    docs = await store.subscriptions_page(runtime.db, active, limit)
    return WebhookPage(items=[WebhookOut.from_doc(d) for d in docs])


@router.get("/{subscription_id}", summary="One webhook subscription (never its secret)")
async def get_webhook(
    subscription_id: SubscriptionId, caller: Admin, runtime: RuntimeDep, response: Response
) -> WebhookOut:
    doc = await store.find_subscription(runtime.db, subscription_id)
    if doc is None:
        raise NotFound("no such webhook subscription")
    set_etag(response, doc["version"])
    return WebhookOut.from_doc(doc)


@router.delete(
    "/{subscription_id}",
    summary="Deactivate a webhook subscription: nothing more is sent to it, including deliveries still waiting",
    responses={412: {}},
)
async def deactivate_webhook(
    subscription_id: SubscriptionId, caller: Admin, runtime: RuntimeDep, request: Request, response: Response
) -> WebhookOut:
    async def change(tx: Transaction) -> dict[str, Any]:
        doc = await existing(tx, subscription_id)
        if not doc["active"]:
            return doc  # deactivating twice changes nothing
        return await changed(tx, request, doc, {"active": False, "deactivated_at": now_as_stored()})

    doc = await runtime.database.transact(change)
    set_etag(response, doc["version"])
    return WebhookOut.from_doc(doc)


@router.post(
    "/{subscription_id}/rotate-secret",
    summary="Replace the signing secret; the answer shows the new one, once. The old one stops at once",
    responses={409: {}, 412: {}},
)
async def rotate_secret(
    subscription_id: SubscriptionId, caller: Admin, runtime: RuntimeDep, request: Request, response: Response
) -> WebhookWithSecret:
    secret = new_secret()
    encrypted = cipher_for(own_settings(runtime.settings)).encrypt(secret)

    async def change(tx: Transaction) -> dict[str, Any]:
        doc = await existing(tx, subscription_id)
        if not doc["active"]:
            raise Conflict("the subscription is deactivated; create a new one instead")
        return await changed(tx, request, doc, {"secret": encrypted, "secret_rotated_at": now_as_stored()})

    doc = await runtime.database.transact(change)
    shown_once(response, doc)
    return WebhookWithSecret.with_secret(doc, secret)


@router.get(
    "/{subscription_id}/deliveries",
    summary="Events sent (or on their way) to a subscription, newest first, each with its attempts; no bodies",
)
async def list_webhook_deliveries(
    subscription_id: SubscriptionId,
    caller: Admin,
    runtime: RuntimeDep,
    state: Annotated[WebhookStatus | None, Query(alias="status")] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> WebhookDeliveryPage:
    if await store.find_subscription(runtime.db, subscription_id) is None:
        raise NotFound("no such webhook subscription")
    docs = await store.webhook_deliveries_page(runtime.db, subscription_id, state and state.value, limit)
    attempts: dict[str, list[dict[str, Any]]] = {}
    for record in await store.attempts_of(runtime.db, [d["_id"] for d in docs]):
        attempts.setdefault(record["notification_id"], []).append(record)
    return WebhookDeliveryPage(items=[WebhookDeliveryOut.from_doc(d, attempts.get(d["_id"], [])) for d in docs])
