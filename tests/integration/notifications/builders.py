"""Events as the other services would publish them, and small waiting helpers."""

from datetime import UTC, date, datetime, timedelta

import httpx

from grants_shared.events import (
    ApplicationDecidedV2,
    ApplicationSubmitted,
    Contact,
    DecisionBasis,
    DecisionTally,
    OrganisationSummary,
    PaymentPolicy,
    ProgrammeOpened,
    ReviewAssigned,
)
from grants_shared.money import Money
from grants_shared.settings import ServiceSettings
from tests.support.app import bearer, runtime_of
from tests.support.bus import TestBus
from tests.support.waiting import eventually

PANEL_DECISION = DecisionBasis(
    by="panel", meeting_id="mtg-1",
    tally=DecisionTally(fund=2, fund_different_amount=0, do_not_fund=1, abstain=0, recused=0),
)

PROGRAMME = "Suicide prevention small grants 2026"


def gbp(pence: int) -> Money:
    return Money(amount=pence, currency="GBP")


def programme_opened(programme_id: str = "prog-1") -> ProgrammeOpened:
    now = datetime.now(UTC)
    return ProgrammeOpened(
        programme_id=programme_id, name=PROGRAMME, budget=gbp(10_000_000), maximum_award=gbp(1_000_000),
        opens_at=now, closes_at=now + timedelta(days=30), criteria=[], reviewers_per_application=2,
        panel=["reviewer-1", "reviewer-2"], payment_policy=PaymentPolicy(),
    )


def submitted(
    application_id: str = "app-1", person_id: str = "person-1", email: str = "sam@hope.example",
    title: str = "Walk and talk peer support", programme_id: str = "prog-1", amount: int = 500_000,
) -> ApplicationSubmitted:
    return ApplicationSubmitted(
        application_id=application_id, programme_id=programme_id,
        organisation=OrganisationSummary(id="org-1", name="Hope Street Group", kind="charity", area="Leeds"),
        title=title, summary="Weekly walks with peer supporters.", amount_requested=gbp(amount),
        contact=Contact(person_id=person_id, name="Sam Okafor", email=email), submitted_at=datetime.now(UTC),
    )


def decided_awarded(application_id: str = "app-1", amount: int = 450_000) -> ApplicationDecidedV2:
    return ApplicationDecidedV2(
        application_id=application_id, programme_id="prog-1", organisation_id="org-1", outcome="awarded",
        amount_awarded=gbp(amount), feedback="Strong local roots.", decided_at=datetime.now(UTC),
        decided_by=PANEL_DECISION,
    )


def review_assigned(review_id: str, reviewer_id: str = "reviewer-1", application_id: str = "app-1") -> ReviewAssigned:
    return ReviewAssigned(
        review_id=review_id, application_id=application_id, programme_id="prog-1",
        application_title="Walk and talk peer support", reviewer_id=reviewer_id, due_date=date(2026, 12, 4),
    )


def applicant(settings: ServiceSettings, person_id: str = "person-1") -> dict[str, str]:
    return bearer(settings, person_id, "applicant", organisations=("org-1",))


def reviewer(settings: ServiceSettings, person_id: str = "reviewer-1") -> dict[str, str]:
    return bearer(settings, person_id, "reviewer")


def admin(settings: ServiceSettings) -> dict[str, str]:
    return bearer(settings, "admin-1", "admin")



async def inbox(client: httpx.AsyncClient, headers: dict[str, str], **params: object) -> dict:
    response = await client.get("/v1/inbox", headers=headers, params=params)
    assert response.status_code == 200, response.text
    return response.json()


async def programme_known(bus: TestBus, client: httpx.AsyncClient) -> None:
    """Publish programme.opened and wait until notifications holds it. The service handles events
    concurrently, so an application published right after could otherwise be handled first, and its
    message would (correctly) leave out the programme's name that a test then looks for."""
    event = await bus.publish(programme_opened())
    db = runtime_of(client).db
    await eventually(lambda: db.programmes.find_one({"_id": event.data.programme_id}), what="the programme to be known")


async def wait_for_inbox(
    client: httpx.AsyncClient, headers: dict[str, str], count: int, timeout: float = 10
) -> list[dict]:
    items: list[dict] = []

    async def arrived() -> bool:
        nonlocal items
        items = (await inbox(client, headers))["items"]
        return len(items) >= count

    await eventually(arrived, timeout, f"{count} notifications in the inbox")
    return items
