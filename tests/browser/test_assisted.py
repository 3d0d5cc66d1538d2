"""Assisted applications in the portal: a programme manager starts an application for a group that
asked for help, recording the group's consent (a form that shows what is missing as an error summary,
and that works with the keyboard alone), fills it in and submits it on the group's own question pages;
another is left as a draft, which the group's own person sees marked as started for them and takes
over (with JavaScript off), after which the team sees it as the group's. Every page passes axe."""

import re
from datetime import UTC, datetime
from uuid import uuid4

from playwright.sync_api import BrowserContext, Page, expect

from grants_shared.dev.journey import MANAGER, Journey, demo_programme
from tests.browser.conftest import Platform, scan, screenshot, sign_in
from tests.browser.test_journey import reload_until
from tests.browser.test_keyboard import arrow_to, enter, tab_to

FORM = {"questions": [{"kind": "long_text", "id": "need", "label": "What need will the project meet?", "max_words": 40}],
        "criteria": {"need": ["need"]}}  # fmt: skip
SAM_ORG = "org-harrow-mens-shed"


def a_programme_with_a_question(platform: Platform) -> dict:
    """An open programme with one question of its own, and Sam's group with a profile of its own."""
    journey = Journey(platform.urls, say=lambda _: None)
    manager = journey.as_(MANAGER, "programme_manager")
    body = demo_programme() | {"name": f"Help to apply small grants {uuid4().hex[:6]}"}
    created = journey.call("POST", "applications", "/v1/programmes", manager, expect=201, json=body)
    journey.call("PUT", "applications", f"/v1/programmes/{created.json()['id']}/form",
                 {**manager, "If-Match": created.headers["etag"]}, json=FORM)  # fmt: skip
    opened = journey.call("POST", "applications", f"/v1/programmes/{created.json()['id']}/open", manager).json()
    sam = journey.as_("sam-harrow", "applicant", organisations=(SAM_ORG,))
    profile = {"name": "Harrow Men's Shed", "kind": "community_group", "area": "Harrow",
               "annual_income": {"amount": 4_000_000, "currency": "GBP"}}  # fmt: skip
    journey.http.put(f"{platform.urls['applications']}/v1/organisations/{SAM_ORG}", headers=sam,
                     json=profile)  # created, or already there (428 without If-Match): either is a profile  # fmt: skip
    return opened


def fill_consent(page: Page, given_by: str, method: str) -> None:
    today = datetime.now(UTC).date()
    page.get_by_label("Who in the group gave consent?").fill(given_by)
    page.get_by_label(method).check()
    page.get_by_label("Day", exact=True).fill(str(today.day))
    page.get_by_label("Month", exact=True).fill(str(today.month))
    page.get_by_label("Year", exact=True).fill(str(today.year))


