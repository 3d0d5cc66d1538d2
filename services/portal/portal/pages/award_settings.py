"""After the award: a programme's settings for what happens once a grant is decided, each kept by
disbursement and set here by a programme manager. The offer terms (the template each offer's terms are
filled in from, and how long an offer stays open), the monitoring policy (the reports each grant owes,
when, and the programme's own questions in them) and the tranche policy (which tranche waits for which
report or named condition).

Each form sends the version it read (If-Match): a save over someone else's is refused (412) and the
page shows what is saved now. The monitoring policy is put together the way the form builder does it
(``question_builder``): the policy so far travels in the page, each step (add or remove a report or a
question) is a form of its own, and nothing is saved until the manager saves it."""

import json
from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from portal import forms, question_builder
from portal.clients import Api, ApiDep, ApiError
from portal.pages.shared import programme_path, q, see_other
from portal.rendering import render
from portal.session import CsrfChecked, ManagerPerson

router = APIRouter(tags=["after the award"])

STALE = "Someone changed {what} since you read them: this page now shows them as they are saved. Make your changes again and save"
#: A monitoring report asks for no file (disbursement refuses one).
QUESTION_KINDS = {kind: words for kind, words in question_builder.KINDS.items() if kind != "file"}
MOST_REPORTS, MOST_QUESTIONS = 20, 30


def _base(programme_id: str) -> str:
    return f"/manage/programmes/{q(programme_id)}/after-award"


def _api_path(programme_id: str, setting: str) -> str:
    return f"{programme_path(programme_id)}/{setting}"


def _version(text: str) -> int | None:
    return int(text) if text.isdigit() else None


async def _setting(api: Api, programme_id: str, setting: str) -> tuple[dict[str, Any] | None, int | None]:
    """One of the programme's settings with its version; None before disbursement has the programme
    (it learns of it when the programme opens)."""
    try:
        answer = await api.read("disbursement", _api_path(programme_id, setting))
    except ApiError as error:
        if error.status != 404:
            raise
        return None, None
    return answer.body, answer.version


def _stale(error: ApiError, what: str, field: str) -> dict[str, str] | None:
    """A 412 in words, on the field the error summary points at."""
    return {field: STALE.format(what=what)} if error.status == 412 else None


# --- the three settings as they are ------------------------------------------------------------


@router.get("/manage/programmes/{programme_id}/after-award",
            summary="After the award: the programme's offer terms, monitoring and tranche policies")  # fmt: skip
async def settings_page(programme_id: str, request: Request, api: ApiDep, person: ManagerPerson,
                        saved: str = "") -> Response:  # fmt: skip
    programme = await api.get("applications", programme_path(programme_id))
    terms, _ = await _setting(api, programme_id, "offer-terms")
    monitoring, _ = await _setting(api, programme_id, "monitoring-policy")
    tranches, _ = await _setting(api, programme_id, "tranche-policy")
    return render(request, "award_settings/settings.jinja", programme=programme, terms=terms, monitoring=monitoring,
                  tranches=tranches, base=_base(programme_id), saved=saved[:20],
                  questions=[{**qn, "words": question_builder.describe(qn, {"questions": monitoring["questions"]})}
                             for qn in (monitoring or {}).get("questions", [])])  # fmt: skip


def _not_yet(request: Request, programme: dict[str, Any]) -> Response:
    return render(request, "award_settings/not_yet.jinja", programme=programme, base=_base(programme["id"]),
                  status_code=404)  # fmt: skip


# --- offer terms --------------------------------------------------------------------------------

TERMS_FIELDS = ("template", "acceptance_days", "reminder_days")


def _terms_values(terms: dict[str, Any]) -> dict[str, str]:
    return {"template": terms["template"], "acceptance_days": str(terms["acceptance_days"]),
            "reminder_days": str(terms["reminder_days"])}  # fmt: skip


async def _terms_page(request: Request, api: Api, programme_id: str, values: dict[str, str] | None = None,
                      version: int | None = None, errors: dict[str, str] | None = None) -> Response:  # fmt: skip
    programme = await api.get("applications", programme_path(programme_id))
    terms, read = await _setting(api, programme_id, "offer-terms")
    if terms is None:
        return _not_yet(request, programme)
    return render(request, "award_settings/offer_terms.jinja", programme=programme, base=_base(programme_id),
                  values=values or _terms_values(terms), version=version if values else read, errors=errors)  # fmt: skip


@router.get("/manage/programmes/{programme_id}/after-award/offer-terms", summary="Set the offer terms")
async def terms_form(programme_id: str, request: Request, api: ApiDep, person: ManagerPerson) -> Response:
    return await _terms_page(request, api, programme_id)


