"""The closer worker: closes open programmes once their ``closes_at`` has passed."""

import asyncio
import logging
from typing import cast

from applications import store
from applications.config import Settings
from applications.lifecycle import close_programme
from grants_shared.clock import utcnow
from grants_shared.errors import Conflict
from grants_shared.service import Runtime

log = logging.getLogger(__name__)


async def close_programmes_past_their_closing_time(runtime: Runtime) -> None:
    """A worker: every few seconds, close open programmes whose ``closes_at`` has passed.

    Several replicas may run it at once; the conditional update lets only one close each programme.
    """
    settings = cast(Settings, runtime.settings)
    if not settings.close_programmes_automatically:
        return
    while True:
        for programme_id in await store.programmes_due_to_close(runtime.db, utcnow()):
            try:
                await runtime.database.transact(lambda tx, pid=programme_id: close_programme(tx, pid))
                log.info("closed programme %s: its closing time has passed", programme_id)
            except Conflict:
                pass  # a manager or another replica closed it first
        await asyncio.sleep(settings.programme_closer_interval_seconds)
