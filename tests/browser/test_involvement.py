"""Involvement payments through the portal: the manager sets the programme's involvement policy and
approves or rejects claims, a panel member sees the time recorded from a meeting they attended,
claims it and an expense, chooses how they are paid (with the benefits guidance) and gives bank
details, finance sets the involvement budget, and the member sees the claim paid and their total
for the tax year. Another member takes a voucher for their time, without JavaScript; their expense
is still repaid to their bank: the first account they give refuses it, they are told, finance sees
it and can send it again, and new bank details send it. Every page passes axe."""

from datetime import UTC, datetime

import httpx
from playwright.sync_api import BrowserContext, Page, expect

from grants_shared.dev.journey import PANEL
from tests.browser.conftest import Platform, scan, screenshot, sign_in, sign_out
from tests.browser.test_managing import _call, _headers, _until, scored_application

#: The browser platform's simulated bank declines this account (tests/browser/conftest.py).
REFUSED_ACCOUNT = "40404040"


def _policy_set(platform: Platform, programme_id: str) -> None:
    """The policy the page saved is the one scoring holds."""
    manager = _headers(platform, "maya-manager", "programme_manager")
    policy = _call(platform, "GET", "scoring", f"/v1/programmes/{programme_id}/involvement-policy", manager).json()
    assert (policy["unit"], policy["rate"]["amount"], policy["expenses_allowed"]) == ("session", 7_500, True)


def _meeting_attended(platform: Platform, programme_id: str) -> None:
    """A decision meeting with the whole panel present: each expert by experience has its time."""
    application = scored_application(platform, programme_id, "Peer support on the allotment", 150_000)
    manager = _headers(platform, "maya-manager", "programme_manager")
    _call(platform, "POST", "scoring", f"/v1/programmes/{programme_id}/meetings", manager, json={
        "held_on": datetime.now(UTC).date().isoformat(), "application_ids": [application["id"]], "attendance": PANEL,
    })  # fmt: skip


def _set_policy(page: Page, platform: Platform, programme_id: str) -> None:
    page.goto(f"{platform.portal}/manage/programmes/{programme_id}")
    page.get_by_role("link", name="Involvement payments to panel members: the policy and claims to approve").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Involvement payments")
    scan(page, platform)
    page.get_by_label("Rate", exact=True).fill("")
    page.get_by_role("button", name="Save the involvement policy").click()
    expect(page.locator("#rate-error")).to_contain_text("Enter the rate")
    scan(page, platform)
    page.get_by_label("Per session").check()
    page.get_by_label("Rate", exact=True).fill("75")
    page.get_by_label("A decision meeting counts for").fill("1")
    page.get_by_label("A review counts for").fill("1")
    page.get_by_label("The programme pays members' expenses").check()
    page.get_by_role("button", name="Save the involvement policy").click()
    expect(page.get_by_label("Rate", exact=True)).to_have_value("75.00")


