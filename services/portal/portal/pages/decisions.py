"""The panel at work, as scoring keeps it: who sits on a programme's panel, its applications in
review, the ranking against the budget, one application with every reviewer's scores (moderation
when they disagree), and the decision.

Managers see everything. Where a programme delegated its decisions to a role, someone holding it
records the decision here; where its panel decides, the decision is made in a decision meeting
(pages/meetings.py). Panel members reach an application from the ranking (scoring shows them the
ranking but not the reviews, so their page is built from it).
"""

from decimal import Decimal
from collections.abc import AsyncIterator
from typing import Annotated, Any

from babel.numbers import format_currency
from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response

from grants_shared.auth import Caller, Role
from grants_shared.money import LOCALE, minor_unit_digits
from portal import forms
from portal.clients import Api, ApiDep, ApiError
from portal.pages.shared import application_path, cursor_paging, programme_path, q, see_other
from portal.rendering import render
from portal.session import CsrfChecked, ManagerPerson, needs
from portal.words import pounds

router = APIRouter(tags=["deciding"])

#: Scoring's ManagerOrReviewer: a reviewer who is not on the programme's panel is refused by scoring.
ManagerOrPanelPerson = Annotated[Caller, Depends(needs(Role.PROGRAMME_MANAGER, Role.ADMIN, Role.REVIEWER))]
#: Applications on a page of a long list (the ranking, those in review).
PAGE = 100
IN_REVIEW = ("awaiting_reviewers", "in_review", "scored", "decided", "withdrawn")
STALE_PANEL = "Someone changed the panel while you were editing it: check the list and save again"


def is_manager(person: Caller) -> bool:
    return person.has(Role.PROGRAMME_MANAGER, Role.ADMIN)


async def scoring_programme(api: Api, programme_id: str) -> dict[str, Any] | None:
    """The programme as scoring keeps it; None until scoring has heard that it opened (a moment)."""
    try:
        return await api.get("scoring", programme_path(programme_id))
    except ApiError as error:
        if error.status == 404:
            return None
        raise


def total(value: dict[str, Any]) -> str:
    """A sum of amounts (scoring's Total: minor units with no ceiling, unlike one Money amount)."""
    major = Decimal(value["amount"]).scaleb(-minor_unit_digits(value["currency"]))
    return format_currency(major, value["currency"], locale=LOCALE)


# --- the panel -------------------------------------------------------------------------------------


@router.get("/manage/programmes/{programme_id}/panel", summary="Who sits on the programme's panel")
async def panel_page(programme_id: str, request: Request, api: ApiDep, person: ManagerPerson) -> Response:
    programme, panel, version = await _panel(api, programme_id)
    return render(request, "manage/panel.jinja", programme=programme, panel="\n".join(panel or []),
                  ready=panel is not None, version=version)  # fmt: skip


@router.post("/manage/programmes/{programme_id}/panel", summary="Replace the panel", dependencies=[CsrfChecked])
async def change_panel(
    programme_id: str, request: Request, api: ApiDep, person: ManagerPerson,
    panel: Annotated[str, Form()] = "", version: Annotated[str, Form()] = "",
) -> Response:  # fmt: skip
    programme, _, _ = await _panel(api, programme_id)
    members = [line.strip() for line in panel.splitlines() if line.strip()]
    at = int(version) if version.isdigit() else None
    error_words = "" if members else "Enter the sign-in id of at least one panel member"
    if not error_words:
        try:
            # A draft's panel is still the applications service's; from the opening on it is scoring's.
            if programme["status"] == "draft":
                await api.patch("applications", programme_path(programme_id), {"panel": members}, version=at)
            else:
                await api.put("scoring", f"{programme_path(programme_id)}/panel", {"reviewer_ids": members}, version=at)
            return see_other(f"/manage/programmes/{q(programme_id)}")
        except ApiError as error:
            if error.status not in (409, 412, 422, 428):
                raise
            error_words = STALE_PANEL if error.status == 412 else _panel_words(error)
    return render(request, "manage/panel.jinja", programme=programme, panel=panel, ready=True, version=version,
                  errors={"panel": error_words})  # fmt: skip


async def _panel(api: Api, programme_id: str) -> tuple[dict[str, Any], list[str] | None, int | None]:
    answer = await api.read("applications", programme_path(programme_id))
    programme = answer.body
    if programme["status"] == "draft":
        return programme, programme.get("panel") or [], answer.version
    try:
        kept = await api.read("scoring", programme_path(programme_id))
    except ApiError as error:
        if error.status != 404:
            raise
        return programme, None, None
    return programme, kept.body.get("panel") or [], kept.version


