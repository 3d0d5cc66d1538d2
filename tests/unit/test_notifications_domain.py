"""Pure rules of the notifications service: what each message says, how money reads, notification
ids, escaping, the email message and the email retry rules."""

import re
from datetime import UTC, date, datetime, timedelta

import pytest

from grants_shared.events import NotificationDelivered, Reason, ScheduledAmount
from grants_shared.money import Money
from notifications import domain, preferences
from notifications.config import Settings
from notifications.domain import ApplicationRecord, EmailStatus, Notice, RecipientKind, Template, WebhookStatus
from notifications.mailer import compose_email, message_id
from notifications.rendering import missing_templates, render
from notifications.store import Email, Notification

NOW = datetime(2026, 11, 26, 10, 30, tzinfo=UTC)


def gbp(pence: int) -> Money:
    return Money(amount=pence, currency="GBP")


def an_application(title: str = "Walk and talk peer support", name: str = "Sam Okafor") -> ApplicationRecord:
    return ApplicationRecord(
        application_id="app-1", programme_id="prog-1", title=title, organisation_name="Hope Street Group",
        person_id="person-1", contact_name=name, contact_email="sam@hope.example",
    )


INVOLVEMENT = (Template.INVOLVEMENT_CLAIM_APPROVED, Template.INVOLVEMENT_CLAIM_REJECTED, Template.INVOLVEMENT_CLAIM_PAID,
               Template.INVOLVEMENT_PAYMENT_FAILED)


