"""Building blocks for scoring's integration tests: the events that feed it and the HTTP steps of a review."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
from pymongo.asynchronous.database import AsyncDatabase

from grants_shared.clock import utcnow
from grants_shared.events import (
    ApplicationSubmitted,
    Contact,
    OrganisationSummary,
    PaymentPolicy,
    ProgrammeOpened,
    ReviewAssigned,
    RubricCriterion,
)
from grants_shared.money import Money
from grants_shared.settings import ServiceSettings
from scoring.config import Settings
from scoring.main import build_app
from tests.support.waiting import eventually
from tests.support.app import bearer, serve
from tests.support.bus import TestBus

CRITERIA = [
    RubricCriterion(key="need", title="Need in the community", weight=3),
    RubricCriterion(key="impact", title="Likely impact", weight=1),
]


def gbp(pounds: int) -> dict[str, Any]:
    return {"amount": pounds * 100, "currency": "GBP"}


@dataclass
class Scoring:
    """The running scoring service as a test sees it: its HTTP API, its database and the bus."""

    http: httpx.AsyncClient
    db: AsyncDatabase
    bus: TestBus
    settings: ServiceSettings

    def as_(self, subject: str, *roles: str, organisations: tuple[str, ...] = ()) -> dict[str, str]:
        return bearer(self.settings, subject, *roles, organisations=organisations)

    def reviewer(self, subject: str) -> dict[str, str]:
        return self.as_(subject, "reviewer")

    @property
    def manager(self) -> dict[str, str]:
        return self.as_("pm-1", "programme_manager")

    async def open_programme(
        self,
        programme_id: str,
        panel: list[str],
        k: int = 2,
        budget: int = 10_000,
        maximum_award: int = 5_000,
    ) -> ProgrammeOpened:
        now = utcnow()
        opened = ProgrammeOpened(
            programme_id=programme_id,
            name="Community suicide prevention fund",
            budget=Money(**gbp(budget)),
            maximum_award=Money(**gbp(maximum_award)),
            opens_at=now,
            closes_at=now + timedelta(days=30),
            criteria=CRITERIA,
            reviewers_per_application=k,
            panel=panel,
            payment_policy=PaymentPolicy(),
        )
        await self.bus.publish(opened)
        await self.eventually(lambda: self.db.programmes.find_one({"_id": programme_id}))
        return opened

    async def rule(self, programme_id: str, rule: dict[str, Any]) -> httpx.Response:
        """Set the programme's decision rule through the API, as its manager would."""
        read = await self.http.get(f"/v1/programmes/{programme_id}", headers=self.manager)
        assert read.status_code == 200, read.text
        return await self.http.put(
            f"/v1/programmes/{programme_id}/decision-rule", json=rule,
            headers={**self.manager, "If-Match": read.headers["ETag"]},
        )

    async def delegate(self, programme_id: str, role: str = "programme_manager") -> None:
        """Delegate the programme's decisions to ``role`` (so one call decides, recorded as delegated)."""
        delegated = await self.rule(programme_id, {"method": "delegated", "delegated_to": role})
        assert delegated.status_code == 200, delegated.text

    async def submit(
        self, application_id: str, programme_id: str, organisation_id: str, requested: int = 4_000, minutes: int = 0
    ) -> ApplicationSubmitted:
        submitted = ApplicationSubmitted(
            application_id=application_id,
            programme_id=programme_id,
            organisation=OrganisationSummary(
                id=organisation_id, name=f"{organisation_id} peer support", kind="charity", area="Leeds"
            ),
            title=f"Walk and talk groups ({application_id})",
            summary="Weekly peer-led walks for men at risk.",
            amount_requested=Money(**gbp(requested)),
            contact=Contact(person_id="person-1", name="Sam Jones", email="sam@example.org"),
            submitted_at=utcnow() + timedelta(minutes=minutes),
        )
        await self.bus.publish(submitted)
        return submitted

    async def assigned(self, application_id: str, count: int) -> list[ReviewAssigned]:
        events = await self.bus.wait_for(ReviewAssigned.type, count, application_id=application_id)
        return [e.data for e in events]  # type: ignore[misc]

    async def review_of(self, application_id: str, reviewer_id: str) -> str:
        [event] = await self.bus.wait_for(ReviewAssigned.type, application_id=application_id, reviewer_id=reviewer_id)
        return event.data.review_id  # type: ignore[attr-defined]

    async def score(self, review_id: str, reviewer_id: str, need: int, impact: int) -> httpx.Response:
        """Save and submit one reviewer's scores through the API, as the reviewer would."""
        headers = self.reviewer(reviewer_id)
        read = await self.http.get(f"/v1/reviews/{review_id}", headers=headers)
        assert read.status_code == 200, read.text
        sheet = {"scores": {"need": {"score": need, "comment": "clear local need"}, "impact": {"score": impact}}}
        saved = await self.http.put(
            f"/v1/reviews/{review_id}/scores", json=sheet, headers={**headers, "If-Match": read.headers["ETag"]}
        )
        assert saved.status_code == 200, saved.text
        return await self.http.post(f"/v1/reviews/{review_id}/submit", headers=headers)

    async def scored_application(
        self, application_id: str, programme_id: str, organisation_id: str, reviewer_id: str, requested: int
    ) -> None:
        """An application scored by its one reviewer (for programmes with k=1)."""
        await self.submit(application_id, programme_id, organisation_id, requested)
        review_id = await self.review_of(application_id, reviewer_id)
        submitted = await self.score(review_id, reviewer_id, need=4, impact=4)
        assert submitted.status_code == 200, submitted.text

    async def page(self, path: str, headers: dict[str, str], **params: Any) -> dict[str, Any]:
        """One page of a list endpoint, checking its shape on the way."""
        response = await self.http.get(path, params=params, headers=headers)
        assert response.status_code == 200, response.text
        page = response.json()
        assert set(page) == {"items", "limit", "offset", "total"}, page
        assert page["limit"] == params.get("limit", 100) and page["offset"] == params.get("offset", 0)
        return page

    async def items(self, path: str, headers: dict[str, str], **params: Any) -> list[dict[str, Any]]:
        """The items of one page of a list endpoint."""
        return (await self.page(path, headers, **params))["items"]

    async def every_item(self, path: str, headers: dict[str, str], **params: Any) -> list[dict[str, Any]]:
        """Every item of a long list, paged by cursor (``next``), checking each page's shape on the way."""
        items: list[dict[str, Any]] = []
        after = None
        while True:
            response = await self.http.get(path, params=params | ({"after": after} if after else {}), headers=headers)
            assert response.status_code == 200, response.text
            page = response.json()
            assert set(page) == {"items", "limit", "next"} and len(page["items"]) <= page["limit"], page
            items += page["items"]
            if not (after := page["next"]):
                return items

    async def application(self, application_id: str) -> dict[str, Any]:
        response = await self.http.get(f"/v1/applications/{application_id}", headers=self.manager)
        assert response.status_code == 200, response.text
        return response.json()

    eventually = staticmethod(eventually)


@asynccontextmanager
async def running_scoring(settings: ServiceSettings, bus: TestBus, **changes: Any) -> AsyncIterator[Scoring]:
    """The scoring service served with ``changes`` to its settings (a lower maximum load, a watcher
    that looks more often)."""
    app = build_app(Settings(**{**settings.model_dump(), **changes}))
    async with serve(app) as http:
        yield Scoring(http=http, db=app.state.runtime.db, bus=bus, settings=settings)
