"""Every change to the disbursement database, each run inside the caller's transaction (``tx``) and
emitting the events it causes there: routes, handlers and the payment runner call these.

A grant outside the caller's organisations is NotFound (404), so its existence is not revealed. Bank
details are encrypted here, before anything is written: a grant holds only their token.
"""

import logging
from collections.abc import Mapping
from datetime import datetime
from uuid import uuid4

from disbursement import domain, store
from disbursement.config import Settings
from disbursement.crypto import cipher_for
from disbursement.domain import BankAccount, GrantStatus, HeldReason, PaymentStatus
from disbursement.provider import Transfer
from disbursement.store import Grant, HistoryEntry, Ledger, Payment, ScheduleEntry
from grants_shared.api import check_version, is_finance
from grants_shared import budget, privacy
from grants_shared.auth import Caller
from grants_shared.clock import utcnow
from grants_shared.errors import Conflict, Forbidden, NotFound, NotYetKnown, PreconditionFailed, RuleViolation
from grants_shared.events import (
    ApplicationDecided,
    ApplicationDecidedV2,
    GrantAccepted,
    GrantOffered,
    PaymentFailed,
    PaymentScheduled,
    PaymentSent,
    ProgrammeOpened,
)
from grants_shared.money import Money
from grants_shared.unit_of_work import Transaction
from grants_shared.worker import ready_state

Tx = Transaction[Settings]

log = logging.getLogger(__name__)

# --- ledgers and offers --------------------------------------------------------------------------


class ProgrammeNotOpenedYet(NotYetKnown):
    """A decision overtook its programme's opening event; retrying later lets the opening arrive."""


async def open_ledger(tx: Tx, programme: ProgrammeOpened) -> None:
    """The programme's ledger: its whole budget available, nothing reserved or paid yet."""
    await store.open_ledger(tx, Ledger(
        id=programme.programme_id, name=programme.name, budget=programme.budget,
        payment_policy=programme.payment_policy, opened_at=utcnow(),
    ))  # fmt: skip
    await budget.open_budget(tx, programme.programme_id, programme.budget)


async def offer_grant(tx: Tx, decision: ApplicationDecided | ApplicationDecidedV2) -> None:
    """An award becomes a grant: reserved in the ledger and offered with its payment schedule, or held
    for finance when the ledger cannot cover it. A decline, or an award already made a grant, does nothing."""
    award = decision.amount_awarded
    if decision.outcome != "awarded" or award is None:
        return
    if await store.grant_for_application(tx, decision.application_id):
        return  # the same award announced again
    ledger = await store.get_ledger(tx, decision.programme_id)
    if ledger is None:
        raise ProgrammeNotOpenedYet(f"programme {decision.programme_id} has not been opened here yet")
    if award.amount <= 0:
        raise RuleViolation(f"application {decision.application_id} was awarded nothing")

    now = utcnow()
    grant = Grant(
        id=str(uuid4()), application_id=decision.application_id, programme_id=decision.programme_id,
        organisation_id=decision.organisation_id, amount=award, status=GrantStatus.OFFERED,
        decided_at=decision.decided_at, created_at=now, version=1,
    )  # fmt: skip
    hold = domain.why_held(ledger.budget, award)
    reservation = await budget.reserve(tx, ledger.id, award) if hold is None else None
    if hold is None and reservation is None:
        hold = HeldReason.BUDGET
    if hold:
        # Scoring should never award what the budget cannot cover; if it does, finance must see it.
        log.warning("grant %s for application %s held: %s", grant.id, decision.application_id, hold)
        await store.insert_grant(tx, grant.model_copy(update={"status": GrantStatus.HELD, "held_reason": hold}))
        return

    schedule = domain.payment_schedule(award, ledger.payment_policy)
    entries = [ScheduleEntry.of(s) for s in schedule]
    reserved = reservation.to_doc() if reservation else []
    await store.insert_grant(tx, grant.model_copy(update={"schedule": entries, "offered_at": now, "reserved": reserved}))
    await tx.emit(GrantOffered(
        grant_id=grant.id, application_id=grant.application_id, programme_id=grant.programme_id, amount=award,
        schedule=schedule,
    ))  # fmt: skip


# --- what the grantee does -----------------------------------------------------------------------


