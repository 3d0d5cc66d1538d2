"""Finance: every grant (those on hold stand out), one grant with its payments, masked bank account
and history, the payments by status with a retry for a failed one, and each open programme's budget.

Finance officers (and admins) use all of it; programme managers read the budgets too, as the API
lets them. The API shows bank details masked, and these pages show nothing more than it does.
"""

from datetime import datetime
from math import ceil
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from grants_shared.auth import Caller, Role
from portal.clients import Api, ApiDep, ApiError
from portal.pages.grants import grant_path
from portal.pages.shared import programme_path, q, see_other
from portal.rendering import render
from portal.session import CsrfChecked, FinancePerson, needs

router = APIRouter(tags=["finance"])

#: The budget ledger is open to programme managers as well (the API's FinanceOrManager).
FinanceOrManagerPerson = Annotated[Caller, Depends(needs(Role.FINANCE_OFFICER, Role.PROGRAMME_MANAGER, Role.ADMIN))]

PAGE_SIZE = 20
#: The API's offset stops at 10,000 (grants_shared.api.MAX_OFFSET): no page beyond it.
LAST_PAGE = 10_000 // PAGE_SIZE
GRANT_STATUSES = {"held": "On hold", "offered": "Offered, not yet accepted", "accepted": "Accepted, being paid",
                  "paid": "Paid in full", "declined": "Offer declined", "expired": "Offer lapsed"}  # fmt: skip
#: Failed first: it is the one finance has to act on.
PAYMENT_STATUSES = {"failed": "Failed", "retrying": "Retrying", "held": "Held by finance",
                    "scheduled": "Scheduled (waiting for a run to be approved)", "approved": "Approved, to be sent",
                    "sending": "Sending", "sent": "Sent"}  # fmt: skip
HELD_REASONS = {
    "budget": "The programme's budget could not cover the award",
    "currency": "The award is in a different currency from the programme's budget",
}
ACTIONS = {"accepted": "Offer accepted", "bank_account_replaced": "Bank account changed",
           "retried": "Tried again by finance", "declined": "Offer declined", "expired": "Offer lapsed",
           "held": "Held by finance", "released": "Released by finance"}  # fmt: skip


def page_number(text: str) -> int:
    return int(text) if text.isdigit() and 1 <= int(text) <= LAST_PAGE else 1


def page_href(path: str, number: int, **filters: str) -> str:
    return f"{path}?{urlencode({**{k: v for k, v in filters.items() if v}, 'page': number})}"


def paging_of(path: str, total: int, page: int, **filters: str) -> dict[str, Any]:
    """Previous and next links that keep the filters, and where this page is among them all."""
    last = min(max(1, ceil(total / PAGE_SIZE)), LAST_PAGE)

    def href(number: int) -> str:
        return page_href(path, number, **filters)

    return {
        "number": page, "last": last,
        "previous": {"href": href(page - 1), "labelText": f"Page {page - 1} of {last}"} if page > 1 else None,
        "next": {"href": href(page + 1), "labelText": f"Page {page + 1} of {last}"} if page < last else None,
    }  # fmt: skip


async def _programme_names(api: Api) -> dict[str, str]:
    """Programme names by id, for grants and payments that carry only the id (one call, not one a row)."""
    listed = await api.get("applications", "/v1/programmes", limit=100)
    return {programme["id"]: programme["name"] for programme in listed["items"]}


# --- grants --------------------------------------------------------------------------------------


@router.get("/finance", summary="Grants, by status and programme")
async def grants(
    request: Request, api: ApiDep, person: FinancePerson, status: str = "", programme: str = "", page: str = "1"
) -> Response:
    status = status if status in GRANT_STATUSES else ""
    number = page_number(page)
    listed = await api.get("disbursement", "/v1/grants", status=status or None, programme_id=programme or None,
                           limit=PAGE_SIZE, offset=(number - 1) * PAGE_SIZE)  # fmt: skip
    if number > 1 and not listed["items"]:  # past the last page (an old link): the first one
        return see_other(page_href("/finance", 1, status=status, programme=programme))
    # Held grants need someone to look at them: however the list is filtered, say how many there are.
    held = listed["total"] if status == "held" else (
        await api.get("disbursement", "/v1/grants", status="held", limit=1))["total"]  # fmt: skip
    paging = paging_of("/finance", listed["total"], number, status=status, programme=programme)
    return render(request, "finance/grants.jinja", grants=listed["items"], total=listed["total"], held=held,
                  status=status, programme=programme, statuses=GRANT_STATUSES, reasons=HELD_REASONS,
                  names=await _programme_names(api), paging=paging)  # fmt: skip


def _action(entry: dict[str, Any]) -> str:
    return ACTIONS.get(entry["action"], entry["action"].replace("_", " ").capitalize())


def _history(grant: dict[str, Any]) -> list[dict[str, Any]]:
    """What happened to the grant and its payments, newest first: what people did (the API's
    history) and what the platform did (offered, sent), which the grant's own dates tell."""
    entries = [{"at": grant["offered_at"], "words": "Offered to the group", "by": None}] if grant["offered_at"] else []
    entries += [{"at": e["at"], "words": _action(e), "by": e["by"]} for e in grant["history"]]
    for payment in grant["payments"] or []:
        entries += [{"at": e["at"], "words": f"Payment {payment['sequence']}: {_action(e)}", "by": e["by"]}
                    for e in payment["history"]]  # fmt: skip
        if payment["sent_at"]:
            entries.append({"at": payment["sent_at"], "words": f"Payment {payment['sequence']} sent", "by": None})
    return sorted(entries, key=lambda entry: datetime.fromisoformat(entry["at"]), reverse=True)


