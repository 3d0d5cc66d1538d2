"""The disbursement database: its documents, indexes and every query on it.

- ``ledgers``: one per programme (``_id`` = programme id): its name, budget and payment policy.
- ``budget_buckets``: what each programme still has to award, over a few documents
  (``grants_shared.budget``), so concurrent awards do not all update one.
- ``grants``: one per award (unique by application); bank details only as a Fernet token.
- ``payments``: one per schedule entry once the offer is accepted, each an item of the payment queue
  (:data:`PAYMENT_QUEUE`, worked by ``workers.PaymentRunner``); the state machine is in domain.py.
- ``simulated_provider_transfers``, ``simulated_provider_attempts``: the simulated payment provider's
  own records (what a real provider keeps on its side); the service itself never reads them.

Grants and payments keep a ``history`` of what people did to them: who and when, never details.

Every function takes ``tx``: the transaction it runs in, or the service's database for a plain read.
A grant is replaced only if nobody changed it since it was read (its ``version``); payments change
through conditional updates on their queue state, so a worker's claim and a finance retry never
overwrite each other.
"""

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from pymongo import ASCENDING
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

from disbursement.domain import (
    COMMITTED_GRANT_STATUSES, DEFAULT_ACCEPTANCE_DAYS, DEFAULT_OFFER_TERMS, DEFAULT_REMINDER_DAYS, HOLDABLE,
    GrantStatus, HeldReason, ManualRetry, PaymentRunStatus, PaymentStatus, ReportStatus, TrainingStatus, WaitKind,
)  # fmt: skip
from grants_shared.budget import create_budget_indexes
from grants_shared.documents import Document, Joined, Part, read_together
from grants_shared.events import PaymentPolicy, ScheduledAmount
from grants_shared.money import Money
from grants_shared.paging import offset_page
from grants_shared.privacy import PERSON, PSEUDONYM, PersonalData
from grants_shared.unit_of_work import Db, Transaction
from grants_shared.worker import LeasedQueue
from disbursement.domain import InvolvementPaymentStatus, PaymentChoice, WaitingFor

#: Payments wait here to be sent: an approved one (its run approved by finance) from its due time, a
#: retrying one from the end of its back-off (``next_attempt_at`` either way); ``sending`` while a
#: worker holds it. A ``scheduled`` payment is not in the queue: it waits for a run to be approved.
PAYMENT_QUEUE = LeasedQueue(
    collection="payments", ready=(PaymentStatus.APPROVED, PaymentStatus.RETRYING), claimed=PaymentStatus.SENDING
)
#: Involvement payments to panel members' banks wait here (``workers.InvolvementPaymentRunner``).
INVOLVEMENT_QUEUE = LeasedQueue(
    collection="involvement_payments",
    ready=(InvolvementPaymentStatus.APPROVED, InvolvementPaymentStatus.RETRYING),
    claimed=InvolvementPaymentStatus.SENDING,
)


# --- documents -----------------------------------------------------------------------------------


class OfferTerms(Part):
    """A programme's offer terms: the template every offer's terms are filled in from, how long an offer
    stays open and how long before it closes the grantee is reminded."""

    template: str = DEFAULT_OFFER_TERMS
    acceptance_days: int = DEFAULT_ACCEPTANCE_DAYS
    reminder_days: int = DEFAULT_REMINDER_DAYS
    #: Who last set them (a subject id) and when; None for the defaults.
    set_by: str | None = None
    set_at: datetime | None = None
    #: Their ETag, one more each time they are set (1: the defaults), so two managers' edits do not cross.
    version: int = 1


class ReportPointPart(Part):
    name: str
    due_after_days: int


class MonitoringPolicy(Part):
    """The monitoring reports a programme asks each grant for (e.g. midway and at the end), due some
    days after the offer is accepted, and how many days before each the grantee is reminded."""

    points: list[ReportPointPart] = []
    reminder_days: int = 14
    #: The programme's own questions (``grants_shared.forms`` question definitions, as stored).
    questions: list[dict[str, Any]] = []
    set_by: str | None = None
    set_at: datetime | None = None
    #: Its ETag, one more each time it is set (1: never set).
    version: int = 1


class TrancheRequirementPart(Part):
    """What one tranche (by its sequence in the payment schedule) waits for besides its date."""

    sequence: int
    report: str | None = None
    condition: str | None = None


class TranchePolicy(Part):
    """Which tranches of a programme's grants wait for an accepted monitoring report or a named
    condition; none until a programme manager sets them (tranches are then paid by date alone)."""

    requirements: list[TrancheRequirementPart] = []
    set_by: str | None = None
    set_at: datetime | None = None
    #: Its ETag, one more each time it is set (1: never set).
    version: int = 1


class TrainingOffer(Part):
    """The training a programme offers each funded group: the course, who runs it, how many places a
    group may book, and how many days after the offer a group that has not booked is reminded."""

    course: str
    provider: str
    places_per_group: int
    reminder_days: int = 14
    set_by: str | None = None
    set_at: datetime | None = None


class Ledger(Document):
    """A programme as disbursement keeps it: its budget and how awards are paid. The money itself is not
    counted here, so that awards and payments need not all update one document: what is available is in
    the budget's buckets (``grants_shared.budget``), what is paid is the sum of the sent payments, and
    what is reserved is the rest (``statement``)."""

    name: str
    budget: Money
    payment_policy: PaymentPolicy
    opened_at: datetime
    #: Ledgers opened before offers had terms read as the defaults.
    offer_terms: OfferTerms = OfferTerms()
    #: The reports each grant owes; none until a programme manager sets them.
    monitoring: MonitoringPolicy = MonitoringPolicy()
    #: The training each funded group is offered when its grant is accepted; None: no offer.
    training: "TrainingOffer | None" = None
    #: What tranches wait for besides their dates; none until a programme manager sets it.
    tranches: TranchePolicy = TranchePolicy()
    #: The programme changes from applications already answered here, each once.
    applied_changes: list[str] = []


class HistoryEntry(Part):
    """Something a person did to a grant or payment: what, who (their subject id) and when."""

    action: str
    by: str
    at: datetime


class Signatory(Part):
    """Who signed for the grantee organisation (their name and role there), as they typed it."""

    name: str
    position: str


class ScheduleEntry(Part):
    """One payment of a grant's schedule, due some days after the offer is accepted."""

    sequence: int
    amount: Money
    due_after_days: int

    @classmethod
    def of(cls, scheduled: ScheduledAmount) -> "ScheduleEntry":
        return cls(sequence=scheduled.sequence, amount=scheduled.amount, due_after_days=scheduled.due_after_days)


class GrantCondition(Part):
    """A named condition of the grant (from its programme's tranche policy at acceptance) that a
    programme manager marks met: who and when."""

    name: str
    met_at: datetime | None = None
    met_by: str | None = None


class TrancheWait(Part):
    """Something a payment waits for before it can go into a payment run: an accepted report (its id)
    or a named condition of its grant. ``overdue``: the report went overdue, so the tranche is held
    for it (shown to the grantee) until it is accepted."""

    kind: WaitKind
    name: str
    report_id: str | None = None
    met_at: datetime | None = None
    overdue: bool = False


