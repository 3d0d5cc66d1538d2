"""Panel members supported: a member keeps their own profile (the name they like to be called, how to
reach them, their access needs) and sees the courses recorded for them; a programme manager sees the
panel's access needs and training when planning a meeting, records a course a member completed, and
sets the courses the programme requires before a member scores or votes. Everything goes through
scoring's API with the person's own token: scoring answers a member's profile only to them and to
managers."""

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from portal import forms
from portal.clients import Api, ApiDep, ApiError
from portal.pages.programme_form import _day as typed_date
from portal.pages.shared import programme_path, q, see_other
from portal.rendering import render
from portal.session import CsrfChecked, ManagerPerson, ReviewerPerson

router = APIRouter(tags=["panel members"])

ACCESS_NEEDS = {"large_print": "Large print", "bsl_interpreter": "A British Sign Language (BSL) interpreter",
                "captions": "Captions on video calls", "step_free_access": "Step-free access",
                "breaks": "Regular breaks"}  # fmt: skip
COURSES = {"panel_induction": "Panel induction", "safeguarding": "Safeguarding", "bias_awareness": "Bias awareness",
           "suicide_awareness": "Suicide awareness", "data_protection": "Data protection"}  # fmt: skip
PROFILE_FIELDS = ("preferred_name", "email", "phone", "access_notes")
DATE_PARTS = ("completed-day", "completed-month", "completed-year")


def profile_path(member_id: str) -> str:
    return f"/v1/members/{q(member_id)}/profile"


# --- the member's own pages -------------------------------------------------------------------------


@router.get("/panel/profile", summary="Your profile: the name you like, how to reach you, your access needs")
async def profile_page(request: Request, api: ApiDep, person: ReviewerPerson, saved: bool = False) -> Response:
    answer = await api.read("scoring", profile_path(person.subject))
    profile = answer.body
    values = {name: profile.get(name) or "" for name in PROFILE_FIELDS} | {"access_needs": profile["access_needs"]}
    return render(request, "panel_support/profile.jinja", values=values, version=answer.version, saved=saved,
                  access_needs=ACCESS_NEEDS)  # fmt: skip


@router.post("/panel/profile", summary="Save your profile", dependencies=[CsrfChecked])
async def save_profile(request: Request, api: ApiDep, person: ReviewerPerson) -> Response:
    form = await request.form()
    values: dict[str, Any] = forms.form_values(form, *PROFILE_FIELDS, "version")
    values["access_needs"] = [str(v) for v in form.getlist("access_needs") if str(v) in ACCESS_NEEDS]
    version = int(values["version"]) if values["version"].isdigit() else None
    body = {name: values[name].strip() or None for name in PROFILE_FIELDS} | {"access_needs": values["access_needs"]}
    try:
        await api.put("scoring", profile_path(person.subject), body, version=version)
        return see_other("/panel/profile?saved=true")
    except ApiError as error:
        if error.status == 412:
            errors = {"preferred_name": "Your profile changed in another window: check it and save again"}
            version = (await api.read("scoring", profile_path(person.subject))).version
        elif error.status == 422:
            errors = forms.field_errors(error, {"email": "email", "phone": "phone", "preferred_name": "preferred_name",
                                                "access_notes": "access_notes"}, "preferred_name")  # fmt: skip
            errors = {k: _plain(k, v) for k, v in errors.items()}
        else:
            raise
    return render(request, "panel_support/profile.jinja", values=values, version=version, errors=errors,
                  access_needs=ACCESS_NEEDS)  # fmt: skip


def _plain(field: str, message: str) -> str:
    """The API's pattern errors, in words people use."""
    if field == "email" and "pattern" in message:
        return "Enter an email address in the correct format, like name@example.com"
    if field == "phone" and "pattern" in message:
        return "Enter a phone number, like 07700 900 982"
    return message


