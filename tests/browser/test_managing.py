"""Programme managers and the panel through the portal: a programme created (errors first), edited,
opened, its panel changed and closed; the ranking with its budget line; an application's scores and
moderation; the panel deciding in a meeting (the manager calls it and closes each item, members
recommend, a conflicted member is recused); conflicts of interest resolved, a recommendation and a
decision with JavaScript off; the 360Giving download. Every page passes axe.

Applications reach the panel the way they would without these pages: a made-up group submits
through the applications API and the reviewers scoring assigned score through the scoring API.
"""

import json
import re
import time
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode
from uuid import uuid4

import httpx
from playwright.sync_api import BrowserContext, Locator, Page, expect

from grants_shared.auth import mint_token
from grants_shared.dev.journey import DEMO_PROGRAMME, PANEL
from grants_shared.settings import ServiceSettings
from portal.clients import ApiError
from portal.pages.programme_form import api_errors, criterion_key, fields, form_values, programme_terms
from tests.browser.conftest import Platform, scan, screenshot, sign_in, sign_out

WAIT_SECONDS = 30  # events reach every service well within this


# --- the services' APIs, as the people who are not in these pages use them --------------------------


def _headers(platform: Platform, subject: str, *roles: str, organisations: tuple[str, ...] = ()) -> dict[str, str]:
    token = mint_token(ServiceSettings(prefix=platform.prefix), subject, list(roles), list(organisations),
                       name=subject, email=f"{subject}@example.org")  # fmt: skip
    return {"Authorization": f"Bearer {token}"}


def _call(platform: Platform, method: str, service: str, path: str, headers: dict[str, str], **kwargs: Any) -> Any:
    response = httpx.request(method, f"{platform.urls[service]}{path}", headers=headers, timeout=10, **kwargs)
    assert response.status_code < 300, f"{method} {service}{path}: {response.status_code} {response.text}"
    return response


def _until(what: str, check: Any) -> Any:
    deadline = time.monotonic() + WAIT_SECONDS
    while (result := check()) is None:
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.25)
    return result


def scored_application(
    platform: Platform, programme_id: str, title: str, pence: int, marks: tuple[int, ...] = (4, 4),
    group: str | None = None,
) -> dict[str, str]:  # fmt: skip
    """A made-up group's application, submitted and scored by the reviewers scoring assigned it (the
    n-th reviewer gives every criterion ``marks[n]``)."""
    suffix = uuid4().hex[:8]
    organisation_id, name = f"org-{suffix}", group or f"Harrow Walkers {suffix}"
    applicant = _headers(platform, f"applicant-{suffix}", "applicant", organisations=(organisation_id,))
    _call(platform, "PUT", "applications", f"/v1/organisations/{organisation_id}", applicant, json={
        "name": name, "kind": "community_group", "area": "Harrow",
        "annual_income": {"amount": 3_000_000, "currency": "GBP"},
    })  # fmt: skip
    draft = _call(platform, "POST", "applications", "/v1/applications", applicant, json={
        "programme_id": programme_id, "organisation_id": organisation_id, "title": title,
        "summary": f"{title}: weekly sessions led by volunteers with lived experience.",
        "amount_requested": {"amount": pence, "currency": "GBP"},
    }).json()  # fmt: skip
    submitted = _call(platform, "POST", "applications", f"/v1/applications/{draft['id']}/submit", applicant).json()
    assert submitted["status"] == "submitted", submitted
    criteria = _call(platform, "GET", "applications", f"/v1/programmes/{programme_id}", applicant).json()["criteria"]

    def assigned() -> list[tuple[str, str]] | None:
        found = []
        for reviewer in PANEL:
            reviews = _call(platform, "GET", "scoring", "/v1/reviews", _headers(platform, reviewer, "reviewer")).json()
            found += [(reviewer, r["id"]) for r in reviews["items"]
                      if r["application_id"] == draft["id"] and r["status"] != "cancelled"]  # fmt: skip
        return found if len(found) >= len(marks) else None

    for (reviewer, review_id), mark in zip(_until("reviewers to be assigned", assigned), marks, strict=False):
        headers = _headers(platform, reviewer, "reviewer")
        etag = _call(platform, "GET", "scoring", f"/v1/reviews/{review_id}", headers).headers["etag"]
        sheet = {c["key"]: {"score": mark, "comment": f"{c['title']}: {mark} from {reviewer}"} for c in criteria}
        _call(platform, "PUT", "scoring", f"/v1/reviews/{review_id}/scores", {**headers, "If-Match": etag},
              json={"scores": sheet})  # fmt: skip
        _call(platform, "POST", "scoring", f"/v1/reviews/{review_id}/submit", headers)
    manager = _headers(platform, "maya-manager", "programme_manager")

    def scored() -> dict[str, Any] | None:
        shown = _call(platform, "GET", "scoring", f"/v1/applications/{draft['id']}", manager).json()
        return shown if shown["status"] == "scored" else None

    _until("the application to be scored", scored)
    return {"id": draft["id"], "title": title, "organisation_id": organisation_id, "organisation": name}


