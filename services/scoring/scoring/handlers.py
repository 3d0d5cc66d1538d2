"""What scoring does with other services' events.

Each is safe to run late, twice or out of order: inserts happen only when nothing is there yet and
every transition is conditional.
"""

import logging

from grants_shared.clock import utcnow
from grants_shared.consumer import Handler
from grants_shared.errors import RuleViolation
from grants_shared.events import (
    ApplicationSubmitted,
    ApplicationWithdrawn,
    Event,
    ProgrammeClosed,
    ProgrammeOpened,
)
from grants_shared.unit_of_work import Transaction

from scoring import domain, store, workflow
from scoring.models import ApplicationDoc, ProgrammeDoc

log = logging.getLogger(__name__)


class ProgrammeNotKnownYet(Exception):
    """Transient: the programme's opening has not reached scoring yet, so the event is retried later."""


async def on_programme_opened(event: Event, tx: Transaction) -> None:
    data: ProgrammeOpened = event.data  # type: ignore[assignment]
    if await store.get_programme(tx.db, data.programme_id, tx.session):
        return
    programme = ProgrammeDoc(
        _id=data.programme_id,
        name=data.name,
        budget=data.budget,
        maximum_award=data.maximum_award,
        criteria=data.criteria,
        reviewers_per_application=data.reviewers_per_application,
        panel=list(dict.fromkeys(data.panel)),
        awarded_total=data.budget.model_copy(update={"amount": 0}),
        remaining_budget=data.budget,
        opened_at=utcnow(),
    )
    await tx.db.programmes.insert_one(programme.to_doc(), session=tx.session)


async def on_programme_closed(event: Event, tx: Transaction) -> None:
    data: ProgrammeClosed = event.data  # type: ignore[assignment]
    if not await store.get_programme(tx.db, data.programme_id, tx.session):
        raise ProgrammeNotKnownYet(f"programme {data.programme_id} closed before scoring heard it opened")
    # Reviews of applications already submitted carry on; closing only stops new submissions upstream.
    await tx.db.programmes.update_one(
        {"_id": data.programme_id, "status": "open"},
        {"$set": {"status": "closed", "closed_at": utcnow()}, "$inc": {"version": 1}},
        session=tx.session,
    )


async def on_application_submitted(event: Event, tx: Transaction) -> None:
    data: ApplicationSubmitted = event.data  # type: ignore[assignment]
    programme = await store.get_programme(tx.db, data.programme_id, tx.session)
    if programme is None:
        raise ProgrammeNotKnownYet(f"application {data.application_id} arrived before programme {data.programme_id}")
    if await store.get_application(tx.db, data.application_id, tx.session):
        return
    if data.amount_requested.currency != programme.budget.currency:
        raise RuleViolation(
            f"application {data.application_id} asks for {data.amount_requested.currency}; "
            f"programme {programme.id} pays in {programme.budget.currency}"
        )
    application = ApplicationDoc(
        _id=data.application_id,
        programme_id=programme.id,
        organisation=data.organisation,
        title=data.title,
        summary=data.summary,
        amount_requested=data.amount_requested,
        submitted_at=data.submitted_at,
        status=domain.AWAITING_REVIEWERS,
        reviewers_required=programme.reviewers_per_application,
        reviewers_missing=programme.reviewers_per_application,
    )
    if await store.was_withdrawn_early(tx.db, application.id, tx.session):
        application = application.model_copy(update={"status": domain.WITHDRAWN, "withdrawn_at": utcnow()})
        await tx.db.applications.insert_one(application.to_doc(), session=tx.session)
        return
    choice = await workflow.choose_reviewers(tx, programme, application, await workflow.open_loads(tx, programme))
    application = application.model_copy(
        update={
            "reviewer_ids": list(choice.reviewer_ids),
            "reviewers_missing": choice.missing,
            "status": domain.status_after_assignment(choice.missing),
        }
    )
    await tx.db.applications.insert_one(application.to_doc(), session=tx.session)
    await workflow.create_reviews(tx, programme, application, choice.reviewer_ids)
    if choice.missing:
        log.warning("application %s is waiting for %d more reviewers", application.id, choice.missing)


async def on_application_withdrawn(event: Event, tx: Transaction) -> None:
    data: ApplicationWithdrawn = event.data  # type: ignore[assignment]
    application = await store.get_application(tx.db, data.application_id, tx.session)
    if application is None:
        await store.record_early_withdrawal(tx.db, data.application_id, tx.session)
        return
    if application.status not in domain.WITHDRAWABLE:
        return  # already withdrawn, or decided (a decision stands)
    await tx.db.applications.update_one(
        {"_id": application.id, "status": {"$in": list(domain.WITHDRAWABLE)}},
        {"$set": {"status": domain.WITHDRAWN, "withdrawn_at": utcnow(), "reviewers_missing": 0}, "$inc": {"version": 1}},
        session=tx.session,
    )
    await store.cancel_open_reviews(tx.db, {"application_id": application.id}, "application withdrawn", tx.session)


HANDLERS: dict[str, Handler] = {
    ProgrammeOpened.type: on_programme_opened,
    ProgrammeClosed.type: on_programme_closed,
    ApplicationSubmitted.type: on_application_submitted,
    ApplicationWithdrawn.type: on_application_withdrawn,
}