def _terms_body(values: dict[str, str]) -> tuple[dict[str, Any], dict[str, str]]:
    errors: dict[str, str] = {}
    template = values["template"].strip()
    if not template:
        errors["template"] = "Enter the terms of the offer"
    elif len(template) > 20_000:
        errors["template"] = "The terms must be 20,000 characters or fewer"
    window = forms.whole_number(values["acceptance_days"], "the days an offer stays open", 1, 365)
    reminder = forms.whole_number(values["reminder_days"], "the days before it closes the group is reminded", 0, 364)
    for field, value in (("acceptance_days", window), ("reminder_days", reminder)):
        if isinstance(value, str):
            errors[field] = value
    return {"template": template, "acceptance_days": window, "reminder_days": reminder}, errors


@router.post("/manage/programmes/{programme_id}/after-award/offer-terms", summary="Save the offer terms",
             dependencies=[CsrfChecked])  # fmt: skip
async def save_terms(programme_id: str, request: Request, api: ApiDep, person: ManagerPerson) -> Response:
    form = await request.form()
    values, version = forms.form_values(form, *TERMS_FIELDS), _version(str(form.get("version", "")))
    body, errors = _terms_body(values)
    if not errors:
        try:
            await api.put("disbursement", _api_path(programme_id, "offer-terms"), body, version=version)
            return see_other(f"{_base(programme_id)}?saved=offer-terms")
        except ApiError as error:
            if error.status not in (409, 412, 422):
                raise
            stale = _stale(error, "the offer terms", "template")
            if stale:
                return await _terms_page(request, api, programme_id, errors=stale)
            errors = forms.field_errors(error, {f: f for f in TERMS_FIELDS}, "template")
    return await _terms_page(request, api, programme_id, values, version, errors)


# --- the monitoring policy ------------------------------------------------------------------------

REPORT_FIELDS = ("report_name", "report_days")
QUESTION_FIELDS = tuple(question_builder.FIELDS)


def _draft_of(policy: dict[str, Any]) -> dict[str, Any]:
    questions = question_builder.read_draft(json.dumps({"questions": policy.get("questions") or []})) or {}
    return {"points": [{"name": p["name"], "due_after_days": int(p["due_after_days"])} for p in policy["points"]],
            "reminder_days": int(policy["reminder_days"]), "questions": questions.get("questions", [])}  # fmt: skip


def _read_draft(text: str) -> dict[str, Any] | None:
    """The policy so far, from the page: None if it is not one (tampered with, or from an old page)."""
    try:
        draft = json.loads(text or "")
        points = [{"name": str(p["name"]), "due_after_days": int(p["due_after_days"])} for p in draft["points"]]
        questions = question_builder.read_draft(json.dumps({"questions": draft["questions"]}))
        reminder = int(draft["reminder_days"])
    except (ValueError, TypeError, KeyError):
        return None
    if questions is None or len(points) > MOST_REPORTS:
        return None
    return {"points": points, "reminder_days": reminder, "questions": questions["questions"]}


def _monitoring_page(request: Request, programme: dict[str, Any], draft: dict[str, Any], version: str,
                     values: dict[str, str] | None = None, errors: dict[str, str] | None = None,
                     reminder: str | None = None) -> Response:  # fmt: skip
    questions = {"questions": draft["questions"]}
    return render(
        request, "award_settings/monitoring.jinja", programme=programme, base=_base(programme["id"]),
        draft=json.dumps(draft, separators=(",", ":")), points=draft["points"], version=version,
        questions=[{**qn, "words": question_builder.describe(qn, questions)} for qn in draft["questions"]],
        values=values or dict.fromkeys(REPORT_FIELDS + QUESTION_FIELDS, ""), kinds=QUESTION_KINDS,
        conditions=question_builder.conditions(questions), errors=errors,
        reminder=reminder if reminder is not None else str(draft["reminder_days"]),
    )  # fmt: skip


@router.get("/manage/programmes/{programme_id}/after-award/monitoring", summary="Set the monitoring policy")
async def monitoring_form(programme_id: str, request: Request, api: ApiDep, person: ManagerPerson) -> Response:
    programme = await api.get("applications", programme_path(programme_id))
    policy, version = await _setting(api, programme_id, "monitoring-policy")
    if policy is None:
        return _not_yet(request, programme)
    return _monitoring_page(request, programme, _draft_of(policy), str(version or ""))


