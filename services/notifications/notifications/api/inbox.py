"""Everyone's own inbox: every notification lands here at once, whether or not it is also emailed.
Someone else's notification answers 404, so its existence is not revealed."""

from typing import Annotated

from fastapi import APIRouter, Query

from grants_shared.api import Anyone, DatabaseDep, Limit, Offset, PathId, Transact
from grants_shared.errors import NotFound
from notifications import commands, store
from notifications.schemas import InboxItem, InboxPage, InboxSummary

router = APIRouter(prefix="/v1/inbox", tags=["inbox"])


@router.get("", summary="Your notifications, newest first, and how many you have not read")
async def list_inbox(
    caller: Anyone,
    database: DatabaseDep,
    unread: Annotated[bool, Query(description="Only notifications you have not read")] = False,
    limit: Limit = 20,
    offset: Offset = 0,
) -> InboxPage:
    found, total = await store.inbox_page(database, caller.subject, unread, limit, offset)
    return InboxPage(
        items=[InboxSummary.of(n) for n in found], limit=limit, offset=offset, total=total,
        unread_count=await store.unread_count(database, caller.subject),
    )  # fmt: skip


@router.get("/{notification_id}", summary="One of your notifications, with its text and HTML")
async def get_notification(notification_id: PathId, caller: Anyone, database: DatabaseDep) -> InboxItem:
    notification = await store.own_notification(database, caller.subject, notification_id)
    if notification is None:
        raise NotFound("no such notification in your inbox")
    return InboxItem.of(notification)


@router.post("/{notification_id}/read", summary="Mark one of your notifications as read (the first time is kept)")
async def mark_read(notification_id: PathId, caller: Anyone, transact: Transact) -> InboxItem:
    return InboxItem.of(await transact(commands.mark_read, caller.subject, notification_id))
