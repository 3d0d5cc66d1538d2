"""A programme's budget ledger, for finance and programme managers: reserved for grants, paid out,
still available."""

from fastapi import APIRouter

from disbursement import store
from disbursement.schemas import LedgerView
from grants_shared import budget
from grants_shared.api import DatabaseDep, FinanceOrManager, PathId
from grants_shared.errors import NotFound

router = APIRouter(prefix="/v1/programmes", tags=["ledger"])


@router.get("/{programme_id}/ledger", summary="A programme's budget: reserved for grants, paid out, still available")
async def get_ledger(programme_id: PathId, caller: FinanceOrManager, database: DatabaseDep) -> LedgerView:
    ledger = await store.get_ledger(database, programme_id)
    left = await budget.available(database, programme_id)
    if ledger is None or left is None:
        raise NotFound(f"no ledger for programme {programme_id}")
    paid, granted = await store.paid_and_granted(database, programme_id)
    return LedgerView.of(ledger, left.amount, paid, granted)
