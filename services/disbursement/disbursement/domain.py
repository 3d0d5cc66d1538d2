"""Disbursement's pure rules: the grant and payment state machines, payment schedules, the budget
ledger's arithmetic, retry back-off and how bank details are masked. No I/O here: callers pass the
time in."""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from string import Template

from grants_shared.events import PaymentPolicy, ScheduledAmount
from grants_shared.money import Money, format_money
from grants_shared.retries import retry_delay

FULL_SHARE_BPS = 10_000


# --- statuses ------------------------------------------------------------------------------------


class GrantStatus(StrEnum):
    HELD = "held"
    OFFERED = "offered"
    ACCEPTED = "accepted"
    PAID = "paid"
    #: The grantee's signatory said no; the reservation went back to the budget.
    DECLINED = "declined"
    #: The acceptance window closed with the offer still open; the reservation went back too.
    EXPIRED = "expired"
    #: Ended by a variation: its amount became what it was paid, the rest went back to the budget.
    CANCELLED = "cancelled"


#: Every move a grant may make. A `held` grant (an award the ledger could not cover) is offered when
#: finance releases it once the budget allows. Finance holding an accepted grant is a flag (`on_hold`)
#: on its payments, not a move. Replacing an accepted grant's
#: bank details is an edit, not a move: it stays `accepted`. `declined` and `expired` are final: the
#: money is free again and may have been awarded to someone else.
GRANT_TRANSITIONS: dict[GrantStatus, frozenset[GrantStatus]] = {
    GrantStatus.HELD: frozenset({GrantStatus.OFFERED}),
    GrantStatus.OFFERED: frozenset({GrantStatus.ACCEPTED, GrantStatus.DECLINED, GrantStatus.EXPIRED}),
    GrantStatus.ACCEPTED: frozenset({GrantStatus.PAID, GrantStatus.CANCELLED}),
    GrantStatus.PAID: frozenset(),
    GrantStatus.DECLINED: frozenset(),
    GrantStatus.EXPIRED: frozenset(),
    GrantStatus.CANCELLED: frozenset(),
}

#: Grants whose amount counts against the budget (reserved or paid): not held, not given back. A
#: cancelled grant's amount is what it was paid, so it still counts that.
COMMITTED_GRANT_STATUSES = (GrantStatus.OFFERED, GrantStatus.ACCEPTED, GrantStatus.PAID, GrantStatus.CANCELLED)


class HeldReason(StrEnum):
    """Why an award was kept back from being offered: finance has to look at it."""

    BUDGET = "budget"
    CURRENCY = "currency"


class PaymentStatus(StrEnum):
    #: Waiting for its due date, then for a payment run with it to be approved.
    SCHEDULED = "scheduled"
    #: In a payment run finance approved: the runner may send it.
    APPROVED = "approved"
    SENDING = "sending"
    RETRYING = "retrying"
    SENT = "sent"
    FAILED = "failed"
    #: Finance stopped it (or its grant): nothing is sent until they release it.
    HELD = "held"
    #: Never to be sent: its grant was cancelled or varied down past it.
    CANCELLED = "cancelled"


#: Every move a payment may make. Only an approved (or retrying: approved, then declined) payment can
#: be claimed for sending, so nothing leaves without a finance officer's approval of its run.
#: `sending -> sending` is a new claim after the previous one's lease ran out (the process died
#: mid-payment); `sent` is final; `failed` leaves only when finance retries it, and a held or retried
#: payment goes back to `scheduled`, so it needs a run approved again.
PAYMENT_TRANSITIONS: dict[PaymentStatus, frozenset[PaymentStatus]] = {
    PaymentStatus.SCHEDULED: frozenset({PaymentStatus.APPROVED, PaymentStatus.HELD, PaymentStatus.CANCELLED}),
    PaymentStatus.APPROVED: frozenset({PaymentStatus.SENDING, PaymentStatus.HELD}),
    PaymentStatus.RETRYING: frozenset({PaymentStatus.SENDING, PaymentStatus.HELD}),
    PaymentStatus.SENDING: frozenset(
        {PaymentStatus.SENDING, PaymentStatus.SENT, PaymentStatus.RETRYING, PaymentStatus.FAILED}
    ),
    PaymentStatus.SENT: frozenset(),
    PaymentStatus.FAILED: frozenset({PaymentStatus.SCHEDULED}),
    PaymentStatus.HELD: frozenset({PaymentStatus.SCHEDULED, PaymentStatus.CANCELLED}),
    PaymentStatus.CANCELLED: frozenset(),
}

