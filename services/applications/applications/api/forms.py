"""Programme forms: a manager publishes a new version of a programme's questions (a version is never
changed: applications already started keep theirs); anyone reads the questions of an open or closed
programme, the latest version or any earlier one."""

from typing import Annotated

from fastapi import APIRouter, Query, Response

from applications import commands, store
from applications.domain import ProgrammeStatus, Stage
from applications.schemas import ProgrammeFormView
from grants_shared.api import DatabaseDep, IfMatchRequired, Manager, PathId, Public, Transact, is_manager, set_etag
from grants_shared.errors import NotFound
from grants_shared.forms import FormDefinition
from grants_shared.openapi import etag, problems

router = APIRouter(prefix="/v1/programmes", tags=["forms"])
StageQuery = Annotated[Stage, Query(description="The stage whose form it is")]


@router.put(
    "/{programme_id}/form",
    summary="Publish a new version of the programme's form (If-Match: the programme's ETag)",
    description="Applications started from now on answer this version. The answer's ETag is the programme's.",
    responses=etag() | problems(409),
)
async def publish_form(
    programme_id: PathId, body: FormDefinition, caller: Manager, transact: Transact, version: IfMatchRequired,
    response: Response, stage: StageQuery = Stage.FULL,
) -> ProgrammeFormView:  # fmt: skip
    form, programme = await transact(commands.publish_form, programme_id, body, version, stage)
    set_etag(response, programme.version)
    return ProgrammeFormView.of(form)


@router.get("/{programme_id}/form", summary="Read a programme's form: the latest version, or the one asked for")
async def get_form(
    programme_id: PathId, caller: Public, database: DatabaseDep,
    version: Annotated[int | None, Query(ge=1, le=100_000, description="A version; the latest if not given")] = None,
    stage: StageQuery = Stage.FULL,
) -> ProgrammeFormView:  # fmt: skip
    programme = await store.get_programme(database, programme_id)
    if programme is None or (programme.status is ProgrammeStatus.DRAFT and not is_manager(caller)):
        raise NotFound(f"no programme {programme_id}")
    wanted = version or programme.form_version_of(stage)
    form = await store.get_form(database, programme.id, wanted, stage) if wanted else None
    if form is None:
        raise NotFound(f"programme {programme_id} has no form" + (f" version {version}" if version else ""))
    return ProgrammeFormView.of(form)
