"""Closing programmes: on a manager's request, or by the closer worker once ``closes_at`` has passed."""

import asyncio
import logging

from applications import domain, store
from applications.config import Settings
from applications.models import Programme
from grants_shared.clock import utcnow
from grants_shared.errors import Conflict, NotFound, PreconditionFailed
from grants_shared.events import ProgrammeClosed
from grants_shared.service import Runtime
from grants_shared.unit_of_work import Transaction

log = logging.getLogger(__name__)


async def close_programme(tx: Transaction, programme_id: str, expected_version: int | None = None) -> Programme:
    """Close an open programme and announce it, in the caller's transaction."""
    programme = await store.get_programme(tx.db, programme_id, tx.session)
    if programme is None:
        raise NotFound(f"no programme {programme_id}")
    if expected_version is not None and expected_version != programme.version:
        raise PreconditionFailed(f"the programme is at version {programme.version}; read it again and retry")
    refusal = domain.can_close(programme.status)
    if refusal:
        raise Conflict(refusal)
    now = utcnow()
    closed = programme.model_copy(
        update={"status": "closed", "closed_at": now, "updated_at": now, "version": programme.version + 1}
    )
    if not await store.replace_programme(tx.db, closed, programme.version, tx.session):
        raise Conflict("the programme changed while it was being closed; try again")
    await tx.emit(ProgrammeClosed(programme_id=programme.id))
    return closed


async def close_programmes_past_their_closing_time(runtime: Runtime) -> None:
    """A worker: every few seconds, close open programmes whose ``closes_at`` has passed.

    Several replicas may run it at once; the conditional update lets only one close each programme.
    """
    settings = runtime.settings
    interval = settings.programme_closer_interval_seconds if isinstance(settings, Settings) else 30.0
    if isinstance(settings, Settings) and not settings.close_programmes_automatically:
        return
    while True:
        for programme_id in await store.programmes_due_to_close(runtime.db, utcnow()):
            try:
                await runtime.database.transact(lambda tx, pid=programme_id: close_programme(tx, pid))
                log.info("closed programme %s: its closing time has passed", programme_id)
            except Conflict:
                pass  # a manager or another replica closed it first
        await asyncio.sleep(interval)
