"""Shared pieces of the disbursement tests: the service in-process, events to inject, tokens."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

import httpx
from pymongo.asynchronous.database import AsyncDatabase

from disbursement.config import Settings
from disbursement.main import build_app
from grants_shared.clock import utcnow
from grants_shared.events import ApplicationDecidedV2, DecisionBasis, DecisionTally, GrantOffered, PaymentPolicy, ProgrammeOpened, Tranche
from grants_shared.money import Money
from grants_shared.service import Runtime
from grants_shared.settings import ServiceSettings
from tests.support.app import bearer, serve
from tests.support.bus import TestBus
from tests.support.waiting import eventually

PANEL_DECISION = DecisionBasis(
    by="panel", meeting_id="mtg-1",
    tally=DecisionTally(fund=2, fund_different_amount=0, do_not_fund=1, abstain=0, recused=0),
)

ORG = "org-hope-street"
OTHER_ORG = "org-elsewhere"
ACCOUNT = {"account_name": "Hope Street Peer Support", "sort_code": "12-34-56", "account_number": "31415926"}


def gbp(pence: int) -> Money:
    return Money(amount=pence, currency="GBP")


def tranches(*parts: tuple[int, int]) -> PaymentPolicy:
    return PaymentPolicy(kind="tranches", tranches=[Tranche(share_bps=s, due_after_days=d) for s, d in parts])


@asynccontextmanager
async def disbursement(settings: ServiceSettings, **overrides: object) -> AsyncIterator[tuple[httpx.AsyncClient, Runtime]]:
    """The service in-process with a fast payment runner, on the test's own broker names and database."""
    fast = {"payment_poll_seconds": 0.1, "payment_retry_backoff_seconds": 0.1, **overrides}
    app = build_app(Settings(**{**settings.model_dump(), **fast}))
    async with serve(app) as client:
        yield client, app.state.runtime


def programme_opened(programme_id: str = "prog-1", budget: int = 1_000_000,
                     policy: PaymentPolicy | None = None, currency: str = "GBP") -> ProgrammeOpened:
    now = utcnow()
    return ProgrammeOpened(
        programme_id=programme_id, name="Community suicide prevention 2026",
        budget=Money(amount=budget, currency=currency), maximum_award=Money(amount=budget, currency=currency),
        opens_at=now, closes_at=now + timedelta(days=30),
        criteria=[{"key": "need", "title": "Local need", "weight": 1}],
        reviewers_per_application=2, panel=["rev-1", "rev-2"], payment_policy=policy or PaymentPolicy(),
    )


def awarded(application_id: str, amount: int, programme_id: str = "prog-1", organisation_id: str = ORG,
            currency: str = "GBP") -> ApplicationDecidedV2:
    return ApplicationDecidedV2(
        application_id=application_id, programme_id=programme_id, organisation_id=organisation_id,
        outcome="awarded", amount_awarded=Money(amount=amount, currency=currency), feedback="Strong local need",
        decided_at=utcnow(), decided_by=PANEL_DECISION,
    )


def declined(application_id: str, programme_id: str = "prog-1") -> ApplicationDecidedV2:
    return ApplicationDecidedV2(
        application_id=application_id, programme_id=programme_id, organisation_id=ORG, outcome="declined",
        feedback="Outside the programme's area", decided_at=utcnow(),
        decided_by=PANEL_DECISION,
    )


def finance(settings: ServiceSettings) -> dict[str, str]:
    return bearer(settings, "fin-1", "finance_officer")


def applicant(settings: ServiceSettings, organisation: str = ORG) -> dict[str, str]:
    return bearer(settings, "ann", "applicant", organisations=(organisation,))


async def handled(db: AsyncDatabase, count: int, timeout: float = 10) -> None:
    """Wait until the service has committed ``count`` events from its queue."""

    async def done() -> bool:
        return await db.inbox.count_documents({}) >= count

    await eventually(done, timeout, what=f"{count} events handled")


async def offered_grant(bus: TestBus, application_id: str, amount: int, programme_id: str = "prog-1",
                        organisation_id: str = ORG) -> GrantOffered:
    """Announce an award and wait for disbursement to offer the grant."""
    await bus.publish(awarded(application_id, amount, programme_id, organisation_id))
    [offer] = await bus.wait_for(GrantOffered.type, application_id=application_id)
    return offer.data  # type: ignore[return-value]


async def statement(client: httpx.AsyncClient, settings: ServiceSettings, programme_id: str = "prog-1") -> dict:
    """The programme's ledger as finance reads it (budget, reserved, paid, available), checked to balance."""
    answer = await client.get(f"/v1/programmes/{programme_id}/ledger", headers=finance(settings))
    assert answer.status_code == 200, answer.text
    ledger = answer.json()
    parts = ledger["available"]["amount"] + ledger["reserved"]["amount"] + ledger["paid"]["amount"]
    assert parts == ledger["budget"]["amount"], ledger
    return ledger
