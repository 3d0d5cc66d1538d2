"""Finance in control of the money: payment runs (due payments gathered together), each approved by a
finance officer (by a second, different one above the configured amount) before anything in it is
sent; and holding or releasing a grant, including one held because the budget could not cover it.

The service is the judge of every rule (who may approve, what may be held): these pages ask it and
show its answer, a 409 as an error on the page."""

from typing import Any
from urllib.parse import urlencode

from typing import Annotated

from fastapi import APIRouter, Form, Request, UploadFile
from fastapi.responses import Response

from portal.clients import ApiDep, ApiError
from portal.pages.finance import PAGE_SIZE, page_href, page_number, paging_of
from portal.pages.grants import grant_path
from portal.pages.shared import q, see_other
from portal.rendering import render
from portal.session import CsrfChecked, FinancePerson

router = APIRouter(tags=["payment runs"])

RUN_STATUSES = {"awaiting_approval": "Awaiting approval", "approved": "Approved"}


def run_path(run_id: str) -> str:
    return f"/v1/payment-runs/{q(run_id)}"


@router.get("/finance/payment-runs", summary="Payment runs, those awaiting approval first")
async def runs(request: Request, api: ApiDep, person: FinancePerson, status: str = "awaiting_approval",
               page: str = "1", gathered: str = "") -> Response:  # fmt: skip
    status = status if status in RUN_STATUSES else ""
    number = page_number(page)
    listed = await api.get("disbursement", "/v1/payment-runs", status=status or None, limit=PAGE_SIZE,
                           offset=(number - 1) * PAGE_SIZE)  # fmt: skip
    if number > 1 and not listed["items"]:
        return see_other(page_href("/finance/payment-runs", 1, status=status))
    return render(request, "finance/payment_runs.jinja", runs=listed["items"], total=listed["total"], status=status,
                  statuses=RUN_STATUSES, gathered=gathered,
                  paging=paging_of("/finance/payment-runs", listed["total"], number, status=status))  # fmt: skip


@router.post("/finance/payment-runs", summary="Gather the payments due now into runs", dependencies=[CsrfChecked])
async def gather(request: Request, api: ApiDep, person: FinancePerson) -> Response:
    made = await api.post("disbursement", "/v1/payment-runs")
    return see_other(f"/finance/payment-runs?{urlencode({'gathered': str(len(made))})}")


async def _run_page(request: Request, api: ApiDep, person: FinancePerson, run_id: str, **extra: Any) -> Response:
    run = await api.get("disbursement", run_path(run_id))
    approved_by_me = any(a["by"] == person.subject for a in run["approvals"])
    return render(request, "finance/payment_run.jinja", run=run, approved_by_me=approved_by_me,
                  formats=BANK_FORMATS, **extra)  # fmt: skip


@router.get("/finance/payment-runs/{run_id}", summary="One payment run: its payments and approvals")
async def run(run_id: str, request: Request, api: ApiDep, person: FinancePerson, approved: str = "") -> Response:
    return await _run_page(request, api, person, run_id, just_approved=approved == "1")


@router.post("/finance/payment-runs/{run_id}/approve", summary="Approve a payment run", dependencies=[CsrfChecked])
async def approve(run_id: str, request: Request, api: ApiDep, person: FinancePerson) -> Response:
    try:
        await api.post("disbursement", f"{run_path(run_id)}/approve")
    except ApiError as error:
        if error.status != 409:
            raise
        return await _run_page(request, api, person, run_id, errors={"approve": f"Not approved: {error.detail}"})
    return see_other(f"/finance/payment-runs/{q(run_id)}?approved=1")


BANK_FORMATS = {"pain.001": "ISO 20022 pain.001 (XML)", "csv": "CSV: payee, sort code, account, amount, reference"}
#: A bank's reconciliation file for one run is small.
MAX_RECONCILIATION_BYTES = 1_000_000


@router.post("/finance/payment-runs/{run_id}/bank-file", summary="Download an approved run as a bank file",
             dependencies=[CsrfChecked])  # fmt: skip
async def bank_file(run_id: str, request: Request, api: ApiDep, person: FinancePerson,
                    file_format: Annotated[str, Form(alias="format")] = "pain.001") -> Response:  # fmt: skip
    """Passed through as the service made it (validated there); the portal keeps no copy."""
    if file_format not in BANK_FORMATS:
        return await _run_page(request, api, person, run_id, errors={"format": "Choose the file your bank takes"})
    try:
        answer = await api.post_raw("disbursement", f"{run_path(run_id)}/bank-file", format=file_format)
    except ApiError as error:
        if error.status not in (403, 409):
            raise
        return await _run_page(request, api, person, run_id, errors={"format": f"No bank file: {error.detail}"})
    return Response(answer.content, media_type=answer.headers["content-type"], headers={
        "Content-Disposition": answer.headers.get("content-disposition", "attachment"), "Cache-Control": "no-store",
    })  # fmt: skip


@router.post("/finance/payment-runs/{run_id}/reconciliation", summary="Give the bank's reconciliation file",
             dependencies=[CsrfChecked])  # fmt: skip
async def reconciliation(run_id: str, request: Request, api: ApiDep, person: FinancePerson,
                         file: UploadFile | None = None) -> Response:  # fmt: skip
    content = await file.read(MAX_RECONCILIATION_BYTES + 1) if file else b""
    if not content:
        return await _run_page(request, api, person, run_id, errors={"file": "Choose the bank's reconciliation file"})
    if len(content) > MAX_RECONCILIATION_BYTES:
        return await _run_page(request, api, person, run_id, errors={"file": "The file must be 1 MB or smaller"})
    try:
        answer = await api.post_raw("disbursement", f"{run_path(run_id)}/reconciliation", content, "text/csv")
    except ApiError as error:
        if error.status not in (403, 409, 422):
            raise
        return await _run_page(request, api, person, run_id, errors={"file": f"Not recorded: {error.detail}"})
    return await _run_page(request, api, person, run_id, reconciled=answer.json())


@router.post("/finance/grants/{grant_id}/hold", summary="Hold a grant: none of its payments is sent", dependencies=[CsrfChecked])
async def hold_grant(grant_id: str, request: Request, api: ApiDep, person: FinancePerson) -> Response:
    return await _grant_action(grant_id, "hold", api)


@router.post("/finance/grants/{grant_id}/release", summary="Release a held grant", dependencies=[CsrfChecked])
async def release_grant(grant_id: str, request: Request, api: ApiDep, person: FinancePerson) -> Response:
    return await _grant_action(grant_id, "release", api)


async def _grant_action(grant_id: str, action: str, api: ApiDep) -> Response:
    """The service's refusal (409) is shown on the grant's page, which reads the grant as it is now."""
    try:
        await api.post("disbursement", f"{grant_path(grant_id)}/{action}")
        outcome = {"done": action}
    except ApiError as error:
        if error.status != 409:
            raise
        outcome = {"refused": error.detail[:300]}
    return see_other(f"/finance/grants/{q(grant_id)}?{urlencode(outcome)}")
