"""After the award, in the browser: the grantee sees what each payment of their grant waits for (a
named condition, a monitoring report to be accepted, its date); sends the monitoring report after the
error summary has pointed at every missing answer (the four every report asks and the programme's
own questions); the programme manager asks for changes with
comments, the grantee sends it again, the manager accepts it and marks the grant's condition met; the
grantee then sees the payments waiting only for finance. With and without JavaScript (by keyboard
with it); every page passes axe.

The award is made through the services' APIs, as the people before the grantee would make it."""

from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import Platform, guarded, scan, screenshot, sign_in, sign_out
from tests.browser.test_finance import services
from tests.browser.test_offers import offered_grant

ACCOUNT = {"account_name": "Brent Young Minds", "sort_code": "12-34-56", "account_number": "31415926"}
CONDITION = "Safeguarding policy checked"
#: The programme's own questions, asked in every report after the four every report asks.
QUESTIONS = [{"id": "volunteers", "kind": "number", "label": "How many volunteers helped?", "minimum": 0},
             {"id": "concerns", "kind": "yes_no", "label": "Were there any safeguarding concerns?"}]


def accepted_with_conditions(platform: Platform, title: str) -> dict[str, Any]:
    """A grant whose programme asks for a midway report, whose first payment waits for the manager to
    check the group's safeguarding policy and whose second waits for the midway report."""
    apis = services(platform)
    offer = offered_grant(platform, title)
    manager = apis.as_("maya-manager", "programme_manager")
    programme = offer["programme_id"]
    apis.call("PUT", "disbursement", f"/v1/programmes/{programme}/monitoring-policy", manager,
              json={"points": [{"name": "Midway report", "due_after_days": 90}], "reminder_days": 14,
                    "questions": QUESTIONS})  # fmt: skip
    apis.call("PUT", "disbursement", f"/v1/programmes/{programme}/tranche-policy", manager, json={"requirements": [
        {"sequence": 1, "condition": CONDITION}, {"sequence": 2, "report": "Midway report"}]})  # fmt: skip
    applicant = apis.as_("priya-brent", "applicant", organisations=("org-brent-young-minds",))
    apis.call("POST", "disbursement", f"/v1/grants/{offer['id']}/accept", applicant,
              json={"bank_account": ACCOUNT, "signatory": {"name": "Priya Shah", "position": "Chair"}})  # fmt: skip
    return offer


def send_report(page: Page, keyboard: bool, what: str) -> None:
    if keyboard:
        page.get_by_label("What did your group do with the grant?").focus()
        page.keyboard.press("Control+A")
        page.keyboard.type(what)
        page.keyboard.press("Tab")  # into people reached
        page.keyboard.type("36")
        page.keyboard.press("Tab")  # into the amount spent
        page.keyboard.type("1200")
        page.keyboard.press("Tab")
        page.keyboard.type("Young people said they had somewhere to go.")
        page.keyboard.press("Tab")  # the programme's own questions
        page.keyboard.type("4")
        page.keyboard.press("Tab")  # into the yes/no radios: the arrow key chooses
        page.keyboard.press("ArrowRight")
        page.keyboard.press("Tab")
        page.keyboard.press("Enter")
    else:
        page.get_by_label("What did your group do with the grant?").fill(what)
        page.get_by_label("How many people did it reach?").fill("36")
        page.get_by_label("How much of the grant have you spent?").fill("1200")
        page.get_by_label("What changed for the people you work with?").fill("Young people said they had somewhere to go.")
        page.get_by_label("How many volunteers helped?").fill("4")
        page.get_by_role("group", name="Were there any safeguarding concerns?").get_by_label("No").check()
        page.get_by_role("button", name="Send the report").click()


