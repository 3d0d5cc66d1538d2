"""After the award: the grantee's monitoring reports (submitted, and resubmitted when a reviewer asks
for changes), the programme manager's review of them (accept, or request changes with comments), and
marking a grant's named condition met, which releases the tranches waiting for it.

Disbursement judges every rule (who may submit or review, in which status): these pages ask it and
show a refusal (409, 412, 422) as an error on the page."""

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from grants_shared import forms as rules
from grants_shared.forms import FormDefinition
from portal import forms
from portal.clients import ApiDep, ApiError
from portal.pages.finance import PAGE_SIZE, page_href, page_number, paging_of
from portal.pages.grants import REPORT_STATUS, grant_path, waiting_words
from portal.pages.questions import _typed as typed_answer, _values as answer_values, answer_words
from portal.pages.shared import q, see_other
from portal.rendering import render
from portal.session import ApplicantPerson, CsrfChecked, ManagerPerson
from portal.words import pounds

router = APIRouter(tags=["monitoring reports"])

REPORT_FIELDS = ("what_was_done", "people_reached", "spent", "what_changed")
OPEN_FOR_GRANTEE = ("due", "changes_requested")


def report_path(report_id: str) -> str:
    return f"/v1/reports/{q(report_id)}"


# --- the grantee -----------------------------------------------------------------------------------


def _questions(report: dict[str, Any]) -> list[Any]:
    """The programme's own questions this report asks, as question objects."""
    return list(FormDefinition.model_validate({"questions": report.get("questions") or []}).questions)


def _field(question: Any) -> str:
    """A question's field on the report page: its id, apart from the four every report asks."""
    return f"q-{question.id}"


def _report_values(report: dict[str, Any]) -> dict[str, Any]:
    """What the grantee sent last, to start a resubmission from."""
    spent = report.get("spent")
    values: dict[str, Any] = {
        "what_was_done": report.get("what_was_done") or "", "what_changed": report.get("what_changed") or "",
        "people_reached": "" if report.get("people_reached") is None else str(report["people_reached"]),
        "spent": pounds(spent) if spent else "",
    }  # fmt: skip
    answers = report.get("answers") or {}
    for question in _questions(report):
        shown = answer_values(question, answers.get(question.id))
        values |= {key.replace("answer", _field(question), 1): value for key, value in shown.items()}
    return values


def _question_fields(question: Any) -> tuple[str, ...]:
    field = _field(question)
    return (f"{field}-day", f"{field}-month", f"{field}-year") if question.kind == "date" else (field,)


def _own_answers(report: dict[str, Any], values: dict[str, Any], errors: dict[str, str]) -> dict[str, Any]:
    """The answers to the programme's own questions as the API takes them (only those shown by the
    answers given, blanks left out); what cannot be read goes into ``errors``."""
    typed: dict[str, Any] = {}
    for question in _questions(report):
        field = _field(question)
        own = {"answer": values.get(field, "")} | {
            f"answer-{part}": values.get(f"{field}-{part}", "") for part in ("day", "month", "year")}
        answer = typed_answer(question, own)
        if hasattr(answer, "message"):
            errors[field] = answer.message
        elif answer is not None:
            typed[question.id] = answer
    form = FormDefinition.model_validate({"questions": report.get("questions") or []})
    # Checked here too (the same shared rules the service checks by), so that every problem shows at
    # once, with the four fields every report asks, before anything is sent.
    for problem in rules.answer_problems(form, typed, complete=True):
        errors.setdefault(f"q-{problem.question_id}", problem.message)
    return rules.answered(form, typed)


def own_answers_words(report: dict[str, Any]) -> list[dict[str, Any]]:
    """Each of the programme's own questions and its answer, as summary-list rows."""
    answers = report.get("answers") or {}
    return [{"key": {"text": q.label}, "value": {"text": answer_words(q, answers.get(q.id))}}
            for q in _questions(report)]  # fmt: skip


