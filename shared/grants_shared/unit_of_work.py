"""A MongoDB transaction together with the events it causes.

Commands (called by routes, handlers and workers) change state through :meth:`Database.transact`:
the change and its outbox events commit together or not at all, and a transaction that hits a write
conflict with a concurrent one is retried as a whole.

Store functions take ``tx``: the :class:`Transaction` they run in, or the service's
:class:`Database` for a plain read outside one. Both have ``db`` and ``session`` (None outside a
transaction), so every store function has the one signature ``(tx, ...)``.
"""

import asyncio
import typing
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

from pymongo import AsyncMongoClient, InsertOne, ReplaceOne, UpdateMany, UpdateOne
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import ClientBulkWriteException, DuplicateKeyError, PyMongoError

from grants_shared.errors import Busy
from grants_shared.events import Event, EventData
from grants_shared.outbox import add_to_outbox, outbox_document
from grants_shared.settings import ServiceSettings
from grants_shared.tracing import Tracer, current_traceparent, trace

T = TypeVar("T")
#: A write left for the transaction's end.
Write = InsertOne | UpdateOne | UpdateMany | ReplaceOne
S = TypeVar("S", bound=ServiceSettings)


class Db(Protocol):
    """What a store function reads and writes through."""

    @property
    def db(self) -> AsyncDatabase: ...

    @property
    def session(self) -> AsyncClientSession | None: ...


@dataclass
class Transaction(Generic[S]):
    """What a change sees: the database, the session every write must pass, ``emit``, the service's
    own settings, and who caused the change (their subject id and the request's trace)."""

    db: AsyncDatabase
    session: AsyncClientSession
    source: str
    settings: S
    traceparent: str | None = None
    actor: str | None = None
    emitted: list[Event] = field(default_factory=list)
    _read_once: dict[Hashable, Any] = field(default_factory=dict)
    #: Writes made with the transaction's events when its change is done (``insert_later``,
    #: ``update_later``, ``replace_later``), as (collection, write).
    later: list[tuple[str, Write]] = field(default_factory=list)
    #: Records no transaction reads (``record_later``), written last of all, as (collection, insert).
    records: list[tuple[str, InsertOne]] = field(default_factory=list)
    #: (collection, id) of documents that ``insert_if_new_later`` found were there already, in an
    #: earlier attempt at this transaction; shared by the attempts.
    existing: set[tuple[str, Any]] = field(default_factory=set)
    #: The if-new inserts made, each with its (collection, id).
    _if_new: list[tuple[InsertOne, tuple[str, Any]]] = field(default_factory=list)

    async def once(self, key: Hashable, read: Callable[[], Awaitable[T]]) -> T:
        """What ``read`` answers, read once in this transaction: for what the transaction never
        changes itself, so that events handled together in it (a consumer's batch) read it once."""
        if key not in self._read_once:
            self._read_once[key] = await read()
        return typing.cast(T, self._read_once[key])

    def keep(self, key: Hashable, value: object) -> None:
        """What a read made for something else found of what ``once`` would read under ``key``: kept
        for it, so that it is not read again (the subscriptions an event's handler read with the
        person it tells)."""
        self._read_once[key] = value

    def insert_later(self, collection: str, document: dict[str, Any]) -> None:
        """Insert ``document`` together with the transaction's events, in the one round trip that
        writes them, once the change is done: for what nothing in the transaction reads back before
        it ends (a consumer's batch writes what one event left before the next is handled,
        :meth:`write_pending`) and nobody can have written yet (a document with a new id, an
        idempotency record). A duplicate fails the whole transaction with DuplicateKeyError."""
        self.later.append((collection, InsertOne(document, namespace=self._namespace(collection))))

    def insert_if_new_later(self, collection: str, document: dict[str, Any]) -> bool:
        """Insert ``document`` with the transaction's events unless a document with its id is there:
        False when it is known to be (this transaction inserted it already, or an earlier attempt at
        it found it). A document found there when the writes are made has the transaction made again
        from the start, this answering False for it then: a round trip fewer than asking first, for a
        document that is nearly always new (a notification made once for each fact and person, which
        a fact told again must not repeat)."""
        key = (collection, document["_id"])
        if key in self.existing or any(made == key for _, made in self._if_new):
            return False
        write = InsertOne(document, namespace=self._namespace(collection))
        self._if_new.append((write, key))
        self.later.append((collection, write))
        return True

    def record_later(self, collection: str, document: dict[str, Any]) -> None:
        """As :meth:`insert_later`, for a record that no change reads (the inbox record of an event
        handled, the audit record of a delivery): kept for the very end, even past
        :meth:`write_pending`, so that a consumer's batch writes it in its last round trip."""
        self.records.append((collection, InsertOne(document, namespace=self._namespace(collection))))

    def update_later(
        self, collection: str, query: dict[str, Any], update: dict[str, Any], upsert: bool = False, many: bool = False
    ) -> None:
        """Update one document together with the transaction's events, a round trip fewer than
        updating it now: for a change whose result nothing reads (not whether it matched: a document
        this transaction has read matches the same query when its writes are made, or the transaction
        meets a write conflict and is retried whole) and that nothing in the transaction reads back
        before it ends (a consumer's batch writes what one event left for later before the next is
        handled, :meth:`write_pending`). ``many``: every document the query matches."""
        kind = UpdateMany if many else UpdateOne
        self.later.append((collection, kind(query, update, upsert=upsert, namespace=self._namespace(collection))))

    def replace_later(
        self, collection: str, query: dict[str, Any], replacement: dict[str, Any], upsert: bool = False
    ) -> None:
        """Replace one document together with the transaction's events, as :meth:`update_later`."""
        write = ReplaceOne(query, replacement, upsert=upsert, namespace=self._namespace(collection))
        self.later.append((collection, write))

    async def write_pending(self) -> None:
        """Make the writes left for later now, in one round trip: before what follows in the
        transaction may read what they change (the next event of a consumer's batch)."""
        if not self.later:
            return
        pending, self.later = self.later, []
        await _bulk_write(self.db.client, self.session, pending, self._if_new)

    def _namespace(self, collection: str) -> str:
        return f"{self.db.name}.{collection}"

    async def emit(self, data: EventData) -> Event:
        """The event goes into the outbox with the transaction: all of a transaction's events are
        written together, in one round trip, when its change is done."""
        event = Event.new(data, source=self.source, traceparent=self.traceparent, actor=self.actor)
        self.emitted.append(event)
        return event


