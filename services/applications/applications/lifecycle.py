"""Opening and closing programmes, in the caller's transaction: managers do both over HTTP, and the
closer worker closes programmes whose closing time has passed. Each transition announces itself."""

from datetime import datetime

from applications import domain, store
from applications.models import Programme
from grants_shared.clock import utcnow
from grants_shared.errors import Conflict, NotFound, PreconditionFailed
from grants_shared.events import ProgrammeClosed
from grants_shared.unit_of_work import Transaction


async def open_programme(tx: Transaction, programme_id: str, expected_version: int | None = None) -> Programme:
    programme = await _current(tx, programme_id, expected_version)
    now = utcnow()
    _refuse(domain.can_open(programme.status, programme.closes_at, now))
    opened = await _save(tx, programme, now, status="open", opened_at=now)
    await tx.emit(opened.opened())
    return opened


async def close_programme(tx: Transaction, programme_id: str, expected_version: int | None = None) -> Programme:
    programme = await _current(tx, programme_id, expected_version)
    _refuse(domain.can_close(programme.status))
    now = utcnow()
    closed = await _save(tx, programme, now, status="closed", closed_at=now)
    await tx.emit(ProgrammeClosed(programme_id=closed.id))
    return closed


def refuse_stale(expected_version: int | None, current: int) -> None:
    """If-Match is optional on state transitions (the state machine guards them), but honoured if sent."""
    if expected_version is not None and expected_version != current:
        raise PreconditionFailed(f"you read version {expected_version}; it is at {current}: read it again and retry")


async def _current(tx: Transaction, programme_id: str, expected_version: int | None) -> Programme:
    programme = await store.get_programme(tx.db, programme_id, tx.session)
    if programme is None:
        raise NotFound(f"no programme {programme_id}")
    refuse_stale(expected_version, programme.version)
    return programme


def _refuse(refusal: str | None) -> None:
    if refusal:
        raise Conflict(refusal)


async def _save(tx: Transaction, programme: Programme, now: datetime, **changes: object) -> Programme:
    moved = programme.model_copy(update={**changes, "updated_at": now, "version": programme.version + 1})
    if not await store.replace_programme(tx.db, moved, programme.version, tx.session):
        raise Conflict("the programme changed meanwhile; try again")
    return moved