async def accept_offer(
    tx: Tx, caller: Caller, grant_id: str, account: BankAccount, version: int | None
) -> tuple[Grant, list[Payment]]:
    """Accept an offered grant, paid into ``account``: its payments are scheduled from today."""
    grant = await _grantee_grant(tx, caller, grant_id, "accept its offer")
    check_version(version, grant.version)
    if not domain.can_move_grant(grant.status, GrantStatus.ACCEPTED):
        raise Conflict(f"grant {grant_id} is {grant.status}; only an offered grant can be accepted")
    now = utcnow()
    accepted = await _save_grant(
        tx, grant, status=GrantStatus.ACCEPTED, bank_account=cipher_for(tx.settings).encrypt(account),
        accepted_by=caller.subject, accepted_at=now, history=[*grant.history, _entry("accepted", caller, now)],
    )  # fmt: skip
    if accepted is None:
        raise Conflict(f"grant {grant_id} changed meanwhile; it is no longer an open offer")
    payments = [_scheduled_payment(grant, entry, now) for entry in grant.schedule]
    await store.insert_payments(tx, payments)
    await tx.emit(GrantAccepted(grant_id=grant.id, application_id=grant.application_id))
    for payment in payments:
        await _announce_scheduled(tx, payment)
    return accepted, payments


async def replace_bank_account(tx: Tx, caller: Caller, grant_id: str, account: BankAccount, version: int) -> Grant:
    """New bank details for an accepted grant: payments not yet claimed are paid into them, payments
    already sent (or in flight) are untouched."""
    grant = await _grantee_grant(tx, caller, grant_id, "change its bank details")
    check_version(version, grant.version)
    if grant.status is not GrantStatus.ACCEPTED:
        raise Conflict(f"grant {grant_id} is {grant.status}; only an accepted grant's bank details can change")
    replaced = await _save_grant(
        tx, grant, bank_account=cipher_for(tx.settings).encrypt(account),
        history=[*grant.history, _entry("bank_account_replaced", caller, utcnow())],
    )  # fmt: skip
    if replaced is None:
        raise PreconditionFailed(f"grant {grant_id} changed meanwhile; read it again and retry")
    return replaced


async def _grantee_grant(tx: Tx, caller: Caller, grant_id: str, doing: str) -> Grant:
    """A grant the caller may act on as its grantee."""
    grant = await store.get_grant(tx, grant_id)
    if grant is None or not (is_finance(caller) or caller.represents(grant.organisation_id)):
        raise NotFound(f"no grant {grant_id}")
    if not caller.represents(grant.organisation_id):
        # Visible through a finance role; but who names the account a grant is paid into is the grantee.
        raise Forbidden(f"only someone representing the grantee organisation can {doing}")
    return grant


async def _save_grant(tx: Tx, grant: Grant, **changes: object) -> Grant | None:
    """The grant with ``changes`` and its next version; None if it changed since it was read."""
    saved = grant.model_copy(update={**changes, "version": grant.version + 1})
    return saved if await store.replace_grant(tx, saved, grant.version) else None


def _scheduled_payment(grant: Grant, entry: ScheduleEntry, accepted_at: datetime) -> Payment:
    due_at = domain.start_of_day(domain.due_date(accepted_at, entry.due_after_days))
    return Payment(
        id=str(uuid4()), grant_id=grant.id, application_id=grant.application_id, programme_id=grant.programme_id,
        sequence=entry.sequence, amount=entry.amount, due_at=due_at, created_at=accepted_at,
        **ready_state(due_at, PaymentStatus.SCHEDULED),
    )  # fmt: skip


# --- what finance does ---------------------------------------------------------------------------


async def retry_payment(tx: Tx, caller: Caller, payment_id: str) -> Payment:
    """Put a failed payment back in the queue, due now, with a new attempt budget and provider key."""
    payment = await _payment(tx, payment_id)
    try:
        retry = domain.manual_retry(payment.status, payment.attempts, payment.retries, utcnow())
    except ValueError as refused:
        raise Conflict(str(refused)) from None
    if not await store.restart_payment(tx, payment, retry, _entry("retried", caller, retry.due_at)):
        raise Conflict(f"payment {payment_id} changed meanwhile; it is no longer failed")
    restarted = await _payment(tx, payment_id)
    await _announce_scheduled(tx, restarted)
    return restarted


