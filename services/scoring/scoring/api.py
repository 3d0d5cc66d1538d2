"""Scoring's HTTP API: panels, conflicts of interest, reviews, moderation, ranking and decisions.

Scope: programme managers and admins see a programme's applications and reviews; a reviewer sees
only the reviews assigned to them, and never an application of an organisation they declared a
conflict with (404, as if it did not exist); applicants have no business here (403). Nobody scores
or decides an application of an organisation their token says they represent (403), and the panel's
membership is shown to managers only.
"""

from typing import Annotated, Literal, cast
from uuid import uuid4

from fastapi import APIRouter, Depends, Path, Query, Request, Response, status
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase

from grants_shared.auth import Caller, Role, require
from grants_shared.clock import utcnow
from grants_shared.errors import Conflict, Forbidden, NotFound, PreconditionFailed, RuleViolation
from grants_shared.events import ApplicationDecided, DecidedBy
from grants_shared.http import check_version, set_etag
from grants_shared.money import Money
from grants_shared.pages import Page
from grants_shared.service import RuntimeDep
from grants_shared.unit_of_work import Transaction

from scoring import domain, store, workflow
from scoring.models import (
    ApplicationDoc,
    ApplicationListItem,
    ApplicationView,
    ConflictDeclaration,
    ConflictDoc,
    ConflictView,
    Decision,
    DecisionRequest,
    DecisionView,
    Moderation,
    ModerationRequest,
    OrganisationView,
    PanelUpdate,
    ProgrammeDoc,
    ProgrammeView,
    RankingEntry,
    RankingView,
    ReviewDoc,
    ReviewListItem,
    ReviewScores,
    ReviewView,
    ScoreSheet,
    Total,
)

MANAGERS = (Role.PROGRAMME_MANAGER, Role.ADMIN)

Manager = Annotated[Caller, Depends(require(*MANAGERS))]
Reviewer = Annotated[Caller, Depends(require(Role.REVIEWER))]
ManagerOrReviewer = Annotated[Caller, Depends(require(*MANAGERS, Role.REVIEWER))]

PathId = Annotated[str, Path(min_length=1, max_length=64)]
Limit = Annotated[int, Query(ge=1, le=200, description="At most this many items")]
Offset = Annotated[int, Query(ge=0, le=10_000, description="Skip this many items first")]

ApplicationStatus = Literal["awaiting_reviewers", "in_review", "scored", "decided", "withdrawn"]

router = APIRouter(prefix="/v1")


def is_manager(caller: Caller) -> bool:
    return caller.has(*MANAGERS)


def programme_view(programme: ProgrammeDoc, caller: Caller) -> ProgrammeView:
    # Who sits on a panel of experts by experience is theirs to share: reviewers do not need the list.
    return ProgrammeView.of(programme, panel=programme.panel if is_manager(caller) else None)


# --- who may see what ----------------------------------------------------------------------------


async def programme_for(
    db: AsyncDatabase, programme_id: str, caller: Caller, session: AsyncClientSession | None = None
) -> ProgrammeDoc:
    """The programme, if the caller manages programmes or sits on its panel."""
    programme = await store.get_programme(db, programme_id, session)
    if programme is None or not (is_manager(caller) or caller.subject in programme.panel):
        raise NotFound(f"no programme {programme_id}")
    return programme


async def managed_application(
    db: AsyncDatabase, application_id: str, session: AsyncClientSession | None = None
) -> ApplicationDoc:
    application = await store.get_application(db, application_id, session)
    if application is None:
        raise NotFound(f"no application {application_id}")
    return application


async def own_review(
    db: AsyncDatabase, review_id: str, caller: Caller, session: AsyncClientSession | None = None
) -> ReviewDoc:
    """A review the caller was assigned and still holds, of an organisation they are not conflicted with."""
    review = await store.get_review(db, review_id, session)
    if (
        review is None
        or review.reviewer_id != caller.subject
        or review.status == domain.CANCELLED
        or await store.declared_conflict(db, caller.subject, review.organisation_id, session)
    ):
        raise NotFound(f"no review {review_id}")
    return review