# --- blind review ----------------------------------------------------------------------------------

#: The fields a programme may keep from its reviewers (scoring's BlindField), in the words managers read.
BLIND_FIELDS = {
    "organisation_name": "The organisation's name",
    "organisation_kind": "What kind of organisation it is (charity, community group, ...)",
    "organisation_area": "The area it works in",
}
STALE_BLIND = "Someone changed this programme while you were choosing: check your choices and save again"


@router.get("/manage/programmes/{programme_id}/blind-review", summary="What the programme's reviewers are not shown")
async def blind_review_page(programme_id: str, request: Request, api: ApiDep, person: ManagerPerson) -> Response:
    answer = await _scoring_read(api, programme_id)
    hidden = answer.body.get("hidden_from_reviewers", []) if answer else []
    return render(request, "manage/blind_review.jinja", programme=answer.body if answer else None,
                  programme_id=programme_id, fields=BLIND_FIELDS, hidden=hidden,
                  version=answer.version if answer else None)  # fmt: skip


@router.post("/manage/programmes/{programme_id}/blind-review", summary="Save what reviewers are not shown",
             dependencies=[CsrfChecked])  # fmt: skip
async def change_blind_review(
    programme_id: str, request: Request, api: ApiDep, person: ManagerPerson,
    version: Annotated[str, Form()] = "",
) -> Response:  # fmt: skip
    form = await request.form()
    hidden = [str(f) for f in form.getlist("hidden") if str(f) in BLIND_FIELDS]
    at = int(version) if version.isdigit() else None
    try:
        await api.put("scoring", f"{programme_path(programme_id)}/blind-review", {"hidden_from_reviewers": hidden},
                      version=at)  # fmt: skip
        return see_other(f"/manage/programmes/{q(programme_id)}")
    except ApiError as error:
        if error.status not in (412, 422, 428):
            raise
        words = STALE_BLIND if error.status in (412, 428) else error.detail
    answer = await _scoring_read(api, programme_id)
    return render(request, "manage/blind_review.jinja", programme=answer.body if answer else None,
                  programme_id=programme_id, fields=BLIND_FIELDS, hidden=hidden,
                  version=answer.version if answer else None, errors={"hidden": words})  # fmt: skip


async def _scoring_read(api: Api, programme_id: str) -> Any:
    """The programme as scoring keeps it, with its version; None before scoring has heard it opened."""
    try:
        return await api.read("scoring", programme_path(programme_id))
    except ApiError as error:
        if error.status == 404:
            return None
        raise


def _panel_words(error: ApiError) -> str:
    messages = [str(p.get("message", "")).removeprefix("Value error, ") for p in error.field_errors]
    words = "; ".join(m for m in messages if m) or error.detail
    return words[:1].upper() + words[1:]


# --- applications in review, and the ranking -----------------------------------------------------


@router.get("/manage/programmes/{programme_id}/applications", summary="The programme's applications in review")
async def applications(
    programme_id: str, request: Request, api: ApiDep, person: ManagerPerson, status: str = "", after: str = ""
) -> Response:
    wanted = status if status in IN_REVIEW else None
    programme = await api.get("scoring", programme_path(programme_id))
    listed = await api.get("scoring", f"{programme_path(programme_id)}/applications", status=wanted, limit=PAGE,
                           after=after or None)  # fmt: skip
    paging = cursor_paging(f"/manage/programmes/{q(programme_id)}/applications", after, listed["next"],
                           "the earliest submitted", "later submissions", status=wanted or "")  # fmt: skip
    return render(request, "manage/applications.jinja", programme=programme, applications=listed["items"],
                  paging=paging, status=wanted or "", statuses=IN_REVIEW)  # fmt: skip


