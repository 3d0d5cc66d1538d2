"""A programme's settings for after the award, in the browser: from the programme's page a manager
sees them not set, sets the offer terms (after the error summary names the template the payments
service refuses), puts together a monitoring policy of two reports and a question of the programme's
own (adding and removing rows without JavaScript) and sets the second tranche to wait for the midway
report; reads them all back. A save over someone else's change shows that it changed, with what is
saved now. The offer terms form is used by keyboard alone; a finance officer is not shown the pages;
every page passes axe. Then a grant offered in that programme carries the terms, and the manager's view
of its application links to the grant's conditions.

The programme and the award are made through the services' APIs, as the people before would make them."""

from typing import Any
from uuid import uuid4

from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import Platform, guarded, scan, screenshot, sign_in, sign_out
from tests.browser.test_finance import services
from tests.browser.test_offers import a_programme_of_its_own, offered_grant

TERMS = "$programme_name offers your group $amount, paid $schedule.\nAccept by $expires_on, quoting $grant_reference."
LINK = "After the award: offer terms, monitoring and tranches"


def _open_programme(platform: Platform) -> dict[str, Any]:
    apis = services(platform)
    programme = a_programme_of_its_own(apis, f"Carers' wellbeing fund {uuid4().hex[:6]}")
    manager = apis.as_("maya-manager", "programme_manager")
    apis.until("disbursement to hear the programme opened", lambda: apis.http.get(
        f"{platform.urls['disbursement']}/v1/programmes/{programme['id']}/offer-terms", headers=manager).status_code == 200)  # fmt: skip
    return programme


def _settings_page(page: Page, platform: Platform, programme: dict[str, Any]) -> None:
    page.goto(f"{platform.portal}/manage/programmes/{programme['id']}")
    scan(page, platform)  # the programme's page, with its new link
    page.get_by_role("link", name=LINK).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(LINK)


def _set_terms_by_keyboard(page: Page, template: str) -> None:
    page.get_by_label("The terms").focus()
    page.keyboard.press("Control+A")
    page.keyboard.type(template)
    page.keyboard.press("Tab")  # days an offer stays open
    page.keyboard.press("Control+A")
    page.keyboard.type("21")
    page.keyboard.press("Tab")  # days before it closes the group is reminded
    page.keyboard.press("Control+A")
    page.keyboard.type("5")
    page.keyboard.press("Tab")  # the save button
    page.keyboard.press("Enter")


def _add_report(page: Page, name: str, days: str) -> None:
    page.get_by_label("Report name").fill(name)
    page.get_by_label("Due this many days after the offer is accepted").fill(days)
    page.get_by_role("button", name="Add this report").click()