def not_their_own(caller: Caller, organisation_id: str) -> None:
    """Someone who represents the applicant organisation (their token lists it) may neither score nor
    decide its application, whether or not they declared the conflict."""
    if organisation_id in caller.organisation_ids:
        raise Forbidden(
            f"you represent {organisation_id}, so you may not score or decide its application; "
            "declare a conflict of interest with it so another panel member reviews it"
        )


async def review_to_score(tx: Transaction, review_id: str, caller: Caller) -> tuple[ReviewDoc, ProgrammeDoc]:
    """The caller's review, if they may score it, and the programme whose rubric it follows."""
    review = await own_review(tx.db, review_id, caller, tx.session)
    not_their_own(caller, review.organisation_id)
    programme = await store.get_programme(tx.db, review.programme_id, tx.session)
    if programme is None:
        raise NotFound(f"no review {review_id}")
    return review, programme


# --- programmes and panels -----------------------------------------------------------------------


@router.get("/programmes", tags=["programmes"], summary="Programmes you manage, or whose panel you sit on")
async def list_programmes(
    runtime: RuntimeDep, caller: ManagerOrReviewer, limit: Limit = 100, offset: Offset = 0
) -> Page[ProgrammeView]:
    panel_member = None if is_manager(caller) else caller.subject
    programmes = await store.list_programmes(runtime.db, panel_member, offset, limit)
    return Page(items=[programme_view(p, caller) for p in programmes], limit=limit, offset=offset)


@router.get("/programmes/{programme_id}", tags=["programmes"], summary="A programme: rubric, panel and budget")
async def get_programme(
    programme_id: PathId, runtime: RuntimeDep, caller: ManagerOrReviewer, response: Response
) -> ProgrammeView:
    programme = await programme_for(runtime.db, programme_id, caller)
    set_etag(response, programme.version)
    return programme_view(programme, caller)


@router.put(
    "/programmes/{programme_id}/panel",
    tags=["programmes"],
    summary=(
        "Replace the panel (If-Match): open reviews of those who leave it go to other members, and "
        "applications waiting for reviewers get them from the new panel"
    ),
)
async def put_panel(
    programme_id: PathId, body: PanelUpdate, request: Request, response: Response, runtime: RuntimeDep, caller: Manager
) -> ProgrammeView:
    async def change(tx: Transaction) -> ProgrammeDoc:
        programme = await programme_for(tx.db, programme_id, caller, tx.session)
        check_version(request, programme.version)
        problem = domain.panel_problem(body.reviewer_ids, programme.reviewers_per_application)
        if problem:
            raise RuleViolation(problem)
        result = await tx.db.programmes.update_one(
            {"_id": programme.id, "version": programme.version},
            {"$set": {"panel": body.reviewer_ids}, "$inc": {"version": 1}},
            session=tx.session,
        )
        if result.modified_count != 1:
            raise PreconditionFailed("the programme changed since you read it; read it again and retry")
        left = sorted(set(programme.panel) - set(body.reviewer_ids))
        programme = programme.model_copy(update={"panel": body.reviewer_ids, "version": programme.version + 1})
        # Someone off the panel no longer reads this programme's applications; completed reviews stand.
        for review in await store.open_reviews(tx.db, tx.session, programme_id=programme.id, reviewer_id={"$in": left}):
            await workflow.replace_reviewer(tx, review, "reviewer left the panel")
        await workflow.retry_waiting_applications(tx, programme)
        return programme

    programme = await runtime.database.transact(change)
    set_etag(response, programme.version)
    return programme_view(programme, caller)


@router.get(
    "/programmes/{programme_id}/organisations",
    tags=["programmes"],
    summary="Organisations that applied to the programme (id and name), so panel members can declare conflicts",
)
async def list_organisations(
    programme_id: PathId, runtime: RuntimeDep, caller: ManagerOrReviewer, limit: Limit = 100, offset: Offset = 0
) -> Page[OrganisationView]:
    programme = await programme_for(runtime.db, programme_id, caller)
    organisations = await store.organisations_of_programme(runtime.db, programme.id, offset, limit)
    return Page(items=[OrganisationView(**o) for o in organisations], limit=limit, offset=offset)


