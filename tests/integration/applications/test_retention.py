"""A programme's retention rules: once an application's period is over, what it says about people goes
(here, and through ApplicationAnonymised in every other service); amounts and decisions stay."""

from datetime import timedelta

from dateutil.relativedelta import relativedelta

from applications.workers import anonymise_due
from grants_shared.clock import utcnow
from grants_shared.events import ApplicationAnonymised
from tests.integration.applications.conftest import Running
from tests.integration.applications.support import (
    applicant,
    draft,
    manager,
    open_programme,
    register,
    submitted_application,
)
from tests.integration.applications.test_forms import FORM, PDF, publish
from tests.integration.applications.test_downstream_events import decided
from tests.support.bus import TestBus
from tests.support.waiting import eventually


async def test_unsuccessful_applications_are_anonymised_after_their_months_and_awarded_ones_after_their_years(
    service: Running, bus: TestBus
) -> None:
    http, settings, database = service.http, service.settings, service.http._transport.app.state.runtime.database
    programme, withdrawn = await submitted_application(http, settings, "org-shed", retention={
        "unsuccessful_months": 6, "awarded_years": 2})  # fmt: skip
    assert programme["retention"] == {"unsuccessful_months": 6, "awarded_years": 2}
    answer = await http.post(f"/v1/applications/{withdrawn['id']}/withdraw", json={"reason": "Our lead volunteer is ill."},
                             headers=applicant(settings, "org-shed"))  # fmt: skip
    assert answer.status_code == 200, answer.text

    assert await anonymise_due(database, utcnow() + relativedelta(months=5)) == 0, "not yet: five months"
    assert await anonymise_due(database, utcnow() + relativedelta(months=6, days=1)) == 1
    [event] = await bus.wait_for(ApplicationAnonymised.type)
    assert event.data.application_id == withdrawn["id"]
    kept = (await http.get(f"/v1/applications/{withdrawn['id']}", headers=manager(settings))).json()
    assert kept["summary"] == "" and kept["contact"]["name"] == "Erased" and kept["status"] == "withdrawn"
    assert kept["amount_requested"] == withdrawn["amount_requested"] and kept["title"] == withdrawn["title"]
    timeline = (await http.get(f"/v1/applications/{withdrawn['id']}/timeline", headers=manager(settings))).json()
    assert "ill" not in str(timeline) and timeline["entries"], "the steps stay, without their words"
    assert await anonymise_due(database, utcnow() + relativedelta(years=3)) == 0, "once is enough"

    # An award is kept for its years, not the months.
    _, awarded = await submitted_application(http, settings, "org-other", retention={"awarded_years": 2})
    await bus.publish(decided(awarded, feedback="The panel loved the peer-led walks."))

    async def decided_here() -> bool:
        read = await http.get(f"/v1/applications/{awarded['id']}", headers=manager(settings))
        return read.json()["status"] == "awarded"

    await eventually(decided_here)
    assert await anonymise_due(database, utcnow() + relativedelta(years=1)) == 0
    assert await anonymise_due(database, utcnow() + relativedelta(years=2) + timedelta(days=1)) == 1
    kept = (await http.get(f"/v1/applications/{awarded['id']}", headers=manager(settings))).json()
    assert kept["decision"]["outcome"] == "awarded" and kept["decision"]["feedback"] == ""
    assert kept["decision"]["amount_awarded"]["amount"] == 600_000


async def test_an_anonymised_application_loses_its_answers_and_attached_files(service: Running) -> None:
    http, settings, database = service.http, service.settings, service.http._transport.app.state.runtime.database
    programme = await open_programme(http, settings, retention={"unsuccessful_months": 1})
    assert (await publish(service, programme, FORM, programme["version"])).status_code == 200
    me = applicant(settings, "org-shed")
    await register(http, settings, "org-shed")
    created = (await draft(http, settings, programme["id"], "org-shed")).json()
    url = f"/v1/applications/{created['id']}"
    read = await http.get(url, headers=me)
    saved = await http.put(f"{url}/answers", json={"answers": {"need": "Men in Brent", "volunteers": 3, "has_policy": True}},
                           headers={**me, "If-Match": read.headers["etag"]})  # fmt: skip
    assert saved.status_code == 200, saved.text
    assert (await http.post(f"{url}/attachments/policy", files={"file": ("policy.pdf", PDF, "application/pdf")},
                            headers=me)).status_code == 200  # fmt: skip
    assert (await http.post(f"{url}/submit", headers=me)).json()["status"] == "submitted"
    assert (await http.post(f"{url}/withdraw", json={"reason": ""}, headers=me)).status_code == 200
    assert await service.db["attachments.files"].count_documents({"metadata.application_id": created["id"]}) == 1

    assert await anonymise_due(database, utcnow() + relativedelta(months=1, days=1)) == 1
    kept = (await http.get(url, headers=manager(settings))).json()
    assert kept["answers"] == {} and kept["status"] == "withdrawn"
    assert await service.db["attachments.files"].count_documents({"metadata.application_id": created["id"]}) == 0
    assert await service.db["attachments.chunks"].count_documents({}) == 0