async def _grantee_report_page(request: Request, api: ApiDep, grant_id: str, report_id: str,
                               values: dict[str, str] | None = None, errors: dict[str, str] | None = None,
                               sent: bool = False) -> Response:  # fmt: skip
    answer = await api.read("disbursement", report_path(report_id))
    report = answer.body
    if report["grant_id"] != grant_id:
        return see_other(f"/grants/{q(report['grant_id'])}/reports/{q(report_id)}")
    grant = await api.get("disbursement", grant_path(grant_id))
    return render(request, "grants/report.jinja", grant=grant, report=report, version=answer.version,
                  values=values if values is not None else _report_values(report), errors=errors,
                  statuses=REPORT_STATUS, can_submit=report["status"] in OPEN_FOR_GRANTEE, sent=sent,
                  questions=[(q, _field(q), [{"value": o.value, "text": o.label} for o in getattr(q, "options", [])])
                             for q in _questions(report)],
                  own_answers=own_answers_words(report))  # fmt: skip


@router.get("/grants/{grant_id}/reports/{report_id}", summary="A monitoring report: what it asks, and sending it")
async def report_page(grant_id: str, report_id: str, request: Request, api: ApiDep, person: ApplicantPerson,
                      sent: str = "") -> Response:  # fmt: skip
    return await _grantee_report_page(request, api, grant_id, report_id, sent=sent == "1")


def _report_errors(values: dict[str, str], currency: str) -> tuple[dict[str, str], dict[str, Any]]:
    errors: dict[str, str] = {}
    body: dict[str, Any] = {}
    for name, what in (("what_was_done", "what your group did with the grant"), ("what_changed", "what changed for the people you work with")):  # fmt: skip
        text = values[name].strip()
        if not text:
            errors[name] = f"Enter {what}"
        elif len(text) > 10_000:
            errors[name] = "Write 10,000 characters or fewer"
        body[name] = text
    people = forms.whole_number(values["people_reached"], "how many people the project reached", 0, 100_000_000)
    if isinstance(people, str):
        errors["people_reached"] = people
    body["people_reached"] = people
    spent = forms.money(values["spent"], currency, "how much of the grant you have spent")
    if isinstance(spent, str):
        errors["spent"] = spent
    else:
        body["spent"] = spent.model_dump()
    return errors, body


@router.post("/grants/{grant_id}/reports/{report_id}", summary="Send the monitoring report", dependencies=[CsrfChecked])
async def submit_report(grant_id: str, report_id: str, request: Request, api: ApiDep, person: ApplicantPerson,
                        version: Annotated[str, Form()] = "") -> Response:  # fmt: skip
    form = await request.form()
    report = await api.get("disbursement", report_path(report_id))
    own_fields = [f for q in _questions(report) for f in _question_fields(q)]
    values: dict[str, Any] = forms.form_values(form, *REPORT_FIELDS, *own_fields)
    for question in _questions(report):
        if question.kind == "multiple_choice":
            values[_field(question)] = [str(v) for v in form.getlist(_field(question))]
    grant = await api.get("disbursement", grant_path(grant_id))
    errors, body = _report_errors(values, grant["amount"]["currency"])
    body["answers"] = _own_answers(report, values, errors)
    if not errors:
        try:
            await api.post("disbursement", f"{report_path(report_id)}/submission", body,
                           version=int(version) if version.isdigit() else None)  # fmt: skip
            return see_other(f"/grants/{q(grant_id)}/reports/{q(report_id)}?sent=1")
        except ApiError as error:
            if error.status not in (409, 412, 422):
                raise
            fields = {name: name for name in REPORT_FIELDS} | {q.id: _field(q) for q in _questions(report)}
            errors = (forms.field_errors(error, fields, "what_was_done")
                      if error.status == 422 else {"what_was_done": error.detail})  # fmt: skip
    return await _grantee_report_page(request, api, grant_id, report_id, values=values, errors=errors)


# --- the programme manager -------------------------------------------------------------------------


@router.get("/manage/reports", summary="Monitoring reports waiting for review, longest waiting first")
async def reports_to_review(request: Request, api: ApiDep, person: ManagerPerson, page: str = "1") -> Response:
    number = page_number(page)
    listed = await api.get("disbursement", "/v1/reports", status="submitted", limit=PAGE_SIZE,
                           offset=(number - 1) * PAGE_SIZE)  # fmt: skip
    if number > 1 and not listed["items"]:
        return see_other(page_href("/manage/reports", 1))
    return render(request, "manage/reports.jinja", reports=listed["items"], total=listed["total"],
                  paging=paging_of("/manage/reports", listed["total"], number))  # fmt: skip