#: Payments finance can hold: not yet claimed by the runner, not finished.
HOLDABLE = tuple(s for s in PaymentStatus if PaymentStatus.HELD in PAYMENT_TRANSITIONS[s])


# --- variations ----------------------------------------------------------------------------------

#: Payments a variation may change: not in an approved run, not being sent, not finished.
VARIABLE_PAYMENTS = (PaymentStatus.SCHEDULED, PaymentStatus.HELD)


def vary_payments(unsent: list[tuple[str, int]], delta: int) -> dict[str, int]:
    """New amounts for a grant's variable payments (id, amount, in schedule order) when its amount
    moves by ``delta``: an increase goes to the last one; a decrease comes off the last ones first (a
    payment brought to nothing is cancelled: 0). ValueError when they cannot absorb it."""
    if not unsent:
        raise ValueError("the grant has no payment left that can change (every one is paid, sending or approved)")
    if delta >= 0:
        last_id, last_amount = unsent[-1]
        return {last_id: last_amount + delta}
    if -delta > sum(amount for _, amount in unsent):
        raise ValueError("the grant cannot go below what is already paid, sending or approved")
    changed, cut = {}, -delta
    for payment_id, amount in reversed(unsent):
        take = min(cut, amount)
        if take:
            changed[payment_id] = amount - take
            cut -= take
    return changed


# --- payment runs --------------------------------------------------------------------------------


class PaymentRunStatus(StrEnum):
    AWAITING_APPROVAL = "awaiting_approval"
    #: Approved by as many finance officers as its total needs: its payments may be sent.
    APPROVED = "approved"


def approvals_needed(total: Money, second_approval_above: int) -> int:
    """A run above the configured amount (in minor units) needs a second, different finance officer."""
    return 2 if total.amount > second_approval_above else 1


def approve_run(status: PaymentRunStatus, approvers: list[str], approver: str, needed: int) -> bool:
    """Whether this approval completes the run; ValueError for one that does not count."""
    if status is not PaymentRunStatus.AWAITING_APPROVAL:
        raise ValueError(f"the run is {status}; only a run awaiting approval can be approved")
    if approver in approvers:
        raise ValueError("you have approved this run already; a second approval must come from another finance officer")
    return len(approvers) + 1 >= needed


def can_move(current: PaymentStatus, target: PaymentStatus) -> bool:
    """Whether a payment may move from ``current`` to ``target``."""
    return target in PAYMENT_TRANSITIONS[current]


def can_move_grant(current: GrantStatus, target: GrantStatus) -> bool:
    return target in GRANT_TRANSITIONS[current]


def grant_statuses_moving_to(target: GrantStatus) -> frozenset[GrantStatus]:
    """The statuses a grant may leave for ``target``."""
    return frozenset(status for status, targets in GRANT_TRANSITIONS.items() if target in targets)


def why_held(budget: Money, award: Money) -> HeldReason | None:
    """Why an award cannot be reserved in the programme's ledger, before trying: a budget in another
    currency. (Whether the money is still there is for the reservation itself to find out.)"""
    return HeldReason.CURRENCY if budget.currency != award.currency else None


# --- offers and their terms ----------------------------------------------------------------------

#: What a programme's offer terms may say about the grant they are filled in for.
TERMS_PLACEHOLDERS = frozenset({"programme_name", "amount", "schedule", "expires_on", "grant_reference"})

