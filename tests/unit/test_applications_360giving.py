"""Publishing awards as 360Giving open data: the pure mapping, checked against the standard's own schema."""

import json
import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from jsonschema import Draft202012Validator, FormatChecker
from pydantic import ValidationError
from referencing import Registry
from referencing.jsonschema import DRAFT202012

from applications.config import Settings
from applications.three_sixty_giving import (
    CURRENCIES,
    Award,
    NotPublishable,
    Publisher,
    Recipient,
    grant,
    grant_id,
    package,
    recipient_id,
    timestamp,
    to_json,
)
from grants_shared.money import Money, major_units

SCHEMAS = Path(__file__).parent / "360giving"

# --- the standard's schema, as a validator ----------------------------------------------------------

_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")


def _formats() -> FormatChecker:
    """The schema's ``oneOf`` between a date-time and a plain date only means something if formats are
    checked; jsonschema's own date-time and uri checks need packages this project does not install."""
    checker = FormatChecker(formats=())

    @checker.checks("date-time", raises=ValueError)
    def date_time(value: object) -> bool:
        if not isinstance(value, str):
            return True
        datetime.fromisoformat(value.upper().replace("Z", "+00:00"))
        return bool(_RFC3339.match(value))

    @checker.checks("uri")
    def uri(value: object) -> bool:
        if not isinstance(value, str):
            return True
        parts = urlsplit(value)
        return bool(parts.scheme and parts.netloc) and not any(c.isspace() for c in value)

    return checker


def package_validator() -> Draft202012Validator:
    """The package schema, resolving the grant schema from a registry of both, keyed by their ``$id``s.

    The schemas declare "http://json-schema.org/draft/2020-12/schema" (not the dialect's https id), so
    each resource is created as 2020-12 explicitly. Upstream, the 1.4.3 package schema refers to the
    grant schema by its 1.4.2 address while the grant schema's ``$id`` is 1.4.3: the grant schema is
    also registered under the address the package schema names, read from the schema itself.
    """
    package_schema = json.loads((SCHEMAS / "360-giving-package-schema.json").read_text(encoding="utf-8"))
    grant_schema = json.loads((SCHEMAS / "360-giving-schema.json").read_text(encoding="utf-8"))
    for schema in (package_schema, grant_schema):
        Draft202012Validator.check_schema(schema)
    grant_resource = DRAFT202012.create_resource(grant_schema)
    registry = Registry().with_resources([
        (package_schema["$id"], DRAFT202012.create_resource(package_schema)),
        (grant_schema["$id"], grant_resource),
        (package_schema["properties"]["grants"]["items"]["$ref"], grant_resource),
    ])  # fmt: skip
    return Draft202012Validator(package_schema, registry=registry, format_checker=_formats())


def schema_errors(document: Any) -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in package_validator().iter_errors(document)]


# --- examples -----------------------------------------------------------------------------------------

PUBLISHER = Publisher(
    prefix="360G-nhs-spp", funder_id="GB-GOR-PB1234", funder_name="NHS suicide prevention fund",
    license="https://creativecommons.org/licenses/by/4.0/",
)  # fmt: skip
DECIDED = datetime(2027, 5, 4, 16, 30, 12, 345_678, tzinfo=UTC)


def gbp(pence: int) -> Money:
    return Money(amount=pence, currency="GBP")


def award(**changes: Any) -> Award:
    example = Award(
        application_id="app-1", title="Peer support walks", programme_id="prg-1",
        programme_name="Suicide prevention: community support 2027",
        recipient=Recipient(id="org-shed", name="Brent Men's Shed", area="Brent"),
        amount_awarded=gbp(600_000), amount_requested=gbp(650_050), awarded_at=DECIDED,
        modified_at=DECIDED + timedelta(days=3),
    )  # fmt: skip
    return replace(example, **changes)


def published(*awards: Award) -> dict[str, Any]:
    return package("prg-1", "Suicide prevention: community support 2027", awards, PUBLISHER, issued=DECIDED)


# --- the schema itself is applied ---------------------------------------------------------------------


def test_the_package_schema_applies_the_grant_schema_to_each_grant() -> None:
    good = published(award())
    assert schema_errors(good) == []
    without_amount = {**good, "grants": [{k: v for k, v in good["grants"][0].items() if k != "amountAwarded"}]}
    assert schema_errors(without_amount), "a grant without amountAwarded must be refused"
    assert schema_errors({**good, "grants": [{**good["grants"][0], "currency": "ZZZ"}]})
    assert schema_errors({**good, "grants": []}), "a package needs at least one grant"


def test_dates_must_be_full_date_times_or_plain_dates() -> None:
    good = published(award())
    assert schema_errors({**good, "grants": [{**good["grants"][0], "awardDate": "2027-05-04"}]}) == []
    assert schema_errors({**good, "grants": [{**good["grants"][0], "awardDate": "04/05/2027"}]})
    assert schema_errors({**good, "grants": [{**good["grants"][0], "dateModified": "2027-05-04"}]})


