"""People's choices, as pure rules: which kinds can be turned off (and that the ones that must always
go cannot), what happens to one message's email and inbox copy, who may have a daily digest and when
it is due, one-click unsubscribe, its signed token and the email headers (RFC 8058)."""

from datetime import UTC, date, datetime

import pytest
from cryptography.fernet import Fernet
from pydantic import ValidationError

from grants_shared.auth import Role
from notifications import preferences, unsubscribe
from notifications.config import Settings
from notifications.crypto import SecretUnreadable, cipher_for
from notifications.domain import RecipientKind, Template
from notifications.mailer import compose_email
from notifications.preferences import Choices, Delivery
from notifications.schemas import PreferencesChange, PreferencesView
from notifications.store import Email, Notification

NOW = datetime(2026, 11, 26, 10, 30, tzinfo=UTC)
MUST_GO = (Template.PAYMENT_FAILED, Template.GRANT_OFFERED, Template.APPLICATION_AWARDED,
           Template.APPLICATION_DECLINED, Template.APPLICATION_INELIGIBLE)  # fmt: skip


@pytest.mark.parametrize("kind", MUST_GO)
def test_a_payment_failure_an_offer_and_a_decision_always_go_whatever_was_chosen(kind: Template) -> None:
    everything_off = Choices(frozenset(Template), frozenset(Template), digest=True)
    assert not preferences.can_turn_off(kind)
    assert preferences.email_delivery(everything_off, kind) is Delivery.NOW  # not even into the digest
    assert preferences.shows_in_inbox(everything_off, kind)
    with pytest.raises(ValidationError, match="cannot be turned off"):
        PreferencesChange.model_validate({"email_off": [kind]})
    with pytest.raises(ValidationError, match="cannot be turned off"):
        PreferencesChange.model_validate({"inbox_off": [kind]})


def test_a_kind_nobody_decided_about_goes_to_everyone() -> None:
    assert not preferences.can_turn_off("grant_something_new")
    assert preferences.email_delivery(Choices(email_off=frozenset({"grant_something_new"})), "grant_something_new") \
        is Delivery.NOW
    with pytest.raises(ValidationError, match="cannot be turned off"):
        PreferencesChange.model_validate({"email_off": ["grant_something_new"]})


def test_an_optional_kind_is_emailed_now_gathered_or_not_at_all_and_shown_or_not() -> None:
    kind = Template.REVIEW_ASSIGNED
    assert preferences.email_delivery(Choices(), kind) is Delivery.NOW
    assert preferences.email_delivery(Choices(digest=True), kind) is Delivery.DIGEST
    assert preferences.email_delivery(Choices(email_off=frozenset({kind}), digest=True), kind) is Delivery.OFF
    assert preferences.shows_in_inbox(Choices(), kind)
    assert not preferences.shows_in_inbox(Choices(inbox_off=frozenset({kind})), kind)
    change = PreferencesChange.model_validate({"email_off": [kind, kind], "inbox_off": [Template.PAYMENT_SENT]})
    assert change.email_off == [kind, kind] and change.digest is False


def test_only_reviewers_and_programme_managers_may_have_a_digest() -> None:
    assert preferences.may_choose_digest([Role.REVIEWER])
    assert preferences.may_choose_digest([Role.APPLICANT, Role.PROGRAMME_MANAGER])
    for role in (Role.APPLICANT, Role.FINANCE_OFFICER, Role.ADMIN):
        assert not preferences.may_choose_digest([role])


def test_the_view_lists_every_kind_saying_which_always_go() -> None:
    view = PreferencesView.of(Choices(email_off=frozenset({Template.PAYMENT_SENT})), 3, digest_available=False)
    by_kind = {k.kind: k for k in view.kinds}
    assert set(by_kind) == {str(t) for t in Template} - {Template.DAILY_DIGEST}
    assert by_kind[Template.PAYMENT_SENT].email is False and by_kind[Template.PAYMENT_SENT].inbox is True
    assert by_kind[Template.PAYMENT_FAILED].required and by_kind[Template.PAYMENT_FAILED].email
    assert by_kind[Template.PAYMENT_FAILED].description == "A payment that failed"
    assert "Always sent" in view.always_sent and view.version == 3 and not view.digest_available


@pytest.mark.parametrize(("now", "day", "cutoff"), [
    (datetime(2026, 11, 26, 7, 0, tzinfo=UTC), date(2026, 11, 26), datetime(2026, 11, 26, 7, tzinfo=UTC)),
    (datetime(2026, 11, 26, 23, 59, tzinfo=UTC), date(2026, 11, 26), datetime(2026, 11, 26, 7, tzinfo=UTC)),
    (datetime(2026, 11, 26, 6, 59, tzinfo=UTC), date(2026, 11, 25), datetime(2026, 11, 25, 7, tzinfo=UTC)),
    (datetime(2027, 1, 1, 0, 1, tzinfo=UTC), date(2026, 12, 31), datetime(2026, 12, 31, 7, tzinfo=UTC)),
])
def test_the_digest_due_is_the_last_one_whose_hour_has_come(now: datetime, day: date, cutoff: datetime) -> None:
    assert preferences.digest_due(now, 7) == (day, cutoff)