def every_notice(app: ApplicationRecord, text: str = "") -> dict[Template, Notice]:
    """One notice of each kind; `text` is put in every free-text field people write."""
    programme = "Suicide prevention small grants 2026"
    return {
        Template.APPLICATION_RECEIVED: domain.application_received(app, programme, gbp(500_000)),
        Template.APPLICATION_INELIGIBLE: domain.application_ineligible(
            app, programme,
            [Reason(code="outside_area", message=f"The group works outside the programme's area{text}"),
             Reason(code="over_maximum", message="The amount asked for is over the maximum award")],
        ),
        Template.APPLICATION_RETURNED: domain.application_returned(
            app, programme, [Reason(code="area_not_served", message=f"Your area, Leeds, is not served{text}")],
            NOW, "evt-1",
        ),
        Template.INTEREST_RECEIVED: domain.interest_received(app, programme),
        Template.APPLICATION_INVITED: domain.application_invited(app, programme, NOW),
        Template.INTEREST_DECLINED: domain.interest_declined(app, programme, f"Tell us more about who you reach{text}"),
        Template.APPLICATION_WITHDRAWN: domain.application_withdrawn(app, programme, f"We merged{text}"),
        Template.REVIEW_ASSIGNED: domain.review_assigned(
            "reviewer-7", f"Ali{text}", "rev-3", "app-1", app.title, programme, date(2026, 12, 4)
        ),
        Template.APPLICATION_AWARDED: domain.application_decided(
            app, programme, "awarded", gbp(450_000), f"Strong local roots{text}"
        ),
        Template.APPLICATION_DECLINED: domain.application_decided(
            app, programme, "declined", None, f"Too little detail on safeguarding{text}"
        ),
        Template.GRANT_OFFERED: domain.grant_offered(
            app, programme, "grant-9", gbp(500_000),
            [ScheduledAmount(sequence=2, amount=gbp(250_000), due_after_days=90),
             ScheduledAmount(sequence=1, amount=gbp(250_000), due_after_days=0)],
            datetime(2026, 12, 31, tzinfo=UTC),
        ),
        Template.GRANT_OFFER_REMINDER: domain.grant_offer_reminder(
            app, programme, "grant-9", gbp(500_000), datetime(2026, 12, 31, tzinfo=UTC)
        ),
        Template.GRANT_OFFER_DECLINED: domain.grant_offer_closed(app, programme, "grant-9", gbp(500_000), declined=True),
        Template.MONITORING_REPORT_DUE: domain.monitoring_report_due(
            app, programme, "grant-9", "rep-1", "Midway report", datetime(2026, 6, 8, tzinfo=UTC), overdue=True
        ),
        Template.MONITORING_REPORT_CHANGES_REQUESTED: domain.monitoring_report_reviewed(
            app, programme, "grant-9", "evt-2", "Midway report", "Say how many people came to the walks"
        ),
        Template.MONITORING_REPORT_ACCEPTED: domain.monitoring_report_reviewed(
            app, programme, "grant-9", "evt-3", "Midway report", None
        ),
        Template.GROUP_TRAINING_OFFERED: domain.group_training_offered(
            app, programme, "grant-9", "gtr-1", "Suicide awareness", "Zero Suicide Alliance", 4
        ),
        Template.GROUP_TRAINING_REMINDER: domain.group_training_reminder(
            app, programme, "grant-9", "gtr-1", "Suicide awareness", 4
        ),
        Template.GRANT_OFFER_EXPIRED: domain.grant_offer_closed(app, programme, "grant-9", gbp(500_000), declined=False),
        Template.GRANT_VARIED: domain.grant_varied(app, programme, "grant-9", "evt-1", "amount", gbp(450_000),
                                                   gbp(500_000), None),
        Template.GRANT_ACCEPTED: domain.grant_accepted(app, programme, "grant-9", gbp(500_000)),
        Template.PAYMENT_SENT: domain.payment_sent(app, programme, "grant-9", "pay-1", gbp(250_000), "BACS-123", NOW),
        Template.PAYMENT_FAILED: domain.payment_failed(app, programme, "grant-9", "pay-1", 1, f"The bank was unavailable{text}.", True),
        Template.DAILY_DIGEST: preferences.digest_notice(
            "reviewer-7", RecipientKind.REVIEWER, f"Ali{text}", date(2026, 12, 4),
            [preferences.DigestLine(f'Please review "{app.title}"{text}', "/reviews/rev-3", NOW)],
        ),
        Template.DECISION_MEETING_INVITATION: domain.decision_meeting_invitation(
            "reviewer-7", f"Ali{text}", "mtg-4", programme, date(2026, 12, 9), 3
        ),
        Template.REVIEW_REMINDER: domain.review_reminder(
            "reviewer-7", f"Ali{text}", "rev-3", "app-1", app.title, programme, date(2026, 12, 4)
        ),
        Template.REVIEW_OVERDUE: domain.review_overdue(
            "reviewer-7", f"Ali{text}", "rev-3", "app-1", app.title, programme, date(2026, 12, 4)
        ),
        Template.REVIEW_OVERDUE_MANAGER: domain.review_overdue_to_manager(
            "maya", f"Maya{text}", "rev-3", "app-1", app.title, programme, date(2026, 12, 4)
        ),
        Template.TRANCHE_RELEASED: domain.tranche_released(
            app, programme, "grant-9", "pay-2", 2, gbp(150_000), date(2026, 12, 1), [f"Midway report{text}"]
        ),
        Template.TRANCHE_HELD_FOR_REPORT: domain.tranche_held_for_report(
            app, programme, "grant-9", "pay-2", "rep-1", 2, gbp(150_000), f"Midway report{text}"
        ),
        Template.PAYMENT_RUN_AWAITING_APPROVAL: domain.payment_run_awaiting_approval(
            "fin-1", f"Femi{text}", "run-7", gbp(1_250_000), 3, 2
        ),
        Template.MEETING_VOTE_REMINDER: domain.meeting_vote_reminder(
            "reviewer-7", f"Ali{text}", "mtg-4", programme, date(2026, 12, 9), 2
        ),
        Template.INVOLVEMENT_CLAIM_APPROVED: domain.involvement_claim_approved(
            "reviewer-7", f"Ali{text}", "clm-1", programme, "time", gbp(7_500)
        ),
        Template.INVOLVEMENT_CLAIM_REJECTED: domain.involvement_claim_rejected(
            "reviewer-7", f"Ali{text}", "clm-1", programme, "expenses", gbp(1_250), f"No such journey{text}"
        ),
        Template.INVOLVEMENT_CLAIM_PAID: domain.involvement_claim_paid(
            "reviewer-7", f"Ali{text}", "clm-1", programme, gbp(7_500), "bank", NOW
        ),
        Template.INVOLVEMENT_PAYMENT_FAILED: domain.involvement_payment_failed(
            "reviewer-7", f"Ali{text}", "clm-1", programme, gbp(7_500)
        ),
    }