def _reload_until_visible(page: Page, locator: Locator) -> None:
    """Scoring hears of a change a moment after the page that made it: reload until it shows."""
    deadline = time.monotonic() + WAIT_SECONDS
    while not locator.is_visible():
        assert time.monotonic() < deadline, f"{locator} never appeared on {page.url}"
        time.sleep(0.5)
        page.reload()


def _date(page: Page, legend: str, day: datetime) -> None:
    group = page.get_by_role("group", name=legend)
    group.get_by_label("Day").fill(str(day.day))
    group.get_by_label("Month").fill(str(day.month))
    group.get_by_label("Year").fill(str(day.year))


# --- a programme's life ---------------------------------------------------------------------------------


def test_a_manager_creates_edits_opens_and_closes_a_programme(page: Page, platform: Platform) -> None:
    portal, name = platform.portal, f"Men's sheds winter fund {uuid4().hex[:6]}"
    sign_in(page, platform, "Maya Patel")
    expect(page.get_by_role("heading", level=1)).to_have_text("Manage programmes")
    expect(page.get_by_role("link", name=DEMO_PROGRAMME)).to_be_visible()
    scan(page, platform)

    page.get_by_role("button", name="Create a programme").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Create a programme")
    scan(page, platform)
    page.get_by_role("button", name="Save the draft programme").click()
    summary = page.locator(".nhsuk-error-summary")
    expect(summary).to_contain_text("Enter the programme's name")
    expect(summary).to_contain_text("Enter the opening date")
    expect(summary).to_contain_text("Enter at least one scoring criterion")
    scan(page, platform)

    today = datetime.now(UTC)
    page.get_by_label("Name", exact=True).fill(name)
    page.get_by_label("Description (optional)").fill("Small grants for men's sheds through the winter.")
    page.get_by_label("Budget", exact=True).fill("12,000")
    page.get_by_label("Most one group can get").fill("20000")  # more than the budget: the API refuses it
    _date(page, "Opening date", today)
    _date(page, "Closing date", today + timedelta(days=60))
    page.get_by_label("Areas served (optional)").fill("Harrow\nBrent")
    page.get_by_label("Community or voluntary group (not registered)").check()
    page.get_by_label("Registered charity").check()
    page.get_by_label("Highest yearly income (optional)").fill("100000")
    page.get_by_role("group", name="Criterion 1").get_by_label("Title").fill("Evidence of need")
    page.get_by_role("group", name="Criterion 1").get_by_label("Weight").fill("3")
    page.get_by_role("group", name="Criterion 2").get_by_label("Title").fill("Led by people with lived experience")
    page.get_by_role("group", name="Criterion 2").get_by_label("Weight").fill("abc")
    page.get_by_label("Panel members").fill("\n".join(PANEL))
    page.get_by_label("In two instalments").check()
    page.get_by_label("Share of the first payment").fill("50")
    page.get_by_label("Days after acceptance").fill("90")
    page.get_by_role("button", name="Save the draft programme").click()
    expect(page.locator("#criterion-2-weight-error")).to_contain_text("as a whole number")
    scan(page, platform)
    page.get_by_role("group", name="Criterion 2").get_by_label("Weight").fill("2")
    page.get_by_role("button", name="Save the draft programme").click()
    # The form reads; the API judges the terms, and its words go beside the field they are about.
    expect(page.locator("#maximum_award-error")).to_contain_text("cannot be more than the budget")
    expect(page.get_by_label("Panel members")).to_have_value("\n".join(PANEL))
    scan(page, platform)
    screenshot(page, "manager-programme-form-errors")
    page.get_by_label("Most one group can get").fill("8000")
    page.get_by_role("button", name="Save the draft programme").click()

    expect(page.get_by_role("heading", level=1)).to_have_text(name)
    expect(page.locator(".nhsuk-tag").first).to_have_text("Draft")
    expect(page.get_by_text("50% when the offer is accepted, then 50% 90 days after acceptance")).to_be_visible()
    scan(page, platform)
    programme_url = page.url

    page.get_by_role("link", name=f"Edit {name}").click()
    expect(page.get_by_label("Budget", exact=True)).to_have_value("12000.00")
    expect(page.get_by_label("Registered charity")).to_be_checked()
    scan(page, platform)
    page.get_by_label("Budget", exact=True).fill("14000")
    page.get_by_role("button", name="Save changes").click()
    expect(page.get_by_text("£14,000.00")).to_be_visible()

    page.get_by_role("button", name="Open for applications").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Open {name}?")
    scan(page, platform)
    page.get_by_role("button", name="Yes, open it for applications").click()
    expect(page.locator(".nhsuk-tag").first).to_have_text("Open")
    _reload_until_visible(page, page.get_by_role("link", name="Who sits on the panel"))
    scan(page, platform)
    screenshot(page, "manager-programme")
    programme_id = programme_url.rsplit("/", 1)[1]

    page.get_by_role("link", name="Who sits on the panel").click()
    expect(page.get_by_label("Panel members")).to_have_value("\n".join(PANEL))
    scan(page, platform)
    page.get_by_label("Panel members").fill("reviewer-amara")
    page.get_by_role("button", name="Save the panel").click()
    expect(page.locator("#panel-error")).to_contain_text("at least 2 reviewers")
    scan(page, platform)
    page.get_by_label("Panel members").fill("\n".join(PANEL))
    page.get_by_role("button", name="Save the panel").click()
    expect(page).to_have_url(programme_url)

    # Nothing awarded yet: the download says so instead of handing over an empty file.
    page.get_by_role("link", name="Download the awards as 360Giving open data").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("There is nothing to publish yet")
    scan(page, platform)

    # Two scored applications that the £14,000 cannot both cover: the budget runs out at the second.
    first = scored_application(platform, programme_id, "Winter warm-space sessions", 800_000, marks=(5, 5))
    second = scored_application(platform, programme_id, "Tool library for the shed", 700_000, marks=(3, 3))
    page.goto(programme_url)
    page.get_by_role("link", name="The ranking against the budget").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Ranking against the budget")
    expect(page.get_by_text("£14,000.00 of the £14,000.00 budget is left")).to_be_visible()
    rows = page.locator("tbody tr")
    expect(rows.nth(0)).to_contain_text(first["title"])
    expect(rows.nth(0)).to_contain_text("£8,000.00")
    line = page.locator("tr.portal-budget-line")
    expect(line).to_have_count(1)
    expect(line).to_contain_text(second["title"])
    expect(line).to_contain_text("Budget runs out here")
    expect(line).to_contain_text("£15,000.00")  # the running total passes the budget
    scan(page, platform)
    screenshot(page, "manager-ranking-budget-line")
    expect(page.get_by_role("navigation", name="Pages of the ranking")).to_have_count(0)  # one page holds both

    # A later page of the ranking (scoring pages it by cursor) keeps the budget line where the whole
    # ranking has it, and leads back to the first.
    manager = _headers(platform, "maya-manager", "programme_manager")
    first_of_one = _call(platform, "GET", "scoring", f"/v1/programmes/{programme_id}/ranking", manager,
                         params={"limit": 1}).json()  # fmt: skip
    page.goto(f"{programme_url}/ranking?{urlencode({'after': first_of_one['next']})}")
    expect(rows).to_have_count(1)
    expect(line).to_contain_text(second["title"])
    expect(page.get_by_text("The budget runs out at position 2")).to_be_visible()
    scan(page, platform)
    page.get_by_role("link", name=re.compile("First page")).click()
    expect(rows).to_have_count(2)

    page.goto(f"{programme_url}/applications")
    expect(page.get_by_role("heading", level=1)).to_have_text("Applications being reviewed")
    page.get_by_label("Show").select_option("scored")
    page.get_by_role("button", name="Show these applications").click()
    expect(page.locator("caption")).to_have_text("Applications (scored), earliest submitted first")
    expect(page.locator("tbody tr")).to_have_count(2)
    scan(page, platform)
    # A later page (by scoring's cursor) keeps the filter, and leads back to the first.
    first_scored = _call(platform, "GET", "scoring", f"/v1/programmes/{programme_id}/applications", manager,
                         params={"limit": 1, "status": "scored"}).json()  # fmt: skip
    page.goto(f"{programme_url}/applications?{urlencode({'status': 'scored', 'after': first_scored['next']})}")
    expect(page.locator("tbody tr")).to_have_count(1)
    expect(page.locator("tbody tr")).to_contain_text(second["title"])
    scan(page, platform)
    page.get_by_role("link", name=re.compile("First page")).click()
    expect(page).to_have_url(f"{programme_url}/applications?status=scored")
    expect(page.locator("tbody tr")).to_have_count(2)

    page.goto(programme_url)
    page.get_by_role("button", name="Close to new applications").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Close {name}?")
    scan(page, platform)
    page.get_by_role("button", name="Yes, close it to new applications").click()
    expect(page.locator(".nhsuk-tag").first).to_have_text("Closed")
    page.goto(f"{portal}/manage")
    row = page.get_by_role("row").filter(has=page.get_by_role("link", name=name))
    expect(row).to_contain_text("Closed")


