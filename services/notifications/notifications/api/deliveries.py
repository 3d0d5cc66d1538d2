"""The delivery audit, for admins: every attempt on every channel (inbox, email, webhook), with no
message bodies and no addresses."""

from fastapi import APIRouter

from grants_shared.api import Admin, DatabaseDep, IdFilter, Limit, Offset, Page
from notifications import store
from notifications.domain import Channel, Outcome, RecipientKind, Template
from notifications.schemas import DeliveryView

router = APIRouter(prefix="/v1/deliveries", tags=["audit"])


@router.get("", summary="Delivery attempts on every channel, newest first (no message bodies)")
async def list_deliveries(
    caller: Admin,
    database: DatabaseDep,
    notification_id: IdFilter = None,
    recipient_id: IdFilter = None,
    recipient_kind: RecipientKind | None = None,
    template: Template | None = None,
    channel: Channel | None = None,
    outcome: Outcome | None = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Page[DeliveryView]:
    asked = {
        "notification_id": notification_id, "recipient_id": recipient_id, "recipient_kind": recipient_kind,
        "template": template, "channel": channel, "outcome": outcome,
    }  # fmt: skip
    filters = {field: value for field, value in asked.items() if value is not None}
    found, total = await store.list_deliveries(database, filters, limit, offset)
    return Page(items=[DeliveryView.of(d) for d in found], limit=limit, offset=offset, total=total)
