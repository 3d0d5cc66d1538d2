"""Background work: the review watcher. Everything else scoring does follows from a request or an
event in the transaction that handles it (reviewers are assigned when an application arrives or a
reviewer frees up, an application is scored when its last review is submitted).

The review watcher, like disbursement's monitoring watcher, looks every ``review_watch_seconds`` for
open reviews whose reminder (``remind_at``) or overdue notice (``overdue_at``) has come, each on a
sparse index. Each is sent in a transaction of its own that clears the field with a conditional
update, so two replicas looking at once send it once, and a completed or cancelled review (whose
fields were cleared) is never chased.
"""

from grants_shared.clock import utcnow
from grants_shared.service import Runtime, Worker
from grants_shared.unit_of_work import Database
from grants_shared.worker import every
from scoring import commands, store
from scoring.config import Settings


async def remind_of_reviews(database: Database[Settings]) -> int:
    """One round: reminders before reviews are due, notices once they are overdue. How many were sent."""
    settings, now, done = database.settings, utcnow(), 0
    for field, command in (("remind_at", commands.remind_of_review), ("overdue_at", commands.notice_overdue_review)):
        for review in await store.reviews_due(database, field, now, settings.review_watch_batch):  # type: ignore[arg-type]
            done += await database.transact(lambda tx, review_id=review.id: command(tx, review_id))
    return done


async def watch_reviews(runtime: Runtime[Settings]) -> None:
    database = runtime.database
    await every(database.settings.review_watch_seconds, lambda: remind_of_reviews(database), "review watcher")


WORKERS: tuple[Worker, ...] = (watch_reviews,)
