"""The one shape every service's list endpoints answer with, so a frontend pages them all alike."""

from typing import Generic, TypeVar

from pydantic import BaseModel

Item = TypeVar("Item", bound=BaseModel)


class Page(BaseModel, Generic[Item]):
    """One page of a list: at most ``limit`` items after skipping ``offset``."""

    items: list[Item]
    limit: int
    offset: int
