"""An administrator answers a person's requests about their data: a copy of everything the platform
holds about them (one download), then erasure, confirmed by every part of the platform. Every page
passes axe; the forms work without JavaScript."""

import json
from uuid import uuid4

from playwright.sync_api import BrowserContext, Page, expect

from tests.browser.conftest import Platform, scan, sign_in
from tests.browser.test_reviewing import submit_application


def test_an_administrator_sends_a_person_their_data_then_erases_it(page: Page, platform: Platform) -> None:
    person = f"jo-{uuid4().hex[:8]}"
    submit_application(platform, "Coffee mornings for carers", "Carers' Coffee Club", subject=person)
    sign_in(page, platform, "Ade Okoro")
    page.get_by_role("link", name="Personal data").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("A request about personal data")
    page.get_by_role("button", name="Continue").click()
    expect(page.locator(".nhsuk-error-summary")).to_contain_text("Enter the person's id")
    expect(page.locator(".nhsuk-error-summary")).to_contain_text("Select what the person asked for")
    scan(page, platform)

    page.get_by_label("The person's id").fill(person)
    page.get_by_label("A copy of their data").check()
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"What the platform holds about {person}")
    expect(page.get_by_role("row").filter(has_text="Applying").first).to_contain_text("Applications you started")
    scan(page, platform)
    with page.expect_download() as downloading:
        page.get_by_role("link", name="Download the copy to send them (JSON)").click()
    copy = json.loads(open(downloading.value.path()).read())
    [application] = copy["services"]["applications"]["applications"]["documents"]
    assert application["contact"]["name"] == "Jo Bloggs" and copy["person_id"] == person

    page.get_by_role("link", name="Back").click()
    page.get_by_label("The person's id").fill(person)
    page.get_by_label("Erasure of their data").check()
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Are you sure you want to erase {person}'s data?")
    scan(page, platform)
    page.get_by_label("How did the request reach you? (optional)").fill("By email on 2 December")
    page.get_by_role("button", name="Erase their data").click()
    expect(page.get_by_role("row").filter(has_text="Applying")).not_to_contain_text("Not yet")
    scan(page, platform)
    for _ in range(40):  # the other parts erase it when they hear of it
        if page.get_by_role("heading", name="Their data is erased").count():
            break
        page.wait_for_timeout(250)
        page.reload()
    expect(page.get_by_role("heading", level=1)).to_have_text("Their data is erased")
    expect(page.get_by_text("Not yet")).to_have_count(0)
    scan(page, platform)

    page.goto(f"{platform.portal}/admin/personal-data/people/{person}")
    expect(page.get_by_text(f"No part of the platform holds anything about {person}")).to_be_visible()


def test_the_request_form_works_without_javascript(no_js_context: BrowserContext, platform: Platform) -> None:
    page = no_js_context.new_page()
    sign_in(page, platform, "Ade Okoro")
    page.goto(f"{platform.portal}/admin/personal-data")
    page.get_by_label("The person's id").fill("not an id!")
    page.get_by_label("A copy of their data").check()
    page.get_by_role("button", name="Continue").click()
    expect(page.locator("#person_id-error")).to_contain_text("Enter the id exactly as their sign-in account shows it")
    scan(page, platform)
