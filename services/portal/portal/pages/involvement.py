"""Involvement payments to panel members. A member sees their time (recorded from meetings attended
and reviews completed), claims it, claims expenses, chooses how they are paid (bank, voucher or not
at all) with plain guidance on benefits, gives bank details, and sees what they received in each UK
tax year. A programme manager sets the programme's involvement policy and approves or rejects
claims; finance (or a manager) sets the programme's involvement budget. Claims and time are
scoring's; the choice, bank details, payments and budget are disbursement's."""

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from grants_shared.auth import Caller, Role
from portal import forms
from portal.clients import Api, ApiDep, ApiError
from portal.pages.programme_form import _day as typed_date
from portal.pages.shared import programme_path, q, see_other
from portal.rendering import render
from portal.session import CsrfChecked, ManagerPerson, needs
from portal.words import pounds

router = APIRouter(tags=["involvement"])

PanelPerson = Annotated[Caller, Depends(needs(Role.REVIEWER))]
BudgetPerson = Annotated[Caller, Depends(needs(Role.FINANCE_OFFICER, Role.PROGRAMME_MANAGER, Role.ADMIN))]
FinancePerson = Annotated[Caller, Depends(needs(Role.FINANCE_OFFICER, Role.ADMIN))]

HOME = "/panel/involvement"
CHOICES = {
    "bank": "Paid into my bank account",
    "voucher": "A voucher instead of money",
    "volunteer": "Not paid: I volunteer (my time is still recorded)",
}
CATEGORIES = {"travel": "Travel", "childcare": "Childcare", "carer_costs": "Carer costs",
              "subsistence": "Food and drink (subsistence)", "other": "Other"}  # fmt: skip
UNITS = {"hour": "Per hour", "session": "Per session"}
STATUSES = {"submitted": "Waiting for approval", "approved": "Approved", "rejected": "Not approved"}
PAYMENT_STATUSES = {
    "waiting": "Waiting", "approved": "Being paid", "sending": "Being paid", "retrying": "Being paid (trying again)",
    "sent": "Paid into the bank account", "failed": "Not accepted by the bank",
    "voucher_issued": "Voucher issued", "not_paid": "Not paid: you volunteer",
}
WAITING = {"payment_choice": "for you to choose how you are paid", "bank_details": "for your bank details",
           "budget": "for the programme's involvement budget"}  # fmt: skip


def _sentence(text: str) -> str:
    text = text.removeprefix("Value error, ").strip()
    return text[:1].upper() + text[1:]


async def _policy(api: Api, programme_id: str) -> dict[str, Any] | None:
    try:
        return await api.get("scoring", f"{programme_path(programme_id)}/involvement-policy")
    except ApiError as error:
        if error.status != 404:
            raise
        return None


# --- a panel member's involvement -------------------------------------------------------------------


@router.get(HOME, summary="Your involvement: time, claims, how you are paid, totals per tax year")
async def my_involvement(request: Request, api: ApiDep, person: PanelPerson) -> Response:
    programmes = (await api.get("scoring", "/v1/programmes", limit=100))["items"]
    time = await api.get("scoring", "/v1/involvement/time-entries")
    claims = (await api.get("scoring", "/v1/involvement/claims", limit=100))["items"]
    mine = await api.get("disbursement", "/v1/involvement/me")
    shown = []
    for programme in programmes:
        entries = [e for e in time if e["programme_id"] == programme["id"]]
        policy = await _policy(api, programme["id"])
        shown.append({"programme": programme, "policy": policy, "entries": entries,
                      "unclaimed": [e for e in entries if not e["claim_id"]],
                      "claims": [c for c in claims if c["programme_id"] == programme["id"]]})  # fmt: skip
    return render(request, "involvement/mine.jinja", programmes=shown, mine=mine, choices=CHOICES,
                  statuses=STATUSES, payment_statuses=PAYMENT_STATUSES, waiting=WAITING, categories=CATEGORIES,
                  width="full")  # fmt: skip


@router.post(HOME + "/programmes/{programme_id}/time-claims", summary="Claim your unclaimed time",
             dependencies=[CsrfChecked])  # fmt: skip
async def claim_time(programme_id: str, request: Request, api: ApiDep, person: PanelPerson) -> Response:
    try:
        await api.post("scoring", f"{programme_path(programme_id)}/involvement/time-claims")
    except ApiError as error:
        if error.status != 409:
            raise
    return see_other(HOME)


@router.get(HOME + "/programmes/{programme_id}/expense", summary="Claim an expense")
async def expense_page(programme_id: str, request: Request, api: ApiDep, person: PanelPerson) -> Response:
    return await _expense(request, api, programme_id)