def test_a_manager_applies_for_a_group_with_its_consent_and_a_group_takes_its_application_over(
    page: Page, no_js_context: BrowserContext, platform: Platform
) -> None:
    portal = platform.portal
    programme = a_programme_with_a_question(platform)
    new_group = f"org-circle-{uuid4().hex[:8]}"
    sign_in(page, platform, "Maya Patel")
    page.goto(f"{portal}/manage/programmes/{programme['id']}")
    scan(page, platform)
    page.get_by_role("link", name="Start an application for a group").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Start an application for a group")
    scan(page, platform)
    page.get_by_role("button", name="Continue").click()  # no group given
    expect(page.locator(".nhsuk-error-summary")).to_contain_text("Enter the group's reference")
    scan(page, platform)
    page.get_by_label("Which group is it for?").fill(new_group)
    page.get_by_role("button", name="Continue").click()

    # A group with no profile yet: the team types what the group told them.
    expect(page.get_by_text("has no profile yet")).to_be_visible()
    scan(page, platform)
    page.get_by_label("Name of the group").fill("Harrow Listening Circle")
    page.get_by_label("Community or voluntary group (not registered)").check()
    page.get_by_label("Where does the group work?").fill("Harrow")
    page.get_by_label("The group's yearly income").fill("12000")
    page.get_by_label("What is the group's project called?").fill("Listening circle for bereaved men")
    page.get_by_label("Who in the group should we contact about it?").fill("Kwame Mensah")
    page.get_by_label("Their email address").fill("kwame@example.org")
    # No consent recorded: nothing is started, and the error summary says what is missing.
    page.get_by_role("button", name="Record consent and start the application").click()
    summary = page.locator(".nhsuk-error-summary")
    expect(summary).to_contain_text("Enter the name of the person in the group who gave consent")
    expect(summary).to_contain_text("Select how the group gave its consent")
    expect(summary).to_contain_text("Enter the date the group gave its consent")
    expect(page).to_have_title(re.compile(r"^Error: Start an application for a group – "))
    expect(page.get_by_label("Name of the group")).to_have_value("Harrow Listening Circle")  # kept
    scan(page, platform)
    summary.get_by_role("link", name="Enter the name of the person in the group who gave consent").click()
    expect(page.get_by_label("Who in the group gave consent?")).to_be_focused()
    fill_consent(page, "Kwame Mensah", "By phone")
    page.get_by_role("button", name="Record consent and start the application").click()

    # The group's own task list, under the team's pages, marked as assisted.
    expect(page.get_by_role("heading", level=1)).to_have_text("Listening circle for bereaved men")
    expect(page.get_by_role("heading", name="An assisted application")).to_be_visible()
    expect(page.locator(".nhsuk-summary-list")).to_contain_text("Kwame Mensah")
    expect(page.locator(".nhsuk-summary-list")).to_contain_text("By phone")
    expect(page.get_by_text("The equality monitoring questions are the group's alone")).to_be_visible()
    scan(page, platform)
    screenshot(page, "assisted-task-list")
    assisted_url = page.url
    assert "/manage/assisted/" in assisted_url

    page.get_by_role("link", name="Tell us about your project").click()
    scan(page, platform)
    page.get_by_label("Tell us about your project").fill("A fortnightly circle for men bereaved by suicide.")
    page.get_by_role("button", name="Save and continue").click()
    page.get_by_role("link", name="How much are you asking for?").click()
    page.get_by_label("How much are you asking for?").fill("4000")
    page.get_by_role("button", name="Save and continue").click()
    page.get_by_role("link", name="What need will the project meet?").click()
    scan(page, platform)
    page.get_by_label("What need will the project meet?").fill("Men bereaved by suicide in Harrow have nowhere to talk.")
    page.get_by_role("button", name="Save and continue").click()
    expect(page).to_have_url(assisted_url)
    page.get_by_role("link", name="Check your answers and submit").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Check your answers before you submit")
    expect(page.get_by_text("£4,000.00")).to_be_visible()
    scan(page, platform)
    page.get_by_role("button", name="Submit application").click()
    expect(page.get_by_role("heading", name="Application submitted")).to_be_visible()
    scan(page, platform)
    page.get_by_role("link", name="see where the application stands").click()
    expect(page).to_have_url(assisted_url)
    expect(page.get_by_text("This application has been sent")).to_be_visible()
    expect(page.locator(".nhsuk-tag").first).to_have_text("Submitted")
    expect(page.get_by_text("with the consent of Kwame Mensah")).to_be_visible()  # its timeline
    scan(page, platform)
    # As the panel's work shows it (once scoring has heard of the submission), it is marked too.
    page.get_by_role("link", name="The application as the panel sees it").click()
    reload_until(page, page.get_by_role("heading", name="An assisted application"))
    expect(page.locator(".nhsuk-summary-list").nth(1)).to_contain_text("Kwame Mensah")
    scan(page, platform)

    # Another, for Sam's group, which has a profile of its own: left as a draft for the group.
    page.goto(f"{portal}/manage/programmes/{programme['id']}/assisted/new?organisation={SAM_ORG}")
    expect(page.get_by_text("Harrow Men's Shed")).to_be_visible()
    expect(page.get_by_label("Name of the group")).to_have_count(0)
    page.get_by_label("What is the group's project called?").fill("Shed breakfasts")
    page.get_by_label("Who in the group should we contact about it?").fill("Sam Okafor")
    page.get_by_label("Their email address").fill("sam-harrow@example.org")
    fill_consent(page, "Sam Okafor", "In person")
    page.get_by_role("button", name="Record consent and start the application").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Shed breakfasts")
    draft_id = page.url.rsplit("/", 1)[1]
    page.get_by_role("link", name="Applications started for groups").click()
    expect(page.get_by_role("link", name="Listening circle for bereaved men")).to_be_visible()
    expect(page.get_by_role("link", name="Shed breakfasts")).to_be_visible()
    scan(page, platform)

    # The group's own person, with JavaScript off, sees it marked and takes it over.
    sam = no_js_context.new_page()
    sign_in(sam, platform, "Sam Okafor")
    sam.goto(f"{portal}/applications")
    row = sam.get_by_role("row").filter(has=sam.get_by_role("link", name="Shed breakfasts"))
    expect(row).to_contain_text("Started for you by the programme team")
    scan(sam, platform)
    row.get_by_role("link", name="Shed breakfasts").click()
    expect(sam.get_by_role("heading", name="Started for you by the programme team")).to_be_visible()
    expect(sam.get_by_text("Sam Okafor gave the group's consent in person")).to_be_visible()
    scan(sam, platform)
    screenshot(sam, "assisted-applicant-task-list")
    sam.get_by_role("button", name="Take it over").click()
    expect(sam.get_by_role("heading", level=1)).to_have_text("Take over this application?")
    scan(sam, platform)
    sam.get_by_role("button", name="Take it over").click()
    expect(sam).to_have_url(f"{portal}/applications/{draft_id}")
    expect(sam.get_by_text("Your group took it over on")).to_be_visible()
    expect(sam.get_by_role("button", name="Take it over")).to_have_count(0)
    # Taking it over again changes nothing: the confirm page sends the group back to its application.
    sam.goto(f"{portal}/applications/{draft_id}/take-over")
    expect(sam).to_have_url(f"{portal}/applications/{draft_id}")

    # The team sees that it is the group's now, and can no longer change it.
    page.goto(f"{portal}/manage/assisted/{draft_id}")
    expect(page.get_by_text("The group took this application over")).to_be_visible()
    expect(page.locator(".nhsuk-summary-list").last).to_contain_text("sam-harrow")
    expect(page.get_by_role("link", name="Tell us about your project")).to_have_count(0)
    scan(page, platform)
    page.goto(f"{portal}/manage/assisted/{draft_id}/summary")  # its question pages send the team back
    expect(page).to_have_url(f"{portal}/manage/assisted/{draft_id}")