# --- money and dates -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [
        (500_000, "GBP", "£5,000.00"),
        (5, "GBP", "£0.05"),
        (0, "GBP", "£0.00"),
        (123_456_789, "GBP", "£1,234,567.89"),
        (1_050, "EUR", "€10.50"),
        (99, "USD", "US$0.99"),
        (1_250, "CHF", "CHF12.50"),
        (1_234, "JPY", "JP¥1,234"),
        (1_234_567, "BHD", "BHD1,234.567"),
    ],
)
def test_money_reads_from_minor_units(amount: int, currency: str, expected: str) -> None:
    assert domain.format_money(Money(amount=amount, currency=currency)) == expected


def test_dates_are_written_out_in_full() -> None:
    assert domain.format_date(date(2026, 12, 4)) == "Friday 4 December 2026"
    assert domain.when_due(0) == "when you accept the offer"
    assert domain.when_due(1) == "1 day after you accept the offer"
    assert domain.when_due(90) == "90 days after you accept the offer"


# --- notification ids ------------------------------------------------------------------------------


def test_the_notification_id_is_deterministic_and_fits_the_event_contract() -> None:
    first = domain.notification_id("evt-1", "person-1", Template.APPLICATION_RECEIVED)
    assert first == domain.notification_id("evt-1", "person-1", Template.APPLICATION_RECEIVED)
    assert re.fullmatch(r"ntf_[0-9a-f]{40}", first)
    others = {
        domain.notification_id("evt-2", "person-1", Template.APPLICATION_RECEIVED),
        domain.notification_id("evt-1", "person-2", Template.APPLICATION_RECEIVED),
        domain.notification_id("evt-1", "person-1", Template.APPLICATION_INELIGIBLE),
        # no ambiguity from gluing the parts together
        domain.notification_id("evt-1p", "erson-1", Template.APPLICATION_RECEIVED),
    }
    assert first not in others and len(others) == 4
    NotificationDelivered(notification_id=first, channel="inbox", recipient_kind="applicant",
                          answered_event_id="evt-1", answered_event_type="grants.application.submitted.v1")


# --- templates -------------------------------------------------------------------------------------


def test_every_kind_of_message_has_its_three_templates() -> None:
    assert missing_templates() == []
    assert set(every_notice(an_application())) == set(Template)


@pytest.mark.parametrize("template", list(Template))
def test_each_kind_renders_a_subject_a_text_body_and_an_html_body(template: Template) -> None:
    notice = every_notice(an_application())[template]
    rendered = render(notice)
    assert rendered.subject and "\n" not in rendered.subject
    assert rendered.text.strip() and "{{" not in rendered.text and "{%" not in rendered.text
    assert rendered.html.startswith("<!DOCTYPE html>") and "</html>" in rendered.html
    to_panel = template in (
        Template.REVIEW_ASSIGNED, Template.DECISION_MEETING_INVITATION, Template.DAILY_DIGEST,
        Template.REVIEW_REMINDER, Template.REVIEW_OVERDUE, Template.MEETING_VOTE_REMINDER, *INVOLVEMENT,
    )
    to_manager = template is Template.REVIEW_OVERDUE_MANAGER
    if template is Template.DECISION_MEETING_INVITATION:  # about a meeting, not one application
        assert "on Wednesday 9 December 2026" in rendered.text and "decide 3 applications" in rendered.html
    elif template is Template.PAYMENT_RUN_AWAITING_APPROVAL:  # about a run of many grants' payments
        assert "£12,500.00" in rendered.text and "£12,500.00" in rendered.html
    elif template is Template.MEETING_VOTE_REMINDER:  # how many items await the member, not which
        assert "on Wednesday 9 December 2026" in rendered.text and "2 applications" in rendered.subject
        assert "<strong>2 applications</strong>" in rendered.html
    elif template in INVOLVEMENT:  # about a panel member's claim, not one application
        assert "£75.00" in rendered.text + rendered.subject or "£12.50" in rendered.text
    else:
        assert "Walk and talk peer support" in rendered.text + rendered.subject
        assert "Walk and talk peer support" in rendered.html
    greeting = ("Dear Ali," if to_panel else "Dear Maya," if to_manager
                else "Dear Femi," if template is Template.PAYMENT_RUN_AWAITING_APPROVAL else "Dear Sam Okafor,")
    assert greeting in rendered.text and greeting in rendered.html


