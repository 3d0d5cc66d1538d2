"""Scoring's collections, their indexes, and the queries on them.

Every function takes the session of the transaction it runs in (None for plain reads).
"""

from collections.abc import Iterable
from typing import Any

from pymongo import ASCENDING
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase

from scoring.domain import OPEN_REVIEW
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


async def list_programmes(db: AsyncDatabase, panel_member: str | None = None) -> list[ProgrammeDoc]:
    query = {"panel": panel_member} if panel_member else {}
    docs = await db.programmes.find(query).sort("opened_at", ASCENDING).to_list(None)
    return [ProgrammeDoc.model_validate(d) for d in docs]


async def programme_ids_with_panel_member(db: AsyncDatabase, reviewer_id: str, session: Session) -> list[str]:
    docs = await db.programmes.find({"panel": reviewer_id}, {"_id": 1}, session=session).to_list(None)
    return [d["_id"] for d in docs]


# --- applications --------------------------------------------------------------------------------


async def get_application(db: AsyncDatabase, application_id: str, session: Session = None) -> ApplicationDoc | None:
    doc = await db.applications.find_one({"_id": application_id}, session=session)
    return ApplicationDoc.model_validate(doc) if doc else None


async def applications_of_programme(
    db: AsyncDatabase, programme_id: str, statuses: Iterable[str] | None = None, session: Session = None
) -> list[ApplicationDoc]:
    query: dict[str, Any] = {"programme_id": programme_id}
    if statuses is not None:
        query["status"] = {"$in": list(statuses)}
    cursor = db.applications.find(query, session=session).sort([("submitted_at", ASCENDING), ("_id", ASCENDING)])
    return [ApplicationDoc.model_validate(d) for d in await cursor.to_list(None)]


async def organisations_of_programme(db: AsyncDatabase, programme_id: str) -> list[dict[str, str]]:
    pipeline = [
        {"$match": {"programme_id": programme_id}},
        {"$group": {"_id": "$organisation.id", "name": {"$first": "$organisation.name"}}},
        {"$sort": {"name": 1, "_id": 1}},
    ]
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


async def reviews_of_reviewer(db: AsyncDatabase, reviewer_id: str, statuses: Iterable[str]) -> list[ReviewDoc]:
    cursor = db.reviews.find({"reviewer_id": reviewer_id, "status": {"$in": list(statuses)}})
    return [ReviewDoc.model_validate(d) for d in await cursor.sort("assigned_at", ASCENDING).to_list(None)]


async def reviews_of_application(
    db: AsyncDatabase, application_id: str, statuses: Iterable[str], session: Session = None
) -> list[ReviewDoc]:
    cursor = db.reviews.find({"application_id": application_id, "status": {"$in": list(statuses)}}, session=session)
    return [ReviewDoc.model_validate(d) for d in await cursor.sort("assigned_at", ASCENDING).to_list(None)]


async def open_reviews_of_organisation(
    db: AsyncDatabase, reviewer_id: str, organisation_id: str, session: Session
) -> list[ReviewDoc]:
    cursor = db.reviews.find(
        {"reviewer_id": reviewer_id, "organisation_id": organisation_id, "status": {"$in": list(OPEN_REVIEW)}},
        session=session,
    )
    return [ReviewDoc.model_validate(d) for d in await cursor.to_list(None)]


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


async def list_conflicts(db: AsyncDatabase, reviewer_id: str | None = None) -> list[ConflictDoc]:
    cursor = db.conflicts.find({"reviewer_id": reviewer_id} if reviewer_id else {}).sort("declared_at", ASCENDING)
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
