"""How the portal reads the programme team's form for an application started on a group's behalf: the
group's consent is required (who, how, when: not in the future), the group's profile only when it
has none, and the service's refusals land beside the field they are about."""

from datetime import UTC, datetime, timedelta

from portal.clients import ApiError
from portal.pages.assisted import FIELDS, _api_errors, _draft

PROGRAMME = {"id": "prog-1", "budget": {"amount": 1_000_000, "currency": "GBP"}}


def _values(**given: str) -> dict[str, str]:
    today = datetime.now(UTC).date()
    values = dict.fromkeys(FIELDS, "") | {
        "title": "Listening circle", "contact_name": "Kwame Mensah", "contact_email": "kwame@example.org",
        "consent_given_by": "Kwame Mensah", "consent_method": "phone",
        "consent-day": str(today.day), "consent-month": str(today.month), "consent-year": str(today.year),
    }  # fmt: skip
    return values | given


def test_the_draft_carries_the_groups_consent_and_starts_at_no_amount() -> None:
    body, errors = _draft(PROGRAMME, "org-circle", _values(), with_profile=False)
    assert errors == {}
    assert body["consent"]["given_by"] == "Kwame Mensah" and body["consent"]["method"] == "phone"
    given_at = datetime.fromisoformat(body["consent"]["given_at"])
    assert given_at.tzinfo is not None and given_at <= datetime.now(UTC)
    assert body["amount_requested"] == {"amount": 0, "currency": "GBP"}
    assert body["contact"] == {"name": "Kwame Mensah", "email": "kwame@example.org"}
    assert "organisation" not in body


def test_without_consent_nothing_is_sent_and_each_missing_part_is_named() -> None:
    body, errors = _draft(PROGRAMME, "org-circle", _values(**{
        "consent_given_by": " ", "consent_method": "", "consent-day": "", "consent-month": "", "consent-year": ""}),
        with_profile=False)  # fmt: skip
    assert body == {}
    assert set(errors) == {"consent_given_by", "consent_method", "consent-day"}
    assert errors["consent-day"] == "Enter the date the group gave its consent"


def test_consent_cannot_be_given_tomorrow_or_on_a_day_that_does_not_exist() -> None:
    tomorrow = datetime.now(UTC).date() + timedelta(days=1)
    _, errors = _draft(PROGRAMME, "org-circle", _values(**{
        "consent-day": str(tomorrow.day), "consent-month": str(tomorrow.month), "consent-year": str(tomorrow.year)}),
        with_profile=False)  # fmt: skip
    assert errors == {"consent-day": "The date consent was given must be today or in the past"}
    _, errors = _draft(PROGRAMME, "org-circle", _values(**{"consent-day": "31", "consent-month": "2"}), with_profile=False)
    assert "real date" in errors["consent-day"]
    _, errors = _draft(PROGRAMME, "org-circle", _values(consent_method="carrier_pigeon"), with_profile=False)
    assert errors == {"consent_method": "Select how the group gave its consent"}


def test_a_group_with_no_profile_is_described_with_the_draft() -> None:
    _, errors = _draft(PROGRAMME, "org-new", _values(), with_profile=True)
    assert set(errors) == {"name", "kind", "area", "annual_income"}
    body, errors = _draft(PROGRAMME, "org-new", _values(name="Harrow Listening Circle", kind="community_group",
                                                        area="Harrow", annual_income="12,000"), with_profile=True)  # fmt: skip
    assert errors == {}
    assert body["organisation"] == {"name": "Harrow Listening Circle", "kind": "community_group", "area": "Harrow",
                                    "annual_income": {"amount": 1_200_000, "currency": "GBP"},
                                    "charity_number": None, "company_number": None}  # fmt: skip


def test_the_services_refusals_go_beside_their_fields() -> None:
    refused = ApiError(422, {"detail": "invalid", "errors": [
        {"location": ["body", "organisation", "name"], "message": "String should have at least 1 character"},
        {"location": ["body", "contact", "email"], "message": "value is not a valid email address"},
        {"location": ["body", "consent"], "message": "Value error, consent cannot have been given in the future"},
    ]})  # fmt: skip
    assert _api_errors(refused) == {
        "name": "String should have at least 1 character",
        "contact_email": "Value is not a valid email address",
        "consent-day": "Consent cannot have been given in the future",
    }
    closed = ApiError(409, {"detail": "this programme is closed to new applications"})
    assert _api_errors(closed) == {"title": "This programme is closed to new applications"}
