"""Scoring that is fair and explained, through the portal: a manager chooses what reviewers are not
shown (blind review); a panel member's review then hides it, shows what each score means for each
criterion, and lets them decline for a conflict without being told who applied. Signing in records
the address in the panel member's token with notifications, so they are emailed without registering.

The demo programme is shared by the whole browser session: blind review is switched off again at the end.
"""

import httpx
from playwright.sync_api import Page, expect

from portal.personas import BY_SUBJECT
from tests.browser.conftest import Platform, scan, screenshot, sign_in, sign_out
from tests.browser.test_reviewing import CRITERIA, bearer, criterion, submit_application


def _blind(platform: Platform, hidden: list[str]) -> None:
    """Set blind review through the API, as the manager's page does (to put the shared programme back)."""
    manager = bearer(platform, "maya-manager", "programme_manager")
    url = f"{platform.urls['scoring']}/v1/programmes/{platform.programme['id']}"
    read = httpx.get(url, headers=manager)
    changed = httpx.put(f"{url}/blind-review", json={"hidden_from_reviewers": hidden},
                        headers={**manager, "If-Match": read.headers["ETag"]})  # fmt: skip
    assert changed.status_code == 200, changed.text


def test_a_manager_hides_who_applied_and_the_panel_member_scores_with_guidance(page: Page, platform: Platform) -> None:
    application = submit_application(platform, "Peer support on the allotment", "Harbour Lights Collective")
    reviewer, review_id = next(iter(application.reviews.items()))
    programme_id = platform.programme["id"]
    try:
        sign_in(page, platform, "Maya Patel")
        page.goto(f"{platform.portal}/manage/programmes/{programme_id}")
        page.get_by_role("link", name="What reviewers are not shown (blind review)").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("What reviewers are not shown")
        choices = page.get_by_role("group", name="Which of these should reviewers not see?")
        expect(choices.get_by_role("checkbox")).to_have_count(3)
        scan(page, platform)
        choices.get_by_label("The organisation's name").check()
        choices.get_by_label("The area it works in").check()
        page.get_by_role("button", name="Save").click()
        expect(page).to_have_url(f"{platform.portal}/manage/programmes/{programme_id}")
        page.get_by_role("link", name="What reviewers are not shown (blind review)").click()
        expect(choices.get_by_label("The organisation's name")).to_be_checked()
        expect(choices.get_by_label("What kind of organisation it is (charity, community group, ...)")).not_to_be_checked()
        scan(page, platform)
        sign_out(page, platform)

        sign_in(page, platform, BY_SUBJECT[reviewer].name)
        page.get_by_role("link", name=application.title).click()
        expect(page.get_by_role("heading", level=1)).to_have_text(application.title)
        expect(page.get_by_text("Harbour Lights Collective")).to_have_count(0)
        expect(page.get_by_text("Ealing")).to_have_count(0)  # the area the group gave
        expect(page.get_by_text("Not shown to reviewers (blind review)")).to_have_count(2)
        # the guidance for each score sits with the score, read out with it
        need = criterion(page, CRITERIA[0])
        expect(need).to_contain_text("what it means for this criterion")
        five = need.get_by_label("5 – excellent")
        expect(five).to_have_accessible_description("Strong local evidence, shaped by people with lived experience")
        expect(need.get_by_text("No need is described")).to_be_visible()
        expect(criterion(page, CRITERIA[1]).get_by_text("Strong local evidence")).to_have_count(0)
        scan(page, platform)
        screenshot(page, "reviewer-blind-review-with-guidance")

        # knowing the group from what it wrote: declined for a conflict, without being told who it is
        page.get_by_role("link", name="I have a conflict of interest with this organisation").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Decline this review")
        expect(page.get_by_text("This programme reviews blind")).to_be_visible()
        scan(page, platform)
        page.get_by_label("I think I know the group that applied (a conflict of interest)").check()
        page.get_by_role("button", name="Decline the review").click()
        expect(page.get_by_role("link", name=application.title)).to_have_count(0)
        conflicts = httpx.get(f"{platform.urls['scoring']}/v1/conflicts", headers=bearer(platform, reviewer, "reviewer"))
        assert application.organisation_id in [c["organisation_id"] for c in conflicts.json()["items"]]

        # signing in recorded the address in their token: they were never asked to register one
        contact = httpx.get(f"{platform.urls['notifications']}/v1/me/contact",
                            headers=bearer(platform, reviewer, "reviewer"))  # fmt: skip
        assert contact.status_code == 200, contact.text
        assert (contact.json()["email"], contact.json()["source"]) == (BY_SUBJECT[reviewer].email, "token")
    finally:
        _blind(platform, [])


def test_a_manager_says_what_each_score_means_where_the_criteria_are_defined(page: Page, platform: Platform) -> None:
    from datetime import UTC, datetime, timedelta
    from uuid import uuid4

    from tests.browser.test_managing import _date

    name = f"Guided fund {uuid4().hex[:6]}"
    sign_in(page, platform, "Maya Patel")
    page.get_by_role("button", name="Create a programme").click()
    today = datetime.now(UTC)
    page.get_by_label("Name", exact=True).fill(name)
    page.get_by_label("Budget", exact=True).fill("12,000")
    page.get_by_label("Most one group can get").fill("4000")
    _date(page, "Opening date", today)
    _date(page, "Closing date", today + timedelta(days=60))
    page.get_by_label("Registered charity").check()
    first = page.get_by_role("group", name="Criterion 1")
    first.get_by_label("Title").fill("Evidence of need")
    first.get_by_label("Weight").fill("3")
    guidance = first.get_by_label("What each score means (optional)")
    guidance.fill("0: No need described\nStrong evidence")
    page.get_by_label("Panel members").fill("reviewer-amara\nreviewer-ben")
    page.get_by_role("button", name="Save the draft programme").click()
    expect(page.locator("#criterion-1-guidance-error")).to_contain_text("a score from 0 to 5 and a colon")
    expect(guidance).to_have_value("0: No need described\nStrong evidence")
    scan(page, platform)
    guidance.fill("0: No need described\n5: Strong local evidence")
    page.get_by_role("button", name="Save the draft programme").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(name)
    programme_id = page.url.rsplit("/", 1)[1]

    page.get_by_role("link", name=f"Edit {name}").click()
    expect(page.get_by_role("group", name="Criterion 1").get_by_label("What each score means (optional)")).to_have_value(
        "0: No need described\n5: Strong local evidence"
    )
    scan(page, platform)
    manager = bearer(platform, "maya-manager", "programme_manager")
    stored = httpx.get(f"{platform.urls['applications']}/v1/programmes/{programme_id}", headers=manager).json()
    assert stored["criteria"][0]["guidance"] == [
        {"score": 0, "meaning": "No need described"}, {"score": 5, "meaning": "Strong local evidence"},
    ]
