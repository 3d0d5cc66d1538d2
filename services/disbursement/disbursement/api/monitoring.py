"""Monitoring reports: the programme's policy (which reports each grant owes, when), the grantee's
reports and their review by finance or a programme manager. A report outside the caller's
organisations answers 404, so its existence is not revealed."""

from typing import Annotated

from fastapi import APIRouter, Depends, Response

from disbursement import commands, store
from disbursement.schemas import MonitoringPolicyIn, MonitoringPolicyView, MonitoringReportView, ReportIn, ReviewIn
from disbursement.domain import ReportStatus
from disbursement.store import MonitoringReport
from grants_shared.api import (
    FINANCE, MANAGERS, Applicant, DatabaseDep, FinanceOrManager, IdFilter, IfMatch, Limit, Manager, Offset, Page,
    PathId, Transact, is_finance, is_manager, set_etag,
)  # fmt: skip
from grants_shared.auth import Caller, Role, require
from grants_shared.clock import utcnow
from grants_shared.errors import NotFound
from grants_shared.openapi import etag, problems

router = APIRouter(tags=["monitoring reports"])

#: The grantee, and those who review their reports.
OnTheGrant = Annotated[Caller, Depends(require(Role.APPLICANT, *FINANCE, *MANAGERS))]


@router.get("/v1/programmes/{programme_id}/monitoring-policy", summary="The reports a programme asks each grant for",
            responses=etag())  # fmt: skip
async def get_policy(
    programme_id: PathId, caller: FinanceOrManager, database: DatabaseDep, response: Response
) -> MonitoringPolicyView:
    ledger = await store.get_ledger(database, programme_id)
    if ledger is None:
        raise NotFound(f"no ledger for programme {programme_id}")
    set_etag(response, ledger.monitoring.version)
    return MonitoringPolicyView.of(ledger.id, ledger.monitoring)


@router.put(
    "/v1/programmes/{programme_id}/monitoring-policy",
    summary="Set the reports each grant owes, for offers accepted from now on (If-Match optional)",
    responses=etag() | problems(s422="Reports out of order, on the same day, or due before their reminder"),
)
async def set_policy(
    programme_id: PathId, body: MonitoringPolicyIn, caller: Manager, transact: Transact, version: IfMatch,
    response: Response,
) -> MonitoringPolicyView:  # fmt: skip
    questions = [q.model_dump(mode="json") for q in body.questions]
    ledger = await transact(commands.set_monitoring_policy, caller, programme_id, body.to_domain(), body.reminder_days,
                            questions, version)  # fmt: skip
    set_etag(response, ledger.monitoring.version)
    return MonitoringPolicyView.of(ledger.id, ledger.monitoring)


@router.get("/v1/grants/{grant_id}/reports", summary="A grant's monitoring reports, in the order they are due")
async def list_reports(grant_id: PathId, caller: OnTheGrant, database: DatabaseDep) -> list[MonitoringReportView]:
    grant = await store.get_grant(database, grant_id)
    if grant is None or not (_reviews(caller) or caller.represents(grant.organisation_id)):
        raise NotFound(f"no grant {grant_id}")
    now = utcnow()
    return [MonitoringReportView.of(r, now) for r in await store.reports_of_grant(database, grant_id)]


@router.get("/v1/reports", summary="Monitoring reports in one status (those awaiting review, oldest first)")
async def list_reports_by_status(
    caller: FinanceOrManager, database: DatabaseDep, status: ReportStatus = ReportStatus.SUBMITTED,
    programme_id: IdFilter = None, limit: Limit = 100, offset: Offset = 0,
) -> Page[MonitoringReportView]:  # fmt: skip
    found, total = await store.list_reports(database, status, programme_id, limit, offset)
    now = utcnow()
    return Page(items=[MonitoringReportView.of(r, now) for r in found], limit=limit, offset=offset, total=total)


@router.get("/v1/reports/{report_id}", summary="One monitoring report with its reviews", responses=etag())
async def get_report(report_id: PathId, caller: OnTheGrant, database: DatabaseDep, response: Response) -> MonitoringReportView:
    report = _visible(caller, await store.get_report(database, report_id), report_id)
    set_etag(response, report.version)
    return MonitoringReportView.of(report, utcnow())


@router.post(
    "/v1/reports/{report_id}/submission",
    summary="Submit (or resubmit) a monitoring report for review (If-Match optional)",
    responses=etag() | problems(s403="You do not represent the grantee organisation",
                                s409="The report is awaiting review or accepted",
                                s422="Spend in another currency than the grant's"),
)  # fmt: skip
async def submit_report(
    report_id: PathId, body: ReportIn, caller: Applicant, transact: Transact, version: IfMatch, response: Response
) -> MonitoringReportView:
    report = await transact(commands.submit_report, caller, report_id, body.to_document(), version)
    set_etag(response, report.version)
    return MonitoringReportView.of(report, utcnow())


@router.post(
    "/v1/reports/{report_id}/review",
    summary="Accept a submitted report, or request changes with comments (If-Match optional)",
    responses=etag() | problems(s409="The report is not awaiting review",
                                s422="Changes requested without saying what"),
)  # fmt: skip
async def review_report(
    report_id: PathId, body: ReviewIn, caller: FinanceOrManager, transact: Transact, version: IfMatch,
    response: Response,
) -> MonitoringReportView:  # fmt: skip
    report = await transact(
        commands.review_report, caller, report_id, body.outcome == "accepted", body.comments, version
    )
    set_etag(response, report.version)
    return MonitoringReportView.of(report, utcnow())


def _reviews(caller: Caller) -> bool:
    return is_finance(caller) or is_manager(caller)


def _visible(caller: Caller, report: MonitoringReport | None, report_id: str) -> MonitoringReport:
    if report is None or not (_reviews(caller) or caller.represents(report.organisation_id)):
        raise NotFound(f"no monitoring report {report_id}")
    return report
