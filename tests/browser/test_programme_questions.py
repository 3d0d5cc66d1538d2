"""A group answers a programme's own questions in the portal with JavaScript off: each kind of
question on a page of its own, a question shown only when an earlier answer says so, a file upload,
the service's own words beside a field it refuses, check answers, submit. Every page passes axe."""

from uuid import uuid4

from playwright.sync_api import BrowserContext, expect

from grants_shared.dev.journey import MANAGER, Journey, demo_programme
from tests.browser.conftest import Platform, scan, screenshot, sign_in

FORM = {
    "questions": [
        {"kind": "long_text", "id": "need", "label": "What need will your project meet?", "max_words": 12,
         "help": "Tell us who is affected and why"},
        {"kind": "number", "id": "volunteers", "label": "How many volunteers will help?", "minimum": 0},
        {"kind": "money", "id": "other_funding", "label": "How much other funding do you have?", "currency": "GBP",
         "required": False},
        {"kind": "date", "id": "start", "label": "When will the project start?"},
        {"kind": "single_choice", "id": "setting", "label": "Where will you meet people?",
         "options": [{"value": "online", "label": "Online"}, {"value": "in_person", "label": "In person"}]},
        {"kind": "multiple_choice", "id": "who", "label": "Who is the project for?", "options": [
            {"value": "men", "label": "Men"}, {"value": "young", "label": "Young people"},
            {"value": "older", "label": "Older people"}]},
        {"kind": "yes_no", "id": "has_policy", "label": "Do you have a safeguarding policy?"},
        {"kind": "file", "id": "policy", "label": "Upload your safeguarding policy", "max_bytes": 100_000,
         "allowed_types": ["application/pdf"], "shown_if": {"question_id": "has_policy", "any_of": ["yes"]}},
    ],
    "criteria": {"need": ["need"], "reach": ["who", "setting"]},
}  # fmt: skip


def a_programme_with_questions(platform: Platform) -> dict:
    journey = Journey(platform.urls, say=lambda _: None)
    manager = journey.as_(MANAGER, "programme_manager")
    body = demo_programme() | {"name": f"Men's mental health small grants {uuid4().hex[:6]}"}
    created = journey.call("POST", "applications", "/v1/programmes", manager, expect=201, json=body)
    journey.call("PUT", "applications", f"/v1/programmes/{created.json()['id']}/form",
                 {**manager, "If-Match": created.headers["etag"]}, json=FORM)  # fmt: skip
    opened = journey.call("POST", "applications", f"/v1/programmes/{created.json()['id']}/open", manager).json()
    sam = journey.as_("sam-harrow", "applicant", organisations=("org-harrow-mens-shed",))
    profile = {"name": "Harrow Men's Shed", "kind": "community_group", "area": "Harrow",
               "annual_income": {"amount": 4_000_000, "currency": "GBP"}}  # fmt: skip
    journey.http.put(f"{platform.urls['applications']}/v1/organisations/org-harrow-mens-shed", headers=sam,
                     json=profile)  # created, or already there (428 without If-Match): either is a profile  # fmt: skip
    return opened