def _new_point(values: dict[str, str], draft: dict[str, Any]) -> tuple[dict[str, Any] | None, dict[str, str]]:
    errors: dict[str, str] = {}
    name = values["report_name"].strip()
    if not name:
        errors["report_name"] = "Enter the report's name"
    elif len(name) > 200:
        errors["report_name"] = "The report's name must be 200 characters or fewer"
    elif name in {p["name"] for p in draft["points"]}:
        errors["report_name"] = "Each report needs its own name: another report has this one"
    days = forms.whole_number(values["report_days"], "the days after acceptance it is due", 1, 3_650)
    if isinstance(days, str):
        errors["report_days"] = days
    elif days in {p["due_after_days"] for p in draft["points"]}:
        errors["report_days"] = "Another report is due that day: each report is due on a day of its own"
    if len(draft["points"]) >= MOST_REPORTS:
        errors["report_name"] = f"A programme asks for at most {MOST_REPORTS} reports"
    return (None if errors else {"name": name, "due_after_days": days}), errors


@router.post("/manage/programmes/{programme_id}/after-award/monitoring",
             summary="A step of putting the monitoring policy together, or saving it", dependencies=[CsrfChecked])  # fmt: skip
async def build_monitoring(programme_id: str, request: Request, api: ApiDep, person: ManagerPerson) -> Response:
    form = await request.form()
    programme = await api.get("applications", programme_path(programme_id))
    version = str(form.get("version", ""))
    draft = _read_draft(str(form.get("draft", "")))
    if draft is None:
        policy, read = await _setting(api, programme_id, "monitoring-policy")
        if policy is None:
            return _not_yet(request, programme)
        return _monitoring_page(request, programme, _draft_of(policy), str(read or ""),
                                errors={"reports": "The policy on this page could not be read: it is shown as saved"})  # fmt: skip
    verb, _, place = str(form.get("action", "")).partition("-")
    index = int(place) if place.isdigit() else -1
    if verb == "add_report":
        values = forms.form_values(form, *REPORT_FIELDS)
        point, errors = _new_point(values, draft)
        if point is None:
            return _monitoring_page(request, programme, draft, version, values | dict.fromkeys(QUESTION_FIELDS, ""),
                                    errors)  # fmt: skip
        # Reports are due in order: the list is kept in the order they fall due.
        draft = {**draft, "points": sorted([*draft["points"], point], key=lambda p: p["due_after_days"])}
    elif verb == "remove_report" and 0 <= index < len(draft["points"]):
        draft = {**draft, "points": [p for i, p in enumerate(draft["points"]) if i != index]}
    elif verb == "add_question":
        values = forms.form_values(form, *QUESTION_FIELDS)
        errors: dict[str, str] = {}
        if values["kind"] not in QUESTION_KINDS:
            errors["kind"] = "Select the kind of answer the question needs"
        elif len(draft["questions"]) >= MOST_QUESTIONS:
            errors["label"] = f"A report asks at most {MOST_QUESTIONS} of the programme's own questions"
        question, problems = question_builder.new_question(values, {"questions": draft["questions"]},
                                                           programme["budget"]["currency"])  # fmt: skip
        errors = errors or problems
        if errors:
            return _monitoring_page(request, programme, draft, version, values | dict.fromkeys(REPORT_FIELDS, ""),
                                    errors)  # fmt: skip
        draft = {**draft, "questions": [*draft["questions"], question]}
    elif verb == "remove_question":
        changed, problem = question_builder.removed({"questions": draft["questions"]}, index)
        if problem:
            return _monitoring_page(request, programme, draft, version, errors={f"question-{index}": problem})
        draft = {**draft, "questions": changed["questions"]}
    elif verb == "save":
        return await _save_monitoring(request, api, programme, draft, version, str(form.get("reminder_days", "")))
    return _monitoring_page(request, programme, draft, version)


async def _save_monitoring(request: Request, api: Api, programme: dict[str, Any], draft: dict[str, Any],
                           version: str, reminder: str) -> Response:  # fmt: skip
    days = forms.whole_number(reminder, "the days before each report is due the group is reminded", 0, 365)
    if isinstance(days, str):
        return _monitoring_page(request, programme, draft, version, errors={"reminder_days": days}, reminder=reminder)
    draft = {**draft, "reminder_days": days}
    try:
        await api.put("disbursement", _api_path(programme["id"], "monitoring-policy"), draft, version=_version(version))
    except ApiError as error:
        if error.status not in (409, 412, 422):
            raise
        if error.status == 412:
            policy, read = await _setting(api, programme["id"], "monitoring-policy")
            return _monitoring_page(request, programme, _draft_of(policy or draft), str(read or ""),
                                    errors=_stale(error, "the monitoring policy", "reports"))  # fmt: skip
        fields = {"points": "reports", "reminder_days": "reminder_days", "questions": "questions"}
        return _monitoring_page(request, programme, draft, version, reminder=reminder,
                                errors=forms.field_errors(error, fields, "reports"))  # fmt: skip
    return see_other(f"{_base(programme['id'])}?saved=monitoring")


