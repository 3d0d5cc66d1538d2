"""Conflicts of interest: a panel member tells us they are connected to an organisation that applied,
and why (the programme team reads it, the organisation does not). They can do it from one of that
organisation's reviews, or by choosing it from the organisations that applied to the programmes
whose panel they sit on. Scoring then gives that organisation's open reviews to other panel members
and no longer shows it to them. They can see the conflicts they declared, standing and resolved.

Scoring's review does not say which organisation it is about (only its name), so the page from a
review finds the organisation among those that applied to the review's programme by that name, and
falls back to choosing it when the name is not unique.
"""

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from portal import forms
from portal.clients import Api, ApiDep, ApiError
from portal.pages.reviews import programme_names, review_path
from portal.pages.shared import q, see_other
from portal.rendering import render
from portal.session import CsrfChecked, ReviewerPerson

router = APIRouter(tags=["reviewing"])

REASON_LIMIT = 1_000
#: Pages of 200 organisations read per programme at most, so a page makes a bounded number of calls.
MAX_ORGANISATION_PAGES = 5
#: Up to this many organisations are radios; more are a select, which stays usable.
MAX_RADIOS = 15


async def organisations_of(api: Api, programmes: dict[str, str]) -> dict[str, dict[str, Any]]:
    """Every organisation that applied to these programmes, by id: its name and the programmes."""
    found: dict[str, dict[str, Any]] = {}
    for programme_id, programme_name in programmes.items():
        offset = 0
        for _ in range(MAX_ORGANISATION_PAGES):
            page = await api.get("scoring", f"/v1/programmes/{q(programme_id)}/organisations", limit=200,
                                 offset=offset)  # fmt: skip
            for organisation in page["items"]:
                entry = found.setdefault(organisation["id"], {**organisation, "programmes": []})
                entry["programmes"].append(programme_name)
            offset += len(page["items"])
            if not page["items"] or offset >= page["total"]:
                break
    return found


async def _conflicts(api: Api) -> list[dict[str, Any]]:
    listed = await api.get("scoring", "/v1/conflicts", limit=200)
    return sorted(listed["items"], key=lambda c: c["declared_at"], reverse=True)


def _reason_errors(reason: str, field: str = "reason") -> dict[str, str]:
    if not reason:
        return {field: "Tell us how you are connected to the organisation"}
    if len(reason) > REASON_LIMIT:
        return {field: f"Tell us in {REASON_LIMIT:,} characters or fewer"}
    return {}


def _refused(error: ApiError, fields: dict[str, str], fallback: str) -> dict[str, str]:
    """Scoring's words beside the field they are about (``fields``: its body fields to the form's)."""
    if error.status == 422:
        return forms.field_errors(error, fields, fallback)
    return {fallback: error.detail[:1].upper() + error.detail[1:]}


# --- the conflicts page, and declaring one by choosing the organisation ----------------------------


@router.get("/conflicts", summary="Your conflicts of interest")
async def your_conflicts(
    request: Request, api: ApiDep, person: ReviewerPerson, declared: str | None = None
) -> Response:
    conflicts = await _conflicts(api)
    organisations = await organisations_of(api, await programme_names(api))
    rows = [{**c, "organisation_name": organisations.get(c["organisation_id"], {}).get("name", c["organisation_id"])}
            for c in conflicts]  # fmt: skip
    return render(request, "reviews/conflicts.jinja", conflicts=rows,
                  declared=next((c for c in rows if c["id"] == declared), None))  # fmt: skip


async def _choose_page(
    request: Request, api: Api, values: dict[str, str], errors: dict[str, str] | None = None
) -> Response:
    standing = {c["organisation_id"] for c in await _conflicts(api) if c["status"] == "declared"}
    organisations = await organisations_of(api, await programme_names(api))
    choices = sorted((o for o in organisations.values() if o["id"] not in standing), key=lambda o: o["name"].lower())
    return render(request, "reviews/conflict_new.jinja", choices=choices, values=values, errors=errors,
                  as_radios=len(choices) <= MAX_RADIOS)  # fmt: skip


@router.get("/conflicts/new", summary="Declare a conflict of interest: the organisation, and why")
async def new_conflict(request: Request, api: ApiDep, person: ReviewerPerson) -> Response:
    return await _choose_page(request, api, {"organisation": "", "reason": ""})