# --- the panel decides ------------------------------------------------------------------------------


def test_the_manager_moderates_and_decides_in_the_demo_programme(page: Page, platform: Platform) -> None:
    demo = platform.programme
    agreed = scored_application(platform, demo["id"], "Walk and talk for new fathers", 600_000, marks=(4, 5))
    apart = scored_application(platform, demo["id"], "Peer support for young carers", 500_000, marks=(5, 1))

    sign_in(page, platform, "Maya Patel")
    page.get_by_role("link", name=DEMO_PROGRAMME).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(DEMO_PROGRAMME)
    scan(page, platform)
    page.get_by_role("link", name="The ranking against the budget").click()
    row = page.get_by_role("row").filter(has_text=agreed["title"])
    expect(row).to_contain_text(agreed["organisation"])
    expect(row).to_contain_text("4.50")
    expect(row.locator("td").nth(6)).to_have_text("Yes")  # above the budget line: it fits
    expect(page.locator("tr.portal-budget-line")).to_have_count(0)
    expect(page.get_by_role("row").filter(has_text=apart["title"])).to_contain_text("Needs moderation")
    scan(page, platform)
    screenshot(page, "manager-ranking")

    page.get_by_role("link", name=agreed["title"]).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(agreed["title"])
    expect(page.locator("caption").filter(has_text="Scores from")).to_have_count(2)
    expect(page.get_by_text("Evidence of need in the community: 5 from").first).to_be_visible()
    # The demo programme's panel decides, in a meeting: nobody records a decision alone here.
    expect(page.get_by_text("The panel decides this application in a decision meeting")).to_be_visible()
    expect(page.get_by_role("button", name="Record the decision")).to_have_count(0)
    scan(page, platform)

    page.get_by_role("link", name="Back to the ranking").click()
    page.get_by_role("link", name=apart["title"]).click()
    expect(page.get_by_role("heading", name="Moderate the score")).to_be_visible()
    page.get_by_role("button", name="Record the moderation").click()
    expect(page.locator("#note-error")).to_contain_text("Enter a note")
    scan(page, platform)
    page.get_by_label("Set a different score", exact=True).check()
    page.get_by_label("Weighted score, if you set a different one").fill("3.1")
    page.get_by_label("Why", exact=True).fill("Discussed at the panel meeting: the reach into young carers is strong.")
    page.get_by_role("button", name="Record the moderation").click()
    expect(page.get_by_text("3.10 out of 5")).to_be_visible()
    expect(page.get_by_text("Moderated by maya-manager")).to_be_visible()
    history = page.locator("table").filter(has_text="Every change to the weighted score")
    expect(history.get_by_role("row")).to_have_count(3)  # the header, computed, moderated
    expect(history.get_by_role("row").nth(2)).to_contain_text("maya-manager (moderation)")
    expect(history.get_by_role("row").nth(2)).to_contain_text("3.10")

    page.get_by_role("link", name="Decision meetings").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Decision meetings")
    expect(page.get_by_text("reviewer-amara, reviewer-ben, reviewer-chen")).to_be_visible()
    scan(page, platform)
    page.get_by_label(agreed["title"], exact=False).check()
    page.get_by_label(apart["title"], exact=False).check()
    page.get_by_role("button", name="Call the meeting").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Decision meeting on")
    meeting_id = page.url.rsplit("/", 1)[1]
    scan(page, platform)
    screenshot(page, "manager-meeting")

    # The members present record their recommendations (their own pages are tested below).
    def recommend(member: str, application_id: str, **body: Any) -> None:
        _call(platform, "PUT", "scoring", f"/v1/meetings/{meeting_id}/items/{application_id}/recommendation",
              _headers(platform, member, "reviewer"), json=body)  # fmt: skip

    for member in ("reviewer-amara", "reviewer-ben"):
        recommend(member, agreed["id"], recommendation="fund_different_amount", amount={"amount": 550_000, "currency": "GBP"})
        recommend(member, apart["id"], recommendation="do_not_fund", reason="No safeguarding lead yet")
    recommend("reviewer-chen", agreed["id"], recommendation="fund", reason="All of it is needed")
    page.reload()
    expect(page.get_by_role("row").filter(has_text=agreed["title"])).to_contain_text("Ready to close")
    expect(page.get_by_role("row").filter(has_text=apart["title"])).to_contain_text("have not recorded")
    recommend("reviewer-chen", apart["id"], recommendation="abstain")

    page.get_by_role("link", name=agreed["title"]).click()
    expect(page.get_by_role("row").filter(has_text="reviewer-chen")).to_contain_text("All of it is needed")
    page.get_by_label("Why the panel decided this").fill("Two of three would fund £5,500: the first year is clear.")
    page.get_by_label("Feedback for the group").fill("The panel liked the peer-led approach.")
    page.get_by_role("button", name="Record the panel's decision").click()
    expect(page.get_by_text("Awarded £5,500.00")).to_be_visible()
    expect(page.get_by_text("A member: Fund (All of it is needed)")).to_be_visible()  # dissent, unnamed
    scan(page, platform)
    screenshot(page, "manager-decision")

    page.get_by_role("link", name="Back to the meeting").click()
    page.get_by_role("link", name=apart["title"]).click()
    page.get_by_label("Why the panel decided this").fill("Not ready to deliver safely yet.")
    page.get_by_role("button", name="Record the panel's decision").click()
    expect(page.locator("#feedback-error")).to_contain_text("feedback for the applicant")
    scan(page, platform)
    page.get_by_label("Feedback for the group").fill("The plan needs a named safeguarding lead.")
    page.get_by_role("button", name="Record the panel's decision").click()
    expect(page.get_by_text("Not funded").first).to_be_visible()
    scan(page, platform)

    # The award reaches the applications service by an event: the download then has it.
    manager = _headers(platform, "maya-manager", "programme_manager")
    _until("the award to be publishable", lambda: httpx.get(
        f"{platform.urls['applications']}/v1/programmes/{demo['id']}/360giving", headers=manager,
        timeout=10).status_code == 200 or None)  # fmt: skip
    page.goto(f"{platform.portal}/manage/programmes/{demo['id']}")
    with page.expect_download() as downloading:
        page.get_by_role("link", name="Download the awards as 360Giving open data").click()
    download = downloading.value
    assert download.suggested_filename == f"360giving-{demo['id']}.json"
    package = json.loads(download.path().read_text(encoding="utf-8"))
    assert agreed["title"] in [grant["title"] for grant in package["grants"]]


