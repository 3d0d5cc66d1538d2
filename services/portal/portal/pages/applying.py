"""An applicant group's applications: start one, answer its questions one page at a time (a task
list shows what is left), check the answers, submit, and follow where it stands.

A draft is saved with every answer, so a group can stop and come back. A new draft asks for nothing
but its title: the amount starts at nothing and is asked for on its own page (the API wants an
amount from the start, so an unanswered amount is kept as zero, which submission refuses).
"""

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from portal import forms
from portal.clients import Api, ApiDep, ApiError
from portal.pages.organisation import organisation_of, profile_of
from portal.pages.questions import answer_words, form_of, shown
from portal.pages.shared import application_path, programme_path, see_other
from portal.rendering import render
from portal.session import ApplicantPerson, CsrfChecked
from portal.words import pounds

router = APIRouter(tags=["applying"])

#: The questions of an application, each on a page of its own: (field, page, heading).
QUESTIONS = {
    "title": ("What is your project called?", "A short name people will recognise, like 'Peer support circles for men over 50'"),
    "summary": ("Tell us about your project", "What you will do, who it is for, and how it helps prevent suicide in your community"),
    "amount": ("How much are you asking for?", "In pounds. Check the most this programme gives to one group"),
    "contact": ("Who should we contact about this application?", "We will email this person when anything changes"),
}
WITHDRAWABLE = {"submitted", "under_review"}


@router.get("/applications", summary="Your organisation's applications")
async def your_applications(request: Request, api: ApiDep, person: ApplicantPerson) -> Response:
    organisation_id = organisation_of(person)
    profile, _ = await profile_of(api, organisation_id)
    listed = await api.get("applications", "/v1/applications", organisation_id=organisation_id, limit=100)
    return render(request, "applying/applications.jinja", applications=listed["items"], profile=profile)


@router.get("/programmes/{programme_id}/apply", summary="Start an application: its title")
async def start(programme_id: str, request: Request, api: ApiDep, person: ApplicantPerson) -> Response:
    programme = await api.get("applications", programme_path(programme_id))
    profile, _ = await profile_of(api, organisation_of(person))
    if profile is None:
        return see_other(f"/organisation?next=/programmes/{programme['id']}/apply")
    return render(request, "applying/start.jinja", programme=programme, value="")


@router.post("/programmes/{programme_id}/apply", summary="Start the draft", dependencies=[CsrfChecked])
async def create(
    programme_id: str, request: Request, api: ApiDep, person: ApplicantPerson, title: Annotated[str, Form()] = ""
) -> Response:
    programme = await api.get("applications", programme_path(programme_id))
    if not title.strip():
        return render(request, "applying/start.jinja", programme=programme, value=title,
                      errors={"title": "Enter the name of your project"})  # fmt: skip
    body = {
        "programme_id": programme["id"], "organisation_id": organisation_of(person), "title": title.strip(),
        "amount_requested": {"amount": 0, "currency": programme["budget"]["currency"]},
    }  # fmt: skip
    try:
        draft = await api.post("applications", "/v1/applications", body)
    except ApiError as error:
        if error.status not in (409, 422):
            raise
        errors = forms.field_errors(error, {"title": "title"}, "title")
        return render(request, "applying/start.jinja", programme=programme, value=title, errors=errors)
    return see_other(f"/applications/{draft['id']}")


async def _application(api: Api, application_id: str) -> tuple[dict[str, Any], int | None]:
    answer = await api.read("applications", application_path(application_id))
    return answer.body, answer.version


def base_of(application_id: str) -> str:
    """Where an applicant's pages for one application live (the programme team's are in ``assisted``)."""
    return f"/applications/{application_id}"


def tasks_of(application: dict[str, Any], questions: list[Any] = (), base: str | None = None) -> list[dict[str, Any]]:  # type: ignore[assignment]
    """The fixed questions, then the programme's own (those the answers so far show), then submitting:
    each linked under ``base`` (the applicant's pages, or the programme team's for an assisted draft)."""
    done = {
        "title": bool(application["title"]),
        "summary": bool(application["summary"].strip()),
        "amount": application["amount_requested"]["amount"] > 0,
        "contact": bool(application["contact"]),
    }
    base = base or base_of(application["id"])
    tasks = [{"title": QUESTIONS[name][0], "href": f"{base}/{name}", "done": done[name]} for name in QUESTIONS]
    unfinished = {p["question_id"] for p in application.get("unfinished", [])}
    tasks += [
        {"title": q.label, "href": f"{base}/questions/{q.id}", "done": q.id not in unfinished and (
            q.id in application["answers"] or not q.required), "optional": not q.required,
         "answered": q.id in application["answers"]}
        for q in questions
    ]  # fmt: skip
    tasks.append({"title": "Check your answers and submit", "href": f"{base}/check", "done": False,
                  "ready": all(t["done"] for t in tasks)})  # fmt: skip
    return tasks


