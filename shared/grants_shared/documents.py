"""The one base of every document a service stores: typed, read back through pydantic; and documents
that name each other read together in one round trip (``read_together``).

``_id`` in MongoDB is ``id`` in Python. Reading ignores fields a newer version of the service added
(so old and new replicas can run side by side during a rolling update); writing dumps the model as
BSON-ready values (datetimes stay datetimes).
"""

from dataclasses import dataclass
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field

from grants_shared.unit_of_work import Db


class Document(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    id: str = Field(alias="_id")

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> Self:
        return cls.model_validate(doc)

    @classmethod
    def maybe(cls, doc: dict[str, Any] | None) -> Self | None:
        """``find_one``'s answer as a document, or None when nothing was found."""
        return None if doc is None else cls.model_validate(doc)

    def to_doc(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True)


class Part(BaseModel):
    """A part of a stored document (a decision, a timeline entry): typed, with no id of its own in MongoDB."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)


@dataclass(frozen=True)
class Joined:
    """A document read with others (:func:`read_together`): called ``name`` in the answer, from
    ``collection``, the one whose ``field`` (its ``_id`` unless said) equals ``by``: a key of what was
    asked for (``"_id"``, the id asked for) or a field of a document read before it
    (``"review.programme_id"``). One document or none: a field that several documents share would
    give only the first."""

    name: str
    collection: str
    by: str = "_id"
    field: str = "_id"


async def read_together(tx: Db, asked: str | dict[str, str], *joined: Joined) -> dict[str, dict[str, Any] | None]:
    """Documents that name each other, in one round trip rather than one each: a ``$documents`` stage
    holding what was asked for (an id, or ids by key), joined to each collection in turn (an index
    lookup each: the query-plan test checks that an index starts with each join's field), inside the
    caller's transaction when it has one. Each by its name; None where missing."""
    pipeline: list[dict[str, Any]] = [{"$documents": [asked if isinstance(asked, dict) else {"_id": asked}]}]
    for step in joined:
        pipeline += [
            {"$lookup": {"from": step.collection, "localField": step.by, "foreignField": step.field, "as": step.name}},
            # One document or none: a later join's field is then "name.field", not a path into an array.
            {"$unwind": {"path": f"${step.name}", "preserveNullAndEmptyArrays": True}},
        ]  # fmt: skip
    [found] = await (await tx.db.aggregate(pipeline, session=tx.session)).to_list(1)
    return {step.name: found.get(step.name) for step in joined}
