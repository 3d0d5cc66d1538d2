"""A programme's awards as open data in the 360Giving Data Standard (1.4): pure mapping, no I/O, no clock.

What is published is public by construction: an ``Award`` holds only public facts (who was funded,
how much, when, under which programme), never the application's summary (text about people in
crisis), its contact, the panel's feedback, the reviewers or the score, so none of them can leak into
the package.

360Giving states amounts in major units as JSON numbers; this service keeps integer minor units.
Amounts become a ``Decimal`` with the currency's own places (two for GBP, none for JPY: ISO 4217's
exponent, from ``grants_shared.money``) and are written as a JSON number (``6000.00``) by ``to_json``,
because the json module can only write floats.
"""

import csv
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from importlib.resources import files
from typing import Any

from applications.store import Application, Organisation, Programme
from grants_shared.money import Money, major_units

STANDARD_VERSION = "1.4"

#: The 360Giving currency codelist: a grant in any other currency would not be valid 360Giving.
CURRENCIES = frozenset(
    row["Code"]
    for row in csv.DictReader(
        files("applications").joinpath("codelists/currency.csv").read_text(encoding="utf-8").splitlines()
    )
)


class NotPublishable(ValueError):
    """The awards cannot make a valid 360Giving package; the message says why in a manager's words."""


@dataclass(frozen=True)
class Publisher:
    """The funder publishing the data, from the service's settings."""

    prefix: str  # the funder's 360Giving identifier prefix, e.g. "360G-grants-dev"
    funder_id: str
    funder_name: str
    license: str


@dataclass(frozen=True)
class Recipient:
    id: str  # our organisation id
    name: str
    area: str
    charity_number: str | None = None
    company_number: str | None = None


@dataclass(frozen=True)
class Award:
    """The public facts of one awarded application."""

    application_id: str
    title: str
    programme_id: str
    programme_name: str
    recipient: Recipient
    amount_awarded: Money
    amount_requested: Money
    awarded_at: datetime
    modified_at: datetime


# --- time ------------------------------------------------------------------------------------------


def timestamp(moment: datetime) -> str:
    """A full RFC 3339 date-time in UTC, which every 360Giving date field accepts."""
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


# --- identifiers ------------------------------------------------------------------------------------


def grant_id(prefix: str, application_id: str) -> str:
    return f"{prefix}-{application_id}"


def recipient_id(prefix: str, recipient: Recipient) -> str:
    """An Organisation Identifier (org-id.guide) from a registered number when there is one, so the
    recipient links up with other funders' data; else one under our own prefix."""
    if recipient.charity_number:
        number = registered_number(recipient.charity_number)
        if number.startswith("SC"):  # the Scottish Charity Regulator's numbers
            return f"GB-SC-{number}"
        if number.startswith("NIC"):  # the Charity Commission for Northern Ireland's
            return f"GB-NIC-{number.removeprefix('NIC')}"
        return f"GB-CHC-{number}"
    if recipient.company_number:
        return f"GB-COH-{company_number(recipient.company_number)}"
    return f"{prefix}-org-{recipient.id}"


def registered_number(number: str) -> str:
    """People type "sc 012345" or "1234 567"; registers write "SC012345" and "1234567"."""
    return "".join(number.split()).upper()


def company_number(number: str) -> str:
    """Companies House numbers have eight characters; people often drop the leading zeros."""
    number = registered_number(number)
    return number.zfill(8) if number.isdigit() else number


# --- the mapping ------------------------------------------------------------------------------------


def award_of(programme: Programme, application: Application, organisation: Organisation | None) -> Award:
    """The public facts of an awarded application. The name and area are the organisation's as it
    applied (what the panel funded); registered numbers come from its profile, the only place they are kept."""
    decision = application.decision
    named = application.organisation or (organisation.summary() if organisation else None)
    if decision is None or decision.amount_awarded is None or named is None:
        raise NotPublishable(f"application {application.id} has no award amount or organisation on record to publish")
    recipient = Recipient(
        id=application.organisation_id, name=named.name, area=named.area,
        charity_number=organisation.charity_number if organisation else None,
        company_number=organisation.company_number if organisation else None,
    )  # fmt: skip
    return Award(
        application_id=application.id, title=application.title, programme_id=programme.id,
        programme_name=programme.name, recipient=recipient, amount_awarded=decision.amount_awarded,
        amount_requested=application.amount_requested, awarded_at=decision.decided_at,
        modified_at=application.updated_at,
    )  # fmt: skip