def test_a_panel_member_recommends_in_a_meeting_and_is_recused_where_conflicted(page: Page, platform: Platform) -> None:
    demo = platform.programme
    chosen = scored_application(platform, demo["id"], "Men's cooking circle", 300_000, marks=(4, 4))
    hidden = scored_application(platform, demo["id"], "Allotment afternoons", 200_000, marks=(3, 4))
    # Chen knows the group behind the second one: scoring leaves it out of the ranking he sees, and
    # recuses him from its item in a meeting.
    chen = _headers(platform, "reviewer-chen", "reviewer")
    _call(platform, "POST", "scoring", "/v1/conflicts", chen,
          json={"organisation_id": hidden["organisation_id"], "reason": "My brother runs this group."})  # fmt: skip
    manager = _headers(platform, "maya-manager", "programme_manager")
    meeting = _call(platform, "POST", "scoring", f"/v1/programmes/{demo['id']}/meetings", manager, json={
        "held_on": datetime.now(UTC).date().isoformat(), "application_ids": [chosen["id"], hidden["id"]],
        "attendance": PANEL,
    }).json()  # fmt: skip

    sign_in(page, platform, "Chen Wei")
    page.goto(f"{platform.portal}/manage")
    expect(page.get_by_role("heading", level=1)).to_have_text("The panels you sit on")
    scan(page, platform)
    page.get_by_role("link", name=f"See the ranking for {DEMO_PROGRAMME}").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Ranking against the budget")
    expect(page.get_by_role("link", name=hidden["title"])).to_have_count(0)
    scan(page, platform)
    page.get_by_role("link", name=chosen["title"]).click()
    expect(page.get_by_text("4.00 out of 5")).to_be_visible()
    expect(page.get_by_role("button", name="Record the decision")).to_have_count(0)
    scan(page, platform)

    page.get_by_role("link", name="Your decision meetings").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Your decision meetings")
    scan(page, platform)
    page.goto(f"{platform.portal}/panel/meetings/{meeting['id']}")
    recused = page.get_by_role("row").filter(has_text=hidden["title"])
    expect(recused).to_contain_text("You are recused: you declared a conflict of interest with this group")
    expect(recused.get_by_role("link")).to_have_count(0)
    scan(page, platform)
    screenshot(page, "member-meeting")
    page.goto(f"{platform.portal}/panel/meetings/{meeting['id']}/items/{hidden['id']}")
    expect(page.get_by_text("You are recused from this application")).to_be_visible()
    expect(page.get_by_role("button", name="Record my recommendation")).to_have_count(0)
    scan(page, platform)
    page.goto(f"{platform.portal}/panel/meetings/{meeting['id']}")
    page.get_by_role("link", name=chosen["title"]).click()
    page.get_by_label("Fund a different amount").check()
    page.get_by_role("button", name="Record my recommendation").click()
    expect(page.locator("#amount-error")).to_contain_text("Enter the amount you would fund")
    scan(page, platform)
    page.get_by_label("Fund £3,000.00").check()
    page.get_by_role("button", name="Record my recommendation").click()
    expect(page.get_by_role("row").filter(has_text=chosen["title"])).to_contain_text("Fund")
    expect(page.get_by_role("row").filter(has_text=chosen["title"])).to_contain_text("1 fund, 0 fund a different")

    # The chair sees the recusal too.
    sign_out(page, platform)
    sign_in(page, platform, "Maya Patel")
    page.goto(f"{platform.portal}/manage/meetings/{meeting['id']}")
    expect(page.get_by_role("row").filter(has_text=hidden["title"])).to_contain_text("reviewer-chen")
    page.get_by_role("link", name=hidden["title"]).click()
    expect(page.get_by_text("reviewer-chen: declared a conflict of interest with the organisation")).to_be_visible()
    scan(page, platform)
    sign_out(page, platform)
    sign_in(page, platform, "Chen Wei")

    # What scoring refuses him is refused politely, not with an error.
    page.goto(f"{platform.portal}/manage/applications/{hidden['id']}?programme={demo['id']}")
    expect(page.get_by_role("heading", level=1)).to_have_text("You cannot see this application")
    scan(page, platform)
    page.goto(f"{platform.portal}/manage/conflicts")
    expect(page.get_by_role("heading", level=1)).to_have_text("You cannot use this page")
    scan(page, platform)


