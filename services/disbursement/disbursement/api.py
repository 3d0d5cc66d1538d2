"""Disbursement's HTTP API: grants and their acceptance, payments, programme ledgers."""

from typing import Annotated, Any, cast
from uuid import uuid4

from fastapi import APIRouter, Depends, Query, Request, Response

from disbursement import store
from disbursement.config import Settings
from disbursement.crypto import cipher_for
from disbursement.domain import GrantStatus, PaymentStatus, due_date, manual_retry, start_of_day
from disbursement.models import (
    AcceptOffer,
    GrantView,
    LedgerView,
    PaymentView,
    ReplaceBankAccount,
)
from grants_shared.auth import Caller, Role, require
from grants_shared.clock import utcnow
from grants_shared.errors import Conflict, Forbidden, NotFound, PreconditionFailed
from grants_shared.events import GrantAccepted, PaymentScheduled
from grants_shared.http import expected_version, optional_version, set_etag
from grants_shared.money import Money
from grants_shared.pages import Page
from grants_shared.service import RuntimeDep
from grants_shared.unit_of_work import Transaction

router = APIRouter(prefix="/v1")

FINANCE = (Role.FINANCE_OFFICER, Role.ADMIN)
Limit = Annotated[int, Query(ge=1, le=200)]
Offset = Annotated[int, Query(ge=0, le=100_000)]


def _sees_all(caller: Caller) -> bool:
    return caller.has(*FINANCE)


async def _visible_grant(runtime: RuntimeDep, grant_id: str, caller: Caller) -> dict[str, Any]:
    """The grant, if the caller may see it; otherwise 404, so its existence is not revealed."""
    grant = await store.get_grant(runtime.db, grant_id)
    if grant is None or not (_sees_all(caller) or caller.represents(grant["organisation_id"])):
        raise NotFound(f"no grant {grant_id}")
    return grant


async def _grantee_grant(runtime: RuntimeDep, grant_id: str, caller: Caller, doing: str) -> dict[str, Any]:
    grant = await _visible_grant(runtime, grant_id, caller)
    if not caller.represents(grant["organisation_id"]):
        # Visible through a finance role; but who names the account a grant is paid into is the grantee.
        raise Forbidden(f"only someone representing the grantee organisation can {doing}")
    return grant


def _view(runtime: RuntimeDep, grant: dict[str, Any], payments: list[dict[str, Any]] | None = None) -> GrantView:
    token = grant.get("bank_account")
    account = cipher_for(cast(Settings, runtime.settings)).decrypt(token) if token else None
    return GrantView.of(grant, account, payments)


