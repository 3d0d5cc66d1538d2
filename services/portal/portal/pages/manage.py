"""Programme managers run their programmes: every programme with its status; a draft created and
edited on one long form (staff fill it in at one sitting: fieldsets and the error summary keep it
readable; ``programme_form`` reads it); opening and closing after a confirm page; the 360Giving
download of what was awarded; and the conflicts of interest reviewers declare, resolved here.
"""

import asyncio
import re
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from portal import forms
from portal.clients import Api, ApiDep, ApiError
from portal.pages.decisions import ManagerOrPanelPerson, is_manager, scoring_programme
from portal.pages.organisation import KINDS
from portal.pages.programme_form import (
    CRITERIA_ROWS, STALE, api_errors, expressible, fields, form_values, payment_words, plain, programme_terms, rows_of,
)  # fmt: skip
from portal.pages.shared import programme_path, q, see_other
from portal.rendering import render
from portal.session import CsrfChecked, ManagerPerson

router = APIRouter(tags=["managing"])


# --- every programme -----------------------------------------------------------------------------


@router.get("/manage", summary="Every programme (managers), or the programmes whose panel you sit on")
async def programmes(request: Request, api: ApiDep, person: ManagerOrPanelPerson) -> Response:
    if not is_manager(person):
        # A panel member decides from the ranking of the programmes whose panel they sit on.
        panels = await api.get("scoring", "/v1/programmes", limit=100)
        return render(request, "manage/panels.jinja", programmes=panels["items"])
    listed = await api.get("applications", "/v1/programmes", limit=100)
    return render(request, "manage/programmes.jinja", programmes=listed["items"], total=listed["total"])


@router.get("/manage/programmes/new", summary="Create a programme: its terms")
async def new_programme(request: Request, person: ManagerPerson) -> Response:
    values = dict.fromkeys(fields(CRITERIA_ROWS), "") | {"reviewers_per_application": "2", "payment": "single",
                                                          "rows": str(CRITERIA_ROWS), "stages": "one"}  # fmt: skip
    return _form(request, values, kinds=[])


@router.post("/manage/programmes/new", summary="Create the draft", dependencies=[CsrfChecked])
async def create_programme(request: Request, api: ApiDep, person: ManagerPerson) -> Response:
    values, kinds = await _typed(request)
    body, errors = programme_terms(values, kinds, "GBP")
    if not errors:
        try:
            created = await api.post("applications", "/v1/programmes", body)
            return see_other(f"/manage/programmes/{q(created['id'])}")
        except ApiError as error:
            if error.status not in (409, 422):
                raise
            errors = api_errors(error)
    return _form(request, values, kinds, errors=errors)


@router.get("/manage/programmes/{programme_id}/edit", summary="Edit a draft programme")
async def edit_page(programme_id: str, request: Request, api: ApiDep, person: ManagerPerson) -> Response:
    answer = await api.read("applications", programme_path(programme_id))
    programme = answer.body
    if programme["status"] != "draft":
        return see_other(f"/manage/programmes/{q(programme['id'])}")
    values, kinds = form_values(programme)
    return _form(request, values, kinds, programme=programme, version=answer.version)


@router.post("/manage/programmes/{programme_id}/edit", summary="Save the draft", dependencies=[CsrfChecked])
async def edit_programme(
    programme_id: str, request: Request, api: ApiDep, person: ManagerPerson, version: Annotated[str, Form()] = ""
) -> Response:
    programme = await api.get("applications", programme_path(programme_id))
    values, kinds = await _typed(request)
    body, errors = programme_terms(values, kinds, programme["budget"]["currency"], editing=True)
    if not errors:
        try:
            await api.patch("applications", programme_path(programme_id), body,
                            version=int(version) if version.isdigit() else None)  # fmt: skip
            return see_other(f"/manage/programmes/{q(programme['id'])}")
        except ApiError as error:
            if error.status not in (409, 412, 422, 428):
                raise
            errors = api_errors(error)
    return _form(request, values, kinds, programme=programme, version=version, errors=errors)


def _form(
    request: Request, values: dict[str, str], kinds: list[str], programme: dict[str, Any] | None = None,
    version: int | str | None = None, errors: dict[str, str] | None = None,
) -> Response:  # fmt: skip
    # A schedule the form cannot write (not two instalments, the first on acceptance) can be kept as it is.
    policy = programme["payment_policy"] if programme else None
    kept = payment_words(policy) if policy and not expressible(policy) else None
    return render(request, "manage/programme_form.jinja", values=values, kinds=kinds, all_kinds=KINDS, kept=kept,
                  programme=programme, version=version, rows=range(1, rows_of(values) + 1), errors=errors)  # fmt: skip


async def _typed(request: Request) -> tuple[dict[str, str], list[str]]:
    form = await request.form()
    rows = rows_of({"rows": str(form.get("rows") or "")})
    return forms.form_values(form, *fields(rows)), [str(kind) for kind in form.getlist("kinds")]


# --- one programme: its summary, opening and closing ---------------------------------------------------


@router.get("/manage/programmes/{programme_id}", summary="One programme: its terms, and what can be done with it")
async def programme_page(programme_id: str, request: Request, api: ApiDep, person: ManagerPerson) -> Response:
    programme = await api.get("applications", programme_path(programme_id))
    scoring = None if programme["status"] == "draft" else await scoring_programme(api, programme["id"])
    return render(request, "manage/programme.jinja", programme=programme, scoring=scoring, kinds=KINDS,
                  paid=payment_words(programme["payment_policy"]))  # fmt: skip