def test_a_group_answers_the_programmes_own_questions_without_javascript(
    no_js_context: BrowserContext, platform: Platform, tmp_path
) -> None:
    programme = a_programme_with_questions(platform)
    page = no_js_context.new_page()
    sign_in(page, platform, "Sam Okafor")
    page.goto(f"{platform.portal}/programmes/{programme['id']}/apply")
    page.get_by_label("What is your project called?").fill("Shed talks")
    page.get_by_role("button", name="Save and continue").click()
    # The programme's questions are on the task list; the file question is not, until it is asked for
    expect(page.get_by_role("link", name="What need will your project meet?")).to_be_visible()
    expect(page.get_by_role("link", name="Upload your safeguarding policy")).to_have_count(0)
    scan(page, platform)
    screenshot(page, "applicant-programme-questions")

    page.get_by_role("link", name="What need will your project meet?").click()
    expect(page.get_by_text("Tell us who is affected and why")).to_be_visible()
    page.get_by_label("What need will your project meet?").fill("Older men in Harrow are isolated and many never ask for help at all")
    page.get_by_role("button", name="Save and continue").click()
    # The service's rule, in its words, beside the field and in the error summary linking to it
    expect(page.locator(".nhsuk-error-message")).to_contain_text("Use 12 words or fewer; you used 14")
    expect(page.locator(".nhsuk-error-summary a[href='#answer']")).to_be_visible()
    scan(page, platform)
    page.get_by_label("What need will your project meet?").fill("Older men in Harrow are isolated")
    page.get_by_role("button", name="Save and continue").click()

    page.get_by_role("link", name="How many volunteers will help?").click()
    page.get_by_label("How many volunteers will help?").fill("a few")
    page.get_by_role("button", name="Save and continue").click()
    expect(page.locator(".nhsuk-error-message")).to_contain_text("Enter a whole number")
    scan(page, platform)
    page.get_by_label("How many volunteers will help?").fill("8")
    page.get_by_role("button", name="Save and continue").click()

    page.get_by_role("link", name="How much other funding do you have?").click()
    page.get_by_label("How much other funding do you have?").fill("1,500")
    page.get_by_role("button", name="Save and continue").click()

    page.get_by_role("link", name="When will the project start?").click()
    page.get_by_label("Day").fill("1")
    page.get_by_label("Month").fill("4")
    page.get_by_label("Year").fill("2027")
    scan(page, platform)
    page.get_by_role("button", name="Save and continue").click()

    page.get_by_role("link", name="Where will you meet people?").click()
    page.get_by_label("In person").check()
    scan(page, platform)
    page.get_by_role("button", name="Save and continue").click()

    page.get_by_role("link", name="Who is the project for?").click()
    page.get_by_label("Men", exact=True).check()
    page.get_by_label("Older people").check()
    page.get_by_role("button", name="Save and continue").click()

    page.get_by_role("link", name="Do you have a safeguarding policy?").click()
    page.get_by_role("button", name="Save and continue").click()
    expect(page.locator(".nhsuk-error-message")).to_contain_text("Select an answer")
    page.get_by_label("Yes").check()
    page.get_by_role("button", name="Save and continue").click()

    # Answering yes brings the upload onto the task list
    page.get_by_role("link", name="Upload your safeguarding policy").click()
    not_a_pdf = tmp_path / "policy.txt"
    not_a_pdf.write_text("our policy")
    page.get_by_label("Upload your safeguarding policy").set_input_files(not_a_pdf)
    page.get_by_role("button", name="Upload and continue").click()
    expect(page.locator(".nhsuk-error-message")).to_contain_text("The file must be a PDF")
    scan(page, platform)
    policy = tmp_path / "safeguarding.pdf"
    policy.write_bytes(b"%PDF-1.7\n% our safeguarding policy\n")
    page.get_by_label("Upload your safeguarding policy").set_input_files(policy)
    page.get_by_role("button", name="Upload and continue").click()

    # The fixed questions are still on the same task list
    page.get_by_role("link", name="Tell us about your project").click()
    page.get_by_label("Tell us about your project").fill("Weekly shed sessions where older men talk and make things.")
    page.get_by_role("button", name="Save and continue").click()
    page.get_by_role("link", name="How much are you asking for?").click()
    page.get_by_label("How much are you asking for?").fill("5000")
    page.get_by_role("button", name="Save and continue").click()

    page.get_by_role("link", name="Check your answers and submit").click()
    for answer in ("Older men in Harrow are isolated", "£1,500.00", "1 April 2027", "In person", "Men, Older people",
                   "safeguarding.pdf", "£5,000.00"):
        expect(page.get_by_text(answer, exact=True)).to_be_visible()
    scan(page, platform)
    screenshot(page, "applicant-check-programme-answers")
    page.get_by_role("link", name="Change How many volunteers will help?").click()
    expect(page.get_by_label("How many volunteers will help?")).to_have_value("8")
    page.go_back()
    page.get_by_role("button", name="Submit application").click()
    expect(page.get_by_role("heading", name="Application submitted")).to_be_visible()


