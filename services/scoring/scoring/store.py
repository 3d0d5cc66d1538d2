"""Scoring's collections, their indexes, and the queries on them.

Every function takes the session of the transaction it runs in (None for plain reads). Lists take
``offset`` and ``limit`` (0: no limit) so the API can page through them.
"""

from collections.abc import Iterable
from typing import Any

from pymongo import ASCENDING
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase

from grants_shared.clock import utcnow
from scoring.domain import CANCELLED, OPEN_REVIEW
from scoring.models import ApplicationDoc, ConflictDoc, ProgrammeDoc, ReviewDoc

Session = AsyncClientSession | None

DECLARED = "declared"


async def create_indexes(db: AsyncDatabase) -> None:
    await db.programmes.create_index("panel")
    await db.applications.create_index([("programme_id", ASCENDING), ("status", ASCENDING), ("submitted_at", ASCENDING)])
    await db.applications.create_index([("programme_id", ASCENDING), ("organisation.id", ASCENDING)])
    await db.reviews.create_index([("reviewer_id", ASCENDING), ("status", ASCENDING)])
    await db.reviews.create_index([("reviewer_id", ASCENDING), ("organisation_id", ASCENDING), ("status", ASCENDING)])
    await db.reviews.create_index("application_id")
    await db.conflicts.create_index("reviewer_id")
    await db.conflicts.create_index("organisation_id")
    # One standing declaration per reviewer and organisation; resolved ones stay as history.
    await db.conflicts.create_index(
        [("reviewer_id", ASCENDING), ("organisation_id", ASCENDING)],
        unique=True,
        partialFilterExpression={"status": DECLARED},
        name="one_declared_conflict",
    )


# --- programmes ----------------------------------------------------------------------------------


async def get_programme(db: AsyncDatabase, programme_id: str, session: Session = None) -> ProgrammeDoc | None:
    doc = await db.programmes.find_one({"_id": programme_id}, session=session)
    return ProgrammeDoc.model_validate(doc) if doc else None


async def list_programmes(
    db: AsyncDatabase, panel_member: str | None = None, offset: int = 0, limit: int = 0, session: Session = None
) -> list[ProgrammeDoc]:
    """Every programme, or those whose panel ``panel_member`` sits on, in the order they opened."""
    query = {"panel": panel_member} if panel_member else {}
    cursor = db.programmes.find(query, session=session).sort([("opened_at", ASCENDING), ("_id", ASCENDING)])
    return [ProgrammeDoc.model_validate(d) for d in await cursor.skip(offset).limit(limit).to_list(None)]


# --- applications --------------------------------------------------------------------------------


async def get_application(db: AsyncDatabase, application_id: str, session: Session = None) -> ApplicationDoc | None:
    doc = await db.applications.find_one({"_id": application_id}, session=session)
    return ApplicationDoc.model_validate(doc) if doc else None


async def applications_of_programme(
    db: AsyncDatabase,
    programme_id: str,
    statuses: Iterable[str] | None = None,
    session: Session = None,
    offset: int = 0,
    limit: int = 0,
) -> list[ApplicationDoc]:
    query: dict[str, Any] = {"programme_id": programme_id}
    if statuses is not None:
        query["status"] = {"$in": list(statuses)}
    cursor = db.applications.find(query, session=session).sort([("submitted_at", ASCENDING), ("_id", ASCENDING)])
    return [ApplicationDoc.model_validate(d) for d in await cursor.skip(offset).limit(limit).to_list(None)]


async def organisations_of_programme(
    db: AsyncDatabase, programme_id: str, offset: int = 0, limit: int = 0
) -> list[dict[str, str]]:
    pipeline: list[dict[str, Any]] = [
        {"$match": {"programme_id": programme_id}},
        {"$group": {"_id": "$organisation.id", "name": {"$first": "$organisation.name"}}},
        {"$sort": {"name": 1, "_id": 1}},
        {"$skip": offset},
    ]
    if limit:
        pipeline.append({"$limit": limit})
    cursor = await db.applications.aggregate(pipeline)
    return [{"id": d["_id"], "name": d["name"]} for d in await cursor.to_list(None)]


async def record_early_withdrawal(db: AsyncDatabase, application_id: str, session: Session) -> None:
    """A withdrawal that overtook its submission: remembered so the submission is not reviewed."""
    await db.early_withdrawals.update_one(
        {"_id": application_id}, {"$setOnInsert": {"_id": application_id}}, upsert=True, session=session
    )


async def was_withdrawn_early(db: AsyncDatabase, application_id: str, session: Session) -> bool:
    return await db.early_withdrawals.find_one({"_id": application_id}, session=session) is not None


# --- reviews -------------------------------------------------------------------------------------


