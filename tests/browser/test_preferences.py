"""Choosing which messages you get, in the browser: a panel member turns one kind of email off and
chooses one email a day with JavaScript off; an applicant turns one off with the keyboard alone (and
is offered no digest). The messages that always go are listed as such, with nothing to untick. The
choices are what the notifications API then answers. Every page passes axe."""

import httpx
from playwright.sync_api import BrowserContext, Page, expect

from tests.browser.conftest import Platform, scan, screenshot, sign_in
from tests.browser.test_keyboard import enter, tab_to
from tests.browser.test_reviewing import bearer


def choices(platform: Platform, headers: dict[str, str]) -> dict:
    answer = httpx.get(f"{platform.urls['notifications']}/v1/me/preferences", headers=headers)
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_a_panel_member_turns_an_email_off_and_chooses_a_daily_digest_with_javascript_off(
    no_js_context: BrowserContext, platform: Platform
) -> None:
    page = no_js_context.new_page()
    sign_in(page, platform, "Ben Carter")
    page.get_by_role("link", name="Messages").click()
    page.get_by_role("link", name="Choose which messages you get").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Choose which messages you get")
    emails = page.get_by_role("group", name="Which of these should we email you?")
    review_email = emails.get_by_label("An application given to you to review")
    expect(review_email).to_be_checked()
    always = page.get_by_role("list").filter(has_text="A payment that failed")
    expect(always).to_contain_text("A grant offered")
    expect(page.get_by_label("A payment that failed")).to_have_count(0)  # nothing to untick
    scan(page, platform)

    review_email.uncheck()
    page.get_by_label("One email a day with all of them").check()
    page.get_by_role("button", name="Save your choices").click()
    expect(page.get_by_text("Your choices have been saved")).to_be_visible()
    expect(page.get_by_role("group", name="Which of these should we email you?")
           .get_by_label("An application given to you to review")).not_to_be_checked()
    expect(page.get_by_label("One email a day with all of them")).to_be_checked()
    scan(page, platform)
    screenshot(page, "preferences")

    saved = choices(platform, bearer(platform, "reviewer-ben", "reviewer"))
    kinds = {k["kind"]: k for k in saved["kinds"]}
    assert saved["digest"] is True and saved["version"] == 1
    assert kinds["review_assigned"]["email"] is False and kinds["review_assigned"]["inbox"] is True
    assert kinds["payment_failed"]["required"] and kinds["payment_failed"]["email"]

    # Changed elsewhere meanwhile: this page's form is refused, saying why, and nothing is lost silently.
    stale = no_js_context.new_page()
    stale.goto(page.url.split("?")[0])
    page.get_by_label("Send each email as it happens").check()
    page.get_by_role("button", name="Save your choices").click()
    expect(page.get_by_text("Your choices have been saved")).to_be_visible()
    stale.get_by_role("button", name="Save your choices").click()
    summary = stale.locator(".nhsuk-error-summary")
    expect(summary).to_contain_text("changed somewhere else")
    expect(summary.get_by_role("link")).to_have_attribute("href", "#email")
    scan(stale, platform)
    stale.close()
    assert choices(platform, bearer(platform, "reviewer-ben", "reviewer"))["digest"] is False


def test_an_applicant_turns_an_email_off_with_the_keyboard_alone(page: Page, platform: Platform) -> None:
    sign_in(page, platform, "Priya Shah")
    page.goto(f"{platform.portal}/account/notifications")
    expect(page.get_by_label("One email a day with all of them")).to_have_count(0)  # not for applicants
    tab_to(page, "A payment sent")  # the first group's: email
    page.keyboard.press("Space")
    tab_to(page, "Save your choices")
    enter(page)
    expect(page.get_by_text("Your choices have been saved")).to_be_visible()
    scan(page, platform)
    saved = choices(platform, bearer(platform, "priya-brent", "applicant", ("org-brent-young-minds",)))
    kinds = {k["kind"]: k for k in saved["kinds"]}
    assert kinds["payment_sent"]["email"] is False and kinds["payment_sent"]["inbox"] is True
    assert saved["digest"] is False
