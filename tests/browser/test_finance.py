"""Finance in the browser: the finance officer finds an accepted grant, sees its bank account only
masked and its first payment sent, follows the payments and a programme's budget, and is told
plainly when a payment they try again is not failed. Every page passes axe.

The grant is made through the services' APIs, as the people before finance would make it (their
pages belong to other parts of the portal): a group applies, the panel scores, the manager awards,
the group accepts with its bank details.
"""

from typing import Any
from uuid import uuid4

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from grants_shared.dev.journey import PANEL, Journey
from grants_shared.settings import ServiceSettings
from tests.browser.conftest import Platform, scan, screenshot, sign_in

ACCOUNT = {"account_name": "Hillingdon Allotment Friends", "sort_code": "40-47-84", "account_number": "31926819"}
AWARD = 725_000  # £7,250: the demo programme pays 80% on acceptance (£5,800) and 20% after 180 days (£1,450)


def services(platform: Platform) -> Journey:
    """The services' HTTP APIs, called with development tokens as each person would call them."""
    return Journey(platform.urls, ServiceSettings(prefix=platform.prefix), say=lambda _: None)


def submitted_application(apis: Journey, programme: dict[str, Any], name: str, area: str) -> tuple[str, dict]:
    """A made-up group with a profile submits an application to the demo programme."""
    suffix = uuid4().hex[:8]
    organisation_id = f"org-{suffix}"
    applicant = apis.as_(f"grantee-{suffix}", "applicant", organisations=(organisation_id,), name="Jo Bell",
                         email=f"grantee-{suffix}@example.org")  # fmt: skip
    apis.call("PUT", "applications", f"/v1/organisations/{organisation_id}", applicant, expect=201, json={
        "name": f"{name} {suffix}", "kind": "community_group", "area": area,
        "annual_income": {"amount": 3_000_000, "currency": "GBP"},
    })  # fmt: skip
    draft = apis.call("POST", "applications", "/v1/applications", applicant, expect=201, json={
        "programme_id": programme["id"], "organisation_id": organisation_id, "title": "Growing together",
        "summary": "A weekly allotment session where people at risk of isolation grow food and talk.",
        "amount_requested": {"amount": AWARD, "currency": "GBP"},
    }).json()  # fmt: skip
    submitted = apis.call("POST", "applications", f"/v1/applications/{draft['id']}/submit", applicant).json()
    assert submitted["status"] == "submitted", submitted
    return draft["id"], applicant


def assigned_reviews(apis: Journey, application_id: str) -> list[tuple[str, str]] | None:
    """(review id, reviewer) of each panel member scoring the application, once scoring has assigned them."""
    found = []
    for reviewer in PANEL:
        listed = apis.call("GET", "scoring", "/v1/reviews", apis.as_(reviewer, "reviewer")).json()["items"]
        found += [(r["id"], reviewer) for r in listed
                  if r["application_id"] == application_id and r["status"] != "cancelled"]  # fmt: skip
    return found if len(found) >= 2 else None