async def _expense(
    request: Request, api: Api, programme_id: str, errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
) -> Response:  # fmt: skip
    programme = await api.get("scoring", programme_path(programme_id))
    policy = await _policy(api, programme_id)
    today = date.today()
    defaults = {"category": "", "amount": "", "note": "", "spent-day": str(today.day), "spent-month": str(today.month),
                "spent-year": str(today.year)}  # fmt: skip
    return render(request, "involvement/expense.jinja", programme=programme, policy=policy, categories=CATEGORIES,
                  values=values or defaults, errors=errors)  # fmt: skip


@router.post(HOME + "/programmes/{programme_id}/expense", summary="Claim an expense", dependencies=[CsrfChecked])
async def claim_expense(programme_id: str, request: Request, api: ApiDep, person: PanelPerson) -> Response:
    values = forms.form_values(await request.form(), "category", "amount", "note", "spent-day", "spent-month",
                               "spent-year", "currency")  # fmt: skip
    errors: dict[str, str] = {}
    if values["category"] not in CATEGORIES:
        errors["category"] = "Select what the expense was for"
    amount = forms.money(values["amount"], values["currency"] or "GBP", "how much you paid")
    if isinstance(amount, str):
        errors["amount"] = amount
    spent = typed_date(values, "spent", "date you paid it")
    if isinstance(spent, str):
        errors["spent-day"] = spent
    if len(values["note"]) > 1_000:
        errors["note"] = "Keep the note to 1,000 characters or fewer"
    if not errors:
        body = {"category": values["category"], "amount": amount.model_dump(),  # type: ignore[union-attr]
                "incurred_on": spent.isoformat(), "note": values["note"].strip()}  # type: ignore[union-attr]  # fmt: skip
        try:
            await api.post("scoring", f"{programme_path(programme_id)}/involvement/expense-claims", body)
            return see_other(HOME)
        except ApiError as error:
            if error.status not in (409, 422):
                raise
            errors = {"category": _sentence(error.detail)}
    return await _expense(request, api, programme_id, errors=errors, values=values)


@router.get(HOME + "/payment-choice", summary="How you are paid, with guidance on benefits")
async def choice_page(request: Request, api: ApiDep, person: PanelPerson) -> Response:
    mine = await api.get("disbursement", "/v1/involvement/me")
    return render(request, "involvement/choice.jinja", mine=mine, choices=CHOICES, values={"choice": mine["choice"] or ""})


@router.post(HOME + "/payment-choice", summary="Choose how you are paid", dependencies=[CsrfChecked])
async def set_choice(request: Request, api: ApiDep, person: PanelPerson) -> Response:
    values = forms.form_values(await request.form(), "choice", "version")
    version = int(values["version"]) if values["version"].isdigit() else None
    errors: dict[str, str] = {}
    if values["choice"] not in CHOICES:
        errors["choice"] = "Select how you want to be paid"
    else:
        try:
            await api.put("disbursement", "/v1/involvement/me/payment-choice", {"choice": values["choice"]},
                          version=version)  # fmt: skip
            return see_other(HOME + "/bank-details" if values["choice"] == "bank" else HOME)
        except ApiError as error:
            if error.status not in (412, 428):
                raise
            errors["choice"] = "Your choice changed in another window: check it and save again"
    mine = await api.get("disbursement", "/v1/involvement/me")
    return render(request, "involvement/choice.jinja", mine=mine, choices=CHOICES, values=values, errors=errors)


@router.get(HOME + "/bank-details", summary="The bank account involvement payments go to")
async def bank_page(request: Request, api: ApiDep, person: PanelPerson) -> Response:
    mine = await api.get("disbursement", "/v1/involvement/me")
    return render(request, "involvement/bank.jinja", mine=mine, values={}, errors=None)


