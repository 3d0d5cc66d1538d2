"""``Transaction.once``: what a transaction reads once, for the events handled together in it."""

from typing import Any

from grants_shared.settings import ServiceSettings
from grants_shared.unit_of_work import Transaction


async def test_a_read_is_made_once_per_key_and_per_transaction() -> None:
    reads: list[str] = []

    async def subscribers(event_type: str) -> list[str]:
        reads.append(event_type)
        return [f"sub-for-{event_type}"]

    def transaction() -> Transaction[Any]:
        return Transaction(db=None, session=None, source="/grants/test", settings=ServiceSettings())  # type: ignore[arg-type]

    tx = transaction()
    first = await tx.once(("subscribers", "a"), lambda: subscribers("a"))
    again = await tx.once(("subscribers", "a"), lambda: subscribers("a"))
    other = await tx.once(("subscribers", "b"), lambda: subscribers("b"))
    assert first == again == ["sub-for-a"] and other == ["sub-for-b"]
    assert reads == ["a", "b"]
    # A retried transaction is a new one, and reads again what may have changed meanwhile.
    assert await transaction().once(("subscribers", "a"), lambda: subscribers("a")) == ["sub-for-a"]
    assert reads == ["a", "b", "a"]
