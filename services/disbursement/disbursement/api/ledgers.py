"""A programme's statement, for finance and programme managers: budget, committed, paid, released, held,
returned and available; read in one transaction so that it balances whatever commits around it."""

from fastapi import APIRouter

from disbursement import commands
from disbursement.schemas import LedgerView
from grants_shared.api import FinanceOrManager, PathId, Transact

router = APIRouter(prefix="/v1/programmes", tags=["ledger"])


@router.get("/{programme_id}/ledger", summary="A programme's statement: committed, paid, released, held, returned, available")
async def get_ledger(programme_id: PathId, caller: FinanceOrManager, transact: Transact) -> LedgerView:
    ledger, available, parts = await transact(commands.statement, programme_id)
    return LedgerView.of(ledger, available, parts)
