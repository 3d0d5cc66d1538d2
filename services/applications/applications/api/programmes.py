"""Programmes (funding rounds): managers draft, edit, open and close them; anyone, signed in or not,
reads the open and closed ones (who can apply, how much, when, the criteria); managers download the
awards as 360Giving open data."""

from typing import Any

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse

from applications import commands, domain, store, three_sixty_giving
from applications.config import CurrentSettings
from applications.domain import ProgrammeStatus
from applications.schemas import EligibilityAnswer, EligibilityCheck, ProgrammeDraft, ProgrammePatch, ProgrammeView
from applications.store import Programme
from grants_shared.api import (
    DatabaseDep, IfMatch, IfMatchRequired, Limit, Manager, Offset, Page, PathId, Public, Transact, is_manager,
    set_etag,
)  # fmt: skip
from grants_shared.clock import utcnow
from grants_shared.idempotency import Created, Once
from grants_shared.errors import Conflict, NotFound
from grants_shared.openapi import etag, problems

router = APIRouter(prefix="/v1/programmes", tags=["programmes"])


def _created(programme: Programme) -> Created:
    return Created(ProgrammeView.of(programme, manager=True), f"/v1/programmes/{programme.id}", programme.version)


@router.post(
    "", status_code=201, response_model=ProgrammeView, summary="Create a draft programme (funding round)",
    responses=etag(201),
)  # fmt: skip
async def create_programme(body: ProgrammeDraft, caller: Manager, transact: Transact, once: Once) -> Response:
    return await once.create(transact, commands.create_programme, _created, body)


@router.get("", summary="List programmes: open and closed ones for anyone; drafts too for programme managers and admins")
async def list_programmes(
    caller: Public, database: DatabaseDep, status: ProgrammeStatus | None = None, limit: Limit = 50, offset: Offset = 0
) -> Page[ProgrammeView]:
    manager = is_manager(caller)
    visible = set(ProgrammeStatus) if manager else {ProgrammeStatus.OPEN, ProgrammeStatus.CLOSED}
    statuses = visible & {status} if status else visible
    found, total = await store.list_programmes(database, statuses, limit, offset) if statuses else ([], 0)
    return Page(items=[ProgrammeView.of(p, manager) for p in found], limit=limit, offset=offset, total=total)


@router.get("/{programme_id}", summary="Read a programme (a draft: managers only)", responses=etag())
async def get_programme(programme_id: PathId, caller: Public, database: DatabaseDep, response: Response) -> ProgrammeView:
    programme = await store.get_programme(database, programme_id)
    if programme is None or (programme.status is ProgrammeStatus.DRAFT and not is_manager(caller)):
        raise NotFound(f"no programme {programme_id}")
    set_etag(response, programme.version)
    return ProgrammeView.of(programme, is_manager(caller))


@router.post(
    "/{programme_id}/eligibility",
    summary="Check a group's facts against the programme's eligibility rules: anyone, signed in or not",
)
async def check_eligibility(
    programme_id: PathId, body: EligibilityCheck, caller: Public, database: DatabaseDep
) -> EligibilityAnswer:
    programme = await store.get_programme(database, programme_id)
    if programme is None or (programme.status is ProgrammeStatus.DRAFT and not is_manager(caller)):
        raise NotFound(f"no programme {programme_id}")
    group = domain.ApplicantOrganisation(kind=body.kind, area=body.area, annual_income=body.annual_income)
    failures = domain.eligibility_check(commands.eligibility_terms(programme), group, body.amount_requested, utcnow())
    return EligibilityAnswer(eligible=not failures, failures=failures)


@router.patch(
    "/{programme_id}", summary="Edit a draft programme (If-Match required)", responses=etag() | problems(409)
)
async def edit_programme(
    programme_id: PathId, body: ProgrammePatch, caller: Manager, transact: Transact, version: IfMatchRequired,
    response: Response,
) -> ProgrammeView:  # fmt: skip
    edited = await transact(commands.edit_programme, programme_id, body, version)
    set_etag(response, edited.version)
    return ProgrammeView.of(edited, manager=True)


@router.post(
    "/{programme_id}/open", summary="Open a draft programme for applications", responses=etag() | problems(409)
)
async def open_programme(
    programme_id: PathId, caller: Manager, transact: Transact, version: IfMatch, response: Response
) -> ProgrammeView:
    opened = await transact(commands.open_programme, programme_id, version)
    set_etag(response, opened.version)
    return ProgrammeView.of(opened, manager=True)


@router.post(
    "/{programme_id}/close", summary="Close an open programme to new applications", responses=etag() | problems(409)
)
async def close_programme(
    programme_id: PathId, caller: Manager, transact: Transact, version: IfMatch, response: Response
) -> ProgrammeView:
    closed = await transact(commands.close_programme, programme_id, version)
    set_etag(response, closed.version)
    return ProgrammeView.of(closed, manager=True)


class ThreeSixtyGivingJSON(JSONResponse):
    """Writes amounts as the exact numbers they are (6000.00), never through floats."""

    def render(self, content: Any) -> bytes:
        return three_sixty_giving.to_json(content).encode("utf-8")


@router.get(
    "/{programme_id}/360giving",
    summary="The programme's awarded grants as a 360Giving data package: what would be published as open data",
    response_class=ThreeSixtyGivingJSON,
    responses={
        200: {
            "description": "A 360Giving 1.4 data package (https://standard.threesixtygiving.org/)",
            "content": {"application/json": {"schema": {"type": "object", "required": ["grants"]}}},
        },
        **problems(s409="Nothing can be published yet: no awarded grants, or a currency 360Giving lacks"),
    },
)
async def three_sixty_giving_package(
    programme_id: PathId, caller: Manager, database: DatabaseDep, settings: CurrentSettings
) -> ThreeSixtyGivingJSON:
    programme = await store.get_programme(database, programme_id)
    if programme is None or programme.status is ProgrammeStatus.DRAFT:
        raise NotFound(f"no programme {programme_id}")
    awarded = await store.awarded_applications(database, programme.id)
    organisations = await store.get_organisations(database, (a.organisation_id for a in awarded))
    publisher = three_sixty_giving.Publisher(
        prefix=settings.three_sixty_giving_prefix, funder_id=settings.funder_id, funder_name=settings.funder_name,
        license=settings.three_sixty_giving_license,
    )  # fmt: skip
    try:
        awards = [three_sixty_giving.award_of(programme, a, organisations.get(a.organisation_id)) for a in awarded]
        package = three_sixty_giving.package(programme.id, programme.name, awards, publisher, issued=utcnow())
    except three_sixty_giving.NotPublishable as refusal:
        raise Conflict(str(refusal)) from None
    return ThreeSixtyGivingJSON(package)
