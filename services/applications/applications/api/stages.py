"""Stages: programme managers answer each expression of interest, inviting the group to the full
application (which starts from its earlier answers) or declining it with feedback."""

from fastapi import APIRouter, Response

from applications import commands
from applications.schemas import ApplicationView, InterestDecision
from grants_shared.api import Manager, PathId, Transact, set_etag
from grants_shared.openapi import etag, problems

router = APIRouter(prefix="/v1/applications", tags=["stages"])


@router.post(
    "/{application_id}/invite", summary="Invite an expression of interest to the full application",
    responses=etag() | problems(409),
)  # fmt: skip
async def invite(application_id: PathId, caller: Manager, transact: Transact, response: Response) -> ApplicationView:
    invited = await transact(commands.invite_application, application_id)
    set_etag(response, invited.version)
    return ApplicationView.of(invited, manager=True)


@router.post(
    "/{application_id}/decline-interest", summary="Decline an expression of interest, with feedback for the group",
    responses=etag() | problems(409),
)  # fmt: skip
async def decline_interest(
    application_id: PathId, body: InterestDecision, caller: Manager, transact: Transact, response: Response
) -> ApplicationView:
    declined = await transact(commands.decline_interest, application_id, body.feedback.strip())
    set_etag(response, declined.version)
    return ApplicationView.of(declined, manager=True)
