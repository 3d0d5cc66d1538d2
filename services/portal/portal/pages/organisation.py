"""An applicant group describes itself once: the programmes' eligibility rules are checked against it."""

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from grants_shared.auth import Caller
from portal import forms
from portal.clients import ApiDep, ApiError
from portal.pages.shared import q, see_other
from portal.pages.signin import safe_next
from portal.rendering import render
from portal.session import ApplicantPerson, CsrfChecked, NotAllowed
from portal.words import pounds

router = APIRouter(tags=["applying"])

KINDS = {
    "charity": "Registered charity",
    "community_interest_company": "Community interest company",
    "community_group": "Community or voluntary group (not registered)",
    "social_enterprise": "Social enterprise",
    "faith_group": "Faith group",
    "other": "Something else",
}
FIELDS = ("name", "kind", "area", "annual_income", "charity_number", "company_number")


def organisation_of(person: Caller, wanted: str | None = None) -> str:
    """The organisation the applicant acts for: the one named, if they represent it, else their first."""
    if wanted:
        if wanted not in person.organisation_ids:
            raise NotAllowed("you do not represent that organisation")
        return wanted
    if not person.organisation_ids:
        raise NotAllowed("your sign-in does not name an organisation you represent")
    return sorted(person.organisation_ids)[0]


async def profile_of(api: ApiDep, organisation_id: str) -> tuple[dict | None, int | None]:
    try:
        answer = await api.read("applications", f"/v1/organisations/{q(organisation_id)}")
    except ApiError as error:
        if error.status == 404:
            return None, None
        raise
    return answer.body, answer.version


#: How the profile form speaks of the group: to its own people, or to the programme team helping it.
OWN_WORDS = {"name": "your organisation's name", "kind": "what kind of organisation you are",
             "area": "the area your organisation works in", "income": "your organisation's yearly income"}
GROUP_WORDS = {"name": "the name of the group", "kind": "what kind of organisation the group is",
               "area": "the area the group works in", "income": "the group's yearly income"}


def profile_from(values: dict[str, str], words: dict[str, str]) -> tuple[dict[str, Any], dict[str, str]]:
    """The profile as the organisations API takes it, or what is wrong with the form (in ``words``)."""
    errors: dict[str, str] = {}
    if not values["name"].strip():
        errors["name"] = f"Enter {words['name']}"
    if values["kind"] not in KINDS:
        errors["kind"] = f"Select {words['kind']}"
    if not values["area"].strip():
        errors["area"] = f"Enter {words['area']}"
    income = forms.money(values["annual_income"], "GBP", words["income"])
    if isinstance(income, str):
        errors["annual_income"] = income
    if errors or isinstance(income, str):
        return {}, errors
    return {
        "name": values["name"].strip(), "kind": values["kind"], "area": values["area"].strip(),
        "annual_income": income.model_dump(),
        "charity_number": values["charity_number"].strip() or None,
        "company_number": values["company_number"].strip() or None,
    }, {}  # fmt: skip


@router.get("/organisation", summary="Your organisation's profile")
async def organisation(request: Request, api: ApiDep, person: ApplicantPerson, next: str | None = None) -> Response:
    organisation_id = organisation_of(person)
    profile, version = await profile_of(api, organisation_id)
    values = {name: str((profile or {}).get(name) or "") for name in FIELDS}
    if profile:
        values["annual_income"] = pounds(profile["annual_income"])
    return render(request, "applying/organisation.jinja", values=values, kinds=KINDS, version=version,
                  organisation_id=organisation_id, next=safe_next(next) if next else "")  # fmt: skip


@router.post("/organisation", summary="Save your organisation's profile", dependencies=[CsrfChecked])
async def save_organisation(
    request: Request, api: ApiDep, person: ApplicantPerson,
    version: Annotated[str, Form()] = "", next: Annotated[str, Form()] = "",
) -> Response:  # fmt: skip
    organisation_id = organisation_of(person)
    values = forms.form_values(await request.form(), *FIELDS)
    body, errors = profile_from(values, OWN_WORDS)
    if errors:
        return render(request, "applying/organisation.jinja", values=values, kinds=KINDS, errors=errors,
                      version=version, organisation_id=organisation_id, next=next)  # fmt: skip
    try:
        await api.put("applications", f"/v1/organisations/{q(organisation_id)}", body,
                      version=int(version) if version.isdigit() else None)  # fmt: skip
    except ApiError as error:
        if error.status not in (409, 412, 422):
            raise
        fields = {name: name for name in FIELDS}
        errors = forms.field_errors(error, fields, "name") if error.status == 422 else {
            "name": "Someone changed this profile while you were editing it: check it and save again"}
        return render(request, "applying/organisation.jinja", values=values, kinds=KINDS, errors=errors,
                      version=version, organisation_id=organisation_id, next=next)  # fmt: skip
    return see_other(safe_next(next) if next else "/applications")
