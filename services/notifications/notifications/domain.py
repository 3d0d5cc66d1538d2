"""Pure rules: who is told what about which event, how dates read (money reads through
``grants_shared.money``), notification ids, the two delivery state machines (pending -> sending ->
sent or delivered | pending again | failed; a webhook may also be cancelled), when a failed delivery
is tried again, and what integrators' webhooks carry. No I/O here."""

import hashlib
import json
import re
from urllib.parse import quote
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any, Literal, TypeVar

from grants_shared.events import CONTRACTS, NOTIFICATIONS, Event, Reason, ScheduledAmount
from grants_shared.money import Money, format_money
from grants_shared.worker import retry_delay

#: Where a notification reaches someone, as the delivery audit names it.
Channel = Literal["inbox", "email", "webhook"]
#: How one attempt on a channel ended: delivered; failed and to be tried again; failed for good.
Outcome = Literal["delivered", "failed", "gave_up"]


class Template(StrEnum):
    """One kind of message; names the three templates (subject, text, HTML) that render it."""

    APPLICATION_RECEIVED = "application_received"
    APPLICATION_INELIGIBLE = "application_ineligible"
    APPLICATION_RETURNED = "application_returned_for_correction"
    INTEREST_RECEIVED = "interest_received"
    APPLICATION_INVITED = "application_invited"
    INTEREST_DECLINED = "interest_declined"
    APPLICATION_WITHDRAWN = "application_withdrawn"
    REVIEW_ASSIGNED = "review_assigned"
    APPLICATION_AWARDED = "application_awarded"
    APPLICATION_DECLINED = "application_declined"
    GRANT_OFFERED = "grant_offered"
    GRANT_ACCEPTED = "grant_accepted"
    PAYMENT_SENT = "payment_sent"
    PAYMENT_FAILED = "payment_failed"
    GRANT_OFFER_REMINDER = "grant_offer_reminder"
    MONITORING_REPORT_DUE = "monitoring_report_due"
    MONITORING_REPORT_CHANGES_REQUESTED = "monitoring_report_changes_requested"
    MONITORING_REPORT_ACCEPTED = "monitoring_report_accepted"
    GROUP_TRAINING_OFFERED = "group_training_offered"
    GROUP_TRAINING_REMINDER = "group_training_reminder"
    GRANT_OFFER_DECLINED = "grant_offer_declined"
    GRANT_OFFER_EXPIRED = "grant_offer_expired"
    GRANT_VARIED = "grant_varied"
    #: One email a day gathering a reviewer's or manager's messages (``preferences``).
    DAILY_DIGEST = "daily_digest"
    DECISION_MEETING_INVITATION = "decision_meeting_invitation"
    REVIEW_REMINDER = "review_reminder"
    REVIEW_OVERDUE = "review_overdue"
    #: The programme manager's notice that one of its reviews is overdue.
    REVIEW_OVERDUE_MANAGER = "review_overdue_manager"
    TRANCHE_RELEASED = "tranche_released"
    TRANCHE_HELD_FOR_REPORT = "tranche_held_for_report"
    PAYMENT_RUN_AWAITING_APPROVAL = "payment_run_awaiting_approval"
    #: A member present at a decision meeting who has still to record some recommendations.
    MEETING_VOTE_REMINDER = "meeting_vote_reminder"
    INVOLVEMENT_CLAIM_APPROVED = "involvement_claim_approved"
    INVOLVEMENT_CLAIM_REJECTED = "involvement_claim_rejected"
    INVOLVEMENT_CLAIM_PAID = "involvement_claim_paid"
    INVOLVEMENT_PAYMENT_FAILED = "involvement_payment_failed"


class RecipientKind(StrEnum):
    APPLICANT = "applicant"
    REVIEWER = "reviewer"
    #: Told about payment runs to approve: every finance officer who registered a contact address.
    FINANCE_OFFICER = "finance_officer"
    #: A system outside the platform, told by signed webhook.
    INTEGRATOR = "integrator"


