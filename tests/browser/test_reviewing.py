"""Panel members review through the portal: the applications assigned to them, the scoring form
(errors first, saved, come back, submitted, then read-only), and declaring a conflict of interest,
after which the review leaves their list because scoring gives it to another panel member. Every
page passes axe; one journey runs with JavaScript off.

Each test submits an application of its own through the applications API (as an applicant of an
organisation made up for it), then finds which two of the three panel members scoring assigned.
"""

import time
from dataclasses import dataclass
from uuid import uuid4

import httpx
from playwright.sync_api import BrowserContext, Page, expect

from grants_shared.auth import mint_token
from grants_shared.settings import ServiceSettings
from portal.personas import BY_SUBJECT
from tests.browser.conftest import Platform, scan, screenshot, sign_in

PANEL = ("reviewer-amara", "reviewer-ben", "reviewer-chen")
CRITERIA = ("Evidence of need in the community", "Reaches seldom-heard groups",
            "A realistic plan the group can deliver", "Value for money")  # fmt: skip


@dataclass
class Submitted:
    application_id: str
    title: str
    organisation_id: str
    organisation_name: str
    #: Which panel members scoring assigned, and their review of it.
    reviews: dict[str, str]

    def reviewer_names(self) -> list[str]:
        return [BY_SUBJECT[subject].name for subject in self.reviews]


def bearer(platform: Platform, subject: str, role: str, organisations: tuple[str, ...] = (),
           name: str | None = None) -> dict[str, str]:  # fmt: skip
    token = mint_token(ServiceSettings(prefix=platform.prefix), subject, [role], list(organisations), name=name,
                       email=f"{subject}@example.org")  # fmt: skip
    return {"Authorization": f"Bearer {token}"}


def until(what: str, check, timeout: float = 30):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not (result := check()):
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.25)
    return result


def reviews_of(platform: Platform, application_id: str) -> dict[str, str]:
    """Who holds a review of the application now (each panel member's own list), and which review."""
    held = {}
    for subject in PANEL:
        listed = httpx.get(f"{platform.urls['scoring']}/v1/reviews", headers=bearer(platform, subject, "reviewer"),
                           params={"limit": 200}).json()  # fmt: skip
        held |= {subject: r["id"] for r in listed["items"] if r["application_id"] == application_id}
    return held


def submit_application(
    platform: Platform, title: str, organisation_name: str, *, subject: str | None = None,
    organisation_id: str | None = None, amount: int = 750_000,
) -> Submitted:  # fmt: skip
    """An application submitted through the applications API, and the two reviews scoring assigned."""
    suffix = uuid4().hex[:8]
    organisation_id = organisation_id or f"org-{suffix}"
    applicant = bearer(platform, subject or f"applicant-{suffix}", "applicant", (organisation_id,), name="Jo Bloggs")
    applications = platform.urls["applications"]
    with httpx.Client(base_url=applications, headers=applicant, timeout=10) as http:
        if http.get(f"/v1/organisations/{organisation_id}").status_code == 404:
            created = http.put(f"/v1/organisations/{organisation_id}", json={
                "name": organisation_name, "kind": "community_group", "area": "Ealing",
                "annual_income": {"amount": 3_000_000, "currency": "GBP"},
            })  # fmt: skip
            assert created.status_code == 201, created.text
        organisation_name = http.get(f"/v1/organisations/{organisation_id}").json()["name"]
        draft = http.post("/v1/applications", json={
            "programme_id": platform.programme["id"], "organisation_id": organisation_id, "title": title,
            "summary": "Weekly walks in the park led by volunteers with lived experience.\n\n"
                       "Men who would not walk into a support group walk and talk side by side.",
            "amount_requested": {"amount": amount, "currency": "GBP"},
            "contact": {"name": "Jo Bloggs", "email": f"jo-{suffix}@example.org"},
        })  # fmt: skip
        assert draft.status_code == 201, draft.text
        application_id = draft.json()["id"]
        submitted = http.post(f"/v1/applications/{application_id}/submit")
        assert submitted.json()["status"] == "submitted", submitted.text
    reviews = until("scoring to assign two reviewers",
                    lambda: (held := reviews_of(platform, application_id)) and len(held) == 2 and held)  # fmt: skip
    return Submitted(application_id, title, organisation_id, organisation_name, reviews)


