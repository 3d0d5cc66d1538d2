"""Two stages in the portal with JavaScript off: a group sends a short expression of interest, the
programme manager invites it (and declines another with feedback), and the invited group's full
application starts from its earlier answers. A manager makes a programme two-stage (its first stage
scored) on the programme form, and one-stage again. Every page passes axe."""

from datetime import timedelta
from uuid import uuid4

from playwright.sync_api import BrowserContext, expect

from grants_shared.clock import utcnow
from grants_shared.dev.journey import MANAGER, PANEL, Journey, demo_programme
from tests.browser.conftest import Platform, scan, screenshot, sign_in, sign_out
from tests.browser.test_managing import _date

INTEREST_FORM = {"questions": [
    {"kind": "long_text", "id": "idea", "label": "Your idea in a few words", "max_words": 40},
    {"kind": "yes_no", "id": "led_by_lived_experience", "label": "Is your group led by people with lived experience?"},
]}  # fmt: skip
FULL_FORM = {"questions": [
    {"kind": "long_text", "id": "idea", "label": "Your idea in full", "max_words": 400},
    {"kind": "number", "id": "people_reached", "label": "How many people will you reach?", "minimum": 1},
]}  # fmt: skip


def test_a_group_expresses_interest_and_is_invited_another_is_declined_with_feedback(
    no_js_context: BrowserContext, platform: Platform
) -> None:
    journey = Journey(platform.urls, say=lambda _: None)
    manager = journey.as_(MANAGER, "programme_manager")
    now = utcnow()
    body = demo_programme() | {"name": f"Two-stage small grants {uuid4().hex[:6]}", "expression_of_interest": {
        "opens_at": (now - timedelta(minutes=5)).isoformat(), "closes_at": (now + timedelta(days=14)).isoformat()}}
    created = journey.call("POST", "applications", "/v1/programmes", manager, expect=201, json=body)
    url = f"/v1/programmes/{created.json()['id']}"
    first = journey.call("PUT", "applications", f"{url}/form?stage=expression_of_interest",
                         {**manager, "If-Match": created.headers["etag"]}, json=INTEREST_FORM)  # fmt: skip
    journey.call("PUT", "applications", f"{url}/form", {**manager, "If-Match": first.headers["etag"]}, json=FULL_FORM)
    programme = journey.call("POST", "applications", f"{url}/open", manager).json()
    # Another group (not one of the portal's people, whose profiles other tests start without)
    other = f"org-circles-{uuid4().hex[:6]}"
    for person, organisation, name, area in (("sam-harrow", "org-harrow-mens-shed", "Harrow Men's Shed", "Harrow"),
                                             (f"person-{other}", other, "Talking Circles", "Brent")):
        headers = journey.as_(person, "applicant", organisations=(organisation,))
        journey.http.put(f"{platform.urls['applications']}/v1/organisations/{organisation}", headers=headers, json={
            "name": name, "kind": "community_group", "area": area, "annual_income": {"amount": 4_000_000, "currency": "GBP"},
        })  # created, or already there: either way a profile  # fmt: skip
    # The other group sends its expression of interest through the API
    priya = journey.as_(f"person-{other}", "applicant", organisations=(other,), name="Priya Shah",
                        email="priya@example.org")  # fmt: skip
    hers = journey.call("POST", "applications", "/v1/applications", priya, expect=201, json={
        "programme_id": programme["id"], "organisation_id": other, "title": "Talking circles",
        "summary": "Peer circles for young people.", "amount_requested": {"amount": 300_000, "currency": "GBP"}}).json()
    journey.call("PUT", "applications", f"/v1/applications/{hers['id']}/answers", {**priya, "If-Match": '"1"'},
                 json={"answers": {"idea": "Circles", "led_by_lived_experience": True}})  # fmt: skip
    journey.call("POST", "applications", f"/v1/applications/{hers['id']}/submit", priya)

    page = no_js_context.new_page()
    sign_in(page, platform, "Sam Okafor")
    page.goto(f"{platform.portal}/programmes/{programme['id']}/apply")
    page.get_by_label("What is your project called?").fill("Shed talks")
    page.get_by_role("button", name="Save and continue").click()
    expect(page.get_by_text("asks for a short expression of interest first")).to_be_visible()
    scan(page, platform)
    page.get_by_role("link", name="Tell us about your project").click()
    page.get_by_label("Tell us about your project").fill("Older men talk while they make things.")
    page.get_by_role("button", name="Save and continue").click()
    page.get_by_role("link", name="How much are you asking for?").click()
    page.get_by_label("How much are you asking for?").fill("4000")
    page.get_by_role("button", name="Save and continue").click()
    page.get_by_role("link", name="Your idea in a few words").click()
    page.get_by_label("Your idea in a few words").fill("A shed where men talk")
    page.get_by_role("button", name="Save and continue").click()
    page.get_by_role("link", name="Is your group led by people with lived experience?").click()
    page.get_by_label("Yes").check()
    page.get_by_role("button", name="Save and continue").click()
    page.get_by_role("link", name="Check your answers and submit").click()
    page.get_by_role("button", name="Send expression of interest").click()
    expect(page.get_by_role("heading", name="Expression of interest sent")).to_be_visible()
    scan(page, platform)
    sign_out(page, platform)

    sign_in(page, platform, "Maya Patel")
    page.goto(f"{platform.portal}/manage/programmes/{programme['id']}/interest")
    expect(page.get_by_text("2 waiting for you to invite or decline.")).to_be_visible()
    scan(page, platform)
    page.get_by_role("link", name="Talking circles").click()
    expect(page.get_by_text("Circles", exact=True)).to_be_visible()
    page.get_by_role("button", name="Save decision").click()
    expect(page.locator(".nhsuk-error-summary")).to_contain_text("Select invite or decline")
    scan(page, platform)
    page.get_by_label("Decline", exact=True).check()
    page.get_by_label("Feedback for the group if you decline (optional)").fill("Tell us more about who you reach.")
    page.get_by_role("button", name="Save decision").click()
    expect(page.get_by_text("1 waiting for you to invite or decline.")).to_be_visible()
    page.get_by_role("link", name="Shed talks").click()
    expect(page.get_by_text("A shed where men talk")).to_be_visible()
    scan(page, platform)
    screenshot(page, "manager-expression-of-interest")
    page.get_by_label("Invite to the full application").check()
    page.get_by_role("button", name="Save decision").click()
    expect(page.get_by_text("No expressions of interest are waiting for a decision.")).to_be_visible()
    sign_out(page, platform)

    sign_in(page, platform, "Sam Okafor")
    page.goto(f"{platform.portal}/applications")
    page.get_by_role("link", name="Shed talks").first.click()
    expect(page.get_by_text("You are invited to make a full application.")).to_be_visible()
    scan(page, platform)
    page.get_by_role("link", name="Your idea in full").click()
    expect(page.get_by_label("Your idea in full")).to_have_value("A shed where men talk")
    sign_out(page, platform)

    timeline = journey.call("GET", "applications", f"/v1/applications/{hers['id']}/timeline", priya).json()
    assert timeline["status"] == "interest_declined"
    assert "Their feedback: Tell us more about who you reach." in timeline["entries"][-1]["words"]


