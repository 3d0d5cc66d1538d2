"""How things read on a page: money, dates and statuses in plain English."""

from datetime import date as Day, datetime, timedelta
from typing import Any

from grants_shared.money import Money, format_money, major_units

STATUS_WORDS = {
    "draft": "Draft",
    "interest_submitted": "Expression of interest sent",
    "interest_declined": "Not invited",
    "ineligible": "Not eligible",
    "withdrawn": "Withdrawn",
    "submitted": "Submitted",
    "under_review": "Being reviewed",
    "scored": "Scored",
    "awaiting_reviewers": "Waiting for reviewers",
    "in_review": "Being reviewed",
    "decided": "Decided",
    "awarded": "Awarded",
    "declined": "Not funded",
    "offered": "Offer made",
    "accepted": "Offer accepted",
    "part_paid": "Partly paid",
    "paid": "Paid",
    "open": "Open",
    "closed": "Closed",
    "assigned": "Not started",
    "completed": "Submitted",
    "cancelled": "Cancelled",
    "held": "On hold",
    "scheduled": "Scheduled",
    "sending": "Sending",
    "retrying": "Retrying",
    "sent": "Sent",
    "failed": "Failed",
    "declared": "Declared",
    "resolved": "Resolved",
    "expired": "Offer lapsed",
    "approved": "Approved",
    "awaiting_approval": "Awaiting approval",
}
TAG_COLOURS = {
    "draft": "grey", "interest_submitted": "blue", "interest_declined": "red", "ineligible": "red", "withdrawn": "grey", "submitted": "blue", "under_review": "blue",
    "awarded": "green", "declined": "red", "offered": "yellow", "accepted": "green", "part_paid": "aqua-green",
    "paid": "green", "open": "green", "closed": "grey", "failed": "red", "held": "orange", "sent": "green",
    "retrying": "yellow", "assigned": "grey", "completed": "green", "cancelled": "grey", "declared": "orange",
    "resolved": "grey", "awaiting_reviewers": "orange", "in_review": "blue", "scored": "purple", "decided": "green",
    "expired": "grey", "approved": "blue", "awaiting_approval": "yellow",
}


def money(value: Any) -> str:
    """A Money (or its JSON form) as people read it: £8,000.00."""
    if value is None:
        return ""
    if isinstance(value, dict):
        value = Money.model_validate(value)
    return format_money(value)


def pounds(value: Any) -> str:
    """An amount as it is typed into a form: 8000.00 (no symbol, no thousands separator)."""
    if not value:
        return ""
    if isinstance(value, dict):
        value = Money.model_validate(value)
    return str(major_units(value))


def _moment(value: Any) -> datetime | Day | None:
    if value is None or value == "":
        return None
    if isinstance(value, (Day, datetime)):
        return value
    text = str(value)
    return datetime.fromisoformat(text) if "T" in text else Day.fromisoformat(text)


def date(value: Any) -> str:
    """Dates written out in full ("4 December 2026") so nobody misreads 04/12 as April."""
    moment = _moment(value)
    return "" if moment is None else f"{moment.day} {moment:%B %Y}"


def when(value: Any) -> str:
    moment = _moment(value)
    if moment is None:
        return ""
    if isinstance(moment, datetime):
        return f"{moment.day} {moment:%B %Y} at {moment:%H:%M}"
    return f"{moment.day} {moment:%B %Y}"


def last_day(value: Any) -> str:
    """The last whole day before a deadline given as the moment it passes (an offer lapses at the start of
    the day after its last one), written out as ``date`` writes it."""
    moment = _moment(value)
    if not isinstance(moment, datetime):
        return date(moment)
    return date((moment - timedelta(microseconds=1)).date())


def status(value: str | None) -> str:
    return STATUS_WORDS.get(value or "", (value or "").replace("_", " ").capitalize())


def tag_colour(value: str | None) -> str:
    return TAG_COLOURS.get(value or "", "grey")


def kind(value: str | None) -> str:
    return (value or "").replace("_", " ")


def event_words(event_type: str) -> str:
    """``grants.application.submitted.v1`` as people read it: "Application submitted"."""
    parts = event_type.split(".")
    if len(parts) > 2 and parts[0] == "grants":
        parts = parts[1:-1]
    text = " ".join(parts).replace("_", " ")
    return text[:1].upper() + text[1:]
