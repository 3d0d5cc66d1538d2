"""Integrators' webhook subscriptions, for admins only: subscribing an endpoint (at a public address),
its signing secret (shown once, on creation and on rotation), deactivating and reactivating it, what
was delivered to it, and sending one delivery or a time range of them again."""

from typing import Annotated

from fastapi import APIRouter, Query, Response

from grants_shared.api import Admin, DatabaseDep, IfMatch, Limit, Offset, Page, PathId, Transact, set_etag
from grants_shared.errors import NotFound, RuleViolation
from grants_shared.idempotency import Created, Once
from grants_shared.openapi import etag, problems
from grants_shared.unit_of_work import Db
from notifications import commands, store
from notifications.config import CurrentSettings
from notifications.crypto import cipher_for
from notifications.domain import SUBSCRIBABLE_EVENT_TYPES, WebhookStatus
from notifications.schemas import (
    EventTypes,
    NewWebhook,
    Reactivated,
    Replay,
    Replayed,
    Rotation,
    WebhookDeliveryView,
    WebhookView,
    WebhookWithSecret,
)
from notifications.webhook_targets import Allowed, TargetRefused, check_subscribable
from notifications.store import WebhookSubscription

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])


@router.get("/event-types", summary="The event types integrators can subscribe to")
async def event_types(caller: Admin) -> EventTypes:
    return EventTypes(items=sorted(SUBSCRIBABLE_EVENT_TYPES))


def _created(subscribed: tuple[WebhookSubscription, str]) -> Created:
    subscription, secret = subscribed
    view = WebhookWithSecret.with_secret(subscription, secret)
    return Created(view, f"/v1/webhooks/{subscription.id}", subscription.version)


@router.post(
    "", status_code=201, response_model=WebhookWithSecret,
    summary="Subscribe an integrator's endpoint to events; the answer shows its signing secret, once",
    description="The endpoint must be at a public address (not loopback, private, link-local, shared, "
    "multicast or unspecified, in IPv4 or IPv6), unless the service's allow-list names it.",
    responses=etag(201) | problems(s422="The request is invalid, or the endpoint is not at a public address"),
)  # fmt: skip
async def create_webhook(
    body: NewWebhook, caller: Admin, transact: Transact, once: Once, settings: CurrentSettings
) -> Response:
    try:
        await check_subscribable(body.url, Allowed.of(settings.webhook_allowed_targets))
    except TargetRefused as refused:
        raise RuleViolation(str(refused)) from None
    # A retry with the same Idempotency-Key gets the same answer, secret included: it is kept
    # encrypted with the webhook secrets' key until the key expires (a day).
    cipher = cipher_for(settings)
    answer = await once.sealed(cipher.encrypt, cipher.decrypt).create(transact, commands.subscribe_webhook, _created, body)
    answer.headers["Cache-Control"] = "no-store"
    return answer


@router.get("", summary="Webhook subscriptions, newest first (never their secrets)")
async def list_webhooks(
    caller: Admin,
    database: DatabaseDep,
    active: Annotated[bool | None, Query(description="Only active (true) or deactivated (false) ones")] = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> Page[WebhookView]:
    found, total = await store.list_subscriptions(database, active, limit, offset)
    return Page(items=[WebhookView.of(s) for s in found], limit=limit, offset=offset, total=total)


@router.get("/{subscription_id}", summary="One webhook subscription (never its secret)", responses=etag())
async def get_webhook(subscription_id: PathId, caller: Admin, database: DatabaseDep, response: Response) -> WebhookView:
    subscription = await existing(database, subscription_id)
    set_etag(response, subscription.version)
    return WebhookView.of(subscription)


@router.delete(
    "/{subscription_id}",
    summary="Deactivate a webhook subscription: nothing more is sent to it, including deliveries still waiting",
    responses=etag(),
)
async def deactivate_webhook(
    subscription_id: PathId, caller: Admin, transact: Transact, version: IfMatch, response: Response
) -> WebhookView:
    subscription = await transact(commands.deactivate_webhook, subscription_id, version)
    set_etag(response, subscription.version)
    return WebhookView.of(subscription)


@router.post(
    "/{subscription_id}/reactivate",
    summary="Make a disabled or deactivated subscription active again; what was held while it was disabled goes out",
    responses=etag(),
)
async def reactivate_webhook(
    subscription_id: PathId, caller: Admin, transact: Transact, version: IfMatch, response: Response
) -> Reactivated:
    subscription, released = await transact(commands.reactivate_webhook, subscription_id, version)
    set_etag(response, subscription.version)
    return Reactivated.of_released(subscription, released)


@router.post(
    "/{subscription_id}/rotate-secret",
    summary="Replace the signing secret; the answer shows the new one, once. The old one goes on signing "
    "beside it for the overlap (a second signature), then stops",
    responses=etag() | problems(409),
)
async def rotate_secret(
    subscription_id: PathId, caller: Admin, transact: Transact, version: IfMatch, response: Response,
    body: Rotation | None = None,
) -> WebhookWithSecret:
    subscription, secret = await transact(commands.rotate_webhook_secret, subscription_id, version, body)
    shown_once(response, subscription)
    return WebhookWithSecret.with_secret(subscription, secret)


@router.post(
    "/{subscription_id}/deliveries/{delivery_id}/resend",
    summary="Send one delivery again, with the same webhook-id and body (one already waiting is left as it is)",
    responses=problems(409, 412),
)
async def resend_delivery(
    subscription_id: PathId, delivery_id: PathId, caller: Admin, transact: Transact, database: DatabaseDep
) -> WebhookDeliveryView:
    delivery = await transact(commands.resend_webhook_delivery, subscription_id, delivery_id)
    attempts = await store.webhook_attempts(database, [delivery.id])
    return WebhookDeliveryView.of(delivery, attempts.get(delivery.id, []))


@router.post(
    "/{subscription_id}/replay",
    summary="Send again every delivery queued for the subscription in a time range, same webhook-id each",
    responses=problems(409, 412),
)
async def replay_deliveries(subscription_id: PathId, body: Replay, caller: Admin, transact: Transact) -> Replayed:
    queued, remaining = await transact(commands.replay_webhook_deliveries, subscription_id, body)
    return Replayed(queued=queued, remaining=remaining)


@router.get(
    "/{subscription_id}/deliveries",
    summary="Events sent (or on their way) to a subscription, newest first, each with its attempts; no bodies",
)
async def list_webhook_deliveries(
    subscription_id: PathId,
    caller: Admin,
    database: DatabaseDep,
    state: Annotated[WebhookStatus | None, Query(alias="status")] = None,
    limit: Limit = 20,
    offset: Offset = 0,
) -> Page[WebhookDeliveryView]:
    await existing(database, subscription_id)
    found, total = await store.list_webhook_deliveries(database, subscription_id, state, limit, offset)
    attempts = await store.webhook_attempts(database, [d.id for d in found])
    items = [WebhookDeliveryView.of(d, attempts.get(d.id, [])) for d in found]
    return Page(items=items, limit=limit, offset=offset, total=total)


async def existing(database: Db, subscription_id: str) -> WebhookSubscription:
    subscription = await store.get_subscription(database, subscription_id)
    if subscription is None:
        raise NotFound("no such webhook subscription")
    return subscription


def shown_once(response: Response, subscription: WebhookSubscription) -> None:
    """Headers of an answer that carries a signing secret: no cache may keep a copy."""
    response.headers["Cache-Control"] = "no-store"
    set_etag(response, subscription.version)
