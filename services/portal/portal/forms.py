"""Reading what people type into forms, and turning an API's refusal into the fields it is about.

Amounts are typed in pounds ("8000", "£8,000.50"); the APIs take integer minor units. Errors are a
mapping of field id to message, which the layout shows as the error summary (each linking to its
field) and each field beside itself.
"""

from decimal import Decimal, InvalidOperation
from typing import Any

from grants_shared.money import Money, minor_unit_digits
from portal.clients import ApiError


def money(text: str, currency: str, what: str) -> Money | str:
    """The amount typed, or the message saying what is wrong with it."""
    cleaned = text.strip().replace(",", "").replace(" ", "").lstrip("£€$")
    if not cleaned:
        return f"Enter {what}"
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        return f"Enter {what} as a number, like 8000 or 8000.50"
    if value < 0:
        return f"{what[0].upper()}{what[1:]} cannot be negative"
    try:
        return Money.from_major(value, currency)
    except ValueError:
        places = minor_unit_digits(currency)
        return f"Enter {what} with at most {places} decimal places" if places else f"Enter {what} in whole units"


def whole_number(text: str, what: str, low: int, high: int) -> int | str:
    cleaned = text.strip()
    if not cleaned.isdigit():
        return f"Enter {what} as a whole number"
    number = int(cleaned)
    if not low <= number <= high:
        return f"{what[0].upper()}{what[1:]} must be between {low} and {high}"
    return number


def field_errors(error: ApiError, fields: dict[str, str], fallback: str) -> dict[str, str]:
    """An API's 422 as errors on the form's fields: each problem whose location names a body field
    we show goes beside that field; anything else goes on ``fallback`` with the API's own words."""
    errors: dict[str, str] = {}
    for problem in error.field_errors:
        location = [str(part) for part in problem.get("location", []) if part != "body"]
        target = next((fields[part] for part in location if part in fields), None)
        message = sentence(str(problem.get("message", "")))
        if target and target not in errors:
            errors[target] = message
    if not errors:
        errors[fallback] = sentence(error.detail)
    return errors


def sentence(text: str) -> str:
    """An API's refusal as a sentence beside a field (pydantic's "Value error, " prefix dropped)."""
    text = text.removeprefix("Value error, ").strip()
    return text[:1].upper() + text[1:] if text else "Check this answer"


def form_values(form: Any, *names: str) -> dict[str, str]:
    return {name: str(form.get(name, "") or "") for name in names}
