"""A panel member's reviews: the ones assigned to them, each application as they may see it (its
summary, the organisation's name and the amount; scoring never shows reviewers contact details, and
a programme with blind review hides the organisation's name, kind or area), and the scoring form:
each criterion of the rubric from 0 to 5 with a comment, and beside each score what the programme
says it means for that criterion (its guidance), saved to come back to, then submitted. A submitted
review shows its scores and no longer changes.

Scoring keeps a draft only as a full score sheet (a score for every criterion), so "Save and come
back later" asks for every score too; the words say so beside each criterion still missing one.
"""

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from portal.clients import Api, ApiDep, ApiError
from portal.pages.organisation import KINDS
from portal.pages.shared import q, see_other
from portal.rendering import render
from portal.session import CsrfChecked, ReviewerPerson

router = APIRouter(tags=["reviewing"])

#: What each mark means, in the words the panel was trained with.
SCORE_WORDS = {
    0: "not shown at all",
    1: "poor",
    2: "fair",
    3: "good",
    4: "very good",
    5: "excellent",
}
#: How a review's status reads to the reviewer (the core's words say "Draft" for anything in draft).
REVIEW_STATUS = {
    "assigned": ("Not started", "grey"),
    "draft": ("In progress", "blue"),
    "completed": ("Submitted", "green"),
}
COMMENT_LIMIT = 2_000
SAVE, SUBMIT = "save", "submit"


def review_path(review_id: str) -> str:
    return f"/v1/reviews/{q(review_id)}"


def score_label(score: int) -> str:
    return f"{score} – {SCORE_WORDS[score]}"


def status_of(review: dict[str, Any]) -> dict[str, str]:
    words, colour = REVIEW_STATUS.get(review["status"], (review["status"].replace("_", " ").capitalize(), "grey"))
    return {"text": words, "colour": colour}


async def programme_names(api: Api) -> dict[str, str]:
    """The names of the programmes whose panel the reviewer sits on, by id."""
    listed = await api.get("scoring", "/v1/programmes", limit=100)
    return {programme["id"]: programme["name"] for programme in listed["items"]}


@router.get("/reviews", summary="The reviews assigned to you")
async def your_reviews(
    request: Request, api: ApiDep, person: ReviewerPerson, saved: str | None = None, declared: str | None = None,
    declined: str | None = None,
) -> Response:
    listed = await api.get("scoring", "/v1/reviews", limit=200)
    names = await programme_names(api)
    today = date.today()
    reviews = [
        {**review, "tag": status_of(review), "programme_name": names.get(review["programme_id"], ""),
         "overdue": review["status"] != "completed" and date.fromisoformat(review["due_date"]) < today}
        for review in listed["items"]
    ]  # fmt: skip
    to_do = sorted((r for r in reviews if r["status"] != "completed"), key=lambda r: r["due_date"])
    done = sorted((r for r in reviews if r["status"] == "completed"), key=lambda r: r["completed_at"] or "",
                  reverse=True)  # fmt: skip
    return render(request, "reviews/reviews.jinja", to_do=to_do, done=done, total=listed["total"],
                  shown=len(reviews), saved=next((r for r in reviews if r["id"] == saved), None),
                  declared=declared == "1", declined=declined == "1")  # fmt: skip


def _saved_values(review: dict[str, Any]) -> dict[str, dict[str, str]]:
    return {key: {"score": str(sheet["score"]), "comment": sheet.get("comment", "")}
            for key, sheet in review["scores"].items()}  # fmt: skip


def _criteria(
    review: dict[str, Any], values: dict[str, dict[str, str]], errors: dict[str, str]
) -> list[dict[str, Any]]:
    """Each criterion as the form shows it: its share of the score, what was chosen and written, and
    what is wrong with it."""
    total = sum(criterion["weight"] for criterion in review["criteria"]) or 1
    shown = []
    for criterion in review["criteria"]:
        key = criterion["key"]
        value = values.get(key, {})
        score = value.get("score", "")
        shown.append({
            **criterion, "share": round(100 * criterion["weight"] / total), "score": score,
            # What the programme says each score means for this criterion (scoring's guidance), if anything.
            "meanings": {g["score"]: g["meaning"] for g in criterion.get("guidance") or []},
            "score_words": score_label(int(score)) if score.isdigit() and int(score) in SCORE_WORDS else "",
            "comment": value.get("comment", ""),
            "score_error": errors.get(f"score-{key}"), "comment_error": errors.get(f"comment-{key}"),
        })  # fmt: skip
    return shown


