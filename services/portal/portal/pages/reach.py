"""Who the programme reaches. A group answers the voluntary equality monitoring questions (told why,
and that nobody judging its application sees them); a programme manager reads the reach report: the
funnel as a chart with the same figures in a table, by community served and by area, and downloads it
as CSV. Numbers under 5 arrive from the service already shown as "fewer than 5"."""

import re
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from portal.clients import ApiDep, ApiError
from portal.pages.shared import application_path, programme_path, see_other
from portal.rendering import render
from portal.session import ApplicantPerson, CsrfChecked, ManagerPerson

router = APIRouter(tags=["reach"])
STEP_WORDS = {"started": "Started", "submitted": "Submitted", "eligible": "Eligible", "shortlisted": "Shortlisted",
              "scored": "Scored", "awarded": "Awarded", "paid": "Paid"}  # fmt: skip


@router.get("/applications/{application_id}/equality-monitoring", summary="Equality monitoring (optional)")
async def monitoring(application_id: str, request: Request, api: ApiDep, person: ApplicantPerson) -> Response:
    application = await api.get("applications", application_path(application_id))
    questions = await api.get("applications", "/v1/equality-monitoring")
    answers = (await api.get("applications", f"{application_path(application_id)}/equality-monitoring"))["answers"]
    return render(request, "applying/equality_monitoring.jinja", application=application, questions=questions,
                  answers=answers)  # fmt: skip


@router.post("/applications/{application_id}/equality-monitoring", summary="Save the answers",
             dependencies=[CsrfChecked])  # fmt: skip
async def save_monitoring(application_id: str, request: Request, api: ApiDep, person: ApplicantPerson) -> Response:
    form = await request.form()
    answers = {name: [str(v) for v in form.getlist(name)] for name in ("communities_served", "led_by")}
    try:
        await api.put("applications", f"{application_path(application_id)}/equality-monitoring", {"answers": answers})
    except ApiError as error:
        if error.status != 422:
            raise
        application = await api.get("applications", application_path(application_id))
        questions = await api.get("applications", "/v1/equality-monitoring")
        return render(request, "applying/equality_monitoring.jinja", application=application, questions=questions,
                      answers=answers, errors={"communities_served": error.detail})  # fmt: skip
    return see_other(f"/applications/{application_id}")


def _bars(part: dict[str, Any]) -> list[dict[str, Any]]:
    """Each step with its share of those started, for the chart (a suppressed count has no bar)."""
    started = part["steps"][0]["count"]
    bars = []
    for step in part["steps"]:
        count = step["count"]
        # to the nearest 5%: the stylesheet has a class for each (no inline styles under the CSP)
        width = 5 * round(20 * count / started) if isinstance(count, int) and isinstance(started, int) and started else None
        bars.append({**step, "words": STEP_WORDS[step["step"]], "width": width})
    return bars


@router.get("/manage/programmes/{programme_id}/reach", summary="Who the programme reaches")
async def reach_page(programme_id: str, request: Request, api: ApiDep, person: ManagerPerson) -> Response:
    programme = await api.get("applications", programme_path(programme_id))
    report = await api.get("applications", f"{programme_path(programme_id)}/reach")
    communities = [{"label": part["label"], "bars": _bars(part)} for part in report["by_community"].values()]
    communities.append({"label": "Did not say", "bars": _bars(report["not_answered"])})
    areas = [{"label": area, "bars": _bars(part)} for area, part in report["by_area"].items()]
    return render(request, "manage/reach.jinja", programme=programme, overall=_bars(report["overall"]),
                  communities=communities, areas=areas, steps=STEP_WORDS, width="full")  # fmt: skip


@router.get("/manage/programmes/{programme_id}/reach.csv", summary="The reach report (a download)")
async def reach_csv(programme_id: str, request: Request, api: ApiDep, person: ManagerPerson) -> Response:
    answer = await api.raw("applications", f"{programme_path(programme_id)}/reach.csv")
    filename = re.sub(r"[^A-Za-z0-9_.-]", "-", programme_id)
    return Response(answer.content, media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="reach-{filename}.csv"'})  # fmt: skip
