"""The whole journey in the browser, as newcomers would click it, one person after another: the
programme manager opens a programme, a group applies, the two panel members scoring assigns score
it, the panel decides in a meeting the manager calls (each member records a recommendation), the group accepts the offer with its bank details, the
payment shows as sent, and the group's messages tell of the decision and the payment.

Once with JavaScript and once without: every step works either way. Every page on the way passes
axe, and no page asks any other host for anything (the context fixtures refuse and record it).
"""

import time
from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from tests.browser.conftest import Platform, guarded, scan, screenshot, sign_in, sign_out

WAIT_SECONDS = 30  # what events take to reach every service, with room to spare
REVIEWERS = ("Amara Nwosu", "Ben Carter", "Chen Wei")
CRITERIA = ("Evidence of need", "Reaches seldom-heard groups")


def reload_until(page: Page, locator: Locator) -> None:
    """The services act on each other by events, a moment after a page's request: look again."""
    deadline = time.monotonic() + WAIT_SECONDS
    while not locator.count():
        assert time.monotonic() < deadline, f"never appeared on {page.url}: {locator}"
        time.sleep(0.5)
        page.reload()


def fill_date(page: Page, legend: str, day: datetime) -> None:
    group = page.get_by_role("group", name=legend)
    group.get_by_label("Day").fill(str(day.day))
    group.get_by_label("Month").fill(str(day.month))
    group.get_by_label("Year").fill(str(day.year))


def open_a_programme(page: Page, platform: Platform, name: str) -> str:
    sign_in(page, platform, "Maya Patel")
    scan(page, platform)
    page.get_by_role("button", name="Create a programme").click()
    today = datetime.now(UTC)
    page.get_by_label("Name", exact=True).fill(name)
    page.get_by_label("Description (optional)").fill("Small grants for groups preventing suicide among men.")
    page.get_by_label("Budget", exact=True).fill("30,000")
    page.get_by_label("Most one group can get").fill("10000")
    fill_date(page, "Opening date", today)
    fill_date(page, "Closing date", today + timedelta(days=30))
    # Open to any group anywhere: Sam's group may already have a profile from an earlier test.
    for number, title in enumerate(CRITERIA, start=1):
        page.get_by_role("group", name=f"Criterion {number}").get_by_label("Title").fill(title)
        page.get_by_role("group", name=f"Criterion {number}").get_by_label("Weight").fill("1")
    page.get_by_label("Panel members").fill("reviewer-amara\nreviewer-ben\nreviewer-chen")
    page.get_by_label("In one payment").check()
    scan(page, platform)
    page.get_by_role("button", name="Save the draft programme").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(name)
    page.get_by_role("button", name="Open for applications").click()
    scan(page, platform)
    page.get_by_role("button", name="Yes, open it for applications").click()
    expect(page.locator(".nhsuk-tag").first).to_have_text("Open")
    reload_until(page, page.get_by_role("link", name="The ranking against the budget"))
    scan(page, platform)
    screenshot(page, f"journey-{name[-6:]}-1-programme-open")
    sign_out(page, platform)
    return page.url


def apply(page: Page, platform: Platform, programme: str, title: str) -> None:
    sign_in(page, platform, "Sam Okafor")
    page.get_by_role("link", name="Funding programmes").click()
    scan(page, platform)
    page.get_by_role("link", name=programme).click()
    scan(page, platform)
    page.get_by_role("button", name="Start an application").click()
    if page.get_by_role("heading", level=1).inner_text() == "About your organisation":
        page.get_by_label("Name of your organisation").fill("Harrow Men's Shed")
        page.get_by_label("Community or voluntary group (not registered)").check()
        page.get_by_label("Where does your organisation work?").fill("Harrow")
        page.get_by_label("Yearly income").fill("40000")
        scan(page, platform)
        page.get_by_role("button", name="Save and continue").click()
    page.get_by_label("What is your project called?").fill(title)
    scan(page, platform)
    page.get_by_role("button", name="Save and continue").click()
    page.get_by_role("link", name="Tell us about your project").click()
    page.get_by_label("Tell us about your project").fill(
        "Peer support circles for isolated men over fifty, led by volunteers with lived experience."
    )
    page.get_by_role("button", name="Save and continue").click()
    page.get_by_role("link", name="How much are you asking for?").click()
    page.get_by_label("How much are you asking for?").fill("8000")
    scan(page, platform)
    page.get_by_role("button", name="Save and continue").click()
    page.get_by_role("link", name="Check your answers and submit").click()
    scan(page, platform)
    page.get_by_role("button", name="Submit application").click()
    expect(page.get_by_role("heading", name="Application submitted")).to_be_visible()
    scan(page, platform)
    screenshot(page, f"journey-{title[-6:]}-2-submitted")
    sign_out(page, platform)


