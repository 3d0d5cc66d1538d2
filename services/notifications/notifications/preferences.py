"""People's choices about what they are told (pure rules, no I/O): for each kind of message, whether
it is emailed and whether it shows in the portal's inbox, and, for reviewers and programme managers,
one email a day with everything instead of an email each time.

Some messages must always go (a payment failed, an offer made, a decision): they say so, and no
choice turns them off. Only the kinds listed in ``OPTIONAL`` can be turned off, so a kind of message
added later goes to everyone until someone decides otherwise.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum

from grants_shared.auth import Role
from notifications.domain import Notice, Recipient, RecipientKind, Template, format_date


class Delivery(StrEnum):
    """What happens to the email copy of one message."""

    NOW = "now"
    #: Gathered into the person's next daily digest.
    DIGEST = "digest"
    OFF = "off"


#: The kinds of message a person may turn off (email, inbox or both), in the words a person reads.
OPTIONAL: dict[str, str] = {
    Template.APPLICATION_RECEIVED: "Confirmation that an application was received",
    Template.APPLICATION_WITHDRAWN: "Confirmation that an application was withdrawn",
    Template.REVIEW_ASSIGNED: "An application given to you to review",
    Template.GRANT_ACCEPTED: "Confirmation that a grant offer was accepted",
    Template.PAYMENT_SENT: "A payment sent",
}
#: Why the others cannot be turned off, as people read it.
ALWAYS_SENT = "Always sent: it tells you of a decision, an offer or a problem you may need to act on"
#: Who may choose one email a day.
DIGEST_ROLES: frozenset[Role] = frozenset({Role.REVIEWER, Role.PROGRAMME_MANAGER})
#: The kind of the daily digest email itself (unsubscribing from it turns the digest off).
DIGEST_KIND = "daily_digest"


@dataclass(frozen=True)
class Choices:
    """One person's choices; the defaults (everything on, no digest) for someone who made none."""

    email_off: frozenset[str] = frozenset()
    inbox_off: frozenset[str] = frozenset()
    digest: bool = False


def can_turn_off(kind: str) -> bool:
    return kind in OPTIONAL


def refused_kinds(kinds: Iterable[str]) -> list[str]:
    """The kinds among ``kinds`` that cannot be turned off (required or unknown), sorted."""
    return sorted(kind for kind in set(kinds) if not can_turn_off(kind))


def email_delivery(choices: Choices, kind: str) -> Delivery:
    if not can_turn_off(kind):
        return Delivery.NOW
    if kind in choices.email_off:
        return Delivery.OFF
    return Delivery.DIGEST if choices.digest else Delivery.NOW


def shows_in_inbox(choices: Choices, kind: str) -> bool:
    return not can_turn_off(kind) or kind not in choices.inbox_off


def may_choose_digest(roles: Iterable[Role]) -> bool:
    return bool(DIGEST_ROLES.intersection(roles))


def unsubscribed(choices: Choices, kind: str) -> Choices:
    """The choices after a one-click unsubscribe from an email of ``kind``: that kind's email off; for
    the digest, the digest and every email it gathered."""
    if kind == DIGEST_KIND:
        return Choices(email_off=frozenset(OPTIONAL), inbox_off=choices.inbox_off, digest=False)
    if not can_turn_off(kind):
        return choices
    return Choices(email_off=choices.email_off | {kind}, inbox_off=choices.inbox_off, digest=choices.digest)


def digest_due(now: datetime, hour: int) -> tuple[date, datetime]:
    """The latest digest that is due at ``now`` (UTC): its day, and its cutoff (that day at ``hour``).
    A digest gathers what waited from before its cutoff; one per person per day."""
    cutoff = datetime.combine(now.date(), time(hour), tzinfo=now.tzinfo)
    if now < cutoff:
        cutoff -= timedelta(days=1)
    return cutoff.date(), cutoff


@dataclass(frozen=True)
class DigestLine:
    subject: str
    page: str
    at: datetime


def digest_notice(
    person_id: str, kind: RecipientKind, name: str | None, day: date, lines: Iterable[DigestLine]
) -> Notice:
    """One person's daily digest: every message that waited for it, oldest first, each linking to its page."""
    items = [{"subject": line.subject, "page": line.page, "when": f"{line.at:%H:%M}"}
             for line in sorted(lines, key=lambda line: line.at)]  # fmt: skip
    if not items:
        raise ValueError("a digest gathers at least one message")
    return Notice(Template.DAILY_DIGEST, Recipient(person_id, kind), {"name": name, "day": format_date(day), "items": items},
                  page="/inbox", about=f"digest:{day.isoformat()}")  # fmt: skip
