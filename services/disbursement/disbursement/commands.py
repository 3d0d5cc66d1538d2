"""Every change to the disbursement database, each run inside the caller's transaction (``tx``) and
emitting the events it causes there: routes, handlers and the payment runner call these.

A grant outside the caller's organisations is NotFound (404), so its existence is not revealed. Bank
details are encrypted here, before anything is written: a grant holds only their token.
"""

import asyncio
import hashlib
import logging
import re
from collections.abc import Awaitable, Callable, Mapping
from datetime import date, datetime, timedelta
from uuid import uuid4

from disbursement import bank_files, domain, store
from disbursement.config import Settings
from disbursement.crypto import cipher_for
from disbursement.domain import BankAccount, GrantStatus, HeldReason, PaymentRunStatus, PaymentStatus
from disbursement.provider import Transfer
from disbursement.store import (
    Approval, BankFileExport, Grant, HistoryEntry, Ledger, OfferTerms, Payment, PaymentRun, Reconciliation,
    MonitoringPolicy, MonitoringReport, ReportAnswers, ReportPointPart, ReportReview, ScheduleEntry, Signatory,
    GrantCondition, GroupTraining, TrainingAttendance, TrainingBooking, TrainingOffer, TranchePolicy,
    TrancheRequirementPart, TrancheWait,
)  # fmt: skip
from grants_shared.api import check_version, is_finance, is_manager
from grants_shared import budget, privacy
from grants_shared.auth import Caller
from grants_shared.clock import utcnow
from grants_shared.errors import (
    Conflict, Forbidden, NotFound, NotYetKnown, PreconditionFailed, PreconditionRequired, RuleViolation,
)  # fmt: skip
from grants_shared.forms import FormDefinition, answer_problems
from grants_shared.events import (
    ApplicationDecided,
    ApplicationDecidedV2,
    GrantAccepted,
    GrantOffered,
    GrantOfferDeclined,
    GrantOfferExpired,
    GrantOfferReminder,
    GroupTrainingAttended,
    GroupTrainingBooked,
    GroupTrainingOffered,
    GroupTrainingReminder,
    PaymentFailed,
    PaymentHeld,
    PaymentReleased,
    PaymentRunApproved,
    PaymentRunAwaitingApproval,
    PaymentRunExported,
    GrantRepaymentRecorded,
    GrantVaried,
    MonitoringReportAccepted,
    MonitoringReportChangesRequested,
    MonitoringReportDue,
    MonitoringReportSubmitted,
    PaymentScheduled,
    PaymentSent,
    ProgrammeBudgetDecreased,
    ProgrammeBudgetDecreaseRefused,
    ProgrammeBudgetDecreaseRequested,
    ProgrammeChanged,
    ProgrammeOpened,
    TrancheHeldForReport,
    TrancheReleased,
)
from grants_shared.money import Money
from grants_shared.unit_of_work import Transaction
from grants_shared.worker import ready_state
from disbursement.domain import InvolvementPaymentStatus, PaymentChoice, WaitingFor
from disbursement.store import InvolvementBudget, InvolvementMember, InvolvementPayment
from grants_shared.events import InvolvementClaimApproved, InvolvementClaimPaid, InvolvementPaymentFailed

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


async def apply_programme_change(tx: Tx, changed: ProgrammeChanged) -> None:
    """Applications changed an open programme: the ledger takes its new name and budget, and a budget
    increase becomes money available to grants. Each change is applied once."""
    ledger = await store.get_ledger(tx, changed.programme_id)
    if ledger is None:
        raise ProgrammeNotOpenedYet(f"programme {changed.programme_id} changed before its opening reached us")
    fields: dict[str, object] = {}
    if changed.name is not None:
        fields["name"] = changed.name
    if changed.budget is not None:
        fields["budget"] = changed.budget.model_dump()
    if not await store.apply_programme_change(tx, ledger.id, changed.change_id, fields):
        return
    if changed.budget_added is not None and changed.budget_added.amount > 0:
        await budget.add(tx, ledger.id, changed.budget_added)


async def answer_budget_decrease(tx: Tx, asked: ProgrammeBudgetDecreaseRequested) -> None:
    """A manager asked to lower the budget. What is committed (grants offered or accepted and not given
    back) is what the budget has lost from its buckets, so the reduction is taken from what is still
    available, with the same conditional updates an award uses: it succeeds only if the lower budget
    still covers every commitment, even with awards arriving at the same moment. Applied
    (``budget_decreased``) or refused (``budget_decrease_refused``), once per change."""
    ledger = await store.get_ledger(tx, asked.programme_id)
    if ledger is None:
        raise ProgrammeNotOpenedYet(f"programme {asked.programme_id} changed before its opening reached us")
    if asked.change_id in ledger.applied_changes:
        return
    reservation = None
    if asked.reduction.currency == ledger.budget.currency and asked.reduction.amount > 0:
        reservation = await budget.reserve(tx, ledger.id, asked.reduction)  # taken for good: never released
    if reservation is None:
        left = await budget.available(tx, ledger.id)
        committed = Money(amount=ledger.budget.amount - (left.amount if left else 0), currency=ledger.budget.currency)
        await store.apply_programme_change(tx, ledger.id, asked.change_id, {})
        await tx.emit(ProgrammeBudgetDecreaseRefused(
            programme_id=ledger.id, change_id=asked.change_id, budget=asked.budget, committed=committed,
            reason="the budget would be less than what is already committed to grants",
        ))  # fmt: skip
        return
    await store.apply_programme_change(tx, ledger.id, asked.change_id, {"budget": asked.budget.model_dump()})
    await tx.emit(ProgrammeBudgetDecreased(
        programme_id=ledger.id, change_id=asked.change_id, budget=asked.budget, reduction=asked.reduction,
    ))  # fmt: skip


async def offer_grant(tx: Tx, decision: ApplicationDecided | ApplicationDecidedV2) -> None:
    """An award becomes a grant: reserved in the ledger and offered with its payment schedule, or held
    for finance when the ledger cannot cover it. A decline, or an award already made a grant, does nothing."""
    award = decision.amount_awarded
    if decision.outcome != "awarded" or award is None:
        return
    made, ledger = await store.award_and_ledger(tx, decision.application_id, decision.programme_id)
    if made:
        return  # the same award announced again
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
        store.insert_grant_later(tx, grant.model_copy(update={"status": GrantStatus.HELD, "held_reason": hold}))
        return

    store.insert_grant_later(tx, await _offer(tx, grant, ledger, reservation, now))


async def _offer(tx: Tx, grant: Grant, ledger: Ledger, reservation: budget.Reservation | None, now: datetime) -> Grant:
    """``grant`` as an offer: its schedule, its terms filled in, its window; ``grant.offered`` emitted."""
    award = grant.amount
    schedule = domain.payment_schedule(award, ledger.payment_policy)
    offer = ledger.offer_terms
    expires_at = domain.offer_expires_at(now, offer.acceptance_days)
    remind_at = domain.offer_reminder_at(expires_at, offer.reminder_days)
    terms = domain.fill_terms(offer.template, ledger.name, award, schedule, expires_at,
                              domain.grant_reference(grant.id))  # fmt: skip
    offered = grant.model_copy(update={
        "status": GrantStatus.OFFERED, "held_reason": None, "schedule": [ScheduleEntry.of(s) for s in schedule],
        "offered_at": now, "reserved": reservation.to_doc() if reservation else [], "terms": terms,
        "expires_at": expires_at, "remind_at": remind_at if offer.reminder_days > 0 else None,
    })  # fmt: skip
    await tx.emit(GrantOffered(
        grant_id=grant.id, application_id=grant.application_id, programme_id=grant.programme_id, amount=award,
        schedule=schedule, expires_at=expires_at,
    ))  # fmt: skip
    return offered


async def set_offer_terms(
    tx: Tx, caller: Caller, programme_id: str, template: str, acceptance_days: int, reminder_days: int,
    version: int | None = None,
) -> Ledger:
    """The programme's offer terms and acceptance window, for offers made from now on (offers already
    made keep the terms their signatory is reading)."""
    ledger = await store.get_ledger(tx, programme_id)
    if ledger is None:
        raise NotFound(f"no ledger for programme {programme_id}")
    check_version(version, ledger.offer_terms.version)
    try:
        domain.check_terms_template(template)
    except ValueError as refused:
        raise RuleViolation(str(refused)) from None
    if reminder_days >= acceptance_days:
        raise RuleViolation("the reminder must come before the acceptance window closes")
    terms = OfferTerms(template=template, acceptance_days=acceptance_days, reminder_days=reminder_days,
                       set_by=caller.subject, set_at=utcnow(), version=ledger.offer_terms.version + 1)  # fmt: skip
    if not await store.set_offer_terms(tx, programme_id, terms):
        raise PreconditionFailed(f"the offer terms of programme {programme_id} changed meanwhile; read them again")
    return ledger.model_copy(update={"offer_terms": terms})


