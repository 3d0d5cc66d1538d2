"""GET /v1/programmes/{id}/360giving: a programme's awards as a 360Giving data package, valid against the
standard's own schema, holding exactly the awarded grants and nothing personal."""

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from applications.config import Settings
from grants_shared.events import ApplicationDecidedV2, DecisionBasis, DecisionTally
from grants_shared.money import Money
from grants_shared.settings import ServiceSettings
from tests.integration.applications.conftest import Running
from tests.integration.applications.support import applicant, draft, manager, open_programme, programme_body, register
from tests.support.app import bearer
from tests.support.bus import TestBus
from tests.support.waiting import eventually
from tests.unit.test_applications_360giving import schema_errors

PANEL_DECISION = DecisionBasis(
    by="panel", meeting_id="mtg-1",
    tally=DecisionTally(fund=2, fund_different_amount=0, do_not_fund=1, abstain=0, recused=0),
)

PREFIX = "360G-nhs-spp-test"
FUNDER_ID = "GB-GOR-PB9999"
FUNDER_NAME = "NHS suicide prevention fund (test)"
DECIDED = datetime(2027, 6, 1, 15, 0, 0, tzinfo=UTC)

#: Things that must never be published: application text, contacts, the panel and its words.
SUMMARY = "Our chair's son died by suicide last winter; we meet men in crisis at the allotment."
DECLINED_FEEDBACK = "Declined: the panel was worried about safeguarding."
AWARDED_FEEDBACK = "Strongly rooted in lived experience."
PRIVATE = [
    SUMMARY, "died by suicide", DECLINED_FEEDBACK, AWARDED_FEEDBACK, "Amara Okafor", "amara@example.org",
    "person-amara", "rev-ada", "rev-ben", "rev-cat", "pm-chair", "summary", "contact", "feedback", "@",
]  # fmt: skip


@pytest.fixture
def app_settings(settings: ServiceSettings) -> Settings:
    return Settings(
        **settings.model_dump(), three_sixty_giving_prefix=PREFIX, funder_id=FUNDER_ID, funder_name=FUNDER_NAME
    )


async def submit(service: Running, programme_id: str, organisation_id: str, title: str, pounds: int,
                 **organisation: Any) -> dict[str, Any]:  # fmt: skip
    http, settings = service.http, service.settings
    await register(http, settings, organisation_id, **organisation)
    created = await draft(http, settings, programme_id, organisation_id, title=title, summary=SUMMARY,
                          amount_requested={"amount": pounds * 100, "currency": "GBP"})  # fmt: skip
    assert created.status_code == 201, created.text
    answer = await http.post(f"/v1/applications/{created.json()['id']}/submit",
                             headers=applicant(settings, organisation_id))  # fmt: skip
    assert answer.json()["status"] == "submitted", answer.text
    return answer.json()


def decided(application: dict[str, Any], award_pence: int | None, feedback: str, days: int) -> ApplicationDecidedV2:
    return ApplicationDecidedV2(
        application_id=application["id"], programme_id=application["programme_id"],
        organisation_id=application["organisation_id"], outcome="awarded" if award_pence else "declined",
        amount_awarded=Money(amount=award_pence, currency="GBP") if award_pence else None, feedback=feedback,
        decided_at=DECIDED + timedelta(days=days),
        decided_by=PANEL_DECISION,
    )  # fmt: skip


async def all_decided(service: Running, applications: list[dict[str, Any]]) -> bool:
    for application in applications:
        read = await service.http.get(f"/v1/applications/{application['id']}", headers=manager(service.settings))
        if read.json()["decision"] is None:
            return False
    return True