def test_the_received_message_gives_amount_programme_and_reference() -> None:
    rendered = render(every_notice(an_application())[Template.APPLICATION_RECEIVED])
    assert rendered.subject == 'We have received your application "Walk and talk peer support"'
    for part in (rendered.text, rendered.html):
        assert "£5,000.00" in part
        assert "Suicide prevention small grants 2026" in part
        assert "app-1" in part


def test_an_ineligible_application_hears_every_reason_in_plain_words() -> None:
    rendered = render(every_notice(an_application())[Template.APPLICATION_INELIGIBLE])
    assert "The group works outside the programme's area" in rendered.text
    assert "The group works outside the programme&#39;s area" in rendered.html
    for part in (rendered.text, rendered.html):
        assert "The amount asked for is over the maximum award" in part
        assert "outside_area" not in part  # machine codes are not for people
    assert rendered.html.count("<li>") == 2


def test_an_award_gives_the_amount_and_a_decline_gives_the_feedback() -> None:
    notices = every_notice(an_application())
    awarded = render(notices[Template.APPLICATION_AWARDED])
    assert "£4,500.00" in awarded.subject and "£4,500.00" in awarded.text and "£4,500.00" in awarded.html
    declined = render(notices[Template.APPLICATION_DECLINED])
    assert "Too little detail on safeguarding" in declined.text
    assert "Too little detail on safeguarding" in declined.html
    silent = render(domain.application_decided(an_application(), None, "declined", None, "  "))
    assert "did not leave written feedback" in silent.text


def test_an_offer_sets_out_the_schedule_in_order_and_how_to_accept() -> None:
    rendered = render(every_notice(an_application())[Template.GRANT_OFFERED])
    assert "£5,000.00" in rendered.subject
    first = rendered.text.index("1. £2,500.00, when you accept the offer")
    second = rendered.text.index("2. £2,500.00, 90 days after you accept the offer")
    assert first < second
    assert "How to accept" in rendered.text and "grant-9" in rendered.text
    assert rendered.html.count("<tr>") == 3  # header and two payments


PAGES = {
    Template.REVIEW_ASSIGNED: "/reviews/rev-3",
    Template.GRANT_OFFERED: "/grants/grant-9", Template.GRANT_ACCEPTED: "/grants/grant-9",
    Template.PAYMENT_SENT: "/grants/grant-9", Template.PAYMENT_FAILED: "/grants/grant-9",
    Template.GRANT_OFFER_REMINDER: "/grants/grant-9", Template.GRANT_OFFER_DECLINED: "/grants/grant-9",
    Template.GRANT_OFFER_EXPIRED: "/grants/grant-9", Template.GRANT_VARIED: "/grants/grant-9",
    Template.MONITORING_REPORT_DUE: "/grants/grant-9", Template.MONITORING_REPORT_CHANGES_REQUESTED: "/grants/grant-9",
    Template.MONITORING_REPORT_ACCEPTED: "/grants/grant-9",
    Template.GROUP_TRAINING_OFFERED: "/grants/grant-9/training",
    Template.GROUP_TRAINING_REMINDER: "/grants/grant-9/training",
    Template.DAILY_DIGEST: "/inbox",
    Template.DECISION_MEETING_INVITATION: "/panel/meetings/mtg-4",
    Template.REVIEW_REMINDER: "/reviews/rev-3", Template.REVIEW_OVERDUE: "/reviews/rev-3",
    Template.REVIEW_OVERDUE_MANAGER: "/manage/applications/app-1",
    Template.TRANCHE_RELEASED: "/grants/grant-9", Template.TRANCHE_HELD_FOR_REPORT: "/grants/grant-9",
    Template.PAYMENT_RUN_AWAITING_APPROVAL: "/finance/payment-runs/run-7",
    Template.MEETING_VOTE_REMINDER: "/panel/meetings/mtg-4",
    **{template: "/panel/involvement" for template in INVOLVEMENT},
}