def test_conflicts_a_recommendation_and_a_decision_without_javascript(no_js_context: BrowserContext, platform: Platform) -> None:
    demo = platform.programme
    application = scored_application(platform, demo["id"], "Faith leaders' listening service", 400_000,
                                     group="Southall Listening Circle")  # fmt: skip
    ben = _headers(platform, "reviewer-ben", "reviewer")
    _call(platform, "POST", "scoring", "/v1/conflicts", ben,
          json={"organisation_id": application["organisation_id"], "reason": "I volunteer with them."})  # fmt: skip

    page = no_js_context.new_page()
    page.set_default_timeout(15_000)
    sign_in(page, platform, "Maya Patel")
    page.get_by_role("link", name="Conflicts of interest declared by reviewers").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Conflicts of interest")
    row = page.get_by_role("row").filter(has_text="Southall Listening Circle")
    expect(row).to_contain_text("reviewer-ben")
    expect(row).to_contain_text("Declared")
    scan(page, platform)
    screenshot(page, "manager-conflicts")
    row.get_by_role("link", name="Resolve the conflict of reviewer-ben with Southall Listening Circle").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Resolve this conflict of interest?")
    scan(page, platform)
    page.get_by_role("button", name="Yes, resolve the conflict").click()
    expect(page.get_by_role("row").filter(has_text="Southall Listening Circle")).to_contain_text("Resolved")
    scan(page, platform)

    # A recommendation and the decision need no JavaScript: the amount field is always there.
    manager = _headers(platform, "maya-manager", "programme_manager")
    meeting = _call(platform, "POST", "scoring", f"/v1/programmes/{demo['id']}/meetings", manager, json={
        "held_on": datetime.now(UTC).date().isoformat(), "application_ids": [application["id"]], "attendance": PANEL,
    }).json()  # fmt: skip
    item = f"/panel/meetings/{meeting['id']}/items/{application['id']}"
    sign_out(page, platform)
    sign_in(page, platform, "Ben Carter")  # his conflict is resolved: he is not recused
    page.goto(f"{platform.portal}{item}")
    expect(page.get_by_label("The amount you would fund, if different")).to_be_visible()
    page.get_by_role("button", name="Record my recommendation").click()
    expect(page.locator("#recommendation-error")).to_contain_text("Select your recommendation")
    scan(page, platform)
    page.get_by_label("Fund a different amount").check()
    page.get_by_label("The amount you would fund, if different").fill("3500")
    page.get_by_label("You may name me if my view is recorded as dissent").check()
    page.get_by_role("button", name="Record my recommendation").click()
    expect(page.get_by_role("row").filter(has_text=application["title"])).to_contain_text("£3,500.00")
    for member in ("reviewer-amara", "reviewer-chen"):
        _call(platform, "PUT", "scoring", f"/v1/meetings/{meeting['id']}/items/{application['id']}/recommendation",
              _headers(platform, member, "reviewer"), json={"recommendation": "fund"})  # fmt: skip
    sign_out(page, platform)
    sign_in(page, platform, "Maya Patel")
    page.goto(f"{platform.portal}/manage/meetings/{meeting['id']}/items/{application['id']}")
    page.get_by_label("Why the panel decided this").fill("The group is trusted by the faith communities it serves.")
    page.get_by_role("button", name="Record the panel's decision").click()
    expect(page.get_by_text("Awarded £4,000.00")).to_be_visible()
    expect(page.get_by_text("reviewer-ben: Fund a different amount £3,500.00")).to_be_visible()  # he agreed to be named
    scan(page, platform)


