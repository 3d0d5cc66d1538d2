"""Involvement payments to panel members: a programme's involvement policy (a manager sets it; panel
members read it), each member's time (recorded from meetings attended and reviews completed) and
their claims for time and expenses, which a programme manager approves or rejects. What is paid, and
how (bank, voucher, or not at all for a volunteer), is disbursement's (its ``/v1/involvement``)."""

from fastapi import APIRouter, Response

from grants_shared.api import (
    DatabaseDep, IdFilter, IfMatch, IfMatchRequired, Limit, Manager, ManagerOrReviewer, Offset, Page, PathId,
    Reviewer, Transact, is_manager, set_etag,
)  # fmt: skip
from grants_shared.errors import NotFound
from grants_shared.idempotency import Created, Once
from grants_shared.openapi import etag, problems
from scoring import access, commands, domain, store
from scoring.domain import ClaimStatus
from scoring.schemas import (
    ClaimRejection, ExpenseClaimIn, InvolvementClaimView, InvolvementPolicyIn, InvolvementPolicyView, TimeEntryView,
)  # fmt: skip
from scoring.store import InvolvementClaim, InvolvementPolicy

router = APIRouter(prefix="/v1", tags=["involvement"])


def _policy_view(policy: InvolvementPolicy) -> InvolvementPolicyView:
    involvement = policy.involvement()
    return InvolvementPolicyView.of(
        policy, programme_id=policy.id,
        meeting_worth=domain.entry_amount(involvement, domain.TimeEntryKind.MEETING),
        review_worth=domain.entry_amount(involvement, domain.TimeEntryKind.REVIEW),
    )  # fmt: skip


def _created(claim: InvolvementClaim) -> Created:
    return Created(InvolvementClaimView.of_claim(claim), f"/v1/involvement/claims/{claim.id}", claim.version)


@router.get(
    "/programmes/{programme_id}/involvement-policy", summary="What the programme pays its panel members",
    responses=etag(),
)  # fmt: skip
async def get_policy(
    programme_id: PathId, caller: ManagerOrReviewer, database: DatabaseDep, response: Response
) -> InvolvementPolicyView:
    await access.visible_programme(database, programme_id, caller)
    policy = await store.get_involvement_policy(database, programme_id)
    if policy is None:
        raise NotFound(f"programme {programme_id} has no involvement policy yet")
    set_etag(response, policy.version)
    return _policy_view(policy)


@router.put(
    "/programmes/{programme_id}/involvement-policy",
    summary="Set the involvement policy: a rate per hour or per session, and which expenses are paid "
            "(If-Match once one exists)",
    responses={**etag(), **problems(428)},
)  # fmt: skip
async def put_policy(
    programme_id: PathId, body: InvolvementPolicyIn, caller: Manager, transact: Transact, version: IfMatch,
    response: Response,
) -> InvolvementPolicyView:  # fmt: skip
    policy = await transact(commands.set_involvement_policy, caller, programme_id, body, version)
    set_etag(response, policy.version)
    return _policy_view(policy)


@router.get("/involvement/time-entries", summary="Time recorded: your own, or (managers) a member's")
async def list_time(
    caller: ManagerOrReviewer, database: DatabaseDep, programme_id: IdFilter = None, member_id: IdFilter = None
) -> list[TimeEntryView]:
    member = member_id if is_manager(caller) and member_id else caller.subject
    return [TimeEntryView.of(e) for e in await store.time_entries_of(database, member, programme_id)]


@router.get("/involvement/claims", summary="Claims: your own; or (managers) a programme's, by status")
async def list_claims(
    caller: ManagerOrReviewer, database: DatabaseDep, programme_id: IdFilter = None,
    status: ClaimStatus | None = None, limit: Limit = 100, offset: Offset = 0,
) -> Page[InvolvementClaimView]:  # fmt: skip
    if is_manager(caller) and programme_id:
        found, total = await store.claims_of_programme(database, programme_id, status, limit, offset)
    else:
        found, total = await store.claims_of_member(database, caller.subject, limit, offset)
    return Page(items=[InvolvementClaimView.of_claim(c) for c in found], limit=limit, offset=offset, total=total)


@router.post(
    "/programmes/{programme_id}/involvement/time-claims", status_code=201, response_model=InvolvementClaimView,
    summary="Claim all your time in the programme not yet claimed, valued by its involvement policy",
    responses={**etag(201), **problems(s409="No involvement policy yet, or no unclaimed time")},
)  # fmt: skip
async def claim_time(programme_id: PathId, caller: Reviewer, transact: Transact, once: Once) -> Response:
    return await once.create(transact, commands.claim_time, _created, caller, programme_id)


@router.post(
    "/programmes/{programme_id}/involvement/expense-claims", status_code=201, response_model=InvolvementClaimView,
    summary="Claim an expense (travel, childcare, carer costs...): amount, category, note; no receipt needed",
    responses={**etag(201), **problems(s409="No involvement policy yet")},
)  # fmt: skip
async def claim_expense(
    programme_id: PathId, body: ExpenseClaimIn, caller: Reviewer, transact: Transact, once: Once
) -> Response:
    return await once.create(transact, commands.claim_expense, _created, caller, programme_id, body)


@router.get("/involvement/claims/{claim_id}", summary="A claim: its member's or a manager's", responses=etag())
async def get_claim(
    claim_id: PathId, caller: ManagerOrReviewer, database: DatabaseDep, response: Response
) -> InvolvementClaimView:
    claim = await access.visible_claim(database, caller, claim_id)
    set_etag(response, claim.version)
    return InvolvementClaimView.of_claim(claim)


@router.post(
    "/involvement/claims/{claim_id}/approve",
    summary="Approve a claim (If-Match): disbursement pays it as the member chose",
    responses={**etag(), **problems(s409="Already approved or rejected")},
)  # fmt: skip
async def approve_claim(
    claim_id: PathId, caller: Manager, transact: Transact, version: IfMatchRequired, response: Response
) -> InvolvementClaimView:
    claim = await transact(commands.approve_claim, caller, claim_id, version)
    set_etag(response, claim.version)
    return InvolvementClaimView.of_claim(claim)


@router.post(
    "/involvement/claims/{claim_id}/reject",
    summary="Reject a claim with a reason (If-Match); its time can be claimed again",
    responses={**etag(), **problems(s409="Already approved or rejected")},
)  # fmt: skip
async def reject_claim(
    claim_id: PathId, body: ClaimRejection, caller: Manager, transact: Transact, version: IfMatchRequired,
    response: Response,
) -> InvolvementClaimView:  # fmt: skip
    claim = await transact(commands.reject_claim, caller, claim_id, body.reason, version)
    set_etag(response, claim.version)
    return InvolvementClaimView.of_claim(claim)