async def _review_page(request: Request, api: ApiDep, report_id: str, errors: dict[str, str] | None = None,
                       values: dict[str, str] | None = None, reviewed: str = "") -> Response:  # fmt: skip
    answer = await api.read("disbursement", report_path(report_id))
    return render(request, "manage/report.jinja", report=answer.body, version=answer.version, errors=errors,
                  own_answers=own_answers_words(answer.body),
                  values=values or {"outcome": "", "comments": ""}, statuses=REPORT_STATUS, reviewed=reviewed)  # fmt: skip


@router.get("/manage/reports/{report_id}", summary="A monitoring report: accept it, or ask for changes")
async def review_page(report_id: str, request: Request, api: ApiDep, person: ManagerPerson,
                      reviewed: str = "") -> Response:  # fmt: skip
    return await _review_page(request, api, report_id, reviewed=reviewed)


@router.post("/manage/reports/{report_id}", summary="Review the monitoring report", dependencies=[CsrfChecked])
async def review(report_id: str, request: Request, api: ApiDep, person: ManagerPerson,
                 version: Annotated[str, Form()] = "") -> Response:  # fmt: skip
    values = forms.form_values(await request.form(), "outcome", "comments")
    errors = {}
    if values["outcome"] not in ("accepted", "changes_requested"):
        errors["outcome"] = "Select whether you accept the report or ask for changes"
    elif values["outcome"] == "changes_requested" and not values["comments"].strip():
        errors["comments"] = "Enter what the group needs to change"
    elif len(values["comments"]) > 5_000:
        errors["comments"] = "Write 5,000 characters or fewer"
    if not errors:
        body = {"outcome": values["outcome"], "comments": values["comments"].strip() or None}
        try:
            await api.post("disbursement", f"{report_path(report_id)}/review", body,
                           version=int(version) if version.isdigit() else None)  # fmt: skip
            return see_other(f"/manage/reports/{q(report_id)}?reviewed={values['outcome']}")
        except ApiError as error:
            if error.status not in (409, 412, 422):
                raise
            errors = {"outcome": error.detail}
    return await _review_page(request, api, report_id, errors=errors, values=values)


def conditions_path(grant_id: str) -> str:
    return f"{grant_path(grant_id)}/conditions"


async def _conditions_page(request: Request, api: ApiDep, grant_id: str, errors: dict[str, str] | None = None,
                           met: str = "") -> Response:  # fmt: skip
    answer = await api.read("disbursement", conditions_path(grant_id))
    grant = answer.body
    return render(request, "manage/grant_conditions.jinja", grant=grant, version=answer.version, errors=errors,
                  waiting={p["id"]: waiting_words(p) for p in grant["payments"]}, met=met)  # fmt: skip


@router.get("/manage/grants/{grant_id}/conditions", summary="A grant's conditions, and what its payments wait for")
async def conditions_page(grant_id: str, request: Request, api: ApiDep, person: ManagerPerson, met: str = "") -> Response:
    return await _conditions_page(request, api, grant_id, met=met)


@router.post("/manage/grants/{grant_id}/conditions", summary="Mark a condition met", dependencies=[CsrfChecked])
async def meet_condition(grant_id: str, request: Request, api: ApiDep, person: ManagerPerson,
                         version: Annotated[str, Form()] = "") -> Response:  # fmt: skip
    name = forms.form_values(await request.form(), "name")["name"].strip()
    try:
        await api.post("disbursement", f"{conditions_path(grant_id)}/met", {"name": name},
                       version=int(version) if version.isdigit() else None)  # fmt: skip
    except ApiError as error:
        if error.status not in (404, 409, 412, 422):
            raise
        return await _conditions_page(request, api, grant_id, errors={"conditions": error.detail})
    return see_other(f"/manage/grants/{q(grant_id)}/conditions?met=1")