@pytest.mark.parametrize("template", list(Template))
def test_every_message_links_to_the_exact_portal_page_it_is_about(template: Template) -> None:
    app = an_application()
    notice = every_notice(app)[template]
    page = PAGES.get(template, f"/applications/{app.application_id}")
    assert notice.page == page
    rendered = render(notice, "https://grants.example.org")
    assert f"https://grants.example.org{page}" in rendered.text
    assert f'href="https://grants.example.org{page}"' in rendered.html


def test_a_failed_payment_says_delayed_when_it_will_be_retried_and_otherwise_who_acts() -> None:
    retried = render(every_notice(an_application())[Template.PAYMENT_FAILED])
    assert "delayed" in retried.subject
    assert "we will try again automatically" in retried.text
    assert "unavailable.." not in retried.text  # a reason's own full stop is not doubled
    final = render(domain.payment_failed(an_application(), None, "grant-9", "pay-1", 5, "Account closed", False))
    assert "will not try again automatically" in final.text
    assert "finance team will contact you" in final.html


def test_only_the_first_and_the_last_payment_failure_are_worth_a_message() -> None:
    assert domain.worth_telling_about_payment_failure(1, will_retry=True)
    assert not domain.worth_telling_about_payment_failure(2, will_retry=True)
    assert domain.worth_telling_about_payment_failure(3, will_retry=False)
    assert domain.worth_telling_about_payment_failure(1, will_retry=False)
    # Overtaken by the payment itself: telling someone who was paid that the payment is delayed misleads.
    assert not domain.worth_telling_about_payment_failure(1, will_retry=True, already_sent=True)
    assert not domain.worth_telling_about_payment_failure(3, will_retry=False, already_sent=True)


def test_a_run_awaiting_approval_tells_finance_the_total_and_how_many_must_approve() -> None:
    rendered = render(every_notice(an_application())[Template.PAYMENT_RUN_AWAITING_APPROVAL])
    assert rendered.subject == "A payment run of £12,500.00 awaits your approval"
    assert "3 payments" in rendered.text and "two different finance officers" in rendered.html
    one = render(domain.payment_run_awaiting_approval("fin-1", None, "run-8", gbp(100), 1, 1))
    assert "1 payment," in one.text and "a finance officer approves it" in one.text


def test_a_tranche_released_says_what_it_waited_for_and_when_it_is_paid() -> None:
    rendered = render(every_notice(an_application())[Template.TRANCHE_RELEASED])
    assert rendered.subject == "Payment 2 of your grant (£1,500.00) is released"
    assert "Midway report" in rendered.text and "Tuesday 1 December 2026" in rendered.text
    held = render(every_notice(an_application())[Template.TRANCHE_HELD_FOR_REPORT])
    assert "held" in held.subject and "is overdue" in held.text


def test_a_payment_sent_gives_amount_date_and_reference() -> None:
    rendered = render(every_notice(an_application())[Template.PAYMENT_SENT])
    assert "£2,500.00" in rendered.subject
    assert "Thursday 26 November 2026" in rendered.text and "BACS-123" in rendered.html


@pytest.mark.parametrize("template", list(Template))
def test_text_people_wrote_is_escaped_in_html_and_left_alone_in_plain_text(template: Template) -> None:
    script = "<script>alert('x')</script>"
    app = an_application(title=f"Peer support {script}", name=f"Sam {script}")
    rendered = render(every_notice(app, text=script)[template])
    assert "<script>" not in rendered.html
    assert "&lt;script&gt;" in rendered.html
    assert "<script>" in rendered.text  # plain text is not HTML: nothing to escape


def test_a_subject_never_carries_a_line_break() -> None:
    rendered = render(domain.application_received(an_application(title="Line one\r\nBcc: x@evil.example"), None,
                                                  gbp(100)))
    assert "\n" not in rendered.subject and "\r" not in rendered.subject