@router.get("/applications/{application_id}", summary="A draft's task list, or where an application stands")
async def application_page(application_id: str, request: Request, api: ApiDep, person: ApplicantPerson) -> Response:
    application, _ = await _application(api, application_id)
    programme = await api.get("applications", programme_path(application["programme_id"]))
    if application["status"] == "draft":
        questions = shown(await form_of(api, application), application)
        return render(request, "applying/task_list.jinja", application=application, programme=programme,
                      tasks=tasks_of(application, questions))  # fmt: skip
    timeline = await api.get("applications", f"{application_path(application_id)}/timeline")
    return render(request, "applying/status.jinja", application=application, programme=programme,
                  timeline=timeline, can_withdraw=application["status"] in WITHDRAWABLE)  # fmt: skip


async def check_answers(application_id: str, request: Request, api: Api, errors: dict[str, str] | None = None,
                        status_code: int = 200, base: str | None = None, **context: Any) -> Response:  # fmt: skip
    base = base or base_of(application_id)
    application, version = await _application(api, application_id)
    if application["status"] != "draft":
        return see_other(base)
    programme = await api.get("applications", programme_path(application["programme_id"]))
    questions = shown(await form_of(api, application), application)
    missing = [task for task in tasks_of(application, questions, base)[:-1] if not task["done"]]
    answers = [
        {"label": q.label, "href": f"{base}/questions/{q.id}", "words": answer_words(q, application["answers"].get(q.id))}
        for q in questions
    ]  # fmt: skip
    return render(request, "applying/check.jinja", application=application, programme=programme, version=version,
                  missing=missing, answers=answers, errors=errors, status_code=status_code, base=base,
                  **context)  # fmt: skip


async def submit(application_id: str, request: Request, api: Api, version: str, base: str | None = None,
                 **context: Any) -> Response:  # fmt: skip
    base = base or base_of(application_id)
    try:
        result = await api.post("applications", f"{application_path(application_id)}/submit",
                                version=int(version) if version.isdigit() else None)  # fmt: skip
    except ApiError as error:
        if error.status not in (409, 412, 422):
            raise
        return await check_answers(application_id, request, api, errors={"submit": _stale(error)}, base=base, **context)
    if result["status"] == "ineligible":
        return render(request, "applying/ineligible.jinja", application=result, base=base, **context)
    if result["status"] == "draft":  # returned to put right while the programme is open
        return render(request, "applying/returned.jinja", application=result, base=base, **context)
    if result["status"] == "interest_submitted":
        return render(request, "applying/interest_sent.jinja", application=result, base=base, **context)
    return see_other(f"{base}/submitted")


@router.get("/applications/{application_id}/submitted", summary="Your application was sent")
async def submitted(application_id: str, request: Request, api: ApiDep, person: ApplicantPerson) -> Response:
    application, _ = await _application(api, application_id)
    return render(request, "applying/submitted.jinja", application=application)


@router.get("/applications/{application_id}/withdraw", summary="Withdraw an application: are you sure?")
async def withdraw_page(application_id: str, request: Request, api: ApiDep, person: ApplicantPerson) -> Response:
    application, _ = await _application(api, application_id)
    return render(request, "applying/withdraw.jinja", application=application)


@router.post("/applications/{application_id}/withdraw", summary="Withdraw it", dependencies=[CsrfChecked])
async def withdraw(
    application_id: str, request: Request, api: ApiDep, person: ApplicantPerson, reason: Annotated[str, Form()] = ""
) -> Response:
    try:
        await api.post("applications", f"{application_path(application_id)}/withdraw", {"reason": reason.strip()})
    except ApiError as error:
        if error.status not in (409, 422):
            raise
        application, _ = await _application(api, application_id)
        return render(request, "applying/withdraw.jinja", application=application, errors={"reason": error.detail})
    return see_other(f"/applications/{application_id}")


# --- one question a page (after the fixed paths above, which it would otherwise hide) -----------


