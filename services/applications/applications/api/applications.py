"""Applications: an applicant group drafts, edits, submits and withdraws its own; managers read them
all. An application outside the caller's scope answers 404, so its existence is not revealed."""

from fastapi import APIRouter, Response
from pymongo.errors import DuplicateKeyError

from applications import commands, domain, store
from applications.schemas import (
    ApplicationDraft,
    ApplicationFilter,
    ApplicationPatch,
    ApplicationSummaryView,
    ApplicationView,
    AssistedApplicationDraft,
    TimelineView,
    Withdrawal,
)
from applications.store import Application
from grants_shared.api import (
    Applicant, ApplicantOrManager, DatabaseDep, IdFilter, IfMatch, IfMatchRequired, Limit, Manager, Offset, Page,
    PathId, Transact, is_manager, set_etag,
)  # fmt: skip
from grants_shared.auth import Caller
from grants_shared.errors import NotFound
from grants_shared.idempotency import Created, Once
from grants_shared.openapi import etag, problems

router = APIRouter(prefix="/v1/applications", tags=["applications"])


def _created(application: Application) -> Created:
    view = ApplicationView.of(application, manager=False)
    return Created(view, f"/v1/applications/{application.id}", application.version)


@router.post(
    "", status_code=201, response_model=ApplicationView,
    summary="Start a draft application for an organisation you represent", responses=etag(201) | problems(409),
)  # fmt: skip
async def create_application(body: ApplicationDraft, caller: Applicant, transact: Transact, once: Once) -> Response:
    return await once.create(transact, commands.start_application, _created, caller, body)


def _created_for_group(application: Application) -> Created:
    view = ApplicationView.of(application, manager=True)
    return Created(view, f"/v1/applications/{application.id}", application.version)


@router.post(
    "/assisted", status_code=201, response_model=ApplicationView,
    summary="Start a draft on behalf of a group that asked for help, with the group's consent (programme managers)",
    responses=etag(201) | problems(409),
)  # fmt: skip
async def create_assisted_application(
    body: AssistedApplicationDraft, caller: Manager, transact: Transact, once: Once
) -> Response:
    return await once.create(transact, commands.start_assisted_application, _created_for_group, caller, body)


@router.post(
    "/{application_id}/take-over",
    summary="Take over an application the programme team started for your group: from then on it is yours alone",
    responses=etag() | problems(409),
)
async def take_over_application(
    application_id: PathId, caller: Applicant, transact: Transact, database: DatabaseDep, response: Response
) -> ApplicationView:
    taken = await transact(commands.take_over_application, caller, application_id)
    set_etag(response, taken.version)
    eligibility = await commands.eligibility_now(database, taken)  # type: ignore[arg-type]
    form = await commands.application_form(database, taken)  # type: ignore[arg-type]
    return ApplicationView.of(taken, manager=False, form=form, eligibility=eligibility)


@router.get("", summary="List applications: your organisations' (applicants) or all (managers)")
async def list_applications(
    caller: ApplicantOrManager,
    database: DatabaseDep,
    programme_id: IdFilter = None,
    organisation_id: IdFilter = None,
    status: ApplicationFilter | None = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Page[ApplicationSummaryView]:
    manager = is_manager(caller)
    query: dict[str, object] = {}
    if not manager:
        query["organisation_id"] = {"$in": sorted(caller.organisation_ids)}
    if organisation_id:
        if not manager and organisation_id not in caller.organisation_ids:
            return Page(items=[], limit=limit, offset=offset, total=0)
        query["organisation_id"] = organisation_id
    if programme_id:
        query["programme_id"] = programme_id
    if status:
        query["status"] = domain.ApplicationStatus.SCORED if status == "under_review" else status
    found, total = await store.list_applications(database, query, limit, offset)
    items = [ApplicationSummaryView.of(a, manager) for a in found]
    return Page(items=items, limit=limit, offset=offset, total=total)


@router.get("/{application_id}", summary="Read an application", responses=etag())
async def get_application(
    application_id: PathId, caller: ApplicantOrManager, database: DatabaseDep, response: Response
) -> ApplicationView:
    application = visible(caller, await store.get_application(database, application_id), application_id)
    set_etag(response, application.version)
    form = await commands.application_form(database, application)  # type: ignore[arg-type]
    eligibility = await commands.eligibility_now(database, application)  # type: ignore[arg-type]
    return ApplicationView.of(application, manager=is_manager(caller), form=form, eligibility=eligibility)


@router.patch(
    "/{application_id}", summary="Edit a draft application (If-Match required)", responses=etag() | problems(409)
)
async def edit_application(
    application_id: PathId, body: ApplicationPatch, caller: ApplicantOrManager, transact: Transact, version: IfMatchRequired,
    database: DatabaseDep, response: Response,
) -> ApplicationView:  # fmt: skip
    edited = await transact(commands.edit_application, caller, application_id, body, version)
    set_etag(response, edited.version)
    eligibility = await commands.eligibility_now(database, edited)  # type: ignore[arg-type]
    return ApplicationView.of(edited, manager=is_manager(caller), eligibility=eligibility)


@router.delete(
    "/{application_id}", status_code=204, summary="Delete a draft application", responses=problems(409)
)
async def delete_application(
    application_id: PathId, caller: ApplicantOrManager, transact: Transact, version: IfMatch
) -> Response:
    await transact(commands.delete_draft, caller, application_id, version)
    return Response(status_code=204)


@router.post(
    "/{application_id}/submit",
    summary="Submit a draft: checks every eligibility rule; the answer says submitted or ineligible (with reasons)",
    responses=etag() | problems(409),
)
async def submit_application(
    application_id: PathId, caller: ApplicantOrManager, transact: Transact, version: IfMatch, response: Response
) -> ApplicationView:
    try:
        submitted = await transact(commands.submit_application, caller, application_id, version)
    except DuplicateKeyError:
        # Another application of the same organisation to this programme was submitted at the same
        # moment; running again sees it and records this one as a duplicate.
        submitted = await transact(commands.submit_application, caller, application_id, version)
    set_etag(response, submitted.version)
    return ApplicationView.of(submitted, manager=is_manager(caller))


@router.post(
    "/{application_id}/withdraw", summary="Withdraw a submitted application before the decision",
    responses=etag() | problems(409),
)  # fmt: skip
async def withdraw_application(
    application_id: PathId, body: Withdrawal, caller: ApplicantOrManager, transact: Transact, response: Response
) -> ApplicationView:
    withdrawn = await transact(commands.withdraw_application, caller, application_id, body.reason)
    set_etag(response, withdrawn.version)
    return ApplicationView.of(withdrawn, manager=is_manager(caller))


@router.get("/{application_id}/timeline", summary="Where an application stands, and what happened when")
async def get_timeline(application_id: PathId, caller: ApplicantOrManager, database: DatabaseDep) -> TimelineView:
    application = visible(caller, await store.get_application(database, application_id), application_id)
    return TimelineView.of(application, manager=is_manager(caller))


def visible(caller: Caller, application: Application | None, application_id: str) -> Application:
    if application is None or not (is_manager(caller) or caller.represents(application.organisation_id)):
        raise NotFound(f"no application {application_id}")
    return application