@router.get(
    "/programmes/{programme_id}/applications",
    tags=["applications"],
    summary="The programme's applications with their review state, including those awaiting reviewers",
)
async def list_applications(
    programme_id: PathId,
    runtime: RuntimeDep,
    caller: Manager,
    status_: Annotated[ApplicationStatus | None, Query(alias="status")] = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> Page[ApplicationListItem]:
    programme = await programme_for(runtime.db, programme_id, caller)
    statuses = [status_] if status_ else None
    applications = await store.applications_of_programme(
        runtime.db, programme.id, statuses, offset=offset, limit=limit
    )
    return Page(items=[ApplicationListItem.of(a) for a in applications], limit=limit, offset=offset)


@router.get(
    "/programmes/{programme_id}/ranking",
    tags=["programmes"],
    summary="Scored applications by weighted score, walked against the remaining budget",
)
async def get_ranking(programme_id: PathId, runtime: RuntimeDep, caller: ManagerOrReviewer) -> RankingView:
    programme = await programme_for(runtime.db, programme_id, caller)
    applications = {
        a.id: a
        for a in await store.applications_of_programme(runtime.db, programme.id, [domain.SCORED, domain.DECIDED])
    }
    candidates = [
        domain.RankingCandidate(
            application_id=a.id,
            weighted_score=a.weighted_score or 0.0,
            submitted_at=a.submitted_at,
            amount_requested=a.amount_requested.amount,
            status=a.status,
            outcome=a.decision.outcome if a.decision else None,
        )
        for a in applications.values()
    ]
    # Ranked over every application, so each caller sees the same budget line; a reviewer's
    # conflicted applications, and those of organisations they represent, are then left out.
    hidden: set[str] = set()
    if not is_manager(caller):
        hidden = await store.conflicted_organisations(runtime.db, caller.subject) | caller.organisation_ids
    currency = programme.budget.currency
    entries = []
    for ranked in domain.rank(candidates, programme.remaining_budget.amount):
        application = applications[ranked.candidate.application_id]
        if application.organisation.id in hidden:
            continue
        entries.append(
            RankingEntry(
                position=ranked.position,
                application_id=application.id,
                title=application.title,
                organisation_name=application.organisation.name,
                weighted_score=ranked.candidate.weighted_score,
                amount_requested=application.amount_requested,
                cumulative_requested=Total(amount=ranked.cumulative_requested, currency=currency),
                fits_budget=ranked.fits_budget,
                status=application.status,
                needs_moderation=application.needs_moderation,
            )
        )
    return RankingView(
        programme_id=programme.id,
        budget=programme.budget,
        awarded_total=programme.awarded_total,
        remaining=programme.remaining_budget,
        applications=entries,
    )


# --- conflicts of interest -----------------------------------------------------------------------


@router.post(
    "/conflicts",
    tags=["conflicts"],
    status_code=status.HTTP_201_CREATED,
    summary="Declare a conflict of interest with an organisation; your open reviews of it are reassigned",
)
async def declare_conflict(body: ConflictDeclaration, runtime: RuntimeDep, caller: Reviewer) -> ConflictView:
    async def change(tx: Transaction) -> ConflictDoc:
        if await store.declared_conflict(tx.db, caller.subject, body.organisation_id, tx.session):
            raise Conflict(f"you have already declared a conflict with {body.organisation_id}")
        conflict = ConflictDoc(
            _id=f"coi-{uuid4().hex}",
            reviewer_id=caller.subject,
            organisation_id=body.organisation_id,
            reason=body.reason,
            declared_at=utcnow(),
        )
        await tx.db.conflicts.insert_one(conflict.to_doc(), session=tx.session)
        mine = await store.open_reviews(
            tx.db, tx.session, reviewer_id=caller.subject, organisation_id=body.organisation_id
        )
        for review in mine:
            await workflow.replace_reviewer(tx, review, "reviewer declared a conflict of interest")
        return conflict

    return ConflictView.of(await runtime.database.transact(change))


@router.get(
    "/conflicts",
    tags=["conflicts"],
    summary="Conflicts of interest, standing and resolved: a reviewer's own; managers see every reviewer's",
)
async def list_conflicts(
    runtime: RuntimeDep,
    caller: ManagerOrReviewer,
    reviewer_id: Annotated[str | None, Query(max_length=64, description="Managers: one reviewer's only")] = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> Page[ConflictView]:
    whose = reviewer_id if is_manager(caller) else caller.subject
    conflicts = await store.list_conflicts(runtime.db, whose, offset, limit)
    return Page(items=[ConflictView.of(c) for c in conflicts], limit=limit, offset=offset)


@router.post(
    "/conflicts/{conflict_id}/resolve",
    tags=["conflicts"],
    summary="Resolve a conflict (its reviewer, or a manager); waiting applications may then be assigned to them",
)
async def resolve_conflict(conflict_id: PathId, runtime: RuntimeDep, caller: ManagerOrReviewer) -> ConflictView:
    async def change(tx: Transaction) -> ConflictDoc:
        conflict = await store.get_conflict(tx.db, conflict_id, tx.session)
        if conflict is None or not (is_manager(caller) or conflict.reviewer_id == caller.subject):
            raise NotFound(f"no conflict {conflict_id}")
        if conflict.status != "declared":
            raise Conflict("this conflict has already been resolved")
        resolved = conflict.model_copy(update={"status": "resolved", "resolved_at": utcnow(), "resolved_by": caller.subject})
        await tx.db.conflicts.update_one(
            {"_id": conflict.id, "status": "declared"},
            {"$set": {"status": "resolved", "resolved_at": resolved.resolved_at, "resolved_by": caller.subject}},
            session=tx.session,
        )
        for programme in await store.list_programmes(tx.db, conflict.reviewer_id, session=tx.session):
            await workflow.retry_waiting_applications(tx, programme)
        return resolved

    return ConflictView.of(await runtime.database.transact(change))


# --- reviews -------------------------------------------------------------------------------------


async def review_view(db: AsyncDatabase, review: ReviewDoc) -> ReviewView:
    application = await store.get_application(db, review.application_id)
    programme = await store.get_programme(db, review.programme_id)
    if application is None or programme is None:
        raise NotFound(f"no review {review.id}")
    return ReviewView.of(
        review,
        application_summary=application.summary,
        organisation_name=application.organisation.name,
        amount_requested=application.amount_requested,
        criteria=programme.criteria,
    )


@router.get("/reviews", tags=["reviews"], summary="The reviews assigned to you")
async def list_reviews(
    runtime: RuntimeDep, caller: Reviewer, limit: Limit = 100, offset: Offset = 0
) -> Page[ReviewListItem]:
    hidden = await store.conflicted_organisations(runtime.db, caller.subject)
    reviews = await store.reviews_of_reviewer(
        runtime.db, caller.subject, [*domain.OPEN_REVIEW, domain.COMPLETED], hidden, offset, limit
    )
    return Page(items=[ReviewListItem.of(r) for r in reviews], limit=limit, offset=offset)


@router.get(
    "/reviews/{review_id}",
    tags=["reviews"],
    summary="One of your reviews: the application (no contact details), the rubric and your scores",
)
async def get_review(review_id: PathId, runtime: RuntimeDep, caller: Reviewer, response: Response) -> ReviewView:
    review = await own_review(runtime.db, review_id, caller)
    set_etag(response, review.version)
    return await review_view(runtime.db, review)


@router.put(
    "/reviews/{review_id}/scores",
    tags=["reviews"],
    summary="Save your scores as a draft (If-Match); every criterion of the rubric, 0 to 5",
)
async def put_scores(
    review_id: PathId, body: ScoreSheet, request: Request, response: Response, runtime: RuntimeDep, caller: Reviewer
) -> ReviewView:
    async def change(tx: Transaction) -> ReviewDoc:
        review, programme = await review_to_score(tx, review_id, caller)
        if review.status not in domain.OPEN_REVIEW:
            raise Conflict("this review has been submitted and can no longer change")
        check_version(request, review.version)
        problems = domain.score_sheet_problems(programme.weights, body.scores)
        if problems:
            raise RuleViolation("; ".join(problems), problems=problems)
        result = await tx.db.reviews.update_one(
            {"_id": review.id, "version": review.version, "status": {"$in": list(domain.OPEN_REVIEW)}},
            {
                "$set": {"scores": {k: s.model_dump() for k, s in body.scores.items()}, "status": domain.DRAFT},
                "$inc": {"version": 1},
            },
            session=tx.session,
        )
        if result.modified_count != 1:
            raise PreconditionFailed("the review changed since you read it; read it again and retry")
        return review.model_copy(update={"scores": body.scores, "status": domain.DRAFT, "version": review.version + 1})

    review = await runtime.database.transact(change)
    set_etag(response, review.version)
    return await review_view(runtime.db, review)


@router.post(
    "/reviews/{review_id}/submit",
    tags=["reviews"],
    summary="Submit your saved scores; when every reviewer has, the application is scored",
)
async def submit_review(review_id: PathId, response: Response, runtime: RuntimeDep, caller: Reviewer) -> ReviewView:
    async def change(tx: Transaction) -> ReviewDoc:
        review, programme = await review_to_score(tx, review_id, caller)
        if review.status == domain.COMPLETED:
            raise Conflict("this review has already been submitted")
        if review.status != domain.DRAFT or domain.score_sheet_problems(programme.weights, review.scores):
            raise Conflict("save a score for every criterion before submitting")
        completed_at = utcnow()
        await tx.db.reviews.update_one(
            {"_id": review.id, "status": domain.DRAFT},
            {"$set": {"status": domain.COMPLETED, "completed_at": completed_at}, "$inc": {"version": 1}},
            session=tx.session,
        )
        await tx.db.applications.update_one(
            {"_id": review.application_id}, {"$inc": {"reviews_completed": 1, "version": 1}}, session=tx.session
        )
        await workflow.score_if_complete(tx, programme, review.application_id)
        return review.model_copy(
            update={"status": domain.COMPLETED, "completed_at": completed_at, "version": review.version + 1}
        )

    review = await runtime.database.transact(change)
    set_etag(response, review.version)
    return await review_view(runtime.db, review)


# --- applications: moderation and decisions ------------------------------------------------------


@router.get(
    "/applications/{application_id}",
    tags=["applications"],
    summary="An application with every reviewer's scores and comments",
)
async def get_application(application_id: PathId, runtime: RuntimeDep, caller: Manager) -> ApplicationView:
    application = await managed_application(runtime.db, application_id)
    reviews = await store.reviews_of_application(
        runtime.db, application.id, [*domain.OPEN_REVIEW, domain.COMPLETED, domain.CANCELLED]
    )
    return ApplicationView.of(application, reviews=[ReviewScores.of(r) for r in reviews])


@router.post(
    "/applications/{application_id}/moderation",
    tags=["applications"],
    summary="Moderate a scored application (set or confirm its weighted score, with a note)",
)
async def moderate(
    application_id: PathId, body: ModerationRequest, runtime: RuntimeDep, caller: Manager
) -> ApplicationView:
    async def change(tx: Transaction) -> None:
        application = await managed_application(tx.db, application_id, tx.session)
        if application.status != domain.SCORED:
            raise Conflict(f"only a scored, undecided application can be moderated; this one is {application.status}")
        computed = cast(float, application.computed_weighted_score)
        moderation = Moderation(
            moderated_by=caller.subject,
            note=body.note,
            weighted_score=computed if body.weighted_score is None else body.weighted_score,
            computed_weighted_score=computed,
            moderated_at=utcnow(),
        )
        result = await tx.db.applications.update_one(
            {"_id": application.id, "status": domain.SCORED, "version": application.version},
            {
                "$set": {
                    "weighted_score": moderation.weighted_score,
                    "needs_moderation": False,
                    "moderation": moderation.model_dump(),
                },
                "$inc": {"version": 1},
            },
            session=tx.session,
        )
        if result.modified_count != 1:
            raise Conflict("the application changed while you moderated it; read it again")

    await runtime.database.transact(change)
    return await get_application(application_id, runtime, caller)


@router.post(
    "/applications/{application_id}/decision",
    tags=["applications"],
    summary="Decide a scored application: award (within the budget) or decline with feedback",
)
async def decide(
    application_id: PathId, body: DecisionRequest, runtime: RuntimeDep, caller: ManagerOrReviewer
) -> DecisionView:
    async def change(tx: Transaction) -> DecisionView:
        application = await store.get_application(tx.db, application_id, tx.session)
        programme = await store.get_programme(tx.db, application.programme_id, tx.session) if application else None
        if application is None or programme is None or not await may_decide(tx, caller, programme, application):
            raise NotFound(f"no application {application_id}")
        not_their_own(caller, application.organisation.id)
        refusal = domain.decision_refusal(application.status, application.needs_moderation)
        if refusal:
            raise Conflict(refusal)
        amount = body.amount_awarded
        if amount is not None:
            problems = domain.award_problems(
                amount, application.amount_requested, programme.maximum_award, programme.remaining_budget
            )
            if problems:
                raise RuleViolation("; ".join(problems), problems=problems)
        decision = Decision(
            outcome=body.outcome,
            amount_awarded=amount,
            feedback=body.feedback,
            decided_at=utcnow(),
            recorded_by=caller.subject,
            panel=programme.panel,
        )
        decided = await tx.db.applications.update_one(
            {"_id": application.id, "status": domain.SCORED, "needs_moderation": False},
            {"$set": {"status": domain.DECIDED, "decision": decision.model_dump()}, "$inc": {"version": 1}},
            session=tx.session,
        )
        if decided.modified_count != 1:
            raise Conflict("the application is no longer waiting for a decision")
        if amount is not None:
            await reserve_budget(tx, programme, amount)
        await tx.emit(
            ApplicationDecided(
                application_id=application.id,
                programme_id=programme.id,
                organisation_id=application.organisation.id,
                outcome=decision.outcome,
                amount_awarded=amount,
                feedback=decision.feedback,
                decided_at=decision.decided_at,
                decided_by=DecidedBy(recorded_by=caller.subject, panel=programme.panel),
            )
        )
        return DecisionView(**decision.model_dump(), application_id=application.id, programme_id=programme.id)

    return await runtime.database.transact(change)


async def may_decide(tx: Transaction, caller: Caller, programme: ProgrammeDoc, application: ApplicationDoc) -> bool:
    """Managers, and the experts on the programme's panel who have no conflict with the applicant."""
    if is_manager(caller):
        return True
    if caller.subject not in programme.panel:
        return False
    return await store.declared_conflict(tx.db, caller.subject, application.organisation.id, tx.session) is None


async def reserve_budget(tx: Transaction, programme: ProgrammeDoc, amount: Money) -> None:
    """Take ``amount`` from the programme's remaining budget in one conditional update, so concurrent
    awards can never together spend more than the budget (the loser's transaction aborts)."""
    reserved = await tx.db.programmes.update_one(
        {
            "_id": programme.id,
            "remaining_budget.currency": amount.currency,
            "remaining_budget.amount": {"$gte": amount.amount},
        },
        {"$inc": {"remaining_budget.amount": -amount.amount, "awarded_total.amount": amount.amount, "version": 1}},
        session=tx.session,
    )
    if reserved.modified_count != 1:
        raise RuleViolation("this award would take the programme over its budget")