@router.get("/manage/programmes/{programme_id}/ranking", summary="Scored applications ranked against the budget")
async def ranking(
    programme_id: str, request: Request, api: ApiDep, person: ManagerOrPanelPerson, after: str = ""
) -> Response:
    programme = await api.get("scoring", programme_path(programme_id))
    # A page at a time: scoring walks the budget down the whole ranking and carries it in the cursor.
    ranked = await api.get("scoring", f"{programme_path(programme_id)}/ranking", limit=PAGE, after=after or None)
    rows = [{**entry, "outcome": _outcome(entry), "cumulative": total(entry["cumulative_requested"])}
            for entry in ranked["applications"]]  # fmt: skip
    paging = cursor_paging(f"/manage/programmes/{q(programme_id)}/ranking", after, ranked["next"],
                           "the highest scores", "lower scores")  # fmt: skip
    return render(request, "manage/ranking.jinja", programme=programme, ranking=ranked, rows=rows,
                  line=ranked["budget_line_position"], paging=paging, manager=is_manager(person))  # fmt: skip


async def whole_ranking(api: Api, programme_id: str) -> AsyncIterator[dict[str, Any]]:
    """Every entry of the programme's ranking, highest score first, read a page at a time."""
    after = None
    while True:
        ranked = await api.get("scoring", f"{programme_path(programme_id)}/ranking", limit=200, after=after)
        for entry in ranked["applications"]:
            yield entry
        if not (after := ranked["next"]):
            return


def _outcome(entry: dict[str, Any]) -> str | None:
    """A decided application in the ranking: an award fits the budget (it has been taken from it), a
    decline never does."""
    if entry["status"] != "decided":
        return None
    return "awarded" if entry["fits_budget"] else "declined"


# --- one application: scores, moderation, the decision ---------------------------------------------


@router.get("/manage/applications/{application_id}", summary="An application: its scores, moderation, decision")
async def application_page(
    application_id: str, request: Request, api: ApiDep, person: ManagerOrPanelPerson, programme: str = ""
) -> Response:
    return await _application(request, api, person, application_id, programme)


async def _application(
    request: Request, api: Api, person: Caller, application_id: str, programme_id: str,
    errors: dict[str, str] | None = None, values: dict[str, str] | None = None,
) -> Response:  # fmt: skip
    try:
        application, programme = await (_as_manager(api, application_id) if is_manager(person)
                                         else _as_panel_member(api, application_id, programme_id))  # fmt: skip
    except ApiError as error:
        if error.status not in (403, 404):
            raise
        # Scoring refuses (404, or 403 to someone who represents the applicant) as if it were not there.
        return render(request, "manage/cannot_see.jinja", status_code=error.status)
    # One person decides only where the programme delegated its decisions to their role; otherwise
    # the panel decides in a meeting (pages/meetings.py).
    rule = programme.get("decision_rule") or {}
    delegated = rule.get("method") == "delegated" and person.has(Role(rule["delegated_to"]))
    decidable = application["status"] == "scored" and not application["needs_moderation"] and delegated
    defaults = {"amount": pounds(application["amount_requested"]), "outcome": "", "feedback": "", "score": "",
                "note": "", "moderation": "keep"}  # fmt: skip
    grant = await _grant_of(api, application) if is_manager(person) else None
    return render(request, "manage/application.jinja", application=application, programme=programme,
                  manager=is_manager(person), decidable=decidable, values=defaults | (values or {}),
                  panel_decides=rule.get("method") in ("majority", "consensus"), errors=errors, grant=grant)  # fmt: skip


async def _grant_of(api: Api, application: dict[str, Any]) -> dict[str, Any] | None:
    """The grant disbursement made on an awarded application (its id and status), for the link to its
    conditions; None before it has made one (it does so on hearing of the decision)."""
    outcome = (application.get("decision") or {}).get("outcome") or application.get("outcome")
    if application["status"] != "decided" or outcome != "awarded":
        return None
    try:
        return await api.get("disbursement", f"{application_path(application['id'])}/grant")
    except ApiError as error:
        if error.status != 404:
            raise
        return None


