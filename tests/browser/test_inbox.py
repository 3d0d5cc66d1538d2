"""Everyone's inbox in the portal: messages newest first with the unread ones marked, one message as
its plain text (never its HTML body), marked read when opened, and a link to what it is about: the
review for a panel member, the application for an applicant. Every page passes axe."""

import re

import httpx
from playwright.sync_api import BrowserContext, Page, expect

from portal.personas import BY_SUBJECT
from tests.browser.conftest import Platform, scan, screenshot, sign_in
from tests.browser.test_reviewing import bearer, submit_application, until


def message_about(platform: Platform, headers: dict[str, str], application_id: str, kind: str) -> dict:
    """The notification once it has reached the inbox (events take a moment to arrive)."""
    def found() -> dict | None:
        listed = httpx.get(f"{platform.urls['notifications']}/v1/inbox", headers=headers, params={"limit": 200}).json()
        return next((m for m in listed["items"] if m["application_id"] == application_id and m["kind"] == kind), None)

    return until(f"the {kind} message", found)


def test_a_panel_member_reads_the_message_asking_for_a_review(page: Page, platform: Platform) -> None:
    application = submit_application(platform, "Hounslow men's cooking club", "Hounslow Cook and Chat")
    reviewer, review_id = next(iter(application.reviews.items()))
    headers = bearer(platform, reviewer, "reviewer")
    sent = message_about(platform, headers, application.application_id, "review_assigned")
    sign_in(page, platform, BY_SUBJECT[reviewer].name)
    scan(page, platform)

    page.get_by_role("link", name="Messages").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Your messages")
    row = page.get_by_role("row").filter(has_text=sent["subject"])
    expect(row).to_contain_text("Unread")
    expect(row.get_by_role("link")).to_have_text(f"{sent['subject']} (unread)")
    expect(page.get_by_text(re.compile(r"You have \d+ unread messages?"))).to_be_visible()
    scan(page, platform)
    screenshot(page, "inbox")

    row.get_by_role("link").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(sent["subject"])
    # The plain text, as written: the HTML body (with its <strong> and its link) is not what is shown.
    expect(page.get_by_text(f'You have been asked to review the application "{application.title}"')).to_be_visible()
    expect(page.get_by_text("Read and score the application here:")).to_be_visible()
    expect(page.locator("main a[href^='http']")).to_have_count(0)
    go = page.get_by_role("link", name="Go to the application you were asked to review")
    expect(go).to_have_attribute("href", f"/reviews/{review_id}")
    scan(page, platform)
    screenshot(page, "inbox-message")

    # Opening it marked it read, here and in the list.
    read = httpx.get(f"{platform.urls['notifications']}/v1/inbox/{sent['id']}", headers=headers).json()
    assert read["read_at"] is not None
    page.get_by_role("link", name="Go back to your messages").click()
    row = page.get_by_role("row").filter(has_text=sent["subject"])
    expect(row).to_contain_text("Read")
    expect(row).not_to_contain_text("Unread")
    scan(page, platform)

    row.get_by_role("link").click()
    page.get_by_role("link", name="Go to the application you were asked to review").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(application.title)
    scan(page, platform)


def test_an_applicant_reads_their_message_with_javascript_off(
    no_js_context: BrowserContext, platform: Platform
) -> None:
    page = no_js_context.new_page()
    page.set_default_timeout(15_000)
    sam = BY_SUBJECT["sam-harrow"]
    application = submit_application(platform, "Shed sessions on Saturday mornings", "Harrow Men's Shed",
                                      subject=sam.subject, organisation_id=sam.organisations[0])  # fmt: skip
    headers = bearer(platform, sam.subject, "applicant", sam.organisations)
    try:
        sent = message_about(platform, headers, application.application_id, "application_received")
        sign_in(page, platform, sam.name)
        scan(page, platform)

        page.goto(f"{platform.portal}/inbox")
        row = page.get_by_role("row").filter(has_text=sent["subject"])
        expect(row).to_contain_text("Unread")
        scan(page, platform)
        row.get_by_role("link").click()
        expect(page.get_by_role("heading", level=1)).to_have_text(sent["subject"])
        go = page.get_by_role("link", name="Go to your application")
        expect(go).to_have_attribute("href", f"/applications/{application.application_id}")
        scan(page, platform)

        go.click()
        expect(page.get_by_role("heading", level=1)).to_have_text(application.title)
        scan(page, platform)
        page.goto(f"{platform.portal}/inbox")
        expect(page.get_by_role("row").filter(has_text=sent["subject"])).not_to_contain_text("Unread")
        scan(page, platform)
    finally:
        # Sam's group is one of the portal's people: leave it free to apply to the demo programme again
        # (the keyboard test applies as Sam), whatever happened above.
        with httpx.Client(base_url=platform.urls["applications"], headers=headers, timeout=10) as http:
            withdrawn = http.post(f"/v1/applications/{application.application_id}/withdraw",
                                  json={"reason": "The test is over."})  # fmt: skip
            assert withdrawn.status_code == 200, withdrawn.text