class EmailStatus(StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"


#: The email part's state machine. `sending -> sending` is a fresh claim on an expired lease (the
#: sender that held it died); `sent` and `failed` are final.
EMAIL_TRANSITIONS: dict[EmailStatus, frozenset[EmailStatus]] = {
    EmailStatus.PENDING: frozenset({EmailStatus.SENDING}),
    EmailStatus.SENDING: frozenset({EmailStatus.SENDING, EmailStatus.SENT, EmailStatus.PENDING, EmailStatus.FAILED}),
    EmailStatus.SENT: frozenset(),
    EmailStatus.FAILED: frozenset(),
}


class WebhookStatus(StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    DELIVERED = "delivered"
    FAILED = "failed"
    #: The subscription was deactivated before the delivery went out.
    CANCELLED = "cancelled"
    #: The subscription was disabled after repeated failure: sent once it is reactivated.
    HELD = "held"


#: As for email: `sending -> sending` is a fresh claim on an expired lease. A delivery that is done
#: (delivered, failed, cancelled) or held goes back to `pending` only when it is resent, replayed or
#: (held) its subscription is reactivated; the webhook-id stays the same.
WEBHOOK_TRANSITIONS: dict[WebhookStatus, frozenset[WebhookStatus]] = {
    WebhookStatus.PENDING: frozenset({WebhookStatus.SENDING, WebhookStatus.CANCELLED}),
    WebhookStatus.SENDING: frozenset({
        WebhookStatus.SENDING, WebhookStatus.DELIVERED, WebhookStatus.PENDING, WebhookStatus.FAILED,
        WebhookStatus.CANCELLED, WebhookStatus.HELD,
    }),
    WebhookStatus.DELIVERED: frozenset({WebhookStatus.PENDING}),
    WebhookStatus.FAILED: frozenset({WebhookStatus.PENDING}),
    WebhookStatus.CANCELLED: frozenset({WebhookStatus.PENDING}),
    WebhookStatus.HELD: frozenset({WebhookStatus.PENDING}),
}

#: What a resend or a replay may queue again: anything not already waiting or being sent.
SENDABLE_AGAIN: frozenset[WebhookStatus] = frozenset(
    status for status in WebhookStatus if WEBHOOK_TRANSITIONS[status] == {WebhookStatus.PENDING}
)


class SubscriptionStatus(StrEnum):
    ACTIVE = "active"
    #: Automatically, after repeated failure: events are kept (held) and sent once it is reactivated.
    DISABLED = "disabled"
    #: By an admin: nothing more is queued for it, and what was waiting is cancelled.
    DEACTIVATED = "deactivated"


SUBSCRIPTION_TRANSITIONS: dict[SubscriptionStatus, frozenset[SubscriptionStatus]] = {
    SubscriptionStatus.ACTIVE: frozenset({SubscriptionStatus.DISABLED, SubscriptionStatus.DEACTIVATED}),
    SubscriptionStatus.DISABLED: frozenset({SubscriptionStatus.ACTIVE, SubscriptionStatus.DEACTIVATED}),
    SubscriptionStatus.DEACTIVATED: frozenset({SubscriptionStatus.ACTIVE}),
}

Status = TypeVar("Status", EmailStatus, WebhookStatus, SubscriptionStatus)
_TRANSITIONS: Mapping[type[StrEnum], Mapping[Any, frozenset[Any]]] = {
    EmailStatus: EMAIL_TRANSITIONS,
    WebhookStatus: WEBHOOK_TRANSITIONS,
    SubscriptionStatus: SUBSCRIPTION_TRANSITIONS,
}


def can_move(current: Status, target: Status) -> bool:
    return target in _TRANSITIONS[type(current)][current]


def check_move(current: Status, target: Status) -> Status:
    """``target``, if the state machine of ``current`` allows the move: settling a delivery never
    makes a move its channel forbids."""
    if not can_move(current, target):
        raise ValueError(f"{type(current).__name__} cannot move from {current} to {target}")
    return target


def notification_id(about: str, recipient_id: str, template: Template | str) -> str:
    """The same (fact, recipient, template) always gives the same id, so neither a redelivered event
    nor the same fact published again under a new event id can tell someone twice (and the id doubles
    as the email's Message-ID). ``about`` names the fact: an application, a review, a grant, a
    payment (and, for a failure, the attempt that failed)."""
    if not about:
        raise ValueError("a notice must name the fact it tells of")
    key = "\x1f".join((about, recipient_id, str(template)))
    return "ntf_" + hashlib.sha256(key.encode()).hexdigest()[:40]


# --- how things read -----------------------------------------------------------------------------

def format_date(day: date | datetime) -> str:
    """Dates written out in full ("Friday 4 December 2026") so nobody misreads 04/12 as April."""
    return f"{day:%A} {day.day} {day:%B %Y}"


def when_due(due_after_days: int) -> str:
    if due_after_days == 0:
        return "when you accept the offer"
    if due_after_days == 1:
        return "1 day after you accept the offer"
    return f"{due_after_days} days after you accept the offer"


def single_line(text: str, limit: int = 200) -> str:
    """Header-safe text: a subject or display name never carries a line break into an email header."""
    return " ".join(text.split())[:limit]


# --- who is told what ----------------------------------------------------------------------------


@dataclass(frozen=True)
class ApplicationRecord:
    """What the messages about an application need: who it is for and what it is (kept, as fed by
    application.submitted / .ineligible, in ``store.Application``)."""

    application_id: str
    programme_id: str
    title: str
    organisation_name: str | None
    person_id: str
    contact_name: str
    contact_email: str


@dataclass(frozen=True)
class Recipient:
    person_id: str
    kind: RecipientKind


@dataclass(frozen=True)
class Notice:
    """What one person is to be told about one event, before it is rendered."""

    template: Template
    recipient: Recipient
    context: dict[str, Any]
    application_id: str | None = None
    #: The portal page the notice is about (a path): every message links to it, never to a bare id.
    page: str = "/"
    #: The fact it tells of (an application, a review, a grant, a payment attempt): one notice per fact.
    about: str = ""


def page_of_application(application_id: str) -> str:
    return f"/applications/{quote(application_id, safe='')}"


def page_of_grant(grant_id: str) -> str:
    return f"/grants/{quote(grant_id, safe='')}"


def page_of_review(review_id: str) -> str:
    return f"/reviews/{quote(review_id, safe='')}"


def _to_applicant(
    app: ApplicationRecord, programme_name: str | None, template: Template, page: str | None = None,
    about: str | None = None, **context: Any,
) -> Notice:
    base = {
        "name": app.contact_name,
        "application_id": app.application_id,
        "title": app.title,
        "organisation_name": app.organisation_name,
        "programme_name": programme_name,
    }
    return Notice(
        template, Recipient(app.person_id, RecipientKind.APPLICANT), {**base, **context}, app.application_id,
        page or page_of_application(app.application_id), about or app.application_id,
    )


def application_received(app: ApplicationRecord, programme_name: str | None, amount_requested: Money) -> Notice:
    return _to_applicant(
        app, programme_name, Template.APPLICATION_RECEIVED, amount_requested=format_money(amount_requested)
    )


def application_ineligible(app: ApplicationRecord, programme_name: str | None, reasons: Sequence[Reason]) -> Notice:
    # Every failed rule, in the plain words applications wrote for it; codes are for machines.
    return _to_applicant(app, programme_name, Template.APPLICATION_INELIGIBLE, reasons=[r.message for r in reasons])


def application_returned(
    app: ApplicationRecord, programme_name: str | None, reasons: Sequence[Reason], closes_at: datetime, event_id: str
) -> Notice:
    # The same application can be returned more than once (corrected, submitted, returned again):
    # each return is its own fact, so the event names it.
    return _to_applicant(app, programme_name, Template.APPLICATION_RETURNED, about=f"{app.application_id}:{event_id}",
                         reasons=[r.message for r in reasons], closes_at=format_date(closes_at))  # fmt: skip


def interest_received(app: ApplicationRecord, programme_name: str | None) -> Notice:
    return _to_applicant(app, programme_name, Template.INTEREST_RECEIVED, about=f"{app.application_id}:interest")


def application_invited(app: ApplicationRecord, programme_name: str | None, closes_at: datetime) -> Notice:
    return _to_applicant(app, programme_name, Template.APPLICATION_INVITED, about=f"{app.application_id}:invited",
                         closes_at=format_date(closes_at))  # fmt: skip


def interest_declined(app: ApplicationRecord, programme_name: str | None, feedback: str) -> Notice:
    return _to_applicant(app, programme_name, Template.INTEREST_DECLINED, about=f"{app.application_id}:declined",
                         feedback=feedback.strip())  # fmt: skip


def application_withdrawn(app: ApplicationRecord, programme_name: str | None, reason: str) -> Notice:
    return _to_applicant(app, programme_name, Template.APPLICATION_WITHDRAWN, reason=reason.strip())


def review_assigned(
    reviewer_id: str, reviewer_name: str | None, review_id: str, application_id: str, application_title: str,
    programme_name: str | None, due_date: date,
) -> Notice:
    context = {
        "name": reviewer_name,
        "application_id": application_id,
        "title": application_title,
        "programme_name": programme_name,
        "due_date": format_date(due_date),
    }
    return Notice(Template.REVIEW_ASSIGNED, Recipient(reviewer_id, RecipientKind.REVIEWER), context, application_id,
                  page_of_review(review_id), about=review_id)


def review_reminder(
    reviewer_id: str, reviewer_name: str | None, review_id: str, application_id: str, application_title: str,
    programme_name: str | None, due_date: date,
) -> Notice:
    """Once per review, some days before it is due (``about`` keeps it apart from the assignment)."""
    context = {"name": reviewer_name, "application_id": application_id, "title": application_title,
               "programme_name": programme_name, "due_date": format_date(due_date)}
    return Notice(Template.REVIEW_REMINDER, Recipient(reviewer_id, RecipientKind.REVIEWER), context, application_id,
                  page_of_review(review_id), about=f"{review_id}:reminder")


def review_overdue(
    reviewer_id: str, reviewer_name: str | None, review_id: str, application_id: str, application_title: str,
    programme_name: str | None, due_date: date,
) -> Notice:
    context = {"name": reviewer_name, "application_id": application_id, "title": application_title,
               "programme_name": programme_name, "due_date": format_date(due_date)}
    return Notice(Template.REVIEW_OVERDUE, Recipient(reviewer_id, RecipientKind.REVIEWER), context, application_id,
                  page_of_review(review_id), about=f"{review_id}:overdue")


def review_overdue_to_manager(
    manager_id: str, manager_name: str | None, review_id: str, application_id: str, application_title: str,
    programme_name: str | None, due_date: date,
) -> Notice:
    """The manager hears which application's review is late, not who the reviewer is by name: the
    application's page shows its reviews, and they can reassign from there."""
    context = {"name": manager_name, "application_id": application_id, "title": application_title,
               "programme_name": programme_name, "due_date": format_date(due_date)}
    # Told as the programme's people are (kind "reviewer": a registered or token address, never one
    # from the bus), so the delivery event's recipient kinds stay as integrators know them.
    return Notice(Template.REVIEW_OVERDUE_MANAGER, Recipient(manager_id, RecipientKind.REVIEWER), context,
                  application_id, f"/manage/applications/{quote(application_id, safe='')}",
                  about=f"{review_id}:overdue")


def decision_meeting_invitation(
    member_id: str, member_name: str | None, meeting_id: str, programme_name: str | None, held_on: date,
    item_count: int,
) -> Notice:
    context = {"name": member_name, "programme_name": programme_name, "held_on": format_date(held_on),
               "item_count": item_count}
    return Notice(Template.DECISION_MEETING_INVITATION, Recipient(member_id, RecipientKind.REVIEWER), context, None,
                  page_of_meeting(meeting_id), about=meeting_id)


def meeting_vote_reminder(
    member_id: str, member_name: str | None, meeting_id: str, programme_name: str | None, held_on: date,
    items_awaiting: int,
) -> Notice:
    """Once per meeting and member (``about`` keeps it apart from the invitation to the same meeting)."""
    context = {"name": member_name, "programme_name": programme_name, "held_on": format_date(held_on),
               "items_awaiting": items_awaiting}
    return Notice(Template.MEETING_VOTE_REMINDER, Recipient(member_id, RecipientKind.REVIEWER), context, None,
                  page_of_meeting(meeting_id), about=f"{meeting_id}:vote_reminder")


def page_of_meeting(meeting_id: str) -> str:
    return f"/panel/meetings/{quote(meeting_id, safe='')}"


def application_decided(
    app: ApplicationRecord, programme_name: str | None, outcome: str, amount_awarded: Money | None, feedback: str
) -> Notice:
    if outcome == "awarded":
        if amount_awarded is None:
            raise ValueError("an award carries an amount")
        return _to_applicant(
            app, programme_name, Template.APPLICATION_AWARDED,
            amount_awarded=format_money(amount_awarded), feedback=feedback.strip(),
        )
    return _to_applicant(app, programme_name, Template.APPLICATION_DECLINED, feedback=feedback.strip())


def schedule_lines(schedule: Iterable[ScheduledAmount]) -> list[dict[str, Any]]:
    return [
        {"sequence": part.sequence, "amount": format_money(part.amount), "when": when_due(part.due_after_days)}
        for part in sorted(schedule, key=lambda part: part.sequence)
    ]


def grant_offered(
    app: ApplicationRecord, programme_name: str | None, grant_id: str, amount: Money,
    schedule: Sequence[ScheduledAmount], expires_at: datetime | None = None,
) -> Notice:
    return _to_applicant(
        app, programme_name, Template.GRANT_OFFERED, page_of_grant(grant_id), grant_id,
        grant_id=grant_id, amount=format_money(amount), schedule=schedule_lines(schedule),
        accept_by=last_day_of(expires_at) if expires_at else None,
    )


def last_day_of(expires_at: datetime) -> str:
    """An offer lapses at the start of the day after its last one: people are told the last day."""
    return format_date((expires_at - timedelta(microseconds=1)).date())


def grant_offer_reminder(
    app: ApplicationRecord, programme_name: str | None, grant_id: str, amount: Money, expires_at: datetime
) -> Notice:
    return _to_applicant(
        app, programme_name, Template.GRANT_OFFER_REMINDER, page_of_grant(grant_id), grant_id,
        amount=format_money(amount), accept_by=last_day_of(expires_at),
    )


def monitoring_report_due(
    app: ApplicationRecord, programme_name: str | None, grant_id: str, report_id: str, name: str, due_at: datetime,
    overdue: bool,
) -> Notice:
    """Told once before it is due and once when overdue (``about`` tells the two apart)."""
    return _to_applicant(
        app, programme_name, Template.MONITORING_REPORT_DUE, page_of_grant(grant_id),
        f"{report_id}:{'overdue' if overdue else 'due'}", report_name=name, due_on=last_day_of(due_at),
        overdue=overdue,
    )  # fmt: skip


def monitoring_report_reviewed(
    app: ApplicationRecord, programme_name: str | None, grant_id: str, event_id: str, name: str,
    comments: str | None,
) -> Notice:
    """Accepted (no comments), or changes requested: each review is news of its own."""
    template = Template.MONITORING_REPORT_ACCEPTED if comments is None else Template.MONITORING_REPORT_CHANGES_REQUESTED
    return _to_applicant(
        app, programme_name, template, page_of_grant(grant_id), f"{grant_id}:{event_id}",
        report_name=name, comments=comments,
    )  # fmt: skip


def page_of_training(grant_id: str) -> str:
    return f"/grants/{quote(grant_id, safe='')}/training"


def group_training_offered(
    app: ApplicationRecord, programme_name: str | None, grant_id: str, training_id: str, course: str, provider: str,
    places: int,
) -> Notice:
    return _to_applicant(
        app, programme_name, Template.GROUP_TRAINING_OFFERED, page_of_training(grant_id), f"{training_id}:offered",
        course=course, provider=provider, places=places,
    )  # fmt: skip


def group_training_reminder(
    app: ApplicationRecord, programme_name: str | None, grant_id: str, training_id: str, course: str, places: int
) -> Notice:
    """Once: the group has not booked its places."""
    return _to_applicant(
        app, programme_name, Template.GROUP_TRAINING_REMINDER, page_of_training(grant_id), f"{training_id}:reminder",
        course=course, places=places,
    )  # fmt: skip


def grant_varied(
    app: ApplicationRecord, programme_name: str | None, grant_id: str, event_id: str, kind: str, amount: Money,
    previous_amount: Money, ends_on: date | None,
) -> Notice:
    """Each variation is news of its own (``about`` names the event), told once however often it arrives."""
    return _to_applicant(
        app, programme_name, Template.GRANT_VARIED, page_of_grant(grant_id), f"{grant_id}:{event_id}",
        kind=kind, amount=format_money(amount), previous_amount=format_money(previous_amount),
        ends_on=format_date(ends_on) if ends_on else None,
    )


def grant_offer_closed(
    app: ApplicationRecord, programme_name: str | None, grant_id: str, amount: Money, declined: bool
) -> Notice:
    """The offer is gone: declined by the grantee's signatory, or lapsed unanswered."""
    template = Template.GRANT_OFFER_DECLINED if declined else Template.GRANT_OFFER_EXPIRED
    return _to_applicant(app, programme_name, template, page_of_grant(grant_id), grant_id, amount=format_money(amount))


def grant_accepted(app: ApplicationRecord, programme_name: str | None, grant_id: str, amount: Money | None) -> Notice:
    return _to_applicant(
        app, programme_name, Template.GRANT_ACCEPTED, page_of_grant(grant_id), grant_id,
        grant_id=grant_id, amount=format_money(amount) if amount else None,
    )


def payment_sent(
    app: ApplicationRecord, programme_name: str | None, grant_id: str, payment_id: str, amount: Money,
    provider_reference: str, sent_at: datetime,
) -> Notice:
    return _to_applicant(
        app, programme_name, Template.PAYMENT_SENT, page_of_grant(grant_id), payment_id,
        amount=format_money(amount), reference=provider_reference, sent_on=format_date(sent_at),
    )


def tranche_released(
    app: ApplicationRecord, programme_name: str | None, grant_id: str, payment_id: str, sequence: int, amount: Money,
    due_date: date, met: list[str],
) -> Notice:
    """Told once per tranche (``about`` is the payment): what it waited for is met."""
    return _to_applicant(
        app, programme_name, Template.TRANCHE_RELEASED, page_of_grant(grant_id), payment_id,
        sequence=sequence, amount=format_money(amount), due_on=format_date(due_date), met=", ".join(met),
    )  # fmt: skip


def tranche_held_for_report(
    app: ApplicationRecord, programme_name: str | None, grant_id: str, payment_id: str, report_id: str,
    sequence: int, amount: Money, report_name: str,
) -> Notice:
    """Told once per tranche and report."""
    return _to_applicant(
        app, programme_name, Template.TRANCHE_HELD_FOR_REPORT, page_of_grant(grant_id), f"{payment_id}:{report_id}",
        sequence=sequence, amount=format_money(amount), report_name=report_name,
    )  # fmt: skip


def page_of_payment_run(run_id: str) -> str:
    return f"/finance/payment-runs/{quote(run_id, safe='')}"


def payment_run_awaiting_approval(
    officer_id: str, officer_name: str | None, run_id: str, total: Money, payments: int, approvals_needed: int
) -> Notice:
    """Each finance officer is told once per run (``about`` is the run)."""
    context = {
        "name": officer_name, "run_id": run_id, "total": format_money(total), "payments": payments,
        "approvals_needed": approvals_needed,
    }
    return Notice(Template.PAYMENT_RUN_AWAITING_APPROVAL, Recipient(officer_id, RecipientKind.FINANCE_OFFICER), context,
                  None, page_of_payment_run(run_id), about=run_id)  # fmt: skip


def worth_telling_about_payment_failure(attempt: int, will_retry: bool, already_sent: bool = False) -> bool:
    """The first failure (the payment is delayed) and the last (someone must act) are news; the
    retries in between would only repeat "delayed" to someone who already knows. A failure that
    reaches us after the payment was sent (events overtake each other) is no news at all."""
    return not already_sent and (attempt == 1 or not will_retry)


def payment_failed(
    app: ApplicationRecord, programme_name: str | None, grant_id: str, payment_id: str, attempt: int, reason: str,
    will_retry: bool,
) -> Notice:
    return _to_applicant(app, programme_name, Template.PAYMENT_FAILED, page_of_grant(grant_id),
                         f"{payment_id}:attempt-{attempt}", reason=reason.strip().rstrip("."), will_retry=will_retry)


@dataclass(frozen=True)
class Mailbox:
    address: str
    name: str | None = None


def email_destination(
    recipient: Recipient, registered: Mailbox | None, application_contact: Mailbox | None
) -> Mailbox | None:
    """A person's own registered address wins; an applicant without one is written to at the contact
    address given on the application. Reviewers' addresses are never on the bus: registered or none."""
    if registered:
        return registered
    if recipient.kind is RecipientKind.APPLICANT:
        return application_contact
    return None


# --- attempts and retries (email and webhooks alike) ----------------------------------------------


class AttemptFailed(Exception):
    """An attempt that delivered nothing; ``permanent`` when trying again cannot help."""

    def __init__(self, reason: str, *, permanent: bool = False, status_code: int | None = None) -> None:
        super().__init__(reason)
        self.permanent = permanent
        self.status_code = status_code


def describe(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__


def next_attempt(
    attempts_made: int, now: datetime, *, max_attempts: int, base_seconds: float, max_seconds: float,
    permanent: bool = False,
) -> datetime | None:
    """When to try a failed delivery again, or None to give up (it is then `failed`): once the attempts
    run out, or at once when the failure is one that will not change (a refused address)."""
    if permanent or attempts_made >= max_attempts:
        return None
    return now + retry_delay(attempts_made, base_seconds, max_seconds)


def without_address(text: str, address: str) -> str:
    """A failure's reason fit for logs and the delivery audit: SMTP servers name the address they
    refuse (in any case), and the address is personal data."""
    return re.sub(re.escape(address), "<recipient>", text, flags=re.IGNORECASE) if address else text


def refusal_is_permanent(codes: Iterable[int]) -> bool:
    """5xx means the server will never take this recipient; 4xx means try later."""
    codes = list(codes)
    return bool(codes) and all(500 <= code < 600 for code in codes)


# --- webhooks for integrators --------------------------------------------------------------------

#: What integrators may subscribe to: the whole catalogue except what notifications itself publishes
#: (a webhook delivery publishes notification.delivered, which would call for another webhook...).
SUBSCRIBABLE_EVENT_TYPES: frozenset[str] = frozenset(
    event_type for event_type, contract in CONTRACTS.items() if contract.owner != NOTIFICATIONS
)


def webhook_delivery_id(event_id: str, subscription_id: str) -> str:
    """One delivery per (event, subscription), whatever happens to the event on the bus, and whether
    it is retried, resent or replayed. Integrators see it as ``webhook-id`` and deduplicate on it."""
    key = "\x1f".join((event_id, subscription_id))
    return "whd_" + hashlib.sha256(key.encode()).hexdigest()[:40]


def webhook_body(event: Event[Any]) -> bytes:
    """The event as a CloudEvents 1.0 structured-mode JSON document, minus its personal data.

    Rendered once when the event is handled and stored, so every retry sends the very same bytes."""
    document = {
        "specversion": "1.0",
        "id": event.id,
        "type": event.type,
        "source": event.source,
        "time": event.time.isoformat(),
        "subject": event.subject,
        "datacontenttype": "application/json",
        "data": event.data.without_personal_data(),
    }
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()


def webhook_accepted(status_code: int) -> bool:
    """Any 2xx is a delivery; redirects are not followed, so a 3xx is a failure like a 4xx or 5xx."""
    return 200 <= status_code < 300


def secrets_in_use(current: str, previous: str | None, previous_until: datetime | None, now: datetime) -> list[str]:
    """What signs a request at ``now``: the current secret, and a rotated-out one until its overlap ends."""
    if previous and previous_until and now < previous_until:
        return [current, previous]
    return [current]


def attempts_left(attempts_made: int, attempts_before: int, max_attempts: int) -> int:
    """Attempts still to make in this round: a resend, replay or reactivation starts a new round
    (``attempts_before`` is how many earlier rounds made), and the audit keeps numbering on."""
    return max(max_attempts - (attempts_made - attempts_before), 0)


def should_disable(
    failed_deliveries: int, failing_since: datetime | None, now: datetime, *, max_failed_deliveries: int,
    max_failing_seconds: float,
) -> bool:
    """An endpoint is disabled once ``max_failed_deliveries`` deliveries in a row failed for good, or
    once every attempt since ``failing_since`` (the first failure after the last success) failed for
    ``max_failing_seconds``: nobody is there, and retrying only piles up work."""
    if failed_deliveries >= max_failed_deliveries:
        return True
    return failing_since is not None and (now - failing_since).total_seconds() >= max_failing_seconds


# --- involvement payments to panel members -------------------------------------------------------

INVOLVEMENT_PAGE = "/panel/involvement"
CLAIM_KINDS = {"time": "time", "expenses": "expenses"}


def _to_member(
    template: Template, member_id: str, member_name: str | None, claim_id: str, programme_name: str | None,
    kind: str, amount: Money, **extra: Any,
) -> Notice:  # fmt: skip
    context = {"name": member_name, "programme_name": programme_name, "kind": CLAIM_KINDS.get(kind, kind),
               "amount": format_money(amount), "claim_id": claim_id, **extra}  # fmt: skip
    return Notice(template, Recipient(member_id, RecipientKind.REVIEWER), context, None, INVOLVEMENT_PAGE,
                  about=claim_id)  # fmt: skip


def involvement_claim_approved(
    member_id: str, member_name: str | None, claim_id: str, programme_name: str | None, kind: str, amount: Money
) -> Notice:
    return _to_member(Template.INVOLVEMENT_CLAIM_APPROVED, member_id, member_name, claim_id, programme_name, kind, amount)


def involvement_claim_rejected(
    member_id: str, member_name: str | None, claim_id: str, programme_name: str | None, kind: str, amount: Money,
    reason: str,
) -> Notice:  # fmt: skip
    return _to_member(Template.INVOLVEMENT_CLAIM_REJECTED, member_id, member_name, claim_id, programme_name, kind,
                      amount, reason=reason.strip())  # fmt: skip


def involvement_claim_paid(
    member_id: str, member_name: str | None, claim_id: str, programme_name: str | None, amount: Money, method: str,
    paid_at: datetime,
) -> Notice:  # fmt: skip
    return _to_member(Template.INVOLVEMENT_CLAIM_PAID, member_id, member_name, claim_id, programme_name, "time",
                      amount, method=method, paid_on=format_date(paid_at.date()))  # fmt: skip


def involvement_payment_failed(
    member_id: str, member_name: str | None, claim_id: str, programme_name: str | None, amount: Money
) -> Notice:
    return _to_member(Template.INVOLVEMENT_PAYMENT_FAILED, member_id, member_name, claim_id, programme_name, "time",
                      amount)  # fmt: skip