def test_a_manager_sets_the_offer_terms_monitoring_and_tranches(page: Page, platform: Platform) -> None:
    programme = _open_programme(platform)
    base = f"{platform.portal}/manage/programmes/{programme['id']}/after-award"
    sign_in(page, platform, "Maya Patel")
    _settings_page(page, platform, programme)
    expect(page.get_by_text("Not set: the standard terms")).to_be_visible()
    expect(page.get_by_text("Not set: grants owe no monitoring reports.")).to_be_visible()
    expect(page.get_by_text("Not set: each payment is made when it is due")).to_be_visible()
    scan(page, platform)

    # The offer terms: a placeholder the grant has no value for is refused by disbursement, and named.
    page.get_by_role("link", name="Change the offer terms").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Offer terms")
    scan(page, platform)
    page.get_by_label("The terms").fill("Pay $amount into $bank_account.")
    page.get_by_role("button", name="Save the offer terms").click()
    summary = page.locator(".nhsuk-error-summary")
    expect(summary.locator('a[href="#template"]')).to_contain_text("unknown placeholders: bank_account")
    scan(page, platform)
    screenshot(page, "award-settings-terms-error")
    _set_terms_by_keyboard(page, TERMS)  # keyboard alone, from the first field to the save button
    expect(page.get_by_text("The offer terms are saved.")).to_be_visible()
    expect(page.get_by_text("$programme_name offers your group $amount, paid $schedule.")).to_be_visible()
    expect(page.locator(".nhsuk-summary-list")).to_contain_text("21 days")
    expect(page.locator(".nhsuk-summary-list")).to_contain_text("5 days before the offer closes")
    expect(page.locator(".nhsuk-summary-list")).to_contain_text("By maya-manager")

    # The monitoring policy, a step at a time: three reports added, one removed, a question of its own.
    page.get_by_role("link", name="Change the monitoring reports").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Monitoring reports")
    scan(page, platform)
    _add_report(page, "End of grant report", "365")
    _add_report(page, "Quarterly check-in", "90")
    _add_report(page, "Midway report", "90")  # the same day as another: refused, beside the field
    expect(page.locator(".nhsuk-error-summary a[href='#report_days']")).to_be_visible()
    scan(page, platform)
    page.get_by_label("Due this many days after the offer is accepted").fill("180")
    page.get_by_role("button", name="Add this report").click()
    rows = page.locator("table tbody tr")
    expect(rows).to_have_count(3)
    expect(rows.nth(0)).to_contain_text("Quarterly check-in")  # kept in the order they fall due
    page.get_by_role("button", name="Remove the report: Quarterly check-in").click()
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text("Midway report")
    page.get_by_label("Question", exact=True).fill("How many carers took part?")
    page.get_by_label("Kind of answer").select_option("number")
    page.get_by_role("button", name="Add this question").click()
    expect(page.get_by_text("How many carers took part?")).to_be_visible()
    scan(page, platform)
    # A reminder later than a report is due: the payments service's rule, shown in the error summary.
    page.get_by_label("Days before each report is due the group is reminded").fill("200")
    page.get_by_role("button", name="Save the monitoring policy").click()
    expect(page.locator(".nhsuk-error-summary a[href='#reports']")).to_contain_text("due after its reminder")
    expect(rows).to_have_count(2)  # nothing lost
    scan(page, platform)
    page.get_by_label("Days before each report is due the group is reminded").fill("14")
    page.get_by_role("button", name="Save the monitoring policy").click()
    expect(page.get_by_text("The monitoring policy is saved.")).to_be_visible()
    reports = page.locator("table tbody tr")
    expect(reports.nth(0)).to_contain_text("Midway report")
    expect(reports.nth(0)).to_contain_text("180 days after the offer is accepted")
    expect(reports.nth(1)).to_contain_text("End of grant report")
    expect(page.get_by_text("The group is reminded 14 days before each is due.")).to_be_visible()
    expect(page.get_by_text("How many carers took part?")).to_be_visible()

    # The tranche policy: the second payment waits for the midway report.
    page.get_by_role("link", name="Change what each tranche waits for").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("What each tranche waits for")
    scan(page, platform)
    page.locator("#tranche-2-report").select_option("Midway report")
    page.get_by_role("button", name="Save what the tranches wait for").click()
    expect(page.get_by_text("The tranche policy is saved.")).to_be_visible()
    expect(page.get_by_text("Payment 2 waits for the report “Midway report” to be accepted")).to_be_visible()
    scan(page, platform)
    screenshot(page, "award-settings-set")

    # What the services hold is what the page showed.
    apis = services(platform)
    manager = apis.as_("maya-manager", "programme_manager")
    held = apis.call("GET", "disbursement", f"/v1/programmes/{programme['id']}/monitoring-policy", manager).json()
    assert [(p["name"], p["due_after_days"]) for p in held["points"]] == [("Midway report", 180),
                                                                          ("End of grant report", 365)]  # fmt: skip
    assert [q["label"] for q in held["questions"]] == ["How many carers took part?"]
    tranches = apis.call("GET", "disbursement", f"/v1/programmes/{programme['id']}/tranche-policy", manager).json()
    assert tranches["requirements"] == [{"sequence": 2, "report": "Midway report", "condition": None}]

    # Someone else saves the terms while this form is open: this save is refused, and says so.
    page.goto(f"{base}/offer-terms")
    apis.call("PUT", "disbursement", f"/v1/programmes/{programme['id']}/offer-terms",
              apis.as_("sam-other-manager", "programme_manager"),
              json={"template": "$programme_name: $amount.", "acceptance_days": 30, "reminder_days": 7})  # fmt: skip
    page.get_by_label("Days an offer stays open").fill("40")
    page.get_by_role("button", name="Save the offer terms").click()
    expect(page.locator(".nhsuk-error-summary")).to_contain_text("Someone changed the offer terms since you read them")
    expect(page.get_by_label("The terms")).to_have_value("$programme_name: $amount.")  # what is saved now
    expect(page.get_by_label("Days an offer stays open")).to_have_value("30")
    scan(page, platform)
    screenshot(page, "award-settings-stale")
    # Saved again from what is there now, it goes through.
    page.get_by_label("Days an offer stays open").fill("40")
    page.get_by_role("button", name="Save the offer terms").click()
    expect(page.get_by_text("The offer terms are saved.")).to_be_visible()
    expect(page.locator(".nhsuk-summary-list").first).to_contain_text("40 days")

    # The same for the monitoring policy and the tranche policy.
    for path, button, what in (("monitoring", "Save the monitoring policy", "the monitoring policy"),
                               ("tranches", "Save what the tranches wait for", "the tranche policy")):  # fmt: skip
        page.goto(f"{base}/{path}")
        setting = "monitoring-policy" if path == "monitoring" else "tranche-policy"
        current = apis.call("GET", "disbursement", f"/v1/programmes/{programme['id']}/{setting}", manager).json()
        body = ({"points": current["points"], "reminder_days": 7, "questions": current["questions"]} if path == "monitoring"
                else {"requirements": [{"sequence": 2, "condition": "Safeguarding policy checked"}]})  # fmt: skip
        apis.call("PUT", "disbursement", f"/v1/programmes/{programme['id']}/{setting}", manager, json=body)
        page.get_by_role("button", name=button).click()
        expect(page.locator(".nhsuk-error-summary")).to_contain_text(f"Someone changed {what} since you read them")
        scan(page, platform)
    expect(page.locator("#tranche-2-condition")).to_have_value("Safeguarding policy checked")

    # The midway report is dropped from the monitoring policy while the tranche form is open: the
    # payments service refuses a tranche waiting for it, and the error summary names that tranche.
    page.goto(f"{base}/tranches")
    page.locator("#tranche-1-report").select_option("Midway report")
    current = apis.call("GET", "disbursement", f"/v1/programmes/{programme['id']}/monitoring-policy", manager).json()
    apis.call("PUT", "disbursement", f"/v1/programmes/{programme['id']}/monitoring-policy", manager,
              json={"points": [current["points"][1]], "reminder_days": 7, "questions": current["questions"]})  # fmt: skip
    page.get_by_role("button", name="Save what the tranches wait for").click()
    expect(page.locator(".nhsuk-error-summary a[href='#tranche-1-report']")).to_contain_text("no report named")
    expect(page.locator("#tranche-1-report")).to_have_value("Midway report")  # as chosen, marked no longer asked for
    scan(page, platform)
    sign_out(page, platform)

    # A finance officer may read the settings through the API but not set them: the portal shows them neither.
    sign_in(page, platform, "Femi Adeyemi")
    answer = page.goto(base)
    assert answer is not None and answer.status == 403
    expect(page.get_by_role("link", name="Change the offer terms")).to_have_count(0)