# --- what the grantee does -----------------------------------------------------------------------


async def accept_offer(
    tx: Tx, caller: Caller, grant_id: str, account: BankAccount, signatory: Signatory, version: int | None
) -> tuple[Grant, list[Payment]]:
    """The grantee's signatory accepts an offered grant's terms, paid into ``account``: its payments are
    scheduled from today."""
    read, ledger = await store.grant_and_ledger(tx, grant_id)  # one round trip
    grant = _as_grantee(caller, grant_id, read, "accept its offer")
    check_version(version, grant.version)
    now = utcnow()
    _still_open(grant, now, "accepted")
    requirements = ledger.tranches.requirements if ledger else []
    accepted = _save_grant_later(
        tx, grant, status=GrantStatus.ACCEPTED, bank_account=cipher_for(tx.settings).encrypt(account),
        accepted_by=caller.subject, accepted_at=now, signatory=signatory, remind_at=None,
        history=[*grant.history, _entry("accepted", caller, now)],
        conditions=[GrantCondition(name=name) for name in _condition_names(requirements)],
    )  # fmt: skip
    reports = _schedule_reports(tx, grant, now, ledger)
    payments = [_scheduled_payment(grant, entry, now, _waits(entry.sequence, requirements, reports))
                for entry in grant.schedule]  # fmt: skip
    store.insert_payments_later(tx, payments)
    await tx.emit(GrantAccepted(grant_id=grant.id, application_id=grant.application_id))
    await _offer_training(tx, grant, now, ledger)
    for payment in payments:
        await _announce_scheduled(tx, payment)
    return accepted, payments


async def decline_offer(
    tx: Tx, caller: Caller, grant_id: str, signatory: Signatory, reason: str, version: int | None
) -> Grant:
    """The grantee's signatory turns the offer down: its reservation goes back to the budget."""
    grant = await _grantee_grant(tx, caller, grant_id, "decline its offer")
    check_version(version, grant.version)
    now = utcnow()
    _still_open(grant, now, "declined")
    declined = await _close_offer(tx, grant, GrantStatus.DECLINED, now, _entry("declined", caller, now),
                                  signatory=signatory, declined_reason=reason)  # fmt: skip
    if declined is None:
        raise Conflict(f"grant {grant_id} changed meanwhile; it is no longer an open offer")
    await tx.emit(GrantOfferDeclined(
        grant_id=grant.id, application_id=grant.application_id, programme_id=grant.programme_id,
        released=grant.amount, reason=reason, declined_at=now,
    ))  # fmt: skip
    return declined


async def expire_offer(tx: Tx, grant_id: str) -> bool:
    """An offer whose window has closed lapses and frees its reservation (the offer worker calls this);
    False if it was accepted, declined or expired meanwhile."""
    grant = await store.get_grant(tx, grant_id)
    now = utcnow()
    if grant is None or grant.status is not GrantStatus.OFFERED or domain.offer_is_open(grant.status, grant.expires_at, now):
        return False
    if await _close_offer(tx, grant, GrantStatus.EXPIRED, now, HistoryEntry(action="expired", by="system", at=now)) is None:
        return False
    await tx.emit(GrantOfferExpired(
        grant_id=grant.id, application_id=grant.application_id, programme_id=grant.programme_id,
        released=grant.amount, expired_at=now,
    ))  # fmt: skip
    return True


async def remind_of_offer(tx: Tx, grant_id: str) -> bool:
    """Remind the grantee, once, that an open offer closes soon; False if there is nothing to remind of."""
    grant = await store.get_grant(tx, grant_id)
    now = utcnow()
    if grant is None or grant.remind_at is None or grant.expires_at is None or grant.remind_at > now:
        return False
    if not domain.offer_is_open(grant.status, grant.expires_at, now):
        return False
    if await _save_grant(tx, grant, remind_at=None) is None:
        return False
    await tx.emit(GrantOfferReminder(
        grant_id=grant.id, application_id=grant.application_id, amount=grant.amount, expires_at=grant.expires_at,
    ))  # fmt: skip
    return True


def _still_open(grant: Grant, now: datetime, doing: str) -> None:
    if not domain.offer_is_open(grant.status, grant.expires_at, now):
        state = "expired" if grant.status is GrantStatus.OFFERED else grant.status
        raise Conflict(f"grant {grant.id} is {state}; only an open offer can be {doing}")


async def _close_offer(tx: Tx, grant: Grant, status: GrantStatus, now: datetime, entry: HistoryEntry,
                       **changes: object) -> Grant | None:  # fmt: skip
    """Move an open offer to ``status`` and give its reservation back to the buckets it came from, in
    the same transaction: the money is available to award again exactly when the offer is gone."""
    if not domain.can_move_grant(grant.status, status):
        raise ValueError(f"a {grant.status} grant cannot become {status}")
    closed = await _save_grant(tx, grant, status=status, closed_at=now, remind_at=None, reserved=[],
                               history=[*grant.history, entry], **changes)  # fmt: skip
    if closed is not None and grant.reserved:
        await budget.release(tx, budget.Reservation.from_doc(grant.amount.currency, grant.reserved))
    return closed


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
    return _as_grantee(caller, grant_id, await store.get_grant(tx, grant_id), doing)


def _as_grantee(caller: Caller, grant_id: str, grant: Grant | None, doing: str) -> Grant:
    """``grant``, as read, if the caller may act on it as its grantee (``_grantee_grant``)."""
    if grant is None or not (is_finance(caller) or caller.represents(grant.organisation_id)):
        raise NotFound(f"no grant {grant_id}")
    if not caller.represents(grant.organisation_id):
        # Visible through a finance role; but who names the account a grant is paid into is the grantee.
        raise Forbidden(f"only someone representing the grantee organisation can {doing}")
    return grant


async def _save_grant(tx: Tx, grant: Grant, **changes: object) -> Grant | None:
    """The grant with ``changes`` and its next version; None if it changed since it was read."""
    saved = _next_version(grant, changes)
    return saved if await store.replace_grant(tx, saved, grant.version) else None


def _save_grant_later(tx: Tx, grant: Grant, **changes: object) -> Grant:
    """As ``_save_grant``, written with the events (a round trip fewer): for the last change to a grant
    read in this transaction, which therefore still has the version read when the write is made, or
    the transaction meets a write conflict and runs again."""
    saved = _next_version(grant, changes)
    store.replace_grant_later(tx, saved, grant.version)
    return saved


def _next_version(grant: Grant, changes: dict[str, object]) -> Grant:
    return grant.model_copy(update={**changes, "version": grant.version + 1})


def _scheduled_payment(grant: Grant, entry: ScheduleEntry, accepted_at: datetime, waits: list[TrancheWait]) -> Payment:
    due_at = domain.start_of_day(domain.due_date(accepted_at, entry.due_after_days))
    return Payment(
        id=str(uuid4()), grant_id=grant.id, application_id=grant.application_id, programme_id=grant.programme_id,
        sequence=entry.sequence, amount=entry.amount, due_at=due_at, created_at=accepted_at,
        waits=waits, waiting=bool(waits), **ready_state(due_at, PaymentStatus.SCHEDULED),
    )  # fmt: skip


def _condition_names(requirements: list[TrancheRequirementPart]) -> list[str]:
    """The named conditions a grant's tranches wait for, each once, in the policy's order."""
    return list(dict.fromkeys(r.condition for r in requirements if r.condition))


def _waits(sequence: int, requirements: list[TrancheRequirementPart], reports: list[MonitoringReport]) -> list[TrancheWait]:
    """What the tranche ``sequence`` waits for under the programme's tranche policy at acceptance. A
    report the grant does not owe (the monitoring policy changed since) is not waited for: a tranche
    must never wait for something that cannot happen."""
    by_name = {r.name: r for r in reports}
    waits = []
    for requirement in requirements:
        if requirement.sequence != sequence:
            continue
        if requirement.report and requirement.report in by_name:
            waits.append(TrancheWait(kind=domain.WaitKind.REPORT, name=requirement.report,
                                     report_id=by_name[requirement.report].id))  # fmt: skip
        if requirement.condition:
            waits.append(TrancheWait(kind=domain.WaitKind.CONDITION, name=requirement.condition))
    return waits


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


