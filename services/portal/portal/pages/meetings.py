"""The panel decides, in meetings: the manager sets how the programme decides (its decision panel of
experts by experience and staff, the quorum, majority or consensus, or delegation to a role), calls a
meeting on applications from the ranking with the members present, watches the tally and closes each
item once the rule is met. A panel member sees the meetings they are on and records a recommendation
on each item, unless they are recused from it (a conflict of interest they declared), which the page
says. Everything goes through scoring's API with the person's own token."""

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from grants_shared.auth import Caller, Role
from portal import forms
from portal.clients import Api, ApiDep, ApiError
from portal.pages.decisions import whole_ranking
from portal.pages.panel_support import ACCESS_NEEDS
from portal.pages.programme_form import _day as typed_date
from portal.pages.shared import programme_path, q, see_other
from portal.rendering import render
from portal.session import CsrfChecked, ManagerPerson, needs
from portal.words import pounds

router = APIRouter(tags=["meetings"])

PanelPerson = Annotated[Caller, Depends(needs(Role.REVIEWER))]
METHODS = {"majority": "By a majority of the votes cast", "consensus": "By consensus: every vote cast agrees",
           "delegated": "Delegated: one person with a named role decides"}  # fmt: skip
ROLES = {"programme_manager": "A programme manager", "admin": "An administrator"}
RECOMMENDATIONS = {"fund": "Fund", "fund_different_amount": "Fund a different amount",
                   "do_not_fund": "Do not fund", "abstain": "Abstain"}  # fmt: skip
DATE_PARTS = ("held-day", "held-month", "held-year")


def meeting_path(meeting_id: str) -> str:
    return f"/v1/meetings/{q(meeting_id)}"


def _ids(text: str) -> list[str]:
    return list(dict.fromkeys(line.strip() for line in text.replace(",", "\n").splitlines() if line.strip()))


def _sentence(text: str) -> str:
    text = text.removeprefix("Value error, ").strip()
    return text[:1].upper() + text[1:]


# --- how the programme decides ----------------------------------------------------------------------


@router.get("/manage/programmes/{programme_id}/decision-rule", summary="How the programme decides")
async def rule_page(programme_id: str, request: Request, api: ApiDep, person: ManagerPerson) -> Response:
    answer = await api.read("scoring", programme_path(programme_id))
    programme, rule = answer.body, answer.body.get("decision_rule") or {}
    members = rule.get("members") or []
    values = {
        "method": rule.get("method", ""), "delegated_to": rule.get("delegated_to") or "",
        "experts": "\n".join(m["member_id"] for m in members if m["kind"] == "expert_by_experience"),
        "staff": "\n".join(m["member_id"] for m in members if m["kind"] == "staff"),
        "quorum_members": str((rule.get("quorum") or {}).get("members", "")),
        "quorum_experts": str((rule.get("quorum") or {}).get("experts", "")),
    }  # fmt: skip
    return render(request, "meetings/rule.jinja", programme=programme, values=values, version=answer.version,
                  methods=METHODS, roles=ROLES)  # fmt: skip


@router.post("/manage/programmes/{programme_id}/decision-rule", summary="Set how the programme decides",
             dependencies=[CsrfChecked])  # fmt: skip
async def set_rule(programme_id: str, request: Request, api: ApiDep, person: ManagerPerson) -> Response:
    values = forms.form_values(await request.form(), "method", "delegated_to", "experts", "staff", "quorum_members",
                               "quorum_experts", "version")  # fmt: skip
    errors: dict[str, str] = {}
    body: dict[str, Any] = {"method": values["method"]}
    if values["method"] == "delegated":
        if values["delegated_to"] in ROLES:
            body["delegated_to"] = values["delegated_to"]
        else:
            errors["delegated_to"] = "Select who decides for the programme"
    elif values["method"] in METHODS:
        members = [{"member_id": m, "kind": "expert_by_experience"} for m in _ids(values["experts"])]
        members += [{"member_id": m, "kind": "staff"} for m in _ids(values["staff"])]
        if not members:
            errors["experts"] = "Enter the sign-in ids of the panel members who decide"
        body["members"] = members
        quorum_members = forms.whole_number(values["quorum_members"], "the number of members needed", 1, 50)
        quorum_experts = forms.whole_number(values["quorum_experts"], "the number of experts by experience needed", 0, 50)
        if isinstance(quorum_members, str):
            errors["quorum_members"] = quorum_members
        if isinstance(quorum_experts, str):
            errors["quorum_experts"] = quorum_experts
        body["quorum"] = {"members": quorum_members, "experts": quorum_experts}
    else:
        errors["method"] = "Select how the programme decides"
    version = int(values["version"]) if values["version"].isdigit() else None
    if not errors:
        try:
            await api.put("scoring", f"{programme_path(programme_id)}/decision-rule", body, version=version)
            return see_other(f"/manage/programmes/{q(programme_id)}/meetings")
        except ApiError as error:
            if error.status not in (412, 422, 428):
                raise
            errors = {"method": "Someone changed the programme while you were editing: check and save again"
                      if error.status in (412, 428) else _sentence(error.detail)}  # fmt: skip
    programme = await api.get("scoring", programme_path(programme_id))
    return render(request, "meetings/rule.jinja", programme=programme, values=values, version=version,
                  methods=METHODS, roles=ROLES, errors=errors)  # fmt: skip


