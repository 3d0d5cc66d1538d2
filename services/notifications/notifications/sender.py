"""What the email sender and the webhook sender share: working a queue of deliveries kept in MongoDB,
from a loop that polls in every replica.

- **Claim.** Each due delivery is taken with a conditional update (pending -> sending, with a claim
  token and the time) on the status, claim and attempts this sender read, so of several replicas
  exactly one takes it. A claim older than the lease belongs to a sender that died; it is taken over.
- **Attempt.** The channel's own ``attempt`` (an SMTP conversation, an HTTP request), bounded as a
  whole by the channel's timeout, which the settings keep shorter than the lease: while a sender is
  still trying, no other takes its claim and sends the same thing again.
- **Settle**, each in one transaction and only while the claim still holds: a success is marked,
  recorded in the delivery audit and announced with NotificationDelivered; a failure is recorded and
  retried with exponential backoff until the attempts run out (then `failed`); a delivery nobody
  wants any more (its subscription was deactivated) is `cancelled` without an attempt.
"""

import asyncio
import logging
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, ClassVar, Literal
from uuid import uuid4

from grants_shared.clock import utcnow
from grants_shared.events import NotificationDelivered
from grants_shared.unit_of_work import Database, Transaction
from notifications import domain, store

log = logging.getLogger(__name__)

Doc = dict[str, Any]


class AttemptFailed(Exception):
    """An attempt that delivered nothing; ``permanent`` when trying again cannot help."""

    def __init__(self, reason: str, *, permanent: bool = False, status_code: int | None = None) -> None:
        super().__init__(reason)
        self.permanent = permanent
        self.status_code = status_code


class NothingToSend(Exception):
    """The delivery is no longer wanted: it is cancelled, and that is not an attempt."""


