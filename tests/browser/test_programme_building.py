"""A programme manager with JavaScript off builds a programme's questions one at a time (kinds,
hints, word limits, choices, a question shown only after an earlier answer), reorders and removes
them with buttons, says which questions each criterion judges and publishes the form; then, once the
programme is open, raises its budget, moves its closing date later and lowers the budget again, and
reads every change in its history. Every page passes axe."""

from uuid import uuid4

from playwright.sync_api import BrowserContext, Page, expect

from grants_shared.dev.journey import MANAGER, Journey, demo_programme
from tests.browser.conftest import Platform, scan, screenshot, sign_in, sign_out


def _add(page: Page, label: str, kind: str, **fields: str) -> None:
    page.get_by_label("Question", exact=True).fill(label)
    page.get_by_label("Kind of answer").select_option(label=kind)
    for name, value in fields.items():
        if name == "shown_if":
            page.get_by_label("When to show it").select_option(label=value)
        else:
            page.get_by_label(name).fill(value)
    page.get_by_role("button", name="Add this question").click()


def test_a_manager_builds_the_questions_and_publishes_the_form(no_js_context: BrowserContext, platform: Platform) -> None:
    journey = Journey(platform.urls, say=lambda _: None)
    manager = journey.as_(MANAGER, "programme_manager")
    body = demo_programme() | {"name": f"Questions of our own {uuid4().hex[:6]}"}
    programme = journey.call("POST", "applications", "/v1/programmes", manager, expect=201, json=body).json()

    page = no_js_context.new_page()
    sign_in(page, platform, "Maya Patel")
    page.goto(f"{platform.portal}/manage/programmes/{programme['id']}")
    page.get_by_role("link", name="The questions groups answer").click()
    expect(page.get_by_role("heading", name="Questions: the full application")).to_be_visible()
    scan(page, platform)

    page.get_by_role("button", name="Add this question").click()
    expect(page.locator(".nhsuk-error-summary")).to_contain_text("Enter the question")
    scan(page, platform)

    _add(page, "Do you have a venue?", "Yes or no")
    _add(page, "Where is it?", "Short text", shown_if="Do you have a venue?: Yes", **{"Most words (short or long text)": "20"})
    _add(page, "What will you do?", "Long text", **{"Hint (optional)": "In your own words",
                                                    "Most words (short or long text)": "300"})  # fmt: skip
    _add(page, "Who takes part?", "Choices from a list", **{"Options (a choice from a list)": "Men\nYoung people\nCarers"})
    items = page.locator("ol > li strong")
    expect(items).to_have_text(["Do you have a venue?", "Where is it?", "What will you do?", "Who takes part?"])
    expect(page.get_by_text("shown only when Do you have a venue?: Yes")).to_be_visible()

    # a question shown after another cannot move above it; the others move freely
    page.get_by_role("button", name="Move up: Where is it?").click()
    expect(page.locator(".nhsuk-error-summary")).to_contain_text("'Where is it?' is shown only after an answer to the question before it")
    scan(page, platform)
    page.get_by_role("button", name="Move up: What will you do?").click()
    page.get_by_role("button", name="Move up: What will you do?").click()
    expect(items).to_have_text(["What will you do?", "Do you have a venue?", "Where is it?", "Who takes part?"])
    page.get_by_role("button", name="Remove: Who takes part?").click()
    expect(items).to_have_text(["What will you do?", "Do you have a venue?", "Where is it?"])

    criterion = programme["criteria"][0]["title"]
    page.get_by_role("group", name=f"Which questions does '{criterion}' judge?").get_by_label("What will you do?").check()
    page.get_by_role("button", name="Publish this form").click()
    expect(page.get_by_text("Version 1 of this form is published.")).to_be_visible()
    scan(page, platform)
    screenshot(page, "manager-form-builder")
    sign_out(page, platform)

    form = journey.call("GET", "applications", f"/v1/programmes/{programme['id']}/form", manager).json()
    assert [q["label"] for q in form["questions"]] == ["What will you do?", "Do you have a venue?", "Where is it?"]
    assert form["questions"][0]["max_words"] == 300 and form["questions"][0]["help"] == "In your own words"
    assert form["questions"][2]["shown_if"] == {"question_id": form["questions"][1]["id"], "any_of": ["yes"]}
    assert form["criteria"] == {programme["criteria"][0]["key"]: [form["questions"][0]["id"]]}


def test_a_manager_changes_an_open_programme_and_reads_its_history(no_js_context: BrowserContext, platform: Platform) -> None:
    journey = Journey(platform.urls, say=lambda _: None)
    manager = journey.as_(MANAGER, "programme_manager")
    body = demo_programme() | {"name": f"Changing programme {uuid4().hex[:6]}"}
    created = journey.call("POST", "applications", "/v1/programmes", manager, expect=201, json=body).json()
    programme = journey.call("POST", "applications", f"/v1/programmes/{created['id']}/open", manager).json()

    page = no_js_context.new_page()
    sign_in(page, platform, "Maya Patel")
    page.goto(f"{platform.portal}/manage/programmes/{programme['id']}/changes")
    expect(page.get_by_text("No changes yet.")).to_be_visible()
    scan(page, platform)

    page.get_by_role("button", name="Make this change").click()
    expect(page.locator(".nhsuk-error-summary")).to_contain_text("Change at least one thing")
    scan(page, platform)

    budget = page.get_by_label("Budget")
    higher = int(float(budget.input_value().replace(",", ""))) + 5_000
    budget.fill(str(higher))
    year = page.get_by_role("group", name="Closing date").get_by_label("Year")
    year.fill(str(int(year.input_value()) + 1))
    page.get_by_label("Why you are making this change (optional)").fill("A top-up from the health board")
    page.get_by_role("button", name="Make this change").click()
    expect(page.get_by_text("A top-up from the health board")).to_be_visible()
    expect(page.locator("tbody tr").first).to_contain_text("Applied")

    # earlier than it now closes: refused in words beside the date
    year = page.get_by_role("group", name="Closing date").get_by_label("Year")
    year.fill(str(int(year.input_value()) - 1))
    page.get_by_role("button", name="Make this change").click()
    expect(page.locator(".nhsuk-error-summary")).to_contain_text("only move later")
    scan(page, platform)

    page.goto(f"{platform.portal}/manage/programmes/{programme['id']}/changes")
    page.get_by_label("Budget").fill(str(higher - 1_000))
    page.get_by_role("button", name="Make this change").click()
    # disbursement answers within moments: nothing is committed, so the decrease applies
    for _ in range(20):
        if "Waiting for finance" not in page.locator("tbody tr").first.inner_text():
            break
        page.wait_for_timeout(500)
        page.reload()
    expect(page.locator("tbody tr").first).to_contain_text("Applied")
    expect(page.locator("tbody tr")).to_have_count(2)
    scan(page, platform)
    screenshot(page, "manager-programme-changes")
    sign_out(page, platform)
