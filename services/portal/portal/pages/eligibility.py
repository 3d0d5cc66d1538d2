"""Eligibility before effort: anyone, signed in or not, checks a programme's rules against their
group's facts and reads every rule it fails in plain words, before writing an application.

The page reads only what was typed (the kind, the area, amounts in pounds); the rules, and their
words, are the applications service's (``POST /v1/programmes/{id}/eligibility``)."""

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from portal import forms
from portal.clients import ApiDep, ApiError
from portal.pages.organisation import KINDS
from portal.pages.shared import programme_path
from portal.rendering import render
from portal.session import CsrfChecked, MaybePerson

router = APIRouter(tags=["public"])
FIELDS = {"kind": "kind", "area": "area", "annual_income": "annual_income", "amount_requested": "amount"}


@router.get("/programmes/{programme_id}/eligibility", summary="Check whether your group can apply")
async def eligibility_form(programme_id: str, request: Request, api: ApiDep, person: MaybePerson) -> Response:
    programme = await api.get("applications", programme_path(programme_id))
    return render(request, "public/eligibility.jinja", programme=programme, kinds=KINDS, values={})


@router.post("/programmes/{programme_id}/eligibility", summary="Your group's facts against the rules",
             dependencies=[CsrfChecked])  # fmt: skip
async def check_eligibility(
    programme_id: str, request: Request, api: ApiDep, person: MaybePerson,
    kind: Annotated[str, Form()] = "", area: Annotated[str, Form()] = "", annual_income: Annotated[str, Form()] = "",
    amount: Annotated[str, Form()] = "",
) -> Response:  # fmt: skip
    programme = await api.get("applications", programme_path(programme_id))
    currency = programme["budget"]["currency"]
    values = {"kind": kind, "area": area, "annual_income": annual_income, "amount": amount}
    errors: dict[str, str] = {}
    if kind not in KINDS:
        errors["kind"] = "Select the kind of organisation you are"
    if not area.strip():
        errors["area"] = "Enter where your organisation works"
    income = forms.money(annual_income, currency, "your yearly income")
    if isinstance(income, str):
        errors["annual_income"] = income
    asked = forms.money(amount, currency, "the amount") if amount.strip() else None
    if isinstance(asked, str):
        errors["amount"] = asked
    if errors:
        return render(request, "public/eligibility.jinja", programme=programme, kinds=KINDS, values=values,
                      errors=errors)  # fmt: skip
    body = {"kind": kind, "area": area.strip(), "annual_income": income.model_dump()}  # type: ignore[union-attr]
    if asked is not None:
        body["amount_requested"] = asked.model_dump()  # type: ignore[union-attr]
    try:
        answer = await api.post("applications", f"{programme_path(programme_id)}/eligibility", body)
    except ApiError as error:
        if error.status != 422:
            raise
        return render(request, "public/eligibility.jinja", programme=programme, kinds=KINDS, values=values,
                      errors=forms.field_errors(error, FIELDS, "area"))  # fmt: skip
    return render(request, "public/eligibility_result.jinja", programme=programme, answer=answer)
