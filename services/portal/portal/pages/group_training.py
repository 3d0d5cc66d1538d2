"""Training for funded groups: the programme manager sets the training each group is offered when
its grant is accepted (the course, who runs it, places per group), sees the share of funded groups
that booked and attended, and records attendance; the group reads its offer and books places,
naming the people coming if it wishes. Everything goes through disbursement's API with the person's
own token."""

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from portal import forms
from portal.clients import Api, ApiDep, ApiError
from portal.pages.shared import programme_path, q, see_other
from portal.rendering import render
from portal.session import ApplicantPerson, CsrfChecked, ManagerPerson

router = APIRouter(tags=["training for funded groups"])

OFFER_FIELDS = ("course", "provider", "places_per_group", "reminder_days")


def _names(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


# --- the group's page -------------------------------------------------------------------------------


@router.get("/grants/{grant_id}/training", summary="The training offered to your group, and your booking")
async def training_page(grant_id: str, request: Request, api: ApiDep, person: ApplicantPerson,
                        booked: bool = False) -> Response:  # fmt: skip
    return await _group(request, api, grant_id, booked=booked)


async def _group(request: Request, api: Api, grant_id: str, errors: dict[str, str] | None = None,
                 values: dict[str, str] | None = None, booked: bool = False) -> Response:  # fmt: skip
    try:
        answer = await api.read("disbursement", f"/v1/grants/{q(grant_id)}/training")
    except ApiError as error:
        if error.status != 404:
            raise
        grant = await api.get("disbursement", f"/v1/grants/{q(grant_id)}")  # 404 too if it is not theirs
        return render(request, "training/group.jinja", grant=grant, training=None)
    training = answer.body
    defaults = {"attendees": str(training.get("attendees") or ""), "names": "\n".join(training.get("names") or [])}
    return render(request, "training/group.jinja", grant={"id": grant_id}, training=training, version=answer.version,
                  values=values or defaults, errors=errors, booked=booked)  # fmt: skip


@router.post("/grants/{grant_id}/training", summary="Book your group's places", dependencies=[CsrfChecked])
async def book(grant_id: str, request: Request, api: ApiDep, person: ApplicantPerson) -> Response:
    values = forms.form_values(await request.form(), "attendees", "names", "version", "training_id")
    errors: dict[str, str] = {}
    attendees = forms.whole_number(values["attendees"], "how many people are coming", 1, 100)
    if isinstance(attendees, str):
        errors["attendees"] = attendees
    if not errors:
        version = int(values["version"]) if values["version"].isdigit() else None
        try:
            await api.post("disbursement", f"/v1/training/{q(values['training_id'])}/booking",
                           {"attendees": attendees, "names": _names(values["names"])}, version=version)  # fmt: skip
            return see_other(f"/grants/{q(grant_id)}/training?booked=true")
        except ApiError as error:
            if error.status == 412:
                errors["attendees"] = "Your booking changed in another window: check it and book again"
            elif error.status in (409, 422):
                errors["attendees"] = forms.field_errors(error, {}, "attendees")["attendees"]
            else:
                raise
    return await _group(request, api, grant_id, errors=errors, values=values)


# --- the programme manager's page -------------------------------------------------------------------


@router.get("/manage/programmes/{programme_id}/training", summary="Training for funded groups: the offer and who is trained")
async def manage_page(programme_id: str, request: Request, api: ApiDep, person: ManagerPerson,
                      saved: bool = False) -> Response:  # fmt: skip
    return await _manage(request, api, programme_id, saved=saved)


async def _manage(request: Request, api: Api, programme_id: str, errors: dict[str, str] | None = None,
                  values: dict[str, str] | None = None, saved: bool = False) -> Response:  # fmt: skip
    programme = await api.get("scoring", programme_path(programme_id))
    offer = (await api.get("disbursement", f"{programme_path(programme_id)}/training-offer"))["offer"]
    share = await api.get("disbursement", f"{programme_path(programme_id)}/training-share")
    groups = await api.get("disbursement", f"{programme_path(programme_id)}/training", limit=200)
    defaults = {name: str((offer or {}).get(name, "")) for name in OFFER_FIELDS}
    if offer is None:
        defaults["reminder_days"] = "14"
    return render(request, "training/manage.jinja", programme=programme, offer=offer, share=share,
                  groups=groups["items"], total=groups["total"], values=values or defaults, errors=errors,
                  saved=saved, width="full")  # fmt: skip


@router.post("/manage/programmes/{programme_id}/training", summary="Set the training offer", dependencies=[CsrfChecked])
async def set_offer(programme_id: str, request: Request, api: ApiDep, person: ManagerPerson) -> Response:
    values = forms.form_values(await request.form(), *OFFER_FIELDS)
    errors: dict[str, str] = {}
    if not values["course"].strip():
        errors["course"] = "Enter the name of the course"
    if not values["provider"].strip():
        errors["provider"] = "Enter who runs the course"
    places = forms.whole_number(values["places_per_group"], "the number of places for each group", 1, 100)
    if isinstance(places, str):
        errors["places_per_group"] = places
    reminder = forms.whole_number(values["reminder_days"], "the number of days before the reminder", 0, 365)
    if isinstance(reminder, str):
        errors["reminder_days"] = reminder
    if not errors:
        body: dict[str, Any] = {"course": values["course"].strip(), "provider": values["provider"].strip(),
                                "places_per_group": places, "reminder_days": reminder}  # fmt: skip
        await api.put("disbursement", f"{programme_path(programme_id)}/training-offer", body)
        return see_other(f"/manage/programmes/{q(programme_id)}/training?saved=true")
    return await _manage(request, api, programme_id, errors=errors, values=values)


@router.post("/manage/programmes/{programme_id}/training/{training_id}/attendance",
             summary="Record how many of a group's places were attended", dependencies=[CsrfChecked])  # fmt: skip
async def record_attendance(programme_id: str, training_id: str, request: Request, api: ApiDep,
                            person: ManagerPerson) -> Response:  # fmt: skip
    values = forms.form_values(await request.form(), "attended")
    field = f"attended-{training_id}"
    attended = forms.whole_number(values["attended"], "how many attended", 0, 100)
    if isinstance(attended, str):
        return await _manage(request, api, programme_id, errors={field: attended})
    try:
        await api.post("disbursement", f"/v1/training/{q(training_id)}/attendance", {"attended": attended})
    except ApiError as error:
        if error.status not in (409, 422):
            raise
        return await _manage(request, api, programme_id, errors={field: forms.field_errors(error, {}, field)[field]})
    return see_other(f"/manage/programmes/{q(programme_id)}/training")
