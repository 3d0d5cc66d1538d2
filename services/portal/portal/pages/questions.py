"""A programme's own questions, one a page, as part of an applicant's draft (its task list and check
answers page are in ``applying``): each kind of question as its NHS.UK pattern, a file question as a
file upload (the form posts multipart, no JavaScript needed).

The page reads only what was typed (a number, an amount, a date); whether an answer is acceptable
(word limits, ranges, options, file types and sizes) is the applications service's rule, and its
422 is shown beside the field it names.
"""

from datetime import date
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.datastructures import UploadFile  # what request.form() gives (FastAPI's is a subclass)

from grants_shared import forms as rules
from grants_shared.forms import FormDefinition
from portal import forms
from portal.clients import Api, ApiDep, ApiError
from portal.pages.shared import application_path, programme_path, see_other
from portal.rendering import render
from portal.session import ApplicantPerson, CsrfChecked
from portal.words import money, pounds

router = APIRouter(tags=["applying"])
PARTS = ("day", "month", "year")


async def form_of(api: Api, application: dict[str, Any]) -> FormDefinition | None:
    """The version of the programme's form the application answers, or None if it has none."""
    if not application.get("form_version"):
        return None
    body = await api.get("applications", f"{programme_path(application['programme_id'])}/form",
                         version=application["form_version"], stage=application.get("stage", "full"))  # fmt: skip
    return FormDefinition.model_validate({"questions": body["questions"], "criteria": body["criteria"]})


def shown(form: FormDefinition | None, application: dict[str, Any]) -> list[Any]:
    return rules.visible_questions(form, application["answers"]) if form else []


def answer_words(question: Any, answer: Any) -> str:
    """An answer as the check answers page shows it."""
    if answer is None or answer == [] or answer == "":
        return "Not answered"
    kind = question.kind
    if kind == "yes_no":
        return "Yes" if answer else "No"
    if kind in ("single_choice", "multiple_choice"):
        labels = {o.value: o.label for o in question.options}
        return ", ".join(labels.get(a, a) for a in (answer if isinstance(answer, list) else [answer]))
    if kind == "money":
        return money(answer)
    if kind == "date":
        return f"{date.fromisoformat(answer):%-d %B %Y}"
    if kind == "file":
        return str(answer.get("filename", "A file"))
    return str(answer)


def _values(question: Any, answer: Any) -> dict[str, Any]:
    """What the page's fields show for a stored answer."""
    if answer is None:
        return {}
    kind = question.kind
    if kind == "yes_no":
        return {"answer": "yes" if answer else "no"}
    if kind == "money":
        return {"answer": pounds(answer)}
    if kind == "date":
        year, month, day = answer.split("-")
        return {"answer-day": day.lstrip("0"), "answer-month": month.lstrip("0"), "answer-year": year}
    if kind == "multiple_choice":
        return {"answer": answer}
    if kind == "file":
        return {"filename": answer.get("filename")}
    return {"answer": str(answer)}


async def _page(api: Api, application_id: str, question_id: str) -> tuple[dict[str, Any], int | None, Any]:
    read = await api.read("applications", application_path(application_id))
    application = read.body
    form = await form_of(api, application)
    question = form.question(question_id) if form else None
    return application, read.version, question


def _render(request: Request, application: dict[str, Any], question: Any, values: dict[str, Any],
            version: int | None, errors: dict[str, str] | None = None, **context: Any) -> Response:  # fmt: skip
    items = [{"value": o.value, "text": o.label} for o in getattr(question, "options", [])]
    file_rules = ""
    if question.kind == "file":
        kinds = [rules.FILE_TYPES[t][0] for t in question.allowed_types]
        file_rules = f"The file must be a {' or '.join(kinds)}, smaller than {rules.size_words(question.max_bytes)}."
    return render(request, "applying/programme_question.jinja", application=application, question=question,
                  values=values, version=version, errors=errors, items=items, file_rules=file_rules,
                  **context)  # fmt: skip


@router.get("/applications/{application_id}/questions/{question_id}", summary="One of the programme's questions")
async def question_page(
    application_id: str, question_id: str, request: Request, api: ApiDep, person: ApplicantPerson
) -> Response:
    return await show_question(request, api, application_id, question_id)


