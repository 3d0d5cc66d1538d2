"""Finance in control of the money, in the browser: the finance officer holds an accepted grant (its
payment leaves the run it was gathered into and nothing is sent), releases it, gathers the payments
due into a run and approves it; only then is the payment sent. With and without JavaScript; every
page passes axe."""

import pytest
from playwright.sync_api import Browser, expect

from tests.browser.conftest import Platform, guarded, scan, screenshot, sign_in
from tests.browser.test_finance import accepted_grant, services


@pytest.mark.parametrize("javascript", [True, False], ids=["with-javascript", "without-javascript"])
def test_finance_holds_releases_and_approves_before_anything_is_sent(
    browser: Browser, platform: Platform, javascript: bool
) -> None:
    offer = accepted_grant(platform, f"Ealing Walking Group {'js' if javascript else 'nojs'}", "Ealing")
    context = browser.new_context(java_script_enabled=javascript, viewport={"width": 1100, "height": 900})
    context.js_enabled = javascript  # type: ignore[attr-defined]  # read by scan()
    foreign = guarded(context)
    page = context.new_page()
    page.set_default_timeout(15_000)
    try:
        sign_in(page, platform, "Femi Adeyemi")
        page.goto(f"{platform.portal}/finance/grants/{offer['id']}")
        page.get_by_role("button", name="Hold this grant").click()
        expect(page.locator(".nhsuk-notification-banner")).to_contain_text("Grant held")
        expect(page.get_by_role("heading", name="Finance is holding this grant")).to_be_visible()
        expect(page.locator("td .nhsuk-tag", has_text="On hold").first).to_be_visible()
        scan(page, platform)
        screenshot(page, f"payment-runs-held-{javascript}")

        page.goto(f"{platform.portal}/finance/payment-runs")
        page.get_by_role("button", name="Gather the payments due now").click()
        expect(page.locator(".nhsuk-notification-banner")).to_be_visible()
        runs = services(platform).call("GET", "disbursement", "/v1/payment-runs",
                                       services(platform).as_("femi-finance", "finance_officer")).json()["items"]
        held_payments = [p["id"] for p in services(platform).call(
            "GET", "disbursement", "/v1/payments", services(platform).as_("femi-finance", "finance_officer"),
            params={"grant_id": offer["id"]}).json()["items"]]  # fmt: skip
        assert not any(pid in run["payment_ids"] for run in runs for pid in held_payments)  # held: in no run

        page.goto(f"{platform.portal}/finance/grants/{offer['id']}")
        page.get_by_role("button", name="Release this grant").click()
        expect(page.locator(".nhsuk-notification-banner")).to_contain_text("Grant released")
        expect(page.locator("td .nhsuk-tag", has_text="Scheduled").first).to_be_visible()

        page.goto(f"{platform.portal}/finance/payment-runs")
        page.get_by_role("button", name="Gather the payments due now").click()
        page.get_by_role("button", name="Show runs").click()
        page.locator("table a").last.click()
        expect(page.get_by_role("link", name=f"Grant {offer['id'][:8].upper()}")).to_be_visible()
        expect(page.get_by_text("By approving you confirm")).to_be_visible()
        scan(page, platform)
        page.get_by_role("button", name="Approve this run").click()
        expect(page.locator(".nhsuk-notification-banner")).to_be_visible()
        screenshot(page, f"payment-runs-approved-{javascript}")
        if page.get_by_role("button", name="Download the bank file").count():  # approved by this officer alone
            # This platform pays through the simulated provider: a bank file as well would pay twice.
            page.get_by_label("CSV: payee, sort code, account, amount, reference").check()
            page.get_by_role("button", name="Download the bank file").click()
            summary = page.locator(".nhsuk-error-summary")
            expect(summary).to_contain_text("No bank file: payments are sent through the payment provider's API")
            expect(summary.locator('a[href="#format"]')).to_be_visible()
            scan(page, platform)

        # A run holding other tests' payments too may need a second officer: the driver adds it (or
        # finds the run approved already).
        services(platform).approve_payment_run(offer["id"])
        page.goto(f"{platform.portal}/finance/grants/{offer['id']}")
        for _ in range(60):
            if page.locator("td .nhsuk-tag", has_text="Sent").count():
                break
            page.wait_for_timeout(500)
            page.reload()
        expect(page.locator("td .nhsuk-tag", has_text="Sent").first).to_be_visible()
        history = page.locator("ol")
        expect(history.get_by_text("Held by finance").first).to_be_visible()
        expect(history.get_by_text("Released by finance").first).to_be_visible()
        scan(page, platform)
    finally:
        context.close()
    assert foreign == [], f"pages asked other hosts: {foreign}"
