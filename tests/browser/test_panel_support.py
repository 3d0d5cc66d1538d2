"""Panel members supported, and training for funded groups, in the browser: a panel member saves
their profile and access needs (after the error summary points at a bad email address) and reads the
courses recorded for them; the manager sees the panel's access needs and training, records a course
and requires courses; the manager sets a programme's training offer, the funded group books places
without JavaScript, and the manager records attendance and sees the share trained. Every page passes
axe.

The grant is awarded and accepted through the services' APIs, as the people before the group would."""

import re
from uuid import uuid4

from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import Platform, guarded, scan, screenshot, sign_in, sign_out
from tests.browser.test_finance import services
from tests.browser.test_offers import ORGANISATION, a_programme_of_its_own, offered_grant

ACCOUNT = {"account_name": "Brent Young Minds", "sort_code": "123456", "account_number": "31415926"}


def test_a_member_keeps_their_profile_and_the_manager_plans_with_it(page: Page, platform: Platform) -> None:
    programme = a_programme_of_its_own(services(platform), f"Peer support fund {uuid4().hex[:6]}")
    sign_in(page, platform, "Amara Nwosu")
    page.goto(f"{platform.portal}/reviews")
    page.get_by_role("link", name="Your profile and access needs").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Your profile")
    scan(page, platform)
    page.get_by_label("The name you would like us to use (optional)").fill("Amara")
    page.get_by_label("Email address (optional)").fill("not an address")
    page.get_by_label("A British Sign Language (BSL) interpreter").check()
    page.get_by_label("Regular breaks").check()
    page.get_by_label("Anything else that would help you take part (optional)").fill("Papers a week ahead, please")
    page.get_by_role("button", name="Save your profile").click()
    summary = page.locator(".nhsuk-error-summary")
    expect(summary.locator('a[href="#email"]')).to_have_text(re.compile("correct format"))
    expect(page).to_have_title(re.compile(r"^Error: "))
    expect(page.get_by_label("Regular breaks")).to_be_checked()  # what was typed stays
    scan(page, platform)
    page.get_by_label("Email address (optional)").fill("amara@example.org")
    page.get_by_role("button", name="Save your profile").click()
    expect(page.get_by_text("Your profile has been saved")).to_be_visible()
    expect(page.get_by_label("Email address (optional)")).to_have_value("amara@example.org")
    scan(page, platform)
    screenshot(page, "panel-profile")
    sign_out(page, platform)

    sign_in(page, platform, "Maya Patel")
    page.goto(f"{platform.portal}/manage/programmes/{programme['id']}")
    page.get_by_role("link", name="Panel members' access needs and training").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Panel members: access needs and training")
    amara = page.get_by_role("row").filter(has_text="reviewer-amara")
    expect(amara).to_contain_text("A British Sign Language (BSL) interpreter")
    expect(amara).to_contain_text("Papers a week ahead, please")
    scan(page, platform)
    page.get_by_role("button", name="Record the course").click()  # nothing chosen
    summary = page.locator(".nhsuk-error-summary")
    for field in ("member_id", "course", "completed-day"):
        expect(summary.locator(f'a[href="#{field}"]')).to_be_visible()
    scan(page, platform)
    page.get_by_label("Panel member").select_option("reviewer-amara")
    page.get_by_label("Course").select_option("safeguarding")
    page.get_by_label("Day").fill("20")
    page.get_by_label("Month").fill("11")
    page.get_by_label("Year").fill("2026")
    page.get_by_role("button", name="Record the course").click()
    expect(page.get_by_text("The course has been recorded")).to_be_visible()
    page.get_by_label("Safeguarding").check()
    page.get_by_role("button", name="Save the courses the panel needs").click()
    expect(page.get_by_text("The courses the panel needs have been saved")).to_be_visible()
    amara = page.get_by_role("row").filter(has_text="reviewer-amara")
    expect(amara).to_contain_text("Safeguarding (20 November 2026)")
    expect(amara).to_contain_text("Nothing")
    ben = page.get_by_role("row").filter(has_text="reviewer-ben")
    expect(ben).to_contain_text("Cannot score or vote yet")
    scan(page, platform)
    screenshot(page, "panel-support-manager")
    sign_out(page, platform)

    sign_in(page, platform, "Amara Nwosu")
    page.goto(f"{platform.portal}/panel/training")
    expect(page.get_by_role("cell", name="Safeguarding")).to_be_visible()
    expect(page.get_by_text(programme["name"])).to_have_count(0)  # nothing more asked of her there
    scan(page, platform)
    sign_out(page, platform)

    sign_in(page, platform, "Ben Carter")
    page.goto(f"{platform.portal}/panel/training")
    expect(page.get_by_text("Courses you still need")).to_be_visible()
    expect(page.get_by_text(f"{programme['name']}: Safeguarding")).to_be_visible()
    scan(page, platform)


