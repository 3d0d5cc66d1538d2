"""What disbursement does with other services' events: a programme's opening gives it a ledger, an
award becomes a grant offer (``commands.offer_grant``)."""

from disbursement import commands
from disbursement.commands import Tx
from grants_shared.consumer import registry
from grants_shared.events import (
    ApplicationAnonymised,
    ApplicationDecided,
    ApplicationDecidedV2,
    Event,
    InvolvementClaimApproved,
    PersonErasureRequested,
    ProgrammeBudgetDecreaseRequested,
    ProgrammeChanged,
    ProgrammeOpened,
)


async def on_programme_opened(event: Event[ProgrammeOpened], tx: Tx) -> None:
    await commands.open_ledger(tx, event.data)


async def on_programme_changed(event: Event[ProgrammeChanged], tx: Tx) -> None:
    await commands.apply_programme_change(tx, event.data)


async def on_programme_budget_decrease_requested(event: Event[ProgrammeBudgetDecreaseRequested], tx: Tx) -> None:
    await commands.answer_budget_decrease(tx, event.data)


async def on_application_decided(event: Event[ApplicationDecided], tx: Tx) -> None:
    """v1, no longer published; handled so that awards queued before an upgrade are still offered."""
    await commands.offer_grant(tx, event.data)


async def on_application_decided_v2(event: Event[ApplicationDecidedV2], tx: Tx) -> None:
    await commands.offer_grant(tx, event.data)


async def on_person_erasure_requested(event: Event[PersonErasureRequested], tx: Tx) -> None:
    await commands.erase_person(tx, event.data.request_id, event.data.person_id)


async def on_application_anonymised(event: Event[ApplicationAnonymised], tx: Tx) -> None:
    await commands.anonymise_application(tx, event.data.application_id)


async def on_involvement_claim_approved(event: Event[InvolvementClaimApproved], tx: Tx) -> None:
    await commands.pay_involvement_claim(tx, event.data)


HANDLERS = registry(
    on_programme_opened, on_programme_changed, on_programme_budget_decrease_requested, on_application_decided, on_application_decided_v2, on_person_erasure_requested,
    on_application_anonymised, on_involvement_claim_approved,
)
