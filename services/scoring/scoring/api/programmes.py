"""Programmes as scoring keeps them: their rubric and budget, the panel (scoring's from the opening
on: managers replace it here), the organisations that applied, the applications with their review
state, and the ranking against the budget. Managers see every programme; a reviewer those whose
panel they sit on, without being shown who else sits on it."""

from fastapi import APIRouter, Response

from grants_shared.api import (
    Cursor, CursorPage, DatabaseDep, IfMatchRequired, Limit, Manager, ManagerOrReviewer, Offset, Page, PathId,
    Transact, is_manager, set_etag,
)  # fmt: skip
from grants_shared import budget
from grants_shared.auth import Caller
from grants_shared.money import Money
from grants_shared.paging import After
from grants_shared.unit_of_work import Db
from grants_shared.openapi import etag, problems
from scoring import access, commands, domain, store
from scoring.domain import ApplicationStatus, BlindField
from scoring.schemas import (
    ApplicationSummaryView,
    BlindReviewUpdate,
    DecisionRuleUpdate,
    DecisionRuleView,
    OrganisationView,
    PanelUpdate,
    ProgrammeView,
    RankingCursor,
    RankingEntryView,
    RankingView,
)
from scoring.store import Programme

router = APIRouter(prefix="/v1/programmes", tags=["programmes"])


@router.get("", summary="Programmes you manage, or whose panel you sit on")
async def list_programmes(
    caller: ManagerOrReviewer, database: DatabaseDep, limit: Limit = 100, offset: Offset = 0
) -> Page[ProgrammeView]:
    panel_member = None if is_manager(caller) else caller.subject
    found, total = await store.list_programmes(database, panel_member, limit, offset)
    left = await budget.available_of(database, [p.id for p in found])
    items = [_view(p, caller, left.get(p.id, p.budget)) for p in found]
    return Page(items=items, limit=limit, offset=offset, total=total)


@router.get("/{programme_id}", summary="A programme: rubric, panel and budget", responses=etag())
async def get_programme(
    programme_id: PathId, caller: ManagerOrReviewer, database: DatabaseDep, response: Response
) -> ProgrammeView:
    programme = await access.visible_programme(database, programme_id, caller)
    set_etag(response, programme.version)
    return _view(programme, caller, await _remaining(database, programme))


@router.put(
    "/{programme_id}/panel",
    summary=(
        "Replace the panel (If-Match required): open reviews of those who leave it go to other members, and "
        "applications waiting for reviewers get them from the new panel"
    ),
    responses=etag(),
)
async def put_panel(
    programme_id: PathId, body: PanelUpdate, caller: Manager, transact: Transact, version: IfMatchRequired,
    database: DatabaseDep, response: Response,
) -> ProgrammeView:  # fmt: skip
    programme = await transact(commands.replace_panel, caller, programme_id, body.reviewer_ids, version)
    set_etag(response, programme.version)
    return _view(programme, caller, await _remaining(database, programme))


@router.put(
    "/{programme_id}/decision-rule",
    summary=(
        "Set how the programme decides (If-Match required): its decision panel of experts by experience and "
        "staff, the quorum, and majority or consensus; or that decisions are delegated to a named role"
    ),
    responses=etag(),
)
async def put_decision_rule(
    programme_id: PathId, body: DecisionRuleUpdate, caller: Manager, transact: Transact, version: IfMatchRequired,
    database: DatabaseDep, response: Response,
) -> ProgrammeView:  # fmt: skip
    programme = await transact(commands.set_decision_rule, caller, programme_id, body, version)
    set_etag(response, programme.version)
    return _view(programme, caller, await _remaining(database, programme))


@router.put(
    "/{programme_id}/blind-review",
    summary=(
        "Choose the application fields the programme's reviewers are not shown (If-Match required): "
        "organisation name, kind or area; managers still see them, and conflicts of interest still apply"
    ),
    responses=etag(),
)
async def put_blind_review(
    programme_id: PathId, body: BlindReviewUpdate, caller: Manager, transact: Transact, version: IfMatchRequired,
    database: DatabaseDep, response: Response,
) -> ProgrammeView:  # fmt: skip
    programme = await transact(commands.set_blind_review, caller, programme_id, body, version)
    set_etag(response, programme.version)
    return _view(programme, caller, await _remaining(database, programme))


