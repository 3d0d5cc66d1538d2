"""What other services tell us about an application, turned into its timeline and applicant-facing status.

Each handler says what its event changes in the application (``commands.record_progress`` records
it with one timeline entry keyed by the event id, and moves the status as far as the facts allow,
whatever order events arrive in).
"""

from typing import Any

from applications import commands, domain
from applications.commands import Outcome, Tx, timeline_entry
from applications.store import Application, Decision, GrantRecord, PaymentRecord, Score
from grants_shared.consumer import registry
from grants_shared.errors import Conflict, RuleViolation
from grants_shared.events import (
    ApplicationDecided,
    ApplicationDecidedV2,
    ApplicationScored,
    Event,
    GrantAccepted,
    GrantOffered,
    PaymentFailed,
    PaymentSent,
    ProgrammeBudgetDecreased,
    ProgrammeBudgetDecreaseRefused,
)


async def on_application_scored(event: Event[ApplicationScored], tx: Tx) -> None:
    data = event.data
    if data.stage == "expression_of_interest":
        # A scored first stage: the score helps the team shortlist; the application's status stays.
        score = Score(
            weighted_score=data.weighted_score, criterion_means=data.criterion_means,
            reviewer_count=data.reviewer_count, needs_moderation=data.needs_moderation, scored_at=event.time,
        )  # fmt: skip
        await commands.record_interest_score(tx, data.application_id, score)
        return

    def change(application: Application) -> Outcome:
        previous = application.score
        if previous and previous.scored_at > event.time:
            return None  # a re-score already recorded is newer than this one
        score = Score(
            weighted_score=data.weighted_score, criterion_means=data.criterion_means,
            reviewer_count=data.reviewer_count, needs_moderation=data.needs_moderation, scored_at=event.time,
        )  # fmt: skip
        # The applicant hears once that reviewing is done; a re-score is the panel's business.
        entry = None if previous else timeline_entry(event, "under_review", domain.words_under_review())
        return {"score": score}, entry

    await commands.record_progress(tx, event, data.application_id, change, data.programme_id)


async def on_application_decided(event: Event[ApplicationDecided], tx: Tx) -> None:
    """v1, no longer published; handled so that events queued before an upgrade are not lost."""
    await _record_decision(event, event.data, tx)


async def on_application_decided_v2(event: Event[ApplicationDecidedV2], tx: Tx) -> None:
    await _record_decision(event, event.data, tx)


async def _record_decision(event: Event[Any], data: ApplicationDecided | ApplicationDecidedV2, tx: Tx) -> None:

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
        return {"decision": decision}, timeline_entry(event, data.outcome, words, at=data.decided_at)

    await commands.record_progress(tx, event, data.application_id, change, data.programme_id)


async def on_grant_offered(event: Event[GrantOffered], tx: Tx) -> None:
    data = event.data

    def change(application: Application) -> Outcome:
        grant = _same_grant(application, data.grant_id)
        if grant.offered_at:
            return None
        grant = grant.model_copy(
            update={"amount": data.amount, "instalments": len(data.schedule), "offered_at": event.time}
        )
        words = domain.words_offered(data.amount, len(data.schedule))
        return {"grant": grant}, timeline_entry(event, "offered", words)

    await commands.record_progress(tx, event, data.application_id, change, data.programme_id)


async def on_grant_accepted(event: Event[GrantAccepted], tx: Tx) -> None:
    data = event.data

    def change(application: Application) -> Outcome:
        grant = _same_grant(application, data.grant_id)
        if grant.accepted_at:
            return None
        grant = grant.model_copy(update={"accepted_at": event.time})
        return {"grant": grant}, timeline_entry(event, "accepted", domain.words_accepted())

    await commands.record_progress(tx, event, data.application_id, change)


async def on_payment_sent(event: Event[PaymentSent], tx: Tx) -> None:
    data = event.data

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
        entry = timeline_entry(event, "payment_sent", words, at=data.sent_at)
        return {"payments": [*application.payments, payment]}, entry

    await commands.record_progress(tx, event, data.application_id, change)


async def on_payment_failed(event: Event[PaymentFailed], tx: Tx) -> None:
    data = event.data

    def change(application: Application) -> Outcome:
        words = domain.words_payment_failed(data.reason, data.will_retry)
        return {}, timeline_entry(event, "payment_failed", words)

    await commands.record_progress(tx, event, data.application_id, change)


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


async def on_programme_budget_decreased(event: Event[ProgrammeBudgetDecreased], tx: Tx) -> None:
    """Disbursement agreed to a budget decrease: the programme's budget is now the lower one."""
    data = event.data
    await commands.settle_budget_decrease(tx, data.programme_id, data.change_id, data.budget, None)


async def on_programme_budget_decrease_refused(event: Event[ProgrammeBudgetDecreaseRefused], tx: Tx) -> None:
    """Disbursement refused a budget decrease (it would fall below what is committed): the budget stays."""
    data = event.data
    await commands.settle_budget_decrease(tx, data.programme_id, data.change_id, None, data.reason)


HANDLERS = registry(
    on_programme_budget_decreased,
    on_programme_budget_decrease_refused,
    on_application_scored,
    on_application_decided,
    on_application_decided_v2,
    on_grant_offered,
    on_grant_accepted,
    on_payment_sent,
    on_payment_failed,
)
