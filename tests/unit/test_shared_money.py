"""Money reads and converts with the currency's own minor units, from CLDR (babel), never a table of ours."""

from decimal import Decimal

import pytest

from grants_shared.money import Money, format_money, major_units, minor_unit_digits


@pytest.mark.parametrize(("currency", "digits"), [("GBP", 2), ("EUR", 2), ("JPY", 0), ("KWD", 3)])
def test_minor_units_come_from_the_currency(currency: str, digits: int) -> None:
    assert minor_unit_digits(currency) == digits


@pytest.mark.parametrize(
    ("amount", "currency", "major", "reads"),
    [
        (125_001, "GBP", "1250.01", "£1,250.01"),
        (150_000, "JPY", "150000", "JP¥150,000"),
        (1_250, "EUR", "12.50", "€12.50"),
        (5, "KWD", "0.005", "KWD0.005"),
        (0, "GBP", "0.00", "£0.00"),
    ],
)
def test_amounts_convert_exactly_and_read_as_people_expect(amount: int, currency: str, major: str, reads: str) -> None:
    money = Money(amount=amount, currency=currency)
    assert str(major_units(money)) == major
    assert format_money(money) == reads


def test_major_units_back_to_minor_units_never_round() -> None:
    assert Money.from_major("1250.5", "GBP") == Money(amount=125_050, currency="GBP")
    assert Money.from_major(Decimal("150000"), "JPY") == Money(amount=150_000, currency="JPY")
    for text, currency in (("1.001", "GBP"), ("1.5", "JPY"), ("NaN", "GBP")):
        with pytest.raises(ValueError):
            Money.from_major(text, currency)