@router.get("/manage/programmes/{programme_id}/open", summary="Open a programme: are you sure?")
async def open_page(programme_id: str, request: Request, api: ApiDep, person: ManagerPerson) -> Response:
    return await _confirm(request, api, programme_id, "open")


@router.get("/manage/programmes/{programme_id}/close", summary="Close a programme: are you sure?")
async def close_page(programme_id: str, request: Request, api: ApiDep, person: ManagerPerson) -> Response:
    return await _confirm(request, api, programme_id, "close")


@router.post("/manage/programmes/{programme_id}/open", summary="Open it for applications", dependencies=[CsrfChecked])
async def open_programme(
    programme_id: str, request: Request, api: ApiDep, person: ManagerPerson, version: Annotated[str, Form()] = ""
) -> Response:
    return await _change_status(request, api, programme_id, "open", version)


@router.post("/manage/programmes/{programme_id}/close", summary="Close it to new applications",
             dependencies=[CsrfChecked])  # fmt: skip
async def close_programme(
    programme_id: str, request: Request, api: ApiDep, person: ManagerPerson, version: Annotated[str, Form()] = ""
) -> Response:
    return await _change_status(request, api, programme_id, "close", version)


async def _change_status(request: Request, api: Api, programme_id: str, action: str, version: str) -> Response:
    try:
        await api.post("applications", f"{programme_path(programme_id)}/{action}",
                       version=int(version) if version.isdigit() else None)  # fmt: skip
    except ApiError as error:
        if error.status not in (409, 412, 422):
            raise
        words = STALE if error.status == 412 else plain(error.detail)
        return await _confirm(request, api, programme_id, action, errors={"confirm": words})
    return see_other(f"/manage/programmes/{q(programme_id)}")


async def _confirm(request: Request, api: Api, programme_id: str, action: str,
                   errors: dict[str, str] | None = None) -> Response:  # fmt: skip
    answer = await api.read("applications", programme_path(programme_id))
    return render(request, "manage/confirm_status.jinja", programme=answer.body, version=answer.version,
                  action=action, errors=errors)  # fmt: skip


# --- 360Giving ----------------------------------------------------------------------------------------


@router.get("/manage/programmes/{programme_id}/360giving", summary="The awards as 360Giving open data (a download)")
async def three_sixty_giving(programme_id: str, request: Request, api: ApiDep, person: ManagerPerson) -> Response:
    try:
        package = await api.raw("applications", f"{programme_path(programme_id)}/360giving")
    except ApiError as error:
        if error.status != 409:
            raise
        programme = await api.get("applications", programme_path(programme_id))
        return render(request, "manage/nothing_to_publish.jinja", programme=programme, problem=plain(error.detail),
                      status_code=409)  # fmt: skip
    filename = re.sub(r"[^A-Za-z0-9_.-]", "-", programme_id)
    return Response(package.content, media_type="application/json",
                    headers={"Content-Disposition": f'attachment; filename="360giving-{filename}.json"'})  # fmt: skip


# --- conflicts of interest ---------------------------------------------------------------------------


@router.get("/manage/conflicts", summary="Every reviewer's conflicts of interest")
async def conflicts(request: Request, api: ApiDep, person: ManagerPerson) -> Response:
    listed = await api.get("scoring", "/v1/conflicts", limit=100)
    standing = sorted(listed["items"], key=lambda c: (c["status"] != "declared", c["declared_at"]))
    names = await _organisation_names(api, {c["organisation_id"] for c in standing})
    return render(request, "manage/conflicts.jinja", conflicts=standing, names=names, total=listed["total"])


async def _organisation_names(api: Api, organisation_ids: set[str]) -> dict[str, str]:
    """The conflicts list names organisations by id only: their profiles give the names people know."""

    async def name_of(organisation_id: str) -> tuple[str, str | None]:
        try:
            return organisation_id, (await api.get("applications", f"/v1/organisations/{q(organisation_id)}"))["name"]
        except ApiError as error:
            if error.status != 404:
                raise
            return organisation_id, None

    found = await asyncio.gather(*(name_of(organisation_id) for organisation_id in sorted(organisation_ids)))
    return {organisation_id: name for organisation_id, name in found if name}


@router.get("/manage/conflicts/{conflict_id}/resolve", summary="Resolve a conflict: are you sure?")
async def resolve_page(
    conflict_id: str, request: Request, api: ApiDep, person: ManagerPerson, reviewer: str = ""
) -> Response:
    return await _resolve_page(request, api, conflict_id, reviewer)


@router.post("/manage/conflicts/{conflict_id}/resolve", summary="Resolve it", dependencies=[CsrfChecked])
async def resolve(
    conflict_id: str, request: Request, api: ApiDep, person: ManagerPerson, reviewer: Annotated[str, Form()] = ""
) -> Response:
    try:
        await api.post("scoring", f"/v1/conflicts/{q(conflict_id)}/resolve")
    except ApiError as error:
        if error.status != 409:
            raise
        return await _resolve_page(request, api, conflict_id, reviewer, errors={"resolve": error.detail})
    return see_other("/manage/conflicts")


async def _resolve_page(request: Request, api: Api, conflict_id: str, reviewer: str,
                        errors: dict[str, str] | None = None) -> Response:  # fmt: skip
    # Scoring has no GET of one conflict: it is found among its reviewer's (the link says whose).
    listed = await api.get("scoring", "/v1/conflicts", reviewer_id=reviewer or None, limit=100)
    conflict = next((c for c in listed["items"] if c["id"] == conflict_id), None)
    if conflict is None:
        return render(request, "errors/not_found.jinja", status_code=404)
    names = await _organisation_names(api, {conflict["organisation_id"]})
    return render(request, "manage/resolve.jinja", conflict=conflict, names=names, errors=errors)
