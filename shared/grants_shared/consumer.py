"""The consumer: each event is handled in one MongoDB transaction together with its inbox record and
the events it causes, and acknowledged only after that transaction commits.

- A duplicate delivery meets its inbox record (written last, with the transaction's events) and is
  acknowledged with no effect, whatever its handler made of it meanwhile (all of which is undone).
- A message that is not a valid event of a handled type, or whose handler raises a
  :class:`PermanentError`, goes to the service's dead-letter queue with its reason in a header.
- Any other failure is transient: the message waits in the next fixed-delay retry queue and comes
  back; after the last delay it is dead-lettered too. Nothing is requeued in a tight loop.
- An event that arrived before what it depends on (:class:`NotYetKnown`) waits for it in the same
  delay queues without spending that budget, for as long as an outage could last.
- If the process dies mid-way the message is redelivered; the quorum queue's delivery limit
  dead-letters one that keeps killing the process.
- Events that arrive together (up to ``consumer_batch``) are handled in one transaction: their inbox
  records written with its events in one round trip at its end, one commit for them all, each
  acknowledged after it commits. If any
  of them fails, nothing of the batch is written and each is handled again on its own, as above.
"""

import asyncio
import collections
import contextlib
import logging
import typing
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from aio_pika import DeliveryMode, Message
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage, AbstractRobustConnection
from pymongo.errors import DuplicateKeyError, PyMongoError

from grants_shared.clock import utcnow
from grants_shared.cloudevents import from_message
from grants_shared.errors import MalformedEvent, NotYetKnown, PermanentError
from grants_shared.events import Event, EventData
from grants_shared.logs import about
from grants_shared.metrics import EVENTS_CONSUMED, ORIGIN
from grants_shared.tasks import stop
from grants_shared.tracing import SpanKind, Tracer, span
from grants_shared.settings import ServiceSettings
from grants_shared.topology import declare_service_queues
from grants_shared.unit_of_work import Database, Transaction

log = logging.getLogger(__name__)

Handler = Callable[[Event[Any], Transaction[Any]], Awaitable[None]]


def registry(*handlers: Callable[..., Awaitable[None]]) -> dict[str, Handler]:
    """``{event type: handler}``, each handler found by the contract its ``event`` parameter names
    (``event: Event[ApplicationScored]``), so a handler cannot be filed under the wrong type."""
    found: dict[str, Handler] = {}
    for handler in handlers:
        contract = handled_contract(handler)
        if contract.type in found:
            raise TypeError(f"two handlers for {contract.type}: {found[contract.type].__name__}, {handler.__name__}")
        found[contract.type] = handler
    return found


def handled_contract(handler: Callable[..., Any]) -> type[EventData]:
    annotation = typing.get_type_hints(handler).get("event")
    metadata = getattr(annotation, "__pydantic_generic_metadata__", None)
    args = metadata["args"] if metadata else ()
    if len(args) != 1 or not (isinstance(args[0], type) and issubclass(args[0], EventData)):
        raise TypeError(f"{handler.__name__} must take `event: Event[<contract>]`")
    return args[0]

ATTEMPT_HEADER = "x-grants-attempt"
REASON_HEADER = "x-grants-dead-letter-reason"
#: The routing key a message was first published with, kept while it waits in a retry queue (it comes
#: back under the queue's own name).
ROUTING_KEY_HEADER = "x-grants-routing-key"
#: How often, and for how long in all, an event has waited for what it depends on.
WAITS_HEADER = "x-grants-waits"
WAITED_HEADER = "x-grants-waited-ms"


class AlreadyHandled(Exception):
    """The inbox already held the event, so nothing was written."""


def _inbox_records(queue: str, events: list[Event]) -> list[dict[str, Any]]:
    # The event's own time beside the time it was handled: how long events wait is measurable.
    now = utcnow()
    return [{"_id": f"{queue}:{e.id}", "type": e.type, "event_time": e.time, "handled_at": now} for e in events]


def record_in_inbox(tx: Transaction, queue: str, events: list[Event]) -> None:
    """Their inbox records, written with the transaction's events (a round trip fewer than writing
    them first): a duplicate among them fails the whole transaction at its end with a
    DuplicateKeyError on the inbox (:func:`inbox_duplicate`), having written nothing."""
    for record in _inbox_records(queue, events):
        tx.record_later("inbox", record)


def inbox_duplicate(error: BaseException) -> bool:
    """A transaction failed because an event it handled is in the inbox already."""
    return isinstance(error, DuplicateKeyError) and (error.details or {}).get("collection") == "inbox"


