"""What other services tell us about an application, turned into its timeline and applicant-facing status.

Each handler records the facts its event carries and one timeline entry keyed by the event id, then
moves the status forward to the furthest point the facts support (``domain.next_status``). Facts are
kept whatever order events arrive in (an offer before the decision, a payment before the offer), so
nothing is lost and the status never moves back. A withdrawn application keeps its status, but late
events are still recorded in its timeline.

An event about an application we do not know is a ``NotFound`` (dead-lettered): every application id
other services hold came from our own ``application.submitted`` event, which was committed here
before it was published, so an unknown id means a bug, a foreign publisher or a lost database, none
of which a retry can fix. An operator can move the message back from the DLQ once it is explained.
Events about drafts or ineligible applications (which other services never heard of) and
contradictory facts (a second, different decision; a second grant; a grant or payment for a declined
application, whichever of the two arrives first) are ``Conflict``s for the same reason.
"""

from collections.abc import Callable
from datetime import datetime

from applications import domain, store
from applications.models import Application, Decision, GrantRecord, PaymentRecord, Score, TimelineEntry
from grants_shared.clock import utcnow
from grants_shared.consumer import Handler
from grants_shared.errors import Conflict, NotFound, RuleViolation
from grants_shared.events import (
    ApplicationDecided,
    ApplicationScored,
    Event,
    GrantAccepted,
    GrantOffered,
    PaymentFailed,
    PaymentSent,
)
from grants_shared.unit_of_work import Transaction

#: The changed fields and the timeline entry to add, or None when the event adds nothing we do not
#: already know.
Outcome = tuple[dict[str, object], TimelineEntry | None] | None
#: What an event changes in the application it is about.
Change = Callable[[Application], Outcome]


class ConcurrentChange(Exception):
    """The application changed between our read and our write; the consumer retries the event."""


async def _record(
    tx: Transaction, event: Event, application_id: str, change: Change, programme_id: str | None = None
) -> None:
    application = await store.get_application(tx.db, application_id, tx.session)
    if application is None:
        raise NotFound(f"no application {application_id}: {event.type} refers to an application we never issued")
    if application.status in ("draft", "ineligible"):
        raise Conflict(f"application {application_id} is {application.status}; no other service should know of it")
    if programme_id is not None and programme_id != application.programme_id:
        raise Conflict(
            f"application {application_id} belongs to programme {application.programme_id}, not {programme_id}"
        )
    if application.has_entry(event.id):
        return
    outcome = change(application)
    if outcome is None:
        return
    changes, entry = outcome
    timeline = [*application.timeline, entry] if entry else application.timeline
    updated = application.model_copy(
        update={**changes, "timeline": timeline, "version": application.version + 1, "updated_at": utcnow()}
    )
    progress = updated.progress()
    refusal = domain.contradiction(progress)
    if refusal:
        raise Conflict(f"application {application_id}: {refusal}")
    updated = updated.model_copy(update={"status": domain.next_status(application.status, progress)})
    if not await store.replace_application(tx.db, updated, application.version, tx.session):
        raise ConcurrentChange(f"application {application_id} changed while {event.type} was being recorded")


async def on_application_scored(event: Event, tx: Transaction) -> None:
    data: ApplicationScored = event.data  # type: ignore[assignment]

    def change(application: Application) -> Outcome:
        previous = application.score
        if previous and previous.scored_at > event.time:
            return None  # a re-score already recorded is newer than this one
        score = Score(
            weighted_score=data.weighted_score, criterion_means=data.criterion_means,
            reviewer_count=data.reviewer_count, needs_moderation=data.needs_moderation, scored_at=event.time,
        )  # fmt: skip
        # The applicant hears once that reviewing is done; a re-score is the panel's business.
        entry = None if previous else _entry(event, "under_review", domain.words_under_review())
        return {"score": score}, entry

    await _record(tx, event, data.application_id, change, data.programme_id)


