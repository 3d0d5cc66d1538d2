"""Involvement payments to panel members: each member's payment choice (bank, voucher or volunteer)
and bank details (only here, encrypted, shown masked), what their approved claims became and their
totals per UK tax year; and each programme's involvement budget, which finance or a programme
manager sets. Claims themselves are scoring's (``/v1/involvement/claims`` there)."""

from fastapi import APIRouter, Response

from disbursement import commands, domain, store
from disbursement.config import CurrentSettings
from disbursement.crypto import cipher_for
from disbursement.schemas import (
    BankAccountIn, InvolvementBudgetIn, InvolvementBudgetView, InvolvementPaymentView, MaskedBankAccount,
    MemberInvolvementView, PaymentChoiceIn, TaxYearTotalView,
)  # fmt: skip
from disbursement.store import InvolvementBudget
from grants_shared.api import (
    DatabaseDep, Finance, FinanceOrManager, IfMatch, Limit, Offset, Page, PathId, Reviewer, Transact, set_etag,
)  # fmt: skip
from grants_shared.auth import Caller
from grants_shared.money import Money
from grants_shared.openapi import etag, problems
from grants_shared.unit_of_work import Db

router = APIRouter(prefix="/v1", tags=["involvement"])

PAID = (domain.InvolvementPaymentStatus.SENT, domain.InvolvementPaymentStatus.VOUCHER_ISSUED)


async def _member_view(database: Db, caller: Caller, settings: CurrentSettings) -> MemberInvolvementView:
    member = await store.get_involvement_member(database, caller.subject)
    payments = await store.involvement_payments_of_member(database, caller.subject)
    account = cipher_for(settings).decrypt(member.bank_account) if member and member.bank_account else None
    received = [domain.Received(p.paid_at.date(), p.kind, p.amount) for p in payments if p.status in PAID and p.paid_at]
    currency = payments[0].amount.currency if payments else "GBP"
    years = []
    for year in domain.totals_by_tax_year(received, currency):
        starts, ends = domain.tax_year_bounds(year.tax_year)
        years.append(TaxYearTotalView(tax_year=year.tax_year, starts_on=starts, ends_on=ends, time=year.time,
                                      expenses=year.expenses, total=year.total))  # fmt: skip
    return MemberInvolvementView(
        member_id=caller.subject, choice=member.choice if member else None,
        bank_account=MaskedBankAccount(**account.masked()) if account else None,
        version=member.version if member else None,
        payments=[InvolvementPaymentView.of(p) for p in reversed(payments)], tax_years=years,
    )  # fmt: skip


@router.get("/involvement/me", summary="Your involvement payments: choice, bank account (masked), totals per tax year",
            responses=etag())  # fmt: skip
async def get_mine(caller: Reviewer, database: DatabaseDep, settings: CurrentSettings, response: Response) -> MemberInvolvementView:
    view = await _member_view(database, caller, settings)
    if view.version is not None:
        set_etag(response, view.version)
    return view


@router.put(
    "/involvement/me/payment-choice",
    summary="Choose how you are paid for involvement: bank, voucher, or not at all (If-Match once chosen)",
    responses={**etag(), **problems(428)},
)  # fmt: skip
async def put_choice(
    body: PaymentChoiceIn, caller: Reviewer, transact: Transact, version: IfMatch, database: DatabaseDep,
    settings: CurrentSettings, response: Response,
) -> MemberInvolvementView:  # fmt: skip
    member = await transact(commands.set_payment_choice, caller, body.choice, version)
    set_etag(response, member.version)
    return await _member_view(database, caller, settings)


@router.put(
    "/involvement/me/bank-details",
    summary="The bank account your involvement payments go to (If-Match once you have chosen or given one)",
    responses={**etag(), **problems(428)},
)  # fmt: skip
async def put_bank_details(
    body: BankAccountIn, caller: Reviewer, transact: Transact, version: IfMatch, database: DatabaseDep,
    settings: CurrentSettings, response: Response,
) -> MemberInvolvementView:  # fmt: skip
    member = await transact(commands.set_member_bank_details, caller, body.to_domain(), version)
    set_etag(response, member.version)
    return await _member_view(database, caller, settings)


def _budget_view(programme_id: str, found: InvolvementBudget | None, left: Money | None, spent: dict[str, int]) -> InvolvementBudgetView:
    currency = found.total.currency if found else None
    money = (lambda amount: Money(amount=amount, currency=currency)) if currency else (lambda amount: None)
    return InvolvementBudgetView(
        programme_id=programme_id, total=found.total if found else None, available=left,
        committed=money(spent["committed"]), paid=money(spent["paid"]),
        set_by=found.set_by if found else None, set_at=found.set_at if found else None,
        version=found.version if found else None,
    )  # fmt: skip


@router.get(
    "/programmes/{programme_id}/involvement-budget", summary="A programme's involvement budget: total, committed, paid, available",
    responses=etag(),
)  # fmt: skip
async def get_budget(programme_id: PathId, caller: FinanceOrManager, transact: Transact, response: Response) -> InvolvementBudgetView:
    found, left, spent = await transact(commands.involvement_statement, programme_id)
    if found is not None:
        set_etag(response, found.version)
    return _budget_view(programme_id, found, left, spent)


@router.put(
    "/programmes/{programme_id}/involvement-budget",
    summary="Set a programme's involvement budget (If-Match once set); never below what is committed",
    responses={**etag(), **problems(428, s409="Lower than what is paid or committed already")},
)  # fmt: skip
async def put_budget(
    programme_id: PathId, body: InvolvementBudgetIn, caller: FinanceOrManager, transact: Transact, version: IfMatch,
    response: Response,
) -> InvolvementBudgetView:  # fmt: skip
    await transact(commands.set_involvement_budget, caller, programme_id, body.total, version)
    found, left, spent = await transact(commands.involvement_statement, programme_id)
    assert found is not None
    set_etag(response, found.version)
    return _budget_view(programme_id, found, left, spent)


@router.get("/programmes/{programme_id}/involvement-payments", summary="A programme's involvement payments")
async def list_payments(
    programme_id: PathId, caller: FinanceOrManager, database: DatabaseDep, limit: Limit = 100, offset: Offset = 0
) -> Page[InvolvementPaymentView]:
    found, total = await store.involvement_payments_of_programme(database, programme_id, limit, offset)
    return Page(items=[InvolvementPaymentView.of(p) for p in found], limit=limit, offset=offset, total=total)


@router.post(
    "/involvement-payments/{payment_id}/retry",
    summary="Send a failed involvement payment again (finance), under a new provider key",
    responses=problems(s409="Only a failed payment can be sent again"),
)  # fmt: skip
async def retry_payment(payment_id: PathId, caller: Finance, transact: Transact) -> InvolvementPaymentView:
    return InvolvementPaymentView.of(await transact(commands.retry_involvement_payment, caller, payment_id))