def test_without_javascript_a_report_is_added_and_removed(browser: Browser, platform: Platform) -> None:
    programme = _open_programme(platform)
    context = browser.new_context(java_script_enabled=False, viewport={"width": 1100, "height": 900})
    context.js_enabled = False  # type: ignore[attr-defined]  # read by scan()
    foreign = guarded(context)
    try:
        page = context.new_page()
        sign_in(page, platform, "Maya Patel")
        page.goto(f"{platform.portal}/manage/programmes/{programme['id']}/after-award/monitoring")
        _add_report(page, "Midway report", "120")
        _add_report(page, "Final report", "300")
        expect(page.locator("table tbody tr")).to_have_count(2)
        page.get_by_role("button", name="Remove the report: Final report").click()
        expect(page.locator("table tbody tr")).to_have_count(1)
        scan(page, platform)
        page.get_by_role("button", name="Save the monitoring policy").click()
        expect(page.get_by_text("The monitoring policy is saved.")).to_be_visible()
        expect(page.locator("table tbody tr")).to_have_count(1)
        scan(page, platform)
    finally:
        context.close()
    assert foreign == []


def test_an_offer_carries_the_terms_set_and_the_application_links_to_its_grant(
    page: Page, platform: Platform
) -> None:
    programme = _open_programme(platform)
    sign_in(page, platform, "Maya Patel")
    page.goto(f"{platform.portal}/manage/programmes/{programme['id']}/after-award/offer-terms")
    page.get_by_label("The terms").fill("$programme_name offers your group $amount. Carers first: accept by $expires_on.")
    page.get_by_role("button", name="Save the offer terms").click()
    expect(page.get_by_text("The offer terms are saved.")).to_be_visible()
    sign_out(page, platform)

    grant = offered_grant(platform, f"Carers' cafe {uuid4().hex[:6]}", programme=programme)
    sign_in(page, platform, "Priya Shah")
    page.goto(f"{platform.portal}/grants/{grant['id']}")
    expect(page.get_by_text("Carers first: accept by").first).to_be_visible()
    sign_out(page, platform)

    sign_in(page, platform, "Maya Patel")
    page.goto(f"{platform.portal}/manage/applications/{grant['application_id']}")
    page.get_by_role("link", name="The grant's conditions and what its payments wait for").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("The grant's conditions")
    scan(page, platform)