@router.get("/grants", tags=["grants"], summary="Grants: all of them for finance, your organisations' for applicants")
async def list_grants(
    runtime: RuntimeDep,
    caller: Annotated[Caller, Depends(require(Role.APPLICANT, *FINANCE))],
    programme_id: Annotated[str | None, Query(max_length=64)] = None,
    status: GrantStatus | None = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> Page[GrantView]:
    organisations = None if _sees_all(caller) else sorted(caller.organisation_ids)
    grants = await store.find_grants(runtime.db, organisation_ids=organisations, programme_id=programme_id,
                                     status=status, limit=limit, offset=offset)
    return Page(items=[_view(runtime, g) for g in grants], limit=limit, offset=offset)


@router.get("/grants/{grant_id}", tags=["grants"], summary="One grant with its payments")
async def get_grant(
    grant_id: str,
    response: Response,
    runtime: RuntimeDep,
    caller: Annotated[Caller, Depends(require(Role.APPLICANT, *FINANCE))],
) -> GrantView:
    grant = await _visible_grant(runtime, grant_id, caller)
    set_etag(response, grant["version"])
    return _view(runtime, grant, await store.payments_of_grant(runtime.db, grant_id))


@router.post(
    "/grants/{grant_id}/accept",
    tags=["grants"],
    summary="Accept an offer and give the bank account it is paid into (If-Match optional)",
    responses={403: {"description": "You do not represent the grantee organisation"},
               404: {"description": "No such grant for your organisations"},
               409: {"description": "The grant is not an open offer"},
               412: {"description": "If-Match did not match the grant's version"}},
)
async def accept_offer(
    grant_id: str,
    body: AcceptOffer,
    request: Request,
    response: Response,
    runtime: RuntimeDep,
    caller: Annotated[Caller, Depends(require(Role.APPLICANT))],
) -> GrantView:
    grant = await _grantee_grant(runtime, grant_id, caller, "accept its offer")
    version = optional_version(request)
    if version is not None and version != grant["version"]:
        raise PreconditionFailed(f"the grant is at version {grant['version']}; read it again and retry")
    if grant["status"] != "offered":
        raise Conflict(f"grant {grant_id} is {grant['status']}; only an offered grant can be accepted")

    token = cipher_for(cast(Settings, runtime.settings)).encrypt(body.bank_account.to_domain())
    accepted_at = utcnow()
    payments = [_payment(grant, entry, accepted_at) for entry in grant["schedule"]]

    async def accept(tx: Transaction) -> None:
        if not await store.accept_grant(tx, grant_id, token, caller.subject, accepted_at, version):
            raise Conflict(f"grant {grant_id} changed meanwhile; it is no longer an open offer")
        await store.insert_payments(tx, payments)
        await tx.emit(GrantAccepted(grant_id=grant_id, application_id=grant["application_id"]))
        for p in payments:
            await tx.emit(PaymentScheduled(
                payment_id=p["_id"], grant_id=grant_id, application_id=grant["application_id"],
                amount=Money(**p["amount"]), due_date=p["due_at"].date(),
            ))

    await runtime.database.transact(accept, request.headers.get("traceparent"))
    accepted = await store.get_grant(runtime.db, grant_id)
    assert accepted is not None
    set_etag(response, accepted["version"])
    return _view(runtime, accepted, payments)


@router.put(
    "/grants/{grant_id}/bank-account",
    tags=["grants"],
    summary="Replace the bank account an accepted grant is paid into (If-Match required)",
    responses={403: {"description": "You do not represent the grantee organisation"},
               404: {"description": "No such grant for your organisations"},
               409: {"description": "The grant is not accepted (offered, held or already paid)"},
               412: {"description": "If-Match did not match the grant's version"},
               428: {"description": "If-Match is missing"}},
)
async def replace_bank_account(
    grant_id: str,
    body: ReplaceBankAccount,
    request: Request,
    response: Response,
    runtime: RuntimeDep,
    caller: Annotated[Caller, Depends(require(Role.APPLICANT))],
) -> GrantView:
    """Payments not yet sent go to the new account; payments already sent are untouched."""
    grant = await _grantee_grant(runtime, grant_id, caller, "change its bank details")
    version = expected_version(request)
    if version != grant["version"]:
        raise PreconditionFailed(f"the grant is at version {grant['version']}; read it again and retry")
    if grant["status"] != "accepted":
        raise Conflict(f"grant {grant_id} is {grant['status']}; only an accepted grant's bank details can change")

    token = cipher_for(cast(Settings, runtime.settings)).encrypt(body.bank_account.to_domain())

    async def replace(tx: Transaction) -> None:
        if not await store.replace_bank_account(tx, grant_id, token, caller.subject, utcnow(), version):
            raise PreconditionFailed(f"grant {grant_id} changed meanwhile; read it again and retry")

    await runtime.database.transact(replace, request.headers.get("traceparent"))
    replaced = await store.get_grant(runtime.db, grant_id)
    assert replaced is not None
    set_etag(response, replaced["version"])
    return _view(runtime, replaced, await store.payments_of_grant(runtime.db, grant_id))


def _payment(grant: dict[str, Any], entry: dict[str, Any], accepted_at: Any) -> dict[str, Any]:
    return {
        "_id": str(uuid4()),
        "grant_id": grant["_id"],
        "application_id": grant["application_id"],
        "programme_id": grant["programme_id"],
        "sequence": entry["sequence"],
        "amount": entry["amount"],
        "due_at": start_of_day(due_date(accepted_at, entry["due_after_days"])),
        "status": "scheduled",
        "attempts": 0,
        "retries": 0,
        "claim_id": None,
        "claimed_at": None,
        "next_attempt_at": None,
        "created_at": accepted_at,
    }


@router.get("/payments", tags=["payments"], summary="Payments, by grant and status (finance)")
async def list_payments(
    runtime: RuntimeDep,
    caller: Annotated[Caller, Depends(require(*FINANCE))],
    grant_id: Annotated[str | None, Query(max_length=64)] = None,
    status: PaymentStatus | None = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> Page[PaymentView]:
    payments = await store.find_payments(runtime.db, grant_id=grant_id, status=status, limit=limit, offset=offset)
    return Page(items=[PaymentView.of(p) for p in payments], limit=limit, offset=offset)


@router.post(
    "/payments/{payment_id}/retry",
    tags=["payments"],
    summary="Try a failed payment again, due now, with a new attempt budget (finance)",
    responses={404: {"description": "No such payment"},
               409: {"description": "The payment is not failed"}},
)
async def retry_payment(
    payment_id: str,
    request: Request,
    runtime: RuntimeDep,
    caller: Annotated[Caller, Depends(require(*FINANCE))],
) -> PaymentView:
    payment = await store.get_payment(runtime.db, payment_id)
    if payment is None:
        raise NotFound(f"no payment {payment_id}")
    try:
        retry = manual_retry(payment["status"], payment["attempts"], payment.get("retries", 0), utcnow())
    except ValueError as refused:
        raise Conflict(str(refused)) from None

    async def restart(tx: Transaction) -> None:
        if not await store.restart_payment(tx, payment, retry, caller.subject):
            raise Conflict(f"payment {payment_id} changed meanwhile; it is no longer failed")
        await tx.emit(PaymentScheduled(
            payment_id=payment_id, grant_id=payment["grant_id"], application_id=payment["application_id"],
            amount=Money(**payment["amount"]), due_date=retry.due_at.date(),
        ))

    await runtime.database.transact(restart, request.headers.get("traceparent"))
    restarted = await store.get_payment(runtime.db, payment_id)
    assert restarted is not None
    return PaymentView.of(restarted)


@router.get("/programmes/{programme_id}/ledger", tags=["ledger"],
            summary="A programme's budget: reserved for grants, paid out, still available")
async def get_ledger(
    programme_id: str,
    runtime: RuntimeDep,
    caller: Annotated[Caller, Depends(require(*FINANCE, Role.PROGRAMME_MANAGER))],
) -> LedgerView:
    ledger = await store.get_ledger(runtime.db, programme_id)
    if ledger is None:
        raise NotFound(f"no ledger for programme {programme_id}")
    return LedgerView(
        programme_id=programme_id, name=ledger["name"], budget=Money(**ledger["budget"]),
        reserved=Money(**ledger["reserved"]), paid=Money(**ledger["paid"]), available=Money(**ledger["available"]),
    )
