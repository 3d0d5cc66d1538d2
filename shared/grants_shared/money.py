"""Money is integer minor units (pence for GBP) with an ISO 4217 currency code. Never floats."""

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StrictInt

CurrencyCode = Annotated[str, Field(pattern=r"^[A-Z]{3}$", description="ISO 4217 code, e.g. GBP")]
# A ceiling keeps amounts far below the 64-bit range MongoDB stores exactly (one hundred billion pounds).
MinorUnits = Annotated[StrictInt, Field(ge=0, le=10_000_000_000_000, description="Integer minor units, e.g. pence")]


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