# --- reading the programme form (no browser needed) ----------------------------------------------------


def test_criterion_keys_come_from_their_titles() -> None:
    taken: set[str] = set()
    for title in ("Evidence of need", "Évidence of need!", "2nd-year plan", "***"):
        taken.add(criterion_key(title, taken))
    assert taken == {"evidence_of_need", "evidence_of_need_2", "c_2nd_year_plan", "criterion"}


def test_an_edit_keeps_what_the_form_cannot_write() -> None:
    criteria = [{"key": f"c{n}", "title": f"Criterion number {n}", "weight": n} for n in range(1, 9)]
    schedule = {"kind": "tranches", "tranches": [{"share_bps": 5_000, "due_after_days": 0},
                                                 {"share_bps": 2_500, "due_after_days": 90},
                                                 {"share_bps": 2_500, "due_after_days": 180}]}  # fmt: skip
    programme = {
        "name": "Eight criteria", "description": "", "budget": {"amount": 1_000_000, "currency": "GBP"},
        "maximum_award": {"amount": 100_000, "currency": "GBP"}, "opens_at": "2027-01-04T00:00:00Z",
        "closes_at": "2027-03-31T23:59:00Z", "reviewers_per_application": 2,
        "panel": ["reviewer-amara", "reviewer-ben"],
        "eligibility": {"areas_served": ["Brent"], "organisation_kinds": ["charity"], "max_annual_income": None},
        "criteria": criteria, "payment_policy": schedule,
    }  # fmt: skip
    values, kinds = form_values(programme)
    assert values["payment"] == "keep" and values["rows"] == "8"
    body, errors = programme_terms(values, kinds, "GBP", editing=True)
    assert errors == {}
    assert "payment_policy" not in body  # left as it is
    assert [(c["title"], c["weight"]) for c in body["criteria"]] == [(c["title"], c["weight"]) for c in criteria]
    assert (body["opens_at"], body["closes_at"]) == ("2027-01-04T00:00:00+00:00", "2027-03-31T23:59:00+00:00")


