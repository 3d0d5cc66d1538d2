"""The audit trail: what happened to an application in this service, when, and at whose request.

Every change a service makes emits its events in the same transaction (the outbox), and every
decision is such a change, so a service's outbox is already the record of its changes in order:
once published, an entry keeps its type, time and actor (the subject id of the person whose request
caused it; none for the platform's own doing) and its data without the personal fields, for
``audit_retention_days``. Each service answers ``GET /v1/audit/applications/{id}`` from its own
outbox, one index walk; the portal's history page puts the four side by side in time order.
"""

from datetime import datetime
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field
from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase

from grants_shared.api import DatabaseDep, Manager, PathId
from grants_shared.events import CONTRACTS

#: The most entries one answer holds (an application's whole story in one service is far fewer).
MOST = 1_000


async def create_audit_indexes(db: AsyncDatabase) -> None:
    await db.outbox.create_index([("data.application_id", ASCENDING), ("time", ASCENDING)], name="audit_by_application")


class AuditEntry(BaseModel):
    event_id: str
    type: str = Field(description="The event's type, e.g. application.decided")
    what: str = Field(description="What the event means, in a sentence")
    at: datetime
    service: str = Field(description="The service that made the change")
    actor: str | None = Field(description="Who asked for it (a subject id); null when the platform did it itself")


class AuditTrail(BaseModel):
    application_id: str
    service: str
    entries: list[AuditEntry]
    complete: bool = Field(description=f"False if the application has more than {MOST} entries here")


def _what(event_type: str) -> str:
    contract = CONTRACTS.get(event_type)
    doc = (contract.__doc__ or "").strip() if contract else ""
    return doc.split("\n\n")[0].replace("\n", " ") or event_type


async def trail(db: AsyncDatabase, service: str, application_id: str) -> AuditTrail:
    cursor = db.outbox.find(
        {"data.application_id": application_id}, {"type": 1, "time": 1, "actor": 1, "source": 1}
    ).sort([("data.application_id", ASCENDING), ("time", ASCENDING)]).limit(MOST + 1)
    docs: list[dict[str, Any]] = await cursor.to_list(None)
    entries = [
        AuditEntry(event_id=d["_id"], type=d["type"], what=_what(d["type"]), at=d["time"], service=service,
                   actor=d.get("actor"))  # fmt: skip
        for d in docs[:MOST]
    ]
    return AuditTrail(application_id=application_id, service=service, entries=entries, complete=len(docs) <= MOST)


def audit_router(service: str) -> APIRouter:
    router = APIRouter(prefix="/v1/audit", tags=["audit"])

    @router.get("/applications/{application_id}", summary="Every change this service made to an application, in order")
    async def application_trail(application_id: PathId, caller: Manager, database: DatabaseDep) -> AuditTrail:
        return await trail(database.db, service, application_id)

    return router