def criterion(page: Page, title: str):  # type: ignore[no-untyped-def]
    return page.get_by_role("group", name=title)


def test_a_panel_member_scores_an_application(page: Page, platform: Platform) -> None:
    application = submit_application(platform, "Walk and talk groups for men in Ealing", "Ealing Walk and Talk")
    reviewer, review_id = next(iter(application.reviews.items()))
    sign_in(page, platform, BY_SUBJECT[reviewer].name)

    # Signing in takes a panel member to their reviews.
    expect(page.get_by_role("heading", level=1)).to_have_text("Your reviews")
    row = page.get_by_role("row").filter(has_text=application.title)
    expect(row).to_contain_text("Not started")
    expect(row).to_contain_text(platform.programme["name"])
    scan(page, platform)
    screenshot(page, "reviewer-reviews")

    row.get_by_role("link").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(application.title)
    expect(page.get_by_text("Ealing Walk and Talk")).to_be_visible()
    expect(page.get_by_text("£7,500.00")).to_be_visible()
    expect(page.get_by_text("Men who would not walk into a support group")).to_be_visible()
    expect(criterion(page, CRITERIA[0])).to_contain_text("Counts for 30% of the overall score")
    scan(page, platform)
    screenshot(page, "reviewer-scoring-form")

    # Submitting with nothing chosen: every criterion needs a score, and the summary links to each.
    page.get_by_role("button", name="Submit your scores").click()
    summary = page.locator(".nhsuk-error-summary")
    expect(summary.get_by_role("heading", name="There is a problem")).to_be_visible()
    expect(summary.get_by_role("link")).to_have_count(4)
    for key, title in zip(("need", "reach", "deliverability", "value"), CRITERIA, strict=True):
        link = summary.get_by_role("link", name=f"Choose a score for {title}")
        expect(link).to_have_attribute("href", f"#score-{key}")
    expect(page).to_have_title(f"Error: {application.title} – Community grants – Community Grants Fund")
    scan(page, platform)
    summary.get_by_role("link", name=f"Choose a score for {CRITERIA[1]}").click()
    expect(criterion(page, CRITERIA[1]).get_by_label("0 – not shown at all")).to_be_focused()

    # Saving half-way: scoring keeps only a full set of scores, and the page says which are missing.
    criterion(page, CRITERIA[0]).get_by_label("4 – very good").check()
    page.get_by_label(f"Comments on {CRITERIA[0]} (optional)").fill("Clear local figures on isolation.")
    page.get_by_role("button", name="Save and come back later").click()
    expect(summary.get_by_role("link")).to_have_count(3)
    expect(criterion(page, CRITERIA[1])).to_contain_text("before you save")
    # What was chosen and written is still there.
    expect(criterion(page, CRITERIA[0]).get_by_label("4 – very good")).to_be_checked()
    comment = page.get_by_label(f"Comments on {CRITERIA[0]} (optional)")
    expect(comment).to_have_value("Clear local figures on isolation.")
    scan(page, platform)

    criterion(page, CRITERIA[1]).get_by_label("3 – good").check()
    criterion(page, CRITERIA[2]).get_by_label("5 – excellent").check()
    criterion(page, CRITERIA[3]).get_by_label("2 – fair").check()
    page.get_by_label(f"Comments on {CRITERIA[3]} (optional)").fill("The volunteer costs look high.")
    page.get_by_role("button", name="Save and come back later").click()
    expect(page.get_by_role("heading", name=f"Your scores for {application.title} are saved")).to_be_visible()
    expect(page.get_by_role("row").filter(has_text=application.title)).to_contain_text("In progress")
    scan(page, platform)

    # Coming back later: the saved scores and comments are there to change, then submitted.
    page.get_by_role("row").filter(has_text=application.title).get_by_role("link").click()
    expect(criterion(page, CRITERIA[2]).get_by_label("5 – excellent")).to_be_checked()
    expect(page.get_by_label(f"Comments on {CRITERIA[3]} (optional)")).to_have_value("The volunteer costs look high.")
    criterion(page, CRITERIA[3]).get_by_label("3 – good").check()
    scan(page, platform)
    page.get_by_role("button", name="Submit your scores").click()
    expect(page.get_by_role("heading", name="Your scores are submitted")).to_be_visible()
    scan(page, platform)
    screenshot(page, "reviewer-submitted")

    # A submitted review shows its scores and no form.
    page.get_by_role("link", name=f"Read the scores you gave {application.title}").click()
    expect(page).to_have_url(f"{platform.portal}/reviews/{review_id}")
    scores = page.get_by_role("table", name="Your scores for each criterion")
    expect(scores.get_by_role("row").filter(has_text=CRITERIA[0])).to_contain_text("4 – very good")
    expect(scores.get_by_role("row").filter(has_text=CRITERIA[3])).to_contain_text("3 – good")
    expect(scores).to_contain_text("Clear local figures on isolation.")
    expect(page.get_by_role("button", name="Submit your scores")).to_have_count(0)
    expect(page.get_by_role("radio")).to_have_count(0)
    scan(page, platform)
    screenshot(page, "reviewer-submitted-scores")

    page.get_by_role("link", name="Go back to your reviews").click()
    submitted = page.get_by_role("table", name="Reviews you have submitted")
    expect(submitted.get_by_role("row").filter(has_text=application.title)).to_contain_text("Submitted")
    scan(page, platform)