#: Gatherings in one process take turns: at the same moment they all reach for the same due payments,
#: and all but one would conflict and be retried (2.6 write conflicts per application in the pipeline
#: benchmark, whose finance officer gathers after every acceptance). Replicas can still meet: the
#: later transaction is retried and finds the payments taken.
_GATHERING = asyncio.Lock()


async def gather_in_turn(transact: Callable[..., Awaitable[list[PaymentRun]]]) -> list[PaymentRun]:
    """``gather_payment_runs`` in a transaction of its own, after any other gathering in this process."""
    async with _GATHERING:
        return await transact(gather_payment_runs)


async def gather_payment_runs(tx: Tx) -> list[PaymentRun]:
    """Due payments that no run holds yet, gathered into one run per currency for finance to approve."""
    s, now = tx.settings, utcnow()
    due = await store.due_outside_runs(tx, now, s.payment_run_size)
    runs = []
    for currency in sorted({p.amount.currency for p in due}):
        payments = [p for p in due if p.amount.currency == currency]
        total = Money(amount=sum(p.amount.amount for p in payments), currency=currency)
        run = PaymentRun(
            id=str(uuid4()), currency=currency, total=total, payment_ids=[p.id for p in payments],
            status=PaymentRunStatus.AWAITING_APPROVAL,
            approvals_needed=domain.approvals_needed(total, s.payment_run_second_approval_above), created_at=now,
        )  # fmt: skip
        if not await store.gather_into_run(tx, run):
            # Another gatherer took some of them: its transaction wins, this one is tried again.
            raise RunGatheredMeanwhile("due payments were gathered or changed meanwhile")
        await tx.emit(PaymentRunAwaitingApproval(
            run_id=run.id, total=total, payments=len(payments), approvals_needed=run.approvals_needed,
        ))  # fmt: skip
        runs.append(run)
    return runs


class RunGatheredMeanwhile(Conflict):
    """Two gatherers met on the same payments (a write conflict normally retries the later one, which
    then finds them taken; this is the check that it did)."""


async def approve_run(tx: Tx, caller: Caller, run_id: str) -> tuple[PaymentRun, list[Payment]]:
    """A finance officer approves a run; with enough different approvals its payments may be sent.
    The run and its payments as approved."""
    run, payments = await store.run_and_its_payments(tx, run_id)
    if run is None:
        raise NotFound(f"no payment run {run_id}")
    now = utcnow()
    try:
        complete = domain.approve_run(run.status, [a.by for a in run.approvals], caller.subject, run.approvals_needed)
    except ValueError as refused:
        raise Conflict(str(refused)) from None
    approval = Approval(by=caller.subject, at=now)
    store.record_approval_later(tx, run, approval, complete)
    approved = run.model_copy(update={
        "approvals": [*run.approvals, approval], "version": run.version + 1,
        **({"status": PaymentRunStatus.APPROVED, "approved_at": now} if complete else {}),
    })  # fmt: skip
    if complete:
        store.approve_payments_of_run_later(tx, run.id, now)
        # As the update leaves them: those still scheduled (not held meanwhile) are approved.
        released = {"status": PaymentStatus.APPROVED, "next_attempt_at": now}
        scheduled = [p.id for p in payments if p.status is PaymentStatus.SCHEDULED]
        payments = [p.model_copy(update=released) if p.id in scheduled else p for p in payments]
        await tx.emit(PaymentRunApproved(run_id=run.id, total=run.total, payments=len(scheduled)))
    return approved, payments


# --- bank files ----------------------------------------------------------------------------------


def _file_claim(run_id: str) -> str:
    return f"bank-file:{run_id}"


async def export_bank_file(tx: Tx, caller: Caller, run_id: str, file_format: bank_files.Format) -> bytes:
    """An approved run as a bank file (pain.001 or CSV), for a finance officer, recorded (who, when,
    which payments, a digest). The first export puts the run's approved payments in the file
    (``sending`` under the file's claim, so nothing else can send them); a later one repeats exactly
    those payments, whatever happened to them since, because that is what the bank was given."""
    settings = tx.settings
    if settings.payment_provider != "bank_file":
        # Another provider sends these payments itself: a file too would pay them twice.
        raise Conflict("payments are sent through the payment provider's API here, not by bank file")
    run = await store.get_run(tx, run_id)
    if run is None:
        raise NotFound(f"no payment run {run_id}")
    if run.status is not PaymentRunStatus.APPROVED:
        raise Conflict(f"payment run {run_id} is {run.status}; only an approved run can be exported")
    now = utcnow()
    if run.exports:
        payments = await store.payments_by_ids(tx, run.exports[0].payment_ids)
    else:
        await store.submit_to_bank(tx, run.id, _file_claim(run.id), now)
        payments = await store.sending_under(tx, run.id, _file_claim(run.id))
    if not payments:
        raise Conflict(f"payment run {run_id} has no payments left to pay (every one was held)")
    lines = await _file_lines(tx, payments)
    debtor = bank_files.Debtor(settings.bank_file_debtor_name, settings.bank_file_debtor_sort_code,
                               settings.bank_file_debtor_account_number)  # fmt: skip
    if file_format == "pain.001":
        content = bank_files.pain001(run.id, lines, debtor, created_at=now, execution=now)
    else:
        content = bank_files.bulk_csv(lines)
    export = BankFileExport(format=file_format, by=caller.subject, at=now, payment_ids=[p.id for p in payments],
                            sha256=hashlib.sha256(content).hexdigest())  # fmt: skip
    await store.note_on_run(tx, run.id, "exports", export)
    await tx.emit(PaymentRunExported(run_id=run.id, format=file_format, payments=len(payments), first=not run.exports))
    return content


async def _file_lines(tx: Tx, payments: list[Payment]) -> list[bank_files.Line]:
    cipher, accounts, lines = cipher_for(tx.settings), {}, []
    for payment in payments:
        if payment.grant_id not in accounts:
            grant = await store.get_grant(tx, payment.grant_id)
            if grant is None or grant.bank_account is None:
                raise RuntimeError(f"payment {payment.id}: its grant has no bank details")
            accounts[payment.grant_id] = cipher.decrypt(grant.bank_account)
        lines.append(bank_files.Line(payment.id, payment.amount, accounts[payment.grant_id],
                                     domain.payment_reference(payment.grant_id, payment.sequence)))  # fmt: skip
    return lines


async def reconcile_run(tx: Tx, caller: Caller, run_id: str, outcomes: list[bank_files.Outcome]) -> Reconciliation:
    """The bank's answer for a run's file: each payment still in the file is recorded paid or failed,
    once. A row for a payment already recorded (the same file given twice, or a later one) changes
    nothing; a row for no payment of the file is counted as unmatched."""
    run = await store.get_run(tx, run_id)
    if run is None:
        raise NotFound(f"no payment run {run_id}")
    if not run.exports:
        raise Conflict(f"payment run {run_id} was never exported to a bank file; there is nothing to reconcile")
    in_file = await store.payments_by_ids(tx, run.exports[0].payment_ids)
    by_reference = {domain.payment_reference(p.grant_id, p.sequence): p for p in in_file}
    claim, now = _file_claim(run.id), utcnow()
    paid = failed = unchanged = unmatched = 0
    settled: set[str] = set()
    for outcome in outcomes:
        payment = by_reference.get(outcome.reference)
        if payment is None:
            unmatched += 1
        elif payment.id in settled or payment.status is not PaymentStatus.SENDING or payment.claim != claim:
            unchanged += 1
        elif outcome.paid:
            reference = outcome.bank_reference or f"BANKFILE-{outcome.reference}"
            await record_payment_sent(tx, payment, claim, Transfer(reference, payment.amount, now))
            paid += 1
        else:
            await _record_bank_refusal(tx, payment, claim, outcome.reason)
            failed += 1
        if payment is not None:
            settled.add(payment.id)
    summary = Reconciliation(by=caller.subject, at=now, paid=paid, failed=failed, unchanged=unchanged,
                             unmatched=unmatched)  # fmt: skip
    await store.note_on_run(tx, run.id, "reconciliations", summary)
    return summary


async def _record_bank_refusal(tx: Tx, payment: Payment, claim: str, reason: str) -> None:
    """The bank returned the payment: failed at once (a new file is needed: finance retries it)."""
    # The bank may quote account numbers back: long runs of digits never reach the bus or a log.
    reason = re.sub(r"\d{6,}", "****", reason.strip() or "returned by the bank")[:200]
    fields = {"next_attempt_at": None, "last_failure_reason": reason}
    if await _settle(tx, payment, claim, PaymentStatus.FAILED, fields, declined=True):
        await tx.emit(PaymentFailed(
            payment_id=payment.id, grant_id=payment.grant_id, application_id=payment.application_id, reason=reason,
            attempt=payment.attempts + 1, will_retry=False,
        ))  # fmt: skip