@pytest.fixture(scope="module")
def grant(platform: Platform) -> dict[str, Any]:
    apis = services(platform)
    programme = platform.programme
    application_id, applicant = submitted_application(apis, programme, "Hillingdon Allotment Friends", "Hillingdon")
    for review_id, reviewer in apis.until("reviewers to be assigned", lambda: assigned_reviews(apis, application_id)):
        token = apis.as_(reviewer, "reviewer")
        current = apis.call("GET", "scoring", f"/v1/reviews/{review_id}", token)
        sheet = {c["key"]: {"score": 4, "comment": "A clear plan, led by people who know the community."}
                 for c in programme["criteria"]}  # fmt: skip
        apis.call("PUT", "scoring", f"/v1/reviews/{review_id}/scores", {**token, "If-Match": current.headers["etag"]},
                  json={"scores": sheet})  # fmt: skip
        apis.call("POST", "scoring", f"/v1/reviews/{review_id}/submit", token)
    manager = apis.as_("maya-manager", "programme_manager")

    def scored() -> bool:
        # Scoring hears of the last review through an event: until then it may not know the application.
        response = apis.http.get(f"{platform.urls['scoring']}/v1/applications/{application_id}", headers=manager)
        return response.status_code == 200 and response.json()["status"] == "scored"

    apis.until("the application to be scored", scored)
    # The demo programme's panel decides in a meeting: every member recommends the award.
    award = {"recommendation": "fund_different_amount", "amount": {"amount": AWARD, "currency": "GBP"}}
    apis.panel_decides(programme["id"], application_id, {member: award for member in PANEL}, feedback="Well made.")

    def offered() -> dict[str, Any] | None:
        grants = apis.call("GET", "disbursement", "/v1/grants", applicant).json()["items"]
        return next((g for g in grants if g["application_id"] == application_id and g["status"] == "offered"), None)

    offer = apis.until("the grant offer", offered)
    apis.call("POST", "disbursement", f"/v1/grants/{offer['id']}/accept", applicant, json={"bank_account": ACCOUNT})
    finance = apis.as_("femi-finance", "finance_officer")

    def paid() -> list[dict[str, Any]] | None:
        payments = apis.call("GET", "disbursement", "/v1/payments", finance, params={"grant_id": offer["id"]}).json()
        return payments["items"] if any(p["status"] == "sent" for p in payments["items"]) else None

    payments = sorted(apis.until("the first payment to be sent", paid), key=lambda p: p["sequence"])
    return {"id": offer["id"], "reference": offer["id"][:8].upper(), "payments": payments}


def test_the_finance_officer_sees_the_grant_its_masked_account_and_the_payment_sent(
    page: Page, platform: Platform, grant: dict[str, Any]
) -> None:
    portal, reference = platform.portal, grant["reference"]
    sign_in(page, platform, "Femi Adeyemi")
    expect(page.get_by_role("heading", level=1)).to_have_text("Grants")
    scan(page, platform)
    page.get_by_label("Show grants that are").select_option(label="Accepted, being paid")
    page.get_by_role("button", name="Show grants").click()
    row = page.get_by_role("row").filter(has=page.get_by_role("link", name=f"Grant {reference}"))
    expect(row).to_contain_text("£7,250.00")
    expect(row).to_contain_text(platform.programme["name"])
    expect(row.locator(".nhsuk-tag")).to_have_text("Offer accepted")
    scan(page, platform)
    screenshot(page, "finance-grants")

    page.get_by_role("link", name=f"Grant {reference}").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Grant {reference}")
    expect(page.locator(".nhsuk-summary-list")).to_contain_text(["£7,250.00", "****6819"])
    expect(page.get_by_text("**-**-84")).to_be_visible()
    # The API shows the account masked; the portal never has more to show.
    html = page.content()
    assert ACCOUNT["account_number"] not in html and "404784" not in html and ACCOUNT["sort_code"] not in html
    first, second = (page.get_by_role("row").filter(has_text=amount) for amount in ("£5,800.00", "£1,450.00"))
    expect(first.locator(".nhsuk-tag")).to_have_text("Sent")
    expect(first).to_contain_text(grant["payments"][0]["provider_reference"])
    expect(second.locator(".nhsuk-tag")).to_have_text("Scheduled")
    expect(page.locator("ol").get_by_text("Offer accepted")).to_be_visible()
    expect(page.get_by_role("link", name="Try this payment again")).to_have_count(0)  # nothing has failed
    scan(page, platform)
    screenshot(page, "finance-grant")

    page.get_by_role("link", name="Grants", exact=True).click()
    page.get_by_role("link", name="Payments").click()
    page.get_by_label("Show payments that are").select_option(label="Sent")
    page.get_by_role("button", name="Show payments").click()
    sent = page.get_by_role("row").filter(has=page.get_by_role("link", name=f"Grant {reference}"))
    expect(sent).to_contain_text("£5,800.00")
    expect(sent.locator(".nhsuk-tag")).to_have_text("Sent")
    scan(page, platform)
    screenshot(page, "finance-payments")
    page.get_by_label("Show payments that are").select_option(label="Failed")
    page.get_by_role("button", name="Show payments").click()
    expect(page.get_by_text("There are no payments to show that are failed")).to_be_visible()
    scan(page, platform)

    page.get_by_role("link", name="Programme budgets").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Programme budgets")
    scan(page, platform)
    page.get_by_role("link", name=f"Budget of {platform.programme['name']}").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Budget")
    ledger = page.locator(".nhsuk-summary-list")
    expect(ledger).to_contain_text("£250,000.00")  # the demo programme's budget
    expect(ledger.locator(".nhsuk-summary-list__row").filter(has_text="Paid out")).not_to_contain_text("£0.00")
    scan(page, platform)
    screenshot(page, "finance-ledger")
    page.get_by_role("link", name=f"See the grants of {platform.programme['name']}").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Grants of {platform.programme['name']}")
    expect(page.get_by_role("link", name=f"Grant {reference}")).to_be_visible()
    scan(page, platform)

    page.goto(f"{portal}/finance?status=accepted&page=400")  # past the last page: the first, same filter
    expect(page).to_have_url(f"{portal}/finance?status=accepted&page=1")
    expect(page.get_by_label("Show grants that are")).to_have_value("accepted")

    page.goto(f"{portal}/finance/grants/no-such-grant")
    expect(page.get_by_role("heading", level=1)).to_have_text("Page not found")
    scan(page, platform)