class Grant(Document):
    """An award made a grant: offered with its schedule (or held for finance), accepted with the bank
    account it is paid into, paid once every payment is sent."""

    application_id: str
    programme_id: str
    organisation_id: str
    amount: Money
    status: GrantStatus
    held_reason: HeldReason | None = None
    schedule: list[ScheduleEntry] = []
    decided_at: datetime
    created_at: datetime
    offered_at: datetime | None = None
    accepted_at: datetime | None = None
    accepted_by: str | None = None
    #: The programme's terms filled in with this grant's values, as the signatory saw them.
    terms: str | None = None
    #: The end of the acceptance window, and when the grantee is reminded (None once reminded).
    expires_at: datetime | None = None
    remind_at: datetime | None = None
    #: The person who signed for the organisation: accepting or declining.
    signatory: Signatory | None = None
    declined_reason: str | None = None
    #: When it was declined or expired.
    closed_at: datetime | None = None
    #: The Fernet token of the bank details (``crypto.BankDetailsCipher``), once the grantee gives them.
    bank_account: str | None = None
    #: The grant's end date (the start of that day, UTC: BSON has no dates), once a variation sets it.
    ends_on: datetime | None = None
    #: The budget buckets the award was reserved from (grants_shared.budget), to give it back if ever undone.
    reserved: list[dict[str, Any]] = []
    last_paid_at: datetime | None = None
    #: Finance stopped paying it (its unsent payments are held) until they release it.
    on_hold: bool = False
    #: The named conditions its tranches wait for (none for most grants).
    conditions: list[GrantCondition] = []
    version: int
    history: list[HistoryEntry] = []

    def to_doc(self) -> dict[str, Any]:
        # A field is stored once it is known, so a grant with no bank details has no bank_account
        # field at all: the shape grants have always been stored in.
        return self.model_dump(by_alias=True, exclude_none=True)


class Payment(Document):
    """A payment of a grant, and its place in the payment queue (``status``, ``attempts``,
    ``next_attempt_at``, ``claim``, ``claimed_at``: the fields ``grants_shared.worker`` works on)."""

    grant_id: str
    application_id: str
    programme_id: str
    sequence: int
    amount: Money
    #: The start of the day it is due (UTC), as shown; a scheduled payment's next_attempt_at is the same.
    due_at: datetime
    status: PaymentStatus
    #: Attempts the provider declined, over the payment's whole life.
    attempts: int = 0
    next_attempt_at: datetime | None = None
    claim: str | None = None
    claimed_at: datetime | None = None
    #: Manual retries by finance; each starts a new attempt series (``domain.provider_key``).
    retries: int = 0
    #: ``attempts`` when the latest manual retry began: the attempt budget counts from there.
    attempts_before_retry: int = 0
    last_failure_reason: str | None = None
    provider_reference: str | None = None
    sent_at: datetime | None = None
    #: The payment run it was gathered into, once due (None again if it is held and released).
    run_id: str | None = None
    #: What it waits for besides its date (a conditional tranche), and whether any of it is unmet:
    #: a waiting payment is never gathered into a run, whatever its date.
    waits: list[TrancheWait] = []
    waiting: bool = False
    created_at: datetime
    history: list[HistoryEntry] = []


class Approval(Part):
    by: str
    at: datetime


class Repayment(Document):
    """Money a grantee paid back: recorded by finance, returned to the programme's budget."""

    grant_id: str
    programme_id: str
    amount: Money
    reason: str
    recorded_by: str
    recorded_at: datetime


class BankFileExport(Part):
    """A bank file handed to a finance officer: who, when, which format, which payments (the first
    export fixes them; a later one repeats the same file), and a digest of what they got."""

    format: str
    by: str
    at: datetime
    payment_ids: list[str]
    sha256: str


class Reconciliation(Part):
    """A bank's reconciliation file read back: who gave it, when, and what it changed."""

    by: str
    at: datetime
    paid: int
    failed: int
    unchanged: int
    unmatched: int


class PaymentRun(Document):
    """Due payments gathered for finance to approve together: nothing in it is sent before it is
    approved by as many different finance officers as its total needs."""

    currency: str
    total: Money
    payment_ids: list[str]
    status: PaymentRunStatus
    approvals_needed: int
    approvals: list[Approval] = []
    created_at: datetime
    approved_at: datetime | None = None
    exports: list[BankFileExport] = []
    reconciliations: list[Reconciliation] = []
    version: int = 1


class ReportAnswers(Part):
    """What the grantee says in a monitoring report, in their own words (None once anonymised)."""

    what_was_done: str | None
    people_reached: int
    spent: Money
    what_changed: str | None
    #: Answers to the programme's own questions, by question id (None once anonymised).
    extra: dict[str, Any] | None = None


class ReportReview(Part):
    """A reviewer's answer to a submission: accepted, or changes requested with their comments."""

    outcome: str
    comments: str | None = None
    by: str
    at: datetime


class MonitoringReport(Document):
    """A report a grant owes under its programme's monitoring policy, and its review cycle."""

    grant_id: str
    application_id: str
    programme_id: str
    organisation_id: str
    sequence: int
    name: str
    due_at: datetime
    #: When the grantee is reminded before it is due (None once reminded, or never).
    remind_at: datetime | None = None
    #: When the overdue notice goes (its due time; None once sent or once nothing is owed).
    overdue_at: datetime | None = None
    #: The programme's own questions when the grant was accepted: what this report asks, whatever
    #: the policy says later.
    questions: list[dict[str, Any]] = []
    status: ReportStatus = ReportStatus.DUE
    answers: ReportAnswers | None = None
    submitted_by: str | None = None
    submitted_at: datetime | None = None
    reviews: list[ReportReview] = []
    version: int = 1


class MaskedPayee(Part):
    sort_code: str
    account_number: str


class SimulatedTransfer(Document):
    """A transfer the simulated provider made, under its idempotency key (``_id``)."""

    provider_reference: str
    amount: Money
    reference: str
    #: Like a real provider's statement line: never the full account details.
    payee: MaskedPayee
    created_at: datetime


# --- what this service holds about people (grants_shared.privacy) --------------------------------