def grant(award: Award, publisher: Publisher) -> dict[str, Any]:
    """One award as a 360Giving grant."""
    awarded, requested = award.amount_awarded, award.amount_requested
    if awarded.currency not in CURRENCIES:
        raise NotPublishable(f"360Giving has no currency {awarded.currency} (application {award.application_id})")
    recipient = award.recipient
    organisation: dict[str, Any] = {"id": recipient_id(publisher.prefix, recipient), "name": recipient.name}
    if recipient.charity_number:
        organisation["charityNumber"] = registered_number(recipient.charity_number)
    if recipient.company_number:
        organisation["companyNumber"] = company_number(recipient.company_number)
    published: dict[str, Any] = {
        "id": grant_id(publisher.prefix, award.application_id),
        "title": award.title,
        "description": description(award),
        "currency": awarded.currency,
        "amountAwarded": major_units(awarded),
    }
    if requested.currency == awarded.currency:  # a grant states one currency for both amounts
        published["amountAppliedFor"] = major_units(requested)
    published |= {
        "awardDate": timestamp(award.awarded_at),
        "recipientOrganization": [organisation],
        "fundingOrganization": [{"id": publisher.funder_id, "name": publisher.funder_name}],
        "grantProgramme": [{"code": award.programme_id, "title": award.programme_name}],
        "fromOpenCall": "Yes",
        "beneficiaryLocation": [{"name": recipient.area}],
        "dateModified": timestamp(award.modified_at),
    }
    return published


def description(award: Award) -> str:
    """Built from public facts only: the applicant's summary is personal data and is never published."""
    return f"{award.programme_name}: a grant to {award.recipient.name} ({award.recipient.area})"


def package(
    programme_id: str, programme_name: str, awards: Sequence[Award], publisher: Publisher, issued: datetime
) -> dict[str, Any]:
    """A 360Giving data package of a programme's awards, oldest award first."""
    if not awards:
        raise NotPublishable(f"{programme_name} has no awarded grants yet, and a 360Giving package needs at least one")
    ordered = sorted(awards, key=lambda a: (a.awarded_at, a.application_id))
    return {
        "version": STANDARD_VERSION,
        "identifier": f"{publisher.prefix}-{programme_id}",
        "title": f"{publisher.funder_name}: grants awarded by {programme_name}",
        "description": f"The grants {publisher.funder_name} awarded through {programme_name}, in 360Giving format.",
        "publisher": {"identifier": publisher.funder_id, "name": publisher.funder_name},
        "license": publisher.license,
        "issued": timestamp(issued),
        "modified": timestamp(max(a.modified_at for a in awards)),
        "grants": [grant(a, publisher) for a in ordered],
    }


# --- writing it -------------------------------------------------------------------------------------


def to_json(value: object) -> str:
    """JSON in which a Decimal is written as the exact number it is (6000.00). Floats are refused, so
    an amount can never pass through binary floating point on its way out."""
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"{value} is not a JSON number")
        return format(value, "f")
    if isinstance(value, float):
        raise TypeError("floats are not written: use Decimal for amounts")
    if isinstance(value, dict):
        if not all(isinstance(key, str) for key in value):
            raise TypeError("JSON object keys must be strings")
        return "{" + ",".join(f"{json.dumps(key)}:{to_json(item)}" for key, item in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(to_json(item) for item in value) + "]"
    if value is None or isinstance(value, (str, int)):  # bool is an int
        return json.dumps(value, ensure_ascii=False)
    raise TypeError(f"cannot write {type(value).__name__} as JSON")