def book_without_javascript(browser: Browser, platform: Platform, grant_id: str) -> None:
    context = browser.new_context(java_script_enabled=False, viewport={"width": 1100, "height": 900})
    context.js_enabled = False  # type: ignore[attr-defined]  # read by scan()
    foreign = guarded(context)
    page = context.new_page()
    page.set_default_timeout(15_000)
    try:
        sign_in(page, platform, "Priya Shah")
        page.goto(f"{platform.portal}/grants/{grant_id}")
        page.get_by_role("link", name="Training for your group").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Training for your group")
        expect(page.get_by_text("Not booked yet")).to_be_visible()
        scan(page, platform)
        page.get_by_label("How many people from your group are coming?").fill("5")
        page.get_by_role("button", name="Book the places").click()
        expect(page.locator(".nhsuk-error-summary")).to_contain_text("4 places")
        scan(page, platform)
        # by keyboard alone: the number, the names (one a line), then the button
        page.get_by_label("How many people from your group are coming?").fill("")
        page.get_by_label("How many people from your group are coming?").focus()
        page.keyboard.type("2")
        page.keyboard.press("Tab")
        page.keyboard.type("Priya Shah")
        page.keyboard.press("Enter")
        page.keyboard.type("Tom Reid")
        page.keyboard.press("Tab")
        page.keyboard.press("Enter")
        expect(page.get_by_text("Your places are booked")).to_be_visible()
        expect(page.get_by_text("Priya Shah, Tom Reid")).to_be_visible()
        scan(page, platform)
        screenshot(page, "group-training-booked")
    finally:
        context.close()
    assert foreign == [], f"pages asked other hosts: {foreign}"


def test_a_funded_group_books_its_training_and_the_manager_records_who_came(
    browser: Browser, page: Page, platform: Platform
) -> None:
    grant = offered_grant(platform, "Young minds, trained to listen")
    programme_id = grant["programme_id"]
    sign_in(page, platform, "Maya Patel")
    page.goto(f"{platform.portal}/manage/programmes/{programme_id}")
    page.get_by_role("link", name="Training for funded groups").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Training for funded groups")
    scan(page, platform)
    page.get_by_role("button", name="Save the training offer").click()  # nothing filled in
    summary = page.locator(".nhsuk-error-summary")
    for field in ("course", "provider", "places_per_group"):
        expect(summary.locator(f'a[href="#{field}"]')).to_be_visible()
    scan(page, platform)
    page.get_by_label("Course", exact=True).fill("Suicide awareness and safety planning")
    page.get_by_label("Who runs it").fill("Zero Suicide Alliance")
    page.get_by_label("Places for each group").fill("4")
    page.get_by_role("button", name="Save the training offer").click()
    expect(page.get_by_text("The training offer has been saved")).to_be_visible()

    apis = services(platform)
    applicant = apis.as_("priya-brent", "applicant", organisations=(ORGANISATION,), name="Priya Shah",
                         email="priya@brent.example")  # fmt: skip
    apis.call("POST", "disbursement", f"/v1/grants/{grant['id']}/accept", applicant, json={
        "bank_account": ACCOUNT, "signatory": {"name": "Priya Shah", "position": "Chair"}})
    apis.until("the training offer", lambda: apis.http.get(
        f"{platform.urls['disbursement']}/v1/grants/{grant['id']}/training", headers=applicant).status_code == 200 or None)
    book_without_javascript(browser, platform, grant["id"])

    page.goto(f"{platform.portal}/manage/programmes/{programme_id}/training")
    row = page.get_by_role("row").filter(has_text=ORGANISATION)
    expect(row).to_contain_text("2 of 4")
    row.get_by_label("How many attended?").fill("3")
    row.get_by_role("button", name=re.compile("Record attendance")).click()
    expect(page.locator(".nhsuk-error-summary")).to_contain_text("booked 2 places")
    scan(page, platform)
    row = page.get_by_role("row").filter(has_text=ORGANISATION)
    row.get_by_label("How many attended?").fill("2")
    row.get_by_role("button", name=re.compile("Record attendance")).click()
    expect(page.get_by_role("row").filter(has_text=ORGANISATION)).to_contain_text("2 attended")
    expect(page.get_by_text("1 (100%)").first).to_be_visible()
    scan(page, platform)
    screenshot(page, "group-training-manager")
