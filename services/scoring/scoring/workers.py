"""Background work: the review watcher. Everything else scoring does follows from a request or an
event in the transaction that handles it (reviewers are assigned when an application arrives or a
reviewer frees up, an application is scored when its last review is submitted).

The review watcher, like disbursement's monitoring watcher, looks every ``review_watch_seconds`` for
open reviews whose reminder (``remind_at``) or overdue notice (``overdue_at``) has come, each on a
sparse index. Each is sent in a transaction of its own that clears the field with a conditional
update, so two replicas looking at once send it once, and a completed or cancelled review (whose
fields were cleared) is never chased.

The vote watcher, the same way, looks every ``vote_watch_seconds`` for decision meetings whose
``vote_reminder_at`` (set when the meeting is called, some hours into its day) has come. Each meeting
is handled in a transaction of its own that clears the field and emits one reminder per member still
to record a recommendation, so every member is reminded at most once per meeting.

The waiting watcher looks every ``waiting_watch_seconds`` for programmes with applications waiting for
reviewers and gives each panel member below the maximum load one of them, in a transaction per
programme (``commands.offer_waiting_applications``): an application that arrived at the moment a
reviewer freed up is seen by neither, and would otherwise wait until another reviewer did.
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


async def remind_of_votes(database: Database[Settings]) -> int:
    """One round: members of meetings whose day has come reminded of the votes they owe. How many reminded."""
    settings, done = database.settings, 0
    for meeting in await store.meetings_due_vote_reminder(database, utcnow(), settings.vote_watch_batch):  # type: ignore[arg-type]
        done += await database.transact(lambda tx, meeting_id=meeting.id: commands.remind_of_votes(tx, meeting_id))
    return done


async def watch_votes(runtime: Runtime[Settings]) -> None:
    database = runtime.database
    await every(database.settings.vote_watch_seconds, lambda: remind_of_votes(database), "vote watcher")


async def offer_waiting_applications(database: Database[Settings]) -> int:
    """One round: free reviewers given waiting applications, programme by programme. How many were given."""
    given = 0
    for programme_id in await store.programmes_with_waiting_applications(database):  # type: ignore[arg-type]
        given += await database.transact(lambda tx, p=programme_id: commands.offer_waiting_applications(tx, p))
    return given


async def watch_waiting(runtime: Runtime[Settings]) -> None:
    database = runtime.database
    await every(database.settings.waiting_watch_seconds, lambda: offer_waiting_applications(database),
                "waiting watcher")  # fmt: skip


WORKERS: tuple[Worker, ...] = (watch_reviews, watch_votes, watch_waiting)
