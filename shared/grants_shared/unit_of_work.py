"""A MongoDB transaction together with the events it causes.

Routes and event handlers change state through :meth:`Database.transact`: the change and its
outbox events commit together or not at all, and a transaction that hits a write conflict with a
concurrent one is retried as a whole.
"""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

from pymongo import AsyncMongoClient
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase

from grants_shared.events import Event, EventData
from grants_shared.outbox import add_to_outbox
from grants_shared.settings import ServiceSettings

T = TypeVar("T")


@dataclass
class Transaction:
    """What a change sees: the database, the session every write must pass, ``emit``, and the
    service's settings (the service's own subclass of ServiceSettings)."""

    db: AsyncDatabase
    session: AsyncClientSession
    source: str
    settings: ServiceSettings
    traceparent: str | None = None
    emitted: list[Event] = field(default_factory=list)

    async def emit(self, data: EventData) -> Event:
        event = Event.new(data, source=self.source, traceparent=self.traceparent)
        await add_to_outbox(self.db, self.session, event)
        self.emitted.append(event)
        return event


class Database:
    """A service's own database, and the one way to change it."""

    def __init__(
        self,
        client: AsyncMongoClient,
        settings: ServiceSettings,
        service: str,
        after_commit: Callable[[], None] = lambda: None,
    ) -> None:
        self.client = client
        self.settings = settings
        self.db: AsyncDatabase = client[settings.database(service)]
        self.source = f"/grants/{service}"
        self.after_commit = after_commit

    async def transact(self, change: Callable[[Transaction], Awaitable[T]], traceparent: str | None = None) -> T:
        async with self.client.start_session() as session:
            emitted: list[Event] = []

            async def attempt(session: AsyncClientSession) -> T:
                tx = Transaction(self.db, session, self.source, self.settings, traceparent)
                result = await change(tx)
                emitted[:] = tx.emitted
                return result

            result = await session.with_transaction(attempt)
        if emitted:
            self.after_commit()
        return result
