"""The form builder: a programme manager puts together the questions groups answer at a stage, one
question at a time (its kind, whether it must be answered, a hint, word limits, choices, and an
earlier answer it is shown after), moves them up and down with buttons, chooses which questions each
scoring criterion judges, and publishes the whole as the stage's next form version. Every step is a
form sent to the portal, so it all works without JavaScript; nothing is saved until it is published
(``question_builder`` keeps the form so far in the page)."""

import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from grants_shared.forms import FILE_TYPES
from portal import forms, question_builder
from portal.clients import ApiDep, ApiError
from portal.pages.shared import programme_path, q, see_other
from portal.rendering import render
from portal.session import CsrfChecked, ManagerPerson

router = APIRouter(tags=["managing"])

STAGES = {"full": "The full application", "expression_of_interest": "The expression of interest"}
STALE = "Someone changed this programme while you were building its form: open the page again and repeat your changes"


def _stage(stage: str, programme: dict[str, Any]) -> str:
    return "expression_of_interest" if stage == "expression_of_interest" and programme.get("expression_of_interest") else "full"


async def _published(api: ApiDep, programme_id: str, stage: str) -> dict[str, Any]:
    try:
        form = await api.get("applications", f"{programme_path(programme_id)}/form", stage=stage)
    except ApiError as error:
        if error.status != 404:
            raise
        return dict(question_builder.EMPTY)
    return {"questions": form["questions"], "criteria": form.get("criteria", {})}


def _page(request: Request, programme: dict[str, Any], version: str, stage: str, draft: dict[str, Any],
          values: dict[str, str] | None = None, errors: dict[str, str] | None = None,
          file_types: list[str] | None = None, published: str = "") -> Response:  # fmt: skip
    questions = [{**question, "words": question_builder.describe(question, draft)} for question in draft["questions"]]
    return render(
        request, "manage/form_builder.jinja", programme=programme, version=version, stage=stage,
        stage_name=STAGES[stage], stages=STAGES, draft=json.dumps(draft, separators=(",", ":")), questions=questions,
        criteria=draft.get("criteria", {}), values=values or dict.fromkeys(question_builder.FIELDS, ""),
        kinds=question_builder.KINDS, conditions=question_builder.conditions(draft), file_types=file_types or [],
        all_file_types={t: words for t, (words, _) in FILE_TYPES.items()}, errors=errors, published=published,
    )  # fmt: skip


@router.get("/manage/programmes/{programme_id}/questions", summary="Build a stage's questions")
async def builder(
    programme_id: str, request: Request, api: ApiDep, person: ManagerPerson, stage: str = "full", published: str = ""
) -> Response:
    read = await api.read("applications", programme_path(programme_id))
    stage = _stage(stage, read.body)
    draft = await _published(api, programme_id, stage)
    return _page(request, read.body, str(read.version or ""), stage, draft, published=published[:10])


@router.post("/manage/programmes/{programme_id}/questions", summary="A step of building the form, or publishing it",
             dependencies=[CsrfChecked])  # fmt: skip
async def build(programme_id: str, request: Request, api: ApiDep, person: ManagerPerson) -> Response:
    form = await request.form()
    programme = await api.get("applications", programme_path(programme_id))
    stage = _stage(str(form.get("stage", "full")), programme)
    version = str(form.get("version", ""))
    draft = question_builder.read_draft(str(form.get("draft", "")))
    if draft is None:
        return _page(request, programme, version, stage, await _published(api, programme_id, stage),
                     errors={"questions": "The form on this page could not be read: it is shown as last published"})  # fmt: skip
    action = str(form.get("action", ""))
    verb, _, place = action.partition("-")
    index = int(place) if place.isdigit() else -1
    if verb == "add":
        values = forms.form_values(form, *question_builder.FIELDS)
        file_types = [str(t) for t in form.getlist("file_types")]
        question, errors = question_builder.new_question({**values, "file_types": "\n".join(file_types)}, draft,
                                                         programme["budget"]["currency"])  # fmt: skip
        if errors:
            return _page(request, programme, version, stage, draft, values, errors, file_types)
        draft = {**draft, "questions": [*draft["questions"], question]}
    elif verb in ("up", "down", "remove"):
        if verb == "remove":
            draft, problem = question_builder.removed(draft, index)
        else:
            draft, problem = question_builder.moved(draft, index, -1 if verb == "up" else 1)
        if problem:
            return _page(request, programme, version, stage, draft, errors={f"question-{index}": problem})
    elif verb == "publish":
        chosen = {c["key"]: [str(v) for v in form.getlist(f"criterion-{c['key']}")] for c in programme["criteria"]}
        draft = question_builder.with_criteria(draft, chosen)
        try:
            answer = await api.put("applications", f"{programme_path(programme_id)}/form?stage={stage}", draft,
                                   version=int(version) if version.isdigit() else None)  # fmt: skip
        except ApiError as error:
            if error.status not in (409, 412, 422, 428):
                raise
            words = STALE if error.status == 412 else error.detail
            return _page(request, programme, version, stage, draft, errors={"publish": words})
        done = f"/manage/programmes/{q(programme_id)}/questions?stage={stage}&published={answer.body['version']}"
        return see_other(done)
    return _page(request, programme, version, stage, draft)
