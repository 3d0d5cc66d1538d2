"""Payments, for finance: the list by grant and status, putting a failed payment back in the queue,
holding a payment and releasing it."""

from fastapi import APIRouter

from disbursement import commands, store
from disbursement.domain import PaymentStatus
from disbursement.schemas import PaymentView
from grants_shared.api import DatabaseDep, Finance, IdFilter, Limit, Offset, Page, PathId, Transact
from grants_shared.openapi import problems

router = APIRouter(prefix="/v1/payments", tags=["payments"])


@router.get("", summary="Payments, by grant and status (finance)")
async def list_payments(
    caller: Finance,
    database: DatabaseDep,
    grant_id: IdFilter = None,
    status: PaymentStatus | None = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> Page[PaymentView]:
    found, total = await store.list_payments(database, grant_id, status, limit, offset)
    return Page(items=[PaymentView.of(p) for p in found], limit=limit, offset=offset, total=total)


@router.post(
    "/{payment_id}/retry",
    summary="Try a failed payment again, due now, with a new attempt budget (finance)",
    responses=problems(s409="The payment is not failed"),
)
async def retry_payment(payment_id: PathId, caller: Finance, transact: Transact) -> PaymentView:
    return PaymentView.of(await transact(commands.retry_payment, caller, payment_id))


@router.post("/{payment_id}/hold", summary="Hold a payment not yet being sent (finance)",
             responses=problems(s409="The payment is being sent, sent, failed or held already"))  # fmt: skip
async def hold_payment(payment_id: PathId, caller: Finance, transact: Transact) -> PaymentView:
    return PaymentView.of(await transact(commands.hold_payment, caller, payment_id))


@router.post("/{payment_id}/release", summary="Release a held payment into the next run (finance)",
             responses=problems(s409="The payment is not held, or its grant is on hold"))  # fmt: skip
async def release_payment(payment_id: PathId, caller: Finance, transact: Transact) -> PaymentView:
    return PaymentView.of(await transact(commands.release_payment, caller, payment_id))