# --- calling a meeting ------------------------------------------------------------------------------


@router.get("/manage/programmes/{programme_id}/meetings", summary="The programme's decision meetings")
async def meetings_page(programme_id: str, request: Request, api: ApiDep, person: ManagerPerson) -> Response:
    return await _meetings(request, api, programme_id)


async def _meetings(
    request: Request, api: Api, programme_id: str, errors: dict[str, str] | None = None,
    values: dict[str, Any] | None = None,
) -> Response:  # fmt: skip
    programme = await api.get("scoring", programme_path(programme_id))
    listed = await api.get("scoring", f"{programme_path(programme_id)}/meetings", limit=100)
    ready = [e async for e in whole_ranking(api, programme_id) if e["status"] == "scored"]
    rule = programme.get("decision_rule")
    members = [m["member_id"] for m in (rule or {}).get("members") or []]
    today = date.today()
    defaults = {"held-day": str(today.day), "held-month": str(today.month), "held-year": str(today.year),
                "applications": [], "attendance": members}  # fmt: skip
    return render(request, "meetings/meetings.jinja", programme=programme, rule=rule, meetings=listed["items"],
                  ready=ready, members=members, values=defaults | (values or {}), errors=errors,
                  methods=METHODS)  # fmt: skip


@router.post("/manage/programmes/{programme_id}/meetings", summary="Call a decision meeting",
             dependencies=[CsrfChecked])  # fmt: skip
async def call_meeting(programme_id: str, request: Request, api: ApiDep, person: ManagerPerson) -> Response:
    form = await request.form()
    values: dict[str, Any] = forms.form_values(form, *DATE_PARTS)
    values["applications"] = [str(v) for v in form.getlist("applications")]
    values["attendance"] = [str(v) for v in form.getlist("attendance")]
    errors: dict[str, str] = {}
    held_on = typed_date({"held-day": values["held-day"], "held-month": values["held-month"],
                    "held-year": values["held-year"]}, "held", "date of the meeting")  # fmt: skip
    if isinstance(held_on, str):
        errors["held-day"] = held_on
    if not values["applications"]:
        errors["applications"] = "Select at least one application for the meeting to decide"
    if not errors:
        body = {"held_on": held_on.isoformat(), "application_ids": values["applications"],  # type: ignore[union-attr]
                "attendance": values["attendance"]}  # fmt: skip
        try:
            meeting = await api.post("scoring", f"{programme_path(programme_id)}/meetings", body)
            return see_other(f"/manage/meetings/{q(meeting['id'])}")
        except ApiError as error:
            if error.status not in (409, 422):
                raise
            errors = {"applications": _sentence(error.detail)}
    return await _meetings(request, api, programme_id, errors=errors, values=values)


# --- a meeting, as its chair sees it ----------------------------------------------------------------


@router.get("/manage/meetings/{meeting_id}", summary="A decision meeting: tallies, recusals, what each item needs")
async def manager_meeting(meeting_id: str, request: Request, api: ApiDep, person: ManagerPerson) -> Response:
    meeting = await api.get("scoring", meeting_path(meeting_id))
    programme = await api.get("scoring", programme_path(meeting["programme_id"]))
    # What the meeting's members need to take part (an interpreter, step-free access...), to plan it.
    members = await api.get("scoring", f"{programme_path(meeting['programme_id'])}/members")
    deciding = {m["member_id"] for m in meeting["rule"]["members"] or []}
    needs = [m for m in members["members"] if m["member_id"] in deciding and m["profile"]
             and (m["profile"]["access_needs"] or m["profile"]["access_notes"])]  # fmt: skip
    return render(request, "meetings/manage_meeting.jinja", meeting=meeting, programme=programme, width="full",
                  methods=METHODS, recommendations=RECOMMENDATIONS, needs=needs, access_needs=ACCESS_NEEDS)  # fmt: skip


@router.get("/manage/meetings/{meeting_id}/items/{application_id}", summary="One item: recommendations and closing")
async def manager_item(meeting_id: str, application_id: str, request: Request, api: ApiDep,
                       person: ManagerPerson) -> Response:  # fmt: skip
    return await _manager_item(request, api, meeting_id, application_id)


async def _manager_item(
    request: Request, api: Api, meeting_id: str, application_id: str, errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
) -> Response:  # fmt: skip
    meeting = await api.get("scoring", meeting_path(meeting_id))
    item = next((i for i in meeting["items"] if i["application_id"] == application_id), None)
    if item is None:
        return render(request, "manage/cannot_see.jinja", status_code=404)
    return render(request, "meetings/manage_item.jinja", meeting=meeting, item=item, errors=errors,
                  values=values or {"rationale": "", "feedback": ""}, recommendations=RECOMMENDATIONS)  # fmt: skip