PERSONAL_DATA = (
    # A grant and its payments are financial records, kept for as long as the law asks: erasure takes
    # the person's name off them, and the bank details (the organisation's) stay with the payments.
    # The signatory is the one who accepted (or declined) in the grantee's own words: it goes with them.
    PersonalData("grants", "accepted_by", {"accepted_by": PSEUDONYM, "signatory": None},
                 withhold=("bank_account", "reserved"),
                 about="Grant offers you accepted for your organisation, and who signed (bank details not shown)"),  # fmt: skip
    PersonalData("grants", "history.by", {"history.$[entry].by": PSEUDONYM}, array_filters=[{"entry.by": PERSON}],
                 withhold=("bank_account", "reserved"), about="What you did to grants, and when"),  # fmt: skip
    PersonalData("payments", "history.by", {"history.$[entry].by": PSEUDONYM}, array_filters=[{"entry.by": PERSON}],
                 about="What you did to payments, and when"),  # fmt: skip
    # What finance officers did: approving runs, taking bank files, giving reconciliations, repayments.
    PersonalData("payment_runs", "approvals.by", {"approvals.$[entry].by": PSEUDONYM},
                 array_filters=[{"entry.by": PERSON}], about="Payment runs you approved"),  # fmt: skip
    PersonalData("payment_runs", "exports.by", {"exports.$[entry].by": PSEUDONYM},
                 array_filters=[{"entry.by": PERSON}], about="Bank files you took"),  # fmt: skip
    PersonalData("payment_runs", "reconciliations.by", {"reconciliations.$[entry].by": PSEUDONYM},
                 array_filters=[{"entry.by": PERSON}], about="Bank reconciliations you gave"),  # fmt: skip
    PersonalData("repayments", "recorded_by", {"recorded_by": PSEUDONYM}, about="Repayments you recorded"),
    PersonalData("ledgers", "offer_terms.set_by", {"offer_terms.set_by": PSEUDONYM}, about="Offer terms you set"),
    PersonalData("ledgers", "monitoring.set_by", {"monitoring.set_by": PSEUDONYM},
                 about="Monitoring policies you set"),  # fmt: skip
    PersonalData("grants", "conditions.met_by", {"conditions.$[entry].met_by": PSEUDONYM},
                 array_filters=[{"entry.met_by": PERSON}], withhold=("bank_account", "reserved"),
                 about="Grant conditions you marked met"),  # fmt: skip
    PersonalData("ledgers", "tranches.set_by", {"tranches.set_by": PSEUDONYM}, about="Tranche policies you set"),
    PersonalData("monitoring_reports", "submitted_by", {"submitted_by": PSEUDONYM},
                 about="Monitoring reports you submitted for your organisation"),  # fmt: skip
    PersonalData("monitoring_reports", "reviews.by", {"reviews.$[entry].by": PSEUDONYM},
                 array_filters=[{"entry.by": PERSON}], about="Monitoring reports you reviewed"),  # fmt: skip
    PersonalData("ledgers", "training.set_by", {"training.set_by": PSEUDONYM}, about="Training offers you set"),
    PersonalData("group_training", "booking.booked_by", {"booking.booked_by": PSEUDONYM},
                 about="Training places you booked for your organisation"),  # fmt: skip
    PersonalData("group_training", "attendance.recorded_by", {"attendance.recorded_by": PSEUDONYM},
                 about="Training attendance you recorded"),  # fmt: skip
    # Involvement: a panel member's payment choice and bank details (erased: the choice stays, the
    # account goes); their payments are financial records and stay, without their name.
    PersonalData("involvement_members", "member_id", {"member_id": PSEUDONYM, "bank_account": None},
                 withhold=("bank_account",), about="How you chose to be paid for your involvement"),  # fmt: skip
    PersonalData("involvement_payments", "member_id", {"member_id": PSEUDONYM},
                 withhold=("reserved",), about="Involvement payments to you"),  # fmt: skip
    PersonalData("involvement_budgets", "set_by", {"set_by": PSEUDONYM}, about="Involvement budgets you set"),
)

#: What this service holds about an application that goes when its retention period ends: the bank
#: details (every payment was made years before).
APPLICATION_DATA = (
    PersonalData("grants", "application_id", {"bank_account": None, "signatory": None, "declined_reason": None},
                 about="The bank details payments went to, who signed the offer and why it was declined"),  # fmt: skip
    # A report's free text and the reviewers' comments can be about the people the group works with.
    PersonalData("monitoring_reports", "application_id",
                 {"answers.what_was_done": None, "answers.what_changed": None, "answers.extra": None,
                  "reviews.$[].comments": None},
                 where={"answers": {"$type": "object"}},  # only reports submitted: the rest hold no words
                 about="What your monitoring reports said, and the reviewers' comments on them"),  # fmt: skip
    # The names of those booked on training are the attendees' own (how many came stays).
    PersonalData("group_training", "application_id", {"booking.names": []}, where={"booking": {"$type": "object"}},
                 about="The names of the people your group booked on training"),  # fmt: skip
)


async def create_indexes(db: AsyncDatabase) -> None:
    await create_budget_indexes(db)
    await db.payments.create_index([("programme_id", ASCENDING), ("status", ASCENDING)])  # the statement
    # Unique: a second decision for the same application can never create a second grant.
    await db.grants.create_index("application_id", unique=True)
    await db.grants.create_index([("programme_id", ASCENDING), ("status", ASCENDING)])
    await db.grants.create_index("organisation_id")
    await db.grants.create_index([("status", ASCENDING), ("expires_at", ASCENDING)])  # offers to expire
    await db.grants.create_index([("status", ASCENDING), ("remind_at", ASCENDING)])  # offers to remind
    # Finance's lists of every grant, and of those in one status, oldest first.
    await db.grants.create_index([("created_at", ASCENDING), ("_id", ASCENDING)])
    await db.grants.create_index([("status", ASCENDING), ("created_at", ASCENDING), ("_id", ASCENDING)])
    await db.payments.create_index("grant_id")
    await db.payments.create_index([("status", ASCENDING), ("due_at", ASCENDING)])  # finance's list
    await db.payments.create_index([("due_at", ASCENDING), ("_id", ASCENDING)])  # ... of every payment
    await PAYMENT_QUEUE.create_indexes(db)
    await create_involvement_indexes(db)
    await db.payments.create_index("run_id")
    await db.payments.create_index("waits.report_id", sparse=True)  # tranches waiting for a report
    await db.payment_runs.create_index([("status", ASCENDING), ("created_at", ASCENDING)])
    await db.repayments.create_index("programme_id")
    await db.repayments.create_index("grant_id")
    await db.monitoring_reports.create_index([("grant_id", ASCENDING), ("sequence", ASCENDING)], unique=True)
    await db.monitoring_reports.create_index("remind_at", sparse=True)  # reminders to send
    await db.monitoring_reports.create_index("overdue_at", sparse=True)  # overdue notices to send
    await db.group_training.create_index("grant_id", unique=True)  # one offer per grant
    await db.group_training.create_index([("programme_id", ASCENDING), ("status", ASCENDING), ("offered_at", ASCENDING)])
    await db.group_training.create_index("remind_at", sparse=True)  # reminders to book to send
    # Reports awaiting review (and those in any one status), longest waiting first.
    await db.monitoring_reports.create_index([("status", ASCENDING), ("submitted_at", ASCENDING),
                                              ("due_at", ASCENDING), ("_id", ASCENDING)])  # fmt: skip


async def _page(
    collection: AsyncCollection, query: dict[str, Any], limit: int, offset: int, sort: list[tuple[str, int]], tx: Db
) -> tuple[list[Any], int]:
    return await offset_page(collection, query, sort, limit, offset, tx.session)


# --- ledgers -------------------------------------------------------------------------------------


