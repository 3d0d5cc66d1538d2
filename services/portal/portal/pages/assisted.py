"""Assisted applications: a programme manager starts an application on behalf of a group that asked
for help, with the group's consent recorded (who gave it, how, when), then fills it in and submits it
on the same question pages, task list and check answers page the group itself uses (``applying`` and
``questions``, under ``/manage/assisted/{id}``). The application is marked as assisted wherever it is
shown, and the group's own people can take it over (a confirm page, then a POST): from then on it is
theirs alone and the team can no longer change it.

The applications service decides what the team may do (``own_application``: a manager acts only on an
assisted application not yet taken over); these pages only read and send what people typed.
"""

import re
from datetime import UTC, date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from grants_shared.events import ID_MAX_LENGTH, ID_PATTERN
from portal import forms
from portal.clients import Api, ApiDep, ApiError
from portal.pages.applying import base_of as applicant_base, question_page, save_answer, tasks_of
from portal.pages.organisation import GROUP_WORDS, KINDS, profile_from, profile_of
from portal.pages.questions import form_of, save_question, show_question, shown
from portal.pages.shared import application_path, programme_path, q, see_other
from portal.rendering import render
from portal.session import ApplicantPerson, CsrfChecked, ManagerPerson

router = APIRouter(tags=["assisted"])

#: How a group can give its consent (the applications service's ConsentMethod), as the form says it.
METHODS = {
    "in_person": "In person",
    "phone": "By phone",
    "video_call": "By video call",
    "email": "By email",
    "letter": "By letter",
}
PROFILE = ("name", "kind", "area", "annual_income", "charity_number", "company_number")
FIELDS = ("title", "contact_name", "contact_email", "consent_given_by", "consent_method",
          "consent-day", "consent-month", "consent-year", *PROFILE)  # fmt: skip
#: Where the API's 422 points (its location in the body), as the form's fields.
API_FIELDS = {"title": "title", "contact.name": "contact_name", "contact.email": "contact_email",
              "consent.given_by": "consent_given_by", "consent.method": "consent_method",
              "consent.given_at": "consent-day", "consent": "consent-day",
              **{f"organisation.{name}": name for name in PROFILE}}  # fmt: skip


def team_base(application_id: str) -> str:
    """Where the programme team's pages for an assisted application live."""
    return f"/manage/assisted/{q(application_id)}"


# --- the programme's assisted applications, and starting one ----------------------------------------


@router.get("/manage/programmes/{programme_id}/assisted", summary="Applications the team started for groups")
async def assisted_list(programme_id: str, request: Request, api: ApiDep, person: ManagerPerson) -> Response:
    programme = await api.get("applications", programme_path(programme_id))
    listed = await api.get("applications", "/v1/applications", programme_id=programme["id"], limit=100)
    started = [a for a in listed["items"] if a["assisted"]]
    return render(request, "assisted/list.jinja", programme=programme, applications=started,
                  more=listed["total"] > len(listed["items"]), width="full")  # fmt: skip


@router.get("/manage/programmes/{programme_id}/assisted/new",
            summary="Start an application for a group: which group, then its consent and the project")  # fmt: skip
async def start_page(
    programme_id: str, request: Request, api: ApiDep, person: ManagerPerson, organisation: str | None = None
) -> Response:
    programme = await api.get("applications", programme_path(programme_id))
    if organisation is None:  # the first step: which group
        return render(request, "assisted/start.jinja", programme=programme, values={"organisation": ""})
    organisation = organisation.strip()
    if not _an_id(organisation):
        return render(request, "assisted/start.jinja", programme=programme, values={"organisation": organisation},
                      errors={"organisation": _ID_WORDS})  # fmt: skip
    profile, _ = await profile_of(api, organisation)
    values = dict.fromkeys(FIELDS, "") | {"organisation": organisation}
    return _form(request, programme, profile, values)


@router.post("/manage/programmes/{programme_id}/assisted/new", summary="Start the draft, recording the group's consent",
             dependencies=[CsrfChecked])  # fmt: skip
async def start(
    programme_id: str, request: Request, api: ApiDep, person: ManagerPerson, organisation: Annotated[str, Form()] = ""
) -> Response:
    programme = await api.get("applications", programme_path(programme_id))
    organisation = organisation.strip()
    if not _an_id(organisation):
        return render(request, "assisted/start.jinja", programme=programme, values={"organisation": organisation},
                      errors={"organisation": _ID_WORDS})  # fmt: skip
    profile, _ = await profile_of(api, organisation)
    values = forms.form_values(await request.form(), *FIELDS) | {"organisation": organisation}
    body, errors = _draft(programme, organisation, values, with_profile=profile is None)
    if not errors:
        try:
            created = await api.post("applications", "/v1/applications/assisted", body)
            return see_other(team_base(created["id"]))
        except ApiError as error:
            if error.status not in (409, 422):
                raise
            errors = _api_errors(error)
    return _form(request, programme, profile, values, errors)


