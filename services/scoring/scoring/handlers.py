"""What scoring does with other services' events: each handler calls one command.

Each is safe to run late, twice or out of order: inserts happen only when nothing is there yet and
every transition is conditional. An event that arrives before the programme it belongs to raises
``ProgrammeNotKnownYet``, which is transient: the consumer retries it later.
"""

from grants_shared.consumer import registry
from grants_shared.events import (
    ApplicationAnonymised,
    ApplicationInvited,
    ApplicationSubmitted,
    ApplicationWithdrawn,
    Event,
    InterestDeclined,
    PersonErasureRequested,
    ProgrammeBudgetDecreased,
    ProgrammeChanged,
    ProgrammeClosed,
    ProgrammeOpened,
)
from scoring import commands
from scoring.commands import Tx


async def on_programme_opened(event: Event[ProgrammeOpened], tx: Tx) -> None:
    await commands.take_over_programme(tx, event.data, opened_by=event.actor)


async def on_programme_closed(event: Event[ProgrammeClosed], tx: Tx) -> None:
    await commands.close_programme(tx, event.data.programme_id)


async def on_programme_changed(event: Event[ProgrammeChanged], tx: Tx) -> None:
    await commands.apply_programme_change(tx, event.data)


async def on_programme_budget_decreased(event: Event[ProgrammeBudgetDecreased], tx: Tx) -> None:
    await commands.apply_budget_decrease(tx, event.data)


async def on_application_submitted(event: Event[ApplicationSubmitted], tx: Tx) -> None:
    await commands.receive_application(tx, event.data)


async def on_application_withdrawn(event: Event[ApplicationWithdrawn], tx: Tx) -> None:
    await commands.withdraw_application(tx, event.data.application_id)


async def on_application_invited(event: Event[ApplicationInvited], tx: Tx) -> None:
    await commands.end_interest_stage(tx, event.data.application_id)


async def on_interest_declined(event: Event[InterestDeclined], tx: Tx) -> None:
    await commands.end_interest_stage(tx, event.data.application_id)


async def on_person_erasure_requested(event: Event[PersonErasureRequested], tx: Tx) -> None:
    await commands.erase_person(tx, event.data.request_id, event.data.person_id)


async def on_application_anonymised(event: Event[ApplicationAnonymised], tx: Tx) -> None:
    await commands.anonymise_application(tx, event.data.application_id)


HANDLERS = registry(
    on_programme_opened,
    on_programme_closed,
    on_programme_changed,
    on_programme_budget_decreased,
    on_application_submitted,
    on_application_withdrawn,
    on_application_invited,
    on_interest_declined,
    on_person_erasure_requested,
    on_application_anonymised,
)
