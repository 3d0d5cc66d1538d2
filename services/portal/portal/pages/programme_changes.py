"""Changes to an open programme: a programme manager raises or lowers its budget, moves its closing
dates later, raises its maximum award, renames it or rewrites its description, with a note for the
history; the page lists every change and how it ended (a budget decrease waits for disbursement,
which refuses one that would leave less than is committed). Whether a change is safe is the API's
rule: its refusal is shown beside the fields it is about."""

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from portal import forms
from portal.clients import ApiDep, ApiError
from portal.pages.programme_form import CLOSES_AT, PARTS, _day
from portal.pages.shared import programme_path, q, see_other
from portal.rendering import render
from portal.session import CsrfChecked, ManagerPerson
from portal import words
from portal.words import pounds

router = APIRouter(tags=["managing"])

DATES = ("closes", "interest_closes")
FIELDS = ("name", "description", "budget", "maximum_award", "note", "version",
          *(f"{d}-{p}" for d in DATES for p in PARTS))  # fmt: skip
#: The API's field names, as the fields of the form.
API_FIELDS = {"name": "name", "description": "description", "budget": "budget", "maximum_award": "maximum_award",
              "closes_at": "closes-day", "expression_of_interest_closes_at": "interest_closes-day"}  # fmt: skip
#: A refusal names no field: the words it uses say which one it is about.
RULE_WORDS = (("expression of interest", "interest_closes-day"), ("closing date", "closes-day"),
              ("maximum award", "maximum_award"), ("budget", "budget"), ("say what to change", "budget"))  # fmt: skip
STALE = "Someone changed this programme while you were here: check the figures and send the change again"


def _values(programme: dict[str, Any]) -> dict[str, str]:
    values = dict.fromkeys(FIELDS, "") | {
        "name": programme["name"], "description": programme["description"],
        "budget": pounds(programme["budget"]), "maximum_award": pounds(programme["maximum_award"]),
    }  # fmt: skip
    stages = {"closes": programme["closes_at"]}
    if programme.get("expression_of_interest"):
        stages["interest_closes"] = programme["expression_of_interest"]["closes_at"]
    for field, moment in stages.items():
        at = datetime.fromisoformat(moment).astimezone(UTC)
        values |= {f"{field}-{part}": str(getattr(at, part)) for part in PARTS}
    return values


def change_body(programme: dict[str, Any], values: dict[str, str]) -> tuple[dict[str, Any], dict[str, str]]:
    """Only what the manager changed, as the API takes it, and what cannot be read from the form."""
    errors: dict[str, str] = {}
    currency = programme["budget"]["currency"]
    before = _values(programme)
    body: dict[str, Any] = {}
    for field, what in (("name", "name"), ("description", "description")):
        if values[field].strip() != before[field].strip():
            body[field] = values[field].strip()
    if "name" in body and not body["name"]:
        errors["name"] = "Enter the programme's name"
    for field, what in (("budget", "the budget"), ("maximum_award", "the most one group can get")):
        if values[field].strip() != before[field]:
            amount = forms.money(values[field], currency, what)
            if isinstance(amount, str):
                errors[field] = amount
            else:
                body[field] = amount.model_dump()
    for field, api in (("closes", "closes_at"), ("interest_closes", "expression_of_interest_closes_at")):
        if field == "interest_closes" and not programme.get("expression_of_interest"):
            continue
        if any(values[f"{field}-{p}"].strip() != before[f"{field}-{p}"] for p in PARTS):
            day = _day(values, field, "closing date")
            if isinstance(day, str):
                errors[f"{field}-day"] = day
            else:
                body[api] = datetime.combine(day, CLOSES_AT, UTC).isoformat()
    if not body and not errors:
        errors["budget"] = "Change at least one thing: the figures and dates below are the programme's now"
    if values["note"].strip():
        body["note"] = values["note"].strip()[:1_000]
    return body, errors


def api_errors(error: ApiError) -> dict[str, str]:
    if error.status == 412:
        return {"budget": STALE}
    if error.status == 409:
        return {"budget": error.detail}
    errors: dict[str, str] = {}
    for problem in error.field_errors:
        location = [str(part) for part in problem.get("location", []) if part != "body"]
        message = str(problem.get("message", "")).removeprefix("Value error, ")
        field = next((API_FIELDS[p] for p in reversed(location) if p in API_FIELDS), None)
        field = field or next((f for words, f in RULE_WORDS if words in message.lower()), "budget")
        errors.setdefault(field, message[:1].upper() + message[1:])
    return errors or {"budget": error.detail}


async def _page(request: Request, api: ApiDep, programme_id: str, values: dict[str, str] | None = None,
                errors: dict[str, str] | None = None) -> Response:  # fmt: skip
    read = await api.read("applications", programme_path(programme_id))
    programme = read.body
    history = await api.get("applications", f"{programme_path(programme_id)}/changes", limit=200)
    values = values or (_values(programme) | {"version": str(read.version or "")})
    return render(request, "manage/changes.jinja", programme=programme, changes=[_row(c) for c in history["items"]],
                  values=values, errors=errors)  # fmt: skip


def _row(change: dict[str, Any]) -> dict[str, Any]:
    """One change as the history reads it: each field from what it was to what was asked."""
    return {**change, "fields": [
        {"label": LABELS.get(name, name), "before": _words(change["before"].get(name)), "after": _words(value)}
        for name, value in change["after"].items()
    ]}  # fmt: skip


def _words(value: Any) -> str:
    if isinstance(value, dict) and "amount" in value:
        return words.money(value)
    if isinstance(value, str) and len(value) >= 19 and value[4:5] == "-" and value[10:11] == "T":
        return words.date(value)
    return str(value) if value not in (None, "") else "None"


LABELS = {"name": "Name", "description": "Description", "budget": "Budget", "maximum_award": "Most one group can get",
          "closes_at": "Closing date", "expression_of_interest_closes_at": "Expression of interest closes"}  # fmt: skip


@router.get("/manage/programmes/{programme_id}/changes", summary="Change an open programme; its history of changes")
async def changes(programme_id: str, request: Request, api: ApiDep, person: ManagerPerson) -> Response:
    return await _page(request, api, programme_id)


@router.post("/manage/programmes/{programme_id}/changes", summary="Send a change", dependencies=[CsrfChecked])
async def change(programme_id: str, request: Request, api: ApiDep, person: ManagerPerson) -> Response:
    values = forms.form_values(await request.form(), *FIELDS)
    programme = await api.get("applications", programme_path(programme_id))
    body, errors = change_body(programme, values)
    if not errors:
        try:
            version = int(values["version"]) if values["version"].isdigit() else None
            await api.post("applications", f"{programme_path(programme_id)}/changes", body, version=version)
            return see_other(f"/manage/programmes/{q(programme_id)}/changes")
        except ApiError as error:
            if error.status not in (409, 412, 422, 428):
                raise
            errors = api_errors(error)
    return await _page(request, api, programme_id, values, errors)
