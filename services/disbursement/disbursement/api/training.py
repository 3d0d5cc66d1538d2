"""Suicide-awareness training for funded groups: the programme's offer (course, provider, places per
group), each accepted grant's places, the group's booking, the attendance staff record, and the
share of the programme's funded groups trained. A group's offer outside the caller's organisations
answers 404, so its existence is not revealed."""

from typing import Annotated

from fastapi import APIRouter, Depends, Response

from disbursement import commands, store
from disbursement.domain import BOOKED_OR_ATTENDED, TrainingShare, TrainingStatus
from disbursement.schemas import (
    AttendanceIn, BookingIn, GroupTrainingView, TrainingOfferIn, TrainingOfferView, TrainingShareView,
)  # fmt: skip
from disbursement.store import GroupTraining
from grants_shared.api import (
    FINANCE, MANAGERS, Applicant, DatabaseDep, FinanceOrManager, IfMatch, Limit, Manager, Offset, Page, PathId,
    Transact, is_finance, is_manager, set_etag,
)  # fmt: skip
from grants_shared.auth import Caller, Role, require
from grants_shared.errors import NotFound
from grants_shared.openapi import etag, problems

router = APIRouter(tags=["training for funded groups"])

#: The group, and the staff who run the programme's training.
OnTheGrant = Annotated[Caller, Depends(require(Role.APPLICANT, *FINANCE, *MANAGERS))]


@router.get("/v1/programmes/{programme_id}/training-offer", summary="The training a programme offers each funded group")
async def get_offer(programme_id: PathId, caller: FinanceOrManager, database: DatabaseDep) -> TrainingOfferView:
    ledger = await store.get_ledger(database, programme_id)
    if ledger is None:
        raise NotFound(f"no ledger for programme {programme_id}")
    return TrainingOfferView(programme_id=ledger.id, offer=ledger.training)


@router.put(
    "/v1/programmes/{programme_id}/training-offer",
    summary="Set the training each group is offered when its grant is accepted (from now on)",
)
async def set_offer(
    programme_id: PathId, body: TrainingOfferIn, caller: Manager, transact: Transact
) -> TrainingOfferView:
    ledger = await transact(commands.set_training_offer, caller, programme_id, body.course, body.provider,
                            body.places_per_group, body.reminder_days)  # fmt: skip
    return TrainingOfferView(programme_id=ledger.id, offer=ledger.training)


@router.get(
    "/v1/grants/{grant_id}/training", summary="The training a grant's group was offered, and its booking",
    responses=etag(),
)
async def training_of_grant(
    grant_id: PathId, caller: OnTheGrant, database: DatabaseDep, response: Response
) -> GroupTrainingView:
    training = _visible(caller, await store.training_of_grant(database, grant_id), f"for grant {grant_id}")
    set_etag(response, training.version)
    return GroupTrainingView.of(training)


@router.post(
    "/v1/training/{training_id}/booking",
    summary="Book (or change the booking of) the group's places, with attendees' names if you wish (If-Match optional)",
    responses=etag() | problems(s403="You do not represent the group", s409="Attendance has been recorded",
                                s422="More places than offered, or more names than places"),
)  # fmt: skip
async def book(
    training_id: PathId, body: BookingIn, caller: Applicant, transact: Transact, version: IfMatch, response: Response
) -> GroupTrainingView:
    training = await transact(commands.book_training, caller, training_id, body.attendees, body.names, version)
    set_etag(response, training.version)
    return GroupTrainingView.of(training)


@router.post(
    "/v1/training/{training_id}/attendance",
    summary="Record how many of the group's booked places were attended (If-Match optional)",
    responses=etag() | problems(s409="Nothing booked yet, or attendance already recorded",
                                s422="More attended than booked"),
)  # fmt: skip
async def record_attendance(
    training_id: PathId, body: AttendanceIn, caller: FinanceOrManager, transact: Transact, version: IfMatch,
    response: Response,
) -> GroupTrainingView:  # fmt: skip
    training = await transact(commands.record_training_attendance, caller, training_id, body.attended, version)
    set_etag(response, training.version)
    return GroupTrainingView.of(training)


@router.get("/v1/programmes/{programme_id}/training", summary="The programme's funded groups' training, by status")
async def list_training(
    programme_id: PathId, caller: FinanceOrManager, database: DatabaseDep, limit: Limit = 100, offset: Offset = 0
) -> Page[GroupTrainingView]:
    found, total = await store.training_of_programme(database, programme_id, limit, offset)
    return Page(items=[GroupTrainingView.of(t) for t in found], limit=limit, offset=offset, total=total)


@router.get(
    "/v1/programmes/{programme_id}/training-share",
    summary="The share of the programme's funded groups that booked training, and that attended",
)
async def training_share(programme_id: PathId, caller: FinanceOrManager, database: DatabaseDep) -> TrainingShareView:
    counts = await store.training_counts(database, programme_id)
    share = TrainingShare(
        funded=sum(counts.values()), booked=sum(counts[s] for s in BOOKED_OR_ATTENDED),
        attended=counts[TrainingStatus.ATTENDED],
    )  # fmt: skip
    return TrainingShareView.of(programme_id, share)


def _visible(caller: Caller, training: GroupTraining | None, what: str) -> GroupTraining:
    if training is None or not (is_finance(caller) or is_manager(caller) or caller.represents(training.organisation_id)):
        raise NotFound(f"no training offer {what}")
    return training
