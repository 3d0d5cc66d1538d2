"""Equality monitoring and the reach report over HTTP, on the real database: answers are voluntary,
kept apart from the application and read back only by the group; the report counts the funnel from
applications' own records of what scoring and disbursement told it, with small numbers suppressed."""

import csv
import io

from tests.integration.applications.conftest import Running
from tests.integration.applications.support import applicant, draft, manager, open_programme, register


async def test_monitoring_is_the_groups_alone_and_the_report_counts_without_naming_anyone(service: Running) -> None:
    http, settings = service.http, service.settings
    programme = await open_programme(http, settings)
    questions = (await http.get("/v1/equality-monitoring")).json()
    assert "never shown to the reviewers or the panel" in questions["why"]
    assert [q["id"] for q in questions["form"]["questions"]] == ["communities_served", "led_by"]

    for number in range(6):
        organisation = f"org-{number}"
        await register(http, settings, organisation, area="Brent" if number < 5 else "Harrow")
        created = (await draft(http, settings, programme["id"], organisation)).json()
        me = applicant(settings, organisation)
        if number < 5:
            saved = await http.put(f"/v1/applications/{created['id']}/equality-monitoring",
                                   json={"answers": {"communities_served": ["men", "older_people"]}}, headers=me)  # fmt: skip
            assert saved.status_code == 200, saved.text
            assert (await http.post(f"/v1/applications/{created['id']}/submit", headers=me)).json()["status"] == "submitted"
    bad = await http.put(f"/v1/applications/{created['id']}/equality-monitoring",
                         json={"answers": {"communities_served": ["martians"]}}, headers=me)  # fmt: skip
    assert bad.status_code == 422

    one = (await http.get("/v1/applications?organisation_id=org-0", headers=applicant(settings, "org-0"))).json()["items"][0]
    mine = await http.get(f"/v1/applications/{one['id']}/equality-monitoring", headers=applicant(settings, "org-0"))
    assert mine.json()["answers"] == {"communities_served": ["men", "older_people"]}
    assert (await http.get(f"/v1/applications/{one['id']}/equality-monitoring", headers=manager(settings))).status_code == 403
    assert (await http.get(f"/v1/applications/{one['id']}/equality-monitoring",
                           headers=applicant(settings, "org-5"))).status_code == 404  # fmt: skip
    read = (await http.get(f"/v1/applications/{one['id']}", headers=manager(settings))).json()
    assert "communities_served" not in str(read), "kept apart: not part of the application"

    report = (await http.get(f"/v1/programmes/{programme['id']}/reach", headers=manager(settings))).json()
    overall = {row["step"]: row for row in report["overall"]["steps"]}
    assert overall["started"]["count"] == 6 and overall["submitted"]["count"] == 5
    assert overall["submitted"]["rate_of_started"] == round(5 / 6, 3)
    assert overall["scored"]["count"] == "fewer than 5"
    assert report["by_community"]["men"]["steps"][1]["count"] == 5
    assert report["by_area"]["Harrow"]["steps"][0]["count"] == "fewer than 5"
    assert (await http.get(f"/v1/programmes/{programme['id']}/reach", headers=applicant(settings, "org-0"))).status_code == 403

    exported = await http.get(f"/v1/programmes/{programme['id']}/reach.csv", headers=manager(settings))
    assert exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(exported.text)))
    assert ["community_served", "men", "submitted", "5", "1.0", "1.0"] in rows
    assert "org-" not in exported.text and "Brent Men" not in exported.text