DEFAULT_OFFER_TERMS = (
    "$programme_name offers your organisation a grant of $amount, paid $schedule.\n"
    "The grant is to be spent on the project described in your application. Tell the programme at once "
    "if the project changes or cannot go ahead; money not spent on it may have to be repaid.\n"
    "This offer ($grant_reference) must be accepted by $expires_on by someone authorised to sign for "
    "your organisation."
)
DEFAULT_ACCEPTANCE_DAYS = 28
DEFAULT_REMINDER_DAYS = 7


def check_terms_template(template: str) -> None:
    """Refuse a template that names a value the grant does not have, or is malformed (a stray ``$``):
    better found when the terms are set than when an offer is made."""
    parsed = Template(template)
    if not parsed.is_valid():
        raise ValueError("the terms have a '$' that is not a placeholder; write '$$' for a dollar sign")
    unknown = set(parsed.get_identifiers()) - TERMS_PLACEHOLDERS
    if unknown:
        raise ValueError(f"the terms name unknown placeholders: {', '.join(sorted(unknown))}; "
                         f"known: {', '.join(sorted(TERMS_PLACEHOLDERS))}")  # fmt: skip


def describe_schedule(schedule: list[ScheduledAmount]) -> str:
    if len(schedule) == 1 and schedule[0].due_after_days == 0:
        return "in one payment on acceptance"
    parts = [f"{format_money(s.amount)} {'on acceptance' if s.due_after_days == 0 else f'{s.due_after_days} days after acceptance'}"
             for s in schedule]  # fmt: skip
    return "in " + str(len(parts)) + " payments: " + "; ".join(parts)


def fill_terms(template: str, programme_name: str, award: Money, schedule: list[ScheduledAmount],
               expires_at: datetime, grant_reference: str) -> str:  # fmt: skip
    """The programme's terms with this grant's own values in them: what the signatory agrees to."""
    return Template(template).substitute(
        programme_name=programme_name, amount=format_money(award), schedule=describe_schedule(schedule),
        expires_on=f"{expires_at.astimezone(UTC):%d %B %Y}", grant_reference=grant_reference,
    )  # fmt: skip


def offer_expires_at(offered_at: datetime, acceptance_days: int) -> datetime:
    """An offer is open for whole days: it lapses at the end of its last day (UTC)."""
    last_day = offered_at.astimezone(UTC).date() + timedelta(days=acceptance_days)
    return start_of_day(last_day + timedelta(days=1))


def offer_reminder_at(expires_at: datetime, reminder_days: int) -> datetime:
    return expires_at - timedelta(days=reminder_days)


def offer_is_open(status: "GrantStatus", expires_at: datetime | None, now: datetime) -> bool:
    """An offer can be accepted or declined while it is offered and its window has not closed (the
    expiry worker may not have got to it yet: the window decides, not the worker)."""
    return status is GrantStatus.OFFERED and (expires_at is None or now < expires_at)


# --- payment schedules ---------------------------------------------------------------------------


