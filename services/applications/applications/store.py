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
from typing import Any

from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase

from applications.models import Application, Organisation, Programme

Session = AsyncClientSession | None


async def create_indexes(db: AsyncDatabase) -> None:
    await db.programmes.create_index([("status", ASCENDING), ("created_at", DESCENDING)])
    await db.programmes.create_index([("status", ASCENDING), ("closes_at", ASCENDING)])
    await db.applications.create_index([("organisation_id", ASCENDING), ("created_at", DESCENDING)])
    await db.applications.create_index([("programme_id", ASCENDING), ("status", ASCENDING)])
    await db.applications.create_index([("status", ASCENDING), ("created_at", DESCENDING)])


# --- programmes ----------------------------------------------------------------------------------


async def get_programme(db: AsyncDatabase, programme_id: str, session: Session = None) -> Programme | None:
    doc = await db.programmes.find_one({"_id": programme_id}, session=session)
    return Programme.model_validate(doc) if doc else None


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
    """Store ``programme`` if nobody changed it since ``read_version`` was read."""
    result = await db.programmes.replace_one(
        {"_id": programme.id, "version": read_version}, programme.to_doc(), session=session
    )
    return result.modified_count == 1


# --- organisations -------------------------------------------------------------------------------


async def get_organisation(db: AsyncDatabase, organisation_id: str, session: Session = None) -> Organisation | None:
    doc = await db.organisations.find_one({"_id": organisation_id}, session=session)
    return Organisation.model_validate(doc) if doc else None


async def insert_organisation(db: AsyncDatabase, organisation: Organisation, session: Session) -> None:
    await db.organisations.insert_one(organisation.to_doc(), session=session)


async def replace_organisation(
    db: AsyncDatabase, organisation: Organisation, read_version: int, session: Session
) -> bool:
    result = await db.organisations.replace_one(
        {"_id": organisation.id, "version": read_version}, organisation.to_doc(), session=session
    )
    return result.modified_count == 1


# --- applications --------------------------------------------------------------------------------


async def get_application(db: AsyncDatabase, application_id: str, session: Session = None) -> Application | None:
    doc = await db.applications.find_one({"_id": application_id}, session=session)
    return Application.model_validate(doc) if doc else None


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


async def insert_application(db: AsyncDatabase, application: Application, session: Session) -> None:
    await db.applications.insert_one(application.to_doc(), session=session)


async def replace_application(
    db: AsyncDatabase, application: Application, read_version: int, session: Session
) -> bool:
    result = await db.applications.replace_one(
        {"_id": application.id, "version": read_version}, application.to_doc(), session=session
    )
    return result.modified_count == 1


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