def test_the_consent_form_with_the_keyboard_alone(page: Page, platform: Platform) -> None:
    today = datetime.now(UTC).date()
    sign_in(page, platform, "Maya Patel")
    page.goto(f"{platform.portal}/manage/programmes/{platform.programme['id']}/assisted/new")
    tab_to(page, "Which group is it for?")
    page.keyboard.type(f"org-keys-{uuid4().hex[:8]}")
    enter(page)  # Enter in a field sends its form

    tab_to(page, "Name of the group")
    page.keyboard.type("Hounslow Walk and Talk")
    tab_to(page, "Registered charity")
    arrow_to(page, "Community or voluntary group")
    tab_to(page, "Where does the group work?")
    page.keyboard.type("Hounslow")
    tab_to(page, "The group's yearly income")
    page.keyboard.type("8000")
    tab_to(page, "Who in the group gave consent?")
    page.keyboard.type("Grace Boateng")
    tab_to(page, "In person")
    arrow_to(page, "By video call")
    for part, value in (("Day", today.day), ("Month", today.month), ("Year", today.year)):
        tab_to(page, part)
        page.keyboard.type(str(value))
    tab_to(page, "What is the group's project called?")
    page.keyboard.type("Walk and talk mornings")
    tab_to(page, "Who in the group should we contact about it?")
    page.keyboard.type("Grace Boateng")
    tab_to(page, "Their email address")
    page.keyboard.type("grace@example.org")
    tab_to(page, "Record consent and start the application")
    enter(page)

    expect(page.get_by_role("heading", level=1)).to_have_text("Walk and talk mornings")
    expect(page.locator(".nhsuk-summary-list")).to_contain_text("By video call")
    scan(page, platform)
