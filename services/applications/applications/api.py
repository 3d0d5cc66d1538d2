"""The HTTP API: programmes (managers), organisation profiles and applications (applicant groups).

Every route names the roles that may call it; every read is scoped to what the caller may see. An
application or organisation outside the caller's scope answers 404, so its existence is not revealed.
"""

from collections.abc import Awaitable, Callable
from typing import Annotated, Any, Literal, cast
from uuid import uuid4

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from pymongo.errors import DuplicateKeyError

from applications import domain, lifecycle, store, three_sixty_giving
from applications.config import Settings
from applications.lifecycle import refuse_stale
from applications.models import (
    Application,
    ApplicationDraft,
    ApplicationPatch,
    ApplicationSummaryView,
    ApplicationView,
    ContactDetails,
    Organisation,
    OrganisationProfile,
    OrganisationView,
    Programme,
    ProgrammeDraft,
    ProgrammePatch,
    ProgrammeStatus,
    ProgrammeView,
    TimelineEntry,
    TimelineEntryView,
    TimelineView,
    Withdrawal,
)
from grants_shared.auth import Caller, Role, require
from grants_shared.clock import utcnow
from grants_shared.errors import Conflict, Forbidden, NotFound, PreconditionFailed, RuleViolation
from grants_shared.events import (
    ApplicationIneligible,
    ApplicationSubmitted,
    ApplicationWithdrawn,
    Contact,
)
from grants_shared.http import check_version, optional_version, set_etag
from grants_shared.pages import Page
from grants_shared.service import RuntimeDep
from grants_shared.unit_of_work import Transaction

ID_PATTERN = r"^[A-Za-z0-9_.:-]+$"
PathId = Annotated[str, Path(min_length=1, max_length=64, pattern=ID_PATTERN)]
Limit = Annotated[int, Query(ge=1, le=200)]
Offset = Annotated[int, Query(ge=0, le=10_000)]

Anyone = Annotated[Caller, Depends(require(*Role))]
Manager = Annotated[Caller, Depends(require(Role.PROGRAMME_MANAGER, Role.ADMIN))]
Applicant = Annotated[Caller, Depends(require(Role.APPLICANT))]
ApplicantOrManager = Annotated[Caller, Depends(require(Role.APPLICANT, Role.PROGRAMME_MANAGER, Role.ADMIN))]


def is_manager(caller: Caller) -> bool:
    return caller.has(Role.PROGRAMME_MANAGER, Role.ADMIN)



# --- programmes ----------------------------------------------------------------------------------

programmes = APIRouter(prefix="/v1/programmes", tags=["programmes"])


@programmes.post("", status_code=201, summary="Create a draft programme (funding round)")
async def create_programme(
    body: ProgrammeDraft, caller: Manager, runtime: RuntimeDep, response: Response
) -> ProgrammeView:
    now = utcnow()
    programme = Programme(
        **body.model_dump(), id=f"prg-{uuid4().hex}", status="draft", version=1,
        created_by=caller.subject, created_at=now, updated_at=now,
    )  # fmt: skip
    await runtime.database.transact(lambda tx: store.insert_programme(tx.db, programme, tx.session))
    response.headers["Location"] = f"/v1/programmes/{programme.id}"
    set_etag(response, programme.version)
    return ProgrammeView.of(programme, show_panel=True)