async def show_question(request: Request, api: Api, application_id: str, question_id: str, base: str | None = None,
                        **context: Any) -> Response:  # fmt: skip
    """One of the programme's questions, for the group (under ``/applications/{id}``) or, for an
    assisted draft, the programme team (``base`` is where their pages for it are)."""
    base = base or f"/applications/{application_id}"
    application, version, question = await _page(api, application_id, question_id)
    if question is None:
        return render(request, "errors/not_found.jinja", status_code=404)
    if application["status"] != "draft":
        return see_other(base)
    return _render(request, application, question, _values(question, application["answers"].get(question_id)), version,
                   base=base, **context)  # fmt: skip


@router.post(
    "/applications/{application_id}/questions/{question_id}", summary="Save an answer to one of the programme's questions",
    dependencies=[CsrfChecked],
)  # fmt: skip
async def answer_question(
    application_id: str, question_id: str, request: Request, api: ApiDep, person: ApplicantPerson
) -> Response:
    return await save_question(request, api, application_id, question_id)


async def save_question(request: Request, api: Api, application_id: str, question_id: str, base: str | None = None,
                        **context: Any) -> Response:  # fmt: skip
    base = base or f"/applications/{application_id}"
    application, current, question = await _page(api, application_id, question_id)
    if question is None:
        return render(request, "errors/not_found.jinja", status_code=404)
    form = await request.form()
    version = str(form.get("version", ""))
    version_sent = int(version) if version.isdigit() else current
    if question.kind == "file":
        return await _upload(request, api, application, question, form.get("answer"), version_sent, base, context)
    values: dict[str, Any] = {name: str(form.get(name, "") or "") for name in ("answer", *(f"answer-{p}" for p in PARTS))}
    if question.kind == "multiple_choice":
        values["answer"] = [str(v) for v in form.getlist("answer")]
    answer = _typed(question, values)
    if answer is None and question.required:
        answer = _Problem("Select an answer" if question.kind in rules.CHOICE_KINDS else "Answer the question")
    if isinstance(answer, _Problem):
        return _render(request, application, question, values, current, {"answer": answer.message}, base=base, **context)
    try:
        await api.put("applications", f"{application_path(application_id)}/answers",
                      {"answers": {question.id: answer}}, version=version_sent)  # fmt: skip
    except ApiError as error:
        if error.status not in (409, 412, 422):
            raise
        return _render(request, application, question, values, current, {"answer": _problem(error)}, base=base,
                       **context)  # fmt: skip
    return see_other(base)


async def _upload(request: Request, api: Api, application: dict[str, Any], question: Any, upload: Any,
                  version: int | None, base: str, context: dict[str, Any]) -> Response:  # fmt: skip
    values = _values(question, application["answers"].get(question.id))
    if not isinstance(upload, UploadFile) or not upload.filename:
        return _render(request, application, question, values, version, {"answer": "Select a file to upload"},
                       base=base, **context)  # fmt: skip
    content = await upload.read(rules.MAX_FILE_BYTES + 1)
    try:
        await api.upload("applications", f"{application_path(application['id'])}/attachments/{question.id}",
                         "file", upload.filename, content, version=version)  # fmt: skip
    except ApiError as error:
        if error.status not in (409, 412, 413, 422):
            raise
        return _render(request, application, question, values, version, {"answer": _problem(error)}, base=base,
                       **context)  # fmt: skip
    return see_other(base)


class _Problem:
    def __init__(self, message: str) -> None:
        self.message = message


def _typed(question: Any, values: dict[str, Any]) -> Any:
    """The answer typed, as the API takes it (None when left blank), or what is wrong with it."""
    kind, text = question.kind, values["answer"]
    if kind == "multiple_choice":
        return text or None
    if kind == "date":
        parts = [values[f"answer-{p}"].strip() for p in PARTS]
        if not any(parts):
            return None
        day, month, year = parts
        try:
            return date(int(year), int(month), int(day)).isoformat()
        except ValueError:
            return _Problem("Enter a real date, like 27 3 2027")
    text = text.strip()
    if not text:
        return None
    if kind == "yes_no":
        return text == "yes"
    if kind == "number":
        cleaned = text.replace(",", "")
        if not cleaned.lstrip("-").isdigit():
            return _Problem("Enter a whole number, like 12")
        return int(cleaned)
    if kind == "money":
        amount = forms.money(text, question.currency, "the amount")
        return _Problem(amount) if isinstance(amount, str) else amount.model_dump()
    return text


def _problem(error: ApiError) -> str:
    if error.status == 412:
        return "This application changed while you were answering (perhaps in another tab): check the answer and save again"
    messages = [str(e.get("message", "")) for e in error.field_errors if e.get("message")]
    return messages[0] if messages else error.detail
