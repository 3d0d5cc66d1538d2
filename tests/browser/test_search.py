"""Finding applications in the portal with JavaScript off: a programme manager searches a programme's
applications by words and amount (a GET form), is told of a wrong amount beside its field, and
downloads what was found as CSV. The page passes axe."""

from uuid import uuid4

from playwright.sync_api import BrowserContext, expect

from grants_shared.dev.journey import MANAGER, Journey, demo_programme
from tests.browser.conftest import Platform, scan, sign_in


def test_a_manager_finds_applications_and_downloads_them(no_js_context: BrowserContext, platform: Platform) -> None:
    journey = Journey(platform.urls, say=lambda _: None)
    manager = journey.as_(MANAGER, "programme_manager")
    body = demo_programme() | {"name": f"Search small grants {uuid4().hex[:6]}"}
    created = journey.call("POST", "applications", "/v1/programmes", manager, expect=201, json=body).json()
    programme = journey.call("POST", "applications", f"/v1/programmes/{created['id']}/open", manager).json()
    for number, title in enumerate(["Lantern walks", "Lantern suppers", "Allotment mornings"]):
        organisation = f"org-search-{uuid4().hex[:6]}"
        group = journey.as_(f"person-{organisation}", "applicant", organisations=(organisation,), name="A Person",
                            email="a.person@example.org")  # fmt: skip
        journey.call("PUT", "applications", f"/v1/organisations/{organisation}", group, expect=201, json={
            "name": f"Group {number}", "kind": "charity", "area": "Brent", "annual_income": {"amount": 1_000_000, "currency": "GBP"}})
        draft = journey.call("POST", "applications", "/v1/applications", group, expect=201, json={
            "programme_id": programme["id"], "organisation_id": organisation, "title": title,
            "summary": "Support.", "amount_requested": {"amount": 100_000 * (number + 1), "currency": "GBP"}}).json()
        journey.call("POST", "applications", f"/v1/applications/{draft['id']}/submit", group)

    page = no_js_context.new_page()
    sign_in(page, platform, "Maya Patel")
    page.goto(f"{platform.portal}/manage/programmes/{programme['id']}")
    page.get_by_role("link", name="Find applications").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Find applications")
    expect(page.get_by_role("table")).to_contain_text("3 applications found")
    scan(page, platform)

    page.get_by_label("Words in the title or the group's name").fill("lantern")
    page.get_by_label("Asked for at least (pounds)").fill("lots")
    page.get_by_role("button", name="Find applications").click()
    expect(page.get_by_role("alert")).to_contain_text("Enter the lowest amount as a number of pounds")
    scan(page, platform)
    page.get_by_role("alert").get_by_role("link").first.click()
    expect(page.get_by_label("Asked for at least (pounds)")).to_be_focused()

    page.get_by_label("Asked for at least (pounds)").fill("1500")
    page.get_by_role("button", name="Find applications").click()
    table = page.get_by_role("table")
    expect(table).to_contain_text("1 application found")
    expect(table).to_contain_text("Lantern suppers")
    expect(table).not_to_contain_text("Lantern walks")

    with page.expect_download() as downloading:
        page.get_by_role("link", name="Download these applications as CSV").click()
    text = open(downloading.value.path(), encoding="utf-8").read()
    assert "Lantern suppers" in text and "Lantern walks" not in text and "Allotment" not in text
    assert text.splitlines()[0].startswith("application_id,title,organisation_id,organisation_name")