def _about(event: Event) -> str:
    """What an event's handling writes, as far as the consumer can tell: the application it names,
    if any (most documents of every service belong to one), or else its subject."""
    application_id = getattr(event.data, "application_id", None)
    return f"application_id {application_id}" if application_id else f"{event.data.subject_field} {event.data.subject}"


@dataclass
class Arrived:
    """A valid event waiting to be handled with others that arrived with it."""

    message: AbstractIncomingMessage
    handler: Handler
    event: Event
    done: asyncio.Future[None] = field(default_factory=lambda: asyncio.get_running_loop().create_future())


class Consumer:
    def __init__(
        self, settings: ServiceSettings, service: str, database: Database, handlers: Mapping[str, Handler],
        tracer: Tracer,
    ) -> None:  # fmt: skip
        self.settings = settings
        self.tracer = tracer
        self.service = service
        self.database = database
        self.handlers = dict(handlers)
        self.queue_name = settings.queue(service)
        self._channel: AbstractChannel | None = None
        self._arrived: list[Arrived] = []
        #: Until when (the loop's clock) events are handled alone after a batch failed.
        self._alone_until = 0.0
        self._wake = asyncio.Event()
        self._batches: asyncio.Task[None] | None = None

    async def start(self, connection: AbstractRobustConnection) -> None:
        self._channel = await connection.channel(publisher_confirms=True)
        await self._channel.set_qos(prefetch_count=self.settings.prefetch)
        queue = await declare_service_queues(self._channel, self.settings, self.service, self.handlers)
        if self.handlers:
            if self.settings.consumer_batch > 1 and self._batches is None:
                self._batches = asyncio.create_task(self._handle_batches(), name=f"{self.service} batches")
            await queue.consume(self.on_message)

    async def on_message(self, message: AbstractIncomingMessage) -> None:
        try:
            event = from_message(message)
            routing_key = self._routing_key(message)
            if routing_key != event.type:
                # The type header and the routing key must agree: otherwise a body could be handled
                # as an event of a type its publisher never sent under that key.
                raise MalformedEvent(f"routing key {routing_key!r} differs from the CloudEvents type {event.type!r}")
            handler = self.handlers.get(event.type)
            if handler is None:
                raise MalformedEvent(f"{self.service} has no handler for {event.type}")
        except MalformedEvent as error:
            await self._dead_letter(message, str(error))
            self._count(message.headers, "dead_lettered")
            return
        if self._batches is None:
            await self._handle_alone(Arrived(message, handler, event))
            return
        arrived = Arrived(message, handler, event)
        self._arrived.append(arrived)
        self._wake.set()
        await arrived.done

    @contextlib.contextmanager
    def _handling(self, event: Event) -> Iterator[None]:
        """The log context and the consumer span of one event's handling: it continues the trace the
        event carries, and what its handler emits continues it again."""
        attributes = {"messaging.system": "rabbitmq", "messaging.message.id": event.id,
                      "messaging.destination.name": self.queue_name, "cloudevents.event_type": event.type}  # fmt: skip
        with about(event_id=event.id, event_type=event.type, **{event.data.subject_field: event.subject}), \
                span(self.tracer, f"process {event.type}", SpanKind.CONSUMER, event.traceparent, attributes):
            yield

    async def _handle_alone(self, arrived: Arrived) -> None:
        with self._handling(arrived.event):
            await self._handle_event(arrived.message, arrived.handler, arrived.event)

    async def _handle_batches(self) -> None:
        """Takes what has arrived, up to ``consumer_batch`` at a time, and handles each batch in a task
        of its own, ``consumer_batches_at_once`` of them side by side.

        An event about what a running batch is handling (the same application, or else the same
        subject) waits for that batch to end: two transactions writing one document side by side
        meet a write conflict and one is made again, where one after the other both go through. So
        the events about one application (its decision and the offer that follows at once, say) are
        handled in one batch, or one batch after another, in the order they arrived."""
        at_once = asyncio.Semaphore(self.settings.consumer_batches_at_once)
        running: set[asyncio.Task[None]] = set()
        in_hand: collections.Counter[str] = collections.Counter()

        def done(task: asyncio.Task[None], about: list[str]) -> None:
            running.discard(task)
            at_once.release()
            in_hand.subtract(about)
            for key in about:
                if in_hand[key] <= 0:
                    del in_hand[key]
            self._wake.set()  # what waited for this batch may go now

        try:
            while True:
                await self._wake.wait()
                self._wake.clear()
                while self._arrived:
                    await at_once.acquire()
                    batch = self._take_batch(in_hand)
                    if not batch:
                        at_once.release()
                        break  # all that waits is about what a running batch handles
                    about = [_about(arrived.event) for arrived in batch]
                    in_hand.update(about)
                    task = asyncio.create_task(self._handle_batch(batch))
                    running.add(task)
                    task.add_done_callback(lambda t, about=about: done(t, about))  # type: ignore[misc]
        finally:
            for task in running:
                task.cancel()
            for arrived in self._arrived:
                arrived.done.cancel()  # not acknowledged: the broker delivers it again

    def _take_batch(self, in_hand: Mapping[str, int]) -> list[Arrived]:
        """Up to ``consumer_batch`` of the events waiting, in the order they arrived, passing over those
        about what a running batch handles, and every later one about the same."""
        batch: list[Arrived] = []
        left: list[Arrived] = []
        passed_over: set[str] = set()
        for arrived in self._arrived:
            about = _about(arrived.event)
            if about in in_hand or about in passed_over or len(batch) >= self.settings.consumer_batch:
                passed_over.add(about)
                left.append(arrived)
            else:
                batch.append(arrived)
        self._arrived = left
        return batch

    async def _handle_batch(self, batch: list[Arrived]) -> None:
        try:
            together = len(batch) > 1 and asyncio.get_running_loop().time() >= self._alone_until
            if together and await self._handled_together(batch):
                for arrived in batch:
                    await arrived.message.ack()
                    EVENTS_CONSUMED.labels(self.service, arrived.event.type, "handled").inc()
            else:
                for arrived in batch:
                    await self._handle_alone(arrived)
        except BaseException as error:
            for arrived in batch:
                if not arrived.done.done():
                    arrived.done.set_exception(error)
            if not isinstance(error, Exception):
                raise
            return
        for arrived in batch:
            arrived.done.set_result(None)

    async def _handled_together(self, batch: list[Arrived]) -> bool:
        """The batch in one transaction: True once it committed, False (nothing written) if any of
        its events failed or had been handled already."""
        async def handle_all(tx: Transaction) -> None:
            for n, arrived in enumerate(batch):
                # Round trips are counted under the event that made them (the commit under the last).
                ORIGIN.set(f"event {arrived.event.type}")
                if n:
                    # What the one before left for later, written before this one may read it.
                    await tx.write_pending()
                with self._handling(arrived.event):
                    await arrived.handler(arrived.event, tx)
            # Last, with the events: a batch is handled again one by one if any of its events was
            # handled before.
            record_in_inbox(tx, self.queue_name, [a.event for a in batch])

        try:
            await self.database.transact(handle_all, timeout_seconds=self.settings.consumer_batch_timeout_seconds)
        except asyncio.CancelledError:
            raise
        except Exception as error:
            if not (inbox_duplicate(error) or isinstance(error, PermanentError | NotYetKnown)):
                # Not one event's own outcome: the database is slow or busy. Events go alone for a while.
                self._alone_until = asyncio.get_running_loop().time() + self.settings.consumer_batch_pause_seconds
            log.info("%s: a batch of %d events is handled again one by one (%s)", self.service, len(batch),
                     type(error).__name__)  # fmt: skip
            return False
        return True

    async def _handle_event(self, message: AbstractIncomingMessage, handler: Handler, event: Event) -> None:
        ORIGIN.set(f"event {event.type}")
        try:
            try:
                await self.database.transact(lambda tx: self._handle(tx, handler, event))
            except Exception as error:
                if await self._handled_before(event, error):
                    raise AlreadyHandled from None
                raise
        except AlreadyHandled:
            log.info("%s: %s %s already handled", self.service, event.type, event.id)
            outcome = "duplicate"
        except PermanentError as error:
            log.warning("%s: %s %s rejected: %s", self.service, event.type, event.id, error)
            await self._dead_letter(message, f"{type(error).__name__}: {error}")
            EVENTS_CONSUMED.labels(self.service, event.type, "dead_lettered").inc()
            return
        except NotYetKnown as waiting:
            log.info("%s: %s %s waits: %s", self.service, event.type, event.id, waiting)
            outcome = await self._wait_for_prerequisite(message, f"{type(waiting).__name__}: {waiting}")
            EVENTS_CONSUMED.labels(self.service, event.type, outcome).inc()
            return
        except asyncio.CancelledError:
            raise
        except Exception as error:
            log.exception("%s: %s %s failed", self.service, event.type, event.id)
            outcome = await self._retry_later(message, f"{type(error).__name__}: {error}")
            EVENTS_CONSUMED.labels(self.service, event.type, outcome).inc()
            return
        else:
            outcome = "handled"
        await message.ack()
        EVENTS_CONSUMED.labels(self.service, event.type, outcome).inc()

    def _count(self, headers: Mapping[str, Any] | None, outcome: str) -> None:
        """For a message that is not a valid event: counted under the type it claimed, if any."""
        claimed = (headers or {}).get("cloudEvents_type")
        kind = claimed.decode(errors="replace") if isinstance(claimed, bytes) else str(claimed or "unknown")
        EVENTS_CONSUMED.labels(self.service, kind[:100], outcome).inc()

    def _routing_key(self, message: AbstractIncomingMessage) -> str | None:
        if message.routing_key == self.queue_name:  # back from a retry queue
            original = (message.headers or {}).get(ROUTING_KEY_HEADER)
            if isinstance(original, bytes):
                return original.decode(errors="replace")
            return original if isinstance(original, str) else None
        return message.routing_key

    async def _handle(self, tx: Transaction, handler: Handler, event: Event) -> None:
        await handler(event, tx)
        record_in_inbox(tx, self.queue_name, [event])

    async def _handled_before(self, event: Event, error: Exception) -> bool:
        """Whether a handling that failed was of an event handled before: its inbox record is written
        last, so a redelivered event's handler runs before the duplicate is found, and may fail for
        it (a move its first handling already made). A duplicate is acknowledged, never retried."""
        if inbox_duplicate(error):
            return True
        try:
            record = await self.database.db.inbox.find_one({"_id": f"{self.queue_name}:{event.id}"}, {"_id": 1})
        except PyMongoError:
            return False  # the database is away: the event is retried, and found then
        return record is not None

    async def _retry_later(self, message: AbstractIncomingMessage, reason: str) -> str:
        attempt = int((message.headers or {}).get(ATTEMPT_HEADER, 0) or 0) + 1
        delays = self.settings.retry_delays_ms
        if attempt > len(delays):
            await self._dead_letter(message, f"gave up after {attempt} attempts; last error: {reason}")
            return "dead_lettered"
        assert self._channel is not None
        exchange = await self._channel.get_exchange(self.settings.retry_exchange(delays[attempt - 1]), ensure=False)
        # The routing key is our queue's name: when the delay expires the retry queue dead-letters the
        # message to the default exchange under that key, which delivers it back to this queue only.
        headers = {ATTEMPT_HEADER: attempt, "x-grants-last-error": reason[:500],
                   ROUTING_KEY_HEADER: self._routing_key(message) or ""}
        await exchange.publish(_copy(message, headers), routing_key=self.queue_name)
        await message.ack()
        return "retried"

    async def _wait_for_prerequisite(self, message: AbstractIncomingMessage, reason: str) -> str:
        """Back to the queue after a delay (1 s, then 10 s, then the longest, and so on), keeping its
        attempt count as it was: waiting is not failing. Dead-lettered only after waiting for longer
        than any outage should last (``prerequisite_wait_seconds``)."""
        headers = message.headers or {}
        waits = int(headers.get(WAITS_HEADER, 0) or 0)
        waited_ms = int(headers.get(WAITED_HEADER, 0) or 0)
        if waited_ms >= self.settings.prerequisite_wait_seconds * 1000:
            await self._dead_letter(message, f"gave up waiting after {waited_ms // 1000}s; {reason}")
            return "dead_lettered"
        delays = self.settings.retry_delays_ms
        delay = delays[min(waits, len(delays) - 1)]
        assert self._channel is not None
        exchange = await self._channel.get_exchange(self.settings.retry_exchange(delay), ensure=False)
        extra = {WAITS_HEADER: waits + 1, WAITED_HEADER: waited_ms + delay, "x-grants-waiting-for": reason[:500],
                 ROUTING_KEY_HEADER: self._routing_key(message) or ""}  # fmt: skip
        await exchange.publish(_copy(message, extra), routing_key=self.queue_name)
        await message.ack()
        return "waiting"

    async def _dead_letter(self, message: AbstractIncomingMessage, reason: str) -> None:
        assert self._channel is not None
        exchange = await self._channel.get_exchange(self.settings.dead_letter_exchange, ensure=False)
        extra = {
            REASON_HEADER: reason[:1000],
            "x-grants-dead-lettered-at": utcnow().isoformat(),
            "x-grants-original-routing-key": self._routing_key(message) or "",
        }
        await exchange.publish(_copy(message, extra), routing_key=self.queue_name)
        await message.ack()

    async def close(self) -> None:
        if self._channel and not self._channel.is_closed:
            await self._channel.close()
        if self._batches is not None:
            await stop(self._batches)
            self._batches = None


def _copy(message: AbstractIncomingMessage, extra_headers: dict[str, object]) -> Message:
    headers = {k: v for k, v in (message.headers or {}).items() if k != "x-death"}
    headers.update(extra_headers)
    return Message(
        body=message.body,
        headers=headers,
        content_type=message.content_type,
        message_id=message.message_id,
        delivery_mode=DeliveryMode.PERSISTENT,
    )
