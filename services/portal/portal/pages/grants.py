"""A grantee's grant: the offer (how much, paid when, its terms and the day it lapses), accepting it
with the person signing for the organisation and the bank account it is paid into, or declining it
with a reason, and the payments as they go. Bank details are typed once and only ever shown masked."""

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from portal import forms
from portal.clients import ApiDep, ApiError
from portal.pages.shared import q, see_other
from portal.rendering import render
from portal.session import ApplicantPerson, CsrfChecked
from portal.words import date as day_words

router = APIRouter(tags=["grants"])

BANK_FIELDS = ("account_name", "sort_code", "account_number")
#: Who signs the offer for the organisation; the API's body names them signatory.name and .position.
SIGNATORY_FIELDS = ("signatory_name", "signatory_position")
SIGNATORY_API = {"name": "signatory_name", "position": "signatory_position"}


def grant_path(grant_id: str) -> str:
    return f"/v1/grants/{q(grant_id)}"


#: A report's status as people read it (the platform-wide words say "Offer accepted" for `accepted`).
REPORT_STATUS = {"due": ("To do", "grey"), "submitted": ("Waiting for review", "blue"),
                 "changes_requested": ("Changes asked for", "orange"), "accepted": ("Accepted", "green")}  # fmt: skip
#: What a payment waits for, as the grantee reads it.
WAITING_WORDS = {"date": "Its due date", "report": "Your {name} to be accepted", "condition": "{name}",
                 "finance_approval": "Approval by the finance team", "finance_hold": "The finance team (on hold)"}  # fmt: skip


def waiting_words(payment: dict[str, Any]) -> list[str]:
    """Each thing a payment still waits for, in words (an overdue report says so)."""
    words = []
    for wait in payment.get("waiting_for", []):
        text = WAITING_WORDS[wait["kind"]].format(name=wait.get("name") or "")
        if wait["kind"] == "date" and wait.get("due_date"):
            text = f"Its due date, {day_words(wait['due_date'])}"
        if wait.get("overdue"):
            text += " (the report is overdue, so this payment is held)"
        words.append(text)
    return words


#: A grant that owes monitoring reports (they are made when the offer is accepted).
WITH_REPORTS = ("accepted", "paid", "cancelled")


@router.get("/grants/{grant_id}", summary="Your grant: the offer, its payments and what each waits for, its reports")
async def grant_page(grant_id: str, request: Request, api: ApiDep, person: ApplicantPerson) -> Response:
    grant = await api.get("disbursement", grant_path(grant_id))
    reports = await api.get("disbursement", f"{grant_path(grant_id)}/reports") if grant["status"] in WITH_REPORTS else []
    return render(request, "grants/grant.jinja", grant=grant, reports=reports, statuses=REPORT_STATUS,
                  waiting={p["id"]: waiting_words(p) for p in grant.get("payments") or []})  # fmt: skip


@router.get("/grants/{grant_id}/accept", summary="Accept the offer: the bank account to pay")
async def accept_page(grant_id: str, request: Request, api: ApiDep, person: ApplicantPerson) -> Response:
    answer = await api.read("disbursement", grant_path(grant_id))
    if answer.body["status"] != "offered":
        return see_other(f"/grants/{grant_id}")
    return render(request, "grants/accept.jinja", grant=answer.body, version=answer.version,
                  values=dict.fromkeys(BANK_FIELDS + SIGNATORY_FIELDS, ""))  # fmt: skip


def _signatory_errors(values: dict[str, str]) -> dict[str, str]:
    errors = {}
    if not values["signatory_name"].strip():
        errors["signatory_name"] = "Enter the full name of the person signing for your organisation"
    if not values["signatory_position"].strip():
        errors["signatory_position"] = "Enter their role in your organisation, like chair or treasurer"
    return errors


def _signatory(values: dict[str, str]) -> dict[str, str]:
    return {"name": values["signatory_name"].strip(), "position": values["signatory_position"].strip()}


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
    values = forms.form_values(await request.form(), *BANK_FIELDS, *SIGNATORY_FIELDS)
    errors = {**_signatory_errors(values), **_bank_errors(values)}
    if not errors:
        account = {
            "account_name": values["account_name"].strip(),
            "sort_code": values["sort_code"].replace(" ", "").replace("-", ""),
            "account_number": values["account_number"].replace(" ", ""),
        }
        try:
            await api.post("disbursement", f"{grant_path(grant_id)}/accept",
                           {"bank_account": account, "signatory": _signatory(values)},
                           version=int(version) if version.isdigit() else None)  # fmt: skip
            return see_other(f"/grants/{grant_id}")
        except ApiError as error:
            if error.status not in (409, 412, 422):
                raise
            fields = {**{name: name for name in BANK_FIELDS}, **SIGNATORY_API}
            errors = (forms.field_errors(error, fields, "signatory_name")
                      if error.status == 422 else {"signatory_name": error.detail})  # fmt: skip
    grant = await api.get("disbursement", grant_path(grant_id))
    # The numbers typed are not shown back: the person types them again.
    kept = {name: values[name] for name in ("account_name", *SIGNATORY_FIELDS)}
    return render(request, "grants/accept.jinja", grant=grant, version=version, errors=errors,
                  values={**kept, "sort_code": "", "account_number": ""})  # fmt: skip


DECLINE_FIELDS = (*SIGNATORY_FIELDS, "reason")


@router.get("/grants/{grant_id}/decline", summary="Decline the offer: who signs, and why")
async def decline_page(grant_id: str, request: Request, api: ApiDep, person: ApplicantPerson) -> Response:
    answer = await api.read("disbursement", grant_path(grant_id))
    if answer.body["status"] != "offered":
        return see_other(f"/grants/{grant_id}")
    return render(request, "grants/decline.jinja", grant=answer.body, version=answer.version,
                  values=dict.fromkeys(DECLINE_FIELDS, ""))  # fmt: skip


@router.post("/grants/{grant_id}/decline", summary="Decline the offer", dependencies=[CsrfChecked])
async def decline(
    grant_id: str, request: Request, api: ApiDep, person: ApplicantPerson, version: Annotated[str, Form()] = ""
) -> Response:
    values = forms.form_values(await request.form(), *DECLINE_FIELDS)
    errors = _signatory_errors(values)
    if not values["reason"].strip():
        errors["reason"] = "Enter why your organisation is declining the offer"
    elif len(values["reason"].strip()) > 1_000:
        errors["reason"] = "The reason must be 1,000 characters or fewer"
    if not errors:
        try:
            await api.post("disbursement", f"{grant_path(grant_id)}/decline",
                           {"signatory": _signatory(values), "reason": values["reason"].strip()},
                           version=int(version) if version.isdigit() else None)  # fmt: skip
            return see_other(f"/grants/{grant_id}")
        except ApiError as error:
            if error.status not in (409, 412, 422):
                raise
            errors = (forms.field_errors(error, {**SIGNATORY_API, "reason": "reason"}, "reason")
                      if error.status == 422 else {"reason": error.detail})  # fmt: skip
    grant = await api.get("disbursement", grant_path(grant_id))
    return render(request, "grants/decline.jinja", grant=grant, version=version, errors=errors, values=values)
