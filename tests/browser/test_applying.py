"""An applicant group applies through the portal: describes itself, answers one question a page,
checks its answers, submits, and sees where its application stands. Every page passes axe."""

from playwright.sync_api import BrowserContext, Page, expect

from tests.browser.conftest import Platform, scan, screenshot, sign_in


def test_a_group_applies_one_question_at_a_time(page: Page, platform: Platform) -> None:
    portal = platform.portal
    page.goto(portal)
    scan(page, platform)
    page.get_by_role("button", name="See the funding programmes").click()
    scan(page, platform)
    page.get_by_role("link", name=platform.programme["name"]).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(platform.programme["name"])
    scan(page, platform)

    sign_in(page, platform, "Priya Shah")
    scan(page, platform)
    page.goto(f"{portal}/programmes/{platform.programme['id']}/apply")
    # No profile yet: the organisation comes first, and the page brings her back afterwards.
    expect(page.get_by_role("heading", level=1)).to_have_text("About your organisation")
    page.get_by_role("button", name="Save and continue").click()
    expect(page.get_by_role("heading", name="There is a problem")).to_be_visible()
    scan(page, platform)
    page.get_by_label("Name of your organisation").fill("Brent Young Minds")
    page.get_by_label("Community interest company").check()
    page.get_by_label("Where does your organisation work?").fill("Brent")
    page.get_by_label("Yearly income").fill("45,000")
    page.get_by_role("button", name="Save and continue").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("What is your project called?")
    scan(page, platform)
    page.get_by_label("What is your project called?").fill("Talking circles for young people")
    page.get_by_role("button", name="Save and continue").click()
    expect(page.get_by_text("You have answered 2 of 4 questions")).to_be_visible()
    scan(page, platform)
    screenshot(page, "applicant-task-list")

    page.get_by_role("link", name="Tell us about your project").click()
    scan(page, platform)
    page.get_by_label("Tell us about your project").fill("Weekly peer-led circles for 16 to 25 year olds in Brent.")
    page.get_by_role("button", name="Save and continue").click()
    page.get_by_role("link", name="How much are you asking for?").click()
    page.get_by_label("How much are you asking for?").fill("lots")
    page.get_by_role("button", name="Save and continue").click()
    expect(page.locator(".nhsuk-error-message")).to_contain_text("as a number")
    scan(page, platform)
    page.get_by_label("How much are you asking for?").fill("6500")
    page.get_by_role("button", name="Save and continue").click()

    page.get_by_role("link", name="Check your answers and submit").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Check your answers before you submit")
    expect(page.get_by_text("£6,500.00")).to_be_visible()
    scan(page, platform)
    screenshot(page, "applicant-check-answers")
    page.get_by_role("button", name="Submit application").click()
    expect(page.get_by_role("heading", name="Application submitted")).to_be_visible()
    scan(page, platform)

    page.get_by_role("link", name="see where your application stands").click()
    expect(page.locator(".nhsuk-tag")).to_have_text("Submitted")
    expect(page.get_by_text("You applied to")).to_be_visible()
    scan(page, platform)
    screenshot(page, "applicant-status")


def test_the_statements_the_sign_in_page_and_withdrawing_with_javascript_off(
    no_js_context: BrowserContext, platform: Platform
) -> None:
    page = no_js_context.new_page()
    portal = platform.portal
    for path, heading in (("/accessibility", "Accessibility statement"), ("/privacy", "How we use your information"),
                          ("/sign-in", "Sign in"), ("/no-such-page", "Page not found")):
        page.goto(f"{portal}{path}")
        expect(page.get_by_role("heading", level=1)).to_have_text(heading)
        scan(page, platform)
    page.goto(f"{portal}/sign-in")
    page.get_by_role("button", name="Sign in").click()  # nobody chosen
    expect(page.locator(".nhsuk-error-summary")).to_contain_text("Select who you are signing in as")
    scan(page, platform)

    # A group changes its mind: it withdraws a submitted application.
    sign_in(page, platform, "Sam Okafor")
    page.goto(f"{portal}/programmes/{platform.programme['id']}/apply")
    if page.get_by_role("heading", level=1).inner_text() == "About your organisation":
        page.get_by_label("Name of your organisation").fill("Harrow Men's Shed")
        page.get_by_label("Community or voluntary group (not registered)").check()
        page.get_by_label("Where does your organisation work?").fill("Harrow")
        page.get_by_label("Yearly income").fill("40000")
        page.get_by_role("button", name="Save and continue").click()
    page.get_by_label("What is your project called?").fill("A walking group we no longer need")
    page.get_by_role("button", name="Save and continue").click()
    application_url = page.url
    for question, label, answer in (("summary", "Tell us about your project", "Weekly walks."),
                                    ("amount", "How much are you asking for?", "500")):
        page.goto(f"{application_url}/{question}")
        page.get_by_label(label).fill(answer)
        page.get_by_role("button", name="Save and continue").click()
    page.goto(f"{application_url}/check")
    page.get_by_role("button", name="Submit application").click()
    page.goto(application_url)
    page.get_by_role("link", name="Withdraw this application").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Are you sure you want to withdraw your application?")
    scan(page, platform)
    page.get_by_label("Why are you withdrawing it? (optional)").fill("Another funder said yes.")
    page.get_by_role("button", name="Withdraw application").click()
    expect(page.locator(".nhsuk-tag").first).to_have_text("Withdrawn")
    expect(page.get_by_text("Your reason: Another funder said yes.")).to_be_visible()
    scan(page, platform)
