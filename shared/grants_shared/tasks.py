"""Stopping background loops reliably.

On Python 3.11 a cancellation can be swallowed: by ``asyncio.wait_for`` when the awaited thing
finishes at the same moment (CPython gh-86296), and inside PyMongo 4.20, which wraps its socket
connect in ``wait_for``. A loop that swallowed its cancellation goes round again and shutdown would
wait for ever, so shutdown cancels again until every task has really stopped.
"""

import asyncio
import logging

log = logging.getLogger(__name__)


async def stop(*tasks: asyncio.Task | None, grace: float = 1.0) -> None:
    pending = {t for t in tasks if t is not None and not t.done()}
    while pending:
        for task in pending:
            task.cancel()
        _, pending = await asyncio.wait(pending, timeout=grace)
        if pending:
            log.warning("cancelling again: %s ignored a cancellation", ", ".join(t.get_name() for t in pending))
    for task in tasks:
        if task is not None and task.done() and not task.cancelled() and task.exception():
            log.warning("task %s had failed: %s", task.get_name(), task.exception())