def _paragraphs(text: str) -> list[list[str]]:
    """The applicant's words as they wrote them: paragraphs split at blank lines, lines kept."""
    blocks = [block.strip() for block in text.replace("\r\n", "\n").split("\n\n")]
    return [block.split("\n") for block in blocks if block]


async def _review_page(
    request: Request, api: Api, review: dict[str, Any], version: int | None,
    values: dict[str, dict[str, str]], errors: dict[str, str] | None = None,
) -> Response:  # fmt: skip
    errors = errors or {}
    programme = await api.get("scoring", f"/v1/programmes/{q(review['programme_id'])}")
    hidden = set(review.get("hidden_fields") or [])
    kind = review.get("organisation_kind")
    review = {**review, "organisation_kind": KINDS.get(kind, kind) if kind else kind}
    return render(request, "reviews/review.jinja", review=review, version=version, programme=programme, hidden=hidden,
                  status_tag=status_of(review), criteria=_criteria(review, values, errors),
                  paragraphs=_paragraphs(review["application_summary"]), choices=SCORE_WORDS,
                  open=review["status"] != "completed", errors=errors)  # fmt: skip


@router.get("/reviews/{review_id}", summary="One of your reviews: the application and the scoring form")
async def review_page(review_id: str, request: Request, api: ApiDep, person: ReviewerPerson) -> Response:
    answer = await api.read("scoring", review_path(review_id))
    return await _review_page(request, api, answer.body, answer.version, _saved_values(answer.body))


def _typed(form: Any, criteria: list[dict[str, Any]]) -> dict[str, dict[str, str]]:
    return {c["key"]: {"score": str(form.get(f"score-{c['key']}", "") or ""),
                       "comment": str(form.get(f"comment-{c['key']}", "") or "").strip()}
            for c in criteria}  # fmt: skip


def _sheet_errors(criteria: list[dict[str, Any]], values: dict[str, dict[str, str]], action: str) -> dict[str, str]:
    errors = {}
    for criterion in criteria:
        key, title = criterion["key"], criterion["title"]
        score = values[key]["score"]
        if not (score.isdigit() and int(score) in SCORE_WORDS):
            errors[f"score-{key}"] = f"Choose a score for {title}" + (
                "" if action == SUBMIT else " before you save: you can change it until you submit")
        if len(values[key]["comment"]) > COMMENT_LIMIT:
            errors[f"comment-{key}"] = f"Your comments on {title} must be {COMMENT_LIMIT:,} characters or fewer"
    return errors


def _refusal(error: ApiError, criteria: list[dict[str, Any]]) -> dict[str, str]:
    """Scoring's refusal in the reviewer's words: a field it names goes beside that field, anything
    else above the scores."""
    if error.status == 412:
        return {"scores": "Your scores were changed somewhere else (perhaps in another tab) while you were scoring. "
                          "Check them and save again"}  # fmt: skip
    if error.status == 409:
        return {"scores": error.detail[:1].upper() + error.detail[1:]}
    keys = {criterion["key"] for criterion in criteria}
    errors: dict[str, str] = {}
    for problem in error.field_errors:
        location = [str(part) for part in problem.get("location", [])]
        key = next((part for part in location if part in keys), None)
        if key:
            field = f"comment-{key}" if "comment" in location else f"score-{key}"
            errors.setdefault(field, str(problem.get("message", "Check this answer")).removeprefix("Value error, "))
    return errors or {"scores": error.detail[:1].upper() + error.detail[1:]}