@router.get("/panel/training", summary="The courses you have completed")
async def training_page(request: Request, api: ApiDep, person: ReviewerPerson) -> Response:
    records = await api.get("scoring", f"/v1/members/{q(person.subject)}/training")
    completed = {r["course"] for r in records}
    # What each of their panels still asks of them, so nobody wonders why no reviews come.
    programmes = (await api.get("scoring", "/v1/programmes", limit=100))["items"]
    still_needed = [
        {"programme": p["name"], "courses": [COURSES[c] for c in p["required_courses"] if c not in completed]}
        for p in programmes if any(c not in completed for c in p.get("required_courses") or [])
    ]  # fmt: skip
    return render(request, "panel_support/training.jinja", records=records, still_needed=still_needed)


# --- the manager's pages ----------------------------------------------------------------------------


@router.get("/manage/programmes/{programme_id}/panel-support", summary="The panel's access needs and training")
async def members_page(programme_id: str, request: Request, api: ApiDep, person: ManagerPerson,
                       recorded: bool = False, required: bool = False) -> Response:  # fmt: skip
    return await _members(request, api, programme_id, notice="recorded" if recorded else "required" if required else None)


async def _members(
    request: Request, api: Api, programme_id: str, errors: dict[str, str] | None = None,
    values: dict[str, Any] | None = None, notice: str | None = None,
) -> Response:  # fmt: skip
    answer = await api.read("scoring", programme_path(programme_id))
    members = await api.get("scoring", f"{programme_path(programme_id)}/members")
    defaults = {"member_id": "", "course": "", **dict.fromkeys(DATE_PARTS, "")}
    return render(request, "panel_support/members.jinja", programme=answer.body, version=answer.version,
                  members=members["members"], required=members["required_courses"], courses=COURSES,
                  access_needs=ACCESS_NEEDS, values=defaults | (values or {}), errors=errors, notice=notice,
                  width="full")  # fmt: skip


@router.post("/manage/programmes/{programme_id}/panel-support/training", summary="Record a course a member completed",
             dependencies=[CsrfChecked])  # fmt: skip
async def record_course(programme_id: str, request: Request, api: ApiDep, person: ManagerPerson) -> Response:
    values = forms.form_values(await request.form(), "member_id", "course", *DATE_PARTS)
    errors: dict[str, str] = {}
    if not values["member_id"]:
        errors["member_id"] = "Select the panel member who completed the course"
    if values["course"] not in COURSES:
        errors["course"] = "Select the course they completed"
    completed_on = typed_date(values, "completed", "date they completed it")
    if isinstance(completed_on, str):
        errors["completed-day"] = completed_on
    if not errors:
        body = {"course": values["course"], "completed_on": completed_on.isoformat()}  # type: ignore[union-attr]
        try:
            await api.post("scoring", f"/v1/members/{q(values['member_id'])}/training", body)
            return see_other(f"/manage/programmes/{q(programme_id)}/panel-support?recorded=true")
        except ApiError as error:
            if error.status != 422:
                raise
            errors["completed-day"] = forms.field_errors(error, {}, "completed-day")["completed-day"]
    return await _members(request, api, programme_id, errors=errors, values=values)


@router.post("/manage/programmes/{programme_id}/panel-support/required-courses",
             summary="Set the courses panel members need before they score or vote", dependencies=[CsrfChecked])  # fmt: skip
async def set_required(programme_id: str, request: Request, api: ApiDep, person: ManagerPerson) -> Response:
    form = await request.form()
    courses = [str(c) for c in form.getlist("courses") if str(c) in COURSES]
    version = str(form.get("version", ""))
    try:
        await api.put("scoring", f"{programme_path(programme_id)}/required-courses", {"courses": courses},
                      version=int(version) if version.isdigit() else None)  # fmt: skip
    except ApiError as error:
        if error.status not in (412, 428):
            raise
        return await _members(request, api, programme_id, errors={
            "courses": "Someone changed the programme while you were choosing: check and save again"})
    return see_other(f"/manage/programmes/{q(programme_id)}/panel-support?required=true")