async def test_a_managers_package_holds_exactly_the_awarded_grants_and_is_valid_360giving(
    service: Running, bus: TestBus
) -> None:
    http, settings = service.http, service.settings
    programme = await open_programme(http, settings)
    pid = programme["id"]
    charity = await submit(service, pid, "org-circle", "Listening circles", 4_500, name="Harrow Listening Circle",
                           kind="charity", area="Harrow", charity_number="1234567")  # fmt: skip
    company = await submit(service, pid, "org-cafe", "Crisis cafe evenings", 2_000, name="Brent Crisis Cafe",
                           company_number="7654321")  # fmt: skip
    shed = await submit(service, pid, "org-shed", "Peer support walks", 6_000)
    declined = await submit(service, pid, "org-choir", "A choir for carers", 3_000, name="Carers' Choir")
    withdrawn = await submit(service, pid, "org-allot", "Allotment mornings", 1_000, name="Allotment Friends")
    answer = await http.post(f"/v1/applications/{withdrawn['id']}/withdraw", json={"reason": "We merged."},
                             headers=applicant(settings, "org-allot"))  # fmt: skip
    assert answer.status_code == 200, answer.text

    for event in (
        decided(charity, 432_109, AWARDED_FEEDBACK, days=2),
        decided(company, 1, AWARDED_FEEDBACK, days=1),
        decided(shed, 600_000, AWARDED_FEEDBACK, days=3),
        decided(declined, None, DECLINED_FEEDBACK, days=1),
        # Scoring decided before it heard of the withdrawal: recorded, but the group withdrew, so not published.
        decided(withdrawn, 100_000, AWARDED_FEEDBACK, days=1),
    ):
        await bus.publish(event)
    await eventually(lambda: all_decided(service, [charity, company, shed, declined, withdrawn]), what="decisions")

    answer = await http.get(f"/v1/programmes/{pid}/360giving", headers=manager(settings))
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("application/json")
    published = answer.json()
    assert schema_errors(published) == []
    assert schema_errors(json.loads(answer.text, parse_float=Decimal)) == []

    grants = {g["id"]: g for g in published["grants"]}
    assert list(grants) == [f"{PREFIX}-{company['id']}", f"{PREFIX}-{charity['id']}", f"{PREFIX}-{shed['id']}"]
    assert published["version"] == "1.4" and published["identifier"] == f"{PREFIX}-{pid}"
    assert published["publisher"] == {"identifier": FUNDER_ID, "name": FUNDER_NAME}
    assert published["modified"] == max(g["dateModified"] for g in published["grants"])

    circle = grants[f"{PREFIX}-{charity['id']}"]
    assert circle["title"] == "Listening circles"
    assert circle["description"] == f"{programme['name']}: a grant to Harrow Listening Circle (Harrow)"
    assert circle["currency"] == "GBP" and circle["awardDate"] == "2027-06-03T15:00:00Z"
    assert circle["recipientOrganization"] == [
        {"id": "GB-CHC-1234567", "name": "Harrow Listening Circle", "charityNumber": "1234567"}
    ]
    assert circle["fundingOrganization"] == [{"id": FUNDER_ID, "name": FUNDER_NAME}]
    assert circle["grantProgramme"] == [{"code": pid, "title": programme["name"]}]
    assert circle["fromOpenCall"] == "Yes" and circle["beneficiaryLocation"] == [{"name": "Harrow"}]
    cafe = grants[f"{PREFIX}-{company['id']}"]
    assert cafe["recipientOrganization"] == [
        {"id": "GB-COH-07654321", "name": "Brent Crisis Cafe", "companyNumber": "07654321"}
    ]
    assert grants[f"{PREFIX}-{shed['id']}"]["recipientOrganization"] == [
        {"id": f"{PREFIX}-org-org-shed", "name": "Brent Men's Shed"}
    ]

    # Amounts are exact pounds with two places, written as JSON numbers.
    for text in ('"amountAwarded":4321.09', '"amountAppliedFor":4500.00', '"amountAwarded":0.01',
                 '"amountAwarded":6000.00', '"amountAppliedFor":6000.00'):  # fmt: skip
        assert text in answer.text, text
    exact = {g["id"]: g for g in json.loads(answer.text, parse_float=Decimal)["grants"]}
    assert exact[f"{PREFIX}-{charity['id']}"]["amountAwarded"] == Decimal("4321.09")
    assert exact[f"{PREFIX}-{company['id']}"]["amountAwarded"] == Decimal("0.01")

    for private in PRIVATE:
        assert private not in answer.text, f"{private!r} must never be published"
    for left_out in (declined, withdrawn):
        assert left_out["id"] not in answer.text

    as_admin = await http.get(f"/v1/programmes/{pid}/360giving", headers=bearer(settings, "admin-1", "admin"))
    assert as_admin.status_code == 200 and [g["id"] for g in as_admin.json()["grants"]] == list(grants)


async def test_only_managers_and_admins_may_publish(service: Running) -> None:
    http, settings = service.http, service.settings
    pid = (await open_programme(http, settings))["id"]
    url = f"/v1/programmes/{pid}/360giving"
    for who in (applicant(settings, "org-shed"), bearer(settings, "rev-ada", "reviewer"),
                bearer(settings, "fin-1", "finance_officer")):  # fmt: skip
        answer = await http.get(url, headers=who)
        assert answer.status_code == 403, answer.text
        assert answer.headers["content-type"].startswith("application/problem+json")
    assert (await http.get(url)).status_code == 401


async def test_unknown_and_draft_programmes_are_not_found_and_one_without_awards_has_nothing_to_publish(
    service: Running,
) -> None:
    http, settings = service.http, service.settings
    unknown = await http.get("/v1/programmes/prg-nope/360giving", headers=manager(settings))
    assert unknown.status_code == 404, unknown.text
    created = await http.post("/v1/programmes", json=programme_body(), headers=manager(settings))
    drafted = await http.get(f"/v1/programmes/{created.json()['id']}/360giving", headers=manager(settings))
    assert drafted.status_code == 404, drafted.text

    pid = (await open_programme(http, settings))["id"]
    nothing = await http.get(f"/v1/programmes/{pid}/360giving", headers=manager(settings))
    assert nothing.status_code == 409, nothing.text
    assert "no awarded grants" in nothing.json()["detail"]
