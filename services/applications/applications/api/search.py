"""The managers' search of a programme's applications (words of the title or group's name, status,
stage, area, amount requested), as pages and as a CSV export streamed a batch at a time.

The export has no bank details (disbursement keeps them), no equality monitoring answers (kept apart,
used only in aggregate) and no contact person: a CSV is copied and forwarded beyond the service, and a
manager who needs to reach a group finds its contact on the application's own page, where access is
checked and recorded."""

import csv
import io
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse
from pydantic import BaseModel

from applications import domain, store
from applications.schemas import ApplicationFilter
from applications.store import Application
from grants_shared.api import Cursor, CursorPage, DatabaseDep, Limit, Manager, PathId
from grants_shared.clock import utcnow
from grants_shared.errors import GrantsError, NotFound
from grants_shared.money import Money, major_units
from grants_shared.openapi import problems
from grants_shared.paging import After

router = APIRouter(prefix="/v1/programmes/{programme_id}", tags=["search"])

Words = Annotated[str | None, Query(max_length=200, description="Words all found in the title or the group's name")]
Statuses = Annotated[list[ApplicationFilter] | None, Query(description="Any of these statuses (repeat the parameter)")]
AmountBound = Annotated[int | None, Query(ge=0, le=store.MAX_AMOUNT, description="Amount requested, in minor units (pence)")]
Area = Annotated[str | None, Query(min_length=1, max_length=200, description="The group's area, as submitted")]


class ApplicationFound(BaseModel):
    id: str
    title: str
    organisation_id: str
    organisation_name: str | None
    area: str | None
    stage: domain.Stage
    status: str
    amount_requested: Money
    submitted_at: datetime | None
    created_at: datetime

    @classmethod
    def of(cls, application: Application) -> "ApplicationFound":
        organisation = application.organisation
        return cls(
            id=application.id, title=application.title, organisation_id=application.organisation_id,
            organisation_name=organisation.name if organisation else None,
            area=organisation.area if organisation else None, stage=application.stage, status=application.status,
            amount_requested=application.amount_requested, submitted_at=application.submitted_at,
            created_at=application.created_at,
        )  # fmt: skip


async def _query(
    database: DatabaseDep, programme_id: str, q: str | None, status: list[str] | None, stage: domain.Stage | None,
    area: str | None, amount_min: int | None, amount_max: int | None,
) -> tuple[store.Programme, store.ApplicationSearch]:
    programme = await store.get_programme(database, programme_id)
    if programme is None:
        raise NotFound(f"no programme {programme_id}")
    if amount_min is not None and amount_max is not None and amount_min > amount_max:
        raise GrantsError("amount_min is more than amount_max")
    statuses = [domain.ApplicationStatus.SCORED if s == "under_review" else s for s in status or []]
    words = domain.search_words(q)
    return programme, store.ApplicationSearch(programme_id, tuple(words), tuple(statuses), stage, area, amount_min,
                                              amount_max)  # fmt: skip


@router.get(
    "/applications", summary="Find a programme's applications by words, status, stage, area and amount",
    description="Newest first; with an amount range, smallest amount asked for first. Paged by cursor: ask for "
    "the next page with `after` set to the `next` of this one. There is no total: counting every match "
    "in a programme of 100,000 applications would cost more than the page.",
    responses=problems(400, 404),
)
async def search_applications(
    programme_id: PathId, caller: Manager, database: DatabaseDep, q: Words = None, status: Statuses = None,
    stage: domain.Stage | None = None, area: Area = None, amount_min: AmountBound = None,
    amount_max: AmountBound = None, limit: Limit = 50, after: Cursor = None,
) -> CursorPage[ApplicationFound]:  # fmt: skip
    programme, search = await _query(database, programme_id, q, status, stage, area, amount_min, amount_max)
    start = After.parse(after) if after else None
    if start is not None and isinstance(start.value, datetime) == search.by_amount:
        # A cursor of a newest-first search given to a search by amount (or the other way round).
        raise GrantsError("the page cursor is not one this search gave")
    found, following = await store.search_applications(
        database, search, limit, start, since=programme.created_at, likely_newest=min(utcnow(), programme.closes_at)
    )
    return CursorPage(items=[ApplicationFound.of(a) for a in found], limit=limit,
                      next=following.token() if following else None)  # fmt: skip


COLUMNS = [
    "application_id", "title", "organisation_id", "organisation_name", "organisation_kind", "area", "stage", "status",
    "amount_requested", "currency", "created_at", "submitted_at", "weighted_score", "outcome", "amount_awarded",
]  # fmt: skip


def _cell(value: str) -> str:
    # A cell a spreadsheet would run as a formula (a title starting "=") is kept as text.
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def export_row(application: Application) -> list[str]:
    organisation, decision, score = application.organisation, application.decision, application.score
    awarded = decision.amount_awarded if decision else None
    return [_cell(v) for v in (
        application.id, application.title, application.organisation_id, organisation.name if organisation else "",
        organisation.kind if organisation else "", organisation.area if organisation else "", application.stage,
        application.status, str(major_units(application.amount_requested)), application.amount_requested.currency,
        application.created_at.isoformat(), application.submitted_at.isoformat() if application.submitted_at else "",
        f"{score.weighted_score:.2f}" if score else "", decision.outcome if decision else "",
        str(major_units(awarded)) if awarded else "",
    )]  # fmt: skip


async def _lines(rows: AsyncIterator[Application]) -> AsyncIterator[str]:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    count = 0
    async for application in rows:
        writer.writerow(export_row(application))
        count += 1
        if count % 200 == 0:
            yield out.getvalue()
            out.seek(0)
            out.truncate()
    yield out.getvalue()


@router.get(
    "/applications.csv", summary="Export a programme's applications (the same filters) as CSV",
    response_class=StreamingResponse, responses=problems(404) | {
        200: {"description": "One row per application; no bank details, equality answers or contact person",
              "content": {"text/csv": {}}},
    },
)  # fmt: skip
async def export_applications(
    programme_id: PathId, caller: Manager, database: DatabaseDep, q: Words = None, status: Statuses = None,
    stage: domain.Stage | None = None, area: Area = None, amount_min: AmountBound = None,
    amount_max: AmountBound = None,
) -> StreamingResponse:  # fmt: skip
    _, search = await _query(database, programme_id, q, status, stage, area, amount_min, amount_max)
    return StreamingResponse(
        _lines(store.each_application(database, search.query())), media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="applications-{programme_id}.csv"'},
    )