def score(page: Page, platform: Platform, title: str) -> None:
    """Each panel member looks at their reviews; the two that scoring assigned score the application."""
    scored = 0
    for reviewer in REVIEWERS:
        sign_in(page, platform, reviewer)
        page.get_by_role("link", name="Your reviews").click()
        scan(page, platform)
        row = page.get_by_role("row").filter(has_text=title)
        if row.count() == 0:
            time.sleep(1)  # the assignment may still be on its way: look once more
            page.reload()
        if row.count():
            row.get_by_role("link").click()
            scan(page, platform)
            for criterion in CRITERIA:
                page.get_by_role("group", name=criterion).get_by_label("4 – very good").check()
            page.get_by_role("button", name="Submit your scores").click()
            expect(page.get_by_role("heading", name="Your scores are submitted")).to_be_visible()
            scan(page, platform)
            scored += 1
        sign_out(page, platform)
    assert scored == 2


def award(page: Page, platform: Platform, programme: str, title: str) -> None:
    """The panel decides: the manager sets the programme's rule and calls a meeting, each member
    present recommends £7,500, and the manager closes the item once the rule is met."""
    sign_in(page, platform, "Maya Patel")
    page.get_by_role("link", name=programme).click()
    page.get_by_role("link", name="The ranking against the budget").click()
    reload_until(page, page.get_by_role("link", name=title))
    scan(page, platform)
    screenshot(page, f"journey-{title[-6:]}-3-ranking")
    page.get_by_role("link", name="Back").first.click()
    page.get_by_role("link", name="Decision meetings and how the programme decides").click()
    expect(page.get_by_text("Nothing can be decided until you set how the programme decides.")).to_be_visible()
    scan(page, platform)
    page.get_by_role("link", name="Set how the programme decides").click()
    page.get_by_label("By a majority of the votes cast").check()
    page.get_by_label("Experts by experience", exact=True).fill("reviewer-amara\nreviewer-ben\nreviewer-chen")
    page.get_by_label("Quorum: members present and not recused").fill("2")
    page.get_by_label("Quorum: of whom experts by experience").fill("2")
    scan(page, platform)
    page.get_by_role("button", name="Save how the programme decides").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Decision meetings")
    page.get_by_role("button", name="Call the meeting").click()
    expect(page.locator("#applications-error")).to_contain_text("Select at least one application")
    scan(page, platform)
    page.get_by_label(title, exact=False).check()
    page.get_by_role("button", name="Call the meeting").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Decision meeting on")
    meeting_url = page.url
    expect(page.get_by_role("row").filter(has_text=title)).to_contain_text("0 of 3 recorded")
    scan(page, platform)
    sign_out(page, platform)

    for member in REVIEWERS:
        sign_in(page, platform, member)
        page.goto(f"{platform.portal}/panel/meetings")
        scan(page, platform)
        page.get_by_role("link", name=f"{programme}: meeting on").click()
        scan(page, platform)
        page.get_by_role("link", name=title).click()
        page.get_by_role("button", name="Record my recommendation").click()
        expect(page.locator("#recommendation-error")).to_contain_text("Select your recommendation")
        scan(page, platform)
        page.get_by_label("Fund a different amount").check()
        page.get_by_label("The amount you would fund, if different").fill("7,500")
        page.get_by_label("Your reason (optional)").fill("The first year's costs are clear; the rest can follow.")
        page.get_by_role("button", name="Record my recommendation").click()
        expect(page.get_by_role("row").filter(has_text=title)).to_contain_text("Fund a different amount: £7,500.00")
        scan(page, platform)
        sign_out(page, platform)

    sign_in(page, platform, "Maya Patel")
    page.goto(meeting_url)
    expect(page.get_by_role("row").filter(has_text=title)).to_contain_text("Ready to close")
    page.get_by_role("link", name=title).click()
    expect(page.get_by_role("row").filter(has_text="reviewer-ben")).to_contain_text("£7,500.00")
    scan(page, platform)
    page.get_by_role("button", name="Record the panel's decision").click()
    expect(page.locator("#rationale-error")).to_contain_text("Enter the panel's reasons")
    scan(page, platform)
    page.get_by_label("Why the panel decided this").fill("Strong lived-experience leadership and a clear plan.")
    page.get_by_label("Feedback for the group").fill("The panel was moved by your peer-led approach.")
    page.get_by_role("button", name="Record the panel's decision").click()
    expect(page.get_by_text("Awarded £7,500.00")).to_be_visible()
    expect(page.get_by_text("None: the panel agreed")).to_be_visible()
    scan(page, platform)
    screenshot(page, f"journey-{title[-6:]}-3-decided")
    sign_out(page, platform)