def split_by_basis_points(total: int, shares_bps: list[int]) -> list[int]:
    """Integer parts of ``total`` by shares in basis points; rounding is floored and the remainder
    goes to the last part, so the parts always add up to ``total`` exactly."""
    if total < 0:
        raise ValueError("cannot split a negative amount")
    if not shares_bps or sum(shares_bps) != FULL_SHARE_BPS or any(s <= 0 for s in shares_bps):
        raise ValueError("shares must be positive and add up to 10000 basis points")
    parts = [total * share // FULL_SHARE_BPS for share in shares_bps[:-1]]
    return [*parts, total - sum(parts)]


def payment_schedule(award: Money, policy: PaymentPolicy) -> list[ScheduledAmount]:
    """The payments an award is made in, each due some days after the offer is accepted.

    A tranche that rounds to nothing (a tiny award split many ways) is left out rather than paid as
    zero; the remaining parts still add up to the award.
    """
    if award.amount <= 0:
        raise ValueError("an award must be more than zero")
    if policy.kind == "single":
        return [ScheduledAmount(sequence=1, amount=award, due_after_days=0)]
    amounts = split_by_basis_points(award.amount, [t.share_bps for t in policy.tranches])
    parts = [(amount, t.due_after_days) for amount, t in zip(amounts, policy.tranches, strict=True) if amount > 0]
    return [
        ScheduledAmount(sequence=n, amount=Money(amount=amount, currency=award.currency), due_after_days=days)
        for n, (amount, days) in enumerate(parts, start=1)
    ]


def due_date(accepted_at: datetime, due_after_days: int) -> date:
    return accepted_at.astimezone(UTC).date() + timedelta(days=due_after_days)


def start_of_day(day: date) -> datetime:
    """A payment becomes due at the start of its due date (UTC)."""
    return datetime.combine(day, time.min, tzinfo=UTC)


def grant_reference(grant_id: str) -> str:
    """How people quote a grant: short, and the start of each of its payments' bank references."""
    return f"GRANT-{grant_id.replace('-', '')[:8].upper()}"


def payment_reference(grant_id: str, sequence: int) -> str:
    """What the grantee sees on their bank statement; short enough for a Bacs reference (18 characters)."""
    return f"{grant_reference(grant_id)}-{sequence}"[:18]


# --- declines and retries ------------------------------------------------------------------------


@dataclass(frozen=True)
class DeclineOutcome:
    attempt: int
    status: PaymentStatus
    will_retry: bool
    next_attempt_at: datetime | None


def after_decline(
    previous_attempts: int, now: datetime, max_attempts: int, backoff_seconds: float, backoff_cap_seconds: float,
    attempts_before_retry: int = 0,
) -> DeclineOutcome:
    """What a declined attempt leads to: another try after an exponential back-off, or failure.

    ``attempt`` counts every attempt the payment ever had; the budget of ``max_attempts`` and the
    back-off start again after a manual retry, which began when ``attempts_before_retry`` were made."""
    attempt = previous_attempts + 1
    in_series = attempt - attempts_before_retry
    if in_series >= max_attempts:
        return DeclineOutcome(attempt, PaymentStatus.FAILED, False, None)
    delay = retry_delay(in_series, backoff_seconds, backoff_cap_seconds)
    return DeclineOutcome(attempt, PaymentStatus.RETRYING, True, now + delay)


@dataclass(frozen=True)
class ManualRetry:
    """A failed payment put back in the queue by finance: due now, with a new attempt budget."""

    retries: int
    attempts_before_retry: int
    due_at: datetime


def manual_retry(status: PaymentStatus, attempts: int, retries: int, now: datetime) -> ManualRetry:
    if not can_move(status, PaymentStatus.SCHEDULED):
        raise ValueError(f"a {status} payment cannot be retried; only a failed one can")
    return ManualRetry(retries=retries + 1, attempts_before_retry=attempts, due_at=now)


def provider_key(payment_id: str, retries: int) -> str:
    """The idempotency key the provider sees: one per attempt series, never two transfers per key.

    A new series (after a manual retry) gets a new key because a provider may remember a decline
    under its key (or refuse a key reused with other bank details). That is safe only because a
    series ends `failed` on a definite decline, and an idempotent provider that had paid under a key
    would have returned that transfer rather than declining: no earlier key holds a transfer."""
    return payment_id if retries == 0 else f"{payment_id}:r{retries}"


# --- bank details --------------------------------------------------------------------------------


def normalise_sort_code(sort_code: str) -> str:
    """"12-34-56" or "123456" -> "123456"."""
    digits = sort_code.replace("-", "")
    if len(digits) != 6 or not all(c in "0123456789" for c in digits):
        raise ValueError("a sort code is six digits")
    return digits


def mask_account_number(account_number: str) -> str:
    return "****" + account_number[-4:]


def mask_sort_code(sort_code: str) -> str:
    return "**-**-" + normalise_sort_code(sort_code)[-2:]


@dataclass(frozen=True)
class BankAccount:
    """A UK bank account a grant is paid into. Its repr is masked so it cannot leak into a log."""

    account_name: str
    sort_code: str
    account_number: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "sort_code", normalise_sort_code(self.sort_code))
        if len(self.account_number) != 8 or not all(c in "0123456789" for c in self.account_number):
            raise ValueError("an account number is eight digits")
        if not self.account_name.strip():
            raise ValueError("an account needs a name")

    def masked(self) -> dict[str, str]:
        return {
            "account_name": self.account_name,
            "sort_code": mask_sort_code(self.sort_code),
            "account_number": mask_account_number(self.account_number),
        }

    def masked_in(self, text: str) -> str:
        """``text`` from outside (a provider's refusal, which may quote the account back) with this
        account's numbers masked, so it can be logged, stored and put on the bus."""
        code = self.sort_code
        sort_code = mask_sort_code(code)
        for secret, masked in ((self.account_number, mask_account_number(self.account_number)),
                               (f"{code[:2]}-{code[2:4]}-{code[4:]}", sort_code),
                               (f"{code[:2]} {code[2:4]} {code[4:]}", sort_code), (code, sort_code)):
            text = text.replace(secret, masked)
        return text

    def __repr__(self) -> str:
        m = self.masked()
        return f"BankAccount(account_name=<hidden>, sort_code={m['sort_code']}, account_number={m['account_number']})"

    __str__ = __repr__


