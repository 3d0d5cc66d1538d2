"""Money is integer minor units (pence for GBP, yen for JPY) with an ISO 4217 currency code. Never floats.

How many minor units make a major one, and how an amount reads, come from the Unicode CLDR data that
babel ships, not from a table of our own: every service, message and export agrees on them (a
¥150,000 award is 150000 minor units, published as 150000, and reads "JP¥150,000").
"""

from decimal import Decimal
from typing import Annotated

from babel.numbers import format_currency, get_currency_precision
from pydantic import BaseModel, ConfigDict, Field, StrictInt

CurrencyCode = Annotated[str, Field(pattern=r"^[A-Z]{3}$", description="ISO 4217 code, e.g. GBP")]
# A ceiling keeps amounts far below the 64-bit range MongoDB stores exactly (one hundred billion pounds).
MinorUnits = Annotated[StrictInt, Field(ge=0, le=10_000_000_000_000, description="Integer minor units, e.g. pence")]

#: The locale amounts are written in for people (a UK programme): "£1,250.00".
LOCALE = "en_GB"


class Money(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    amount: MinorUnits
    currency: CurrencyCode

    def __add__(self, other: "Money") -> "Money":
        self._same_currency(other)
        return Money(amount=self.amount + other.amount, currency=self.currency)

    def __sub__(self, other: "Money") -> "Money":
        self._same_currency(other)
        return Money(amount=self.amount - other.amount, currency=self.currency)

    def _same_currency(self, other: "Money") -> None:
        if other.currency != self.currency:
            raise ValueError(f"cannot combine {self.currency} with {other.currency}")

    @classmethod
    def from_major(cls, major: Decimal | str, currency: str) -> "Money":
        """``Decimal("1250.50")`` GBP -> 125050 pence. Refuses more decimal places than the currency has,
        so nothing is ever rounded away."""
        value = Decimal(major)
        minor = value.scaleb(minor_unit_digits(currency))
        if not value.is_finite() or minor != minor.to_integral_value():
            raise ValueError(f"{major} {currency} has more decimal places than {currency} has")
        return cls(amount=int(minor), currency=currency)


def minor_unit_digits(currency: str) -> int:
    """2 for GBP (100 pence to the pound), 0 for JPY, 3 for KWD: ISO 4217's exponent, from CLDR."""
    return get_currency_precision(currency)


def major_units(money: Money) -> Decimal:
    """125001 pence -> Decimal("1250.01"); 150000 yen -> Decimal("150000"). Exact, with the currency's places."""
    digits = minor_unit_digits(money.currency)
    return Decimal(money.amount).scaleb(-digits).quantize(Decimal(1).scaleb(-digits))


def format_money(money: Money, locale: str = LOCALE) -> str:
    """How an amount reads to a person: "£5,000.00", "€12.50", "JP¥150,000"."""
    return format_currency(major_units(money), money.currency, locale=locale)