# --- repayments -----------------------------------------------------------------------------------


async def record_repayment(tx: Tx, caller: Caller, grant_id: str, amount: Money, reason: str) -> Grant:
    """A grantee paid money back: at most what the grant was paid, less what was repaid already. It
    goes back into the programme's budget (spread over its buckets) in the same transaction."""
    grant = await _finance_grant(tx, grant_id)
    if amount.currency != grant.amount.currency or amount.amount <= 0:
        raise RuleViolation(f"a repayment is a positive amount in the grant's currency ({grant.amount.currency})")
    # Written first: two repayments of one grant at once conflict here, so neither can miss the other.
    now = utcnow()
    saved = await _save_grant(tx, grant, history=[*grant.history, _entry("repayment_recorded", caller, now)])
    if saved is None:
        raise Conflict(f"grant {grant_id} changed meanwhile; read it again")
    repayable = await store.paid_for_grant(tx, grant.id) - await store.repaid_for_grant(tx, grant.id)
    if amount.amount > repayable:
        raise RuleViolation(f"only {repayable} (minor units) of grant {grant_id} is paid and not yet repaid")
    await store.insert_repayment(tx, store.Repayment(
        id=str(uuid4()), grant_id=grant.id, programme_id=grant.programme_id, amount=amount, reason=reason,
        recorded_by=caller.subject, recorded_at=now,
    ))  # fmt: skip
    await budget.add(tx, grant.programme_id, amount)
    await tx.emit(GrantRepaymentRecorded(
        grant_id=grant.id, application_id=grant.application_id, programme_id=grant.programme_id, amount=amount,
        recorded_at=now,
    ))  # fmt: skip
    return saved


# --- variations ----------------------------------------------------------------------------------


async def vary_amount(tx: Tx, caller: Caller, grant_id: str, amount: Money) -> Grant:
    """An accepted grant's amount up (the difference reserved from the budget, or 422) or down (given
    back). The change falls on its payments not yet in a run (or held): the last one takes an increase
    (or a new payment due now, if none is left); a decrease comes off the last ones first."""
    grant = await _accepted_for_variation(tx, grant_id)
    if amount.currency != grant.amount.currency or amount.amount <= 0:
        raise RuleViolation(f"the new amount must be more than zero, in {grant.amount.currency}")
    delta, now = amount.amount - grant.amount.amount, utcnow()
    if delta == 0:
        raise RuleViolation(f"grant {grant_id} is {grant.amount.amount} (minor units) already")
    payments = await store.payments_of_grant(tx, grant.id)
    variable = [p for p in payments if p.status in domain.VARIABLE_PAYMENTS and p.run_id is None]
    entry = _entry("amount_varied", caller, now)
    if delta > 0:
        if await budget.reserve(tx, grant.programme_id, Money(amount=delta, currency=amount.currency)) is None:
            raise RuleViolation(f"the programme's budget cannot cover {delta} (minor units) more")
    else:
        await budget.add(tx, grant.programme_id, Money(amount=-delta, currency=amount.currency))
    if delta > 0 and not variable:
        extra = Payment(
            id=str(uuid4()), grant_id=grant.id, application_id=grant.application_id, programme_id=grant.programme_id,
            sequence=max((p.sequence for p in payments), default=0) + 1, amount=Money(amount=delta, currency=amount.currency),
            due_at=domain.start_of_day(now.date()), created_at=now, history=[entry],
            **ready_state(domain.start_of_day(now.date()), PaymentStatus.SCHEDULED),
        )  # fmt: skip
        await store.insert_payments(tx, [extra])
        await _announce_scheduled(tx, extra)
    else:
        try:
            changes = domain.vary_payments([(p.id, p.amount.amount) for p in variable], delta)
        except ValueError as refused:
            raise RuleViolation(str(refused)) from None
        for payment in variable:
            if payment.id in changes and not await store.set_payment_amount(tx, payment, changes[payment.id], entry):
                raise Conflict(f"payment {payment.id} changed meanwhile; read the grant again")
    varied = await _varied(tx, grant, "amount", entry, amount=amount)
    if await store.unsent_payments(tx, grant.id) == 0:
        await _mark_paid(tx, grant.id)  # varied down to what was paid: nothing is outstanding
        return await _finance_grant(tx, grant.id)
    return varied


async def move_end_date(tx: Tx, caller: Caller, grant_id: str, ends_on: date) -> Grant:
    grant = await _finance_grant(tx, grant_id)
    if grant.status not in (GrantStatus.ACCEPTED, GrantStatus.PAID):
        raise Conflict(f"grant {grant_id} is {grant.status}; only an accepted or paid grant has an end date to move")
    return await _varied(tx, grant, "end_date", _entry("end_date_moved", caller, utcnow()),
                         ends_on=domain.start_of_day(ends_on))  # fmt: skip


async def cancel_grant(tx: Tx, caller: Caller, grant_id: str) -> Grant:
    """An accepted grant ends: payments not yet approved are cancelled, its amount becomes what it was
    paid and the rest goes back to the budget. A payment approved or being sent must be held or
    settled first (409), so nothing in flight is lost track of."""
    grant = await _accepted_for_variation(tx, grant_id)
    payments = await store.payments_of_grant(tx, grant.id)
    in_flight = [p for p in payments if p.status in (PaymentStatus.APPROVED, PaymentStatus.SENDING, PaymentStatus.RETRYING)]
    if in_flight:
        raise Conflict(f"payment {in_flight[0].id} is {in_flight[0].status}; hold it or let it settle before cancelling")
    now = utcnow()
    entry = _entry("cancelled", caller, now)
    for payment in payments:
        if payment.status in domain.VARIABLE_PAYMENTS and not await store.set_payment_amount(tx, payment, 0, entry):
            raise Conflict(f"payment {payment.id} changed meanwhile; read the grant again")
    paid = await store.paid_for_grant(tx, grant.id)
    if grant.amount.amount > paid:
        await budget.add(tx, grant.programme_id, Money(amount=grant.amount.amount - paid, currency=grant.amount.currency))
    return await _varied(tx, grant, "cancellation", entry, amount=Money(amount=paid, currency=grant.amount.currency),
                         status=GrantStatus.CANCELLED, on_hold=False)  # fmt: skip


async def _accepted_for_variation(tx: Tx, grant_id: str) -> Grant:
    grant = await _finance_grant(tx, grant_id)
    if grant.status is not GrantStatus.ACCEPTED:
        raise Conflict(f"grant {grant_id} is {grant.status}; only an accepted grant being paid can be varied so")
    return grant


async def _varied(tx: Tx, grant: Grant, kind: str, entry: HistoryEntry, **changes: object) -> Grant:
    saved = await _save_grant(tx, grant, history=[*grant.history, entry], **changes)
    if saved is None:
        raise Conflict(f"grant {grant.id} changed meanwhile; read it again")
    await tx.emit(GrantVaried(
        grant_id=grant.id, application_id=grant.application_id, programme_id=grant.programme_id, kind=kind,
        amount=saved.amount, previous_amount=grant.amount, ends_on=saved.ends_on.date() if saved.ends_on else None,
        varied_at=entry.at,
    ))  # fmt: skip
    return saved


async def statement(tx: Tx, programme_id: str) -> tuple[Ledger, int, dict[str, int]]:
    """The programme's money, read in one transaction (one snapshot), so it balances even while awards,
    payments and repayments commit around it."""
    ledger = await store.get_ledger(tx, programme_id)
    left = await budget.available(tx, programme_id)
    if ledger is None or left is None:
        raise NotFound(f"no ledger for programme {programme_id}")
    return ledger, left.amount, await store.statement_parts(tx, programme_id)


async def hold_payment(tx: Tx, caller: Caller, payment_id: str) -> Payment:
    """Finance stops a payment that is not yet being sent: it leaves its run and waits for release."""
    payment = await _payment(tx, payment_id)
    if not domain.can_move(payment.status, PaymentStatus.HELD):
        raise Conflict(f"payment {payment_id} is {payment.status}; only one not yet sending or sent can be held")
    if not await store.hold_payments(tx, {"_id": payment.id, "status": payment.status}, _entry("held", caller, utcnow())):
        raise Conflict(f"payment {payment_id} changed meanwhile; read it again")
    await tx.emit(PaymentHeld(payment_id=payment.id, grant_id=payment.grant_id, application_id=payment.application_id))
    return await _payment(tx, payment_id)


