"""One application as the panel works on it: managers read it with every reviewer's scores and
comments and moderate its score; a manager or an unconflicted panel member decides it. Nobody
decides an application of an organisation their token says they represent (403)."""

from fastapi import APIRouter

from grants_shared.api import DatabaseDep, Manager, ManagerOrReviewer, PathId, Transact
from grants_shared.errors import NotFound
from grants_shared.openapi import problems
from grants_shared.unit_of_work import Db
from scoring import commands, store
from scoring.domain import ReviewStatus
from scoring.schemas import ApplicationView, DecisionRequest, DecisionView, ModerationRequest, ReviewScoresView
from scoring.store import Application

router = APIRouter(prefix="/v1/applications", tags=["applications"])


@router.get("/{application_id}", summary="An application with every reviewer's scores and comments")
async def get_application(application_id: PathId, caller: Manager, database: DatabaseDep) -> ApplicationView:
    application = await store.get_application(database, application_id)
    if application is None:
        raise NotFound(f"no application {application_id}")
    return await _view(database, application)


@router.post(
    "/{application_id}/moderation",
    summary="Moderate a scored application (set or confirm its weighted score, with a note)",
    responses=problems(s409="Only a scored, undecided application can be moderated"),
)
async def moderate(
    application_id: PathId, body: ModerationRequest, caller: Manager, transact: Transact, database: DatabaseDep
) -> ApplicationView:
    moderated = await transact(commands.moderate, caller, application_id, body)
    return await _view(database, moderated)


@router.post(
    "/{application_id}/decision",
    summary="Decide a scored application: award (within the budget) or decline with feedback",
    responses=problems(s409="Not scored yet, moderation pending, withdrawn, or already decided"),
)
async def decide(
    application_id: PathId, body: DecisionRequest, caller: ManagerOrReviewer, transact: Transact
) -> DecisionView:
    application, decision = await transact(commands.decide, caller, application_id, body)
    return DecisionView.of(application, decision)


async def _view(database: Db, application: Application) -> ApplicationView:
    reviews = await store.reviews_of_application(database, application.id, list(ReviewStatus))
    return ApplicationView.of(application, reviews=[ReviewScoresView.of(r) for r in reviews])