# --- money ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pence", "pounds"),
    [
        (1, "0.01"),
        (10, "0.10"),
        (99, "0.99"),
        (100, "1.00"),
        (125_001, "1250.01"),
        (600_000, "6000.00"),
        (123_456_789_012, "1234567890.12"),
        (10_000_000_000_000, "100000000000.00"),  # the largest amount Money holds
        (9_999_999_999_999, "99999999999.99"),
        (0, "0.00"),
    ],
)
def test_pence_become_exact_pounds_with_two_places(pence: int, pounds: str) -> None:
    converted = major_units(gbp(pence))
    assert isinstance(converted, Decimal)
    assert converted == Decimal(pounds) and str(converted) == pounds
    assert converted.as_tuple().exponent == -2
    assert to_json(converted) == pounds


def test_a_yen_award_is_published_in_whole_yen_not_a_hundredth_of_it() -> None:
    # JPY has no minor unit: 150000 minor units are 150000 yen (ISO 4217's exponent 0, from CLDR).
    yen = Money(amount=150_000, currency="JPY")
    text = to_json(published(award(amount_awarded=yen, amount_requested=yen)))
    assert '"amountAwarded":150000,' in text and '"amountAppliedFor":150000,' in text
    assert schema_errors(json.loads(text)) == []


def test_amounts_are_written_as_json_numbers_with_two_places() -> None:
    text = to_json(published(award(amount_awarded=gbp(1), amount_requested=gbp(10_000_000_000_000))))
    assert '"amountAwarded":0.01' in text
    assert '"amountAppliedFor":100000000000.00' in text
    grants = json.loads(text, parse_float=Decimal)["grants"]
    assert grants[0]["amountAwarded"] == Decimal("0.01")
    assert grants[0]["amountAppliedFor"] == Decimal("100000000000.00")
    assert schema_errors(json.loads(text)) == []


def test_the_json_writer_writes_plain_json_and_refuses_floats() -> None:
    value = {"a": [1, True, None, 'Café "quoted"\n'], "b": {"c": Decimal("12.50")}}
    text = to_json(value)
    assert json.loads(text, parse_float=Decimal) == value
    assert text == '{"a":[1,true,null,"Café \\"quoted\\"\\n"],"b":{"c":12.50}}'
    with pytest.raises(TypeError):
        to_json({"amount": 0.1})
    with pytest.raises(ValueError):
        to_json(Decimal("NaN"))
    with pytest.raises(TypeError):
        to_json({1: "key not a string"})


# --- identifiers ---------------------------------------------------------------------------------------


def recipient(charity: str | None = None, company: str | None = None) -> Recipient:
    return Recipient(id="org-42", name="Harrow Listening Circle", area="Harrow", charity_number=charity,
                     company_number=company)  # fmt: skip


def test_the_grant_id_is_the_prefix_and_the_application_id() -> None:
    assert grant_id("360G-nhs-spp", "app-9f2c") == "360G-nhs-spp-app-9f2c"
    assert grant(award(application_id="app-9f2c"), PUBLISHER)["id"] == "360G-nhs-spp-app-9f2c"


@pytest.mark.parametrize(
    ("charity", "company", "expected"),
    [
        ("1234567", None, "GB-CHC-1234567"),
        (" 1234 567 ", None, "GB-CHC-1234567"),
        ("sc012345", None, "GB-SC-SC012345"),
        ("NIC100002", None, "GB-NIC-100002"),
        (None, "01234567", "GB-COH-01234567"),
        (None, "1234567", "GB-COH-01234567"),
        (None, "sc123456", "GB-COH-SC123456"),
        ("1234567", "07654321", "GB-CHC-1234567"),  # a charitable company: its charity number first
        (None, None, "360G-nhs-spp-org-org-42"),
        ("", "", "360G-nhs-spp-org-org-42"),
    ],
)
def test_the_recipient_id_comes_from_a_registered_number_when_there_is_one(
    charity: str | None, company: str | None, expected: str
) -> None:
    assert recipient_id("360G-nhs-spp", recipient(charity, company)) == expected


def test_registered_numbers_are_published_with_the_recipient() -> None:
    both = grant(award(recipient=recipient("1234567", "7654321")), PUBLISHER)["recipientOrganization"]
    assert both == [{"id": "GB-CHC-1234567", "name": "Harrow Listening Circle", "charityNumber": "1234567",
                     "companyNumber": "07654321"}]  # fmt: skip
    neither = grant(award(recipient=recipient()), PUBLISHER)["recipientOrganization"]
    assert neither == [{"id": "360G-nhs-spp-org-org-42", "name": "Harrow Listening Circle"}]