def test_a_panel_member_declares_a_conflict_from_a_review(page: Page, platform: Platform) -> None:
    application = submit_application(platform, "Night café for people in crisis", "Westminster Night Café")
    reviewer = next(iter(application.reviews))
    sign_in(page, platform, BY_SUBJECT[reviewer].name)
    scan(page, platform)
    page.get_by_role("link", name=application.title).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(application.title)
    scan(page, platform)
    page.get_by_role("link", name="I have a conflict of interest with this organisation").click()
    heading = page.get_by_role("heading", level=1)
    expect(heading).to_have_text("Declare a conflict of interest with Westminster Night Café")
    scan(page, platform)

    page.get_by_role("button", name="Declare a conflict of interest").click()
    expect(page.locator(".nhsuk-error-summary")).to_contain_text("Tell us how you are connected to the organisation")
    scan(page, platform)
    page.get_by_label("How are you connected to Westminster Night Café?").fill("My sister volunteers there on Fridays.")
    page.get_by_role("button", name="Declare a conflict of interest").click()

    # The review leaves their list at once: scoring gives it to the panel member who had not got it.
    expect(page.get_by_role("heading", name="Thank you for telling us")).to_be_visible()
    expect(page.get_by_role("link", name=application.title)).to_have_count(0)
    scan(page, platform)
    screenshot(page, "reviewer-conflict-declared")
    now = until("scoring to reassign the review", lambda: (held := reviews_of(platform, application.application_id))
                and len(held) == 2 and reviewer not in held and held)  # fmt: skip
    assert set(now) == set(PANEL) - {reviewer}

    page.get_by_role("link", name="tell us about a conflict of interest").click()
    row = page.get_by_role("row").filter(has_text="Westminster Night Café")
    expect(row).to_contain_text("My sister volunteers there on Fridays.")
    expect(row).to_contain_text("Declared")
    scan(page, platform)