def test_a_manager_creates_a_two_stage_programme_with_a_scored_first_stage_and_makes_it_one_stage(
    no_js_context: BrowserContext, platform: Platform
) -> None:
    page = no_js_context.new_page()
    name = f"Two-stage fund by form {uuid4().hex[:6]}"
    today = utcnow()
    sign_in(page, platform, "Maya Patel")
    page.goto(f"{platform.portal}/manage/programmes/new")
    expect(page.get_by_label("One stage: groups apply in full")).to_be_checked()
    page.get_by_label("Name", exact=True).fill(name)
    page.get_by_label("Budget", exact=True).fill("20000")
    page.get_by_label("Most one group can get").fill("5000")
    _date(page, "Opening date", today + timedelta(days=30))
    _date(page, "Closing date", today + timedelta(days=60))
    page.get_by_role("group", name="Criterion 1").get_by_label("Title").fill("Evidence of need")
    page.get_by_role("group", name="Criterion 1").get_by_label("Weight").fill("1")
    page.get_by_label("Panel members").fill("\n".join(PANEL))
    page.get_by_label("Two stages: a short expression of interest first").check()
    page.get_by_role("button", name="Save the draft programme").click()
    summary = page.locator(".nhsuk-error-summary")
    expect(summary).to_contain_text("Enter the date the expression of interest opens")
    expect(summary).to_contain_text("Enter the date the expression of interest closes")
    scan(page, platform)
    # closing after the full application closes: the API refuses, and its words go beside the field
    _date(page, "Expression of interest opens (two stages only)", today)
    _date(page, "Expression of interest closes (two stages only)", today + timedelta(days=90))
    page.get_by_label("Reviewers score the expressions of interest (two stages only)").check()
    page.get_by_role("button", name="Save the draft programme").click()
    expect(page.get_by_role("group", name="Expression of interest closes (two stages only)")).to_contain_text(
        "must close before the full application closes")
    scan(page, platform)
    _date(page, "Expression of interest closes (two stages only)", today + timedelta(days=20))
    page.get_by_role("button", name="Save the draft programme").click()

    expect(page.get_by_role("heading", level=1)).to_have_text(name)
    stages = page.locator(".nhsuk-summary-list__row").filter(has_text="Stages")
    expect(stages).to_contain_text("An expression of interest from")
    expect(stages).to_contain_text("scored by reviewers, then the full application for invited groups")
    scan(page, platform)
    programme_id = page.url.rsplit("/", 1)[1]
    journey = Journey(platform.urls, say=lambda _: None)
    manager = journey.as_(MANAGER, "programme_manager")
    stored = journey.call("GET", "applications", f"/v1/programmes/{programme_id}", manager).json()
    assert stored["expression_of_interest"]["scored"] is True

    page.get_by_role("link", name=f"Edit {name}").click()
    expect(page.get_by_label("Two stages: a short expression of interest first")).to_be_checked()
    expect(page.get_by_label("Reviewers score the expressions of interest (two stages only)")).to_be_checked()
    page.get_by_label("One stage: groups apply in full").check()
    page.get_by_role("button", name="Save changes").click()
    expect(page.locator(".nhsuk-summary-list__row").filter(has_text="Stages")).to_contain_text("One: groups apply in full")
    stored = journey.call("GET", "applications", f"/v1/programmes/{programme_id}", manager).json()
    assert stored["expression_of_interest"] is None
