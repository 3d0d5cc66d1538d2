"""Changes that span programmes, applications and reviews, shared by the API and the event handlers.

Each runs inside the caller's transaction (``tx``), emits its events through the outbox there and
reads scoring's settings (review days, moderation spread) from it. Every write to an application
also bumps its ``version``: two transactions that touch the same application therefore collide
(WriteConflict, retried by ``transact``) instead of each acting on a stale snapshot, e.g. two
reviewers submitting the last two reviews at the same moment.
"""

from datetime import timedelta
from typing import cast
from uuid import uuid4

from grants_shared.clock import utcnow
from grants_shared.events import ApplicationScored, ReviewAssigned
from grants_shared.unit_of_work import Transaction

from scoring import domain, store
from scoring.config import Settings
from scoring.models import ApplicationDoc, ProgrammeDoc, ReviewDoc

Loads = dict[str, int]


def settings_of(tx: Transaction) -> Settings:
    return cast(Settings, tx.settings)


async def open_loads(tx: Transaction, programme: ProgrammeDoc) -> Loads:
    return await store.open_review_loads(tx.db, programme.panel, tx.session)


async def choose_reviewers(
    tx: Transaction, programme: ProgrammeDoc, application: ApplicationDoc, loads: Loads
) -> domain.Assignment:
    conflicted = await store.conflicted_reviewers(tx.db, application.organisation.id, programme.panel, tx.session)
    needed = application.reviewers_required - len(application.reviewer_ids)
    return domain.assign_reviewers(programme.panel, needed, loads, conflicted, application.reviewer_ids)


async def create_reviews(
    tx: Transaction, programme: ProgrammeDoc, application: ApplicationDoc, reviewer_ids: tuple[str, ...]
) -> None:
    """Open a review for each reviewer and tell them (ReviewAssigned)."""
    if not reviewer_ids:
        return
    now = utcnow()
    due = (now + timedelta(days=settings_of(tx).review_days)).date()
    reviews = [
        ReviewDoc(
            _id=f"rev-{uuid4().hex}",
            application_id=application.id,
            application_title=application.title,
            programme_id=programme.id,
            organisation_id=application.organisation.id,
            reviewer_id=reviewer_id,
            status=domain.ASSIGNED,
            assigned_at=now,
            due_date=due,
        )
        for reviewer_id in reviewer_ids
    ]
    await tx.db.reviews.insert_many([r.to_doc() for r in reviews], session=tx.session)
    for review in reviews:
        await tx.emit(
            ReviewAssigned(
                review_id=review.id,
                application_id=application.id,
                programme_id=programme.id,
                application_title=application.title,
                reviewer_id=review.reviewer_id,
                due_date=due,
            )
        )


async def top_up_reviewers(
    tx: Transaction, programme: ProgrammeDoc, application: ApplicationDoc, loads: Loads
) -> Loads:
    """Assign reviewers to an application that has fewer than it needs; return the loads afterwards."""
    choice = await choose_reviewers(tx, programme, application, loads)
    await create_reviews(tx, programme, application, choice.reviewer_ids)
    await tx.db.applications.update_one(
        {"_id": application.id, "status": {"$in": list(domain.UNDER_REVIEW)}},
        {
            "$push": {"reviewer_ids": {"$each": list(choice.reviewer_ids)}},
            "$set": {"reviewers_missing": choice.missing, "status": domain.status_after_assignment(choice.missing)},
            "$inc": {"version": 1},
        },
        session=tx.session,
    )
    return domain.with_new_reviews(loads, choice.reviewer_ids)


async def retry_waiting_applications(tx: Transaction, programme: ProgrammeDoc) -> None:
    """Give waiting applications of ``programme`` the reviewers that have become free, oldest first."""
    waiting = await store.applications_of_programme(tx.db, programme.id, [domain.AWAITING_REVIEWERS], tx.session)
    if not waiting:
        return
    loads = await open_loads(tx, programme)
    for application in waiting:
        loads = await top_up_reviewers(tx, programme, application, loads)


async def replace_reviewer(tx: Transaction, review: ReviewDoc, reason: str) -> None:
    """Cancel an open review and give its application another reviewer (or leave it waiting for one)."""
    if not await store.cancel_open_reviews(tx.db, {"_id": review.id}, reason, tx.session):
        return
    await tx.db.applications.update_one(
        {"_id": review.application_id},
        {"$pull": {"reviewer_ids": review.reviewer_id}, "$inc": {"version": 1}},
        session=tx.session,
    )
    application = await store.get_application(tx.db, review.application_id, tx.session)
    programme = await store.get_programme(tx.db, review.programme_id, tx.session)
    if application is None or programme is None or application.status not in domain.UNDER_REVIEW:
        return
    await top_up_reviewers(tx, programme, application, await open_loads(tx, programme))


async def score_if_complete(tx: Transaction, programme: ProgrammeDoc, application_id: str) -> None:
    """Once every one of the application's reviews is complete, score it and say so (ApplicationScored)."""
    application = await store.get_application(tx.db, application_id, tx.session)
    if (
        application is None
        or application.status != domain.IN_REVIEW
        or application.reviews_completed < application.reviewers_required
    ):
        return
    reviews = await store.reviews_of_application(tx.db, application.id, [domain.COMPLETED], tx.session)
    sheets = [{key: s.score for key, s in review.scores.items()} for review in reviews]
    score = domain.score_application(programme.weights, sheets, settings_of(tx).moderation_spread)
    await tx.db.applications.update_one(
        {"_id": application.id, "status": domain.IN_REVIEW},
        {
            "$set": {
                "status": domain.SCORED,
                "criterion_means": score.criterion_means,
                "computed_weighted_score": score.weighted_score,
                "weighted_score": score.weighted_score,
                "needs_moderation": score.needs_moderation,
            },
            "$inc": {"version": 1},
        },
        session=tx.session,
    )
    await tx.emit(
        ApplicationScored(
            application_id=application.id,
            programme_id=programme.id,
            weighted_score=score.weighted_score,
            criterion_means=score.criterion_means,
            reviewer_count=len(reviews),
            needs_moderation=score.needs_moderation,
        )
    )