# --- monitoring reports --------------------------------------------------------------------------


class ReportStatus(StrEnum):
    #: Waiting for the grantee (whether or not its due date has passed: overdue is a matter of time).
    DUE = "due"
    SUBMITTED = "submitted"
    #: The reviewer asked for changes; the grantee resubmits.
    CHANGES_REQUESTED = "changes_requested"
    ACCEPTED = "accepted"


_REPORT_MOVES: dict[ReportStatus, frozenset[ReportStatus]] = {
    ReportStatus.DUE: frozenset({ReportStatus.SUBMITTED}),
    ReportStatus.SUBMITTED: frozenset({ReportStatus.ACCEPTED, ReportStatus.CHANGES_REQUESTED}),
    ReportStatus.CHANGES_REQUESTED: frozenset({ReportStatus.SUBMITTED}),
    ReportStatus.ACCEPTED: frozenset(),
}

#: Statuses in which the grantee owes the report (so it can be overdue).
AWAITING_GRANTEE = frozenset({ReportStatus.DUE, ReportStatus.CHANGES_REQUESTED})


def can_move_report(current: ReportStatus, target: ReportStatus) -> bool:
    return target in _REPORT_MOVES[current]


@dataclass(frozen=True)
class ReportPoint:
    """A report the programme's monitoring policy asks for: its name and how many days after the
    offer is accepted it is due."""

    name: str
    due_after_days: int


@dataclass(frozen=True)
class DueReport:
    sequence: int
    name: str
    due_at: datetime
    remind_at: datetime | None


def check_monitoring_points(points: list[ReportPoint], reminder_days: int) -> None:
    """Reports come in order, on different days, each after its reminder could be sent."""
    days = [p.due_after_days for p in points]
    if days != sorted(set(days)):
        raise ValueError("reports must be due on different days, in order")
    if any(d <= reminder_days for d in days):
        raise ValueError("every report must be due after its reminder, counted from acceptance")
    if len({p.name for p in points}) != len(points):
        raise ValueError("each report needs its own name")


def report_schedule(accepted_at: datetime, points: list[ReportPoint], reminder_days: int) -> list[DueReport]:
    """The grant's reports, due at the start of the day ``due_after_days`` after acceptance."""
    schedule = []
    for sequence, point in enumerate(points, start=1):
        due_at = start_of_day(due_date(accepted_at, point.due_after_days))
        remind_at = due_at - timedelta(days=reminder_days) if reminder_days > 0 else None
        schedule.append(DueReport(sequence=sequence, name=point.name, due_at=due_at, remind_at=remind_at))
    return schedule


def report_is_overdue(status: ReportStatus, due_at: datetime, now: datetime) -> bool:
    return status in AWAITING_GRANTEE and now >= due_at


