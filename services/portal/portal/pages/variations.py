"""Finance changing a grant after it was accepted: its amount up (within the budget) or down, its end
date, cancelling it, and recording money the group paid back. Each goes through the ledger in
disbursement, which judges every rule (the budget, what is paid or in flight) and says why it refuses;
these pages show that on the form."""

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from portal import forms
from portal.clients import ApiDep, ApiError
from portal.pages.grants import grant_path
from portal.pages.programme_form import _day as typed_date
from portal.pages.shared import q, see_other
from portal.rendering import render
from portal.session import CsrfChecked, FinancePerson

router = APIRouter(tags=["grant variations"])

VARIATION_FIELDS = ("kind", "amount", "ends-day", "ends-month", "ends-year", "confirm_cancel")
#: Grants finance can vary (an end date also once paid: the project may run on).
VARIABLE = ("accepted", "paid")


def _blank() -> dict[str, str]:
    return dict.fromkeys(VARIATION_FIELDS, "")


async def _change_page(request: Request, api: ApiDep, grant_id: str, values: dict[str, str] | None = None,
                       errors: dict[str, str] | None = None) -> Response:  # fmt: skip
    grant = await api.get("disbursement", grant_path(grant_id))
    return render(request, "finance/vary.jinja", grant=grant, values=values or _blank(), errors=errors,
                  variable=grant["status"] in VARIABLE)  # fmt: skip


@router.get("/finance/grants/{grant_id}/change", summary="Change a grant: its amount, its end date, or cancel it")
async def change_page(grant_id: str, request: Request, api: ApiDep, person: FinancePerson) -> Response:
    return await _change_page(request, api, grant_id)


def _variation(values: dict[str, str], currency: str) -> tuple[dict[str, Any] | None, dict[str, str]]:
    kind = values["kind"]
    if kind == "amount":
        amount = forms.money(values["amount"], currency, "the grant's new amount")
        if isinstance(amount, str):
            return None, {"amount": amount}
        return {"kind": "amount", "amount": amount.model_dump()}, {}
    if kind == "end_date":
        ends = typed_date(values, "ends", "new end date")
        if isinstance(ends, str):
            return None, {"ends-day": ends}
        return {"kind": "end_date", "ends_on": ends.isoformat()}, {}
    if kind == "cancellation":
        if values["confirm_cancel"] != "yes":
            return None, {"confirm_cancel": "Confirm that the grant is to be cancelled"}
        return {"kind": "cancellation"}, {}
    return None, {"kind": "Select how the grant changes"}


@router.post("/finance/grants/{grant_id}/change", summary="Change the grant", dependencies=[CsrfChecked])
async def change(grant_id: str, request: Request, api: ApiDep, person: FinancePerson) -> Response:
    values = forms.form_values(await request.form(), *VARIATION_FIELDS)
    grant = await api.get("disbursement", grant_path(grant_id))
    body, errors = _variation(values, grant["amount"]["currency"])
    if body is not None:
        try:
            await api.post("disbursement", f"{grant_path(grant_id)}/variations", body)
            return see_other(f"/finance/grants/{q(grant_id)}?done={values['kind']}")
        except ApiError as error:
            if error.status not in (409, 422):
                raise
            field = {"amount": "amount", "end_date": "ends-day", "cancellation": "confirm_cancel"}[values["kind"]]
            errors = {field: f"Not changed: {error.detail}"}
    return await _change_page(request, api, grant_id, values=values, errors=errors)


async def _repayment_page(request: Request, api: ApiDep, grant_id: str, values: dict[str, str] | None = None,
                          errors: dict[str, str] | None = None) -> Response:  # fmt: skip
    grant = await api.get("disbursement", grant_path(grant_id))
    return render(request, "finance/repayment.jinja", grant=grant, values=values or {"amount": "", "reason": ""},
                  errors=errors)  # fmt: skip


@router.get("/finance/grants/{grant_id}/repayment", summary="Record money the group paid back")
async def repayment_page(grant_id: str, request: Request, api: ApiDep, person: FinancePerson) -> Response:
    return await _repayment_page(request, api, grant_id)


@router.post("/finance/grants/{grant_id}/repayment", summary="Record the repayment", dependencies=[CsrfChecked])
async def repayment(grant_id: str, request: Request, api: ApiDep, person: FinancePerson) -> Response:
    values = forms.form_values(await request.form(), "amount", "reason")
    grant = await api.get("disbursement", grant_path(grant_id))
    errors: dict[str, str] = {}
    amount = forms.money(values["amount"], grant["amount"]["currency"], "the amount paid back")
    if isinstance(amount, str):
        errors["amount"] = amount
    elif amount.amount == 0:
        errors["amount"] = "The amount paid back must be more than nothing"
    if not values["reason"].strip():
        errors["reason"] = "Enter why the group paid it back"
    elif len(values["reason"].strip()) > 1_000:
        errors["reason"] = "The reason must be 1,000 characters or fewer"
    if not errors and not isinstance(amount, str):
        try:
            await api.post("disbursement", f"{grant_path(grant_id)}/repayments",
                           {"amount": amount.model_dump(), "reason": values["reason"].strip()})  # fmt: skip
            return see_other(f"/finance/grants/{q(grant_id)}?done=repayment")
        except ApiError as error:
            if error.status not in (409, 422):
                raise
            errors = {"amount": f"Not recorded: {error.detail}"}
    return await _repayment_page(request, api, grant_id, values=values, errors=errors)