@router.post(HOME + "/bank-details", summary="Give your bank details", dependencies=[CsrfChecked])
async def set_bank(request: Request, api: ApiDep, person: PanelPerson) -> Response:
    values = forms.form_values(await request.form(), "account_name", "sort_code", "account_number", "version")
    version = int(values["version"]) if values["version"].isdigit() else None
    errors: dict[str, str] = {}
    if not values["account_name"].strip():
        errors["account_name"] = "Enter the name on the account"
    if len(values["sort_code"].replace("-", "").replace(" ", "")) != 6 or not values["sort_code"].replace("-", "").replace(" ", "").isdigit():
        errors["sort_code"] = "Enter a sort code of 6 digits, like 309430"
    if len(values["account_number"].strip()) != 8 or not values["account_number"].strip().isdigit():
        errors["account_number"] = "Enter an account number of 8 digits, like 00733445"
    if not errors:
        body = {"account_name": values["account_name"].strip(),
                "sort_code": values["sort_code"].replace("-", "").replace(" ", ""),
                "account_number": values["account_number"].strip()}  # fmt: skip
        try:
            await api.put("disbursement", "/v1/involvement/me/bank-details", body, version=version)
            return see_other(HOME)
        except ApiError as error:
            if error.status not in (412, 422, 428):
                raise
            errors["account_name"] = ("Your details changed in another window: check them and save again"
                                      if error.status != 422 else _sentence(error.detail))  # fmt: skip
    mine = await api.get("disbursement", "/v1/involvement/me")
    shown = {k: v for k, v in values.items() if k != "account_number"}  # never echo the account number back
    return render(request, "involvement/bank.jinja", mine=mine, values=shown, errors=errors)


# --- a programme manager: the policy and claims to approve ------------------------------------------


@router.get("/manage/programmes/{programme_id}/involvement", summary="Involvement policy and claims to approve")
async def manage_page(programme_id: str, request: Request, api: ApiDep, person: ManagerPerson) -> Response:
    return await _manage(request, api, programme_id)


async def _manage(
    request: Request, api: Api, programme_id: str, errors: dict[str, str] | None = None,
    values: dict[str, Any] | None = None,
) -> Response:  # fmt: skip
    programme = await api.get("scoring", programme_path(programme_id))
    try:
        answer = await api.read("scoring", f"{programme_path(programme_id)}/involvement-policy")
        policy, version = answer.body, answer.version
    except ApiError as error:
        if error.status != 404:
            raise
        policy, version = None, None
    waiting = (await api.get("scoring", "/v1/involvement/claims", programme_id=programme_id, status="submitted",
                             limit=100))["items"]  # fmt: skip
    decided = [c for c in (await api.get("scoring", "/v1/involvement/claims", programme_id=programme_id,
                                         limit=100))["items"] if c["status"] != "submitted"]  # fmt: skip
    defaults = {
        "unit": policy["unit"] if policy else "session",
        "rate": pounds(policy["rate"]) if policy else "",
        "meeting": str(policy["meeting"]) if policy else "1", "review": str(policy["review"]) if policy else "1",
        "expenses_allowed": "yes" if policy and policy["expenses_allowed"] else "",
        "expense_categories": policy["expense_categories"] if policy else ["travel", "childcare", "carer_costs"],
    }  # fmt: skip
    return render(request, "involvement/manage.jinja", programme=programme, policy=policy, version=version,
                  waiting=waiting, decided=decided, values=values or defaults, errors=errors, units=UNITS,
                  categories=CATEGORIES, statuses=STATUSES, width="full")  # fmt: skip


@router.post("/manage/programmes/{programme_id}/involvement", summary="Set the involvement policy",
             dependencies=[CsrfChecked])  # fmt: skip
async def set_policy(programme_id: str, request: Request, api: ApiDep, person: ManagerPerson) -> Response:
    form = await request.form()
    values: dict[str, Any] = forms.form_values(form, "unit", "rate", "meeting", "review", "expenses_allowed",
                                               "version", "currency")  # fmt: skip
    values["expense_categories"] = [str(v) for v in form.getlist("expense_categories") if str(v) in CATEGORIES]
    errors: dict[str, str] = {}
    if values["unit"] not in UNITS:
        errors["unit"] = "Select whether the rate is per hour or per session"
    rate = forms.money(values["rate"], values["currency"] or "GBP", "the rate")
    if isinstance(rate, str):
        errors["rate"] = rate
    limit, what = (720, "minutes") if values["unit"] == "hour" else (10, "sessions")
    counts = {}
    for field, label in (("meeting", "a decision meeting"), ("review", "a review")):
        number = forms.whole_number(values[field], f"the {what} {label} counts for", 0, limit)
        if isinstance(number, str):
            errors[field] = number
        counts[field] = number
    if not errors:
        body = {"unit": values["unit"], "rate": rate.model_dump(), **counts,  # type: ignore[union-attr]
                "expenses_allowed": values["expenses_allowed"] == "yes",
                "expense_categories": values["expense_categories"]}  # fmt: skip
        version = int(values["version"]) if values["version"].isdigit() else None
        try:
            await api.put("scoring", f"{programme_path(programme_id)}/involvement-policy", body, version=version)
            return see_other(f"/manage/programmes/{q(programme_id)}/involvement")
        except ApiError as error:
            if error.status not in (412, 422, 428):
                raise
            errors = {"unit": "Someone changed the policy while you were editing: check and save again"
                      if error.status in (412, 428) else _sentence(error.detail)}  # fmt: skip
    return await _manage(request, api, programme_id, errors=errors, values=values)