def check_report_spend(spent: Money, award: Money) -> None:
    """Spend is reported against the grant, in its currency (Money is never negative; more than the
    grant is allowed: a group may add its own money, and the reviewer sees it)."""
    if spent.currency != award.currency:
        raise ValueError(f"spend must be reported in the grant's currency, {award.currency}")


# --- suicide-awareness training for funded groups --------------------------------------------------
# A programme offers each funded group places on a course (e.g. suicide awareness) when its grant is
# accepted; the group books some of them, staff record who attended, and a group that has not booked
# is reminded once.


class TrainingStatus(StrEnum):
    OFFERED = "offered"
    #: The group booked places (it may change its booking until attendance is recorded).
    BOOKED = "booked"
    ATTENDED = "attended"


_TRAINING_MOVES: dict[TrainingStatus, frozenset[TrainingStatus]] = {
    TrainingStatus.OFFERED: frozenset({TrainingStatus.BOOKED}),
    TrainingStatus.BOOKED: frozenset({TrainingStatus.BOOKED, TrainingStatus.ATTENDED}),
    TrainingStatus.ATTENDED: frozenset(),
}

#: The groups that count as having booked (those that attended booked first).
BOOKED_OR_ATTENDED = frozenset({TrainingStatus.BOOKED, TrainingStatus.ATTENDED})


def can_move_training(current: TrainingStatus, target: TrainingStatus) -> bool:
    return target in _TRAINING_MOVES[current]


def booking_problem(attendees: int, names: list[str], places: int) -> str | None:
    """A booking takes at least one and at most the places offered; names, if given, one per attendee at most."""
    if attendees < 1:
        return "book at least one place"
    if attendees > places:
        return f"your group was offered {places} places; book at most that many"
    if len(names) > attendees:
        return "give at most one name per place booked"
    return None


def attendance_problem(attended: int, booked: int) -> str | None:
    if attended > booked:
        return f"the group booked {booked} places; at most that many can have attended"
    return None


@dataclass(frozen=True)
class TrainingShare:
    """How many of a programme's funded groups were offered training, booked and attended."""

    funded: int
    booked: int
    attended: int

    @staticmethod
    def percent(part: int, whole: int) -> int:
        """A whole percentage, rounded half up (0 of nobody is 0)."""
        return (part * 200 + whole) // (whole * 2) if whole else 0

    @property
    def booked_percent(self) -> int:
        return self.percent(self.booked, self.funded)

    @property
    def attended_percent(self) -> int:
        return self.percent(self.attended, self.funded)
# --- conditional tranches ------------------------------------------------------------------------


class WaitKind(StrEnum):
    """What a tranche can wait for besides its date: an accepted monitoring report, or a named
    condition a programme manager marks met (e.g. "safeguarding policy checked")."""

    REPORT = "report"
    CONDITION = "condition"


@dataclass(frozen=True)
class TrancheRequirement:
    """The programme's rule for one tranche (by its sequence in the schedule): what must be true
    before it is paid, whatever its date says."""

    sequence: int
    report: str | None = None
    condition: str | None = None


def check_tranche_requirements(
    requirements: list[TrancheRequirement], tranches: int, report_names: set[str]
) -> None:
    """A requirement names a tranche the payment policy has, one a programme's monitoring policy asks
    for (so that it can ever be accepted), or a condition; each tranche at most once."""
    sequences = [r.sequence for r in requirements]
    if len(set(sequences)) != len(sequences):
        raise ValueError("each tranche's requirements go in one entry")
    for r in requirements:
        if not 1 <= r.sequence <= tranches:
            raise ValueError(f"the payment policy has no tranche {r.sequence} (it has {tranches})")
        if r.report is None and r.condition is None:
            raise ValueError(f"tranche {r.sequence} needs a report or a condition to wait for")
        if r.report is not None and r.report not in report_names:
            raise ValueError(f"the monitoring policy asks for no report named {r.report!r}")


def tranche_is_free(waits: list[tuple[WaitKind, bool]]) -> bool:
    """A tranche can be gathered into a payment run (once due) when everything it waits for is met."""
    return all(met for _, met in waits)


