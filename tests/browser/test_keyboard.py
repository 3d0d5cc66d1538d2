"""The applicant's journey with the keyboard alone: from signing in to a submitted application, every
step reached with Tab and the arrow keys and done with Enter or Space, and the element in focus always
visibly so."""

from playwright.sync_api import Page, expect

from tests.browser.conftest import Platform, scan

FOCUSED = """() => {
  const e = document.activeElement;
  const label = e.labels && e.labels.length ? e.labels[0].innerText : "";
  const style = getComputedStyle(e);
  return {text: (e.innerText || e.value || "").trim(), label: label.trim(), tag: e.tagName,
          visible: style.boxShadow !== "none" || style.outlineStyle !== "none"};
}"""


def tab_to(page: Page, name: str, limit: int = 80) -> None:
    """Press Tab until the element in focus is (or is labelled) ``name``; it must show its focus."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        focused = page.evaluate(FOCUSED)
        if name in (focused["text"], focused["label"]) or focused["label"].startswith(name):
            assert focused["visible"], f"{name} has the focus but does not show it"
            return
    raise AssertionError(f"Tab never reached {name!r} on {page.url}")


def arrow_to(page: Page, name: str, limit: int = 12) -> None:
    """In a group of radios, move with the arrow keys (which also chooses) until ``name``."""
    for _ in range(limit):
        if page.evaluate(FOCUSED)["label"].startswith(name):
            return
        page.keyboard.press("ArrowDown")
    raise AssertionError(f"the arrows never reached {name!r}")


def enter(page: Page) -> None:
    """Press Enter on a link, a button or a form field, and wait for the page it leads to."""
    with page.expect_navigation():
        page.keyboard.press("Enter")


def test_an_applicant_applies_with_the_keyboard_alone(page: Page, platform: Platform) -> None:
    page.goto(f"{platform.portal}/sign-in")
    tab_to(page, "Maya Patel")  # the first of the people: the arrows move through the rest
    arrow_to(page, "Sam Okafor")
    tab_to(page, "Sign in")
    enter(page)
    expect(page.get_by_role("heading", level=1)).to_have_text("Your applications")

    tab_to(page, "Funding programmes")
    enter(page)
    tab_to(page, platform.programme["name"])
    enter(page)
    tab_to(page, "Start an application")
    enter(page)
    if page.get_by_role("heading", level=1).inner_text() == "About your organisation":
        tab_to(page, "Name of your organisation")
        page.keyboard.type("Harrow Men's Shed")
        tab_to(page, "Registered charity")
        arrow_to(page, "Community or voluntary group")
        tab_to(page, "Where does your organisation work?")
        page.keyboard.type("Harrow")
        tab_to(page, "Yearly income")
        page.keyboard.type("40000")
        enter(page)  # Enter in a field sends its form

    expect(page.get_by_role("heading", level=1)).to_have_text("What is your project called?")
    tab_to(page, "What is your project called?")
    page.keyboard.type("Keyboard-only walking group")
    enter(page)

    tab_to(page, "Tell us about your project")
    enter(page)
    tab_to(page, "Tell us about your project")
    page.keyboard.type("A weekly walk and talk for men in Harrow.")
    tab_to(page, "Save and continue")
    enter(page)

    tab_to(page, "How much are you asking for?")
    enter(page)
    tab_to(page, "How much are you asking for?")
    page.keyboard.type("1200")
    enter(page)

    tab_to(page, "Check your answers and submit")
    enter(page)
    expect(page.get_by_text("£1,200.00")).to_be_visible()
    tab_to(page, "Submit application")
    enter(page)
    expect(page.get_by_role("heading", name="Application submitted")).to_be_visible()
    scan(page, platform)