# --- who gets an email -----------------------------------------------------------------------------


def test_a_registered_address_wins_and_reviewers_need_one() -> None:
    applicant = domain.Recipient("person-1", RecipientKind.APPLICANT)
    reviewer = domain.Recipient("reviewer-7", RecipientKind.REVIEWER)
    on_application = domain.Mailbox("office@hope.example", "Sam Okafor")
    own = domain.Mailbox("sam@mail.example", "Sam")
    assert domain.email_destination(applicant, None, on_application) == on_application
    assert domain.email_destination(applicant, own, on_application) == own
    assert domain.email_destination(reviewer, None, None) is None
    assert domain.email_destination(reviewer, own, None) == own


# --- the email message -----------------------------------------------------------------------------


def test_the_email_carries_text_and_html_and_the_notification_id_as_message_id() -> None:
    rendered = render(every_notice(an_application())[Template.APPLICATION_AWARDED])
    email = Email(status=EmailStatus.PENDING, address="sam@hope.example", name="Sam\nOkafor", next_attempt_at=NOW)
    notification = Notification(
        id="ntf_" + "a" * 40, recipient_id="person-1", recipient_kind=RecipientKind.APPLICANT,
        template=Template.APPLICATION_AWARDED, event_id="evt-1", event_type="grants.application.decided.v1",
        application_id="app-1", subject=rendered.subject, text=rendered.text, html=rendered.html, created_at=NOW,
        email=email,
    )
    settings = Settings(mail_from="grants@nhs-grants.example", mail_from_name="Community Grants")
    message = compose_email(notification, email, settings, NOW)
    assert message["Message-ID"] == f"<ntf_{'a' * 40}@nhs-grants.example>"
    assert message["Message-ID"] == message_id(notification.id, "x@nhs-grants.example")
    assert message["To"] == "Sam Okafor <sam@hope.example>"
    assert message["From"] == "Community Grants <grants@nhs-grants.example>"
    assert message["Subject"] == rendered.subject
    assert message.get_content_type() == "multipart/alternative"
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert text is not None and "£4,500.00" in text.get_content()
    assert html is not None and "<strong>£4,500.00</strong>" in html.get_content()


def test_the_lease_must_outlast_a_send() -> None:
    with pytest.raises(ValueError, match="email_lease_seconds"):
        Settings(smtp_timeout=30, email_lease_seconds=10)


# --- email state machine and retries ---------------------------------------------------------------


def test_the_email_state_machine_only_moves_forward() -> None:
    assert domain.can_move(EmailStatus.PENDING, EmailStatus.SENDING)
    assert not domain.can_move(EmailStatus.PENDING, EmailStatus.SENT)  # never sent without a claim
    assert domain.can_move(EmailStatus.SENDING, EmailStatus.SENT)
    assert domain.can_move(EmailStatus.SENDING, EmailStatus.PENDING)
    assert domain.can_move(EmailStatus.SENDING, EmailStatus.SENDING)  # a stale claim taken over
    for final in (EmailStatus.SENT, EmailStatus.FAILED):
        assert not any(domain.can_move(final, target) for target in EmailStatus)


def test_an_email_is_never_settled_into_a_state_emails_do_not_have() -> None:
    # Settling checks every move with check_move: a webhook can be cancelled, an email cannot.
    assert domain.check_move(EmailStatus.SENDING, EmailStatus.SENT) is EmailStatus.SENT
    with pytest.raises(ValueError, match="cannot move from sending to cancelled"):
        domain.check_move(EmailStatus.SENDING, WebhookStatus.CANCELLED)  # type: ignore[type-var]
    with pytest.raises(ValueError, match="cannot move from sent to pending"):
        domain.check_move(EmailStatus.SENT, EmailStatus.PENDING)


def test_retries_back_off_exponentially_up_to_a_cap() -> None:
    delays = [domain.retry_delay(n, base_seconds=30, max_seconds=600) for n in range(1, 8)]
    assert delays[:5] == [timedelta(seconds=s) for s in (30, 60, 120, 240, 480)]
    assert delays[5] == delays[6] == timedelta(seconds=600)