@programmes.get("", summary="List programmes (drafts only for programme managers and admins)")
async def list_programmes(
    caller: Anyone,
    runtime: RuntimeDep,
    status: ProgrammeStatus | None = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Page[ProgrammeView]:
    manager = is_manager(caller)
    visible = {"draft", "open", "closed"} if manager else {"open", "closed"}
    statuses = visible & {status} if status else visible
    found = await store.list_programmes(runtime.db, statuses, limit, offset) if statuses else []
    return Page(items=[ProgrammeView.of(p, show_panel=manager) for p in found], limit=limit, offset=offset)


@programmes.get("/{programme_id}", summary="Read a programme")
async def get_programme(
    programme_id: PathId, caller: Anyone, runtime: RuntimeDep, response: Response
) -> ProgrammeView:
    programme = await _visible_programme(runtime, caller, programme_id)
    set_etag(response, programme.version)
    return ProgrammeView.of(programme, show_panel=is_manager(caller))


@programmes.patch("/{programme_id}", summary="Edit a draft programme (If-Match required)")
async def edit_programme(
    programme_id: PathId, body: ProgrammePatch, caller: Manager, runtime: RuntimeDep,
    request: Request, response: Response,
) -> ProgrammeView:  # fmt: skip
    async def change(tx: Transaction) -> Programme:
        programme = await _programme(tx, programme_id)
        check_version(request, programme.version)
        if programme.status != "draft":
            raise Conflict(f"only a draft programme can be edited; this one is {programme.status}")
        merged = programme.model_dump(include=set(ProgrammeDraft.model_fields)) | body.model_dump(exclude_unset=True)
        try:
            terms = ProgrammeDraft.model_validate(merged)
        except ValidationError as error:
            raise RuleViolation("the programme would not be valid after this change", errors=_errors(error)) from None
        edited = Programme(
            **terms.model_dump(), id=programme.id, status=programme.status, version=programme.version + 1,
            created_by=programme.created_by, created_at=programme.created_at, updated_at=utcnow(),
        )  # fmt: skip
        if not await store.replace_programme(tx.db, edited, programme.version, tx.session):
            raise PreconditionFailed("the programme changed while you were editing it; read it again and retry")
        return edited

    edited = await runtime.database.transact(change)
    set_etag(response, edited.version)
    return ProgrammeView.of(edited, show_panel=True)


@programmes.post("/{programme_id}/open", summary="Open a draft programme for applications")
async def open_programme(
    programme_id: PathId, caller: Manager, runtime: RuntimeDep, request: Request, response: Response
) -> ProgrammeView:
    return await _move(lifecycle.open_programme, programme_id, runtime, request, response)


@programmes.post("/{programme_id}/close", summary="Close an open programme to new applications")
async def close(
    programme_id: PathId, caller: Manager, runtime: RuntimeDep, request: Request, response: Response
) -> ProgrammeView:
    return await _move(lifecycle.close_programme, programme_id, runtime, request, response)


async def _move(
    transition: Callable[[Transaction, str, int | None], Awaitable[Programme]],
    programme_id: str, runtime: RuntimeDep, request: Request, response: Response,
) -> ProgrammeView:  # fmt: skip
    version = optional_version(request)
    moved = await runtime.database.transact(lambda tx: transition(tx, programme_id, version))
    set_etag(response, moved.version)
    return ProgrammeView.of(moved, show_panel=True)


class ThreeSixtyGivingJSON(JSONResponse):
    """Writes amounts as the exact numbers they are (6000.00), never through floats."""

    def render(self, content: Any) -> bytes:
        return three_sixty_giving.to_json(content).encode("utf-8")


@programmes.get(
    "/{programme_id}/360giving",
    summary="The programme's awarded grants as a 360Giving data package: what would be published as open data",
    response_class=ThreeSixtyGivingJSON,
    responses={
        200: {
            "description": "A 360Giving 1.4 data package (https://standard.threesixtygiving.org/)",
            "content": {"application/json": {"schema": {"type": "object", "required": ["grants"]}}},
        },
        409: {"description": "Nothing can be published yet: no awarded grants, or a currency 360Giving lacks"},
    },
)
async def three_sixty_giving_package(
    programme_id: PathId, caller: Manager, runtime: RuntimeDep
) -> ThreeSixtyGivingJSON:
    programme = await store.get_programme(runtime.db, programme_id)
    if programme is None or programme.status == "draft":
        raise NotFound(f"no programme {programme_id}")
    awarded = await store.awarded_applications(runtime.db, programme.id)
    organisations = await store.get_organisations(runtime.db, (a.organisation_id for a in awarded))
    awards = [_award(programme, a, organisations.get(a.organisation_id)) for a in awarded]
    settings = cast(Settings, runtime.settings)
    publisher = three_sixty_giving.Publisher(
        prefix=settings.three_sixty_giving_prefix, funder_id=settings.funder_id, funder_name=settings.funder_name,
        license=settings.three_sixty_giving_license,
    )  # fmt: skip
    try:
        package = three_sixty_giving.package(programme.id, programme.name, awards, publisher, issued=utcnow())
    except three_sixty_giving.NotPublishable as refusal:
        raise Conflict(str(refusal)) from None
    return ThreeSixtyGivingJSON(package)


def _award(
    programme: Programme, application: Application, organisation: Organisation | None
) -> three_sixty_giving.Award:
    """The public facts of an award. The name and area are the organisation's as it applied (what the
    panel funded); registered numbers come from its profile, the only place they are kept."""
    decision = application.decision
    named = application.organisation or (organisation.summary() if organisation else None)
    if decision is None or decision.amount_awarded is None or named is None:
        raise Conflict(f"application {application.id} has no award amount or organisation on record to publish")
    recipient = three_sixty_giving.Recipient(
        id=application.organisation_id, name=named.name, area=named.area,
        charity_number=organisation.charity_number if organisation else None,
        company_number=organisation.company_number if organisation else None,
    )  # fmt: skip
    return three_sixty_giving.Award(
        application_id=application.id, title=application.title, programme_id=programme.id,
        programme_name=programme.name, recipient=recipient, amount_awarded=decision.amount_awarded,
        amount_requested=application.amount_requested, awarded_at=decision.decided_at,
        modified_at=application.updated_at,
    )  # fmt: skip


async def _programme(tx: Transaction, programme_id: str) -> Programme:
    programme = await store.get_programme(tx.db, programme_id, tx.session)
    if programme is None:
        raise NotFound(f"no programme {programme_id}")
    return programme


async def _visible_programme(runtime: RuntimeDep, caller: Caller, programme_id: str) -> Programme:
    programme = await store.get_programme(runtime.db, programme_id)
    if programme is None or (programme.status == "draft" and not is_manager(caller)):
        raise NotFound(f"no programme {programme_id}")
    return programme


# --- organisations -------------------------------------------------------------------------------

organisations = APIRouter(prefix="/v1/organisations", tags=["organisations"])


@organisations.put(
    "/{organisation_id}",
    summary="Create or update the profile of an organisation you represent (If-Match required to update)",
    responses={201: {"description": "Profile created"}},
)
async def put_organisation(
    organisation_id: PathId, body: OrganisationProfile, caller: Applicant, runtime: RuntimeDep,
    request: Request, response: Response,
) -> OrganisationView:  # fmt: skip
    if not caller.represents(organisation_id):
        raise Forbidden("you can only describe an organisation you represent")
    version = optional_version(request)

    async def change(tx: Transaction) -> tuple[Organisation, bool]:
        existing = await store.get_organisation(tx.db, organisation_id, tx.session)
        now = utcnow()
        if existing is None:
            if version is not None:
                raise PreconditionFailed("this organisation has no profile yet; send no If-Match to create it")
            created = Organisation(
                **body.model_dump(), id=organisation_id, version=1, created_at=now, updated_at=now,
                updated_by=caller.subject,
            )  # fmt: skip
            await store.insert_organisation(tx.db, created, tx.session)
            return created, True
        check_version(request, existing.version)
        updated = Organisation(
            **body.model_dump(), id=organisation_id, version=existing.version + 1, created_at=existing.created_at,
            updated_at=now, updated_by=caller.subject,
        )  # fmt: skip
        if not await store.replace_organisation(tx.db, updated, existing.version, tx.session):
            raise PreconditionFailed("the profile changed while you were editing it; read it again and retry")
        return updated, False

    try:
        organisation, created = await runtime.database.transact(change)
    except DuplicateKeyError:
        raise PreconditionFailed("someone created this profile at the same moment; read it and retry") from None
    response.status_code = 201 if created else 200
    set_etag(response, organisation.version)
    return OrganisationView.of(organisation)


@organisations.get("/{organisation_id}", summary="Read an organisation's profile (its representatives and managers)")
async def get_organisation(
    organisation_id: PathId, caller: ApplicantOrManager, runtime: RuntimeDep, response: Response
) -> OrganisationView:
    organisation = None
    if is_manager(caller) or caller.represents(organisation_id):
        organisation = await store.get_organisation(runtime.db, organisation_id)
    if organisation is None:
        raise NotFound(f"no organisation {organisation_id}")
    set_etag(response, organisation.version)
    return OrganisationView.of(organisation)


# --- applications --------------------------------------------------------------------------------

applications = APIRouter(prefix="/v1/applications", tags=["applications"])


@applications.post("", status_code=201, summary="Start a draft application for an organisation you represent")
async def create_application(
    body: ApplicationDraft, caller: Applicant, runtime: RuntimeDep, response: Response
) -> ApplicationView:
    if not caller.represents(body.organisation_id):
        raise Forbidden("you can only apply for an organisation you represent")
    contact = body.contact or _contact_from_token(caller)

    async def change(tx: Transaction) -> Application:
        if await store.get_organisation(tx.db, body.organisation_id, tx.session) is None:
            raise Conflict(
                f"describe your organisation first: PUT /v1/organisations/{body.organisation_id}",
                missing="organisation_profile",
            )
        programme = await store.get_programme(tx.db, body.programme_id, tx.session)
        if programme is None or programme.status == "draft":
            raise NotFound(f"no programme {body.programme_id}")
        if programme.status != "open":
            raise Conflict("this programme is closed to new applications")
        now = utcnow()
        application = Application(
            id=f"app-{uuid4().hex}", programme_id=body.programme_id, organisation_id=body.organisation_id,
            title=body.title, summary=body.summary, amount_requested=body.amount_requested, contact=contact,
            status="draft", version=1, created_by=caller.subject, created_at=now, updated_at=now,
            timeline=[TimelineEntry(id="draft-started", at=now, kind="draft_started",
                                    words=f"You started a draft application to {programme.name}.")],
        )  # fmt: skip
        await store.insert_application(tx.db, application, tx.session)
        return application

    application = await runtime.database.transact(change)
    response.headers["Location"] = f"/v1/applications/{application.id}"
    set_etag(response, application.version)
    return ApplicationView.of(application, manager=False)


@applications.get("", summary="List applications: your organisations' (applicants) or all (managers)")
async def list_applications(
    caller: ApplicantOrManager,
    runtime: RuntimeDep,
    programme_id: Annotated[str | None, Query(max_length=64, pattern=ID_PATTERN)] = None,
    organisation_id: Annotated[str | None, Query(max_length=64, pattern=ID_PATTERN)] = None,
    status: Literal[
        "draft", "ineligible", "withdrawn", "submitted", "under_review", "scored",
        "awarded", "declined", "offered", "accepted", "part_paid", "paid",
    ] | None = None,  # fmt: skip
    limit: Limit = 50,
    offset: Offset = 0,
) -> Page[ApplicationSummaryView]:
    manager = is_manager(caller)
    query: dict[str, object] = {}
    if not manager:
        query["organisation_id"] = {"$in": sorted(caller.organisation_ids)}
    if organisation_id:
        if not manager and organisation_id not in caller.organisation_ids:
            return Page(items=[], limit=limit, offset=offset)
        query["organisation_id"] = organisation_id
    if programme_id:
        query["programme_id"] = programme_id
    if status:
        query["status"] = "scored" if status == "under_review" else status
    found = await store.list_applications(runtime.db, query, limit, offset)
    items = [ApplicationSummaryView.of(a, manager) for a in found]
    return Page(items=items, limit=limit, offset=offset)


@applications.get("/{application_id}", summary="Read an application")
async def get_application(
    application_id: PathId, caller: ApplicantOrManager, runtime: RuntimeDep, response: Response
) -> ApplicationView:
    application = _visible(caller, await store.get_application(runtime.db, application_id), application_id)
    set_etag(response, application.version)
    return ApplicationView.of(application, manager=is_manager(caller))


@applications.patch("/{application_id}", summary="Edit a draft application (If-Match required)")
async def edit_application(
    application_id: PathId, body: ApplicationPatch, caller: Applicant, runtime: RuntimeDep,
    request: Request, response: Response,
) -> ApplicationView:  # fmt: skip
    async def change(tx: Transaction) -> Application:
        application = await _own_application(tx, caller, application_id)
        check_version(request, application.version)
        if application.status != "draft":
            status = domain.applicant_status(application.status)
            raise Conflict(f"only a draft can be edited; this application is {status}")
        changes = {name: getattr(body, name) for name in body.model_fields_set}
        edited = application.model_copy(
            update={**changes, "version": application.version + 1, "updated_at": utcnow()}
        )
        if not await store.replace_application(tx.db, edited, application.version, tx.session):
            raise PreconditionFailed("the application changed while you were editing it; read it again and retry")
        return edited

    edited = await runtime.database.transact(change)
    set_etag(response, edited.version)
    return ApplicationView.of(edited, manager=False)


@applications.delete("/{application_id}", status_code=204, summary="Delete a draft application")
async def delete_application(
    application_id: PathId, caller: Applicant, runtime: RuntimeDep, request: Request
) -> Response:
    version = optional_version(request)

    async def change(tx: Transaction) -> None:
        application = await _own_application(tx, caller, application_id)
        refuse_stale(version, application.version)
        if application.status != "draft":
            raise Conflict("only a draft can be deleted; withdraw a submitted application instead")
        if not await store.delete_draft(tx.db, application.id, application.version, tx.session):
            raise PreconditionFailed("the application changed meanwhile; read it again and retry")

    await runtime.database.transact(change)
    return Response(status_code=204)


@applications.post(
    "/{application_id}/submit",
    summary="Submit a draft: checks every eligibility rule; the answer says submitted or ineligible (with reasons)",
)
async def submit_application(
    application_id: PathId, caller: Applicant, runtime: RuntimeDep, request: Request, response: Response
) -> ApplicationView:
    version = optional_version(request)

    async def change(tx: Transaction) -> Application:
        application = await _own_application(tx, caller, application_id)
        refuse_stale(version, application.version)
        if application.status != "draft":
            status = domain.applicant_status(application.status)
            raise Conflict(f"this application was already submitted; it is {status}")
        programme = await _programme(tx, application.programme_id)
        organisation = await store.get_organisation(tx.db, application.organisation_id, tx.session)
        if organisation is None:
            raise Conflict(f"describe your organisation first: PUT /v1/organisations/{application.organisation_id}")
        other = await store.active_submission(tx.db, programme.id, organisation.id, tx.session)
        now = utcnow()
        reasons = domain.eligibility_failures(
            programme.terms(), organisation.as_applicant(), application.amount_requested, now,
            already_applied=other is not None and other != application.id,
        )  # fmt: skip
        contact = _event_contact(caller, application.contact)
        changes: dict[str, object] = {
            "version": application.version + 1, "updated_at": now, "submitted_at": now,
            "submitted_by": caller.subject, "organisation": organisation.summary(),
        }  # fmt: skip
        if reasons:
            event = await tx.emit(ApplicationIneligible(
                application_id=application.id, programme_id=programme.id, title=application.title,
                reasons=reasons, contact=contact,
            ))  # fmt: skip
            changes |= {"status": "ineligible", "ineligible_reasons": reasons}
            entry = TimelineEntry(id=event.id, at=now, kind="ineligible", words=domain.words_ineligible(reasons))
        else:
            await store.claim_submission(tx.db, application, tx.session)
            event = await tx.emit(ApplicationSubmitted(
                application_id=application.id, programme_id=programme.id, organisation=organisation.summary(),
                title=application.title, summary=application.summary,
                amount_requested=application.amount_requested, contact=contact, submitted_at=now,
            ))  # fmt: skip
            changes["status"] = "submitted"
            entry = TimelineEntry(
                id=event.id, at=now, kind="submitted",
                words=domain.words_submitted(programme.name, application.amount_requested),
            )  # fmt: skip
        changes["timeline"] = [*application.timeline, entry]
        submitted = application.model_copy(update=changes)
        if not await store.replace_application(tx.db, submitted, application.version, tx.session):
            raise PreconditionFailed("the application changed while it was being submitted; read it again and retry")
        return submitted

    try:
        submitted = await runtime.database.transact(change)
    except DuplicateKeyError:
        # Another application of the same organisation to this programme was submitted at the same
        # moment; running again sees it and records this one as a duplicate.
        submitted = await runtime.database.transact(change)
    set_etag(response, submitted.version)
    return ApplicationView.of(submitted, manager=False)


@applications.post("/{application_id}/withdraw", summary="Withdraw a submitted application before the decision")
async def withdraw_application(
    application_id: PathId, body: Withdrawal, caller: Applicant, runtime: RuntimeDep, response: Response
) -> ApplicationView:
    async def change(tx: Transaction) -> Application:
        application = await _own_application(tx, caller, application_id)
        refusal = domain.can_withdraw(application.status)
        if refusal:
            raise Conflict(refusal)
        now = utcnow()
        event = await tx.emit(ApplicationWithdrawn(
            application_id=application.id, programme_id=application.programme_id, reason=body.reason
        ))  # fmt: skip
        entry = TimelineEntry(id=event.id, at=now, kind="withdrawn", words=domain.words_withdrawn(body.reason))
        withdrawn = application.model_copy(update={
            "status": "withdrawn", "withdrawn_at": now, "withdrawal_reason": body.reason,
            "version": application.version + 1, "updated_at": now, "timeline": [*application.timeline, entry],
        })  # fmt: skip
        await store.release_submission(tx.db, application, tx.session)
        if not await store.replace_application(tx.db, withdrawn, application.version, tx.session):
            raise Conflict("the application changed while it was being withdrawn; try again")
        return withdrawn

    withdrawn = await runtime.database.transact(change)
    set_etag(response, withdrawn.version)
    return ApplicationView.of(withdrawn, manager=False)


@applications.get("/{application_id}/timeline", summary="Where an application stands, and what happened when")
async def get_timeline(application_id: PathId, caller: ApplicantOrManager, runtime: RuntimeDep) -> TimelineView:
    application = _visible(caller, await store.get_application(runtime.db, application_id), application_id)
    entries = sorted(application.timeline, key=lambda e: e.at)
    return TimelineView(
        application_id=application.id,
        status=domain.status_shown(application.status, is_manager(caller)),
        entries=[TimelineEntryView(at=e.at, kind=e.kind, words=e.words) for e in entries],
    )


def _visible(caller: Caller, application: Application | None, application_id: str) -> Application:
    if application is None or not (is_manager(caller) or caller.represents(application.organisation_id)):
        raise NotFound(f"no application {application_id}")
    return application


async def _own_application(tx: Transaction, caller: Caller, application_id: str) -> Application:
    """An application the caller may change: one of an organisation they represent."""
    application = await store.get_application(tx.db, application_id, tx.session)
    if application is None or not caller.represents(application.organisation_id):
        raise NotFound(f"no application {application_id}")
    return application


def _contact_from_token(caller: Caller) -> ContactDetails:
    if not (caller.name and caller.email):
        raise RuleViolation("give a contact name and email: your sign-in did not include them")
    try:
        return ContactDetails(name=caller.name, email=caller.email)
    except ValidationError as error:
        raise RuleViolation("the name or email in your sign-in cannot be used as a contact; give a contact",
                            errors=_errors(error)) from None  # fmt: skip


def _event_contact(caller: Caller, contact: ContactDetails) -> Contact:
    try:
        return Contact(person_id=caller.subject, name=contact.name, email=contact.email)
    except ValidationError as error:
        raise RuleViolation("your sign-in's subject cannot be used as a person id", errors=_errors(error)) from None


def _errors(error: ValidationError) -> list[dict[str, object]]:
    return [
        {"location": list(e.get("loc", ())), "message": e.get("msg", ""), "type": e.get("type", "")}
        for e in error.errors(include_url=False, include_context=False, include_input=False)
    ]


ROUTERS = (programmes, organisations, applications)
