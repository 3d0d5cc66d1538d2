"""A programme manager reads an application's history: every change each part of the platform made,
in order, with who asked for it. The page passes axe, with JavaScript and without."""

from playwright.sync_api import BrowserContext, Page, expect

from tests.browser.conftest import Platform, scan, sign_in
from tests.browser.test_reviewing import submit_application


def test_a_manager_reads_every_change_to_an_application_in_order(page: Page, platform: Platform) -> None:
    application = submit_application(platform, "Listening benches in Acton", "Acton Listening Benches")
    sign_in(page, platform, "Maya Patel")
    page.goto(f"{platform.portal}/manage/applications/{application.application_id}")
    page.get_by_role("link", name="Every change to this application, in order").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Every change to this application")
    rows = page.locator("tbody tr")
    # Submitted in applications, then scoring assigned the reviewers itself: the submission comes first.
    expect(rows.first).to_contain_text("An eligible application was submitted")
    expect(rows.first).not_to_contain_text("The platform, automatically")
    expect(page.get_by_role("row").filter(has_text="The panel").first).to_contain_text("The platform, automatically")
    scan(page, platform)


def test_an_unknown_application_has_no_history_page(no_js_context: BrowserContext, platform: Platform) -> None:
    page = no_js_context.new_page()
    sign_in(page, platform, "Maya Patel")
    answer = page.goto(f"{platform.portal}/manage/applications/app-0000000000000000000000000000dead/history")
    assert answer is not None and answer.status == 404
    scan(page, platform)