def test_a_panel_member_declines_a_review_and_it_goes_to_someone_else(page: Page, platform: Platform) -> None:
    application = submit_application(platform, "Bereavement walks after a suicide", "Ealing Walking Friends")
    reviewer = next(iter(application.reviews))
    sign_in(page, platform, BY_SUBJECT[reviewer].name)
    page.get_by_role("link", name=application.title).click()
    page.get_by_role("link", name="I cannot review this application").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Decline this review")
    scan(page, platform)
    page.get_by_role("button", name="Decline the review").click()
    expect(page.locator("#reason-error")).to_contain_text("Select why you cannot review it")
    scan(page, platform)
    page.get_by_label("I cannot review it in time").check()
    page.get_by_label("Anything you want the programme manager to know (optional)").fill("Away until January.")
    page.get_by_role("button", name="Decline the review").click()
    expect(page.get_by_role("heading", name="Thank you for letting us know")).to_be_visible()
    expect(page.get_by_role("link", name=application.title)).to_have_count(0)
    scan(page, platform)
    now = until("scoring to reassign the review", lambda: (held := reviews_of(platform, application.application_id))
                and len(held) == 2 and reviewer not in held and held)  # fmt: skip
    assert set(now) == set(PANEL) - {reviewer}


def test_a_panel_member_chooses_the_organisation_with_javascript_off(
    no_js_context: BrowserContext, platform: Platform
) -> None:
    page = no_js_context.new_page()
    page.set_default_timeout(15_000)
    application = submit_application(platform, "Carers' peer support circle", "Hillingdon Carers Circle")
    reviewer = next(iter(application.reviews))
    sign_in(page, platform, BY_SUBJECT[reviewer].name)
    expect(page.get_by_role("link", name=application.title)).to_be_visible()
    scan(page, platform)

    page.goto(f"{platform.portal}/conflicts")
    expect(page.get_by_role("heading", level=1)).to_have_text("Your conflicts of interest")
    scan(page, platform)
    page.get_by_role("button", name="Declare a conflict of interest").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Declare a conflict of interest")
    scan(page, platform)

    page.get_by_role("button", name="Declare a conflict of interest").click()
    summary = page.locator(".nhsuk-error-summary")
    expect(summary.get_by_role("link", name="Select the organisation you have a conflict")).to_be_visible()
    expect(summary.get_by_role("link", name="Tell us how you are connected to the organisation")).to_be_visible()
    scan(page, platform)

    # Radios for a few organisations, a list to choose from when many have applied.
    if page.locator("select#organisation").count():
        page.select_option("#organisation", label="Hillingdon Carers Circle")
    else:
        page.get_by_label("Hillingdon Carers Circle", exact=True).check()
    page.get_by_label("How are you connected to it?").fill("I was its treasurer until last year.")
    page.get_by_role("button", name="Declare a conflict of interest").click()
    declared = "You told us about your conflict of interest with Hillingdon Carers Circle"
    expect(page.get_by_role("heading", name=declared)).to_be_visible()
    expect(page.get_by_role("row").filter(has_text="Hillingdon Carers Circle")).to_contain_text("Declared")
    scan(page, platform)
    screenshot(page, "reviewer-conflicts")

    page.goto(f"{platform.portal}/reviews")
    expect(page.get_by_role("heading", level=1)).to_have_text("Your reviews")
    expect(page.get_by_role("link", name=application.title)).to_have_count(0)
    scan(page, platform)

    # The connection ended: they cannot resolve it themselves, so they ask a programme manager.
    page.goto(f"{platform.portal}/conflicts")
    row = page.get_by_role("row").filter(has_text="Hillingdon Carers Circle")
    row.get_by_role("link", name="Ask for this to be resolved").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Ask for your conflict of interest to be resolved")
    scan(page, platform)
    page.get_by_label("What has changed? (optional)").fill("I stood down as treasurer in March.")
    page.get_by_role("button", name="Ask a programme manager").click()
    row = page.get_by_role("row").filter(has_text="Hillingdon Carers Circle")
    expect(row).to_contain_text("You asked for it to be resolved on")
    expect(row).to_contain_text("Declared")
    scan(page, platform)