def test_the_apis_refusals_go_beside_the_fields_they_are_about() -> None:
    refusal = ApiError(422, {"detail": "the request did not match the expected shape", "errors": [
        {"location": ["body"], "message": "Value error, the maximum award cannot be more than the budget; "
                                          "closes_at must be later than opens_at"},
        {"location": ["body", "criteria", 1, "weight"], "message": "Input should be less than or equal to 100"},
    ]})  # fmt: skip
    assert api_errors(refusal) == {
        "maximum_award": "The maximum award cannot be more than the budget",
        "closes-day": "The closing date must be later than the opening date",
        "criterion-2-weight": "Input should be less than or equal to 100",
    }


def test_a_first_stage_is_read_from_the_form_and_written_back_into_it() -> None:
    values = dict.fromkeys(fields(6), "") | {
        "name": "Two stages", "budget": "10000", "maximum_award": "1000", "reviewers_per_application": "1",
        "panel": "reviewer-amara", "payment": "single", "criterion-1-title": "Need", "criterion-1-weight": "1",
        "opens-day": "1", "opens-month": "4", "opens-year": "2027", "closes-day": "30", "closes-month": "6",
        "closes-year": "2027", "stages": "two", "interest_scored": "yes",
        "interest_opens-day": "1", "interest_opens-month": "3", "interest_opens-year": "2027",
    }  # fmt: skip
    _, errors = programme_terms(values, [], "GBP")
    assert errors == {"interest_closes-day": "Enter the date the expression of interest closes"}
    values |= {"interest_closes-day": "31", "interest_closes-month": "3", "interest_closes-year": "2027"}
    body, errors = programme_terms(values, [], "GBP")
    assert errors == {}
    assert body["expression_of_interest"] == {"opens_at": "2027-03-01T00:00:00+00:00",
                                              "closes_at": "2027-03-31T23:59:00+00:00", "scored": True}  # fmt: skip
    programme = {**body, "eligibility": {"areas_served": [], "organisation_kinds": [], "max_annual_income": None},
                 "payment_policy": {"kind": "single", "tranches": [{"share_bps": 10_000, "due_after_days": 0}]}}  # fmt: skip
    again, _ = form_values(programme)
    assert {k: again[k] for k in values if k.startswith(("interest", "stages"))} == {
        k: v for k, v in values.items() if k.startswith(("interest", "stages"))
    }
    # one stage is sent as null, so that an edit takes the first stage away
    body, _ = programme_terms(values | {"stages": "one"}, [], "GBP", editing=True)
    assert body["expression_of_interest"] is None