async def release_payment(tx: Tx, caller: Caller, payment_id: str) -> Payment:
    """A held payment goes back to scheduled: it is gathered into the next run once due."""
    payment = await _payment(tx, payment_id)
    if payment.status is not PaymentStatus.HELD:
        raise Conflict(f"payment {payment_id} is {payment.status}; only a held payment can be released")
    grant = await store.get_grant(tx, payment.grant_id)
    if grant is not None and grant.on_hold:
        raise Conflict(f"grant {grant.id} is on hold; release the grant to release its payments")
    await store.release_payments(tx, {"_id": payment.id}, _entry("released", caller, utcnow()))
    await tx.emit(PaymentReleased(payment_id=payment.id, grant_id=payment.grant_id, application_id=payment.application_id))
    return await _payment(tx, payment_id)


async def hold_grant(tx: Tx, caller: Caller, grant_id: str) -> Grant:
    """Finance stops paying an accepted grant: every payment of it not yet sending or sent is held."""
    grant = await _finance_grant(tx, grant_id)
    if grant.status is not GrantStatus.ACCEPTED or grant.on_hold:
        raise Conflict(f"grant {grant_id} is {'on hold' if grant.on_hold else grant.status}; only an accepted grant can be held")
    now = utcnow()
    held = await _save_grant(tx, grant, on_hold=True, history=[*grant.history, _entry("held", caller, now)])
    if held is None:
        raise Conflict(f"grant {grant_id} changed meanwhile; read it again")
    for payment in await store.payments_of_grant(tx, grant.id):
        if domain.can_move(payment.status, PaymentStatus.HELD):
            await store.hold_payments(tx, {"_id": payment.id}, _entry("held", caller, now))
            await tx.emit(PaymentHeld(payment_id=payment.id, grant_id=grant.id, application_id=grant.application_id))
    return held


async def release_grant(tx: Tx, caller: Caller, grant_id: str) -> Grant:
    """Finance releases a grant: one they held is paid again; one held for lack of budget is reserved
    and offered now, if the budget allows (409 if it still does not)."""
    grant = await _finance_grant(tx, grant_id)
    now = utcnow()
    if domain.can_move_grant(grant.status, GrantStatus.OFFERED):  # held for lack of budget
        ledger = await store.get_ledger(tx, grant.programme_id)
        if ledger is None:
            raise NotFound(f"no ledger for programme {grant.programme_id}")
        hold = domain.why_held(ledger.budget, grant.amount)
        reservation = await budget.reserve(tx, ledger.id, grant.amount) if hold is None else None
        if reservation is None:
            raise Conflict(f"the programme's budget still cannot cover grant {grant_id} ({hold or HeldReason.BUDGET})")
        offered = await _offer(tx, grant, ledger, reservation, now)
        saved = await _save_grant(tx, grant, **{name: getattr(offered, name) for name in (
            "status", "held_reason", "schedule", "offered_at", "reserved", "terms", "expires_at", "remind_at")},
            history=[*grant.history, _entry("released", caller, now)])  # fmt: skip
    elif grant.on_hold:
        saved = await _save_grant(tx, grant, on_hold=False, history=[*grant.history, _entry("released", caller, now)])
        if saved is not None:
            for payment in await store.payments_of_grant(tx, grant.id):
                if payment.status is PaymentStatus.HELD:
                    await store.release_payments(tx, {"_id": payment.id}, _entry("released", caller, now))
                    await tx.emit(PaymentReleased(payment_id=payment.id, grant_id=grant.id,
                                                  application_id=grant.application_id))  # fmt: skip
    else:
        raise Conflict(f"grant {grant_id} is {grant.status} and not on hold; there is nothing to release")
    if saved is None:
        raise Conflict(f"grant {grant_id} changed meanwhile; read it again")
    return saved


async def _finance_grant(tx: Tx, grant_id: str) -> Grant:
    grant = await store.get_grant(tx, grant_id)
    if grant is None:
        raise NotFound(f"no grant {grant_id}")
    return grant


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
    # The grant's writes go with the events (a round trip fewer each); nothing here reads it.
    store.note_payment_on_grant_later(tx, payment.grant_id, sent_at)
    if await store.unsent_payments(tx, payment.grant_id) == 0:
        _mark_paid_later(tx, payment.grant_id)
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
    """The grant is paid, if its status may move there. One conditional update, no read: the callers
    have written the grant in this transaction already, so a concurrent change to it is a write
    conflict that retries the whole transaction, not a change this could overwrite."""
    await store.mark_grant(tx, grant_id, domain.grant_statuses_moving_to(GrantStatus.PAID), GrantStatus.PAID)


def _mark_paid_later(tx: Tx, grant_id: str) -> None:
    """As ``_mark_paid``, written with the events, for a caller that reads the grant no more."""
    store.mark_grant_later(tx, grant_id, domain.grant_statuses_moving_to(GrantStatus.PAID), GrantStatus.PAID)


# --- erasing a person (UK GDPR article 17) --------------------------------------------------------


async def erase_person(tx: Tx, request_id: str, person_id: str) -> None:
    """Anonymise what this service holds about the person, once per request; the record that it did
    is this service's confirmation (GET /v1/personal-data/erasures/{request_id})."""
    await privacy.erase(tx, store.PERSONAL_DATA, person_id, request_id)


async def anonymise_application(tx: Tx, application_id: str) -> None:
    """The application's retention period ended: remove what this service holds about people in it."""
    await privacy.erase(tx, store.APPLICATION_DATA, application_id, f"retention-{application_id}", actor=False)


# --- monitoring reports --------------------------------------------------------------------------


async def set_monitoring_policy(
    tx: Tx, caller: Caller, programme_id: str, points: list[domain.ReportPoint], reminder_days: int,
    questions: list[dict[str, object]] | None = None, version: int | None = None,
) -> Ledger:
    """The reports the programme asks each grant for, for offers accepted from now on."""
    ledger = await store.get_ledger(tx, programme_id)
    if ledger is None:
        raise NotFound(f"no ledger for programme {programme_id}")
    check_version(version, ledger.monitoring.version)
    try:
        domain.check_monitoring_points(points, reminder_days)
    except ValueError as refused:
        raise RuleViolation(str(refused)) from None
    policy = MonitoringPolicy(
        points=[ReportPointPart(name=p.name, due_after_days=p.due_after_days) for p in points],
        reminder_days=reminder_days, questions=questions or [], set_by=caller.subject, set_at=utcnow(),
        version=ledger.monitoring.version + 1,
    )  # fmt: skip
    if not await store.set_monitoring_policy(tx, programme_id, policy):
        raise PreconditionFailed(f"the monitoring policy of programme {programme_id} changed meanwhile; read it again")
    return ledger.model_copy(update={"monitoring": policy})


def _schedule_reports(tx: Tx, grant: Grant, accepted_at: datetime, ledger: Ledger | None) -> list[MonitoringReport]:
    """The reports an accepted grant owes, from its programme's policy at acceptance."""
    if ledger is None or not ledger.monitoring.points:
        return []
    policy = ledger.monitoring
    points = [domain.ReportPoint(name=p.name, due_after_days=p.due_after_days) for p in policy.points]
    reports = [
        MonitoringReport(
            id=str(uuid4()), grant_id=grant.id, application_id=grant.application_id, programme_id=grant.programme_id,
            organisation_id=grant.organisation_id, sequence=due.sequence, name=due.name, due_at=due.due_at,
            remind_at=due.remind_at, overdue_at=due.due_at, questions=policy.questions,
        )
        for due in domain.report_schedule(accepted_at, points, policy.reminder_days)
    ]  # fmt: skip
    store.insert_reports(tx, reports)
    return reports


async def submit_report(
    tx: Tx, caller: Caller, report_id: str, answers: ReportAnswers, version: int | None
) -> MonitoringReport:
    """The grantee submits a report (or resubmits one a reviewer sent back) for review."""
    report = await store.get_report(tx, report_id)
    if report is None or not (is_finance(caller) or is_manager(caller) or caller.represents(report.organisation_id)):
        raise NotFound(f"no monitoring report {report_id}")
    if not caller.represents(report.organisation_id):
        raise Forbidden("only someone representing the grantee organisation can submit its report")
    check_version(version, report.version)
    if not domain.can_move_report(report.status, domain.ReportStatus.SUBMITTED):
        raise Conflict(f"monitoring report {report_id} is {report.status}; it cannot be submitted now")
    grant = await store.get_grant(tx, report.grant_id)
    assert grant is not None  # a report exists only for a grant
    try:
        domain.check_report_spend(answers.spent, grant.amount)
    except ValueError as refused:
        raise RuleViolation(str(refused)) from None
    _check_own_answers(report, answers.extra or {})
    now = utcnow()
    submitted = await _save_report(tx, report, status=domain.ReportStatus.SUBMITTED, answers=answers,
                                   submitted_by=caller.subject, submitted_at=now, remind_at=None)  # fmt: skip
    await tx.emit(MonitoringReportSubmitted(
        report_id=report.id, grant_id=report.grant_id, application_id=report.application_id, name=report.name,
        spent=answers.spent, submitted_at=now,
    ))  # fmt: skip
    return submitted