def the_cycle(page: Page, platform: Platform, grant: dict[str, Any], keyboard: bool) -> None:
    portal = platform.portal
    sign_in(page, platform, "Priya Shah")
    page.goto(f"{portal}/grants/{grant['id']}")
    first, second = page.locator("tbody tr").nth(0), page.locator("tbody tr").nth(1)
    expect(first).to_contain_text(CONDITION)
    expect(second).to_contain_text("Your Midway report to be accepted")
    expect(second).to_contain_text("Its due date")
    expect(page.get_by_role("heading", name="Monitoring reports")).to_be_visible()
    scan(page, platform)
    screenshot(page, f"monitoring-grant-waiting-{keyboard}")
    page.get_by_role("link", name="Midway report").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Midway report")
    scan(page, platform)

    page.get_by_role("button", name="Send the report").click()  # nothing filled in
    summary = page.locator(".nhsuk-error-summary")
    expect(summary).to_be_visible()
    for field in ("what_was_done", "people_reached", "spent", "what_changed", "q-volunteers", "q-concerns"):
        expect(summary.locator(f'a[href="#{field}"]')).to_be_visible()
    scan(page, platform)
    screenshot(page, f"monitoring-report-errors-{keyboard}")
    send_report(page, keyboard, "Ten weekly drop-in evenings with a youth worker.")
    expect(page.get_by_text("Your report has been sent")).to_be_visible()
    expect(page.get_by_text("Waiting for review")).to_be_visible()
    scan(page, platform)
    sign_out(page, platform)

    sign_in(page, platform, "Maya Patel")
    page.goto(f"{portal}/manage")
    page.get_by_role("link", name="Monitoring reports to review").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Monitoring reports to review")
    scan(page, platform)
    page.locator(f'a[href="/manage/reports/"]').count()  # the list links each report
    row = page.get_by_role("row").filter(has_text=grant["application_id"][:8])
    row.get_by_role("link", name="Midway report").click()
    expect(page.get_by_text("Ten weekly drop-in evenings")).to_be_visible()
    expect(page.locator(".nhsuk-summary-list")).to_contain_text("How many volunteers helped?")
    scan(page, platform)
    page.get_by_role("button", name="Save review").click()  # no outcome chosen
    expect(page.locator(".nhsuk-error-summary a[href='#outcome']")).to_be_visible()
    page.get_by_label("Ask for changes").check()
    page.get_by_role("button", name="Save review").click()  # no comments
    expect(page.locator(".nhsuk-error-summary a[href='#comments']")).to_be_visible()
    scan(page, platform)
    page.get_by_label("Ask for changes").check()
    page.get_by_label("Comments for the group").fill("Say what the £1,200 was spent on.")
    page.get_by_role("button", name="Save review").click()
    expect(page.get_by_text("You asked for changes")).to_be_visible()
    sign_out(page, platform)

    sign_in(page, platform, "Priya Shah")
    page.goto(f"{portal}/grants/{grant['id']}")
    page.get_by_role("link", name="Midway report").click()
    expect(page.get_by_text("Say what the £1,200 was spent on.")).to_be_visible()
    expect(page.get_by_label("What did your group do with the grant?")).to_have_value(
        "Ten weekly drop-in evenings with a youth worker.")  # what they sent, to change
    scan(page, platform)
    if keyboard:
        send_report(page, True, "Ten drop-in evenings; £1,200 paid the youth worker.")
    else:
        page.get_by_label("What did your group do with the grant?").fill("Ten drop-in evenings; £1,200 paid the youth worker.")
        page.get_by_role("button", name="Send the report again").click()
    expect(page.get_by_text("Your report has been sent")).to_be_visible()
    sign_out(page, platform)

    sign_in(page, platform, "Maya Patel")
    reports = services(platform).call("GET", "disbursement", f"/v1/grants/{grant['id']}/reports",
                                      services(platform).as_("maya-manager", "programme_manager")).json()  # fmt: skip
    page.goto(f"{portal}/manage/reports/{reports[0]['id']}")
    page.get_by_label("Accept the report").check()
    page.get_by_role("button", name="Save review").click()
    expect(page.get_by_text("You accepted the report")).to_be_visible()
    scan(page, platform)
    page.get_by_role("link", name="The grant's conditions and what its payments wait for").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("The grant's conditions")
    scan(page, platform)
    page.get_by_role("button", name=f"Mark met: {CONDITION}").click()
    expect(page.get_by_text("The condition is marked met")).to_be_visible()
    expect(page.get_by_role("button", name=f"Mark met: {CONDITION}")).to_have_count(0)
    expect(page.get_by_text("by maya-manager")).to_be_visible()
    scan(page, platform)
    screenshot(page, f"monitoring-condition-met-{keyboard}")
    sign_out(page, platform)

    sign_in(page, platform, "Priya Shah")
    page.goto(f"{portal}/grants/{grant['id']}")
    expect(page.locator("tbody tr").nth(0)).to_contain_text("Approval by the finance team")
    expect(page.locator("tbody tr").nth(1)).not_to_contain_text("Midway report to be accepted")
    expect(page.get_by_role("cell", name="Accepted")).to_be_visible()  # the report


@pytest.mark.parametrize("javascript", [True, False], ids=["with-javascript", "without-javascript"])
def test_the_report_cycle_and_the_conditions_release_the_tranches(
    browser: Browser, platform: Platform, javascript: bool
) -> None:
    grant = accepted_with_conditions(platform, f"Young minds drop-in ({'js' if javascript else 'no-js'})")
    context = browser.new_context(java_script_enabled=javascript, viewport={"width": 1100, "height": 900})
    context.js_enabled = javascript  # type: ignore[attr-defined]  # read by scan()
    foreign = guarded(context)
    page = context.new_page()
    page.set_default_timeout(15_000)
    try:
        the_cycle(page, platform, grant, keyboard=javascript)
    finally:
        context.close()
    assert foreign == [], f"pages asked other hosts: {foreign}"
