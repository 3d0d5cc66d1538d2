"""Scoring and disbursement together over the real broker and their own databases: a panel member's
review becomes time, they claim it, a manager approves it in scoring, and disbursement pays it into
their bank once, from the programme's involvement budget."""

import asyncio

from grants_shared.events import ApplicationScored, InvolvementClaimApproved, InvolvementClaimPaid
from grants_shared.settings import ServiceSettings
from scoring.config import Settings as ScoringSettings
from scoring.main import build_app as build_scoring
from tests.integration.disbursement.helpers import ACCOUNT, disbursement, finance, handled
from tests.integration.scoring.helpers import Scoring, gbp
from tests.support.app import bearer, serve
from tests.support.bus import TestBus

POLICY = {"unit": "session", "rate": gbp(75), "meeting": 1, "review": 1, "expenses_allowed": False}


async def test_an_approved_claim_crosses_from_scoring_to_disbursement_and_is_paid_once(
    settings: ServiceSettings, bus: TestBus
) -> None:
    app = build_scoring(ScoringSettings(**settings.model_dump()))
    async with serve(app) as http, disbursement(settings) as (money, runtime):
        scoring = Scoring(http=http, db=app.state.runtime.db, bus=bus, settings=settings)
        await scoring.open_programme("prog-1", panel=["rev-a", "rev-b"], k=1, budget=10_000)
        await handled(runtime.db, 1)  # disbursement has its ledger
        assert (await http.put("/v1/programmes/prog-1/involvement-policy", json=POLICY,
                               headers=scoring.manager)).status_code == 200  # fmt: skip
        await scoring.scored_application("app-1", "prog-1", "org-1", "rev-a", requested=4_000)
        await bus.wait_for(ApplicationScored.type, application_id="app-1")

        member = bearer(settings, "rev-a", "reviewer")
        claimed = await http.post("/v1/programmes/prog-1/involvement/time-claims", headers=member)
        assert claimed.status_code == 201, claimed.text
        assert claimed.json()["amount"] == gbp(75)
        chosen = await money.put("/v1/involvement/me/payment-choice", json={"choice": "bank"}, headers=member)
        detailed = await money.put("/v1/involvement/me/bank-details", json=ACCOUNT,
                                   headers={**member, "If-Match": chosen.headers["ETag"]})  # fmt: skip
        assert detailed.status_code == 200, detailed.text
        budget = await money.put("/v1/programmes/prog-1/involvement-budget", json={"total": gbp(500)},
                                 headers=finance(settings))  # fmt: skip
        assert budget.status_code == 200, budget.text

        claim_id = claimed.json()["id"]
        approve = f"/v1/involvement/claims/{claim_id}/approve"
        approved = await http.post(approve, headers={**scoring.manager, "If-Match": claimed.headers["ETag"]})
        assert approved.status_code == 200, approved.text
        [paid] = await bus.wait_for(InvolvementClaimPaid.type, claim_id=claim_id)
        assert (paid.data.method, paid.data.amount.amount, paid.data.member_id) == ("bank", 7_500, "rev-a")
        twice = await http.post(approve, headers={**scoring.manager, "If-Match": approved.headers["ETag"]})
        assert twice.status_code == 409
        await asyncio.sleep(0.5)  # several payment runner rounds
        assert len(bus.of_type(InvolvementClaimApproved.type)) == 1
        assert len(bus.of_type(InvolvementClaimPaid.type)) == 1
        [transfer] = await runtime.db.simulated_provider_transfers.find({}).to_list(None)
        assert transfer["_id"] == f"inv-{claim_id}" and transfer["amount"]["amount"] == 7_500
        mine = (await money.get("/v1/involvement/me", headers=member)).json()
        assert mine["tax_years"][0]["time"] == gbp(75)
        statement = (await money.get("/v1/programmes/prog-1/involvement-budget", headers=finance(settings))).json()
        assert (statement["paid"], statement["available"]) == (gbp(75), gbp(425))
