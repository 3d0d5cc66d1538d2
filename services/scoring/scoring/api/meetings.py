"""Decision meetings: a programme manager calls one on applications from the ranking, with the
members present; each present panel member records a recommendation per application; the chair (a
manager) closes an item once the programme's rule is met, which records and publishes the decision.
Managers see every member's recommendation and every recusal; a panel member sees the tally, their
own recommendation and whether they are recused. Anyone else: 404."""

from fastapi import APIRouter, Response

from grants_shared.api import (
    DatabaseDep, IfMatchRequired, Limit, Manager, ManagerOrReviewer, Offset, Page, PathId, Transact, is_manager,
    set_etag,
)  # fmt: skip
from grants_shared.auth import Caller
from grants_shared.errors import NotFound
from grants_shared.openapi import etag, problems
from grants_shared.unit_of_work import Db
from scoring import access, commands, domain, store
from scoring.domain import BlindField, ItemStatus, shown
from scoring.schemas import (
    AttendanceUpdate, DecisionRuleView, ItemClosing, MeetingItemView, MeetingRequest, MeetingSummaryView,
    MeetingView, RecommendationRequest, RecommendationView, RecusalView, TallyView,
)  # fmt: skip
from scoring.store import DecisionMeeting, MeetingItem, PanelRecommendation

router = APIRouter(prefix="/v1", tags=["meetings"])


@router.post(
    "/programmes/{programme_id}/meetings",
    status_code=201,
    summary="Call a decision meeting on scored applications, with the panel members present",
    responses={**etag(201), **problems(s409="No decision rule, a delegated rule, or an application not ready")},
)
async def call_meeting(
    programme_id: PathId, body: MeetingRequest, caller: Manager, transact: Transact, database: DatabaseDep,
    response: Response,
) -> MeetingView:  # fmt: skip
    meeting = await transact(commands.call_meeting, caller, programme_id, body)
    set_etag(response, meeting.version)
    return await _view(database, meeting, caller)


@router.get("/programmes/{programme_id}/meetings", summary="The programme's decision meetings, by date")
async def list_meetings(
    programme_id: PathId, caller: ManagerOrReviewer, database: DatabaseDep, limit: Limit = 100, offset: Offset = 0
) -> Page[MeetingSummaryView]:
    member = None if is_manager(caller) else caller.subject
    if member is None:
        await access.visible_programme(database, programme_id, caller)
    found, total = await store.list_meetings(database, programme_id, member, limit, offset)
    items = []
    for meeting in found:
        agenda = await store.items_of_meeting(database, meeting.id)
        open_items = sum(1 for i in agenda if i.status is ItemStatus.OPEN)
        items.append(MeetingSummaryView.of(meeting, items=len(agenda), open_items=open_items))
    return Page(items=items, limit=limit, offset=offset, total=total)


@router.get("/meetings/{meeting_id}", summary="A decision meeting: its items, tallies and recusals", responses=etag())
async def get_meeting(
    meeting_id: PathId, caller: ManagerOrReviewer, database: DatabaseDep, response: Response
) -> MeetingView:
    meeting = await store.get_meeting(database, meeting_id)
    if meeting is None or not (is_manager(caller) or caller.subject in meeting.rule.kinds):
        raise NotFound(f"no meeting {meeting_id}")
    set_etag(response, meeting.version)
    return await _view(database, meeting, caller)


@router.put(
    "/meetings/{meeting_id}/attendance", summary="Record who is present (If-Match required)", responses=etag()
)
async def put_attendance(
    meeting_id: PathId, body: AttendanceUpdate, caller: Manager, transact: Transact, version: IfMatchRequired,
    database: DatabaseDep, response: Response,
) -> MeetingView:  # fmt: skip
    meeting = await transact(commands.set_attendance, caller, meeting_id, body.member_ids, version)
    set_etag(response, meeting.version)
    return await _view(database, meeting, caller)


