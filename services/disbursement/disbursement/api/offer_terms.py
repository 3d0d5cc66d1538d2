"""A programme's offer terms: the template each offer's terms are filled in from, and how long an offer
stays open. Programme managers set them; finance reads them too."""

from fastapi import APIRouter, Response

from disbursement import commands, store
from disbursement.schemas import OfferTermsIn, OfferTermsView
from grants_shared.api import DatabaseDep, FinanceOrManager, IfMatch, Manager, PathId, Transact, set_etag
from grants_shared.errors import NotFound
from grants_shared.openapi import etag

router = APIRouter(prefix="/v1/programmes", tags=["offer terms"])


@router.get("/{programme_id}/offer-terms", summary="A programme's offer terms and acceptance window",
            responses=etag())  # fmt: skip
async def get_offer_terms(
    programme_id: PathId, caller: FinanceOrManager, database: DatabaseDep, response: Response
) -> OfferTermsView:
    ledger = await store.get_ledger(database, programme_id)
    if ledger is None:
        raise NotFound(f"no ledger for programme {programme_id}")
    set_etag(response, ledger.offer_terms.version)
    return OfferTermsView.of(ledger.id, ledger.offer_terms)


@router.put("/{programme_id}/offer-terms", responses=etag(),
            summary="Set a programme's offer terms, for offers made from now on (If-Match optional)")  # fmt: skip
async def set_offer_terms(
    programme_id: PathId, body: OfferTermsIn, caller: Manager, transact: Transact, version: IfMatch,
    response: Response,
) -> OfferTermsView:  # fmt: skip
    """An unknown placeholder, a stray ``$`` or a reminder not before the window closes is 422; terms
    set by someone else since the If-Match version was read, 412."""
    ledger = await transact(
        commands.set_offer_terms, caller, programme_id, body.template, body.acceptance_days, body.reminder_days,
        version,
    )
    set_etag(response, ledger.offer_terms.version)
    return OfferTermsView.of(ledger.id, ledger.offer_terms)
