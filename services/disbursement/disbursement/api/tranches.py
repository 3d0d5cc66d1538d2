"""Conditional tranches: a programme's tranche policy (which tranches wait for an accepted monitoring
report or a named condition) and a programme manager marking a grant's named condition met. What each
payment waits for is in the grant's view (``GET /v1/grants/{id}``, each payment's ``waiting_for``)."""

from fastapi import APIRouter, Response

from disbursement import commands, store
from disbursement.config import CurrentSettings
from disbursement.crypto import cipher_for
from disbursement.schemas import (
    ConditionMetIn, GrantConditionsView, GrantRefView, GrantView, TranchePolicyIn, TranchePolicyView,
)  # fmt: skip
from grants_shared.api import DatabaseDep, FinanceOrManager, IfMatch, Manager, PathId, Transact, set_etag
from grants_shared.errors import NotFound
from grants_shared.openapi import etag, problems

router = APIRouter(tags=["conditional tranches"])


@router.get("/v1/programmes/{programme_id}/tranche-policy", summary="What a programme's tranches wait for",
            responses=etag())  # fmt: skip
async def get_policy(
    programme_id: PathId, caller: FinanceOrManager, database: DatabaseDep, response: Response
) -> TranchePolicyView:
    ledger = await store.get_ledger(database, programme_id)
    if ledger is None:
        raise NotFound(f"no ledger for programme {programme_id}")
    set_etag(response, ledger.tranches.version)
    return TranchePolicyView.of(ledger.id, ledger.tranches)


@router.put(
    "/v1/programmes/{programme_id}/tranche-policy",
    summary="Set which tranches wait for an accepted report or a named condition, for offers accepted from now on "
            "(If-Match optional)",
    responses=etag() | problems(s422="A tranche the payment policy does not have, a report the monitoring policy "
                                     "does not ask for, or a tranche with nothing to wait for"),
)  # fmt: skip
async def set_policy(
    programme_id: PathId, body: TranchePolicyIn, caller: Manager, transact: Transact, version: IfMatch,
    response: Response,
) -> TranchePolicyView:  # fmt: skip
    ledger = await transact(commands.set_tranche_policy, caller, programme_id, body.to_domain(), version)
    set_etag(response, ledger.tranches.version)
    return TranchePolicyView.of(ledger.id, ledger.tranches)


@router.get(
    "/v1/applications/{application_id}/grant",
    summary="The grant made on an application: its id and status, to find its conditions and reports",
    responses=problems(s404="No grant was made on that application"),
)  # fmt: skip
async def grant_of_application(
    application_id: PathId, caller: FinanceOrManager, database: DatabaseDep
) -> GrantRefView:
    grant = await store.grant_for_application(database, application_id)
    if grant is None:
        raise NotFound(f"no grant on application {application_id}")
    return GrantRefView.of(grant)


@router.get(
    "/v1/grants/{grant_id}/conditions", summary="A grant's named conditions and what each of its payments waits for",
    responses=etag() | problems(s404="No such grant"),
)  # fmt: skip
async def get_conditions(
    grant_id: PathId, caller: FinanceOrManager, database: DatabaseDep, response: Response
) -> GrantConditionsView:
    grant = await store.get_grant(database, grant_id)
    if grant is None:
        raise NotFound(f"no grant {grant_id}")
    set_etag(response, grant.version)
    return GrantConditionsView.of(grant, await store.payments_of_grant(database, grant.id))


@router.post(
    "/v1/grants/{grant_id}/conditions/met",
    summary="Mark one of a grant's named conditions met: its tranches waiting only for it are released (If-Match optional)",
    responses=etag() | problems(s404="No such grant, or it has no condition of that name",
                                s409="The condition was met already, or the grant is not accepted"),
)  # fmt: skip
async def meet_condition(
    grant_id: PathId, body: ConditionMetIn, caller: Manager, transact: Transact, version: IfMatch,
    settings: CurrentSettings, database: DatabaseDep, response: Response,
) -> GrantView:  # fmt: skip
    grant = await transact(commands.meet_condition, caller, grant_id, body.name, version)
    set_etag(response, grant.version)
    return GrantView.of(grant, cipher_for(settings), await store.payments_of_grant(database, grant.id))