async def _as_manager(api: Api, application_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
    application = await api.get("scoring", application_path(application_id))
    # Scoring does not keep whether the programme team applied on the group's behalf: applications does.
    applied = await api.get("applications", application_path(application_id))
    application = {**application, "assisted": applied["assisted"], "assistance": applied["assistance"]}
    return application, await api.get("scoring", programme_path(application["programme_id"]))


async def _as_panel_member(api: Api, application_id: str, programme_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Scoring shows a panel member the ranking, not the application: the page is built from its entry
    (the ranking leaves out applications they have a conflict with)."""
    if not programme_id:
        raise ApiError(404, {})
    programme = await api.get("scoring", programme_path(programme_id))
    entry = await anext((e async for e in whole_ranking(api, programme_id) if e["application_id"] == application_id),
                        None)  # fmt: skip
    if entry is None:
        raise ApiError(404, {})
    application = {
        "id": entry["application_id"], "programme_id": programme["id"], "title": entry["title"],
        # None under blind review: the page says the name is not shown rather than leaving a gap.
        "organisation": {"name": entry["organisation_name"] or "Not shown (blind review)"},
        "amount_requested": entry["amount_requested"],
        "status": entry["status"], "weighted_score": entry["weighted_score"],
        "needs_moderation": entry["needs_moderation"], "outcome": _outcome(entry),
    }  # fmt: skip
    return application, programme


@router.post("/manage/applications/{application_id}/moderation", summary="Moderate the score",
             dependencies=[CsrfChecked])  # fmt: skip
async def moderate(application_id: str, request: Request, api: ApiDep, person: ManagerPerson) -> Response:
    values = forms.form_values(await request.form(), "moderation", "score", "note")
    errors: dict[str, str] = {}
    body: dict[str, Any] = {"note": values["note"].strip()}
    if values["moderation"] == "set":
        score = _score(values["score"])
        if isinstance(score, str):
            errors["score"] = score
        else:
            body["weighted_score"] = score
    elif values["moderation"] != "keep":
        errors["moderation"] = "Select whether to keep the computed score or set another"
    if not body["note"]:
        errors["note"] = "Enter a note saying why: the panel reads it"
    if not errors:
        try:
            await api.post("scoring", f"{application_path(application_id)}/moderation", body)
            return see_other(f"/manage/applications/{q(application_id)}")
        except ApiError as error:
            if error.status not in (409, 422):
                raise
            errors = forms.field_errors(error, {"weighted_score": "score", "note": "note"}, "moderation")
    return await _application(request, api, person, application_id, "", errors=errors, values=values)


def _score(text: str) -> float | str:
    try:
        score = Decimal(text.strip())
    except ArithmeticError:
        return "Enter the weighted score as a number from 0 to 5, like 3.5"
    if not score.is_finite() or not 0 <= score <= 5:
        return "Enter the weighted score as a number from 0 to 5, like 3.5"
    if score != score.quantize(Decimal("0.01")):
        return "Enter the weighted score with at most 2 decimal places"
    return float(score)


@router.post("/manage/applications/{application_id}/decision", summary="Record the decision",
             dependencies=[CsrfChecked])  # fmt: skip
async def decide(application_id: str, request: Request, api: ApiDep, person: ManagerOrPanelPerson) -> Response:
    values = forms.form_values(await request.form(), "outcome", "amount", "feedback", "programme", "currency")
    errors: dict[str, str] = {}
    body: dict[str, Any] = {"outcome": values["outcome"], "feedback": values["feedback"].strip()}
    if values["outcome"] == "awarded":
        amount = forms.money(values["amount"], values["currency"] or "GBP", "the amount to award")
        if isinstance(amount, str):
            errors["amount"] = amount
        else:
            body["amount_awarded"] = amount.model_dump()
    elif values["outcome"] == "declined":
        if not body["feedback"]:
            errors["feedback"] = "Enter feedback for the applicant: a group that is not funded is told why"
    else:
        errors["outcome"] = "Select whether to award a grant or not fund this application"
    if not errors:
        try:
            await api.post("scoring", f"{application_path(application_id)}/decision", body)
            after = f"?programme={q(values['programme'])}" if values["programme"] else ""
            return see_other(f"/manage/applications/{q(application_id)}{after}")
        except ApiError as error:
            if error.status == 404:  # no longer theirs to decide (a conflict declared meanwhile)
                return render(request, "manage/cannot_see.jinja", status_code=404)
            if error.status not in (403, 409, 422):
                raise
            errors = _decision_errors(error, values["outcome"])
    return await _application(request, api, person, application_id, values["programme"], errors=errors, values=values)


def _decision_errors(error: ApiError, outcome: str) -> dict[str, str]:
    if error.status == 422 and outcome == "awarded" and not error.field_errors:
        # A rule of the award (the maximum, the amount asked for, what is left of the budget).
        words = error.detail
        return {"amount": words[:1].upper() + words[1:]}
    fields = {"amount_awarded": "amount", "feedback": "feedback", "outcome": "outcome"}
    errors = forms.field_errors(error, fields, "outcome")
    if "outcome" in errors and "feedback" in errors["outcome"].lower():
        errors = {"feedback": errors["outcome"]}
    return errors