def test_a_member_claims_time_and_expenses_is_approved_and_paid_and_sees_the_tax_year(page: Page, platform: Platform) -> None:
    demo = platform.programme
    sign_in(page, platform, "Maya Patel")
    _set_policy(page, platform, demo["id"])
    _policy_set(platform, demo["id"])
    _meeting_attended(platform, demo["id"])
    sign_out(page, platform)

    sign_in(page, platform, "Amara Nwosu")
    page.goto(f"{platform.portal}/manage")
    page.get_by_role("link", name="Your involvement: time, claims and payments").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Your involvement")
    expect(page.get_by_text("Involvement payments and benefits")).to_be_visible()
    expect(page.get_by_role("link", name="Citizens Advice (benefits)")).to_be_visible()
    time = page.get_by_role("table", name=f"Your time in {demo['name']}")
    expect(time).to_contain_text("Decision meeting on")
    scan(page, platform)
    page.get_by_role("button", name=f"Claim your time in {demo['name']}").click()
    claims = page.get_by_role("table", name=f"Your claims in {demo['name']}")
    expect(claims.get_by_role("row").filter(has_text="Time")).to_contain_text("Waiting for approval")

    page.get_by_role("link", name=f"Claim an expense for {demo['name']}").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Claim an expense")
    page.get_by_role("button", name="Send the claim").click()
    expect(page.locator("#category-error")).to_contain_text("Select what the expense was for")
    expect(page.locator("#amount-error")).to_contain_text("Enter how much you paid")
    scan(page, platform)
    page.get_by_label("Travel").check()
    page.get_by_label("How much you paid").fill("12.50")
    page.get_by_label("A note (optional)").fill("Bus to the decision meeting")
    page.get_by_role("button", name="Send the claim").click()
    expect(claims.get_by_role("row").filter(has_text="Bus to the decision meeting")).to_contain_text("£12.50")

    # how to be paid: by keyboard, and then bank details (refused until complete)
    page.get_by_role("link", name="Change how you are paid").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("How you are paid for your involvement")
    scan(page, platform)
    page.get_by_role("button", name="Save my choice").click()
    expect(page.locator("#choice-error")).to_contain_text("Select how you want to be paid")
    scan(page, platform)
    page.get_by_label("Paid into my bank account").focus()
    page.keyboard.press("Space")
    page.get_by_role("button", name="Save my choice").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Your bank details")
    scan(page, platform)
    page.get_by_label("Name on the account").fill("Amara Nwosu")
    page.get_by_label("Sort code").fill("30-94-30")
    page.get_by_label("Account number").fill("1234")
    page.get_by_role("button", name="Save my bank details").click()
    expect(page.locator("#account_number-error")).to_contain_text("8 digits")
    scan(page, platform)
    page.get_by_label("Account number").fill("00733445")
    page.get_by_role("button", name="Save my bank details").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Your involvement")
    expect(page.get_by_text("sort code **-**-30, account ****3445")).to_be_visible()
    sign_out(page, platform)

    # the manager approves the time and does not approve the expense (a reason is needed)
    sign_in(page, platform, "Maya Patel")
    page.goto(f"{platform.portal}/manage/programmes/{demo['id']}/involvement")
    time_claim = page.locator(".nhsuk-card").filter(has_text="reviewer-amara").filter(has_text="for time")
    time_claim.get_by_label("Approve", exact=True).check()
    time_claim.get_by_role("button").click()
    expense = page.locator(".nhsuk-card").filter(has_text="reviewer-amara").filter(has_text="for travel")
    expense.get_by_label("Do not approve", exact=True).check()
    expense.get_by_role("button").click()
    expect(page.get_by_text("Give a reason when you do not approve a claim.")).to_be_visible()
    scan(page, platform)
    expense = page.locator(".nhsuk-card").filter(has_text="reviewer-amara").filter(has_text="for travel")
    expense.get_by_label("Do not approve", exact=True).check()
    expense.get_by_label("Reason, if you do not approve").fill("The venue paid everyone's fares that day.")
    expense.get_by_role("button").click()
    decided = page.get_by_role("table", name="Claims decided")
    expect(decided.get_by_role("row").filter(has_text="Travel")).to_contain_text("Not approved")
    expect(decided.get_by_role("row").filter(has_text="Time").first).to_contain_text("Approved")
    screenshot(page, "manager-involvement")
    sign_out(page, platform)

    # finance sets the involvement budget; the approved claim is then paid
    sign_in(page, platform, "Femi Adeyemi")
    page.goto(f"{platform.portal}/finance/programmes/{demo['id']}/ledger")
    page.get_by_role("link", name=f"The involvement budget of {demo['name']} (payments to panel members)").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Involvement budget")
    scan(page, platform)
    page.get_by_label("Involvement budget in all").fill("lots")
    page.get_by_role("button", name="Save the involvement budget").click()
    expect(page.locator("#total-error")).to_contain_text("as a number")
    scan(page, platform)
    page.get_by_label("Involvement budget in all").fill("2000")
    page.get_by_role("button", name="Save the involvement budget").click()
    expect(page.get_by_text("Still available")).to_be_visible()
    sign_out(page, platform)

    sign_in(page, platform, "Amara Nwosu")
    page.goto(f"{platform.portal}/panel/involvement")

    def paid() -> bool | None:
        page.reload()
        return True if page.get_by_text("Paid into the bank account").count() else None

    _until("the time claim to be paid", paid)
    years = page.get_by_role("table", name="Paid to you or issued as vouchers, by tax year")
    expect(years.get_by_role("row").nth(1)).to_contain_text("6 April")
    expect(years.get_by_role("row").nth(1)).to_contain_text("5 April")
    expect(page.get_by_role("table", name=f"Your claims in {demo['name']}")).to_contain_text(
        "Not approved: The venue paid everyone's fares that day.")
    scan(page, platform)
    screenshot(page, "member-involvement")


