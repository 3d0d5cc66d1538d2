"""Background work: closing programmes whose closing time has passed, and anonymising applications
whose programme's retention period has ended.

Several replicas may run it at once; closing is a conditional change of the programme's version, so
only one closes each programme and the others see a Conflict (or the closed status) and move on.
"""

import logging
from datetime import datetime

from applications import commands, domain, store
from applications.config import Settings
from grants_shared.clock import utcnow
from grants_shared.errors import Conflict, PreconditionFailed
from grants_shared.service import Runtime
from grants_shared.unit_of_work import Database
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


async def anonymise_due(database: Database[Settings], now: datetime) -> int:
    """Each programme's rules, each rule's cutoff at ``now``, a batch of the applications past it: one
    index walk per programme and rule. Anonymising is idempotent, so racing replicas do no harm."""
    done = 0
    for programme_id, rules in await store.all_programme_retention(database):
        cutoffs = domain.retention_cutoffs(domain.RetentionRules.model_validate(rules or {}), now)
        for rule, cutoff in cutoffs.items():
            for application_id in await store.applications_past_retention(database, programme_id, rule, cutoff, 100):
                try:
                    if await database.transact(lambda tx, aid=application_id: commands.anonymise_application(tx, aid)):
                        done += 1
                except PreconditionFailed:
                    continue  # it changed meanwhile: the next round sees it again
                # Attached files may say anything about anyone. GridFS cannot join the transaction, so
                # they go once it has committed (a crash in between leaves them: noted in the docs).
                await store.delete_attachments_of(database, application_id)
    if done:
        log.info("anonymised %d applications past their programme's retention period", done)
    return done


async def anonymise_applications_past_retention(runtime: Runtime[Settings]) -> None:
    async def sweep() -> None:
        await anonymise_due(runtime.database, utcnow())

    await every(runtime.settings.retention_interval_seconds, sweep, "retention")


WORKERS = (close_programmes_past_their_closing_time, anonymise_applications_past_retention)