@router.post("/reviews/{review_id}", summary="Save your scores, or submit them", dependencies=[CsrfChecked])
async def save_review(
    review_id: str, request: Request, api: ApiDep, person: ReviewerPerson,
    version: Annotated[str, Form()] = "", action: Annotated[str, Form()] = SAVE,
) -> Response:  # fmt: skip
    path = review_path(review_id)
    answer = await api.read("scoring", path)
    review = answer.body
    if review["status"] == "completed":
        return see_other(f"/reviews/{q(review_id)}")  # already submitted: its page shows the scores
    action = SUBMIT if action == SUBMIT else SAVE
    values = _typed(await request.form(), review["criteria"])
    # The version the reviewer started from, so a change made elsewhere meanwhile is not overwritten.
    started_from = int(version) if version.isdigit() else answer.version
    errors = _sheet_errors(review["criteria"], values, action)
    if errors:
        return await _review_page(request, api, review, started_from, values, errors)
    sheet = {c["key"]: {"score": int(values[c["key"]]["score"]), "comment": values[c["key"]]["comment"]}
             for c in review["criteria"]}  # fmt: skip
    try:
        await api.put("scoring", f"{path}/scores", {"scores": sheet}, version=started_from)
        if action == SUBMIT:
            await api.post("scoring", f"{path}/submit")
    except ApiError as error:
        if error.status not in (409, 412, 422):
            raise
        fresh = await api.read("scoring", path)
        return await _review_page(request, api, fresh.body, fresh.version, values, _refusal(error, review["criteria"]))
    return see_other(f"/reviews/{q(review_id)}/submitted" if action == SUBMIT else f"/reviews?saved={q(review_id)}")


@router.get("/reviews/{review_id}/submitted", summary="Your scores were submitted")
async def submitted(review_id: str, request: Request, api: ApiDep, person: ReviewerPerson) -> Response:
    review = await api.get("scoring", review_path(review_id))
    if review["status"] != "completed":
        return see_other(f"/reviews/{q(review_id)}")
    return render(request, "reviews/submitted.jinja", review=review)


# --- declining a review ----------------------------------------------------------------------------

DECLINE_REASONS = {"no_time": "I cannot review it in time", "other": "Another reason"}
#: Under blind review a reviewer cannot name the organisation, so they decline for a conflict instead.
BLIND_CONFLICT = {"conflict": "I think I know the group that applied (a conflict of interest)"}


def decline_reasons(review: dict[str, Any]) -> dict[str, str]:
    blind = "organisation_name" in (review.get("hidden_fields") or [])
    return {**BLIND_CONFLICT, **DECLINE_REASONS} if blind else DECLINE_REASONS


@router.get("/reviews/{review_id}/decline", summary="Decline a review you cannot do")
async def decline_page(review_id: str, request: Request, api: ApiDep, person: ReviewerPerson) -> Response:
    review = await api.get("scoring", review_path(review_id))
    return render(request, "reviews/decline.jinja", review=review, reasons=decline_reasons(review),
                  values={"reason": "", "note": ""})  # fmt: skip


@router.post("/reviews/{review_id}/decline", summary="Decline the review", dependencies=[CsrfChecked])
async def decline(
    review_id: str, request: Request, api: ApiDep, person: ReviewerPerson,
    reason: Annotated[str, Form()] = "", note: Annotated[str, Form()] = "",
) -> Response:  # fmt: skip
    review = await api.get("scoring", review_path(review_id))
    errors = {} if reason in decline_reasons(review) else {"reason": "Select why you cannot review it"}
    if len(note) > 1_000:
        errors["note"] = "Your note must be 1,000 characters or fewer"
    if not errors:
        try:
            await api.post("scoring", f"{review_path(review_id)}/decline", {"reason": reason, "note": note.strip()})
            return see_other("/reviews?declined=1")
        except ApiError as error:
            if error.status != 409:
                raise
            errors = {"reason": error.detail[:1].upper() + error.detail[1:]}
        review = await api.get("scoring", review_path(review_id))
    return render(request, "reviews/decline.jinja", review=review, reasons=decline_reasons(review),
                  values={"reason": reason, "note": note}, errors=errors)  # fmt: skip