class Waiting(StrEnum):
    """What a tranche is waiting for, as the grantee is shown it."""

    DATE = "date"
    REPORT = "report"
    CONDITION = "condition"
    FINANCE_APPROVAL = "finance_approval"
    #: Finance held it (or its grant).
    FINANCE_HOLD = "finance_hold"


@dataclass(frozen=True)
class Wait:
    kind: WaitKind
    name: str
    met: bool
    #: A report it waits for is past its due date and still owed: the tranche is held for it.
    overdue: bool = False


def waiting_for(status: PaymentStatus, due_at: datetime, waits: list[Wait], now: datetime) -> list[tuple[Waiting, Wait | None]]:
    """Everything a payment is still waiting for, in the order a person would meet them: its date,
    its reports and conditions, then finance (a hold, or approval of a run). Nothing once it is being
    sent, sent, failed or cancelled."""
    if status is PaymentStatus.HELD:
        return [(Waiting.FINANCE_HOLD, None)]
    if status is not PaymentStatus.SCHEDULED:
        return []
    found: list[tuple[Waiting, Wait | None]] = []
    if now < due_at:
        found.append((Waiting.DATE, None))
    for wait in waits:
        if not wait.met:
            found.append((Waiting.REPORT if wait.kind is WaitKind.REPORT else Waiting.CONDITION, wait))
    if not found:
        found.append((Waiting.FINANCE_APPROVAL, None))
    return found
# --- involvement payments to panel members -------------------------------------------------------
# An approved involvement claim (scoring's) is paid as the member chose: to their bank through the
# same provider and idempotency as grants, as a voucher (recorded as issued: no bank payment), or
# not at all (a volunteer: their time is still recorded). Either payment is taken from the
# programme's involvement budget, which is kept apart from its grants budget.


class PaymentChoice(StrEnum):
    BANK = "bank"
    VOUCHER = "voucher"
    VOLUNTEER = "volunteer"


class InvolvementPaymentStatus(StrEnum):
    #: Waiting for the member's choice, their bank details or enough involvement budget.
    WAITING = "waiting"
    #: In the payment queue, to be sent to the member's bank.
    APPROVED = "approved"
    SENDING = "sending"
    RETRYING = "retrying"
    SENT = "sent"
    FAILED = "failed"
    VOUCHER_ISSUED = "voucher_issued"
    #: A volunteer's: nothing is paid, nothing is taken from the budget.
    NOT_PAID = "not_paid"


INVOLVEMENT_PAYMENT_TRANSITIONS: dict[InvolvementPaymentStatus, frozenset[InvolvementPaymentStatus]] = {
    InvolvementPaymentStatus.WAITING: frozenset({
        InvolvementPaymentStatus.APPROVED, InvolvementPaymentStatus.VOUCHER_ISSUED, InvolvementPaymentStatus.NOT_PAID,
    }),
    InvolvementPaymentStatus.APPROVED: frozenset({InvolvementPaymentStatus.SENDING}),
    InvolvementPaymentStatus.RETRYING: frozenset({InvolvementPaymentStatus.SENDING}),
    InvolvementPaymentStatus.SENDING: frozenset({
        InvolvementPaymentStatus.SENDING, InvolvementPaymentStatus.SENT, InvolvementPaymentStatus.RETRYING,
        InvolvementPaymentStatus.FAILED,
    }),
    InvolvementPaymentStatus.SENT: frozenset(),
    # Tried again: by finance, or when the member gives new bank details (its budget stays taken).
    InvolvementPaymentStatus.FAILED: frozenset({InvolvementPaymentStatus.APPROVED}),
    InvolvementPaymentStatus.VOUCHER_ISSUED: frozenset(),
    InvolvementPaymentStatus.NOT_PAID: frozenset(),
}  # fmt: skip


def can_move_involvement(status: InvolvementPaymentStatus, to: InvolvementPaymentStatus) -> bool:
    return to in INVOLVEMENT_PAYMENT_TRANSITIONS[status]


