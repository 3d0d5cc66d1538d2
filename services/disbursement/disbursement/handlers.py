"""What disbursement does with other services' events."""

import logging
from uuid import uuid4

from disbursement import store
from disbursement.domain import HeldReason, payment_schedule
from grants_shared.clock import utcnow
from grants_shared.consumer import Handler
from grants_shared.errors import RuleViolation
from grants_shared.events import ApplicationDecided, Event, GrantOffered, PaymentPolicy, ProgrammeOpened
from grants_shared.money import Money
from grants_shared.unit_of_work import Transaction

log = logging.getLogger(__name__)


class ProgrammeNotOpenedYet(Exception):
    """A decision overtook its programme's opening event; retrying later lets the opening arrive."""


async def on_programme_opened(event: Event, tx: Transaction) -> None:
    programme: ProgrammeOpened = event.data  # type: ignore[assignment]
    await store.open_ledger(tx, programme)


async def on_application_decided(event: Event, tx: Transaction) -> None:
    decision: ApplicationDecided = event.data  # type: ignore[assignment]
    if decision.outcome != "awarded" or decision.amount_awarded is None:
        return
    if await store.grant_for_application(tx, decision.application_id):
        return  # the same award announced again
    ledger = await store.get_ledger(tx.db, decision.programme_id, tx.session)
    if ledger is None:
        raise ProgrammeNotOpenedYet(f"programme {decision.programme_id} has not been opened here yet")
    award = decision.amount_awarded
    if award.amount <= 0:
        raise RuleViolation(f"application {decision.application_id} was awarded nothing")

    grant = {
        "_id": str(uuid4()),
        "application_id": decision.application_id,
        "programme_id": decision.programme_id,
        "organisation_id": decision.organisation_id,
        "amount": award.model_dump(),
        "decided_at": decision.decided_at,
        "created_at": utcnow(),
        "version": 1,
    }
    hold = _why_held(ledger, award)
    if hold is None and not await store.reserve(tx, decision.programme_id, award):
        hold = "budget"
    if hold:
        # Scoring should never award what the budget cannot cover; if it does, finance must see it.
        log.warning("grant %s for application %s held: %s", grant["_id"], decision.application_id, hold)
        await store.insert_grant(tx, {**grant, "status": "held", "held_reason": hold, "schedule": []})
        return

    schedule = payment_schedule(award, PaymentPolicy.model_validate(ledger["payment_policy"]))
    await store.insert_grant(tx, {
        **grant,
        "status": "offered",
        "schedule": [s.model_dump() for s in schedule],
        "offered_at": utcnow(),
    })
    await tx.emit(GrantOffered(
        grant_id=grant["_id"], application_id=decision.application_id, programme_id=decision.programme_id,
        amount=award, schedule=schedule,
    ))


def _why_held(ledger: dict, award: Money) -> HeldReason | None:
    return "currency" if ledger["budget"]["currency"] != award.currency else None


HANDLERS: dict[str, Handler] = {
    ProgrammeOpened.type: on_programme_opened,
    ApplicationDecided.type: on_application_decided,
}
