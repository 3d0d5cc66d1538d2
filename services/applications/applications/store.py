"""Collections, indexes and queries of the applications database.

- ``programmes``: funding rounds.
- ``organisations``: applicant profiles, keyed by the organisation id the identity provider issues.
- ``applications``: applications with their timeline and what downstream services told us.
- ``active_submissions``: one document per (programme, organisation) with an application under
  consideration; its unique ``_id`` stops two concurrent submissions from both getting through.

Writes take the caller's session (``tx.session``) and update conditionally on ``version``, so a
stale or concurrent change never overwrites another.
"""

from collections.abc import Iterable
from datetime import datetime
from typing import Any, TypeVar

from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

from applications.models import Application, Organisation, Programme

Session = AsyncClientSession | None
Stored = Programme | Organisation | Application
Doc = TypeVar("Doc", Programme, Organisation, Application)


async def create_indexes(db: AsyncDatabase) -> None:
    await db.programmes.create_index([("status", ASCENDING), ("created_at", DESCENDING)])
    await db.programmes.create_index([("status", ASCENDING), ("closes_at", ASCENDING)])
    await db.applications.create_index([("organisation_id", ASCENDING), ("created_at", DESCENDING)])
    await db.applications.create_index([("programme_id", ASCENDING), ("status", ASCENDING)])
    await db.applications.create_index([("status", ASCENDING), ("created_at", DESCENDING)])


# --- every stored document, read by id and replaced only if nobody changed it meanwhile ----------


async def _get(collection: AsyncCollection, model: type[Doc], doc_id: str, session: Session) -> Doc | None:
    doc = await collection.find_one({"_id": doc_id}, session=session)
    return model.model_validate(doc) if doc else None


async def _replace(collection: AsyncCollection, document: Stored, read_version: int, session: Session) -> bool:
    """Store ``document`` if nobody changed it since ``read_version`` was read."""
    current = {"_id": document.id, "version": read_version}
    result = await collection.replace_one(current, document.to_doc(), session=session)
    return result.modified_count == 1


# --- programmes ----------------------------------------------------------------------------------


async def get_programme(db: AsyncDatabase, programme_id: str, session: Session = None) -> Programme | None:
    return await _get(db.programmes, Programme, programme_id, session)


async def list_programmes(
    db: AsyncDatabase, statuses: Iterable[str], limit: int, offset: int
) -> list[Programme]:
    cursor = (
        db.programmes.find({"status": {"$in": list(statuses)}})
        .sort([("created_at", DESCENDING), ("_id", ASCENDING)])
        .skip(offset)
        .limit(limit)
    )
    return [Programme.model_validate(doc) async for doc in cursor]


async def programmes_due_to_close(db: AsyncDatabase, now: datetime, limit: int = 100) -> list[str]:
    cursor = db.programmes.find({"status": "open", "closes_at": {"$lte": now}}, {"_id": 1}).limit(limit)
    return [doc["_id"] async for doc in cursor]


async def insert_programme(db: AsyncDatabase, programme: Programme, session: Session) -> None:
    await db.programmes.insert_one(programme.to_doc(), session=session)


async def replace_programme(db: AsyncDatabase, programme: Programme, read_version: int, session: Session) -> bool:
    return await _replace(db.programmes, programme, read_version, session)


# --- organisations -------------------------------------------------------------------------------


async def get_organisation(db: AsyncDatabase, organisation_id: str, session: Session = None) -> Organisation | None:
    return await _get(db.organisations, Organisation, organisation_id, session)


async def get_organisations(db: AsyncDatabase, organisation_ids: Iterable[str]) -> dict[str, Organisation]:
    cursor = db.organisations.find({"_id": {"$in": sorted(set(organisation_ids))}})
    return {doc["_id"]: Organisation.model_validate(doc) async for doc in cursor}


async def insert_organisation(db: AsyncDatabase, organisation: Organisation, session: Session) -> None:
    await db.organisations.insert_one(organisation.to_doc(), session=session)


async def replace_organisation(
    db: AsyncDatabase, organisation: Organisation, read_version: int, session: Session
) -> bool:
    return await _replace(db.organisations, organisation, read_version, session)


# --- applications --------------------------------------------------------------------------------


async def get_application(db: AsyncDatabase, application_id: str, session: Session = None) -> Application | None:
    return await _get(db.applications, Application, application_id, session)


async def list_applications(
    db: AsyncDatabase, query: dict[str, Any], limit: int, offset: int
) -> list[Application]:
    cursor = (
        db.applications.find(query, {"timeline": 0})
        .sort([("created_at", DESCENDING), ("_id", ASCENDING)])
        .skip(offset)
        .limit(limit)
    )
    return [Application.model_validate(doc) async for doc in cursor]


async def awarded_applications(db: AsyncDatabase, programme_id: str) -> list[Application]:
    """The programme's applications the panel awarded, except any withdrawn before the decision reached us."""
    query = {"programme_id": programme_id, "decision.outcome": "awarded", "status": {"$ne": "withdrawn"}}
    cursor = db.applications.find(query, {"timeline": 0}).sort([("_id", ASCENDING)])
    return [Application.model_validate(doc) async for doc in cursor]


async def insert_application(db: AsyncDatabase, application: Application, session: Session) -> None:
    await db.applications.insert_one(application.to_doc(), session=session)


async def replace_application(
    db: AsyncDatabase, application: Application, read_version: int, session: Session
) -> bool:
    return await _replace(db.applications, application, read_version, session)


async def delete_draft(db: AsyncDatabase, application_id: str, read_version: int, session: Session) -> bool:
    result = await db.applications.delete_one(
        {"_id": application_id, "status": "draft", "version": read_version}, session=session
    )
    return result.deleted_count == 1


# --- one application under consideration per organisation and programme --------------------------


def _submission_key(programme_id: str, organisation_id: str) -> str:
    # "|" cannot occur in an id, so the key is unambiguous.
    return f"{programme_id}|{organisation_id}"


def _submission(application: Application) -> dict[str, str]:
    key = _submission_key(application.programme_id, application.organisation_id)
    return {"_id": key, "application_id": application.id}


async def active_submission(
    db: AsyncDatabase, programme_id: str, organisation_id: str, session: Session
) -> str | None:
    """The id of the organisation's application to this programme that is under consideration, if any."""
    doc = await db.active_submissions.find_one({"_id": _submission_key(programme_id, organisation_id)}, session=session)
    return doc["application_id"] if doc else None


async def claim_submission(db: AsyncDatabase, application: Application, session: Session) -> None:
    """Raises DuplicateKeyError (or a write conflict) if another submission got there first."""
    await db.active_submissions.insert_one(_submission(application), session=session)


async def release_submission(db: AsyncDatabase, application: Application, session: Session) -> None:
    await db.active_submissions.delete_one(_submission(application), session=session)
