"""Changes to an open programme over HTTP, with applications, scoring and disbursement running on the
real broker and database: a budget increase, a later closing date and safe edits reach scoring and
disbursement; a budget decrease is applied by disbursement only while the lower budget still covers
what is committed, and refused (the budget kept) when it would not; every change is in the history."""

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from pymongo.asynchronous.database import AsyncDatabase

from disbursement.config import Settings as DisbursementSettings
from disbursement.main import build_app as build_disbursement
from grants_shared.events import (
    ProgrammeBudgetDecreased, ProgrammeBudgetDecreaseRefused, ProgrammeBudgetDecreaseRequested, ProgrammeChanged,
    ProgrammeOpened,
)  # fmt: skip
from grants_shared.settings import ServiceSettings
from scoring.config import Settings as ScoringSettings
from scoring.main import build_app as build_scoring
from tests.integration.applications.conftest import Running
from tests.integration.applications.support import applicant, at, gbp, manager, open_programme, programme_body
from tests.integration.disbursement.helpers import awarded, finance
from tests.support.app import serve
from tests.support.bus import TestBus
from tests.support.waiting import eventually


@dataclass
class Others:
    scoring: httpx.AsyncClient
    disbursement: httpx.AsyncClient
    dbs: tuple[AsyncDatabase, AsyncDatabase]


@pytest.fixture
async def others(settings: ServiceSettings) -> AsyncIterator[Others]:
    """Scoring and disbursement beside applications, on the same broker names and database server."""
    scoring_app = build_scoring(ScoringSettings(**settings.model_dump()))
    disbursement_app = build_disbursement(DisbursementSettings(**settings.model_dump()))
    async with serve(scoring_app) as scoring, serve(disbursement_app) as disbursement:
        yield Others(scoring, disbursement, (scoring_app.state.runtime.db, disbursement_app.state.runtime.db))


async def _opened(service: Running, bus: TestBus) -> tuple[dict[str, Any], str]:
    programme = await open_programme(service.http, service.settings)
    await bus.wait_for(ProgrammeOpened.type, programme_id=programme["id"])
    etag = (await service.http.get(f"/v1/programmes/{programme['id']}", headers=manager(service.settings))).headers["etag"]
    return programme, etag


async def _ledger(disbursement: httpx.AsyncClient, settings: ServiceSettings, programme_id: str) -> dict[str, Any]:
    answer = await disbursement.get(f"/v1/programmes/{programme_id}/ledger", headers=finance(settings))
    return answer.json() if answer.status_code == 200 else {}


async def test_a_budget_increase_and_later_closing_date_reach_scoring_and_disbursement(
    service: Running, bus: TestBus, others: Others
) -> None:
    http, settings = service.http, service.settings
    scoring, disbursement = others.scoring, others.disbursement
    programme, etag = await _opened(service, bus)
    pid, pm = programme["id"], manager(settings)
    await eventually(lambda: _has_ledger(disbursement, settings, pid), 15, what="the ledger opened")
    later = datetime.fromisoformat(programme["closes_at"]) + timedelta(days=14)
    body = {"budget": gbp(250_000), "closes_at": at(later), "name": "Community support 2027 (extended)",
            "note": "Top-up from the health board"}  # fmt: skip
    changed = await http.post(f"/v1/programmes/{pid}/changes", json=body, headers={**pm, "If-Match": etag})
    assert changed.status_code == 201, changed.text
    assert changed.json()["status"] == "applied"
    assert changed.json()["before"]["budget"] == gbp(200_000) and changed.json()["after"]["budget"] == gbp(250_000)
    [event] = await bus.wait_for(ProgrammeChanged.type, programme_id=pid)
    assert event.data.budget_added.model_dump() == gbp(50_000)  # type: ignore[attr-defined]

    read = (await http.get(f"/v1/programmes/{pid}", headers=pm)).json()
    assert read["budget"] == gbp(250_000) and read["name"] == body["name"]
    assert datetime.fromisoformat(read["closes_at"]) == later.replace(microsecond=0)

    async def applied() -> bool:
        ledger = await _ledger(disbursement, settings, pid)
        seen = (await scoring.get(f"/v1/programmes/{pid}", headers=pm)).json()
        return (ledger.get("budget") == gbp(250_000) and ledger["available"] == gbp(250_000)
                and seen.get("remaining_budget") == gbp(250_000) and seen["name"] == body["name"])  # fmt: skip

    await eventually(applied, 15, what="scoring and disbursement applied the increase")

    # the same change announced again, under a new event id (the inbox cannot tell), changes nothing
    before = [await db.inbox.count_documents({}) for db in others.dbs]
    await bus.publish(event.data, source="/grants/applications")

    async def handled_again() -> bool:
        return [await db.inbox.count_documents({}) for db in others.dbs] == [n + 1 for n in before]

    await eventually(handled_again, 15, what="scoring and disbursement handled the repeat")
    assert await applied(), "a repeated change is applied once"

    history = (await http.get(f"/v1/programmes/{pid}/changes", headers=pm)).json()
    assert [c["id"] for c in history["items"]] == [changed.json()["id"]]
    assert history["items"][0]["note"] == "Top-up from the health board"


async def _has_ledger(disbursement: httpx.AsyncClient, settings: ServiceSettings, programme_id: str) -> bool:
    return bool(await _ledger(disbursement, settings, programme_id))