async def on_application_decided(event: Event, tx: Transaction) -> None:
    data: ApplicationDecided = event.data  # type: ignore[assignment]

    def change(application: Application) -> Outcome:
        decision = Decision(
            outcome=data.outcome, amount_awarded=data.amount_awarded, feedback=data.feedback,
            decided_at=data.decided_at,
        )  # fmt: skip
        if application.decision:
            if _same_decision(application.decision, decision):
                return None
            raise Conflict(f"application {application.id} was already decided differently; a decision is final")
        words = domain.words_decided(data.outcome, data.amount_awarded, data.feedback)
        return {"decision": decision}, _entry(event, data.outcome, words, at=data.decided_at)

    await _record(tx, event, data.application_id, change, data.programme_id)


async def on_grant_offered(event: Event, tx: Transaction) -> None:
    data: GrantOffered = event.data  # type: ignore[assignment]

    def change(application: Application) -> Outcome:
        grant = _same_grant(application, data.grant_id)
        if grant.offered_at:
            return None
        grant = grant.model_copy(
            update={"amount": data.amount, "instalments": len(data.schedule), "offered_at": event.time}
        )
        return {"grant": grant}, _entry(event, "offered", domain.words_offered(data.amount, len(data.schedule)))

    await _record(tx, event, data.application_id, change, data.programme_id)


async def on_grant_accepted(event: Event, tx: Transaction) -> None:
    data: GrantAccepted = event.data  # type: ignore[assignment]

    def change(application: Application) -> Outcome:
        grant = _same_grant(application, data.grant_id)
        if grant.accepted_at:
            return None
        grant = grant.model_copy(update={"accepted_at": event.time})
        return {"grant": grant}, _entry(event, "accepted", domain.words_accepted())

    await _record(tx, event, data.application_id, change)


async def on_payment_sent(event: Event, tx: Transaction) -> None:
    data: PaymentSent = event.data  # type: ignore[assignment]

    def change(application: Application) -> Outcome:
        if any(p.payment_id == data.payment_id for p in application.payments):
            return None  # a payment is sent once
        award = application.award
        paid_before = application.paid
        for known in (award, paid_before):
            if known is not None and known.currency != data.amount.currency:
                raise RuleViolation(
                    f"payment {data.payment_id} is in {data.amount.currency}, the grant in {known.currency}"
                )
        payment = PaymentRecord(
            payment_id=data.payment_id, amount=data.amount, provider_reference=data.provider_reference,
            sent_at=data.sent_at,
        )  # fmt: skip
        paid = data.amount + paid_before if paid_before else data.amount
        words = domain.words_payment_sent(data.amount, data.provider_reference, paid, award)
        return {"payments": [*application.payments, payment]}, _entry(event, "payment_sent", words, at=data.sent_at)

    await _record(tx, event, data.application_id, change)


async def on_payment_failed(event: Event, tx: Transaction) -> None:
    data: PaymentFailed = event.data  # type: ignore[assignment]

    def change(application: Application) -> Outcome:
        return {}, _entry(event, "payment_failed", domain.words_payment_failed(data.reason, data.will_retry))

    await _record(tx, event, data.application_id, change)


def _entry(event: Event, kind: str, words: str, at: datetime | None = None) -> TimelineEntry:
    return TimelineEntry(id=event.id, at=at or event.time, kind=kind, words=words)


def _same_decision(a: Decision, b: Decision) -> bool:
    return (a.outcome, a.amount_awarded, a.feedback) == (b.outcome, b.amount_awarded, b.feedback)


def _same_grant(application: Application, grant_id: str) -> GrantRecord:
    """The application's grant, or a new record; an application has one grant."""
    grant = application.grant
    if grant is None:
        return GrantRecord(grant_id=grant_id)
    if grant.grant_id != grant_id:
        raise Conflict(f"application {application.id} already has grant {grant.grant_id}, not {grant_id}")
    return grant


HANDLERS: dict[str, Handler] = {
    ApplicationScored.type: on_application_scored,
    ApplicationDecided.type: on_application_decided,
    GrantOffered.type: on_grant_offered,
    GrantAccepted.type: on_grant_accepted,
    PaymentSent.type: on_payment_sent,
    PaymentFailed.type: on_payment_failed,
}