# --- the grant ------------------------------------------------------------------------------------------


def test_an_award_becomes_a_360giving_grant() -> None:
    assert grant(award(), PUBLISHER) == {
        "id": "360G-nhs-spp-app-1",
        "title": "Peer support walks",
        "description": "Suicide prevention: community support 2027: a grant to Brent Men's Shed (Brent)",
        "currency": "GBP",
        "amountAwarded": Decimal("6000.00"),
        "amountAppliedFor": Decimal("6500.50"),
        "awardDate": "2027-05-04T16:30:12Z",
        "recipientOrganization": [{"id": "360G-nhs-spp-org-org-shed", "name": "Brent Men's Shed"}],
        "fundingOrganization": [{"id": "GB-GOR-PB1234", "name": "NHS suicide prevention fund"}],
        "grantProgramme": [{"code": "prg-1", "title": "Suicide prevention: community support 2027"}],
        "fromOpenCall": "Yes",
        "beneficiaryLocation": [{"name": "Brent"}],
        "dateModified": "2027-05-07T16:30:12Z",
    }


def test_an_amount_applied_for_in_another_currency_is_left_out() -> None:
    published_grant = grant(award(amount_requested=Money(amount=700_000, currency="EUR")), PUBLISHER)
    assert "amountAppliedFor" not in published_grant
    assert published_grant["amountAwarded"] == Decimal("6000.00") and published_grant["currency"] == "GBP"


def test_a_currency_360giving_does_not_list_cannot_be_published() -> None:
    assert {"GBP", "EUR", "USD"} <= CURRENCIES and "ZZZ" not in CURRENCIES
    with pytest.raises(NotPublishable, match="ZZZ"):
        grant(award(amount_awarded=Money(amount=100, currency="ZZZ")), PUBLISHER)


def test_dates_are_utc_date_times_whatever_zone_they_were_recorded_in() -> None:
    in_summer_time = datetime(2027, 5, 4, 17, 30, 12, tzinfo=timezone(timedelta(hours=1)))
    assert timestamp(in_summer_time) == "2027-05-04T16:30:12Z"
    assert grant(award(awarded_at=in_summer_time), PUBLISHER)["awardDate"] == "2027-05-04T16:30:12Z"


# --- the package ----------------------------------------------------------------------------------------


def test_a_package_holds_every_award_oldest_first_and_is_valid_360giving() -> None:
    later = award(
        application_id="app-2", awarded_at=DECIDED + timedelta(days=1), modified_at=DECIDED + timedelta(days=9),
        recipient=recipient("1234567"), amount_awarded=gbp(1), amount_requested=gbp(1),
    )  # fmt: skip
    result = published(later, award())
    assert [g["id"] for g in result["grants"]] == ["360G-nhs-spp-app-1", "360G-nhs-spp-app-2"]
    assert {k: v for k, v in result.items() if k != "grants"} == {
        "version": "1.4",
        "identifier": "360G-nhs-spp-prg-1",
        "title": "NHS suicide prevention fund: grants awarded by Suicide prevention: community support 2027",
        "description": "The grants NHS suicide prevention fund awarded through Suicide prevention: community "
        "support 2027, in 360Giving format.",
        "publisher": {"identifier": "GB-GOR-PB1234", "name": "NHS suicide prevention fund"},
        "license": "https://creativecommons.org/licenses/by/4.0/",
        "issued": "2027-05-04T16:30:12Z",
        "modified": "2027-05-13T16:30:12Z",
    }
    assert schema_errors(result) == []
    assert schema_errors(json.loads(to_json(result))) == []


def test_a_programme_with_no_awards_has_nothing_to_publish() -> None:
    with pytest.raises(NotPublishable, match="no awarded grants"):
        published()


def test_an_award_carries_no_field_for_personal_data() -> None:
    """The summary, contact, feedback, panel and score cannot reach the package: an Award has no room for them."""
    fields = set(Award.__dataclass_fields__) | set(Recipient.__dataclass_fields__)
    assert not fields & {"summary", "contact", "email", "feedback", "panel", "decided_by", "score", "reviewers"}


# --- settings -------------------------------------------------------------------------------------------


def test_the_development_publisher_settings_and_their_checks() -> None:
    fields = Settings.model_fields
    assert fields["three_sixty_giving_prefix"].default == "360G-grants-dev"
    assert fields["funder_id"].default == "360G-grants-dev-funder"
    assert fields["funder_name"].default == "Grants platform (development)"
    with pytest.raises(ValidationError):
        Settings(three_sixty_giving_prefix="grants-dev")  # 360Giving prefixes start with 360G-
    with pytest.raises(ValidationError):
        Settings(funder_id="has spaces")
    with pytest.raises(ValidationError):
        Settings(three_sixty_giving_license="not a url")
