"""Finance changing a grant after it was accepted, in the browser: the error summary when nothing is
chosen; the end date moved; the amount brought down (off the payment not yet sent); a repayment
refused beyond what was paid, then recorded; the grant cancelled once confirmed. With and without
JavaScript; every page passes axe."""

from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import Platform, guarded, scan, screenshot, sign_in
from tests.browser.test_finance import accepted_grant, services


def paid_in_part(platform: Platform, name: str) -> dict[str, Any]:
    """An accepted grant of £7,250 whose first payment (£5,800) is sent; the second (£1,450) waits."""
    apis = services(platform)
    offer = accepted_grant(platform, name, "Hillingdon")
    finance = apis.as_("femi-finance", "finance_officer")
    apis.approve_payment_run(offer["id"])

    def sent() -> bool:
        payments = apis.call("GET", "disbursement", "/v1/payments", finance, params={"grant_id": offer["id"]}).json()
        return any(p["status"] == "sent" for p in payments["items"])

    apis.until("the first payment to be sent", sent)
    return offer


def vary(page: Page, platform: Platform, grant: dict[str, Any], javascript: bool) -> None:
    portal = platform.portal
    sign_in(page, platform, "Femi Adeyemi")
    page.goto(f"{portal}/finance/grants/{grant['id']}")
    page.get_by_role("link", name="Change this grant: its amount, its end date, or cancel it").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Change grant")
    scan(page, platform)
    page.get_by_role("button", name="Change the grant").click()  # nothing chosen
    expect(page.locator(".nhsuk-error-summary a[href='#kind']")).to_be_visible()
    scan(page, platform)

    page.get_by_label("Its end date").check()
    page.get_by_label("Day").fill("31")
    page.get_by_label("Month").fill("3")
    page.get_by_label("Year").fill("2027")
    page.get_by_role("button", name="Change the grant").click()
    expect(page.locator(".nhsuk-notification-banner")).to_contain_text("The grant's end date is changed")
    expect(page.get_by_text("31 March 2027")).to_be_visible()

    page.get_by_role("link", name="Change this grant: its amount, its end date, or cancel it").click()
    page.get_by_label("Its amount").check()
    page.get_by_label("New amount").fill("7000")
    page.get_by_role("button", name="Change the grant").click()
    expect(page.locator(".nhsuk-notification-banner")).to_contain_text("The grant's amount is changed")
    expect(page.get_by_text("£1,200.00").first).to_be_visible()  # the unsent payment, £250 less
    scan(page, platform)
    screenshot(page, f"variations-amount-{javascript}")

    page.get_by_role("link", name="Record a repayment").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Record a repayment")
    scan(page, platform)
    page.get_by_label("Amount paid back").fill("6000")  # more than the £5,800 paid
    page.get_by_label("Why did the group pay it back?").fill("Unspent at the end of the project")
    page.get_by_role("button", name="Record the repayment").click()
    expect(page.locator(".nhsuk-error-summary")).to_contain_text("Not recorded")
    scan(page, platform)
    page.get_by_label("Amount paid back").fill("250")
    page.get_by_role("button", name="Record the repayment").click()
    expect(page.locator(".nhsuk-notification-banner")).to_contain_text("The repayment is recorded")

    page.get_by_role("link", name="Change this grant: its amount, its end date, or cancel it").click()
    page.get_by_label("Cancel it").check()
    page.get_by_role("button", name="Change the grant").click()  # not confirmed
    expect(page.locator(".nhsuk-error-summary a[href='#confirm_cancel']")).to_be_visible()
    page.get_by_label("Cancel it").check()
    page.get_by_label("Yes, cancel this grant").check()
    page.get_by_role("button", name="Change the grant").click()
    expect(page.locator(".nhsuk-notification-banner")).to_contain_text("The grant is cancelled")
    expect(page.locator(".nhsuk-tag").first).to_have_text("Cancelled")
    scan(page, platform)
    screenshot(page, f"variations-cancelled-{javascript}")


@pytest.mark.parametrize("javascript", [True, False], ids=["with-javascript", "without-javascript"])
def test_finance_varies_a_grant_records_a_repayment_and_cancels_it(
    browser: Browser, platform: Platform, javascript: bool
) -> None:
    grant = paid_in_part(platform, f"Hillingdon Allotment Friends {'js' if javascript else 'nojs'} varied")
    context = browser.new_context(java_script_enabled=javascript, viewport={"width": 1100, "height": 900})
    context.js_enabled = javascript  # type: ignore[attr-defined]  # read by scan()
    foreign = guarded(context)
    page = context.new_page()
    page.set_default_timeout(15_000)
    try:
        vary(page, platform, grant, javascript)
    finally:
        context.close()
    assert foreign == [], f"pages asked other hosts: {foreign}"