def test_anyone_checks_the_rules_first_and_a_submission_that_breaks_them_comes_back_to_correct(
    no_js_context: BrowserContext, platform: Platform
) -> None:
    journey = Journey(platform.urls, say=lambda _: None)
    manager = journey.as_(MANAGER, "programme_manager")
    body = demo_programme() | {"name": f"Brent only small grants {uuid4().hex[:6]}"}
    body["eligibility"] = {**body["eligibility"], "areas_served": ["Brent"]}
    created = journey.call("POST", "applications", "/v1/programmes", manager, expect=201, json=body).json()
    programme = journey.call("POST", "applications", f"/v1/programmes/{created['id']}/open", manager).json()
    a_programme_with_questions(platform)  # Sam's profile, whatever ran before

    page = no_js_context.new_page()
    page.goto(f"{platform.portal}/programmes/{programme['id']}")
    page.get_by_role("link", name="Check whether your group can apply").click()
    scan(page, platform)
    page.get_by_role("button", name="Check").click()
    expect(page.locator(".nhsuk-error-summary")).to_contain_text("Select the kind of organisation you are")
    scan(page, platform)
    page.get_by_label("Faith group").check()
    page.get_by_label("Where does your organisation work?").fill("Leeds")
    page.get_by_label("Yearly income").fill("40,000")
    page.get_by_label("How much would you ask for? (optional)").fill("20000")
    page.get_by_role("button", name="Check").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Your group cannot apply yet")
    expect(page.get_by_text("Your organisation's area, Leeds, is not one this programme serves (Brent).")).to_be_visible()
    expect(page.get_by_text("The largest grant this programme makes is £10,000.00; you asked for £20,000.00.")).to_be_visible()
    scan(page, platform)
    page.get_by_role("link", name="Check again").first.click()
    page.get_by_label("Community or voluntary group (not registered)").check()
    page.get_by_label("Where does your organisation work?").fill("brent")
    page.get_by_label("Yearly income").fill("40000")
    page.get_by_role("button", name="Check").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Your group can apply")
    scan(page, platform)

    # Sam's group works in Harrow: its draft says so before anything is sent, and a submission comes back
    sign_in(page, platform, "Sam Okafor")
    page.goto(f"{platform.portal}/programmes/{programme['id']}/apply")
    page.get_by_label("What is your project called?").fill("Shed talks in Brent")
    page.get_by_role("button", name="Save and continue").click()
    expect(page.get_by_text("Your application does not meet the rules yet")).to_be_visible()
    expect(page.get_by_text("Your organisation's area, Harrow, is not one this programme serves (Brent).")).to_be_visible()
    scan(page, platform)
    page.get_by_role("link", name="Tell us about your project").click()
    page.get_by_label("Tell us about your project").fill("Talking and making things together.")
    page.get_by_role("button", name="Save and continue").click()
    page.get_by_role("link", name="How much are you asking for?").click()
    page.get_by_label("How much are you asking for?").fill("3000")
    page.get_by_role("button", name="Save and continue").click()
    page.get_by_role("link", name="Check your answers and submit").click()
    page.get_by_role("button", name="Submit application").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Your application needs a change before it can go forward")
    expect(page.get_by_text("Your organisation's area, Harrow, is not one this programme serves (Brent).")).to_be_visible()
    scan(page, platform)
    screenshot(page, "applicant-returned-for-correction")
    page.get_by_role("button", name="Go back to your application").click()
    expect(page.get_by_role("link", name="Check your answers and submit")).to_be_visible()
