"""The applicant hears of each step that concerns them before the full application: returned for
correction, expression of interest received, invited to the full application, or declined with feedback."""

from datetime import UTC, datetime, timedelta

from grants_shared.events import (
    ApplicationInvited,
    ApplicationReturnedForCorrection,
    Contact,
    InterestDeclined,
    InterestSubmitted,
    OrganisationSummary,
    Reason,
)
from notifications.config import Settings
from notifications.main import build_app
from tests.integration.notifications.builders import applicant, programme_known, wait_for_inbox
from tests.integration.notifications.conftest import SmtpSink
from tests.support.app import serve
from tests.support.bus import TestBus

SAM = Contact(person_id="person-1", name="Sam Okafor", email="sam@hope.example")


async def test_an_expression_of_interest_is_received_then_invited_and_another_declined_with_feedback(
    service_settings: Settings, bus: TestBus, running_sink: SmtpSink
) -> None:
    closes = datetime.now(UTC) + timedelta(days=20)
    async with serve(build_app(service_settings)) as client:
        await programme_known(bus, client)
        await bus.publish(InterestSubmitted(
            application_id="app-1", programme_id="prog-1", title="Walk and talk", contact=SAM,
            organisation=OrganisationSummary(id="org-1", name="Hope Street Group", kind="charity", area="Leeds"),
            submitted_at=datetime.now(UTC),
        ))  # fmt: skip
        [received] = await wait_for_inbox(client, applicant(service_settings), 1)
        assert received["kind"] == "interest_received"
        await bus.publish(ApplicationInvited(application_id="app-1", programme_id="prog-1", title="Walk and talk",
                                             closes_at=closes, contact=SAM))  # fmt: skip
        items = await wait_for_inbox(client, applicant(service_settings), 2)
        assert items[0]["kind"] == "application_invited"
        invited = (await client.get(f"/v1/inbox/{items[0]['id']}", headers=applicant(service_settings))).json()
        assert f"{closes.day} {closes:%B %Y}" in invited["text"] and "/applications/app-1" in invited["text"]

        await bus.publish(InterestDeclined(application_id="app-2", programme_id="prog-1", title="Crisis café",
                                           feedback="Tell us more about who you reach.", contact=SAM))  # fmt: skip
        items = await wait_for_inbox(client, applicant(service_settings), 3)
        assert items[0]["kind"] == "interest_declined"
        declined = (await client.get(f"/v1/inbox/{items[0]['id']}", headers=applicant(service_settings))).json()
        assert "Tell us more about who you reach." in declined["text"]
        emails = await running_sink.wait_for(3)
        assert any("invited to make a full application" in str(e["subject"]) for e in emails)


async def test_a_return_for_correction_says_what_to_change_and_each_return_is_told(
    service_settings: Settings, bus: TestBus, running_sink: SmtpSink
) -> None:
    closes = datetime.now(UTC) + timedelta(days=20)
    reasons = [Reason(code="area_not_served", message="Your organisation's area, Leeds, is not one this programme serves.")]
    async with serve(build_app(service_settings)) as client:
        await programme_known(bus, client)
        for _ in range(2):
            await bus.publish(ApplicationReturnedForCorrection(
                application_id="app-3", programme_id="prog-1", title="Walk and talk", reasons=reasons,
                closes_at=closes, contact=SAM,
            ))  # fmt: skip
        items = await wait_for_inbox(client, applicant(service_settings), 2)
        assert {i["kind"] for i in items} == {"application_returned_for_correction"}
        detail = (await client.get(f"/v1/inbox/{items[0]['id']}", headers=applicant(service_settings))).json()
        assert "Leeds, is not one this programme serves" in detail["text"] and "submit it again" in detail["text"]
