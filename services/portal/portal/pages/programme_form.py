"""The programme form, read: what a manager typed into it as the terms the applications API takes,
and the API's refusals beside the fields they are about (for the pages in ``manage``).

The form only reads what was typed (amounts, dates, whole numbers, ids). Whether the terms hang
together (the maximum award within the budget, the closing date after the opening date, a panel big
enough for the reviews each application needs) is the API's rule: its 422 is shown beside the
fields it is about, in its own words.
"""

import re
import unicodedata
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any

from grants_shared.events import ID_MAX_LENGTH, ID_PATTERN
from portal import forms
from portal.clients import ApiError
from portal.pages.organisation import KINDS
from portal.words import pounds

#: Rows of criteria on a new programme's form; a programme with more (up to the API's 20) gets a row each.
CRITERIA_ROWS, MOST_CRITERIA = 6, 20
#: A programme opens at the start of its opening day and closes at the end of its closing day (UTC).
OPENS_AT, CLOSES_AT = time(0, 0), time(23, 59)
PARTS = ("day", "month", "year")
STALE = "Someone changed this programme while you were editing it: check the answers and save again"
FIELDS = (
    "name", "description", "budget", "maximum_award", "areas", "max_income", "reviewers_per_application", "panel",
    "payment", "first_share", "second_days", "rows", "stages", "interest_scored",
    *(f"{d}-{p}" for d in ("opens", "closes", "interest_opens", "interest_closes") for p in PARTS),
)  # fmt: skip


def fields(rows: int) -> tuple[str, ...]:
    return FIELDS + tuple(
        f"criterion-{i}-{part}" for i in range(1, rows + 1) for part in ("title", "weight", "guidance")
    )


#: One line of a criterion's scoring guidance as a manager types it: "3: Some evidence of need".
GUIDANCE_LINE = re.compile(r"^\s*([0-5])\s*[:.\-–]\s*(\S.*)$")


def guidance_of(text: str, what: str) -> list[dict[str, Any]] | str:
    """What each score means, from lines like "0: No need described"; the words of an error otherwise."""
    meanings: dict[int, str] = {}
    for line in text.replace("\r\n", "\n").split("\n"):
        if not line.strip():
            continue
        found = GUIDANCE_LINE.match(line)
        if not found:
            return (f"Start each line of the guidance for {what} with a score from 0 to 5 and a colon, "
                    "like 3: Some evidence")
        score, meaning = int(found.group(1)), found.group(2).strip()
        if score in meanings:
            return f"The guidance for {what} says what {score} means more than once"
        if len(meaning) > 500:
            return f"Each meaning in the guidance for {what} must be 500 characters or fewer"
        meanings[score] = meaning
    return [{"score": score, "meaning": meanings[score]} for score in sorted(meanings)]


def guidance_text(guidance: list[dict[str, Any]]) -> str:
    return "\n".join(f"{g['score']}: {g['meaning']}" for g in guidance)


#: The API's field names, as the fields of the form.
API_FIELDS = {
    "name": "name", "description": "description", "budget": "budget", "maximum_award": "maximum_award",
    "opens_at": "opens-day", "closes_at": "closes-day", "areas_served": "areas", "organisation_kinds": "kinds",
    "max_annual_income": "max_income", "reviewers_per_application": "reviewers_per_application", "panel": "panel",
    "payment_policy": "payment", "expression_of_interest": "interest_opens-day",
}  # fmt: skip
#: A rule the API checks across fields names no field: the words it uses say which one it is about.
RULE_WORDS = (
    ("expression of interest", "interest_closes-day"), ("maximum award", "maximum_award"),
    ("closes_at", "closes-day"), ("opens_at", "opens-day"),
    ("income", "max_income"), ("organisation kind", "kinds"), ("criteri", "criterion-1-title"),
    ("panel", "panel"), ("reviewer", "panel"), ("tranche", "payment"), ("budget", "budget"),
)  # fmt: skip


def rows_of(values: dict[str, str]) -> int:
    typed = values.get("rows", "")
    return min(max(int(typed), CRITERIA_ROWS), MOST_CRITERIA) if typed.isdigit() else CRITERIA_ROWS


