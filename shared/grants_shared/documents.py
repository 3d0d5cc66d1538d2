"""The one base of every document a service stores: typed, read back through pydantic.

``_id`` in MongoDB is ``id`` in Python. Reading ignores fields a newer version of the service added
(so old and new replicas can run side by side during a rolling update); writing dumps the model as
BSON-ready values (datetimes stay datetimes).
"""

from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field


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