def _check_own_answers(report: MonitoringReport, extra: Mapping[str, object]) -> None:
    """The answers to the programme's own questions, checked as application forms are: every problem
    at once, each named by its question (422)."""
    form = FormDefinition(questions=report.questions)  # type: ignore[arg-type]
    problems = answer_problems(form, extra, complete=True)
    if problems:
        raise RuleViolation(
            "some answers cannot be accepted: " + "; ".join(f"{p.question_id}: {p.message}" for p in problems),
            errors=[{"location": ["body", "answers", p.question_id], "message": p.message, "type": "answer"}
                    for p in problems],
        )  # fmt: skip


async def review_report(tx: Tx, caller: Caller, report_id: str, accept: bool, comments: str | None,
                        version: int | None) -> MonitoringReport:  # fmt: skip
    """Finance or a programme manager accepts a submitted report, or sends it back with comments."""
    report = await store.get_report(tx, report_id)
    if report is None:
        raise NotFound(f"no monitoring report {report_id}")
    check_version(version, report.version)
    target = domain.ReportStatus.ACCEPTED if accept else domain.ReportStatus.CHANGES_REQUESTED
    if not domain.can_move_report(report.status, target):
        raise Conflict(f"monitoring report {report_id} is {report.status}; only a submitted report can be reviewed")
    if not accept and not (comments and comments.strip()):
        raise RuleViolation("say what needs to change: comments are required when requesting changes")
    now = utcnow()
    review = ReportReview(outcome=target, comments=comments, by=caller.subject, at=now)
    # Sent back after its due date, it is overdue again at once: the grantee is told it is owed.
    reviewed = await _save_report(tx, report, status=target, reviews=[*report.reviews, review],
                                  overdue_at=None if accept else max(report.due_at, now))  # fmt: skip
    if accept:
        await tx.emit(MonitoringReportAccepted(
            report_id=report.id, grant_id=report.grant_id, application_id=report.application_id, name=report.name,
            accepted_at=now,
        ))  # fmt: skip
        for payment in await store.payments_waiting_on_report(tx, report.id):
            await _meet(tx, payment, lambda w: w.report_id == report.id, now)
    else:
        await tx.emit(MonitoringReportChangesRequested(
            report_id=report.id, grant_id=report.grant_id, application_id=report.application_id, name=report.name,
            comments=comments or "",
        ))  # fmt: skip
    return reviewed


async def remind_of_report(tx: Tx, report_id: str) -> bool:
    """Remind the grantee once, before it is due, of a report still owed (the monitoring watcher)."""
    report = await store.get_report(tx, report_id)
    now = utcnow()
    if report is None or report.remind_at is None or report.remind_at > now:
        return False
    owed = report.status in domain.AWAITING_GRANTEE and now < report.due_at
    if await _save_report_quietly(tx, report, remind_at=None) is None or not owed:
        return False  # taken meanwhile, or nothing to remind of any more
    await _announce_due(tx, report, overdue=False)
    return True


async def notice_overdue_report(tx: Tx, report_id: str) -> bool:
    """Tell the grantee once that a report owed is overdue (the monitoring watcher)."""
    report = await store.get_report(tx, report_id)
    now = utcnow()
    if report is None or report.overdue_at is None or report.overdue_at > now:
        return False
    overdue = domain.report_is_overdue(report.status, report.due_at, now)
    if await _save_report_quietly(tx, report, overdue_at=None, remind_at=None) is None or not overdue:
        return False
    await _announce_due(tx, report, overdue=True)
    await _hold_tranches_for(tx, report)
    return True


# --- conditional tranches ------------------------------------------------------------------------


async def set_tranche_policy(
    tx: Tx, caller: Caller, programme_id: str, requirements: list[domain.TrancheRequirement],
    version: int | None = None,
) -> Ledger:
    """Which tranches of the programme's grants wait for an accepted report or a named condition, for
    offers accepted from now on (grants accepted before keep what they were accepted under)."""
    ledger = await store.get_ledger(tx, programme_id)
    if ledger is None:
        raise NotFound(f"no ledger for programme {programme_id}")
    check_version(version, ledger.tranches.version)
    policy_tranches = max(1, len(ledger.payment_policy.tranches))
    try:
        domain.check_tranche_requirements(requirements, policy_tranches, {p.name for p in ledger.monitoring.points})
    except ValueError as refused:
        raise RuleViolation(str(refused)) from None
    policy = TranchePolicy(
        requirements=[TrancheRequirementPart(sequence=r.sequence, report=r.report, condition=r.condition)
                      for r in sorted(requirements, key=lambda r: r.sequence)],
        set_by=caller.subject, set_at=utcnow(), version=ledger.tranches.version + 1,
    )  # fmt: skip
    if not await store.set_tranche_policy(tx, programme_id, policy):
        raise PreconditionFailed(f"the tranche policy of programme {programme_id} changed meanwhile; read it again")
    return ledger.model_copy(update={"tranches": policy})


async def meet_condition(tx: Tx, caller: Caller, grant_id: str, name: str, version: int | None) -> Grant:
    """A programme manager marks one of an accepted grant's named conditions met (who, when): the
    tranches waiting only for it are released, to be paid once their due date comes."""
    grant = await _finance_grant(tx, grant_id)
    check_version(version, grant.version)
    condition = next((c for c in grant.conditions if c.name == name), None)
    if condition is None:
        raise NotFound(f"grant {grant_id} has no condition named {name!r}")
    if condition.met_at is not None:
        raise Conflict(f"the condition {name!r} of grant {grant_id} was met already")
    if grant.status is not GrantStatus.ACCEPTED:
        raise Conflict(f"grant {grant_id} is {grant.status}; only an accepted grant's conditions can be met")
    now = utcnow()
    conditions = [c.model_copy(update={"met_at": now, "met_by": caller.subject}) if c.name == name else c
                  for c in grant.conditions]  # fmt: skip
    saved = await _save_grant(tx, grant, conditions=conditions,
                              history=[*grant.history, _entry("condition_met", caller, now)])  # fmt: skip
    if saved is None:
        raise PreconditionFailed(f"grant {grant_id} changed meanwhile; read it again and retry")
    for payment in await store.payments_of_grant(tx, grant.id):
        await _meet(tx, payment, lambda w: w.kind is domain.WaitKind.CONDITION and w.name == name, now)
    return saved


async def _meet(tx: Tx, payment: Payment, which: Callable[[TrancheWait], bool], now: datetime) -> None:
    """Mark what ``which`` picks of the payment's waits met; announce the tranche released when that
    was the last of them (once: a wait already met is not met again). A payment no longer to be paid
    (cancelled, or sent by some other way) is left as it is."""
    if not any(which(w) and w.met_at is None for w in payment.waits):
        return
    if payment.status in (PaymentStatus.CANCELLED, PaymentStatus.SENT):
        return
    waits = [w.model_copy(update={"met_at": now}) if which(w) and w.met_at is None else w for w in payment.waits]
    waiting = not domain.tranche_is_free([(w.kind, w.met_at is not None) for w in waits])
    await store.set_waits(tx, payment.id, waits, waiting)
    if not waiting:
        await tx.emit(TrancheReleased(
            payment_id=payment.id, grant_id=payment.grant_id, application_id=payment.application_id,
            sequence=payment.sequence, amount=payment.amount, due_date=payment.due_at.date(),
            met=[w.name for w in waits],
        ))  # fmt: skip


async def _hold_tranches_for(tx: Tx, report: MonitoringReport) -> None:
    """A report went overdue: the tranches waiting for it are held for it, visibly, once each."""
    for payment in await store.payments_waiting_on_report(tx, report.id):
        if payment.status in (PaymentStatus.CANCELLED, PaymentStatus.SENT):
            continue
        if not any(w.report_id == report.id and w.met_at is None and not w.overdue for w in payment.waits):
            continue
        waits = [w.model_copy(update={"overdue": True}) if w.report_id == report.id and w.met_at is None else w
                 for w in payment.waits]  # fmt: skip
        await store.set_waits(tx, payment.id, waits, payment.waiting)
        await tx.emit(TrancheHeldForReport(
            payment_id=payment.id, grant_id=payment.grant_id, application_id=payment.application_id,
            sequence=payment.sequence, amount=payment.amount, report_id=report.id, report_name=report.name,
        ))  # fmt: skip


