"""A grantee's answer to an offer in the browser: the offer shows its terms and the day it lapses; the
signatory declines it with a reason, after the error summary has pointed at every missing answer, by
keyboard and without JavaScript too. Every page passes axe.

The award is made through the services' APIs, as the people before the grantee would make it."""

import re
from typing import Any
from uuid import uuid4

import pytest
from playwright.sync_api import Browser, Page, expect

from grants_shared.dev.journey import DECISION_RULE, PANEL, Journey, demo_programme
from tests.browser.conftest import Platform, guarded, scan, screenshot, sign_in
from tests.browser.test_finance import assigned_reviews, services

ORGANISATION = "org-brent-young-minds"  # Priya Shah's, in the demo programme's sign-in list
AWARD = 410_000


def a_programme_of_its_own(apis: Journey, name: str) -> dict[str, Any]:
    """A programme like the demo one: an organisation may apply to a programme only once, and each run
    of the test needs an open offer of its own for the same demo person's organisation."""
    manager = apis.as_("maya-manager", "programme_manager")
    created = apis.call("POST", "applications", "/v1/programmes", manager, expect=201,
                        json={**demo_programme(), "name": name}).json()  # fmt: skip
    opened = apis.call("POST", "applications", f"/v1/programmes/{created['id']}/open", manager).json()
    apis.until("scoring to hear the programme opened", lambda: apis.http.get(
        f"{apis.urls['scoring']}/v1/programmes/{opened['id']}", headers=manager).status_code == 200)
    apis.set_decision_rule(opened["id"], DECISION_RULE)
    return opened


def offered_grant(platform: Platform, title: str, programme: dict[str, Any] | None = None) -> dict[str, Any]:
    """An offer to Priya Shah's group, in a programme of its own (or in ``programme``, open already)."""
    apis = services(platform)
    programme = programme or a_programme_of_its_own(apis, f"Bereavement support fund {uuid4().hex[:6]}")
    applicant = apis.as_("priya-brent", "applicant", organisations=(ORGANISATION,), name="Priya Shah",
                         email="priya@brent.example")  # fmt: skip
    profile = f"/v1/organisations/{ORGANISATION}"
    if apis.http.get(f"{platform.urls['applications']}{profile}", headers=applicant).status_code == 404:
        # Made once in the session (by whichever test needs it first); changing it would need If-Match.
        apis.call("PUT", "applications", profile, applicant, expect=201, json={
            "name": "Brent Young Minds", "kind": "community_group", "area": "Brent",
            "annual_income": {"amount": 3_000_000, "currency": "GBP"},
        })  # fmt: skip
    draft = apis.call("POST", "applications", "/v1/applications", applicant, expect=201, json={
        "programme_id": programme["id"], "organisation_id": ORGANISATION, "title": title,
        "summary": "Peer support for young people after a bereavement by suicide.",
        "amount_requested": {"amount": AWARD, "currency": "GBP"},
    }).json()  # fmt: skip
    application_id = draft["id"]
    apis.call("POST", "applications", f"/v1/applications/{application_id}/submit", applicant)
    for review_id, reviewer in apis.until("reviewers to be assigned", lambda: assigned_reviews(apis, application_id)):
        token = apis.as_(reviewer, "reviewer")
        current = apis.call("GET", "scoring", f"/v1/reviews/{review_id}", token)
        sheet = {c["key"]: {"score": 4, "comment": "Well grounded in the community."} for c in programme["criteria"]}
        apis.call("PUT", "scoring", f"/v1/reviews/{review_id}/scores", {**token, "If-Match": current.headers["etag"]},
                  json={"scores": sheet})  # fmt: skip
        apis.call("POST", "scoring", f"/v1/reviews/{review_id}/submit", token)
    manager = apis.as_("maya-manager", "programme_manager")

    def scored() -> bool:
        response = apis.http.get(f"{platform.urls['scoring']}/v1/applications/{application_id}", headers=manager)
        return response.status_code == 200 and response.json()["status"] == "scored"

    apis.until("the application to be scored", scored)
    # The panel decides in a meeting, as in the demo programme: every member recommends the award.
    award = {"recommendation": "fund_different_amount", "amount": {"amount": AWARD, "currency": "GBP"}}
    apis.panel_decides(programme["id"], application_id, {member: award for member in PANEL}, feedback="Well made.")

    def offered() -> dict[str, Any] | None:
        grants = apis.call("GET", "disbursement", "/v1/grants", applicant).json()["items"]
        return next((g for g in grants if g["application_id"] == application_id and g["status"] == "offered"), None)

    return apis.until("the grant offer", offered)


def decline_the_offer(page: Page, platform: Platform, grant: dict[str, Any], keyboard: bool) -> None:
    sign_in(page, platform, "Priya Shah")
    page.goto(f"{platform.portal}/grants/{grant['id']}")
    expect(page.get_by_role("heading", name="The terms of the offer")).to_be_visible()
    expect(page.get_by_text("£4,100.00, paid").first).to_be_visible()
    expect(page.get_by_text("must accept or decline this offer by")).to_be_visible()
    scan(page, platform)
    page.get_by_role("link", name="Decline the offer").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Decline your grant offer")
    scan(page, platform)

    page.get_by_role("button", name="Decline the offer").click()  # nothing filled in
    summary = page.locator(".nhsuk-error-summary")
    expect(summary).to_be_visible()
    for field in ("signatory_name", "signatory_position", "reason"):
        expect(summary.locator(f'a[href="#{field}"]')).to_be_visible()
    expect(page).to_have_title(re.compile(r"^Error: "))
    scan(page, platform)
    screenshot(page, "offers-decline-errors")

    if keyboard:
        page.get_by_label("Full name").focus()
        page.keyboard.type("Priya Shah")
        page.keyboard.press("Tab")
        page.keyboard.type("Chair")
        page.keyboard.press("Tab")  # past the hint, into the reason
        page.keyboard.type("Our youth worker left and we cannot run the project this year.")
        page.keyboard.press("Tab")
        page.keyboard.press("Enter")
    else:
        page.get_by_label("Full name").fill("Priya Shah")
        page.get_by_label("Role in your organisation").fill("Chair")
        page.get_by_label("Why are you declining the offer?").fill("Our youth worker left and we cannot run it.")
        page.get_by_role("button", name="Decline the offer").click()
    expect(page.locator(".nhsuk-tag").first).to_have_text("Offer declined")
    expect(page.get_by_text("Priya Shah, Chair")).to_be_visible()
    expect(page.get_by_role("link", name="Decline the offer")).to_have_count(0)
    scan(page, platform)
    screenshot(page, "offers-declined")


@pytest.mark.parametrize("javascript", [True, False], ids=["with-javascript", "without-javascript"])
def test_the_signatory_declines_an_offer_with_a_reason(browser: Browser, platform: Platform, javascript: bool) -> None:
    grant = offered_grant(platform, f"Young minds after loss ({'js' if javascript else 'no-js'})")
    context = browser.new_context(java_script_enabled=javascript, viewport={"width": 1100, "height": 900})
    context.js_enabled = javascript  # type: ignore[attr-defined]  # read by scan()
    foreign = guarded(context)
    page = context.new_page()
    page.set_default_timeout(15_000)
    try:
        decline_the_offer(page, platform, grant, keyboard=javascript)
    finally:
        context.close()
    assert foreign == [], f"pages asked other hosts: {foreign}"
