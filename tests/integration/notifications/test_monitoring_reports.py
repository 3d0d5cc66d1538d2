"""Monitoring reports as the grantee hears of them: due soon, overdue, changes requested (with the
reviewer's comments) and accepted; each told once."""

import asyncio
from datetime import UTC, datetime

from grants_shared.events import MonitoringReportAccepted, MonitoringReportChangesRequested, MonitoringReportDue
from notifications.config import Settings
from notifications.main import build_app
from tests.integration.notifications.builders import applicant, programme_known, submitted, wait_for_inbox
from tests.integration.notifications.conftest import SmtpSink
from tests.support.app import serve
from tests.support.bus import TestBus

DUE = datetime(2026, 6, 8, tzinfo=UTC)
IDS = {"report_id": "rep-1", "grant_id": "grant-9", "application_id": "app-1", "name": "Midway report"}


async def test_the_grantee_hears_a_report_is_due_overdue_sent_back_and_accepted(
    service_settings: Settings, bus: TestBus, running_sink: SmtpSink
) -> None:
    async with serve(build_app(service_settings)) as client:
        owner = applicant(service_settings)
        await programme_known(bus, client)
        await bus.publish(submitted())
        await wait_for_inbox(client, owner, 1)
        steps = [
            MonitoringReportDue(**IDS, due_at=DUE, overdue=False),
            MonitoringReportDue(**IDS, due_at=DUE, overdue=True),
            MonitoringReportChangesRequested(**IDS, comments="Say what the £1,200 was spent on"),
            MonitoringReportAccepted(**IDS, accepted_at=DUE),
        ]
        for told, step in enumerate(steps, start=2):
            await bus.publish(step)
            await wait_for_inbox(client, owner, told)
        await bus.publish(steps[1])  # the same overdue notice again (a new event id): told once
        await asyncio.sleep(0.5)

        items = await wait_for_inbox(client, owner, len(steps) + 1)
        kinds = [i["kind"] for i in items]
        assert kinds[:4] == ["monitoring_report_accepted", "monitoring_report_changes_requested",
                             "monitoring_report_due", "monitoring_report_due"]  # fmt: skip
        texts = [(await client.get(f"/v1/inbox/{i['id']}", headers=owner)).json()["text"] for i in items[:4]]
        assert "Say what the £1,200 was spent on" in texts[1]
        assert "was due on" in texts[2] and "is due on" in texts[3]
        assert "http://localhost:8000/grants/grant-9" in texts[0]
