"""What each service holds about a person, declared once, so that a copy of it (a subject access
request) and its erasure (UK GDPR articles 15 and 17) are one rule for every service.

A service lists its :class:`PersonalData`: which collection, which field names the person the data is
about, and what each personal field becomes when they are erased. From that list:

- ``GET /v1/personal-data/people/{person_id}`` (admins) answers every document the service holds
  about the person, as stored (minus secrets it ``withholds``);
- :func:`erase` replaces the person's fields in every listed collection (their id with a pseudonym
  of the erasure, so what remains, such as scores or payments kept for audit, is no longer theirs),
  replaces them as the actor of the service's audit trail, and records that it did so, once per
  request: ``GET /v1/personal-data/erasures/{request_id}`` is the service's confirmation;
- each person field gets an index, so neither reads more than the person's own documents.

What a service must keep by law (payments, the grant agreement) stays, with the person's name gone.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bson import json_util
from fastapi import APIRouter
from pydantic import BaseModel, Field
from pymongo.asynchronous.database import AsyncDatabase

from grants_shared.api import Admin, DatabaseDep, PathId
from grants_shared.clock import utcnow
from grants_shared.errors import NotFound
from grants_shared.openapi import problems
from grants_shared.unit_of_work import Db

ERASURES = "erasures"
#: Stands for the erased person's pseudonym in :attr:`PersonalData.erase` (``erased-`` and the request).
PSEUDONYM = object()
#: Stands for the person's own id in :attr:`PersonalData.array_filters`.
PERSON = object()
ERASED_NAME = "Erased"
ERASED_EMAIL = "erased@erased.example.org"


@dataclass(frozen=True)
class PersonalData:
    collection: str
    #: The field that names the person (a subject id), e.g. ``contact.person_id`` or ``reviewer_id``.
    person: str
    #: Each personal field and what it becomes on erasure (PSEUDONYM for the person's id).
    erase: Mapping[str, Any]
    #: Erased by removing the document (a contact address, for instance) rather than by replacing fields.
    delete: bool = False
    #: Only the person's documents that also match this (e.g. those that have the part being replaced).
    where: Mapping[str, Any] = field(default_factory=dict)
    #: For fields inside lists (``history.$[entry].by``): which elements, with PERSON for their id.
    array_filters: Sequence[Mapping[str, Any]] = field(default_factory=tuple)
    #: Fields never shown in a copy (secrets, ciphertexts), e.g. ``bank_account``.
    withhold: Sequence[str] = field(default_factory=tuple)
    #: What it is, for the person reading their copy.
    about: str = ""


def pseudonym(request_id: str) -> str:
    return f"erased-{request_id}"[:64]


async def create_privacy_indexes(db: AsyncDatabase, declared: Sequence[PersonalData]) -> None:
    for held in declared:
        if held.person != "_id":
            await db[held.collection].create_index(held.person)
    await db.outbox.create_index("actor")  # the audit trail's actors, replaced on erasure


async def copy_of(tx: Db, declared: Sequence[PersonalData], person_id: str) -> dict[str, Any]:
    """Every document about the person, collection by collection, as JSON-ready values."""
    found: dict[str, Any] = {}
    for held in declared:
        hidden = {name: 0 for name in held.withhold} or None
        docs = await tx.db[held.collection].find({held.person: person_id}, hidden, session=tx.session).to_list(None)
        if not docs:
            continue
        part = found.setdefault(held.collection, {"about": [], "documents": []})
        part["about"].append(held.about)
        seen = {doc["_id"] for doc in part["documents"]}
        part["documents"] += [
            json_util.loads(json_util.dumps(doc, json_options=json_util.RELAXED_JSON_OPTIONS))
            for doc in docs if doc["_id"] not in seen
        ]  # fmt: skip
    return found


async def erase(
    tx: Db, declared: Sequence[PersonalData], person_id: str, request_id: str, *, actor: bool = True
) -> dict[str, int] | None:
    """Anonymise the person (or, with ``actor=False``, the application: ``declared`` keyed by it)
    everywhere this service holds them, once per request (None if this request was carried out
    before); answers how many documents changed, by collection."""
    if await tx.db[ERASURES].find_one({"_id": request_id}, {"_id": 1}, session=tx.session):
        return None
    replaced_by = pseudonym(request_id)
    changed: dict[str, int] = {}
    for held in declared:
        if held.delete:
            result = await tx.db[held.collection].delete_many({held.person: person_id, **held.where}, session=tx.session)
            count = result.deleted_count
        else:
            values = {name: replaced_by if value is PSEUDONYM else value for name, value in held.erase.items()}
            filters = [{k: person_id if v is PERSON else v for k, v in each.items()} for each in held.array_filters]
            result = await tx.db[held.collection].update_many(
                {held.person: person_id, **held.where}, {"$set": values}, array_filters=filters or None, session=tx.session
            )
            count = result.modified_count
        changed[held.collection] = changed.get(held.collection, 0) + count
    if actor:
        audit = await tx.db.outbox.update_many({"actor": person_id}, {"$set": {"actor": replaced_by}}, session=tx.session)
        changed["outbox"] = audit.modified_count
    await tx.db[ERASURES].insert_one(
        {"_id": request_id, "erased_at": utcnow(), "changed": changed, "pseudonym": replaced_by}, session=tx.session
    )
    return changed


class PersonalDataCopy(BaseModel):
    person_id: str
    service: str
    held: dict[str, Any] = Field(description="By collection: what it is, and every document about the person")


class ErasureConfirmation(BaseModel):
    request_id: str
    service: str
    erased_at: datetime
    changed: dict[str, int] = Field(description="How many documents were anonymised or removed, by collection")
    pseudonym: str = Field(description="What the person's id was replaced with in what is kept")


def privacy_router(service: str, declared: Sequence[PersonalData]) -> APIRouter:
    router = APIRouter(prefix="/v1/personal-data", tags=["personal data"])

    @router.get("/people/{person_id}", summary="A copy of everything this service holds about a person")
    async def copy(person_id: PathId, caller: Admin, database: DatabaseDep) -> PersonalDataCopy:
        return PersonalDataCopy(person_id=person_id, service=service, held=await copy_of(database, declared, person_id))

    @router.get("/erasures/{request_id}", summary="This service's confirmation that it carried out an erasure",
                responses=problems(s404="This service has not carried out that erasure (yet)"))
    async def confirmation(request_id: PathId, caller: Admin, database: DatabaseDep) -> ErasureConfirmation:
        doc = await database.db[ERASURES].find_one({"_id": request_id})
        if doc is None:
            raise NotFound(f"{service} has not carried out erasure {request_id} (yet)")
        return ErasureConfirmation(request_id=doc["_id"], service=service, erased_at=doc["erased_at"],
                                   changed=doc["changed"], pseudonym=doc["pseudonym"])  # fmt: skip

    return router