class WaitingFor(StrEnum):
    PAYMENT_CHOICE = "payment_choice"
    BANK_DETAILS = "bank_details"
    BUDGET = "budget"


@dataclass(frozen=True)
class InvolvementRoute:
    """Where an approved claim goes next: ``status`` (with ``waiting_for`` while it waits), and whether
    it takes money from the involvement budget."""

    status: InvolvementPaymentStatus
    waiting_for: WaitingFor | None = None
    takes_budget: bool = False


def involvement_route(choice: PaymentChoice | None, has_bank_details: bool, kind: str = "time") -> InvolvementRoute:
    """The member's choice decides how their time is paid: a volunteer is not paid; a voucher is
    issued; a bank payment needs their bank details first. Expenses are money the member has spent,
    so they are repaid to the bank whatever the choice (NHS England's patient and public voice
    policy repays expenses to volunteers too). The budget is checked after (``takes_budget``)."""
    if kind == "expenses":
        if not has_bank_details:
            return InvolvementRoute(InvolvementPaymentStatus.WAITING, WaitingFor.BANK_DETAILS)
        return InvolvementRoute(InvolvementPaymentStatus.APPROVED, takes_budget=True)
    if choice is None:
        return InvolvementRoute(InvolvementPaymentStatus.WAITING, WaitingFor.PAYMENT_CHOICE)
    if choice is PaymentChoice.VOLUNTEER:
        return InvolvementRoute(InvolvementPaymentStatus.NOT_PAID)
    if choice is PaymentChoice.VOUCHER:
        return InvolvementRoute(InvolvementPaymentStatus.VOUCHER_ISSUED, takes_budget=True)
    if not has_bank_details:
        return InvolvementRoute(InvolvementPaymentStatus.WAITING, WaitingFor.BANK_DETAILS)
    return InvolvementRoute(InvolvementPaymentStatus.APPROVED, takes_budget=True)


def involvement_budget_id(programme_id: str) -> str:
    """The involvement budget's buckets, apart from the grants budget (whose id is the programme's)."""
    return f"involvement:{programme_id}"


def tax_year(day: date) -> str:
    """The UK tax year a day falls in, 6 April to 5 April: 2026-04-05 is in "2025-26", 2026-04-06 in "2026-27"."""
    start = day.year if (day.month, day.day) >= (4, 6) else day.year - 1
    return f"{start}-{(start + 1) % 100:02d}"


def tax_year_bounds(label: str) -> tuple[date, date]:
    """The first and last day of a tax year named as :func:`tax_year` names it."""
    start = int(label[:4])
    return date(start, 4, 6), date(start + 1, 4, 5)


@dataclass(frozen=True)
class Received:
    """Something a member was paid: when, whether for time or expenses, how much."""

    on: date
    kind: str
    amount: Money


@dataclass(frozen=True)
class TaxYearTotal:
    tax_year: str
    time: Money
    expenses: Money

    @property
    def total(self) -> Money:
        return self.time + self.expenses


def totals_by_tax_year(received: Iterable[Received], currency: str) -> list[TaxYearTotal]:
    """What a member received in each UK tax year, time and expenses apart (expenses repaid are not
    income for most purposes, payment for time may be), latest year first."""
    years: dict[str, dict[str, int]] = {}
    for item in received:
        if item.amount.currency != currency:
            raise ValueError(f"involvement is paid in {currency}, not {item.amount.currency}")
        year = years.setdefault(tax_year(item.on), {"time": 0, "expenses": 0})
        year["expenses" if item.kind == "expenses" else "time"] += item.amount.amount
    return [
        TaxYearTotal(label, Money(amount=parts["time"], currency=currency),
                     Money(amount=parts["expenses"], currency=currency))
        for label, parts in sorted(years.items(), reverse=True)
    ]  # fmt: skip


def budget_change(current_total: int | None, new_total: int) -> int:
    """How much a new involvement budget total adds (negative: takes away) from the current one."""
    return new_total - (current_total or 0)
