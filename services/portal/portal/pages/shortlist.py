"""Shortlisting: a programme manager reads the expressions of interest a programme has had, and
invites each group to the full application or declines it with feedback for the group."""

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from portal.clients import ApiDep, ApiError
from portal.pages.questions import answer_words, form_of
from portal.pages.shared import application_path, programme_path, see_other
from portal.rendering import render
from portal.session import CsrfChecked, ManagerPerson

router = APIRouter(tags=["managing"])


@router.get("/manage/programmes/{programme_id}/interest", summary="A programme's expressions of interest")
async def expressions(programme_id: str, request: Request, api: ApiDep, person: ManagerPerson) -> Response:
    programme = await api.get("applications", programme_path(programme_id))
    waiting = await api.get("applications", "/v1/applications", programme_id=programme["id"],
                            status="interest_submitted", limit=200)  # fmt: skip
    return render(request, "manage/interest_list.jinja", programme=programme, applications=waiting["items"],
                  total=waiting["total"])  # fmt: skip


async def _interest_page(request: Request, api: ApiDep, application_id: str, errors: dict[str, str] | None = None,
                         feedback: str = "") -> Response:  # fmt: skip
    application = await api.get("applications", application_path(application_id))
    programme = await api.get("applications", programme_path(application["programme_id"]))
    answers: list[dict[str, Any]] = []
    if application["stage"] == "expression_of_interest":
        form = await form_of(api, application)
        answers = [{"label": q.label, "words": answer_words(q, application["answers"].get(q.id))}
                   for q in (form.questions if form else [])]  # fmt: skip
    return render(request, "manage/interest.jinja", application=application, programme=programme, answers=answers,
                  errors=errors, feedback=feedback)  # fmt: skip


@router.get("/manage/interest/{application_id}", summary="One expression of interest: invite or decline")
async def interest(application_id: str, request: Request, api: ApiDep, person: ManagerPerson) -> Response:
    return await _interest_page(request, api, application_id)


@router.post("/manage/interest/{application_id}", summary="Invite or decline", dependencies=[CsrfChecked])
async def decide(
    application_id: str, request: Request, api: ApiDep, person: ManagerPerson,
    decision: Annotated[str, Form()] = "", feedback: Annotated[str, Form()] = "",
) -> Response:  # fmt: skip
    if decision not in ("invite", "decline"):
        return await _interest_page(request, api, application_id, {"decision": "Select invite or decline"}, feedback)
    path = "invite" if decision == "invite" else "decline-interest"
    try:
        answered = await api.post("applications", f"{application_path(application_id)}/{path}",
                                  None if decision == "invite" else {"feedback": feedback.strip()})  # fmt: skip
    except ApiError as error:
        if error.status not in (409, 422):
            raise
        return await _interest_page(request, api, application_id, {"decision": error.detail}, feedback)
    return see_other(f"/manage/programmes/{answered['programme_id']}/interest")
