"""Payment runs, for finance: due payments gathered together; none is sent until a finance officer
approves its run, and a run above the configured amount needs a second, different one."""

from fastapi import APIRouter

from disbursement import commands, store
from disbursement.domain import PaymentRunStatus
from disbursement.schemas import PaymentRunView
from grants_shared.api import DatabaseDep, Finance, Limit, Offset, Page, PathId, Transact
from grants_shared.errors import NotFound
from grants_shared.openapi import problems

router = APIRouter(prefix="/v1/payment-runs", tags=["payment runs"])


@router.get("", summary="Payment runs, by status (finance)")
async def list_runs(
    caller: Finance, database: DatabaseDep, status: PaymentRunStatus | None = None, limit: Limit = 100,
    offset: Offset = 0,
) -> Page[PaymentRunView]:  # fmt: skip
    found, total = await store.list_runs(database, status, limit, offset)
    return Page(items=[PaymentRunView.of(r) for r in found], limit=limit, offset=offset, total=total)


@router.post("", summary="Gather the payments due now into runs awaiting approval (finance)",
             responses=problems(s409="Another gathering took the same payments; try again"))  # fmt: skip
async def gather_runs(caller: Finance, transact: Transact) -> list[PaymentRunView]:
    """One run per currency; an empty list when nothing is due outside a run."""
    return [PaymentRunView.of(r) for r in await transact(commands.gather_payment_runs)]


@router.get("/{run_id}", summary="One payment run with its payments (finance)")
async def get_run(run_id: PathId, caller: Finance, database: DatabaseDep) -> PaymentRunView:
    run = await store.get_run(database, run_id)
    if run is None:
        raise NotFound(f"no payment run {run_id}")
    return PaymentRunView.of(run, await store.payments_of_run(database, run.id))


@router.post(
    "/{run_id}/approve", summary="Approve a payment run (finance)",
    responses=problems(s409="The run is approved already, or you approved it already and it needs another finance officer"),
)  # fmt: skip
async def approve_run(run_id: PathId, caller: Finance, transact: Transact, database: DatabaseDep) -> PaymentRunView:
    run = await transact(commands.approve_run, caller, run_id)
    return PaymentRunView.of(run, await store.payments_of_run(database, run.id))
