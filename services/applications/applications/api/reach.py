"""Who a programme reaches: a group's voluntary equality monitoring answers (only the group reads
them back), and the managers' reach report, the funnel counted overall, by community and by area
with small numbers suppressed, as JSON or CSV."""

import csv
import io
from typing import Annotated, Any

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field

from applications import commands, reach, store
from applications.api.applications import visible
from applications.domain import ProgrammeStatus
from grants_shared.api import Applicant, DatabaseDep, Manager, PathId, Transact
from grants_shared.errors import NotFound
from grants_shared.forms import FormDefinition, QuestionId

router = APIRouter(tags=["reach"])


class MonitoringAnswers(BaseModel):
    model_config = ConfigDict(extra="forbid")

    answers: Annotated[dict[QuestionId, Any], Field(max_length=10)]


class MonitoringQuestions(BaseModel):
    why: str
    form: FormDefinition


@router.get("/v1/equality-monitoring", summary="The equality monitoring questions, and why they are asked")
async def monitoring_questions() -> MonitoringQuestions:
    return MonitoringQuestions(why=reach.WHY, form=reach.MONITORING_FORM)


@router.put(
    "/v1/applications/{application_id}/equality-monitoring",
    summary="Save your group's voluntary equality monitoring answers (kept apart from the application)",
)
async def save_monitoring(
    application_id: PathId, body: MonitoringAnswers, caller: Applicant, transact: Transact
) -> MonitoringAnswers:
    return MonitoringAnswers(answers=await transact(commands.save_monitoring, caller, application_id, body.answers))


@router.get(
    "/v1/applications/{application_id}/equality-monitoring",
    summary="Your group's equality monitoring answers: only the group itself reads them",
)
async def read_monitoring(application_id: PathId, caller: Applicant, database: DatabaseDep) -> MonitoringAnswers:
    visible(caller, await store.get_application(database, application_id), application_id)
    monitoring = await store.get_monitoring(database, application_id)
    return MonitoringAnswers(answers=monitoring.answers if monitoring else {})


async def _report(programme_id: str, database: DatabaseDep) -> dict[str, Any]:
    programme = await store.get_programme(database, programme_id)
    if programme is None or programme.status is ProgrammeStatus.DRAFT:
        raise NotFound(f"no programme {programme_id}")
    return await commands.reach_of_programme(database, programme)  # type: ignore[arg-type]


@router.get(
    "/v1/programmes/{programme_id}/reach",
    summary='Who the programme reaches: the funnel overall, by community served and by area ("fewer than 5" below 5)',
)
async def reach_report(programme_id: PathId, caller: Manager, database: DatabaseDep) -> dict[str, Any]:
    return await _report(programme_id, database)


@router.get(
    "/v1/programmes/{programme_id}/reach.csv", summary="The reach report as CSV", response_class=Response,
    responses={200: {"description": "One row per breakdown, group and step", "content": {"text/csv": {}}}},
)  # fmt: skip
async def reach_csv(programme_id: PathId, caller: Manager, database: DatabaseDep) -> Response:
    out = io.StringIO()
    csv.writer(out).writerows(reach.report_rows(await _report(programme_id, database)))
    return Response(out.getvalue(), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="reach-{programme_id}.csv"'})  # fmt: skip
