"""Reviews: a reviewer lists and reads the reviews assigned to them (the application without its
contact details, and the rubric), saves scores as a draft and submits them. Nobody scores an
application of an organisation their token says they represent (403)."""

from fastapi import APIRouter, Response

from grants_shared.auth import Caller
from grants_shared.api import DatabaseDep, IfMatchRequired, Limit, Offset, Page, PathId, Reviewer, Transact, set_etag
from grants_shared.errors import NotFound
from grants_shared.openapi import etag, problems
from grants_shared.unit_of_work import Db
from scoring import access, commands, domain, store
from scoring.domain import BlindField, ReviewStatus, shown
from scoring.schemas import ReviewDecline, ReviewSummaryView, ReviewView, ScoreSheet
from scoring.store import Application, Programme, Review

router = APIRouter(prefix="/v1/reviews", tags=["reviews"])


@router.get("", summary="The reviews assigned to you")
async def list_reviews(
    caller: Reviewer, database: DatabaseDep, limit: Limit = 100, offset: Offset = 0
) -> Page[ReviewSummaryView]:
    hidden = await store.conflicted_organisations(database, caller.subject)
    statuses = [*domain.OPEN_REVIEW, ReviewStatus.COMPLETED]
    found, total = await store.list_reviews_of_reviewer(database, caller.subject, statuses, hidden, limit, offset)
    return Page(items=[ReviewSummaryView.of(r) for r in found], limit=limit, offset=offset, total=total)


@router.get(
    "/{review_id}",
    summary=(
        "One of your reviews: the application (no contact details, nothing blind review hides), the rubric "
        "with its scoring guidance, and your scores"
    ),
    responses=etag(),
)
async def get_review(review_id: PathId, caller: Reviewer, database: DatabaseDep, response: Response) -> ReviewView:
    read, application, programme = await store.review_in_context(database, review_id)
    review = await access.held_review(database, review_id, read, caller)
    set_etag(response, review.version)
    return await _view(database, review, caller, programme, application)


@router.put(
    "/{review_id}/scores",
    summary="Save your scores as a draft (If-Match required); every criterion of the rubric, 0 to 5",
    responses=etag() | problems(s409="The review has been submitted and can no longer change"),
)
async def put_scores(
    review_id: PathId, body: ScoreSheet, caller: Reviewer, version: IfMatchRequired, database: DatabaseDep,
    response: Response,
) -> ReviewView:  # fmt: skip
    review, programme, application = await commands.save_scores(database, caller, review_id, body, version)
    set_etag(response, review.version)
    return await _view(database, review, caller, programme, application)


@router.post(
    "/{review_id}/submit",
    summary="Submit your saved scores; when every reviewer has, the application is scored",
    responses=etag() | problems(s409="Already submitted, or not every criterion has a saved score"),
)
async def submit_review(
    review_id: PathId, caller: Reviewer, transact: Transact, database: DatabaseDep, response: Response
) -> ReviewView:
    review, programme, application = await transact(commands.submit_review, caller, review_id)
    set_etag(response, review.version)
    return await _view(database, review, caller, programme, application)


@router.post(
    "/{review_id}/decline",
    summary="Decline a review you cannot do (no time, a conflict, other): another panel member is asked",
    responses=problems(s409="Already submitted"),
)
async def decline_review(review_id: PathId, body: ReviewDecline, caller: Reviewer, transact: Transact) -> ReviewSummaryView:
    declined = await transact(commands.decline_review, caller, review_id, body)
    return ReviewSummaryView.of(declined)


async def _view(
    database: Db, review: Review, caller: Caller, programme: Programme | None = None,
    application: Application | None = None,
) -> ReviewView:  # fmt: skip
    """The review as its reviewer sees it; ``programme`` and ``application`` when the caller has just
    read them (what the view shows of an application does not change once it is submitted)."""
    application = application or await store.get_application(database, review.application_id)
    programme = programme or await store.get_programme(database, review.programme_id)
    if application is None or programme is None:
        raise NotFound(f"no review {review.id}")
    hidden = access.hidden_from(caller, programme)
    organisation = application.organisation
    return ReviewView.of(
        review,
        application_summary=application.summary,
        organisation_name=shown(organisation.name, BlindField.ORGANISATION_NAME, hidden),
        organisation_kind=shown(organisation.kind, BlindField.ORGANISATION_KIND, hidden),
        organisation_area=shown(organisation.area, BlindField.ORGANISATION_AREA, hidden),
        hidden_fields=sorted(hidden),
        amount_requested=application.amount_requested,
        criteria=programme.criteria,
        answers=application.answers,
        stage=application.stage,
    )
