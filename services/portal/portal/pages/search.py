"""Finding a programme's applications: a programme manager searches by words of the title or the
group's name, status, stage, area and amount (a GET form: the address is the search, so it can be
bookmarked and works without JavaScript), and downloads what it finds as CSV."""

import re
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response

from grants_shared.money import Money
from portal.clients import ApiDep
from portal.pages.shared import programme_path
from portal.rendering import render
from portal.session import ManagerPerson

router = APIRouter(tags=["search"])
STATUSES = ["draft", "interest_submitted", "interest_declined", "ineligible", "withdrawn", "submitted", "under_review",
            "scored", "awarded", "declined", "offered", "accepted", "part_paid", "paid"]  # fmt: skip
#: Applications a page shows; the next are a "Next page" link away (a cursor, not a count: see the API).
PAGE = 50
STAGES = {"": "Any stage", "expression_of_interest": "Expression of interest", "full": "Full application"}


def _filters(request: Request, currency: str) -> tuple[dict[str, Any], dict[str, str], dict[str, str]]:
    """The service's query from the form's fields, what the form shows again, and a problem per field."""
    shown = {name: request.query_params.get(name, "").strip() for name in ("q", "status", "stage", "area", "min", "max")}
    params: dict[str, Any] = {k: shown[k] for k in ("q", "area") if shown[k]}
    if shown["status"] in STATUSES:
        params["status"] = shown["status"]
    if shown["stage"] in STAGES and shown["stage"]:
        params["stage"] = shown["stage"]
    errors: dict[str, str] = {}
    for field, bound, words in (("min", "amount_min", "lowest"), ("max", "amount_max", "highest")):
        if shown[field]:
            try:
                params[bound] = Money.from_major(Decimal(shown[field].replace(",", "").lstrip("£")), currency).amount
            except (InvalidOperation, ValueError):
                errors[field] = f"Enter the {words} amount as a number of pounds, like 5000 or 2500.50"
    if "amount_min" in params and "amount_max" in params and params["amount_min"] > params["amount_max"]:
        errors["max"] = "The highest amount must be the same as or more than the lowest amount"
    return params, shown, errors


@router.get("/manage/programmes/{programme_id}/search", summary="Find applications")
async def search_page(programme_id: str, request: Request, api: ApiDep, person: ManagerPerson) -> Response:
    programme = await api.get("applications", programme_path(programme_id))
    params, shown, errors = _filters(request, programme["budget"]["currency"])
    found, after, next_page = None, request.query_params.get("after", ""), None
    if not errors:
        found = await api.get("applications", f"{programme_path(programme_id)}/applications", **params, limit=PAGE,
                              **({"after": after} if after else {}))  # fmt: skip
        if found["next"]:
            next_page = "?" + urlencode({**{k: v for k, v in shown.items() if v}, "after": found["next"]})
    return render(request, "manage/search.jinja", programme=programme, shown=shown, errors=errors, found=found,
                  statuses=STATUSES, stages=STAGES, download=f"{programme_id}/search.csv?{urlencode({k: v for k, v in shown.items() if v})}",
                  later_page=bool(after), next_page=next_page, by_amount="amount_min" in params or "amount_max" in params,
                  width="full")  # fmt: skip


@router.get("/manage/programmes/{programme_id}/search.csv", summary="The applications found (a download)")
async def search_csv(programme_id: str, request: Request, api: ApiDep, person: ManagerPerson) -> Response:
    programme = await api.get("applications", programme_path(programme_id))
    params, _, _ = _filters(request, programme["budget"]["currency"])
    answer = await api.raw("applications", f"{programme_path(programme_id)}/applications.csv?{urlencode(params)}")
    filename = re.sub(r"[^A-Za-z0-9_.-]", "-", programme_id)
    return Response(answer.content, media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="applications-{filename}.csv"'})  # fmt: skip