async def get_review(db: AsyncDatabase, review_id: str, session: Session = None) -> ReviewDoc | None:
    doc = await db.reviews.find_one({"_id": review_id}, session=session)
    return ReviewDoc.model_validate(doc) if doc else None


async def reviews_of_reviewer(
    db: AsyncDatabase,
    reviewer_id: str,
    statuses: Iterable[str],
    hidden_organisations: Iterable[str] = (),
    offset: int = 0,
    limit: int = 0,
) -> list[ReviewDoc]:
    cursor = db.reviews.find({
        "reviewer_id": reviewer_id,
        "status": {"$in": list(statuses)},
        "organisation_id": {"$nin": list(hidden_organisations)},
    }).sort([("assigned_at", ASCENDING), ("_id", ASCENDING)])
    return [ReviewDoc.model_validate(d) for d in await cursor.skip(offset).limit(limit).to_list(None)]


async def reviews_of_application(
    db: AsyncDatabase, application_id: str, statuses: Iterable[str], session: Session = None
) -> list[ReviewDoc]:
    cursor = db.reviews.find({"application_id": application_id, "status": {"$in": list(statuses)}}, session=session)
    return [ReviewDoc.model_validate(d) for d in await cursor.sort("assigned_at", ASCENDING).to_list(None)]


async def open_reviews(db: AsyncDatabase, session: Session, **match: Any) -> list[ReviewDoc]:
    """The reviews still open (assigned or draft) that match ``match``, e.g. ``reviewer_id=...``."""
    cursor = db.reviews.find({**match, "status": {"$in": list(OPEN_REVIEW)}}, session=session)
    return [ReviewDoc.model_validate(d) for d in await cursor.to_list(None)]


async def cancel_open_reviews(db: AsyncDatabase, match: dict[str, Any], reason: str, session: Session) -> int:
    """Cancel the open reviews that match ``match``; how many were cancelled."""
    result = await db.reviews.update_many(
        {**match, "status": {"$in": list(OPEN_REVIEW)}},
        {"$set": {"status": CANCELLED, "cancelled_at": utcnow(), "cancel_reason": reason}, "$inc": {"version": 1}},
        session=session,
    )
    return result.modified_count


async def open_review_loads(db: AsyncDatabase, reviewer_ids: Iterable[str], session: Session) -> dict[str, int]:
    """How many open reviews each reviewer has, across every programme."""
    pipeline = [
        {"$match": {"reviewer_id": {"$in": list(reviewer_ids)}, "status": {"$in": list(OPEN_REVIEW)}}},
        {"$group": {"_id": "$reviewer_id", "open": {"$sum": 1}}},
    ]
    cursor = await db.reviews.aggregate(pipeline, session=session)
    return {d["_id"]: d["open"] for d in await cursor.to_list(None)}


# --- conflicts of interest -----------------------------------------------------------------------


async def get_conflict(db: AsyncDatabase, conflict_id: str, session: Session = None) -> ConflictDoc | None:
    doc = await db.conflicts.find_one({"_id": conflict_id}, session=session)
    return ConflictDoc.model_validate(doc) if doc else None


async def declared_conflict(
    db: AsyncDatabase, reviewer_id: str, organisation_id: str, session: Session = None
) -> ConflictDoc | None:
    doc = await db.conflicts.find_one(
        {"reviewer_id": reviewer_id, "organisation_id": organisation_id, "status": DECLARED}, session=session
    )
    return ConflictDoc.model_validate(doc) if doc else None


async def list_conflicts(
    db: AsyncDatabase, reviewer_id: str | None = None, offset: int = 0, limit: int = 0
) -> list[ConflictDoc]:
    cursor = db.conflicts.find({"reviewer_id": reviewer_id} if reviewer_id else {})
    cursor = cursor.sort([("declared_at", ASCENDING), ("_id", ASCENDING)]).skip(offset).limit(limit)
    return [ConflictDoc.model_validate(d) for d in await cursor.to_list(None)]


async def conflicted_organisations(db: AsyncDatabase, reviewer_id: str, session: Session = None) -> set[str]:
    cursor = db.conflicts.find({"reviewer_id": reviewer_id, "status": DECLARED}, {"organisation_id": 1}, session=session)
    return {d["organisation_id"] for d in await cursor.to_list(None)}


async def conflicted_reviewers(
    db: AsyncDatabase, organisation_id: str, reviewer_ids: Iterable[str], session: Session
) -> set[str]:
    cursor = db.conflicts.find(
        {"organisation_id": organisation_id, "reviewer_id": {"$in": list(reviewer_ids)}, "status": DECLARED},
        {"reviewer_id": 1},
        session=session,
    )
    return {d["reviewer_id"] for d in await cursor.to_list(None)}