def describe(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__


@dataclass(frozen=True)
class Pace:
    """How a channel's queue is worked, from the service's settings."""

    poll_seconds: float
    batch: int
    #: How many of a batch are attempted side by side.
    at_once: int
    timeout_seconds: float
    lease_seconds: float
    max_attempts: int
    retry_base_seconds: float
    retry_max_seconds: float


class QueueSender(ABC):
    channel: ClassVar[Literal["email", "webhook"]]
    queue: ClassVar[store.Queue]
    #: The channel's state machine: settling never makes a move it does not allow.
    transitions: ClassVar[Mapping[str, frozenset[str]]]
    #: The status of a delivered item and the field that keeps when (email: sent / sent_at).
    delivered: ClassVar[tuple[str, str]]

    def __init__(self, database: Database, pace: Pace) -> None:
        self.database = database
        self.pace = pace
        self._at_once = asyncio.Semaphore(pace.at_once)

    @abstractmethod
    async def attempt(self, doc: Doc) -> int | None:
        """Deliver once; return the status code the other end answered, if the channel has one.
        Raise :class:`AttemptFailed` (or anything) when it did not deliver, :class:`NothingToSend`
        when it should not be sent at all."""

    @abstractmethod
    def audience(self, doc: Doc) -> Doc:
        """Who the delivery is for, as the audit records it: recipient_id, recipient_kind, template."""

    def fit_to_keep(self, doc: Doc, reason: str) -> str:
        """A failure's reason as it may be logged and stored."""
        return reason

    async def run(self) -> None:
        """Work the queue at every poll for as long as the service runs."""
        while True:
            try:
                await self.send_due()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("%s sender: a round failed; trying again at the next poll", self.channel)
            await asyncio.sleep(self.pace.poll_seconds)

    async def send_due(self) -> int:
        """Work what is due now; return how many were delivered."""
        now = utcnow()
        stale_before = now - timedelta(seconds=self.pace.lease_seconds)
        due = await store.due_deliveries(self.database.db, self.queue, now, stale_before, self.pace.batch)
        results = await asyncio.gather(*(self._work(doc) for doc in due), return_exceptions=True)
        for doc, result in zip(due, results, strict=True):
            if isinstance(result, BaseException):
                # Left as it is: pending is tried at the next poll, a claim when its lease runs out.
                log.error("%s %s: could not be settled: %r", self.channel, doc["_id"], result)
        return sum(1 for result in results if result is True)

    async def _work(self, doc: Doc) -> bool:
        async with self._at_once:
            claim = uuid4().hex
            if not await self.database.transact(
                lambda tx: store.claim_delivery(tx.db, tx.session, self.queue, doc, claim, utcnow())
            ):
                return False  # another replica took it
            attempt = self.queue.state(doc).get("attempts", 0) + 1
            try:
                async with asyncio.timeout(self.pace.timeout_seconds):
                    status_code = await self.attempt(doc)
            except NothingToSend as why:
                fields = {"status": "cancelled", "last_error": str(why)}
                await self.database.transact(lambda tx: self._finish(tx, doc, claim, fields, attempted=False))
                return False
            except Exception as error:
                failure = self._failure(doc, error)
                log.warning("%s %s attempt %d failed: %s", self.channel, doc["_id"], attempt, failure)
                await self.database.transact(lambda tx: self._failed(tx, doc, claim, attempt, failure))
                return False
            await self.database.transact(lambda tx: self._succeeded(tx, doc, claim, attempt, status_code))
            return True

    def _failure(self, doc: Doc, error: Exception) -> AttemptFailed:
        if isinstance(error, AttemptFailed):
            failure = error
        elif isinstance(error, TimeoutError):
            failure = AttemptFailed(f"no answer within {self.pace.timeout_seconds:g}s")
        else:
            # Anything unexpected counts as an attempt too, so one bad delivery cannot come back forever.
            failure = AttemptFailed(describe(error))
        reason = self.fit_to_keep(doc, str(failure))[:500]
        return AttemptFailed(reason, permanent=failure.permanent, status_code=failure.status_code)

    async def _succeeded(
        self, tx: Transaction, doc: Doc, claim: str, attempt: int, status_code: int | None
    ) -> None:
        now = utcnow()
        status, at = self.delivered
        fields = {"status": status, at: now, "last_error": None, "last_status_code": status_code}
        if not await self._finish(tx, doc, claim, fields):
            # Our lease ran out mid-attempt and another sender took over; it records the delivery.
            log.warning("%s %s was delivered but its claim had been taken over", self.channel, doc["_id"])
            return
        audience = self.audience(doc)
        await store.record_delivery(tx.db, tx.session, self._audit(doc, attempt, "delivered", None, status_code, now))
        await tx.emit(NotificationDelivered(
            notification_id=doc["_id"], channel=self.channel, recipient_kind=audience["recipient_kind"],
            answered_event_id=doc["event_id"], answered_event_type=doc["event_type"],
        ))

    async def _failed(self, tx: Transaction, doc: Doc, claim: str, attempt: int, failure: AttemptFailed) -> None:
        now = utcnow()
        next_attempt_at = domain.next_attempt(
            attempt, now, max_attempts=self.pace.max_attempts, base_seconds=self.pace.retry_base_seconds,
            max_seconds=self.pace.retry_max_seconds, permanent=failure.permanent,
        )
        reason = str(failure)
        fields: Doc = {"status": "pending" if next_attempt_at else "failed", "last_error": reason,
                       "last_status_code": failure.status_code}
        if next_attempt_at:
            fields["next_attempt_at"] = next_attempt_at
        if not await self._finish(tx, doc, claim, fields):
            return
        outcome = "failed" if next_attempt_at else "gave_up"
        await store.record_delivery(
            tx.db, tx.session, self._audit(doc, attempt, outcome, reason, failure.status_code, now)
        )

    async def _finish(self, tx: Transaction, doc: Doc, claim: str, fields: Doc, attempted: bool = True) -> bool:
        if fields["status"] not in self.transitions["sending"]:
            raise ValueError(f"a {self.channel} delivery cannot move from sending to {fields['status']}")
        return await store.finish_delivery(tx.db, tx.session, self.queue, doc["_id"], claim, fields, attempted)

    def _audit(
        self, doc: Doc, attempt: int, outcome: str, error: str | None, status_code: int | None, at: datetime
    ) -> Doc:
        """The delivery audit's record of one attempt (no bodies, no addresses)."""
        return {
            "_id": f"{doc['_id']}:{self.channel}:{attempt}",
            "notification_id": doc["_id"],
            "channel": self.channel,
            "outcome": outcome,
            "attempt": attempt,
            **self.audience(doc),
            "answered_event_id": doc["event_id"],
            "answered_event_type": doc["event_type"],
            "at": at,
            "error": error,
            "status_code": status_code,
        }