async def _announce_due(tx: Tx, report: MonitoringReport, overdue: bool) -> None:
    await tx.emit(MonitoringReportDue(
        report_id=report.id, grant_id=report.grant_id, application_id=report.application_id, name=report.name,
        due_at=report.due_at, overdue=overdue,
    ))  # fmt: skip


async def _save_report(tx: Tx, report: MonitoringReport, **changes: object) -> MonitoringReport:
    saved = await _save_report_quietly(tx, report, **changes)
    if saved is None:
        raise PreconditionFailed(f"monitoring report {report.id} changed meanwhile; read it again and retry")
    return saved


async def _save_report_quietly(tx: Tx, report: MonitoringReport, **changes: object) -> MonitoringReport | None:
    saved = report.model_copy(update={**changes, "version": report.version + 1})
    return saved if await store.replace_report(tx, saved, report.version) else None


# --- suicide-awareness training for funded groups --------------------------------------------------
# The programme's offer (set by a manager) is made to each group when its grant is accepted; the group
# books places, staff record attendance, and the training watcher reminds a group that has not booked.


async def set_training_offer(
    tx: Tx, caller: Caller, programme_id: str, course: str, provider: str, places: int, reminder_days: int
) -> Ledger:
    """The training each group is offered, for grants accepted from now on."""
    ledger = await store.get_ledger(tx, programme_id)
    if ledger is None:
        raise NotFound(f"no ledger for programme {programme_id}")
    offer = TrainingOffer(course=course, provider=provider, places_per_group=places, reminder_days=reminder_days,
                          set_by=caller.subject, set_at=utcnow())  # fmt: skip
    await store.set_training_offer(tx, programme_id, offer)
    return ledger.model_copy(update={"training": offer})


async def _offer_training(tx: Tx, grant: Grant, accepted_at: datetime, ledger: Ledger | None) -> None:
    """Offer the accepted grant's group places on its programme's training, if the programme offers any."""
    if ledger is None or ledger.training is None:
        return
    offer = ledger.training
    training = GroupTraining(
        id=f"gtr-{uuid4().hex}", grant_id=grant.id, application_id=grant.application_id,
        programme_id=grant.programme_id, organisation_id=grant.organisation_id, course=offer.course,
        provider=offer.provider, places=offer.places_per_group, offered_at=accepted_at,
        remind_at=accepted_at + timedelta(days=offer.reminder_days) if offer.reminder_days > 0 else None,
    )  # fmt: skip
    if not await store.insert_group_training(tx, training):
        return
    await tx.emit(GroupTrainingOffered(
        training_id=training.id, grant_id=grant.id, application_id=grant.application_id,
        programme_id=grant.programme_id, course=training.course, provider=training.provider, places=training.places,
    ))  # fmt: skip


def _sees_training(caller: Caller, training: GroupTraining | None) -> bool:
    return training is not None and (
        is_finance(caller) or is_manager(caller) or caller.represents(training.organisation_id)
    )


async def book_training(
    tx: Tx, caller: Caller, training_id: str, attendees: int, names: list[str], version: int | None
) -> GroupTraining:
    """The group books places (or changes its booking) until attendance is recorded."""
    training = await store.get_group_training(tx, training_id)
    if training is None or not _sees_training(caller, training):
        raise NotFound(f"no training offer {training_id}")
    if not caller.represents(training.organisation_id):
        raise Forbidden("only someone representing the group can book its places")
    check_version(version, training.version)
    if not domain.can_move_training(training.status, domain.TrainingStatus.BOOKED):
        raise Conflict(f"training offer {training_id} is {training.status}: attendance has been recorded")
    problem = domain.booking_problem(attendees, names, training.places)
    if problem:
        raise RuleViolation(problem)
    booking = TrainingBooking(attendees=attendees, names=names, booked_by=caller.subject, booked_at=utcnow())
    booked = await _save_training(tx, training, status=domain.TrainingStatus.BOOKED, booking=booking, remind_at=None)
    await tx.emit(GroupTrainingBooked(
        training_id=training.id, grant_id=training.grant_id, application_id=training.application_id,
        programme_id=training.programme_id, attendees=attendees,
    ))  # fmt: skip
    return booked


async def record_training_attendance(
    tx: Tx, caller: Caller, training_id: str, attended: int, version: int | None
) -> GroupTraining:
    """Staff record how many of the group's booked places were attended."""
    training = await store.get_group_training(tx, training_id)
    if training is None:
        raise NotFound(f"no training offer {training_id}")
    check_version(version, training.version)
    if not domain.can_move_training(training.status, domain.TrainingStatus.ATTENDED) or training.booking is None:
        raise Conflict(f"training offer {training_id} is {training.status}: only a booking can be attended")
    problem = domain.attendance_problem(attended, training.booking.attendees)
    if problem:
        raise RuleViolation(problem)
    attendance = TrainingAttendance(attended=attended, recorded_by=caller.subject, recorded_at=utcnow())
    saved = await _save_training(tx, training, status=domain.TrainingStatus.ATTENDED, attendance=attendance)
    await tx.emit(GroupTrainingAttended(
        training_id=training.id, grant_id=training.grant_id, application_id=training.application_id,
        programme_id=training.programme_id, attended=attended,
    ))  # fmt: skip
    return saved


async def remind_to_book_training(tx: Tx, training_id: str) -> bool:
    """Remind a group once that it has not booked its training places (the training watcher)."""
    training = await store.get_group_training(tx, training_id)
    now = utcnow()
    if training is None or training.remind_at is None or training.remind_at > now:
        return False
    unbooked = training.status is domain.TrainingStatus.OFFERED
    saved = await _save_training_quietly(tx, training, remind_at=None, reminded_at=now if unbooked else None)
    if saved is None or not unbooked:
        return False  # taken meanwhile, or booked since
    await tx.emit(GroupTrainingReminder(
        training_id=training.id, grant_id=training.grant_id, application_id=training.application_id,
        course=training.course, places=training.places,
    ))  # fmt: skip
    return True


async def _save_training(tx: Tx, training: GroupTraining, **changes: object) -> GroupTraining:
    saved = await _save_training_quietly(tx, training, **changes)
    if saved is None:
        raise PreconditionFailed(f"training offer {training.id} changed meanwhile; read it again and retry")
    return saved


async def _save_training_quietly(tx: Tx, training: GroupTraining, **changes: object) -> GroupTraining | None:
    saved = training.model_copy(update={**changes, "version": training.version + 1})
    return saved if await store.replace_group_training(tx, saved, training.version) else None
# --- involvement payments to panel members --------------------------------------------------------
# Scoring approves a claim; here it is paid as the member chose (``domain.involvement_route``), from
# the programme's involvement budget (its own buckets, never over-committed), through the same
# provider and idempotency as grants (``workers.InvolvementPaymentRunner``). One payment per claim
# (its id is the claim's), so a repeated approval pays nothing more. A payment that cannot go on yet
# waits, and moves when the member chooses or gives bank details, or finance adds budget.


def involvement_payment_id(claim_id: str) -> str:
    return f"inv-{claim_id}"


async def pay_involvement_claim(tx: Tx, approved: InvolvementClaimApproved) -> None:
    payment_id = involvement_payment_id(approved.claim_id)
    if await store.get_involvement_payment(tx, payment_id):
        return
    now = utcnow()
    payment = InvolvementPayment(
        id=payment_id, claim_id=approved.claim_id, programme_id=approved.programme_id, member_id=approved.member_id,
        kind=approved.kind, amount=approved.amount, status=InvolvementPaymentStatus.WAITING,
        approved_at=approved.approved_at, created_at=now,
    )  # fmt: skip
    await store.insert_involvement_payment(tx, payment)
    await _advance_involvement(tx, payment)