@router.post("/conflicts/new", summary="Declare it", dependencies=[CsrfChecked])
async def declare(
    request: Request, api: ApiDep, person: ReviewerPerson,
    organisation: Annotated[str, Form()] = "", reason: Annotated[str, Form()] = "",
) -> Response:  # fmt: skip
    values = {"organisation": organisation, "reason": reason.strip()}
    errors = {} if organisation else {"organisation": "Select the organisation you have a conflict of interest with"}
    errors |= _reason_errors(values["reason"])
    if errors:
        return await _choose_page(request, api, values, errors)
    try:
        body = {"organisation_id": organisation, "reason": values["reason"]}
        conflict = await api.post("scoring", "/v1/conflicts", body)
    except ApiError as error:
        if error.status not in (409, 422):
            raise
        fields = {"organisation_id": "organisation", "reason": "reason"}
        return await _choose_page(request, api, values, _refused(error, fields, "organisation"))
    return see_other(f"/conflicts?declared={q(conflict['id'])}")


# --- declaring one from a review ------------------------------------------------------------------


async def _organisation_of_review(api: Api, review: dict[str, Any]) -> str | None:
    """The id of the organisation a review is about, if its name tells it apart from the others
    that applied to the programme."""
    applied = await organisations_of(api, {review["programme_id"]: ""})
    named = [o["id"] for o in applied.values() if o["name"] == review["organisation_name"]]
    return named[0] if len(named) == 1 else None


@router.get("/reviews/{review_id}/conflict", summary="Declare a conflict of interest with the organisation reviewed")
async def review_conflict(review_id: str, request: Request, api: ApiDep, person: ReviewerPerson) -> Response:
    review = await api.get("scoring", review_path(review_id))
    if "organisation_name" in (review.get("hidden_fields") or []):
        # Blind review: the reviewer is not told who applied, so they decline the review for a
        # conflict, and scoring records it against the organisation without naming it to them.
        return see_other(f"/reviews/{q(review_id)}/decline")
    organisation_id = await _organisation_of_review(api, review)
    if organisation_id is None:
        return see_other("/conflicts/new")
    return render(request, "reviews/conflict.jinja", review=review, organisation_id=organisation_id, reason="")


@router.post("/reviews/{review_id}/conflict", summary="Declare it", dependencies=[CsrfChecked])
async def declare_from_review(
    review_id: str, request: Request, api: ApiDep, person: ReviewerPerson,
    organisation_id: Annotated[str, Form()] = "", reason: Annotated[str, Form()] = "",
) -> Response:  # fmt: skip
    review = await api.get("scoring", review_path(review_id))
    reason = reason.strip()
    organisation_id = organisation_id or await _organisation_of_review(api, review) or ""
    if not organisation_id:
        return see_other("/conflicts/new")
    errors = _reason_errors(reason)
    if not errors:
        try:
            await api.post("scoring", "/v1/conflicts", {"organisation_id": organisation_id, "reason": reason})
            return see_other("/reviews?declared=1")
        except ApiError as error:
            if error.status not in (409, 422):
                raise
            errors = _refused(error, {"reason": "reason"}, "reason")
    return render(request, "reviews/conflict.jinja", review=review, organisation_id=organisation_id, reason=reason,
                  errors=errors)  # fmt: skip


async def _own_conflict(api: Api, conflict_id: str) -> dict[str, Any] | None:
    conflicts = {c["id"]: c for c in await _conflicts(api)}
    conflict = conflicts.get(conflict_id)
    if conflict is None:
        return None
    programmes = await programme_names(api)
    organisation = (await organisations_of(api, programmes)).get(conflict["organisation_id"])
    return {**conflict, "organisation_name": organisation["name"] if organisation else conflict["organisation_id"]}


@router.get("/conflicts/{conflict_id}/ask", summary="Ask a programme manager to resolve a conflict you declared")
async def ask_page(conflict_id: str, request: Request, api: ApiDep, person: ReviewerPerson) -> Response:
    conflict = await _own_conflict(api, conflict_id)
    if conflict is None:
        return render(request, "errors/not_found.jinja", status_code=404)
    return render(request, "reviews/conflict_ask.jinja", conflict=conflict, note="")


@router.post("/conflicts/{conflict_id}/ask", summary="Ask", dependencies=[CsrfChecked])
async def ask(
    conflict_id: str, request: Request, api: ApiDep, person: ReviewerPerson, note: Annotated[str, Form()] = ""
) -> Response:
    note = note.strip()
    errors = {"note": f"Tell us in {REASON_LIMIT:,} characters or fewer"} if len(note) > REASON_LIMIT else {}
    if not errors:
        try:
            await api.post("scoring", f"/v1/conflicts/{q(conflict_id)}/request-resolution", {"note": note})
            return see_other("/conflicts")
        except ApiError as error:
            if error.status not in (404, 409, 422):
                raise
            errors = {"note": error.detail}
    conflict = await _own_conflict(api, conflict_id)
    if conflict is None:
        return render(request, "errors/not_found.jinja", status_code=404)
    return render(request, "reviews/conflict_ask.jinja", conflict=conflict, note=note, errors=errors)
