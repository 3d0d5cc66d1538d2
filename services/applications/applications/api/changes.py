"""Changes to an open programme: programme managers raise or lower its budget, extend its closing
dates, raise its maximum award and edit its name and description; each change is published and kept
in the programme's history. A budget decrease waits for disbursement, which holds what is committed."""

from fastapi import APIRouter, Response

from applications import commands, store
from applications.domain import ProgrammeStatus
from applications.schemas import ProgrammeChangeRequest, ProgrammeChangeView
from grants_shared.api import DatabaseDep, IfMatchRequired, Limit, Manager, Offset, Page, PathId, Transact, set_etag
from grants_shared.errors import NotFound
from grants_shared.openapi import etag, problems

router = APIRouter(prefix="/v1/programmes", tags=["programme changes"])


@router.post(
    "/{programme_id}/changes", status_code=201,
    summary="Change an open programme (If-Match: the programme's ETag); a budget decrease is pending until "
    "disbursement applies or refuses it",
    responses=etag(201) | problems(409),
)  # fmt: skip
async def change_programme(
    programme_id: PathId, body: ProgrammeChangeRequest, caller: Manager, transact: Transact, version: IfMatchRequired,
    response: Response,
) -> ProgrammeChangeView:  # fmt: skip
    change, programme = await transact(commands.change_programme, programme_id, body, version)
    set_etag(response, programme.version)  # the programme's new version, for the next change
    response.headers["Location"] = f"/v1/programmes/{programme_id}/changes"
    return ProgrammeChangeView.of(change)


@router.get("/{programme_id}/changes", summary="The history of an open programme's changes, newest first")
async def list_changes(
    programme_id: PathId, caller: Manager, database: DatabaseDep, limit: Limit = 50, offset: Offset = 0
) -> Page[ProgrammeChangeView]:
    programme = await store.get_programme(database, programme_id)
    if programme is None or programme.status is ProgrammeStatus.DRAFT:
        raise NotFound(f"no open or closed programme {programme_id}")
    found, total = await store.programme_changes(database, programme_id, limit, offset)
    return Page(items=[ProgrammeChangeView.of(c) for c in found], limit=limit, offset=offset, total=total)