async def _payment(tx: Tx, payment_id: str) -> Payment:
    payment = await store.get_payment(tx, payment_id)
    if payment is None:
        raise NotFound(f"no payment {payment_id}")
    return payment


async def _announce_scheduled(tx: Tx, payment: Payment) -> None:
    await tx.emit(PaymentScheduled(
        payment_id=payment.id, grant_id=payment.grant_id, application_id=payment.application_id,
        amount=payment.amount, due_date=payment.due_at.date(),
    ))  # fmt: skip


def _entry(action: str, caller: Caller, at: datetime) -> HistoryEntry:
    return HistoryEntry(action=action, by=caller.subject, at=at)


# --- what the provider answered (the payment runner holds the payment's claim) -------------------


async def record_payment_sent(tx: Tx, payment: Payment, claim: str, transfer: Transfer) -> None:
    """The provider paid: the payment is sent (so its money counts as paid, not reserved), and its grant
    is paid once none of its payments is outstanding."""
    sent_at = utcnow()
    fields = {"provider_reference": transfer.provider_reference, "sent_at": sent_at, "next_attempt_at": None}
    if not await _settle(tx, payment, claim, PaymentStatus.SENT, fields):
        return  # our claim expired and another worker finished it (same transfer, same key)
    await store.note_payment_on_grant(tx, payment.grant_id, sent_at)
    if await store.unsent_payments(tx, payment.grant_id) == 0:
        await _mark_paid(tx, payment.grant_id)
    await tx.emit(PaymentSent(
        payment_id=payment.id, grant_id=payment.grant_id, application_id=payment.application_id,
        amount=payment.amount, provider_reference=transfer.provider_reference, sent_at=sent_at,
    ))  # fmt: skip


async def record_payment_declined(tx: Tx, payment: Payment, claim: str, reason: str) -> None:
    """The provider refused: another attempt after a back-off, or failed after the last one. ``reason``
    has the account's numbers masked already."""
    s = tx.settings
    outcome = domain.after_decline(
        payment.attempts, utcnow(), s.payment_max_attempts, s.payment_retry_backoff_seconds,
        s.payment_retry_backoff_max_seconds, payment.attempts_before_retry,
    )  # fmt: skip
    reason = (reason.strip() or "declined by the payment provider")[:200]
    fields = {"next_attempt_at": outcome.next_attempt_at, "last_failure_reason": reason}
    if not await _settle(tx, payment, claim, outcome.status, fields, declined=True):
        return
    log.warning("payment %s declined (attempt %d): %s", payment.id, outcome.attempt, reason)
    await tx.emit(PaymentFailed(
        payment_id=payment.id, grant_id=payment.grant_id, application_id=payment.application_id, reason=reason,
        attempt=outcome.attempt, will_retry=outcome.will_retry,
    ))  # fmt: skip


async def _settle(
    tx: Tx, payment: Payment, claim: str, status: PaymentStatus, fields: Mapping[str, object], declined: bool = False
) -> bool:
    """Move a claimed payment on to ``status``; False if the claim no longer holds."""
    if not domain.can_move(PaymentStatus.SENDING, status):
        raise ValueError(f"a payment cannot move from sending to {status}")
    return await store.finish_payment(tx, payment.id, claim, {**fields, "status": status}, declined)


async def _mark_paid(tx: Tx, grant_id: str) -> None:
    grant = await store.get_grant(tx, grant_id)
    if grant is None or not domain.can_move_grant(grant.status, GrantStatus.PAID):
        return
    if await _save_grant(tx, grant, status=GrantStatus.PAID) is None:
        # Left claimed, the payment is taken again after its lease and the provider answers with the
        # same transfer, so this is recorded then.
        raise RuntimeError(f"grant {grant_id} changed while its last payment was being recorded")


# --- erasing a person (UK GDPR article 17) --------------------------------------------------------


async def erase_person(tx: Tx, request_id: str, person_id: str) -> None:
    """Anonymise what this service holds about the person, once per request; the record that it did
    is this service's confirmation (GET /v1/personal-data/erasures/{request_id})."""
    await privacy.erase(tx, store.PERSONAL_DATA, person_id, request_id)


async def anonymise_application(tx: Tx, application_id: str) -> None:
    """The application's retention period ended: remove what this service holds about people in it."""
    await privacy.erase(tx, store.APPLICATION_DATA, application_id, f"retention-{application_id}", actor=False)
