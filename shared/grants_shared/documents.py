"""The one base of every document a service stores: typed, read back through pydantic; and documents
that name each other read together in one round trip (``read_together``).

``_id`` in MongoDB is ``id`` in Python. Reading ignores fields a newer version of the service added
(so old and new replicas can run side by side during a rolling update); writing dumps the model as
BSON-ready values (datetimes stay datetimes).
"""

from collections.abc import Mapping
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
    (``"review.programme_id"``), or several of these run together with ``separator`` between them
    (a key made of two fields: ``("application.programme_id", "application.organisation_id")``).
    One document or none: a field that several documents share would
    give only the first, unless ``many``: then every document with that ``field`` (a list, perhaps
    empty) that also matches ``where``, with only the fields ``only`` names if it names some (for
    the few documents of a kind that belong to one: an application's reviews). ``where`` filters
    after the index lookup by ``field``: every document with that field is read, so it is for a
    kind of which few ever belong to one, never for what grows with history (a reviewer's reviews
    over the years: there a query on an index that holds the filter's fields too is the way)."""

    name: str
    collection: str
    by: str | tuple[str, ...] = "_id"
    field: str = "_id"
    separator: str = "|"
    many: bool = False
    where: Mapping[str, Any] | None = None
    only: tuple[str, ...] = ()


async def read_together(tx: Db, asked: str | dict[str, str], *joined: Joined) -> dict[str, Any]:
    """Documents that name each other, in one round trip rather than one each: a ``$documents`` stage
    holding what was asked for (an id, or ids by key), joined to each collection in turn (an index
    lookup each: the query-plan test checks that an index starts with each join's field), inside the
    caller's transaction when it has one. Each by its name; None where missing (a list for ``many``)."""
    pipeline: list[dict[str, Any]] = [{"$documents": [asked if isinstance(asked, dict) else {"_id": asked}]}]
    for step in joined:
        by = step.by
        if isinstance(by, tuple):
            parts: list[str] = []
            for path in by:
                parts += [step.separator, f"${path}"] if parts else [f"${path}"]
            by = f"{step.name}_key"
            pipeline.append({"$addFields": {by: {"$concat": parts}}})
        lookup: dict[str, Any] = {"from": step.collection, "localField": by, "foreignField": step.field,
                                  "as": step.name}  # fmt: skip
        if not step.many:
            # One document or none: a later join's field is then "name.field", not a path into an array.
            pipeline += [{"$lookup": lookup}, {"$unwind": {"path": f"${step.name}", "preserveNullAndEmptyArrays": True}}]
            continue
        narrowed = [{"$match": dict(step.where)}] if step.where else []
        if step.only:
            narrowed.append({"$project": {name: 1 for name in step.only}})
        pipeline.append({"$lookup": {**lookup, "pipeline": narrowed} if narrowed else lookup})
    [found] = await (await tx.db.aggregate(pipeline, session=tx.session)).to_list(1)
    return {step.name: found.get(step.name) for step in joined}