async def open_ledger(tx: Db, ledger: Ledger) -> None:
    """Create the programme's ledger once; a repeated announcement changes nothing."""
    fields = ledger.to_doc()
    del fields["_id"]
    await tx.db.ledgers.update_one({"_id": ledger.id}, {"$setOnInsert": fields}, upsert=True, session=tx.session)


async def apply_programme_change(tx: Db, programme_id: str, change_id: str, fields: dict[str, Any]) -> bool:
    """Set the changed terms on the ledger, once per change: False if this change was answered already."""
    result = await tx.db.ledgers.update_one(
        {"_id": programme_id, "applied_changes": {"$ne": change_id}},
        {"$set": fields, "$push": {"applied_changes": change_id}}, session=tx.session,
    )
    return result.modified_count == 1


async def get_ledger(tx: Db, programme_id: str) -> Ledger | None:
    return Ledger.maybe(await tx.db.ledgers.find_one({"_id": programme_id}, session=tx.session))


async def grant_for_application(tx: Db, application_id: str) -> Grant | None:
    return Grant.maybe(await tx.db.grants.find_one({"application_id": application_id}, session=tx.session))


async def award_and_ledger(tx: Db, application_id: str, programme_id: str) -> tuple[Grant | None, Ledger | None]:
    """The grant already made for an application (if any) and the programme's ledger, in one round trip."""
    found = await read_together(
        tx, {"application": application_id, "programme": programme_id},
        Joined("grant", "grants", "application", field="application_id"), Joined("ledger", "ledgers", "programme"),
    )  # fmt: skip
    return Grant.maybe(found["grant"]), Ledger.maybe(found["ledger"])


async def grant_and_ledger(tx: Db, grant_id: str) -> tuple[Grant | None, Ledger | None]:
    """The grant and its programme's ledger, in one round trip."""
    found = await read_together(tx, grant_id, Joined("grant", "grants"), Joined("ledger", "ledgers", "grant.programme_id"))
    return Grant.maybe(found["grant"]), Ledger.maybe(found["ledger"])


async def paid_and_granted(tx: Db, programme_id: str) -> tuple[int, int]:
    """What the programme has paid (its sent payments) and what its grants amount to (those offered,
    accepted or paid: held ones reserve nothing, declined and expired ones gave it back), in minor units."""
    paid = await tx.db.payments.aggregate([
        {"$match": {"programme_id": programme_id, "status": PaymentStatus.SENT}},
        {"$group": {"_id": None, "total": {"$sum": "$amount.amount"}}},
    ], session=tx.session)  # fmt: skip
    granted = await tx.db.grants.aggregate([
        {"$match": {"programme_id": programme_id, "status": {"$in": list(COMMITTED_GRANT_STATUSES)}}},
        {"$group": {"_id": None, "total": {"$sum": "$amount.amount"}}},
    ], session=tx.session)  # fmt: skip
    paid_total = next(iter(await paid.to_list(None)), {}).get("total", 0)
    granted_total = next(iter(await granted.to_list(None)), {}).get("total", 0)
    return paid_total, granted_total


async def _sum(collection: AsyncCollection, match: dict[str, Any], tx: Db) -> int:
    cursor = await collection.aggregate(
        [{"$match": match}, {"$group": {"_id": None, "total": {"$sum": "$amount.amount"}}}], session=tx.session
    )
    return int(next(iter(await cursor.to_list(None)), {}).get("total", 0))


async def statement_parts(tx: Db, programme_id: str) -> dict[str, int]:
    """What the programme's statement adds up, in minor units: paid (sent payments), granted (grants
    offered, accepted or paid), released (offers declined or lapsed: given back), held (payments
    finance holds: part of what is committed) and returned (repayments recorded)."""
    of = {"programme_id": programme_id}
    paid, granted = await paid_and_granted(tx, programme_id)
    return {
        "paid": paid, "granted": granted,
        "released": await _sum(tx.db.grants, {**of, "status": {"$in": [GrantStatus.DECLINED, GrantStatus.EXPIRED]}}, tx),
        "held": await _sum(tx.db.payments, {**of, "status": PaymentStatus.HELD}, tx),
        "returned": await _sum(tx.db.repayments, of, tx),
    }  # fmt: skip


async def insert_repayment(tx: Db, repayment: "Repayment") -> None:
    await tx.db.repayments.insert_one(repayment.to_doc(), session=tx.session)


async def repaid_for_grant(tx: Db, grant_id: str) -> int:
    return await _sum(tx.db.repayments, {"grant_id": grant_id}, tx)


async def paid_for_grant(tx: Db, grant_id: str) -> int:
    return await _sum(tx.db.payments, {"grant_id": grant_id, "status": PaymentStatus.SENT}, tx)


def _at_version(programme_id: str, part: str, version: int) -> dict[str, Any]:
    """The ledger, if its ``part`` (a policy) is still at ``version``: ledgers stored before policies
    had versions read as version 1."""
    if version == 1:
        return {"_id": programme_id, f"{part}.version": {"$in": [1, None]}}  # None: no such field
    return {"_id": programme_id, f"{part}.version": version}


async def _set_part(tx: Db, programme_id: str, part: str, value: Part) -> bool:
    """Replace one of the ledger's policies if nobody set it since it was read (its version is one
    more than the one read); False if somebody did."""
    version = getattr(value, "version")
    result = await tx.db.ledgers.update_one(
        _at_version(programme_id, part, version - 1), {"$set": {part: value.model_dump()}}, session=tx.session
    )
    return result.matched_count == 1


async def set_offer_terms(tx: Db, programme_id: str, terms: OfferTerms) -> bool:
    return await _set_part(tx, programme_id, "offer_terms", terms)


# --- grants --------------------------------------------------------------------------------------


def insert_grant_later(tx: Transaction, grant: Grant) -> None:
    """With the transaction's events (``insert_later``): a new grant, read back by nothing in it."""
    tx.insert_later("grants", grant.to_doc())


async def get_grant(tx: Db, grant_id: str) -> Grant | None:
    return Grant.maybe(await tx.db.grants.find_one({"_id": grant_id}, session=tx.session))


async def list_grants(
    tx: Db, organisation_ids: list[str] | None, programme_id: str | None, status: GrantStatus | None, limit: int,
    offset: int,
) -> tuple[list[Grant], int]:  # fmt: skip
    """``organisation_ids`` None means every organisation (finance); a list scopes to those."""
    query: dict[str, Any] = {}
    if organisation_ids is not None:
        query["organisation_id"] = {"$in": organisation_ids}
    if programme_id:
        query["programme_id"] = programme_id
    if status:
        query["status"] = status
    docs, total = await _page(tx.db.grants, query, limit, offset, [("created_at", ASCENDING), ("_id", ASCENDING)], tx)
    return [Grant.from_doc(d) for d in docs], total


def replace_grant_later(tx: Transaction, grant: Grant, read_version: int) -> None:
    """With the transaction's events (``replace_later``), for a grant this transaction read."""
    tx.replace_later("grants", {"_id": grant.id, "version": read_version}, grant.to_doc())


