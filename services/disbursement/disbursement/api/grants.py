"""Grants: finance sees them all, an applicant those of the organisations they represent. The grantee's
signatory accepts an offer's terms with the bank account it is paid into (or declines it), and may replace that account while the grant
is being paid. A grant outside the caller's scope answers 404, so its existence is not revealed."""

from fastapi import APIRouter, Response

from disbursement import commands, store
from disbursement.config import CurrentSettings
from disbursement.crypto import cipher_for
from disbursement.domain import GrantStatus
from disbursement.schemas import AcceptOffer, DeclineOffer, GrantView, RepaymentIn, ReplaceBankAccount, VariationIn
from disbursement.store import Grant
from grants_shared.api import (
    Applicant, ApplicantOrFinance, DatabaseDep, Finance, IdFilter, IfMatch, IfMatchRequired, Limit, Offset, Page, PathId,
    Transact, is_finance, set_etag,
)  # fmt: skip
from grants_shared.auth import Caller
from grants_shared.errors import NotFound
from grants_shared.openapi import etag, problems

router = APIRouter(prefix="/v1/grants", tags=["grants"])


@router.get("", summary="Grants: all of them for finance, your organisations' for applicants")
async def list_grants(
    caller: ApplicantOrFinance,
    database: DatabaseDep,
    settings: CurrentSettings,
    programme_id: IdFilter = None,
    status: GrantStatus | None = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> Page[GrantView]:
    organisations = None if is_finance(caller) else sorted(caller.organisation_ids)
    found, total = await store.list_grants(database, organisations, programme_id, status, limit, offset)
    cipher = cipher_for(settings)
    return Page(items=[GrantView.of(g, cipher) for g in found], limit=limit, offset=offset, total=total)


@router.get("/{grant_id}", summary="One grant with its payments", responses=etag())
async def get_grant(
    grant_id: PathId, caller: ApplicantOrFinance, database: DatabaseDep, settings: CurrentSettings, response: Response
) -> GrantView:
    grant = visible(caller, await store.get_grant(database, grant_id), grant_id)
    set_etag(response, grant.version)
    return GrantView.of(grant, cipher_for(settings), await store.payments_of_grant(database, grant.id))


@router.post(
    "/{grant_id}/accept",
    summary="Accept an offer and give the bank account it is paid into (If-Match optional)",
    responses=etag() | problems(s403="You do not represent the grantee organisation",
                                s409="The grant is not an open offer"),
)  # fmt: skip
async def accept_offer(
    grant_id: PathId, body: AcceptOffer, caller: Applicant, transact: Transact, version: IfMatch,
    settings: CurrentSettings, response: Response,
) -> GrantView:  # fmt: skip
    grant, payments = await transact(
        commands.accept_offer, caller, grant_id, body.bank_account.to_domain(), body.signatory.to_document(), version
    )
    set_etag(response, grant.version)
    return GrantView.of(grant, cipher_for(settings), payments)


@router.post(
    "/{grant_id}/decline",
    summary="Decline an offer, with the signatory and a reason (If-Match optional)",
    responses=etag() | problems(s403="You do not represent the grantee organisation",
                                s409="The grant is not an open offer (accepted, declined or expired)"),
)  # fmt: skip
async def decline_offer(
    grant_id: PathId, body: DeclineOffer, caller: Applicant, transact: Transact, version: IfMatch,
    settings: CurrentSettings, response: Response,
) -> GrantView:  # fmt: skip
    """The award's reservation goes back to the programme's budget at once."""
    grant = await transact(commands.decline_offer, caller, grant_id, body.signatory.to_document(), body.reason, version)
    set_etag(response, grant.version)
    return GrantView.of(grant, cipher_for(settings))


@router.put(
    "/{grant_id}/bank-account",
    summary="Replace the bank account an accepted grant is paid into (If-Match required)",
    responses=etag() | problems(s403="You do not represent the grantee organisation",
                                s409="The grant is not accepted (offered, held or already paid)"),
)  # fmt: skip
async def replace_bank_account(
    grant_id: PathId, body: ReplaceBankAccount, caller: Applicant, transact: Transact, version: IfMatchRequired,
    database: DatabaseDep, settings: CurrentSettings, response: Response,
) -> GrantView:  # fmt: skip
    """Payments not yet sent go to the new account; payments already sent are untouched."""
    grant = await transact(commands.replace_bank_account, caller, grant_id, body.bank_account.to_domain(), version)
    set_etag(response, grant.version)
    return GrantView.of(grant, cipher_for(settings), await store.payments_of_grant(database, grant.id))


@router.post("/{grant_id}/hold", summary="Hold an accepted grant: none of its payments is sent (finance)",
             responses=problems(s409="The grant is not accepted, or is on hold already"))  # fmt: skip
async def hold_grant(
    grant_id: PathId, caller: Finance, transact: Transact, database: DatabaseDep, settings: CurrentSettings
) -> GrantView:
    grant = await transact(commands.hold_grant, caller, grant_id)
    return GrantView.of(grant, cipher_for(settings), await store.payments_of_grant(database, grant.id))


@router.post(
    "/{grant_id}/release",
    summary="Release a grant finance held, or offer one held for lack of budget once the budget allows (finance)",
    responses=problems(s409="Nothing to release, or the budget still cannot cover it"),
)  # fmt: skip
async def release_grant(
    grant_id: PathId, caller: Finance, transact: Transact, database: DatabaseDep, settings: CurrentSettings
) -> GrantView:
    grant = await transact(commands.release_grant, caller, grant_id)
    return GrantView.of(grant, cipher_for(settings), await store.payments_of_grant(database, grant.id))


@router.post("/{grant_id}/repayments", summary="Record money the grantee paid back (finance)",
             responses=problems(s409="The grant changed meanwhile"))  # fmt: skip
async def record_repayment(
    grant_id: PathId, body: RepaymentIn, caller: Finance, transact: Transact, database: DatabaseDep,
    settings: CurrentSettings,
) -> GrantView:  # fmt: skip
    """At most what the grant was paid, less earlier repayments (422 beyond); back into the budget."""
    grant = await transact(commands.record_repayment, caller, grant_id, body.amount, body.reason)
    return GrantView.of(grant, cipher_for(settings), await store.payments_of_grant(database, grant.id))


@router.post("/{grant_id}/variations", summary="Vary a grant: its amount, its end date, or cancel it (finance)",
             responses=problems(s409="The grant is not accepted (or paid, for an end date), or a payment is in flight"))  # fmt: skip
async def vary_grant(
    grant_id: PathId, body: VariationIn, caller: Finance, transact: Transact, database: DatabaseDep,
    settings: CurrentSettings,
) -> GrantView:  # fmt: skip
    """An increase beyond the budget, or a decrease below what is paid or in flight, is 422."""
    if body.kind == "amount" and body.amount is not None:
        grant = await transact(commands.vary_amount, caller, grant_id, body.amount)
    elif body.kind == "end_date" and body.ends_on is not None:
        grant = await transact(commands.move_end_date, caller, grant_id, body.ends_on)
    else:
        grant = await transact(commands.cancel_grant, caller, grant_id)
    return GrantView.of(grant, cipher_for(settings), await store.payments_of_grant(database, grant.id))


def visible(caller: Caller, grant: Grant | None, grant_id: str) -> Grant:
    if grant is None or not (is_finance(caller) or caller.represents(grant.organisation_id)):
        raise NotFound(f"no grant {grant_id}")
    return grant