async def _advance_involvement(tx: Tx, payment: InvolvementPayment) -> InvolvementPayment:
    """Move a waiting payment on as far as it goes now: paid as a voucher, queued for the bank, not
    paid (a volunteer), or still waiting (for what, recorded)."""
    member = await store.get_involvement_member(tx, payment.member_id)
    route = domain.involvement_route(member.choice if member else None, bool(member and member.bank_account),
                                     payment.kind)  # fmt: skip
    now = utcnow()
    fields: dict[str, object] = {"waiting_for": route.waiting_for}
    if route.status is not InvolvementPaymentStatus.WAITING:
        fields["method"] = member.choice if member else None
    if route.takes_budget:
        try:
            reservation = await budget.reserve(tx, domain.involvement_budget_id(payment.programme_id), payment.amount)
        except budget.BudgetUnavailable:
            reservation = None
        if reservation is None:
            route = domain.InvolvementRoute(InvolvementPaymentStatus.WAITING, WaitingFor.BUDGET)
            fields = {"waiting_for": WaitingFor.BUDGET}
        else:
            fields["reserved"] = reservation.to_doc()
    fields["status"] = route.status
    if route.status is InvolvementPaymentStatus.APPROVED:
        fields.update(ready_state(now, InvolvementPaymentStatus.APPROVED))
    if route.status is InvolvementPaymentStatus.VOUCHER_ISSUED:
        fields["paid_at"] = now
    if route.status is InvolvementPaymentStatus.WAITING and payment.waiting_for == route.waiting_for:
        return payment  # nothing has changed for it
    if not await store.move_waiting_payment(tx, payment.id, fields):
        raise Conflict(f"involvement payment {payment.id} moved on meanwhile")
    moved = payment.model_copy(update=fields)
    if route.status is InvolvementPaymentStatus.VOUCHER_ISSUED:
        await _announce_involvement_paid(tx, moved, "voucher", now)
    return moved


async def _announce_involvement_paid(tx: Tx, payment: InvolvementPayment, method: str, at: datetime) -> None:
    await tx.emit(InvolvementClaimPaid(
        claim_id=payment.claim_id, payment_id=payment.id, programme_id=payment.programme_id,
        member_id=payment.member_id, amount=payment.amount, method=method, paid_at=at,
    ))  # fmt: skip


async def _member_record(tx: Tx, caller: Caller, version: int | None) -> InvolvementMember | None:
    member = await store.get_involvement_member(tx, caller.subject)
    if member is not None:
        if version is None:
            raise PreconditionRequired("send the ETag you last read in an If-Match header")
        check_version(version, member.version)
    return member


async def _save_member(tx: Tx, caller: Caller, member: InvolvementMember | None, **changes: object) -> InvolvementMember:
    now = utcnow()
    if member is None:
        saved = InvolvementMember(id=f"mem-{uuid4().hex}", member_id=caller.subject, updated_at=now, **changes)
    else:
        saved = member.model_copy(update={**changes, "updated_at": now, "version": member.version + 1})
    if not await store.save_involvement_member(tx, saved, member.version if member else None):
        raise PreconditionFailed("your payment details changed since you read them; read them again and retry")
    for waiting in await store.member_payments_in(tx, caller.subject, InvolvementPaymentStatus.WAITING):
        await _advance_involvement(tx, waiting)
    if "bank_account" in changes:  # new bank details: what failed to reach the old account goes again
        for failed in await store.member_payments_in(tx, caller.subject, InvolvementPaymentStatus.FAILED):
            await _restart_involvement(tx, failed)
    return saved


async def set_payment_choice(tx: Tx, caller: Caller, choice: PaymentChoice, version: int | None) -> InvolvementMember:
    """The member's choice applies to claims paid from now on (one already sent or issued stays)."""
    member = await _member_record(tx, caller, version)
    return await _save_member(tx, caller, member, choice=choice)


async def set_member_bank_details(
    tx: Tx, caller: Caller, account: BankAccount, version: int | None
) -> InvolvementMember:
    member = await _member_record(tx, caller, version)
    return await _save_member(tx, caller, member, bank_account=cipher_for(tx.settings).encrypt(account))


async def set_involvement_budget(
    tx: Tx, caller: Caller, programme_id: str, total: Money, version: int | None
) -> InvolvementBudget:
    """Set the programme's involvement budget total. Lowering it takes the difference from what is
    left (409 if that much is committed already); raising it lets waiting payments go on."""
    ledger = await store.get_ledger(tx, programme_id)
    if ledger is None:
        raise NotFound(f"no ledger for programme {programme_id}")
    if total.currency != ledger.budget.currency:
        raise RuleViolation(f"the programme pays in {ledger.budget.currency}")
    current = await store.get_involvement_budget(tx, programme_id)
    if current is not None:
        if version is None:
            raise PreconditionRequired("send the ETag of the budget you last read in an If-Match header")
        check_version(version, current.version)
    budget_id = domain.involvement_budget_id(programme_id)
    change = domain.budget_change(current.total.amount if current else None, total.amount)
    if current is None:
        await budget.open_budget(tx, budget_id, total)
    elif change > 0:
        await budget.add(tx, budget_id, Money(amount=change, currency=total.currency))
    elif change < 0 and await budget.reserve(tx, budget_id, Money(amount=-change, currency=total.currency)) is None:
        raise Conflict("more than that is paid or committed already: the budget cannot be lowered that far")
    saved = InvolvementBudget(
        id=programme_id, total=total, set_by=caller.subject, set_at=utcnow(),
        version=current.version + 1 if current else 1,
    )  # fmt: skip
    if not await store.save_involvement_budget(tx, saved, current.version if current else None):
        raise PreconditionFailed("the involvement budget changed since you read it; read it again and retry")
    for waiting in await store.waiting_payments_of_programme(tx, programme_id, 500):
        if waiting.waiting_for is WaitingFor.BUDGET:
            await _advance_involvement(tx, waiting)
    return saved


async def involvement_statement(tx: Tx, programme_id: str) -> tuple[InvolvementBudget | None, Money | None, dict[str, int]]:
    found = await store.get_involvement_budget(tx, programme_id)
    left = await budget.available(tx, domain.involvement_budget_id(programme_id))
    return found, left, await store.involvement_spent(tx, programme_id)


async def record_involvement_sent(tx: Tx, payment: InvolvementPayment, claim: str, transfer: Transfer) -> None:
    now = utcnow()
    fields = {"status": InvolvementPaymentStatus.SENT, "provider_reference": transfer.provider_reference,
              "paid_at": now, "next_attempt_at": None}  # fmt: skip
    if not await store.finish_involvement_payment(tx, payment.id, claim, fields, declined=False):
        return  # our claim ran out and another worker finished it (same key, same transfer)
    await _announce_involvement_paid(tx, payment, "bank", now)


async def record_involvement_declined(tx: Tx, payment: InvolvementPayment, claim: str, reason: str) -> None:
    s = tx.settings
    outcome = domain.after_decline(
        payment.attempts, utcnow(), s.payment_max_attempts, s.payment_retry_backoff_seconds,
        s.payment_retry_backoff_max_seconds,
    )  # fmt: skip
    status = InvolvementPaymentStatus.RETRYING if outcome.will_retry else InvolvementPaymentStatus.FAILED
    fields = {"status": status, "next_attempt_at": outcome.next_attempt_at,
              "last_failure_reason": (reason.strip() or "declined by the payment provider")[:200]}  # fmt: skip
    if not await store.finish_involvement_payment(tx, payment.id, claim, fields, declined=True):
        return
    log.warning("involvement payment %s declined (attempt %d)", payment.id, outcome.attempt)
    if status is InvolvementPaymentStatus.FAILED:
        # The member is told (no reason on the bus: a bank's words may quote their details); its
        # budget stays taken until it is tried again.
        await tx.emit(InvolvementPaymentFailed(
            claim_id=payment.claim_id, payment_id=payment.id, programme_id=payment.programme_id,
            member_id=payment.member_id, amount=payment.amount, failed_at=utcnow(),
        ))  # fmt: skip


async def _restart_involvement(tx: Tx, payment: InvolvementPayment) -> InvolvementPayment:
    """A failed payment goes back in the queue, due now, as a new attempt series under a new provider
    key (``domain.provider_key``): the provider may remember the decline under the old one."""
    if not domain.can_move_involvement(payment.status, InvolvementPaymentStatus.APPROVED):
        raise Conflict(f"a {payment.status} involvement payment cannot be tried again; only a failed one can")
    fields = {**ready_state(utcnow(), InvolvementPaymentStatus.APPROVED), "retries": payment.retries + 1}
    if not await store.restart_involvement_payment(tx, payment, fields):
        raise Conflict(f"involvement payment {payment.id} changed meanwhile; it is no longer failed")
    return payment.model_copy(update=fields)


async def retry_involvement_payment(tx: Tx, caller: Caller, payment_id: str) -> InvolvementPayment:
    """Finance tries a failed involvement payment again (after checking with the member, say)."""
    payment = await store.get_involvement_payment(tx, payment_id)
    if payment is None:
        raise NotFound(f"no involvement payment {payment_id}")
    return await _restart_involvement(tx, payment)