def test_a_member_takes_a_voucher_and_claims_without_javascript(no_js_context: BrowserContext, platform: Platform) -> None:
    demo = platform.programme
    manager = _headers(platform, "maya-manager", "programme_manager")
    page = no_js_context.new_page()
    page.set_default_timeout(15_000)
    policy = httpx.get(f"{platform.urls['scoring']}/v1/programmes/{demo['id']}/involvement-policy", headers=manager)
    if policy.status_code == 404:  # this test run on its own
        sign_in(page, platform, "Maya Patel")
        _set_policy(page, platform, demo["id"])
        sign_out(page, platform)

    sign_in(page, platform, "Ben Carter")
    page.goto(f"{platform.portal}/panel/involvement/payment-choice")
    page.get_by_label("A voucher instead of money").check()
    page.get_by_role("button", name="Save my choice").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Your involvement")
    expect(page.get_by_text("A voucher instead of money")).to_be_visible()
    scan(page, platform)
    page.goto(f"{platform.portal}/panel/involvement/programmes/{demo['id']}/expense")
    page.get_by_label("Childcare").check()
    page.get_by_label("How much you paid").fill("30")
    page.get_by_label("Day").fill("31")
    page.get_by_label("Month").fill("2")
    page.get_by_role("button", name="Send the claim").click()
    expect(page.locator("#spent-error")).to_contain_text("real date")
    scan(page, platform)
    page.get_by_label("Day").fill("1")
    page.get_by_role("button", name="Send the claim").click()
    claims = page.get_by_role("table", name=f"Your claims in {demo['name']}")
    expect(claims.get_by_role("row").filter(has_text="Childcare")).to_contain_text("£30.00")
    sign_out(page, platform)

    sign_in(page, platform, "Maya Patel")
    page.goto(f"{platform.portal}/manage/programmes/{demo['id']}/involvement")
    card = page.locator(".nhsuk-card").filter(has_text="reviewer-ben").filter(has_text="for childcare")
    card.get_by_label("Approve", exact=True).check()
    card.get_by_role("button").click()
    expect(page.get_by_role("table", name="Claims decided").get_by_role("row").filter(has_text="Childcare")).to_contain_text("Approved")
    scan(page, platform)
    sign_out(page, platform)

    # A voucher needs budget too: the first test's, or this one's.
    finance = _headers(platform, "femi-finance", "finance_officer")
    budget = httpx.get(f"{platform.urls['disbursement']}/v1/programmes/{demo['id']}/involvement-budget",
                       headers=finance).json()  # fmt: skip
    if budget["total"] is None:
        _call(platform, "PUT", "disbursement", f"/v1/programmes/{demo['id']}/involvement-budget", finance,
              json={"total": {"amount": 200_000, "currency": "GBP"}})  # fmt: skip
    sign_in(page, platform, "Ben Carter")

    # expenses are repaid to the bank whatever the member chose for their time
    page.goto(f"{platform.portal}/panel/involvement")
    expect(page.get_by_text("£30.00 (expenses): Waiting for your bank details")).to_be_visible()
    page.goto(f"{platform.portal}/panel/involvement/bank-details")
    page.get_by_label("Name on the account").fill("Ben Carter")
    page.get_by_label("Sort code").fill("30-94-30")
    page.get_by_label("Account number").fill(REFUSED_ACCOUNT)  # the simulated bank refuses it
    page.get_by_role("button", name="Save my bank details").click()

    def refused() -> bool | None:
        page.goto(f"{platform.portal}/panel/involvement")
        return True if page.get_by_text("£30.00 (expenses): Not accepted by the bank").count() else None

    _until("the bank to refuse the expense", refused)
    scan(page, platform)

    def told() -> bool | None:
        page.goto(f"{platform.portal}/inbox")
        return True if page.get_by_text("We could not pay £30.00 into your bank account").count() else None

    _until("the member to be told", told)
    sign_out(page, platform)

    sign_in(page, platform, "Femi Adeyemi")
    page.goto(f"{platform.portal}/finance/programmes/{demo['id']}/involvement-budget")
    row = page.get_by_role("row").filter(has_text="Not accepted by the bank")
    expect(row.get_by_role("button", name="Send again")).to_be_visible()
    scan(page, platform)
    sign_out(page, platform)

    sign_in(page, platform, "Ben Carter")
    page.goto(f"{platform.portal}/panel/involvement")
    page.get_by_role("link", name="Check your bank details").click()
    page.get_by_label("Name on the account").fill("Ben Carter")
    page.get_by_label("Sort code").fill("30-94-30")
    page.get_by_label("Account number").fill("00733445")
    page.get_by_role("button", name="Save my bank details").click()

    def repaid() -> bool | None:
        page.goto(f"{platform.portal}/panel/involvement")
        return True if page.get_by_text("£30.00 (expenses): Paid into the bank account").count() else None

    _until("the expense to be repaid", repaid)
    scan(page, platform)