def accept_and_get_paid(page: Page, platform: Platform, title: str) -> None:
    sign_in(page, platform, "Sam Okafor")
    page.get_by_role("link", name="Your applications").click()
    page.get_by_role("link", name=title).click()
    reload_until(page, page.get_by_role("button", name="See your grant offer"))
    scan(page, platform)
    page.get_by_role("button", name="See your grant offer").click()
    expect(page.get_by_text("You have been offered £7,500.00")).to_be_visible()
    scan(page, platform)
    screenshot(page, f"journey-{title[-6:]}-4-offer")
    page.get_by_role("button", name="Accept the offer").click()
    page.get_by_label("Name on the account").fill("Harrow Mens Shed")
    page.get_by_label("Sort code").fill("20-00-00")
    page.get_by_label("Account number").fill("55779911")
    scan(page, platform)
    page.get_by_role("button", name="Accept the offer").click()
    expect(page.get_by_text("****9911")).to_be_visible()
    assert "55779911" not in page.content()  # only ever shown masked
    reload_until(page, page.locator("td .nhsuk-tag", has_text="Sent"))
    scan(page, platform)
    screenshot(page, f"journey-{title[-6:]}-5-paid")

    page.get_by_role("link", name="Messages").click()
    reload_until(page, page.get_by_text(f'We have sent you £7,500.00 for "{title}"'))
    expect(page.get_by_text(f'Good news: "{title}" has been awarded £7,500.00')).to_be_visible()
    scan(page, platform)
    screenshot(page, f"journey-{title[-6:]}-6-inbox")
    page.get_by_role("link", name=f'Good news: "{title}" has been awarded £7,500.00').click()
    page.get_by_role("link", name="Go to your application").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(title)
    expect(page.locator(".nhsuk-tag").first).to_have_text("Paid")
    scan(page, platform)


@pytest.mark.parametrize("javascript", [True, False], ids=["with-javascript", "without-javascript"])
def test_a_grant_from_the_programme_opening_to_the_payment_in_the_browser(
    browser: Browser, platform: Platform, javascript: bool
) -> None:
    context = browser.new_context(java_script_enabled=javascript, viewport={"width": 1100, "height": 900})
    context.js_enabled = javascript  # type: ignore[attr-defined]  # read by scan()
    foreign = guarded(context)
    page = context.new_page()
    page.set_default_timeout(15_000)
    suffix = uuid4().hex[:6]
    programme, title = f"Men's mental health fund {suffix}", f"Peer circles for men {suffix}"
    try:
        open_a_programme(page, platform, programme)
        apply(page, platform, programme, title)
        score(page, platform, title)
        award(page, platform, programme, title)
        accept_and_get_paid(page, platform, title)
    finally:
        context.close()
    assert foreign == [], f"pages asked other hosts: {foreign}"