class Database(Generic[S]):
    """A service's own database, and the one way to change it."""

    session: None = None

    def __init__(
        self,
        client: AsyncMongoClient,
        settings: S,
        service: str,
        after_commit: Callable[[list[Event]], None] = lambda events: None,
        lease_owner: str | None = None,
        tracer: Tracer | None = None,
    ) -> None:
        self.client = client
        self.settings = settings
        self.db: AsyncDatabase = client[settings.database(service)]
        self.source = f"/grants/{service}"
        self.after_commit = after_commit
        #: The relay the events are handed to after the commit holds them from the start.
        self.lease_owner = lease_owner
        #: The service's tracer, for the spans of its background work.
        self.tracer = tracer or trace.get_tracer("grants")

    async def transact(
        self,
        change: Callable[[Transaction[S]], Awaitable[T]],
        traceparent: str | None = None,
        actor: str | None = None,
        timeout_seconds: float | None = None,
    ) -> T:
        """``timeout_seconds``: how long the transaction may take, retries included (the service's
        ``transaction_timeout_seconds`` unless given)."""
        # The events continue the trace now current (the request's span, the event's handling) unless
        # the caller names another.
        traceparent = traceparent or current_traceparent()
        async with self.client.start_session() as session:
            emitted: list[Event] = []
            existing: set[tuple[str, Any]] = set()

            async def attempt(session: AsyncClientSession) -> T:
                tx = Transaction(self.db, session, self.source, self.settings, traceparent, actor, existing=existing)
                result = await change(tx)
                await self._write_last(tx)
                emitted[:] = tx.emitted
                return result

            try:
                # PyMongo retries a conflicting transaction for up to two minutes: bounded here, so a
                # caller is told to come back rather than kept waiting (the session's end aborts it).
                async with asyncio.timeout(timeout_seconds or self.settings.transaction_timeout_seconds):
                    while True:
                        try:
                            result = await session.with_transaction(attempt)
                            break
                        except FoundExisting as found:
                            # Made again knowing it is there (each time a new one: a document
                            # found twice is a duplicate after all, and raised as one).
                            if found.key in existing:
                                raise found.duplicate from None
                            existing.add(found.key)
            except TimeoutError:
                raise Busy("the change could not be made in time; nothing was written: try again") from None
            except PyMongoError as error:
                if error.has_error_label("TransientTransactionError"):
                    raise Busy("the change met others at the same moment; nothing was written: try again") from None
                raise
        if emitted:
            self.after_commit(emitted)
        return result

    async def _write_last(self, tx: Transaction[S]) -> None:
        """The events and the writes left for later, in one round trip."""
        if not (tx.later or tx.records):
            if tx.emitted:
                await add_to_outbox(self.db, tx.session, tx.emitted, self.lease_owner)
            return
        events = [("outbox", InsertOne(outbox_document(e, self.lease_owner), namespace=tx._namespace("outbox")))
                  for e in tx.emitted]  # fmt: skip
        await _bulk_write(self.client, tx.session, [*tx.later, *tx.records, *events], tx._if_new)


class FoundExisting(Exception):
    """An ``insert_if_new_later`` document was there when the writes were made: the transaction is
    made again knowing so (nothing of this attempt is written)."""

    def __init__(self, key: tuple[str, Any], duplicate: DuplicateKeyError) -> None:
        super().__init__(f"{key[0]} {key[1]} exists")
        self.key = key
        self.duplicate = duplicate


async def _bulk_write(
    client: AsyncMongoClient, session: AsyncClientSession, writes: list[tuple[str, Write]],
    if_new: list[tuple[InsertOne, tuple[str, Any]]],
) -> None:  # fmt: skip
    """Writes to any of the database's collections in one round trip (ordered: the first that fails
    stops the rest, and fails the transaction). ``if_new``: the inserts that are to be left out if
    their document is there (FoundExisting)."""
    try:
        await client.bulk_write([write for _, write in writes], session=session)
    except ClientBulkWriteException as failed:
        if isinstance(failed.error, PyMongoError):
            # A write conflict comes wrapped: unwrapped, its label has the transaction retried whole.
            raise failed.error from None
        duplicate = next((e for e in failed.write_errors or [] if e.get("code") == 11000), None)
        if duplicate is not None:
            collection, write = writes[duplicate.get("idx", 0)]
            # Named by collection, so that a caller can tell whose duplicate it was.
            details = {**duplicate, "collection": collection}
            error = DuplicateKeyError(duplicate.get("errmsg", "duplicate key"), 11000, details)
            key = next((key for made, key in if_new if made is write), None)
            if key is not None:
                raise FoundExisting(key, error) from None
            raise error from None
        raise