def _api_errors(error: ApiError) -> dict[str, str]:
    """The API's refusal beside the fields it names (the group's contact and its profile both have a
    ``name``, so the whole location is read); anything else on the title, in the API's own words."""
    errors: dict[str, str] = {}
    for problem in error.field_errors:
        location = ".".join(str(part) for part in problem.get("location", []) if part != "body")
        field = API_FIELDS.get(location) or API_FIELDS.get(location.split(".")[0])
        if field and field not in errors:
            errors[field] = _sentence(str(problem.get("message", "")))
    return errors or {"title": _sentence(error.detail)}


def _sentence(text: str) -> str:
    text = text.removeprefix("Value error, ").strip()
    return text[:1].upper() + text[1:] if text else "Check this answer"


_ID_WORDS = ("Enter the group's reference as the sign-in service gives it, with no spaces, "
             "like org-harrow-mens-shed")


def _an_id(text: str) -> bool:
    return 0 < len(text) <= ID_MAX_LENGTH and re.match(ID_PATTERN, text) is not None


def _form(request: Request, programme: dict[str, Any], profile: dict[str, Any] | None, values: dict[str, str],
          errors: dict[str, str] | None = None) -> Response:  # fmt: skip
    return render(request, "assisted/start.jinja", programme=programme, profile=profile, values=values,
                  methods=METHODS, kinds=KINDS, asking=True, today=date.today(), errors=errors)  # fmt: skip


def _draft(programme: dict[str, Any], organisation: str, values: dict[str, str],
           with_profile: bool) -> tuple[dict[str, Any], dict[str, str]]:  # fmt: skip
    """The API's AssistedApplicationDraft from the form, or what is wrong with the form."""
    errors: dict[str, str] = {}
    currency = programme["budget"]["currency"]
    if not values["title"].strip():
        errors["title"] = "Enter the name of the group's project"
    if not values["contact_name"].strip():
        errors["contact_name"] = "Enter the name of the person in the group we should contact"
    if "@" not in values["contact_email"]:
        errors["contact_email"] = "Enter the contact's email address in the correct format, like name@example.org"
    if not values["consent_given_by"].strip():
        errors["consent_given_by"] = "Enter the name of the person in the group who gave consent"
    if values["consent_method"] not in METHODS:
        errors["consent_method"] = "Select how the group gave its consent"
    given = _consent_date(values)
    if isinstance(given, str):
        errors["consent-day"] = given
    profile: dict[str, Any] | None = None
    if with_profile:
        profile, problems = profile_from(values, GROUP_WORDS)
        errors |= problems
    if errors:
        return {}, errors
    body = {
        "programme_id": programme["id"], "organisation_id": organisation, "title": values["title"].strip(),
        "amount_requested": {"amount": 0, "currency": currency},
        "contact": {"name": values["contact_name"].strip(), "email": values["contact_email"].strip()},
        "consent": {"given_by": values["consent_given_by"].strip(), "method": values["consent_method"],
                    "given_at": given.isoformat()},  # type: ignore[union-attr]
    }  # fmt: skip
    if profile is not None:
        body["organisation"] = profile
    return body, {}


def _consent_date(values: dict[str, str]) -> datetime | str:
    """The day consent was given, as the start of that day in UTC (the API refuses a time in the future)."""
    parts = [values[f"consent-{p}"].strip() for p in ("day", "month", "year")]
    if not any(parts):
        return "Enter the date the group gave its consent"
    try:
        day = date(int(parts[2]), int(parts[1]), int(parts[0]))
    except ValueError:
        return "Enter the date consent was given as a real date, like 27 11 2026"
    if day > datetime.now(UTC).date():
        return "The date consent was given must be today or in the past"
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


# --- filling it in and submitting it, on the group's own pages --------------------------------------


async def _read(api: Api, application_id: str) -> dict[str, Any]:
    return await api.get("applications", application_path(application_id))


async def _not_the_teams(api: Api, application_id: str) -> Response | None:
    """Where to send the team from a question page of an application they may no longer change (taken
    over by the group, sent, or never assisted): its own page, which says why."""
    application = await _read(api, application_id)
    assistance = application["assistance"]
    if application["status"] == "draft" and assistance is not None and assistance["taken_over_at"] is None:
        return None
    return see_other(team_base(application_id))