@router.post("/manage/involvement/claims/{claim_id}/decide", summary="Approve or reject a claim",
             dependencies=[CsrfChecked])  # fmt: skip
async def decide_claim(claim_id: str, request: Request, api: ApiDep, person: ManagerPerson) -> Response:
    values = forms.form_values(await request.form(), "decision", "reason", "version", "programme_id")
    version = int(values["version"]) if values["version"].isdigit() else None
    back = f"/manage/programmes/{q(values['programme_id'])}/involvement" if values["programme_id"] else "/manage"
    path = f"/v1/involvement/claims/{q(claim_id)}"
    try:
        if values["decision"] == "approve":
            await api.post("scoring", f"{path}/approve", version=version)
        elif values["decision"] == "reject" and values["reason"].strip():
            await api.post("scoring", f"{path}/reject", {"reason": values["reason"].strip()[:2_000]}, version=version)
        else:
            return see_other(f"{back}?problem=reason#claim-{q(claim_id)}")
    except ApiError as error:
        if error.status not in (403, 409, 412, 428):
            raise
        return see_other(f"{back}?problem=changed#claim-{q(claim_id)}")
    return see_other(back)


# --- finance: the involvement budget ----------------------------------------------------------------


@router.get("/finance/programmes/{programme_id}/involvement-budget", summary="A programme's involvement budget")
async def budget_page(programme_id: str, request: Request, api: ApiDep, person: BudgetPerson) -> Response:
    return await _budget(request, api, person, programme_id)


async def _budget(request: Request, api: Api, person: Caller, programme_id: str,
                  errors: dict[str, str] | None = None, values: dict[str, str] | None = None) -> Response:  # fmt: skip
    ledger = await api.get("disbursement", f"{programme_path(programme_id)}/ledger")
    answer = await api.read("disbursement", f"{programme_path(programme_id)}/involvement-budget")
    payments = (await api.get("disbursement", f"{programme_path(programme_id)}/involvement-payments", limit=100))["items"]
    shown = answer.body
    return render(request, "involvement/budget.jinja", ledger=ledger, budget=shown, version=answer.version,
                  payments=payments, values=values or {"total": pounds(shown["total"]) if shown["total"] else ""},
                  errors=errors, payment_statuses=PAYMENT_STATUSES, waiting=WAITING,
                  can_retry=person.has(Role.FINANCE_OFFICER, Role.ADMIN))  # fmt: skip


@router.post("/finance/programmes/{programme_id}/involvement-payments/{payment_id}/retry",
             summary="Send a payment the bank did not accept again", dependencies=[CsrfChecked])  # fmt: skip
async def retry_payment(programme_id: str, payment_id: str, api: ApiDep, person: FinancePerson) -> Response:
    # A 409 (sent meanwhile, or tried again by someone else) needs no more than the page as it is now.
    try:
        await api.post("disbursement", f"/v1/involvement-payments/{q(payment_id)}/retry")
    except ApiError as error:
        if error.status != 409:
            raise
    return see_other(f"/finance/programmes/{q(programme_id)}/involvement-budget")


@router.post("/finance/programmes/{programme_id}/involvement-budget", summary="Set the involvement budget",
             dependencies=[CsrfChecked])  # fmt: skip
async def set_budget(programme_id: str, request: Request, api: ApiDep, person: BudgetPerson) -> Response:
    values = forms.form_values(await request.form(), "total", "version", "currency")
    errors: dict[str, str] = {}
    total = forms.money(values["total"], values["currency"] or "GBP", "the involvement budget")
    if isinstance(total, str):
        errors["total"] = total
    else:
        version = int(values["version"]) if values["version"].isdigit() else None
        try:
            await api.put("disbursement", f"{programme_path(programme_id)}/involvement-budget",
                          {"total": total.model_dump()}, version=version)  # fmt: skip
            return see_other(f"/finance/programmes/{q(programme_id)}/involvement-budget")
        except ApiError as error:
            if error.status not in (409, 412, 422, 428):
                raise
            errors["total"] = ("Someone changed the budget while you were editing: check and save again"
                               if error.status in (412, 428) else _sentence(error.detail))  # fmt: skip
    return await _budget(request, api, person, programme_id, errors=errors, values=values)
