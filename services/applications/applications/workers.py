"""Background work: closing programmes whose closing time has passed.

Several replicas may run it at once; closing is a conditional change of the programme's version, so
only one closes each programme and the others see a Conflict (or the closed status) and move on.
"""

import logging

from applications import commands, store
from applications.config import Settings
from grants_shared.clock import utcnow
from grants_shared.errors import Conflict, PreconditionFailed
from grants_shared.service import Runtime
from grants_shared.worker import every

log = logging.getLogger(__name__)


async def close_programmes_past_their_closing_time(runtime: Runtime[Settings]) -> None:
    settings = runtime.settings
    if not settings.close_programmes_automatically:
        return

    async def close_due() -> None:
        for programme_id in await store.programmes_due_to_close(runtime.database, utcnow()):
            try:
                await runtime.database.transact(lambda tx, pid=programme_id: commands.close_programme(tx, pid))
                log.info("closed programme %s: its closing time has passed", programme_id)
            except (Conflict, PreconditionFailed):
                pass  # a manager or another replica closed it first

    await every(settings.programme_closer_interval_seconds, close_due, "programme closer")


WORKERS = (close_programmes_past_their_closing_time,)