async def replace_grant(tx: Db, grant: Grant, read_version: int) -> bool:
    """Store ``grant`` if nobody changed it since ``read_version`` was read."""
    result = await tx.db.grants.replace_one(
        {"_id": grant.id, "version": read_version}, grant.to_doc(), session=tx.session
    )
    return result.modified_count == 1


def _moving_grant(
    grant_id: str, from_statuses: Iterable[GrantStatus], status: GrantStatus
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The query and update that move a grant in one of ``from_statuses`` to ``status`` (a new version)."""
    query = {"_id": grant_id, "status": {"$in": [str(s) for s in from_statuses]}}
    return query, {"$set": {"status": status}, "$inc": {"version": 1}}


async def mark_grant(tx: Db, grant_id: str, from_statuses: Iterable[GrantStatus], status: GrantStatus) -> bool:
    """Move the grant to ``status`` if it is in one of ``from_statuses`` (a new version); True if it moved."""
    query, update = _moving_grant(grant_id, from_statuses, status)
    result = await tx.db.grants.update_one(query, update, session=tx.session)
    return result.modified_count == 1


async def offers_due(tx: Db, field: str, now: datetime, limit: int) -> list[Grant]:
    """Open offers whose ``field`` (``expires_at`` or ``remind_at``) has come, oldest first."""
    query = {"status": GrantStatus.OFFERED, field: {"$lte": now}}
    cursor = tx.db.grants.find(query, session=tx.session).sort(field, ASCENDING).limit(limit)
    return [Grant.from_doc(doc) async for doc in cursor]


def note_payment_on_grant_later(tx: Transaction, grant_id: str, sent_at: datetime) -> None:
    """Write a sent payment's time on its grant, with the transaction's events (``update_later``).
    Two payments of one grant sent at once both write the grant, so their transactions conflict and
    one retries, seeing the other (without this, each could count the other as outstanding and
    neither mark the grant paid: write skew). That the write is made at the end does not matter: a
    write to a document another transaction changed since this one began conflicts all the same."""
    tx.update_later("grants", {"_id": grant_id}, {"$set": {"last_paid_at": sent_at}})


def mark_grant_later(tx: Transaction, grant_id: str, from_statuses: Iterable[GrantStatus], status: GrantStatus) -> None:
    """As :func:`mark_grant`, with the transaction's events, for a caller that does not ask whether it moved."""
    tx.update_later("grants", *_moving_grant(grant_id, from_statuses, status))


# --- payments ------------------------------------------------------------------------------------


async def insert_payments(tx: Db, payments: list[Payment]) -> None:
    if payments:
        await tx.db.payments.insert_many([p.to_doc() for p in payments], session=tx.session)


def insert_payments_later(tx: Transaction[Any], payments: list[Payment]) -> None:
    """New payments written with the transaction's events: for a change that does not read them back."""
    for payment in payments:
        tx.insert_later("payments", payment.to_doc())


async def get_payment(tx: Db, payment_id: str) -> Payment | None:
    return Payment.maybe(await tx.db.payments.find_one({"_id": payment_id}, session=tx.session))


async def payments_of_grant(tx: Db, grant_id: str) -> list[Payment]:
    cursor = tx.db.payments.find({"grant_id": grant_id}, session=tx.session).sort("sequence", ASCENDING)
    return [Payment.from_doc(doc) async for doc in cursor]


async def unsent_payments(tx: Db, grant_id: str) -> int:
    query = {"grant_id": grant_id, "status": {"$nin": [PaymentStatus.SENT, PaymentStatus.CANCELLED]}}
    return await tx.db.payments.count_documents(query, session=tx.session)


async def list_payments(
    tx: Db, grant_id: str | None, status: PaymentStatus | None, limit: int, offset: int
) -> tuple[list[Payment], int]:
    query: dict[str, Any] = {}
    if grant_id:
        query["grant_id"] = grant_id
    if status:
        query["status"] = status
    docs, total = await _page(tx.db.payments, query, limit, offset, [("due_at", ASCENDING), ("_id", ASCENDING)], tx)
    return [Payment.from_doc(d) for d in docs], total


async def claim_payment(tx: Db, payment: Payment, claim: str, now: datetime) -> bool:
    """Take a payment for sending, only as it was read: of two workers that read it, one takes it."""
    return await PAYMENT_QUEUE.claim(tx, payment.to_doc(), claim, now)


async def finish_payment(tx: Db, payment_id: str, claim: str, fields: dict[str, Any], declined: bool) -> bool:
    """Settle a claimed payment with ``fields``, only while this worker's claim still holds. A decline
    counts as an attempt (``attempts + 1``); a transfer does not."""
    return await PAYMENT_QUEUE.finish(tx, payment_id, claim, fields, attempted=declined)


async def restart_payment(tx: Db, payment: Payment, retry: ManualRetry, entry: HistoryEntry) -> bool:
    """Put a failed payment back in the queue, due now, only as it was read (failed after the same
    attempts): of two retries asked at once, one does it."""
    result = await tx.db.payments.update_one(
        {"_id": payment.id, "status": PaymentStatus.FAILED, "attempts": payment.attempts},
        {"$set": {"status": PaymentStatus.SCHEDULED, "due_at": retry.due_at, "next_attempt_at": retry.due_at,
                  "retries": retry.retries, "attempts_before_retry": retry.attempts_before_retry,
                  "run_id": None},  # a new run, approved again, sends it
         "$push": {"history": entry.model_dump()}},
        session=tx.session,
    )  # fmt: skip
    return result.modified_count == 1


async def due_outside_runs(tx: Db, now: datetime, limit: int) -> list[Payment]:
    """Scheduled payments whose due time has come, that wait for nothing else and that no run holds
    yet, oldest due first."""
    # A conditional tranche still waiting for a report or a condition is not due, whatever its date.
    query = {"status": PaymentStatus.SCHEDULED, "next_attempt_at": {"$lte": now}, "run_id": None,
             "waiting": {"$ne": True}}
    cursor = tx.db.payments.find(query, session=tx.session).sort("next_attempt_at", ASCENDING).limit(limit)
    return [Payment.from_doc(doc) async for doc in cursor]


async def gather_into_run(tx: Transaction, run: PaymentRun) -> bool:
    """Put the run's payments in it and store it; False if any of them was gathered, held or changed
    meanwhile (the caller's transaction is then abandoned and tried again)."""
    result = await tx.db.payments.update_many(
        {"_id": {"$in": run.payment_ids}, "status": PaymentStatus.SCHEDULED, "run_id": None},
        {"$set": {"run_id": run.id}}, session=tx.session,
    )  # fmt: skip
    if result.modified_count != len(run.payment_ids):
        return False
    tx.insert_later("payment_runs", run.to_doc())  # a new run, written with its event
    return True


async def get_run(tx: Db, run_id: str) -> PaymentRun | None:
    return PaymentRun.maybe(await tx.db.payment_runs.find_one({"_id": run_id}, session=tx.session))


async def list_runs(tx: Db, status: PaymentRunStatus | None, limit: int, offset: int) -> tuple[list[PaymentRun], int]:
    query: dict[str, Any] = {"status": status} if status else {}
    docs, total = await _page(tx.db.payment_runs, query, limit, offset, [("created_at", ASCENDING), ("_id", ASCENDING)], tx)
    return [PaymentRun.from_doc(d) for d in docs], total


async def run_and_its_payments(tx: Db, run_id: str) -> tuple[PaymentRun | None, list[Payment]]:
    """The run and its payments (as ``payments_of_run``), in one round trip."""
    found = await read_together(tx, run_id, Joined("run", "payment_runs"),
                                Joined("payments", "payments", "_id", "run_id", many=True))  # fmt: skip
    payments = sorted((Payment.from_doc(doc) for doc in found["payments"] or []), key=lambda p: (p.grant_id, p.sequence))
    return PaymentRun.maybe(found["run"]), payments


async def payments_of_run(tx: Db, run_id: str) -> list[Payment]:
    cursor = tx.db.payments.find({"run_id": run_id}, session=tx.session).sort([("grant_id", ASCENDING), ("sequence", ASCENDING)])
    return [Payment.from_doc(doc) async for doc in cursor]


def record_approval_later(tx: Transaction, run: PaymentRun, approval: Approval, approved: bool) -> None:
    """Add an approval to the run as this transaction read it (its version), with the transaction's
    events (``update_later``): of two at once, the two transactions conflict on the run and the one
    run again finds the other's approval."""
    fields: dict[str, Any] = {"version": run.version + 1}
    if approved:
        fields |= {"status": PaymentRunStatus.APPROVED, "approved_at": approval.at}
    tx.update_later(
        "payment_runs", {"_id": run.id, "status": PaymentRunStatus.AWAITING_APPROVAL, "version": run.version},
        {"$push": {"approvals": approval.model_dump()}, "$set": fields},
    )  # fmt: skip


def approve_payments_of_run_later(tx: Transaction, run_id: str, now: datetime) -> None:
    """The run's payments still scheduled (not held meanwhile) become approved: the runner takes them
    once the transaction commits. Written with its events (``update_later``): those it read
    scheduled are those the update finds, or the transaction is made again."""
    tx.update_later(
        "payments", {"run_id": run_id, "status": PaymentStatus.SCHEDULED},
        {"$set": {"status": PaymentStatus.APPROVED, "next_attempt_at": now}}, many=True,
    )  # fmt: skip


async def submit_to_bank(tx: Db, run_id: str, claim: str, now: datetime) -> None:
    """The run's approved payments are in a bank file now: ``sending`` under the file's claim, which
    only the bank's reconciliation settles (no runner takes them in bank-file mode)."""
    await tx.db.payments.update_many(
        {"run_id": run_id, "status": PaymentStatus.APPROVED},
        {"$set": {"status": PaymentStatus.SENDING, "claim": claim, "claimed_at": now}}, session=tx.session,
    )  # fmt: skip


async def payments_by_ids(tx: Db, payment_ids: list[str]) -> list[Payment]:
    cursor = tx.db.payments.find({"_id": {"$in": payment_ids}}, session=tx.session)
    found = {doc["_id"]: Payment.from_doc(doc) async for doc in cursor}
    return [found[pid] for pid in payment_ids if pid in found]


async def sending_under(tx: Db, run_id: str, claim: str) -> list[Payment]:
    cursor = tx.db.payments.find({"run_id": run_id, "status": PaymentStatus.SENDING, "claim": claim},
                                 session=tx.session).sort([("grant_id", ASCENDING), ("sequence", ASCENDING)])  # fmt: skip
    return [Payment.from_doc(doc) async for doc in cursor]


async def note_on_run(tx: Db, run_id: str, field: str, entry: Part) -> None:
    """Append an export or a reconciliation to the run's record (a $push: never lost to a race)."""
    await tx.db.payment_runs.update_one({"_id": run_id}, {"$push": {field: entry.model_dump()}}, session=tx.session)


async def set_payment_amount(tx: Db, payment: Payment, amount: int, entry: HistoryEntry) -> bool:
    """A variable payment's new amount (cancelled at 0), only as it was read."""
    changes: dict[str, Any] = {"amount.amount": amount}
    if amount == 0:
        changes |= {"status": PaymentStatus.CANCELLED, "next_attempt_at": None, "run_id": None}
    result = await tx.db.payments.update_one(
        {"_id": payment.id, "status": payment.status, "amount.amount": payment.amount.amount, "run_id": payment.run_id},
        {"$set": changes, "$push": {"history": entry.model_dump()}}, session=tx.session,
    )  # fmt: skip
    return result.modified_count == 1


async def hold_payments(tx: Db, query: dict[str, Any], entry: HistoryEntry) -> int:
    """Hold the payments ``query`` finds that are not claimed or finished; they leave their run."""
    result = await tx.db.payments.update_many(
        {**query, "status": {"$in": list(HOLDABLE)}},
        {"$set": {"status": PaymentStatus.HELD, "run_id": None, "next_attempt_at": None},
         "$push": {"history": entry.model_dump()}}, session=tx.session,
    )  # fmt: skip
    return result.modified_count


async def release_payments(tx: Db, query: dict[str, Any], entry: HistoryEntry) -> int:
    """Held payments back to scheduled, due again from their due time, for the next run."""
    released = 0
    async for doc in tx.db.payments.find({**query, "status": PaymentStatus.HELD}, session=tx.session):
        result = await tx.db.payments.update_one(
            {"_id": doc["_id"], "status": PaymentStatus.HELD},
            {"$set": {"status": PaymentStatus.SCHEDULED, "next_attempt_at": doc["due_at"]},
             "$push": {"history": entry.model_dump()}}, session=tx.session,
        )  # fmt: skip
        released += result.modified_count
    return released


async def payments_waiting_on_report(tx: Db, report_id: str) -> list[Payment]:
    cursor = tx.db.payments.find({"waits.report_id": report_id}, session=tx.session).sort("sequence", ASCENDING)
    return [Payment.from_doc(doc) async for doc in cursor]


async def set_waits(tx: Db, payment_id: str, waits: list[TrancheWait], waiting: bool) -> None:
    """A payment's waits after one of them was met or went overdue. Always in a transaction that read
    the payment: two such changes at once write the same document, so one is retried and sees the other."""
    await tx.db.payments.update_one(
        {"_id": payment_id}, {"$set": {"waits": [w.model_dump() for w in waits], "waiting": waiting}},
        session=tx.session,
    )


async def set_tranche_policy(tx: Db, programme_id: str, policy: TranchePolicy) -> bool:
    return await _set_part(tx, programme_id, "tranches", policy)


# --- the simulated payment provider's own records ------------------------------------------------


async def simulated_transfer(tx: Db, idempotency_key: str) -> SimulatedTransfer | None:
    doc = await tx.db.simulated_provider_transfers.find_one({"_id": idempotency_key}, session=tx.session)
    return SimulatedTransfer.maybe(doc)


async def record_simulated_transfer(tx: Db, transfer: SimulatedTransfer) -> None:
    """Raises DuplicateKeyError if a transfer under the same key was recorded first."""
    await tx.db.simulated_provider_transfers.insert_one(transfer.to_doc(), session=tx.session)


async def count_simulated_attempt(tx: Db, idempotency_key: str) -> int:
    """Count one more attempt under ``idempotency_key``; the count so far."""
    attempts = tx.db.simulated_provider_attempts
    await attempts.update_one({"_id": idempotency_key}, {"$inc": {"count": 1}}, upsert=True, session=tx.session)
    doc = await attempts.find_one({"_id": idempotency_key}, session=tx.session)
    return int(doc["count"]) if doc else 0


# --- monitoring reports --------------------------------------------------------------------------


async def set_monitoring_policy(tx: Db, programme_id: str, policy: MonitoringPolicy) -> bool:
    return await _set_part(tx, programme_id, "monitoring", policy)


def insert_reports(tx: Transaction[Any], reports: list[MonitoringReport]) -> None:
    """New reports (of an acceptance, which does not read them back), written with its events."""
    for report in reports:
        tx.insert_later("monitoring_reports", report.to_doc())


async def get_report(tx: Db, report_id: str) -> MonitoringReport | None:
    return MonitoringReport.maybe(await tx.db.monitoring_reports.find_one({"_id": report_id}, session=tx.session))


async def reports_of_grant(tx: Db, grant_id: str) -> list[MonitoringReport]:
    cursor = tx.db.monitoring_reports.find({"grant_id": grant_id}, session=tx.session).sort("sequence", ASCENDING)
    return [MonitoringReport.from_doc(d) async for d in cursor]


async def replace_report(tx: Db, report: MonitoringReport, read_version: int) -> bool:
    replaced = await tx.db.monitoring_reports.replace_one(
        {"_id": report.id, "version": read_version}, report.to_doc(), session=tx.session
    )
    return replaced.matched_count == 1


async def list_reports(
    tx: Db, status: ReportStatus, programme_id: str | None, limit: int, offset: int
) -> tuple[list[MonitoringReport], int]:
    """Reports in one status, the longest waiting first (by when they were submitted, then due)."""
    query: dict[str, Any] = {"status": status}
    if programme_id:
        query["programme_id"] = programme_id
    sort = [("submitted_at", ASCENDING), ("due_at", ASCENDING), ("_id", ASCENDING)]
    docs, total = await _page(tx.db.monitoring_reports, query, limit, offset, sort, tx)
    return [MonitoringReport.from_doc(d) for d in docs], total


async def reports_due(tx: Db, field: str, now: datetime, limit: int) -> list[MonitoringReport]:
    """Reports whose reminder (``remind_at``) or overdue notice (``overdue_at``) is due."""
    cursor = tx.db.monitoring_reports.find({field: {"$lte": now}}, session=tx.session).sort(field, ASCENDING)
    return [MonitoringReport.from_doc(d) async for d in cursor.limit(limit)]


# --- suicide-awareness training for funded groups --------------------------------------------------


class TrainingBooking(Part):
    attendees: int
    #: Optional names of those coming (personal; gone when the application is anonymised).
    names: list[str] = []
    booked_by: str
    booked_at: datetime


class TrainingAttendance(Part):
    attended: int
    recorded_by: str
    recorded_at: datetime


class GroupTraining(Document):
    """The training a funded group was offered when its grant was accepted, its booking and attendance."""

    grant_id: str
    application_id: str
    programme_id: str
    organisation_id: str
    course: str
    provider: str
    places: int
    status: TrainingStatus = TrainingStatus.OFFERED
    offered_at: datetime
    #: When the group is reminded to book (None once reminded, or once it booked).
    remind_at: datetime | None = None
    reminded_at: datetime | None = None
    booking: TrainingBooking | None = None
    attendance: TrainingAttendance | None = None
    version: int = 1


async def set_training_offer(tx: Db, programme_id: str, offer: TrainingOffer | None) -> bool:
    found = await tx.db.ledgers.update_one(
        {"_id": programme_id}, {"$set": {"training": offer.model_dump() if offer else None}}, session=tx.session
    )
    return found.matched_count == 1


async def insert_group_training(tx: Db, training: GroupTraining) -> bool:
    """Offer a grant its training once (a grant has at most one offer)."""
    if await tx.db.group_training.find_one({"grant_id": training.grant_id}, {"_id": 1}, session=tx.session):
        return False
    await tx.db.group_training.insert_one(training.to_doc(), session=tx.session)
    return True


async def get_group_training(tx: Db, training_id: str) -> GroupTraining | None:
    return GroupTraining.maybe(await tx.db.group_training.find_one({"_id": training_id}, session=tx.session))


async def training_of_grant(tx: Db, grant_id: str) -> GroupTraining | None:
    return GroupTraining.maybe(await tx.db.group_training.find_one({"grant_id": grant_id}, session=tx.session))


async def replace_group_training(tx: Db, training: GroupTraining, read_version: int) -> bool:
    replaced = await tx.db.group_training.replace_one(
        {"_id": training.id, "version": read_version}, training.to_doc(), session=tx.session
    )
    return replaced.matched_count == 1


async def training_of_programme(
    tx: Db, programme_id: str, limit: int, offset: int
) -> tuple[list[GroupTraining], int]:
    docs, total = await offset_page(
        tx.db.group_training, {"programme_id": programme_id},
        [("programme_id", ASCENDING), ("status", ASCENDING), ("offered_at", ASCENDING)], limit, offset, tx.session,
    )  # fmt: skip
    return [GroupTraining.from_doc(d) for d in docs], total


async def training_counts(tx: Db, programme_id: str) -> dict[TrainingStatus, int]:
    """How many of the programme's funded groups are at each step."""
    return {
        status: await tx.db.group_training.count_documents(
            {"programme_id": programme_id, "status": status}, session=tx.session
        )
        for status in TrainingStatus
    }


async def training_reminders_due(tx: Db, now: datetime, limit: int) -> list[GroupTraining]:
    cursor = tx.db.group_training.find({"remind_at": {"$lte": now}}, session=tx.session).sort("remind_at", ASCENDING)
    return [GroupTraining.from_doc(d) async for d in cursor.limit(limit)]
# --- involvement payments to panel members -------------------------------------------------------
# ``involvement_members``: each panel member's payment choice and bank details (a Fernet token, as a
# grant's); ``involvement_budgets``: one per programme (``_id`` = programme id), its total (what is
# left is in ``budget_buckets`` under ``domain.involvement_budget_id``); ``involvement_payments``: one
# per approved claim (``_id`` = ``inv-<claim id>``, so a repeated approval never pays twice).


class InvolvementMember(Document):
    member_id: str
    choice: PaymentChoice | None = None
    #: Fernet token of the bank details; never shown or logged, only masked.
    bank_account: str | None = None
    updated_at: datetime
    version: int = 1


class InvolvementBudget(Document):
    total: Money
    set_by: str
    set_at: datetime
    version: int = 1


class InvolvementPayment(Document):
    """An approved claim's payment, and (when it goes to a bank) its place in the involvement queue."""

    claim_id: str
    programme_id: str
    member_id: str
    kind: str
    amount: Money
    method: PaymentChoice | None = None
    status: InvolvementPaymentStatus
    waiting_for: WaitingFor | None = None
    #: The budget buckets it was taken from (``grants_shared.budget``).
    reserved: list[dict[str, Any]] = []
    attempts: int = 0
    #: Times it was tried again after failing; each starts a new attempt series (``domain.provider_key``).
    retries: int = 0
    next_attempt_at: datetime | None = None
    claim: str | None = None
    claimed_at: datetime | None = None
    traceparent: str | None = None
    last_failure_reason: str | None = None
    provider_reference: str | None = None
    paid_at: datetime | None = None
    approved_at: datetime
    created_at: datetime


async def create_involvement_indexes(db: AsyncDatabase) -> None:
    await db.involvement_members.create_index("member_id", unique=True, name="one_record_per_member")
    await db.involvement_payments.create_index([("member_id", ASCENDING), ("created_at", ASCENDING)])
    await db.involvement_payments.create_index(
        [("programme_id", ASCENDING), ("status", ASCENDING), ("created_at", ASCENDING)]
    )
    await INVOLVEMENT_QUEUE.create_indexes(db)


async def get_involvement_member(tx: Db, member_id: str) -> InvolvementMember | None:
    return InvolvementMember.maybe(await tx.db.involvement_members.find_one({"member_id": member_id}, session=tx.session))


async def _first_or_replace(
    collection: AsyncCollection, tx: Db, document: Document, first: dict[str, Any], read_version: int | None
) -> bool:
    """Insert ``document`` if nothing matches ``first`` yet (``read_version`` None), or replace the one
    read at ``read_version``; False if someone else got there, or changed it, meanwhile."""
    if read_version is None:
        result = await collection.update_one(first, {"$setOnInsert": document.to_doc()}, upsert=True,
                                             session=tx.session)  # fmt: skip
        return result.upserted_id is not None
    replaced = await collection.replace_one({"_id": document.id, "version": read_version}, document.to_doc(),
                                            session=tx.session)  # fmt: skip
    return replaced.modified_count == 1


async def save_involvement_member(tx: Db, member: InvolvementMember, read_version: int | None) -> bool:
    """Insert the member's first record or replace the one read; False if it changed meanwhile."""
    return await _first_or_replace(tx.db.involvement_members, tx, member, {"member_id": member.member_id},
                                   read_version)  # fmt: skip


async def get_involvement_budget(tx: Db, programme_id: str) -> InvolvementBudget | None:
    return InvolvementBudget.maybe(await tx.db.involvement_budgets.find_one({"_id": programme_id}, session=tx.session))


async def save_involvement_budget(tx: Db, budget: InvolvementBudget, read_version: int | None) -> bool:
    return await _first_or_replace(tx.db.involvement_budgets, tx, budget, {"_id": budget.id}, read_version)


async def get_involvement_payment(tx: Db, payment_id: str) -> InvolvementPayment | None:
    return InvolvementPayment.maybe(await tx.db.involvement_payments.find_one({"_id": payment_id}, session=tx.session))


async def insert_involvement_payment(tx: Db, payment: InvolvementPayment) -> None:
    await tx.db.involvement_payments.insert_one(payment.to_doc(), session=tx.session)


async def move_waiting_payment(tx: Db, payment_id: str, fields: dict[str, Any]) -> bool:
    """A waiting payment moves on (or waits for something else), only if it is still waiting."""
    result = await tx.db.involvement_payments.update_one(
        {"_id": payment_id, "status": InvolvementPaymentStatus.WAITING}, {"$set": fields}, session=tx.session
    )
    return result.modified_count == 1


async def member_payments_in(tx: Db, member_id: str, status: InvolvementPaymentStatus) -> list[InvolvementPayment]:
    """A member's involvement payments in one status (waiting, or failed), oldest first."""
    query = {"member_id": member_id, "status": status}
    cursor = tx.db.involvement_payments.find(query, session=tx.session).sort("created_at", ASCENDING)
    return [InvolvementPayment.from_doc(d) async for d in cursor.limit(500)]


async def restart_involvement_payment(tx: Db, payment: InvolvementPayment, fields: dict[str, Any]) -> bool:
    """Put a failed involvement payment back in the queue, due now, as a new attempt series, only as
    it was read: of two retries asked at once, one does it."""
    result = await tx.db.involvement_payments.update_one(
        {"_id": payment.id, "status": InvolvementPaymentStatus.FAILED, "retries": payment.retries},
        {"$set": fields},
        session=tx.session,
    )
    return result.modified_count == 1


async def waiting_payments_of_programme(tx: Db, programme_id: str, limit: int) -> list[InvolvementPayment]:
    query = {"programme_id": programme_id, "status": InvolvementPaymentStatus.WAITING}
    cursor = tx.db.involvement_payments.find(query, session=tx.session).sort("created_at", ASCENDING)
    return [InvolvementPayment.from_doc(d) async for d in cursor.limit(limit)]


async def involvement_payments_of_member(tx: Db, member_id: str) -> list[InvolvementPayment]:
    cursor = tx.db.involvement_payments.find({"member_id": member_id}, session=tx.session).sort("created_at", ASCENDING)
    return [InvolvementPayment.from_doc(d) async for d in cursor.limit(1_000)]


async def involvement_payments_of_programme(
    tx: Db, programme_id: str, limit: int, offset: int
) -> tuple[list[InvolvementPayment], int]:
    docs, total = await _page(
        tx.db.involvement_payments, {"programme_id": programme_id}, limit, offset,
        [("status", ASCENDING), ("created_at", ASCENDING)], tx,
    )  # fmt: skip
    return [InvolvementPayment.from_doc(d) for d in docs], total


async def involvement_spent(tx: Db, programme_id: str) -> dict[str, int]:
    """What the programme's involvement budget has paid and has committed to payments not yet sent."""
    totals = {"paid": 0, "committed": 0}
    paid = (InvolvementPaymentStatus.SENT, InvolvementPaymentStatus.VOUCHER_ISSUED)
    pending = (InvolvementPaymentStatus.APPROVED, InvolvementPaymentStatus.SENDING, InvolvementPaymentStatus.RETRYING,
               InvolvementPaymentStatus.FAILED)  # fmt: skip
    for key, statuses in (("paid", paid), ("committed", pending)):
        totals[key] = await _sum(
            tx.db.involvement_payments, {"programme_id": programme_id, "status": {"$in": list(statuses)}}, tx
        )
    return totals


async def claim_involvement_payment(tx: Db, payment: InvolvementPayment, claim: str, now: datetime) -> bool:
    return await INVOLVEMENT_QUEUE.claim(tx, payment.to_doc(), claim, now)


async def finish_involvement_payment(tx: Db, payment_id: str, claim: str, fields: dict[str, Any], declined: bool) -> bool:
    return await INVOLVEMENT_QUEUE.finish(tx, payment_id, claim, fields, attempted=declined)