def programme_terms(
    values: dict[str, str], kinds: list[str], currency: str, editing: bool = False
) -> tuple[dict[str, Any], dict[str, str]]:
    """The programme's terms as the API takes them, and what cannot be read from the form. An edit
    may keep the payment schedule it has (then the body leaves it out)."""
    errors: dict[str, str] = {}

    def check(field: str, result: Any) -> Any:
        if isinstance(result, str):
            errors.setdefault(field, result)
            return None
        return result

    name = values["name"].strip()
    if not name:
        errors["name"] = "Enter the programme's name"
    budget = check("budget", forms.money(values["budget"], currency, "the budget"))
    maximum = check("maximum_award", forms.money(values["maximum_award"], currency, "the most one group can get"))
    opens = check("opens-day", _day(values, "opens", "opening date"))
    closes = check("closes-day", _day(values, "closes", "closing date"))
    areas = [line.strip() for line in values["areas"].splitlines() if line.strip()]
    if any(len(area) > 100 for area in areas):
        errors["areas"] = "Each area must be 100 characters or fewer"
    if any(kind not in KINDS for kind in kinds):
        errors["kinds"] = "Select the kinds of organisation from the list"
    income = None
    if values["max_income"].strip():
        income = check("max_income", forms.money(values["max_income"], currency, "the highest yearly income"))
    criteria = _criteria(values, errors)
    reviewers = check("reviewers_per_application", forms.whole_number(
        values["reviewers_per_application"], "the number of reviewers for each application", 1, 10))
    panel = [line.strip() for line in values["panel"].splitlines() if line.strip()]
    if not panel:
        errors["panel"] = "Enter the sign-in id of at least one panel member"
    elif bad := [member for member in panel if len(member) > ID_MAX_LENGTH or not re.match(ID_PATTERN, member)]:
        errors["panel"] = (f"'{bad[0][:40]}' is not a sign-in id: ids use letters, digits and . _ : @ | + - "
                           "with no spaces")  # fmt: skip
    policy = None if editing and values["payment"] == "keep" else _payment_policy(values, errors)
    interest = None  # one stage
    if values["stages"] == "two":
        interest_opens = check("interest_opens-day",
                               _day(values, "interest_opens", "date the expression of interest opens"))
        interest_closes = check("interest_closes-day",
                                _day(values, "interest_closes", "date the expression of interest closes"))
        if interest_opens and interest_closes:
            interest = {"opens_at": datetime.combine(interest_opens, OPENS_AT, UTC).isoformat(),
                        "closes_at": datetime.combine(interest_closes, CLOSES_AT, UTC).isoformat(),
                        "scored": values["interest_scored"] == "yes"}  # fmt: skip
    if errors:
        return {}, errors
    terms = {
        "name": name, "description": values["description"].strip(),
        "budget": budget.model_dump(), "maximum_award": maximum.model_dump(),
        "opens_at": datetime.combine(opens, OPENS_AT, UTC).isoformat(),
        "closes_at": datetime.combine(closes, CLOSES_AT, UTC).isoformat(),
        "eligibility": {"areas_served": areas, "organisation_kinds": kinds,
                        "max_annual_income": income.model_dump() if income else None},
        "criteria": criteria, "reviewers_per_application": reviewers, "panel": panel, "payment_policy": policy,
    }  # fmt: skip
    # One stage is sent as null, so that an edit takes away a first stage the draft had.
    sent = {field: value for field, value in terms.items() if value is not None}
    return sent | {"expression_of_interest": interest}, {}



def _day(values: dict[str, str], field: str, what: str) -> date | str:
    day, month, year = (values[f"{field}-{part}"].strip() for part in PARTS)
    if not (day or month or year):
        return f"Enter the {what}"
    missing = [part for part, typed in zip(PARTS, (day, month, year), strict=True) if not typed]
    if missing:
        return f"The {what} must include a {' and a '.join(missing)}"
    if not (day.isdigit() and month.isdigit() and year.isdigit() and len(year) == 4):
        return f"The {what} must be a real date, like 27 3 2027"
    try:
        return date(int(year), int(month), int(day))
    except ValueError:
        return f"The {what} must be a real date, like 27 3 2027"


def _criteria(values: dict[str, str], errors: dict[str, str]) -> list[dict[str, Any]]:
    criteria: list[dict[str, Any]] = []
    for row in range(1, rows_of(values) + 1):
        title, weight = values[f"criterion-{row}-title"].strip(), values[f"criterion-{row}-weight"].strip()
        if not (title or weight):
            continue  # an empty row is not a criterion
        if not title:
            errors[f"criterion-{row}-title"] = f"Enter the title of criterion {row}"
        elif len(title) > 200:
            errors[f"criterion-{row}-title"] = f"The title of criterion {row} must be 200 characters or fewer"
        number = forms.whole_number(weight, f"the weight of criterion {row}", 1, 100)
        guidance = guidance_of(values.get(f"criterion-{row}-guidance", ""), f"criterion {row}")
        if isinstance(guidance, str):
            errors[f"criterion-{row}-guidance"] = guidance
        if isinstance(number, str):
            errors[f"criterion-{row}-weight"] = number
        elif not isinstance(guidance, str):
            taken = {c["key"] for c in criteria}
            key = criterion_key(title, taken)
            criteria.append({"key": key, "title": title, "weight": number, "guidance": guidance})
    if not criteria and not any(name.startswith("criterion-") for name in errors):
        errors["criterion-1-title"] = "Enter at least one scoring criterion, with its weight"
    return criteria


def criterion_key(title: str, taken: set[str]) -> str:
    """The API's key for a criterion, from its title: lowercase letters, digits and underscores,
    starting with a letter, at most 40 characters, unique in the programme."""
    plain = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode().lower()
    key = re.sub(r"[^a-z0-9]+", "_", plain).strip("_")
    if not key[:1].isalpha():
        key = f"c_{key}" if key else "criterion"
    key = key[:40].rstrip("_")
    unique, number = key, 2
    while unique in taken:
        suffix = f"_{number}"
        unique, number = key[: 40 - len(suffix)] + suffix, number + 1
    return unique


