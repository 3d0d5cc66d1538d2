"""HTTP API: a person's own inbox and contact address; the delivery audit for admins."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response, status

from grants_shared.auth import Caller, Role, require
from grants_shared.clock import utcnow
from grants_shared.errors import NotFound, PreconditionFailed
from grants_shared.http import expected_version, set_etag
from grants_shared.service import RuntimeDep
from grants_shared.unit_of_work import Transaction
from notifications import store
from notifications.domain import RecipientKind, Template
from notifications.models import (
    Channel,
    ContactIn,
    ContactOut,
    DeliveryOut,
    DeliveryPage,
    InboxItem,
    InboxPage,
    InboxSummary,
    Outcome,
)

router = APIRouter(prefix="/v1")

# Everyone who can sign in has an inbox and may register where their notifications go.
Anyone = Annotated[Caller, Depends(require(*Role))]
Admin = Annotated[Caller, Depends(require(Role.ADMIN))]
NotificationId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]
# Filters name notifications and people: any id the event contracts carry, identity-provider subjects
# such as "maya@example.org" or "auth0|abc" included.
Id = Annotated[str, Query(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.:@|+-]+$")]


# --- contact ---------------------------------------------------------------------------------------


@router.get("/me/contact", summary="The email address you registered for notifications", tags=["contact"])
async def get_contact(caller: Anyone, runtime: RuntimeDep, response: Response) -> ContactOut:
    doc = await store.find_contact(runtime.db, caller.subject)
    if doc is None:
        raise NotFound("you have not registered a contact address")
    set_etag(response, doc["version"])
    return ContactOut.from_doc(doc)


@router.put(
    "/me/contact",
    summary="Register or change the email address your notifications go to",
    description="The first registration needs no If-Match; changing it needs the ETag you last read.",
    tags=["contact"],
    responses={201: {"model": ContactOut}, 412: {}, 428: {}},
)
async def put_contact(
    body: ContactIn, caller: Anyone, runtime: RuntimeDep, request: Request, response: Response
) -> ContactOut:
    if_match = request.headers.get("if-match")

    async def change(tx: Transaction) -> tuple[dict[str, Any], bool]:
        now = utcnow()
        fields = {"email": str(body.email), "name": body.name, "updated_at": now}
        existing = await store.find_contact(tx.db, caller.subject, tx.session)
        if existing is None:
            if if_match is not None:
                raise PreconditionFailed("there is no contact address to change yet; register one without If-Match")
            created = {"_id": caller.subject, **fields, "version": 1, "created_at": now}
            if await store.create_contact(tx.db, tx.session, created):
                return created, True
            existing = await store.find_contact(tx.db, caller.subject, tx.session)
            assert existing is not None
        version = expected_version(request)
        if version != existing["version"] or not await store.replace_contact(
            tx.db, tx.session, caller.subject, version, fields
        ):
            raise PreconditionFailed(f"your contact is at version {existing['version']}; read it again and retry")
        return {**existing, **fields, "version": version + 1}, False

    doc, created = await runtime.database.transact(change)
    response.status_code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
    set_etag(response, doc["version"])
    return ContactOut.from_doc(doc)


# --- inbox -----------------------------------------------------------------------------------------


@router.get("/inbox", summary="Your notifications, newest first", tags=["inbox"])
async def list_inbox(
    caller: Anyone,
    runtime: RuntimeDep,
    unread: Annotated[bool, Query(description="Only notifications you have not read")] = False,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> InboxPage:
    docs = await store.inbox_page(runtime.db, caller.subject, unread, limit)
    return InboxPage(
        items=[InboxSummary.from_doc(d) for d in docs], unread_count=await store.unread_count(runtime.db, caller.subject)
    )


@router.get("/inbox/{notification_id}", summary="One of your notifications, with its text and HTML", tags=["inbox"])
async def get_notification(notification_id: NotificationId, caller: Anyone, runtime: RuntimeDep) -> InboxItem:
    doc = await store.own_notification(runtime.db, caller.subject, notification_id)
    if doc is None:
        raise NotFound("no such notification in your inbox")
    return InboxItem.from_doc(doc)


@router.post("/inbox/{notification_id}/read", summary="Mark one of your notifications as read", tags=["inbox"])
async def mark_read(notification_id: NotificationId, caller: Anyone, runtime: RuntimeDep) -> InboxItem:
    async def change(tx: Transaction) -> dict[str, Any]:
        await store.mark_read(tx.db, tx.session, caller.subject, notification_id, utcnow())
        doc = await store.own_notification(tx.db, caller.subject, notification_id, tx.session)
        if doc is None:
            raise NotFound("no such notification in your inbox")
        return doc

    return InboxItem.from_doc(await runtime.database.transact(change))


# --- audit -----------------------------------------------------------------------------------------


@router.get("/deliveries", summary="Delivery attempts on every channel, newest first (no message bodies)",
            tags=["audit"])
async def list_deliveries(
    caller: Admin,
    runtime: RuntimeDep,
    notification_id: Id | None = None,
    recipient_id: Id | None = None,
    recipient_kind: RecipientKind | None = None,
    template: Template | None = None,
    channel: Channel | None = None,
    outcome: Outcome | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> DeliveryPage:
    filters = {
        key: value for key, value in {
            "notification_id": notification_id, "recipient_id": recipient_id,
            "recipient_kind": recipient_kind and recipient_kind.value, "template": template and template.value,
            "channel": channel, "outcome": outcome,
        }.items() if value is not None
    }
    docs = await store.deliveries_page(runtime.db, filters, limit)
    return DeliveryPage(items=[DeliveryOut.from_doc(d) for d in docs])
