"""Payment runs, for finance: due payments gathered together; none is sent until a finance officer
approves its run, and a run above the configured amount needs a second, different one."""

from typing import Annotated

from fastapi import APIRouter, Body, Depends, Query, Response

from disbursement import bank_files, commands, store
from disbursement.domain import PaymentRunStatus
from disbursement.schemas import PaymentRunView, ReconciliationView
from grants_shared.api import DatabaseDep, Finance, Limit, Offset, Page, PathId, Transact
from grants_shared.auth import Caller, Role, require
from grants_shared.errors import NotFound, RuleViolation
from grants_shared.openapi import problems

#: Bank files hold bank details in full: for finance officers only (not admins).
FinanceOfficer = Annotated[Caller, Depends(require(Role.FINANCE_OFFICER))]
#: A reconciliation file of a run is small; a larger body is refused by the platform's body limit.
CSV_BODY = {"requestBody": {"required": True, "content": {"text/csv": {"schema": {"type": "string"}}}}}

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
    return [PaymentRunView.of(r) for r in await commands.gather_in_turn(transact)]


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
async def approve_run(run_id: PathId, caller: Finance, transact: Transact) -> PaymentRunView:
    run, payments = await transact(commands.approve_run, caller, run_id)
    return PaymentRunView.of(run, payments)


@router.post(
    "/{run_id}/bank-file", summary="An approved run as a bank file: ISO 20022 pain.001 or CSV (finance officers)",
    responses={200: {"content": {"application/xml": {}, "text/csv": {}}, "description": "The bank file"}}
    | problems(s409="Not an approved run, or payments here go by the provider's API, not bank files"),
)  # fmt: skip
async def export_bank_file(
    run_id: PathId, caller: FinanceOfficer, transact: Transact,
    file_format: Annotated[bank_files.Format, Query(alias="format")] = "pain.001",
) -> Response:  # fmt: skip
    """The first export puts the run's approved payments in the file; a later one repeats that file.
    Each is recorded on the run (who, when, format, digest). The pain.001 is validated against the
    official ISO 20022 schema before it is answered."""
    content = await transact(commands.export_bank_file, caller, run_id, file_format)
    extension = "xml" if file_format == "pain.001" else "csv"
    return Response(content, media_type=bank_files.MEDIA_TYPES[file_format], headers={
        "Content-Disposition": f'attachment; filename="payment-run-{run_id[:8]}.{extension}"',
        "Cache-Control": "no-store",
    })  # fmt: skip


@router.post(
    "/{run_id}/reconciliation", summary="The bank's reconciliation CSV for a run: each payment paid or failed, once",
    openapi_extra=CSV_BODY, responses=problems(s409="The run was never exported to a bank file"),
)  # fmt: skip
async def reconcile(
    run_id: PathId, caller: FinanceOfficer, transact: Transact, body: Annotated[bytes, Body(media_type="text/csv")],
) -> ReconciliationView:  # fmt: skip
    """Columns ``reference`` and ``status`` (``paid`` or ``failed``), optionally ``bank_reference`` and
    ``reason``. A file with any malformed row is refused whole (422); the same file again changes nothing."""
    try:
        outcomes = bank_files.read_reconciliation(body)
    except bank_files.UnreadableReconciliation as refused:
        raise RuleViolation(str(refused)) from None
    return ReconciliationView.of(await transact(commands.reconcile_run, caller, run_id, outcomes))