def _payment_policy(values: dict[str, str], errors: dict[str, str]) -> dict[str, Any]:
    if values["payment"] == "single":
        return {"kind": "single", "tranches": []}
    if values["payment"] != "tranches":
        errors["payment"] = "Select how an award is paid"
        return {}
    share = forms.whole_number(values["first_share"], "the share of the first payment", 1, 99)
    days = forms.whole_number(values["second_days"], "the days before the second payment", 1, 1095)
    if isinstance(share, str):
        errors["first_share"] = share
    if isinstance(days, str):
        errors["second_days"] = days
    if isinstance(share, str) or isinstance(days, str):
        return {}
    return {"kind": "tranches", "tranches": [{"share_bps": share * 100, "due_after_days": 0},
                                             {"share_bps": 10_000 - share * 100, "due_after_days": days}]}  # fmt: skip


def api_errors(error: ApiError) -> dict[str, str]:
    """The API's refusal beside the fields it is about: a field's own problem by its location, a rule
    across fields by the words it uses; anything else at the top of the form."""
    if error.status == 412:
        return {"name": STALE}
    errors: dict[str, str] = {}
    for problem in error.field_errors:
        location = [str(part) for part in problem.get("location", []) if part != "body"]
        for message in str(problem.get("message", "")).removeprefix("Value error, ").split("; "):
            errors.setdefault(_field_of(location, message), plain(message))
    return errors or {"name": plain(error.detail)}


def _field_of(location: list[str], message: str) -> str:
    if "criteria" in location:
        at = location.index("criteria")
        row = int(location[at + 1]) + 1 if len(location) > at + 1 and location[at + 1].isdigit() else 1
        part = next((p for p in ("weight", "guidance") if p in location), "title")
        return f"criterion-{min(row, MOST_CRITERIA)}-{part}"
    for part in reversed(location):
        if part in API_FIELDS:
            return API_FIELDS[part]
    return next((field for words, field in RULE_WORDS if words in message.lower()), "name")


def plain(message: str) -> str:
    message = message.replace("closes_at", "the closing date").replace("opens_at", "the opening date").strip()
    return message[:1].upper() + message[1:] if message else "Check this answer"


def expressible(policy: dict[str, Any]) -> bool:
    parts = policy["tranches"]
    return policy["kind"] == "single" or (
        len(parts) == 2 and parts[0]["due_after_days"] == 0 and parts[0]["share_bps"] % 100 == 0
    )


def payment_words(policy: dict[str, Any]) -> str:
    if policy["kind"] == "single":
        return "In one payment, when the offer is accepted"
    parts = [f"{Decimal(p['share_bps']) / 100:g}% " + ("when the offer is accepted" if p["due_after_days"] == 0
             else f"{p['due_after_days']} days after acceptance") for p in policy["tranches"]]  # fmt: skip
    return f"In {len(parts)} instalments: " + ", then ".join(parts)


def _typed_day(field: str, moment: str) -> dict[str, str]:
    """A moment the API gave, as the day, month and year fields of the form's ``field``."""
    at = datetime.fromisoformat(moment).astimezone(UTC)
    return {f"{field}-{part}": str(getattr(at, part)) for part in PARTS}


def form_values(programme: dict[str, Any]) -> tuple[dict[str, str], list[str]]:
    """A programme's terms as they are typed into the form."""
    rules, policy, criteria = programme["eligibility"], programme["payment_policy"], programme["criteria"]
    rows = max(CRITERIA_ROWS, len(criteria))
    values = dict.fromkeys(fields(rows), "") | {
        "name": programme["name"], "description": programme["description"],
        "budget": pounds(programme["budget"]), "maximum_award": pounds(programme["maximum_award"]),
        "areas": "\n".join(rules["areas_served"]),
        "max_income": pounds(rules["max_annual_income"]) if rules.get("max_annual_income") else "",
        "reviewers_per_application": str(programme["reviewers_per_application"]),
        "panel": "\n".join(programme.get("panel") or []), "rows": str(rows),
        "payment": policy["kind"] if expressible(policy) else "keep",
    }  # fmt: skip
    values |= _typed_day("opens", programme["opens_at"]) | _typed_day("closes", programme["closes_at"])
    interest = programme.get("expression_of_interest")
    values["stages"] = "two" if interest else "one"
    if interest:
        values["interest_scored"] = "yes" if interest.get("scored") else ""
        values |= _typed_day("interest_opens", interest["opens_at"])
        values |= _typed_day("interest_closes", interest["closes_at"])
    for row, criterion in enumerate(criteria, start=1):
        values |= {f"criterion-{row}-title": criterion["title"], f"criterion-{row}-weight": str(criterion["weight"]),
                   f"criterion-{row}-guidance": guidance_text(criterion.get("guidance") or [])}
    if policy["kind"] == "tranches" and expressible(policy):
        first, second = policy["tranches"]
        values |= {"first_share": str(first["share_bps"] // 100), "second_days": str(second["due_after_days"])}
    return values, list(rules["organisation_kinds"])