@router.post("/manage/meetings/{meeting_id}/items/{application_id}/close", summary="Close an item",
             dependencies=[CsrfChecked])  # fmt: skip
async def close_item(meeting_id: str, application_id: str, request: Request, api: ApiDep,
                     person: ManagerPerson) -> Response:  # fmt: skip
    values = forms.form_values(await request.form(), "rationale", "feedback")
    errors: dict[str, str] = {}
    if not values["rationale"].strip():
        errors["rationale"] = "Enter the panel's reasons for its decision"
    if not errors:
        try:
            await api.post("scoring", f"{meeting_path(meeting_id)}/items/{q(application_id)}/close",
                           {"rationale": values["rationale"].strip(), "feedback": values["feedback"].strip()})
            return see_other(f"/manage/meetings/{q(meeting_id)}/items/{q(application_id)}")
        except ApiError as error:
            if error.status not in (409, 422):
                raise
            target = "feedback" if "feedback" in error.detail else "rationale"
            errors = {target: _sentence(error.detail)}
    return await _manager_item(request, api, meeting_id, application_id, errors=errors, values=values)


# --- a panel member's meetings ----------------------------------------------------------------------


@router.get("/panel/meetings", summary="The decision meetings you are on")
async def member_meetings(request: Request, api: ApiDep, person: PanelPerson) -> Response:
    programmes = await api.get("scoring", "/v1/programmes", limit=100)
    found = []
    for programme in programmes["items"]:
        listed = await api.get("scoring", f"{programme_path(programme['id'])}/meetings", limit=100)
        found += [{**m, "programme_name": programme["name"]} for m in listed["items"]]
    return render(request, "meetings/member_meetings.jinja", meetings=found, width="full")


@router.get("/panel/meetings/{meeting_id}", summary="A decision meeting you are on")
async def member_meeting(meeting_id: str, request: Request, api: ApiDep, person: PanelPerson) -> Response:
    meeting = await api.get("scoring", meeting_path(meeting_id))
    return render(request, "meetings/member_meeting.jinja", meeting=meeting, width="full",
                  present=person.subject in meeting["attendance"], recommendations=RECOMMENDATIONS)  # fmt: skip


@router.get("/panel/meetings/{meeting_id}/items/{application_id}", summary="Record your recommendation")
async def member_item(meeting_id: str, application_id: str, request: Request, api: ApiDep,
                      person: PanelPerson) -> Response:  # fmt: skip
    return await _member_item(request, api, person, meeting_id, application_id)


async def _member_item(
    request: Request, api: Api, person: Caller, meeting_id: str, application_id: str,
    errors: dict[str, str] | None = None, values: dict[str, str] | None = None,
) -> Response:  # fmt: skip
    meeting = await api.get("scoring", meeting_path(meeting_id))
    item = next((i for i in meeting["items"] if i["application_id"] == application_id), None)
    if item is None:
        return render(request, "manage/cannot_see.jinja", status_code=404)
    own = item.get("your_recommendation") or {}
    defaults = {"recommendation": own.get("recommendation", ""), "reason": own.get("reason", ""),
                "amount": pounds(own.get("amount")), "may_be_named": "yes" if own.get("may_be_named") else ""}  # fmt: skip
    return render(request, "meetings/member_item.jinja", meeting=meeting, item=item, errors=errors,
                  present=person.subject in meeting["attendance"], values=values or defaults,
                  recommendations=RECOMMENDATIONS)  # fmt: skip


@router.post("/panel/meetings/{meeting_id}/items/{application_id}/recommendation",
             summary="Record your recommendation", dependencies=[CsrfChecked])  # fmt: skip
async def record(meeting_id: str, application_id: str, request: Request, api: ApiDep,
                 person: PanelPerson) -> Response:  # fmt: skip
    values = forms.form_values(await request.form(), "recommendation", "amount", "reason", "may_be_named", "currency")
    errors: dict[str, str] = {}
    body: dict[str, Any] = {"recommendation": values["recommendation"], "reason": values["reason"].strip(),
                            "may_be_named": values["may_be_named"] == "yes"}  # fmt: skip
    if values["recommendation"] not in RECOMMENDATIONS:
        errors["recommendation"] = "Select your recommendation"
    elif values["recommendation"] == "fund_different_amount":
        amount = forms.money(values["amount"], values["currency"] or "GBP", "the amount you would fund")
        if isinstance(amount, str):
            errors["amount"] = amount
        else:
            body["amount"] = amount.model_dump()
    if not errors:
        try:
            await api.put("scoring", f"{meeting_path(meeting_id)}/items/{q(application_id)}/recommendation", body)
            return see_other(f"/panel/meetings/{q(meeting_id)}")
        except ApiError as error:
            if error.status not in (403, 409, 422):
                raise
            target = "amount" if values["recommendation"] == "fund_different_amount" and error.status == 422 else "recommendation"
            errors = {target: _sentence(error.detail)}
    return await _member_item(request, api, person, meeting_id, application_id, errors=errors, values=values)
