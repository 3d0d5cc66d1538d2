"""A grantee's grant: the offer (how much, paid when), accepting it with the bank account it is paid
into, and the payments as they go. Bank details are typed once and only ever shown masked."""

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from portal import forms
from portal.clients import ApiDep, ApiError
from portal.pages.shared import q, see_other
from portal.rendering import render
from portal.session import ApplicantPerson, CsrfChecked

router = APIRouter(tags=["grants"])

BANK_FIELDS = ("account_name", "sort_code", "account_number")


def grant_path(grant_id: str) -> str:
    return f"/v1/grants/{q(grant_id)}"


@router.get("/grants/{grant_id}", summary="Your grant: the offer, and its payments")
async def grant_page(grant_id: str, request: Request, api: ApiDep, person: ApplicantPerson) -> Response:
    grant = await api.get("disbursement", grant_path(grant_id))
    return render(request, "grants/grant.jinja", grant=grant)


@router.get("/grants/{grant_id}/accept", summary="Accept the offer: the bank account to pay")
async def accept_page(grant_id: str, request: Request, api: ApiDep, person: ApplicantPerson) -> Response:
    answer = await api.read("disbursement", grant_path(grant_id))
    if answer.body["status"] != "offered":
        return see_other(f"/grants/{grant_id}")
    return render(request, "grants/accept.jinja", grant=answer.body, version=answer.version,
                  values=dict.fromkeys(BANK_FIELDS, ""))  # fmt: skip


def _bank_errors(values: dict[str, str]) -> dict[str, str]:
    errors = {}
    if not values["account_name"].strip():
        errors["account_name"] = "Enter the name on the account"
    digits = values["sort_code"].replace("-", "").replace(" ", "")
    if not (len(digits) == 6 and digits.isdigit()):
        errors["sort_code"] = "Enter a valid sort code like 30-94-30"
    number = values["account_number"].replace(" ", "")
    if not (len(number) == 8 and number.isdigit()):
        errors["account_number"] = "Enter a valid account number like 00733445 (8 digits)"
    return errors


@router.post("/grants/{grant_id}/accept", summary="Accept the offer", dependencies=[CsrfChecked])
async def accept(
    grant_id: str, request: Request, api: ApiDep, person: ApplicantPerson, version: Annotated[str, Form()] = ""
) -> Response:
    values = forms.form_values(await request.form(), *BANK_FIELDS)
    errors = _bank_errors(values)
    if not errors:
        account = {
            "account_name": values["account_name"].strip(),
            "sort_code": values["sort_code"].replace(" ", "").replace("-", ""),
            "account_number": values["account_number"].replace(" ", ""),
        }
        try:
            await api.post("disbursement", f"{grant_path(grant_id)}/accept", {"bank_account": account},
                           version=int(version) if version.isdigit() else None)  # fmt: skip
            return see_other(f"/grants/{grant_id}")
        except ApiError as error:
            if error.status not in (409, 412, 422):
                raise
            errors = (forms.field_errors(error, {name: name for name in BANK_FIELDS}, "account_name")
                      if error.status == 422 else {"account_name": error.detail})  # fmt: skip
    grant = await api.get("disbursement", grant_path(grant_id))
    # The numbers typed are not shown back: the person types them again.
    return render(request, "grants/accept.jinja", grant=grant, version=version, errors=errors,
                  values={"account_name": values["account_name"], "sort_code": "", "account_number": ""})  # fmt: skip