async def _programme_name(api: Api, programme_id: str) -> str | None:
    try:
        return (await api.get("applications", programme_path(programme_id)))["name"]
    except ApiError as error:
        if error.status == 404:
            return None
        raise


#: What finance did to the grant, as the page that did it comes back here saying.
DONE = {"hold": "Grant held: none of its payments will be sent", "release": "Grant released",
        "amount": "The grant's amount is changed", "end_date": "The grant's end date is changed",
        "cancellation": "The grant is cancelled", "repayment": "The repayment is recorded"}  # fmt: skip


@router.get("/finance/grants/{grant_id}", summary="One grant: its payments, bank account (masked) and history")
async def grant(grant_id: str, request: Request, api: ApiDep, person: FinancePerson, retried: str = "",
                done: str = "", refused: str = "") -> Response:  # fmt: skip
    shown = await api.get("disbursement", grant_path(grant_id))
    retried_payment = next((p for p in shown["payments"] or [] if p["id"] == retried), None)
    # Holding and releasing are posted by pages/payment_runs.py, which comes back here with the outcome.
    errors = {"hold": f"Not done: {refused}"} if refused else None
    return render(request, "finance/grant.jinja", grant=shown, reasons=HELD_REASONS, history=_history(shown),
                  programme_name=await _programme_name(api, shown["programme_id"]),
                  retried=retried_payment, done=done if done in DONE else "", done_words=DONE, errors=errors)  # fmt: skip


# --- payments ------------------------------------------------------------------------------------


@router.get("/finance/payments", summary="Payments, by status")
async def payments(request: Request, api: ApiDep, person: FinancePerson, status: str = "", page: str = "1") -> Response:
    status = status if status in PAYMENT_STATUSES else ""
    number = page_number(page)
    listed = await api.get("disbursement", "/v1/payments", status=status or None, limit=PAGE_SIZE,
                           offset=(number - 1) * PAGE_SIZE)  # fmt: skip
    if number > 1 and not listed["items"]:
        return see_other(page_href("/finance/payments", 1, status=status))
    return render(request, "finance/payments.jinja", payments=listed["items"], total=listed["total"], status=status,
                  statuses=PAYMENT_STATUSES, names=await _programme_names(api),
                  paging=paging_of("/finance/payments", listed["total"], number, status=status))  # fmt: skip


async def _payment_of(api: Api, grant_id: str, payment_id: str) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """A payment through its grant: the API has no GET /v1/payments/{id}, and the grant brings the
    bank account the payment goes to."""
    shown = await api.get("disbursement", grant_path(grant_id))
    return shown, next((p for p in shown["payments"] or [] if p["id"] == payment_id), None)


#: A payment is reached through its grant (see _payment_of).
RETRY = "/finance/grants/{grant_id}/payments/{payment_id}/retry"


@router.get(RETRY, summary="Try a failed payment again: are you sure?")
async def retry_page(grant_id: str, payment_id: str, request: Request, api: ApiDep, person: FinancePerson) -> Response:
    shown, payment = await _payment_of(api, grant_id, payment_id)
    if payment is None:
        return render(request, "errors/not_found.jinja", status_code=404)
    # Shown whatever the status it was read in: it may have failed since the list was read (or not),
    # and the service, which is the judge, says so if it is no longer failed.
    return render(request, "finance/retry.jinja", grant=shown, payment=payment)


@router.post(RETRY, summary="Try it again", dependencies=[CsrfChecked])
async def retry(grant_id: str, payment_id: str, request: Request, api: ApiDep, person: FinancePerson) -> Response:
    try:
        await api.post("disbursement", f"/v1/payments/{q(payment_id)}/retry")
    except ApiError as error:
        if error.status not in (409, 422):
            raise
        shown, payment = await _payment_of(api, grant_id, payment_id)
        if payment is None:
            return render(request, "errors/not_found.jinja", status_code=404)
        # The status beside the message is the one read just now, so the page shows why.
        words = f"This payment was not tried again: {error.detail}"
        return render(request, "finance/retry.jinja", grant=shown, payment=payment, errors={"status": words})
    return see_other(f"/finance/grants/{q(grant_id)}?{urlencode({'retried': payment_id})}")


# --- budgets -------------------------------------------------------------------------------------


@router.get("/finance/programmes", summary="The open programmes, each with its budget")
async def programmes(request: Request, api: ApiDep, person: FinanceOrManagerPerson) -> Response:
    open_now = await api.get("applications", "/v1/programmes", status="open", limit=100)
    return render(request, "finance/programmes.jinja", programmes=open_now["items"], total=open_now["total"],
                  sees_grants=person.has(Role.FINANCE_OFFICER, Role.ADMIN))  # fmt: skip


@router.get("/finance/programmes/{programme_id}/ledger", summary="A programme's budget: reserved, paid, available")
async def ledger(programme_id: str, request: Request, api: ApiDep, person: FinanceOrManagerPerson) -> Response:
    shown = await api.get("disbursement", f"{programme_path(programme_id)}/ledger")
    return render(request, "finance/ledger.jinja", ledger=shown,
                  sees_grants=person.has(Role.FINANCE_OFFICER, Role.ADMIN))  # fmt: skip