async def test_a_budget_decrease_is_applied_only_above_what_is_committed(
    service: Running, bus: TestBus, others: Others
) -> None:
    http, settings = service.http, service.settings
    scoring, disbursement = others.scoring, others.disbursement
    programme, etag = await _opened(service, bus)
    pid, pm = programme["id"], manager(settings)
    await eventually(lambda: _has_ledger(disbursement, settings, pid), 15, what="the ledger opened")
    # 120,000 pounds committed to one grant in disbursement
    await bus.publish(awarded("app-committed", 120_000 * 100, programme_id=pid))
    await eventually(lambda: _committed(disbursement, settings, pid, 120_000 * 100), 15, what="the grant committed")

    too_low = await http.post(f"/v1/programmes/{pid}/changes", json={"budget": gbp(100_000)},
                              headers={**pm, "If-Match": etag})  # fmt: skip
    assert too_low.status_code == 201, too_low.text
    assert too_low.json()["status"] == "pending"
    etag = too_low.headers["etag"]
    [asked] = await bus.wait_for(ProgrammeBudgetDecreaseRequested.type, programme_id=pid)
    assert asked.data.reduction.model_dump() == gbp(100_000)  # type: ignore[attr-defined]
    # nothing else changes while disbursement has not answered
    waiting = await http.post(f"/v1/programmes/{pid}/changes", json={"description": "x"}, headers={**pm, "If-Match": etag})
    assert waiting.status_code in (409, 412), waiting.text
    [refused] = await bus.wait_for(ProgrammeBudgetDecreaseRefused.type, programme_id=pid)
    assert refused.data.committed.model_dump() == gbp(120_000)  # type: ignore[attr-defined]

    async def settled(status: str, change_id: str) -> bool:
        items = (await http.get(f"/v1/programmes/{pid}/changes", headers=pm)).json()["items"]
        return any(c["id"] == change_id and c["status"] == status for c in items)

    await eventually(lambda: settled("refused", too_low.json()["id"]), 15, what="the refusal recorded")
    read = await http.get(f"/v1/programmes/{pid}", headers=pm)
    assert read.json()["budget"] == gbp(200_000) and read.json()["pending_change_id"] is None
    assert (await _ledger(disbursement, settings, pid))["budget"] == gbp(200_000)

    lower = await http.post(f"/v1/programmes/{pid}/changes", json={"budget": gbp(150_000)},
                            headers={**pm, "If-Match": read.headers["etag"]})  # fmt: skip
    assert lower.status_code == 201, lower.text
    await bus.wait_for(ProgrammeBudgetDecreased.type, programme_id=pid)
    await eventually(lambda: settled("applied", lower.json()["id"]), 15, what="the decrease recorded")
    assert (await http.get(f"/v1/programmes/{pid}", headers=pm)).json()["budget"] == gbp(150_000)
    ledger = await _ledger(disbursement, settings, pid)
    assert ledger["budget"] == gbp(150_000) and ledger["available"] == gbp(30_000)

    async def scoring_lowered() -> bool:
        seen = (await scoring.get(f"/v1/programmes/{pid}", headers=pm)).json()
        return seen["budget"] == gbp(150_000) and seen["remaining_budget"] == gbp(150_000)

    # scoring heard of no award here (the award was published straight to disbursement), so it had
    # the whole budget left and takes the whole reduction
    await eventually(scoring_lowered, 15, what="scoring lowered its budget line")


async def _committed(disbursement: httpx.AsyncClient, settings: ServiceSettings, programme_id: str, amount: int) -> bool:
    ledger = await _ledger(disbursement, settings, programme_id)
    return bool(ledger) and ledger["committed"]["amount"] == amount


async def test_only_safe_changes_to_an_open_programme(service: Running, bus: TestBus) -> None:
    http, settings = service.http, service.settings
    programme, etag = await _opened(service, bus)
    pid, pm = programme["id"], manager(settings)
    url = f"/v1/programmes/{pid}/changes"
    earlier = at(datetime.fromisoformat(programme["closes_at"]) - timedelta(days=1))
    for body in (
        {"closes_at": earlier},  # closing dates only move later
        {"maximum_award": gbp(5_000)},  # the maximum award only rises
        {"budget": {"amount": 30_000_000, "currency": "EUR"}},
        {"budget": gbp(150_000), "name": "Another name"},  # a decrease goes on its own
        {"maximum_award": gbp(300_000)},  # more than the budget
        {"expression_of_interest_closes_at": at(datetime.now(UTC) + timedelta(days=2))},  # it has no such stage
        {},
    ):
        answer = await http.post(url, json=body, headers={**pm, "If-Match": etag})
        assert answer.status_code == 422, (body, answer.text)
    assert (await http.post(url, json={"name": "x"}, headers=pm)).status_code == 428
    assert (await http.post(url, json={"name": "x"}, headers={**pm, "If-Match": '"999"'})).status_code == 412
    assert (await http.post(url, json={"name": "x"}, headers={**applicant(settings, "org-a"), "If-Match": etag})).status_code == 403
    assert (await http.get(url, headers=applicant(settings, "org-a"))).status_code == 403
    assert (await http.get(url, headers=pm)).json()["items"] == []

    draft = await http.post("/v1/programmes", json=programme_body(), headers=pm)
    refused = await http.post(f"/v1/programmes/{draft.json()['id']}/changes", json={"name": "x"},
                              headers={**pm, "If-Match": draft.headers["etag"]})  # fmt: skip
    assert refused.status_code == 409, "a draft is edited, not changed"