@router.get("/applications/{application_id}/{question}", summary="One question of a draft")
async def question(application_id: str, question: str, request: Request, api: ApiDep, person: ApplicantPerson) -> Response:
    return await question_page(request, api, application_id, question)


async def question_page(request: Request, api: Api, application_id: str, question: str, base: str | None = None,
                        **context: Any) -> Response:  # fmt: skip
    """One of the fixed questions (or the check answers page), for the group or the programme team."""
    base = base or base_of(application_id)
    if question == "check":
        return await check_answers(application_id, request, api, base=base, **context)
    if question not in QUESTIONS:
        return render(request, "errors/not_found.jinja", status_code=404)
    application, version = await _application(api, application_id)
    if application["status"] != "draft":
        return see_other(base)
    values = {
        "title": application["title"], "summary": application["summary"],
        "amount": pounds(application["amount_requested"]) if application["amount_requested"]["amount"] else "",
        "contact_name": application["contact"]["name"], "contact_email": application["contact"]["email"],
    }  # fmt: skip
    return _question_page(request, application, question, values, version, base=base, **context)


def _question_page(
    request: Request, application: dict[str, Any], question: str, values: dict[str, str], version: int | None,
    errors: dict[str, str] | None = None, **context: Any,
) -> Response:  # fmt: skip
    heading, hint = QUESTIONS[question]
    return render(request, f"applying/question_{question}.jinja", application=application, heading=heading,
                  hint=hint, values=values, version=version, errors=errors, **context)  # fmt: skip


@router.post("/applications/{application_id}/{question}", summary="Save an answer", dependencies=[CsrfChecked])
async def answer(
    application_id: str, question: str, request: Request, api: ApiDep, person: ApplicantPerson,
    version: Annotated[str, Form()] = "",
) -> Response:  # fmt: skip
    return await save_answer(request, api, application_id, question, version)


async def save_answer(request: Request, api: Api, application_id: str, question: str, version: str,
                      base: str | None = None, **context: Any) -> Response:  # fmt: skip
    """Save one of the fixed questions (or submit, from the check answers page), for the group or the team."""
    base = base or base_of(application_id)
    if question == "check":
        return await submit(application_id, request, api, version, base=base, **context)
    if question not in QUESTIONS:
        return render(request, "errors/not_found.jinja", status_code=404)
    application, current = await _application(api, application_id)
    form = await request.form()
    values = forms.form_values(form, "title", "summary", "amount", "contact_name", "contact_email")
    change, errors = _change(question, values, application["amount_requested"]["currency"])
    if errors:
        return _question_page(request, application, question, values, current, errors, base=base, **context)
    try:
        await api.patch("applications", application_path(application_id), change,
                        version=int(version) if version.isdigit() else current)  # fmt: skip
    except ApiError as error:
        if error.status not in (409, 412, 422):
            raise
        fields = {"title": "title", "summary": "summary", "amount_requested": "amount", "name": "contact_name",
                  "email": "contact_email"}  # fmt: skip
        errors = (forms.field_errors(error, fields, _first_field(question)) if error.status == 422
                  else {_first_field(question): _stale(error)})  # fmt: skip
        return _question_page(request, application, question, values, current, errors, base=base, **context)
    return see_other(base)


def _first_field(question: str) -> str:
    return "contact_name" if question == "contact" else question


def _stale(error: ApiError) -> str:
    if error.status == 412:
        return "This application changed while you were answering (perhaps in another tab): check the answer and save again"
    return error.detail


def _change(question: str, values: dict[str, str], currency: str) -> tuple[dict[str, Any], dict[str, str]]:
    if question == "title":
        title = values["title"].strip()
        return {"title": title}, {} if title else {"title": "Enter the name of your project"}
    if question == "summary":
        summary = values["summary"].strip()
        return {"summary": summary}, {} if summary else {"summary": "Tell us about your project"}
    if question == "amount":
        amount = forms.money(values["amount"], currency, "the amount you are asking for")
        if isinstance(amount, str):
            return {}, {"amount": amount}
        if amount.amount == 0:
            return {}, {"amount": "Enter an amount more than zero"}
        return {"amount_requested": amount.model_dump()}, {}
    errors = {}
    if not values["contact_name"].strip():
        errors["contact_name"] = "Enter the name of the person we should contact"
    if "@" not in values["contact_email"]:
        errors["contact_email"] = "Enter an email address in the correct format, like name@example.org"
    return {"contact": {"name": values["contact_name"].strip(), "email": values["contact_email"].strip()}}, errors
