"""Conflicts of interest: a reviewer declares one with an organisation (their open reviews of its
applications go to other panel members) and reads their own; managers read every reviewer's. The
reviewer may ask for one to be resolved; only a programme manager resolves it (each step is logged in
its history), and waiting applications may then be assigned to the reviewer."""

from fastapi import APIRouter, Response

from grants_shared.api import (
    DatabaseDep, IdFilter, Limit, Manager, ManagerOrReviewer, Offset, Page, PathId, Reviewer, Transact, is_manager,
)  # fmt: skip
from grants_shared.idempotency import Created, Once
from grants_shared.openapi import problems
from scoring import commands, store
from scoring.schemas import ConflictDeclaration, ConflictNote, ConflictView
from scoring.store import ConflictOfInterest

router = APIRouter(prefix="/v1/conflicts", tags=["conflicts"])


def _created(conflict: ConflictOfInterest) -> Created:
    return Created(ConflictView.of(conflict), f"/v1/conflicts/{conflict.id}")


@router.post(
    "", status_code=201, response_model=ConflictView,
    responses=problems(s409="You have already declared a conflict with this organisation"),
    summary="Declare a conflict of interest with an organisation; your open reviews of it are reassigned",
)  # fmt: skip
async def declare_conflict(body: ConflictDeclaration, caller: Reviewer, transact: Transact, once: Once) -> Response:
    return await once.create(transact, commands.declare_conflict, _created, caller, body)


@router.get(
    "", summary="Conflicts of interest, standing and resolved: a reviewer's own; managers see every reviewer's"
)
async def list_conflicts(
    caller: ManagerOrReviewer,
    database: DatabaseDep,
    reviewer_id: IdFilter = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> Page[ConflictView]:
    """``reviewer_id``: managers only, one reviewer's conflicts (a reviewer always reads their own)."""
    whose = reviewer_id if is_manager(caller) else caller.subject
    found, total = await store.list_conflicts(database, whose, limit, offset)
    return Page(items=[ConflictView.of(c) for c in found], limit=limit, offset=offset, total=total)


@router.post(
    "/{conflict_id}/resolve", responses=problems(s409="The conflict has already been resolved"),
    summary="Resolve a conflict (programme managers only); waiting applications may then be assigned to its reviewer",
)  # fmt: skip
async def resolve_conflict(
    conflict_id: PathId, caller: Manager, transact: Transact, body: ConflictNote | None = None
) -> ConflictView:
    note = body.note if body else ""
    return ConflictView.of(await transact(commands.resolve_conflict, caller, conflict_id, note))


@router.post(
    "/{conflict_id}/request-resolution", responses=problems(s409="The conflict has already been resolved"),
    summary="Ask a programme manager to resolve a conflict you declared (you cannot resolve it yourself)",
)  # fmt: skip
async def request_resolution(
    conflict_id: PathId, caller: Reviewer, transact: Transact, body: ConflictNote | None = None
) -> ConflictView:
    note = body.note if body else ""
    return ConflictView.of(await transact(commands.request_resolution, caller, conflict_id, note))