def test_trying_again_a_payment_that_has_not_failed_says_so_with_javascript_off(
    no_js_context: BrowserContext, platform: Platform, grant: dict[str, Any]
) -> None:
    # A failed payment needs the simulated provider to decline an account (GRANTS_SIMULATED_DECLINE_ACCOUNTS),
    # which the platform fixture does not set: the refusal is shown for a sent payment instead, as
    # for a payment someone else retried first.
    page = no_js_context.new_page()
    sign_in(page, platform, "Femi Adeyemi")
    sent = grant["payments"][0]
    page.goto(f"{platform.portal}/finance/grants/{grant['id']}/payments/{sent['id']}/retry")
    expect(page.get_by_role("heading", level=1)).to_have_text("Try this payment again?")
    expect(page.locator(".nhsuk-summary-list")).to_contain_text("****6819")
    scan(page, platform)
    page.get_by_role("button", name="Yes, try this payment again").click()
    summary = page.locator(".nhsuk-error-summary")
    expect(summary).to_contain_text("This payment was not tried again: a sent payment cannot be retried")
    expect(page.locator("#status .nhsuk-tag")).to_have_text("Sent")
    expect(page.get_by_role("button", name="Yes, try this payment again")).to_have_count(0)
    assert page.title().startswith("Error: Try this payment again?")
    scan(page, platform)
    screenshot(page, "finance-retry-refused")
    summary.get_by_role("link").click()
    expect(page).to_have_url(f"{platform.portal}/finance/grants/{grant['id']}/payments/{sent['id']}/retry#status")
    page.get_by_role("link", name=f"No, go back to grant {grant['reference']}").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Grant {grant['reference']}")
    scan(page, platform)


def test_a_programme_manager_reads_budgets_but_not_grants(page: Page, platform: Platform) -> None:
    sign_in(page, platform, "Maya Patel")
    page.goto(f"{platform.portal}/finance/programmes")
    expect(page.get_by_role("heading", level=1)).to_have_text("Programme budgets")
    expect(page.get_by_role("link", name="Payments")).to_have_count(0)
    scan(page, platform)
    page.get_by_role("link", name=f"Budget of {platform.programme['name']}").click()
    expect(page.locator(".nhsuk-summary-list")).to_contain_text("£250,000.00")
    expect(page.get_by_role("link", name=f"See the grants of {platform.programme['name']}")).to_have_count(0)
    scan(page, platform)
    page.goto(f"{platform.portal}/finance")
    expect(page.get_by_role("heading", level=1)).to_have_text("You cannot use this page")