def test_a_failed_send_is_retried_until_the_attempts_run_out() -> None:
    rules = {"max_attempts": 3, "base_seconds": 10, "max_seconds": 100}
    assert domain.next_attempt(1, NOW, permanent=False, **rules) == NOW + timedelta(seconds=10)
    assert domain.next_attempt(2, NOW, permanent=False, **rules) == NOW + timedelta(seconds=20)
    assert domain.next_attempt(3, NOW, permanent=False, **rules) is None  # given up: failed
    assert domain.next_attempt(1, NOW, permanent=True, **rules) is None


def test_an_address_is_kept_out_of_failure_reasons_whatever_its_case() -> None:
    answer = "recipient refused: 550 5.1.1 <Sam.Okafor@hope.example>: user unknown (sam.okafor@HOPE.example)"
    kept = domain.without_address(answer, "sam.okafor@hope.example")
    assert kept == "recipient refused: 550 5.1.1 <<recipient>>: user unknown (<recipient>)"
    assert domain.without_address("a.b+c@x.example refused", "a.b+c@x.example") == "<recipient> refused"
    assert domain.without_address("axb refused", "a.b") == "axb refused"  # the address is literal, not a pattern


def test_only_a_5xx_refusal_of_every_recipient_is_permanent() -> None:
    assert domain.refusal_is_permanent([550])
    assert not domain.refusal_is_permanent([450])
    assert not domain.refusal_is_permanent([550, 451])
    assert not domain.refusal_is_permanent([])


def test_links_point_at_the_configured_portal() -> None:
    notice = every_notice(an_application())[Template.GRANT_OFFERED]
    rendered = render(notice, "https://grants.nhs.example")
    assert "https://grants.nhs.example" in rendered.text + rendered.html
    assert "localhost:8000" not in rendered.text + rendered.html


def test_a_returned_application_hears_what_to_change_and_until_when() -> None:
    rendered = render(every_notice(an_application())[Template.APPLICATION_RETURNED])
    assert "needs a change" in rendered.subject
    for part in (rendered.text, rendered.html):
        assert "Your area, Leeds, is not served" in part
        assert "submit it again" in part and NOW.strftime("%B") in part
        assert "area_not_served" not in part
    again = domain.application_returned(an_application(), None, [], NOW, "evt-2")
    first = every_notice(an_application())[Template.APPLICATION_RETURNED]
    assert again.about != first.about, "each return is told of once, a second return too"


def test_an_invitation_says_until_when_and_a_declined_expression_of_interest_gives_the_feedback() -> None:
    notices = every_notice(an_application())
    invited = render(notices[Template.APPLICATION_INVITED])
    assert "invited" in invited.subject and "answers so far are kept" in invited.text
    assert NOW.strftime("%B") in invited.text and NOW.strftime("%B") in invited.html
    declined = render(notices[Template.INTEREST_DECLINED])
    for part in (declined.text, declined.html):
        assert "Tell us more about who you reach" in part
    silent = render(domain.interest_declined(an_application(), None, " "))
    assert "did not leave written feedback" in silent.text
    assert "reads every one" in render(notices[Template.INTEREST_RECEIVED]).text


def test_involvement_messages_tell_the_member_the_amount_benefits_advice_and_how_it_was_paid() -> None:
    notices = every_notice(an_application())
    approved = render(notices[Template.INVOLVEMENT_CLAIM_APPROVED])
    assert "£75.00" in approved.subject and "Citizens Advice" in approved.text and "Citizens Advice" in approved.html
    rejected = render(notices[Template.INVOLVEMENT_CLAIM_REJECTED])
    assert "No such journey" in rejected.text and "No such journey" in rejected.html
    paid = render(notices[Template.INVOLVEMENT_CLAIM_PAID])
    assert "to your bank account" in paid.text and "£75.00" in paid.html
    voucher = render(domain.involvement_claim_paid("reviewer-7", "Ali", "clm-1", None, gbp(7_500), "voucher", NOW))
    assert "voucher" in voucher.text and "bank" not in voucher.text.split("See your")[0]
