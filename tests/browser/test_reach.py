"""Who the programme reaches, in the portal with JavaScript off: a group answers the voluntary
equality monitoring questions, and the programme manager reads the reach report (a chart with the
same figures in tables, fewer than 5 suppressed) and downloads it as CSV. Every page passes axe."""

import re
from uuid import uuid4

from playwright.sync_api import BrowserContext, expect

from grants_shared.dev.journey import MANAGER, Journey, demo_programme
from tests.browser.conftest import Platform, scan, screenshot, sign_in, sign_out


def test_a_group_answers_equality_monitoring_and_the_manager_sees_the_reach(
    no_js_context: BrowserContext, platform: Platform
) -> None:
    journey = Journey(platform.urls, say=lambda _: None)
    manager = journey.as_(MANAGER, "programme_manager")
    body = demo_programme() | {"name": f"Reach small grants {uuid4().hex[:6]}"}
    created = journey.call("POST", "applications", "/v1/programmes", manager, expect=201, json=body).json()
    programme = journey.call("POST", "applications", f"/v1/programmes/{created['id']}/open", manager).json()
    for number in range(6):  # six other groups, five of them serving men
        organisation = f"org-reach-{uuid4().hex[:6]}"
        group = journey.as_(f"person-{organisation}", "applicant", organisations=(organisation,), name="A Person",
                            email="a.person@example.org")  # fmt: skip
        journey.call("PUT", "applications", f"/v1/organisations/{organisation}", group, expect=201, json={
            "name": f"Group {number}", "kind": "charity", "area": "Brent", "annual_income": {"amount": 1_000_000, "currency": "GBP"}})
        draft = journey.call("POST", "applications", "/v1/applications", group, expect=201, json={
            "programme_id": programme["id"], "organisation_id": organisation, "title": f"Project {number}",
            "summary": "Support.", "amount_requested": {"amount": 100_000, "currency": "GBP"}}).json()
        if number < 5:
            journey.call("PUT", "applications", f"/v1/applications/{draft['id']}/equality-monitoring", group,
                         json={"answers": {"communities_served": ["men"]}})  # fmt: skip
            journey.call("POST", "applications", f"/v1/applications/{draft['id']}/submit", group)
    sam = journey.as_("sam-harrow", "applicant", organisations=("org-harrow-mens-shed",))
    journey.http.put(f"{platform.urls['applications']}/v1/organisations/org-harrow-mens-shed", headers=sam, json={
        "name": "Harrow Men's Shed", "kind": "community_group", "area": "Harrow",
        "annual_income": {"amount": 4_000_000, "currency": "GBP"}})  # created, or already there

    page = no_js_context.new_page()
    sign_in(page, platform, "Sam Okafor")
    page.goto(f"{platform.portal}/programmes/{programme['id']}/apply")
    page.get_by_label("What is your project called?").fill("Shed talks")
    page.get_by_role("button", name="Save and continue").click()
    page.get_by_role("link", name="Answer the equality monitoring questions").click()
    expect(page.get_by_text("never shown to the reviewers or the panel").first).to_be_visible()
    scan(page, platform)
    page.get_by_role("group", name="Which communities does your group mainly serve?").get_by_label("Men", exact=True).check()
    page.get_by_role("group", name="Which communities does your group mainly serve?").get_by_label("Older people").check()
    page.get_by_role("button", name="Save and continue").click()
    page.get_by_role("link", name="Answer the equality monitoring questions").click()
    expect(page.get_by_role("group", name="Which communities does your group mainly serve?")
           .get_by_label("Older people")).to_be_checked()  # fmt: skip
    sign_out(page, platform)

    sign_in(page, platform, "Maya Patel")
    page.goto(f"{platform.portal}/manage/programmes/{programme['id']}/reach")
    expect(page.get_by_role("heading", level=1)).to_have_text("Who the programme reaches")
    overall = page.get_by_role("table", name="All applications, step by step")
    expect(overall.get_by_role("row", name=re.compile(r"^Started "))).to_contain_text("7")
    expect(overall.get_by_role("row", name=re.compile(r"^Submitted "))).to_contain_text("5")
    expect(overall.get_by_role("row", name=re.compile(r"^Scored "))).to_contain_text("fewer than 5")
    by_community = page.get_by_role("table", name="Applications by the community the group serves, step by step (share of those started)")
    expect(by_community.get_by_role("row", name=re.compile(r"^Men "))).to_contain_text("6")
    expect(by_community.get_by_role("row", name=re.compile(r"^Older people "))).to_contain_text("fewer than 5")
    scan(page, platform)
    screenshot(page, "manager-reach-report")
    with page.expect_download() as download:
        page.get_by_role("link", name="Download the report as CSV").click()
    text = open(download.value.path(), encoding="utf-8").read()
    assert "community_served,men,started,6" in text and "Harrow Men" not in text