def test_a_digest_lists_its_messages_oldest_first_and_needs_one() -> None:
    lines = [preferences.DigestLine("Second", "/reviews/b", NOW.replace(hour=11)),
             preferences.DigestLine("First", "/reviews/a", NOW)]  # fmt: skip
    notice = preferences.digest_notice("reviewer-1", RecipientKind.REVIEWER, "Ali", date(2026, 11, 26), lines)
    assert [i["subject"] for i in notice.context["items"]] == ["First", "Second"]
    assert notice.context["items"][0]["when"] == "10:30" and notice.page == "/inbox"
    with pytest.raises(ValueError):
        preferences.digest_notice("reviewer-1", RecipientKind.REVIEWER, "Ali", date(2026, 11, 26), [])


def test_unsubscribing_turns_off_that_kind_of_email_only_or_the_digest_and_never_a_required_one() -> None:
    start = Choices(inbox_off=frozenset({Template.PAYMENT_SENT}), digest=True)
    after = preferences.unsubscribed(start, Template.REVIEW_ASSIGNED)
    assert after == Choices(frozenset({Template.REVIEW_ASSIGNED}), start.inbox_off, digest=True)
    assert preferences.unsubscribed(after, Template.REVIEW_ASSIGNED) == after  # twice: nothing more
    assert preferences.unsubscribed(start, Template.PAYMENT_FAILED) == start
    no_digest = preferences.unsubscribed(start, preferences.DIGEST_KIND)
    assert not no_digest.digest and no_digest.email_off == frozenset(preferences.OPTIONAL)


# --- the one-click link ----------------------------------------------------------------------------


def test_the_token_names_person_and_kind_unreadably_and_cannot_be_altered_or_forged() -> None:
    settings = Settings()
    token = unsubscribe.token(settings, "reviewer-1", "review_assigned")
    assert "reviewer-1" not in token and "review_assigned" not in token
    assert unsubscribe.read(settings, token) == ("reviewer-1", "review_assigned")
    altered = token[:-6] + ("A" if token[-6] != "A" else "B") + token[-5:]
    for bad in (altered, "x" * 40, Fernet(Fernet.generate_key()).encrypt(b'{"p":"a","k":"b"}').decode()):
        with pytest.raises(unsubscribe.BadToken):
            unsubscribe.read(settings, bad)
    # Not readable as a webhook secret's ciphertext either: its keys are derived for this alone.
    with pytest.raises(SecretUnreadable):
        cipher_for(settings).decrypt(token)


def test_a_token_survives_a_key_rotation() -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    token = unsubscribe.token(Settings(webhook_secrets_key=old), "p-1", "payment_sent")
    assert unsubscribe.read(Settings(webhook_secrets_key=f"{new},{old}"), token) == ("p-1", "payment_sent")
    with pytest.raises(unsubscribe.BadToken):
        unsubscribe.read(Settings(webhook_secrets_key=new), token)


def _email(template: Template) -> tuple[Notification, Email]:
    email = Email(address="ali@panel.example", name="Ali", status="pending")
    notification = Notification(
        id="ntf_1", recipient_id="reviewer-1", recipient_kind=RecipientKind.REVIEWER, template=template,
        event_id="e-1", event_type="grants.review.assigned.v1", subject="Please review", text="Hello", html="<p>Hello</p>",
        created_at=NOW, email=email,
    )  # fmt: skip
    return notification, email


@pytest.mark.parametrize("template", [Template.REVIEW_ASSIGNED, Template.PAYMENT_SENT, Template.DAILY_DIGEST])
def test_an_email_that_can_be_turned_off_carries_one_click_unsubscribe(template: Template) -> None:
    settings = Settings(unsubscribe_base_url="https://notifications.grants.example/")
    message = compose_email(*_email(template), settings, NOW)
    link = message["List-Unsubscribe"]
    assert link.startswith("<https://notifications.grants.example/v1/unsubscribe/") and link.endswith(">")
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert unsubscribe.read(settings, link.strip("<>").rsplit("/", 1)[1]) == ("reviewer-1", str(template))


@pytest.mark.parametrize("template", MUST_GO)
def test_an_email_that_must_go_has_no_unsubscribe(template: Template) -> None:
    message = compose_email(*_email(template), Settings(), NOW)
    assert message["List-Unsubscribe"] is None and message["List-Unsubscribe-Post"] is None