# --- the tranche policy ---------------------------------------------------------------------------


def _tranche_count(programme: dict[str, Any]) -> int:
    return max(1, len(programme["payment_policy"].get("tranches") or []))


def _tranche_values(policy: dict[str, Any], count: int) -> dict[str, str]:
    values = {f"tranche-{n}-{part}": "" for n in range(1, count + 1) for part in ("report", "condition")}
    for requirement in policy["requirements"]:
        values[f"tranche-{requirement['sequence']}-report"] = requirement.get("report") or ""
        values[f"tranche-{requirement['sequence']}-condition"] = requirement.get("condition") or ""
    return values


async def _tranches_page(request: Request, api: Api, programme_id: str, values: dict[str, str] | None = None,
                         version: int | None = None, errors: dict[str, str] | None = None) -> Response:  # fmt: skip
    programme = await api.get("applications", programme_path(programme_id))
    policy, read = await _setting(api, programme_id, "tranche-policy")
    monitoring, _ = await _setting(api, programme_id, "monitoring-policy")
    if policy is None or monitoring is None:
        return _not_yet(request, programme)
    count = _tranche_count(programme)
    shares = programme["payment_policy"].get("tranches") or [{"share_bps": 10_000, "due_after_days": 0}]
    return render(request, "award_settings/tranches.jinja", programme=programme, base=_base(programme_id),
                  values=values or _tranche_values(policy, count), version=version if values else read,
                  tranches=[(n, f"{Decimal(t['share_bps']) / 100:g}% of the grant, "
                             + ("on acceptance" if t["due_after_days"] == 0 else f"{t['due_after_days']} days after acceptance"))
                            for n, t in enumerate(shares, start=1)], reports=[p["name"] for p in monitoring["points"]],
                  errors=errors)  # fmt: skip


@router.get("/manage/programmes/{programme_id}/after-award/tranches", summary="Set what each tranche waits for")
async def tranches_form(programme_id: str, request: Request, api: ApiDep, person: ManagerPerson) -> Response:
    return await _tranches_page(request, api, programme_id)


@router.post("/manage/programmes/{programme_id}/after-award/tranches", summary="Save the tranche policy",
             dependencies=[CsrfChecked])  # fmt: skip
async def save_tranches(programme_id: str, request: Request, api: ApiDep, person: ManagerPerson) -> Response:
    form = await request.form()
    programme = await api.get("applications", programme_path(programme_id))
    count = _tranche_count(programme)
    names = [f"tranche-{n}-{part}" for n in range(1, count + 1) for part in ("report", "condition")]
    values, version = forms.form_values(form, *names), _version(str(form.get("version", "")))
    errors: dict[str, str] = {}
    requirements = []
    for n in range(1, count + 1):
        report, condition = values[f"tranche-{n}-report"].strip(), values[f"tranche-{n}-condition"].strip()
        if len(condition) > 140:
            errors[f"tranche-{n}-condition"] = "The condition must be 140 characters or fewer"
        if report or condition:
            requirements.append({"sequence": n, "report": report or None, "condition": condition or None})
    if not errors:
        try:
            await api.put("disbursement", _api_path(programme_id, "tranche-policy"), {"requirements": requirements},
                          version=version)  # fmt: skip
            return see_other(f"{_base(programme_id)}?saved=tranches")
        except ApiError as error:
            if error.status not in (409, 412, 422):
                raise
            stale = _stale(error, "the tranche policy", "tranches")
            if stale:
                return await _tranches_page(request, api, programme_id, errors=stale)
            errors = _tranche_errors(error, requirements)
    return await _tranches_page(request, api, programme_id, values, version, errors)


def _tranche_errors(error: ApiError, requirements: list[dict[str, Any]]) -> dict[str, str]:
    """A refusal beside the tranche it is about: a field problem names the requirement's place in
    the list sent (``requirements``, index, field), a rule the tranche's number."""
    errors: dict[str, str] = {}
    for problem in error.field_errors:
        location = [part for part in problem.get("location", []) if part != "body"]
        if len(location) >= 2 and isinstance(location[1], int) and location[1] < len(requirements):
            part = location[2] if len(location) > 2 and location[2] in ("report", "condition") else "condition"
            errors.setdefault(f"tranche-{requirements[location[1]]['sequence']}-{part}",
                              forms.sentence(str(problem.get("message", ""))))  # fmt: skip
    if errors:
        return errors
    words = forms.sentence(error.detail)
    for requirement in requirements:
        if f"tranche {requirement['sequence']} " in error.detail:
            return {f"tranche-{requirement['sequence']}-condition": words}
        if requirement["report"] and repr(requirement["report"]) in error.detail:
            return {f"tranche-{requirement['sequence']}-report": words}
    return {"tranches": words}