@router.put(
    "/meetings/{meeting_id}/items/{application_id}/recommendation",
    summary="Record (or change) your recommendation on an item: fund, fund a different amount, do not fund, abstain",
    responses=problems(s409="Recused, not present, or the item is closed"),
)
async def put_recommendation(
    meeting_id: PathId, application_id: PathId, body: RecommendationRequest, caller: ManagerOrReviewer,
    transact: Transact,
) -> RecommendationView:  # fmt: skip
    recorded = await transact(commands.record_recommendation, caller, meeting_id, application_id, body)
    return RecommendationView.of(recorded)


@router.post(
    "/meetings/{meeting_id}/items/{application_id}/close",
    summary="Close an item once the rule is met: records the panel's decision with its tally, dissent and rationale",
    responses=problems(s409="The rule is not met yet (quorum, recommendations, majority or consensus), or closed"),
)
async def close_item(
    meeting_id: PathId, application_id: PathId, body: ItemClosing, caller: Manager, transact: Transact,
    database: DatabaseDep,
) -> MeetingItemView:  # fmt: skip
    item, _ = await transact(commands.close_item, caller, meeting_id, application_id, body)
    meeting = await store.get_meeting(database, meeting_id)
    assert meeting is not None
    recommendations = await store.recommendations_of_item(database, meeting.id, item.application_id)
    programme = await store.get_programme(database, meeting.programme_id)
    untrained = await access.untrained(database, programme, list(meeting.rule.kinds))
    return _item_view(meeting, item, recommendations, caller, untrained, frozenset())  # managers see every field


async def _view(database: Db, meeting: DecisionMeeting, caller: Caller) -> MeetingView:
    items = {i.application_id: i for i in await store.items_of_meeting(database, meeting.id)}
    recommendations = await store.recommendations_of_meeting(database, meeting.id)
    programme = await store.get_programme(database, meeting.programme_id)
    untrained = await access.untrained(database, programme, list(meeting.rule.kinds))
    hidden = access.hidden_from(caller, programme)
    views = [
        _item_view(meeting, items[a], [r for r in recommendations if r.application_id == a], caller, untrained,
                   hidden)
        for a in meeting.application_ids if a in items
    ]
    manager = is_manager(caller)
    rule = meeting.rule.model_dump()
    shown_rule = DecisionRuleView.model_validate({**rule, "members": rule["members"] if manager else None})
    return MeetingView.of(meeting, rule=shown_rule, items=views)


def _item_view(
    meeting: DecisionMeeting, item: MeetingItem, recommendations: list[PanelRecommendation], caller: Caller,
    untrained: set[str], hidden: frozenset[BlindField],
) -> MeetingItemView:
    manager = is_manager(caller)
    rule = meeting.rule
    voting = domain.voters(rule.kinds, meeting.attendance, item.recused)
    voting = {m: kind for m, kind in voting.items() if m not in untrained}  # a required course missing
    votes = {m: v for m, v in commands.votes_of(recommendations).items() if m in voting}
    waiting_for = None
    if item.status is ItemStatus.OPEN and rule.quorum is not None:
        try:
            quorum = domain.Quorum(rule.quorum.members, rule.quorum.experts)
            domain.decide_item(rule.method, quorum, voting, votes, item.recused, item.amount_requested.amount)
        except domain.NotDecided as not_yet:
            waiting_for = str(not_yet)
    tally = domain.tally(votes, item.recused)
    own = next((r for r in recommendations if r.member_id == caller.subject), None)
    recusals = [RecusalView.of(r) for r in item.recusals if manager or r.member_id == caller.subject]
    return MeetingItemView.of(
        item, organisation_name=shown(item.organisation_name, BlindField.ORGANISATION_NAME, hidden),
        tally=TallyView.model_validate(tally, from_attributes=True), may_vote=len(voting), recorded=len(votes),
        waiting_for=waiting_for, recusals=recusals,
        you_are_recused=None if manager else caller.subject in item.recused,
        your_recommendation=RecommendationView.of(own) if own else None,
        recommendations=[RecommendationView.of(r) for r in recommendations] if manager else None,
    )  # fmt: skip