def _team(application_id: str, back: dict[str, str] | None = None) -> dict[str, Any]:
    return {"team": {"back": back or {"href": team_base(application_id), "text": "Back"}},
            "base": team_base(application_id)}  # fmt: skip


@router.get("/manage/assisted/{application_id}",
            summary="An assisted application: its task list while the team fills it in, else where it stands")  # fmt: skip
async def application_page(application_id: str, request: Request, api: ApiDep, person: ManagerPerson) -> Response:
    application = await _read(api, application_id)
    if not application["assisted"]:
        return see_other(f"/manage/applications/{q(application_id)}")
    programme = await api.get("applications", programme_path(application["programme_id"]))
    active = application["assistance"]["taken_over_at"] is None
    if application["status"] == "draft" and active:
        questions = shown(await form_of(api, application), application)
        back = {"href": f"/manage/programmes/{q(programme['id'])}/assisted", "text": "Applications started for groups"}
        return render(request, "applying/task_list.jinja", application=application, programme=programme,
                      tasks=tasks_of(application, questions, team_base(application_id)),
                      **_team(application_id, back))  # fmt: skip
    timeline = await api.get("applications", f"{application_path(application_id)}/timeline")
    return render(request, "assisted/application.jinja", application=application, programme=programme,
                  timeline=timeline, team=True)  # fmt: skip


@router.get("/manage/assisted/{application_id}/submitted", summary="The group's application was sent")
async def submitted(application_id: str, request: Request, api: ApiDep, person: ManagerPerson) -> Response:
    application = await _read(api, application_id)
    return render(request, "applying/submitted.jinja", application=application, **_team(application_id))


@router.get("/manage/assisted/{application_id}/questions/{question_id}", summary="One of the programme's questions")
async def programme_question(
    application_id: str, question_id: str, request: Request, api: ApiDep, person: ManagerPerson
) -> Response:
    return await _not_the_teams(api, application_id) or await (
        show_question(request, api, application_id, question_id, **_team(application_id))
    )


@router.post("/manage/assisted/{application_id}/questions/{question_id}",
             summary="Save the group's answer to one of the programme's questions", dependencies=[CsrfChecked])  # fmt: skip
async def answer_programme_question(
    application_id: str, question_id: str, request: Request, api: ApiDep, person: ManagerPerson
) -> Response:
    return await _not_the_teams(api, application_id) or await (
        save_question(request, api, application_id, question_id, **_team(application_id))
    )


@router.get("/manage/assisted/{application_id}/{question}", summary="One question of the group's draft, or its check page")
async def question(application_id: str, question: str, request: Request, api: ApiDep, person: ManagerPerson) -> Response:
    return await _not_the_teams(api, application_id) or await (
        question_page(request, api, application_id, question, **_team(application_id))
    )


@router.post("/manage/assisted/{application_id}/{question}", summary="Save an answer, or submit from the check page",
             dependencies=[CsrfChecked])  # fmt: skip
async def answer(
    application_id: str, question: str, request: Request, api: ApiDep, person: ManagerPerson,
    version: Annotated[str, Form()] = "",
) -> Response:  # fmt: skip
    return await _not_the_teams(api, application_id) or await (
        save_answer(request, api, application_id, question, version, **_team(application_id))
    )


# --- the group takes it over ---------------------------------------------------------------------------


@router.get("/applications/{application_id}/take-over", summary="Take over an application started for you: are you sure?")
async def take_over_page(application_id: str, request: Request, api: ApiDep, person: ApplicantPerson) -> Response:
    application = await _read(api, application_id)
    if not application["assisted"] or application["assistance"]["taken_over_at"] is not None:
        return see_other(applicant_base(q(application["id"])))
    return render(request, "assisted/take_over.jinja", application=application)


@router.post("/applications/{application_id}/take-over", summary="Take it over", dependencies=[CsrfChecked])
async def take_over(application_id: str, request: Request, api: ApiDep, person: ApplicantPerson) -> Response:
    try:
        await api.post("applications", f"{application_path(application_id)}/take-over")
    except ApiError as error:
        if error.status != 409:
            raise
        application = await _read(api, application_id)
        return render(request, "assisted/take_over.jinja", application=application,
                      errors={"take-over": error.detail[:1].upper() + error.detail[1:]})  # fmt: skip
    return see_other(applicant_base(q(application_id)))