@router.get(
    "/{programme_id}/organisations",
    summary="Organisations that applied to the programme (id and name), so panel members can declare conflicts",
)
async def list_organisations(
    programme_id: PathId, caller: ManagerOrReviewer, database: DatabaseDep, limit: Limit = 100, offset: Offset = 0
) -> Page[OrganisationView]:
    programme = await access.visible_programme(database, programme_id, caller)
    if BlindField.ORGANISATION_NAME in access.hidden_from(caller, programme):
        # Blind review: a list of who applied would name them. A reviewer who knows an applicant
        # declines its review for a conflict instead (the organisation's id stays on the server).
        return Page(items=[], limit=limit, offset=offset, total=0)
    found, total = await store.organisations_of_programme(database, programme.id, limit, offset)
    return Page(items=[OrganisationView.of(o) for o in found], limit=limit, offset=offset, total=total)


@router.get(
    "/{programme_id}/applications",
    tags=["applications"],
    summary=(
        "The programme's applications with their review state, including those awaiting reviewers, oldest "
        "submission first: ask for the next page with `after` set to the `next` of this one (no total: "
        "counting every match would cost more than the page)"
    ),
    responses=problems(400),
)
async def list_applications(
    programme_id: PathId,
    caller: Manager,
    database: DatabaseDep,
    status: ApplicationStatus | None = None,
    limit: Limit = 100,
    after: Cursor = None,
) -> CursorPage[ApplicationSummaryView]:
    programme = await access.visible_programme(database, programme_id, caller)
    start = After.parse(after) if after else None
    found, following = await store.list_applications(database, programme, status, limit, start)
    return CursorPage(items=[ApplicationSummaryView.of(a) for a in found], limit=limit,
                      next=following.token() if following else None)  # fmt: skip


@router.get(
    "/{programme_id}/ranking",
    summary=(
        "Scored applications by weighted score, walked against the remaining budget, a page at a time: "
        "ask for the next page with `after` set to the `next` of this one"
    ),
    responses=problems(400),
)
async def get_ranking(
    programme_id: PathId, caller: ManagerOrReviewer, database: DatabaseDep, limit: Limit = 100, after: Cursor = None
) -> RankingView:
    programme = await access.visible_programme(database, programme_id, caller)
    # Ranked over every application, so each caller sees the same budget line; a reviewer's
    # conflicted applications, and those of organisations they represent, are then left out.
    hidden: set[str] = set()
    if not is_manager(caller):
        hidden = await store.conflicted_organisations(database, caller.subject) | caller.organisation_ids
    remaining = await _remaining(database, programme)
    blind = access.hidden_from(caller, programme)
    cursor = RankingCursor.parse(after) if after else None
    walked, read_after = (cursor.walk, cursor.after) if cursor else (domain.RankingWalk(left=remaining.amount), None)
    shown, walked, following = await store.ranking_page(database, programme.id, walked, read_after, limit, hidden)
    currency = programme.budget.currency
    entries = [RankingEntryView.of(ranked, application, currency, blind) for ranked, application in shown]
    return RankingView.of(programme, remaining, entries, walked, limit, following and RankingCursor(following, walked))


async def _remaining(database: Db, programme: Programme) -> Money:
    return await budget.available(database, programme.id) or programme.budget


def _view(programme: Programme, caller: Caller, remaining: Money) -> ProgrammeView:
    # Who sits on a panel of experts by experience is theirs to share: reviewers do not need the list.
    manager = is_manager(caller)
    rule = programme.decision_rule
    shown_rule = rule and DecisionRuleView.model_validate(
        {**rule.model_dump(), "members": rule.model_dump()["members"] if manager else None}
    )
    return ProgrammeView.of(
        programme, panel=programme.panel if manager else None, remaining_budget=remaining,
        awarded_total=programme.budget - remaining, decision_rule=shown_rule,
    )
