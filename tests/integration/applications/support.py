"""Helpers the applications integration tests share: people, a programme, an organisation, polling."""

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from grants_shared.settings import ServiceSettings
from tests.support.app import bearer


def manager(settings: ServiceSettings) -> dict[str, str]:
    return bearer(settings, "pm-1", "programme_manager")


def applicant(settings: ServiceSettings, *organisations: str, subject: str = "person-amara") -> dict[str, str]:
    return bearer(settings, subject, "applicant", organisations=organisations, name="Amara Okafor",
                  email="amara@example.org")  # fmt: skip


def gbp(pounds: int) -> dict[str, Any]:
    return {"amount": pounds * 100, "currency": "GBP"}


def at(moment: datetime) -> str:
    return moment.replace(microsecond=0).isoformat()


def programme_body(**overrides: Any) -> dict[str, Any]:
    now = datetime.now(UTC)
    body: dict[str, Any] = {
        "name": "Suicide prevention: community support 2027",
        "description": "Small grants for voluntary and community groups.",
        "budget": gbp(200_000),
        "maximum_award": gbp(10_000),
        "opens_at": at(now - timedelta(days=1)),
        "closes_at": at(now + timedelta(days=30)),
        "eligibility": {
            "areas_served": ["Brent", "Harrow"],
            "organisation_kinds": ["charity", "community_group"],
            "max_annual_income": gbp(250_000),
        },
        "criteria": [
            {"key": "need", "title": "Need in the community", "weight": 3},
            {"key": "lived_experience", "title": "Led by lived experience", "weight": 2},
        ],
        "reviewers_per_application": 2,
        "panel": ["rev-ada", "rev-ben", "rev-cat"],
        "payment_policy": {"kind": "tranches", "tranches": [
            {"share_bps": 5_000, "due_after_days": 0}, {"share_bps": 5_000, "due_after_days": 180},
        ]},
    }  # fmt: skip
    body.update(overrides)
    return body


async def open_programme(http: httpx.AsyncClient, settings: ServiceSettings, **overrides: Any) -> dict[str, Any]:
    created = await http.post("/v1/programmes", json=programme_body(**overrides), headers=manager(settings))
    assert created.status_code == 201, created.text
    opened = await http.post(f"/v1/programmes/{created.json()['id']}/open", headers=manager(settings))
    assert opened.status_code == 200, opened.text
    return opened.json()


def organisation_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "Brent Men's Shed",
        "kind": "community_group",
        "area": "Brent",
        "annual_income": gbp(40_000),
    }
    body.update(overrides)
    return body


async def register(
    http: httpx.AsyncClient, settings: ServiceSettings, organisation_id: str, **overrides: Any
) -> dict[str, Any]:
    answer = await http.put(f"/v1/organisations/{organisation_id}", json=organisation_body(**overrides),
                            headers=applicant(settings, organisation_id))  # fmt: skip
    assert answer.status_code == 201, answer.text
    return answer.json()


async def draft(
    http: httpx.AsyncClient, settings: ServiceSettings, programme_id: str, organisation_id: str, **overrides: Any
) -> httpx.Response:
    body = {"programme_id": programme_id, "organisation_id": organisation_id, "title": "Peer support walks",
            "summary": "Weekly walks led by people with lived experience.", "amount_requested": gbp(6_000)}  # fmt: skip
    body.update(overrides)
    return await http.post("/v1/applications", json=body, headers=applicant(settings, organisation_id))


async def submitted_application(
    http: httpx.AsyncClient, settings: ServiceSettings, organisation_id: str = "org-shed", **programme: Any
) -> tuple[dict[str, Any], dict[str, Any]]:
    """An open programme and an application to it that was submitted and found eligible."""
    opened = await open_programme(http, settings, **programme)
    await register(http, settings, organisation_id)
    created = await draft(http, settings, opened["id"], organisation_id)
    assert created.status_code == 201, created.text
    answer = await http.post(f"/v1/applications/{created.json()['id']}/submit",
                             headers=applicant(settings, organisation_id))  # fmt: skip
    assert answer.json()["status"] == "submitted", answer.text
    return opened, answer.json()

