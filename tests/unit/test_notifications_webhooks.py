"""Pure parts of the webhooks for integrators: the signature scheme, what a webhook body carries (no
personal data, CloudEvents structured mode), delivery ids, retries, subscription input, the
secrets' encryption and the settings that guard them."""

import hashlib
import hmac
import json
import time
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.fernet import Fernet
from pydantic import ValidationError

from grants_shared.events import (
    ApplicationDecidedV2,
    ApplicationIneligible,
    ApplicationSubmitted,
    Contact,
    DecisionBasis,
    DecisionTally,
    Event,
    NotificationDelivered,
    OrganisationSummary,
    Reason,
)
from grants_shared.money import Money
from notifications import domain, webhooks
from notifications.config import DEV_WEBHOOK_SECRETS_KEY, Settings
from notifications.crypto import SecretsCipher, SecretUnreadable
from notifications.handlers import HANDLERS
from notifications.schemas import NewWebhook
from notifications.webhooks import request_headers

PANEL_DECISION = DecisionBasis(
    by="panel", meeting_id="mtg-1",
    tally=DecisionTally(fund=2, fund_different_amount=0, do_not_fund=1, abstain=0, recused=0),
)

SECRET = "0f1Kx3yTq2y1b7sV_demo-secret-for-tests-only"
BODY = b'{"specversion":"1.0","id":"e-1","data":{"title":"Caf\xc3\xa9 drop-in"}}'
T = 1_795_000_000
NOW = datetime(2026, 11, 26, 10, 30, tzinfo=UTC)


# --- the signature ---------------------------------------------------------------------------------


def test_the_signature_is_hmac_sha256_of_the_timestamp_a_dot_and_the_raw_body() -> None:
    expected = hmac.new(SECRET.encode(), f"{T}.".encode() + BODY, hashlib.sha256).hexdigest()
    assert webhooks.sign(SECRET, T, BODY) == f"t={T},v1={expected}"
    assert webhooks.sign(SECRET, T, BODY) != webhooks.sign(SECRET, T + 1, BODY)


def test_a_signature_verifies_with_its_secret_body_and_time() -> None:
    header = webhooks.sign(SECRET, T, BODY)
    assert webhooks.verify(SECRET, header, BODY, 300, T)
    assert webhooks.verify(SECRET, header, BODY, 300, T + 300)  # at the edge of the tolerance
    assert webhooks.verify(SECRET, header, BODY, 300, T - 5)  # a receiver's clock a little behind
    assert webhooks.verify(SECRET, webhooks.sign(SECRET, int(time.time()), BODY), BODY)  # the clock by default


@pytest.mark.parametrize(("why", "secret", "header", "body", "now"), [
    ("another secret", "another-secret", None, BODY, T),
    ("one byte of the body changed", SECRET, None, BODY.replace(b"drop", b"drap"), T),
    ("the body re-serialised", SECRET, None, json.dumps(json.loads(BODY)).encode(), T),
    ("too old: a replay", SECRET, None, BODY, T + 301),
    ("too far in the future", SECRET, None, BODY, T - 301),
    ("the timestamp altered", SECRET, "t=1795000100,v1={sig}", BODY, T + 100),
    ("no header", SECRET, "", BODY, T),
    ("no timestamp", SECRET, "v1={sig}", BODY, T),
    ("no signature", SECRET, f"t={T}", BODY, T),
    ("an unknown scheme only", SECRET, f"t={T},v0={{sig}}", BODY, T),
    ("a timestamp that is not a number", SECRET, "t=soon,v1={sig}", BODY, T),
    ("a unicode digit", SECRET, "t=\u00b2,v1={sig}", BODY, T),
    ("non-ASCII in the signature", SECRET, f"t={T},v1=\u00e9\u00e9", BODY, T),
    ("a huge timestamp", SECRET, "t=" + "9" * 5000 + ",v1={sig}", BODY, T),
])
def test_a_signature_does_not_verify(why: str, secret: str, header: str | None, body: bytes, now: int) -> None:
    signature = webhooks.sign(SECRET, T, BODY).split("v1=")[1]
    header = webhooks.sign(SECRET, T, BODY) if header is None else header.replace("{sig}", signature)
    assert webhooks.verify(secret, header, body, 300, now) is False, why


def test_one_matching_signature_among_several_is_enough() -> None:
    valid = webhooks.sign(SECRET, T, BODY).split(",")[1]
    assert webhooks.verify(SECRET, f"t={T}, v1={'0' * 64}, {valid}", BODY, 300, T)
    assert not webhooks.verify(SECRET, f"t={T},v1={'0' * 64}", BODY, 300, T)


def test_the_senders_headers_carry_the_delivery_id_the_signature_and_the_content_type() -> None:
    headers = request_headers("whd_1", SECRET, BODY, NOW)
    assert headers["Grants-Webhook-Id"] == "whd_1"
    assert headers["Content-Type"] == "application/cloudevents+json"
    assert headers["Grants-Signature"].startswith(f"t={int(NOW.timestamp())},v1=")
    assert webhooks.verify(SECRET, headers["Grants-Signature"], BODY, 300, NOW.timestamp())


# --- what leaves the platform ----------------------------------------------------------------------

CONTACT = Contact(person_id="person-1", name="Sam Okafor", email="sam@hope.example")


def an_event(data: object) -> Event:
    return Event.new(data, source="/grants/applications")  # type: ignore[arg-type]


def submitted() -> ApplicationSubmitted:
    return ApplicationSubmitted(
        application_id="app-1", programme_id="prog-1",
        organisation=OrganisationSummary(id="org-1", name="Hope Street Group", kind="charity", area="Leeds"),
        title="Walk and talk peer support", summary="Sam lost a brother to suicide and runs weekly walks.",
        amount_requested=Money(amount=500_000, currency="GBP"), contact=CONTACT, submitted_at=NOW,
    )


def test_a_webhook_body_is_a_structured_cloudevent_without_personal_data() -> None:
    event = an_event(submitted())
    raw = domain.webhook_body(event)
    body = json.loads(raw)
    assert body == {
        "specversion": "1.0",
        "id": event.id,
        "type": "grants.application.submitted.v1",
        "source": "/grants/applications",
        "time": event.time.isoformat(),
        "subject": "app-1",
        "datacontenttype": "application/json",
        "data": {
            "application_id": "app-1", "programme_id": "prog-1",
            "organisation": {"id": "org-1", "name": "Hope Street Group", "kind": "charity", "area": "Leeds"},
            "title": "Walk and talk peer support", "amount_requested": {"amount": 500_000, "currency": "GBP"},
            "submitted_at": NOW.isoformat().replace("+00:00", "Z"),
        },
    }
    for personal in (b"sam@hope.example", b"Sam Okafor", b"person-1", b"brother", b"summary", b"contact"):
        assert personal not in raw
    assert domain.webhook_body(event) == raw  # the same bytes every time: every retry sends the same body


@pytest.mark.parametrize(("data", "left_out", "personal"), [
    (ApplicationIneligible(application_id="app-1", programme_id="prog-1", title="Walk and talk",
                           reasons=[Reason(code="outside_area", message="Outside the programme's area")],
                           contact=CONTACT),
     "contact", b"sam@hope.example"),
    (ApplicationDecidedV2(application_id="app-1", programme_id="prog-1", organisation_id="org-1", outcome="declined",
                        feedback="The panel felt Sam's own story needs more support first.", decided_at=NOW,
                        decided_by=PANEL_DECISION),
     "feedback", b"Sam's own story"),
])
def test_contact_details_and_feedback_never_leave(data: object, left_out: str, personal: bytes) -> None:
    raw = domain.webhook_body(an_event(data))
    assert left_out not in json.loads(raw)["data"] and personal not in raw
    assert json.loads(raw)["data"]["application_id"] == "app-1"


def test_text_is_sent_as_utf8_not_escaped() -> None:
    event = an_event(submitted().model_copy(update={"title": "Café drop-in"}))
    assert "Café drop-in".encode() in domain.webhook_body(event)


# --- deliveries ------------------------------------------------------------------------------------


def test_a_delivery_id_is_the_same_for_the_same_event_and_subscription_only() -> None:
    one = domain.webhook_delivery_id("event-1", "whs_a")
    assert one == domain.webhook_delivery_id("event-1", "whs_a") and one.startswith("whd_") and len(one) == 44
    others = {domain.webhook_delivery_id("event-2", "whs_a"), domain.webhook_delivery_id("event-1", "whs_b")}
    assert len(others | {one}) == 3
    # The separator keeps ("ab", "c") and ("a", "bc") apart.
    assert domain.webhook_delivery_id("ab", "c") != domain.webhook_delivery_id("a", "bc")


def test_integrators_can_subscribe_to_every_event_but_the_one_notifications_publishes() -> None:
    assert NotificationDelivered.type not in domain.SUBSCRIBABLE_EVENT_TYPES
    assert {"grants.application.scored.v1", "grants.payment.scheduled.v1"} <= domain.SUBSCRIBABLE_EVENT_TYPES
    # The queue is bound to exactly what has a handler: every subscribable type must have one.
    assert set(HANDLERS) == domain.SUBSCRIBABLE_EVENT_TYPES


def test_failed_webhooks_back_off_exponentially_and_give_up_after_the_last_attempt() -> None:
    def after(attempts: int) -> datetime | None:
        return domain.next_attempt(attempts, NOW, max_attempts=5, base_seconds=30, max_seconds=100)

    assert after(1) == NOW + timedelta(seconds=30)
    assert after(2) == NOW + timedelta(seconds=60)
    assert after(3) == NOW + timedelta(seconds=100)  # capped
    assert after(4) == NOW + timedelta(seconds=100)
    assert after(5) is None


@pytest.mark.parametrize(("status", "accepted"), [
    (200, True), (201, True), (202, True), (204, True), (299, True),
    (199, False), (301, False), (302, False), (400, False), (410, False), (429, False), (500, False), (503, False),
])
def test_any_2xx_is_a_delivery_and_nothing_else_is(status: int, accepted: bool) -> None:
    assert domain.webhook_accepted(status) is accepted


def test_the_webhook_state_machine_has_final_states() -> None:
    final = {domain.WebhookStatus.DELIVERED, domain.WebhookStatus.FAILED, domain.WebhookStatus.CANCELLED}
    assert {s for s, targets in domain.WEBHOOK_TRANSITIONS.items() if not targets} == final
    assert domain.WebhookStatus.DELIVERED not in domain.WEBHOOK_TRANSITIONS[domain.WebhookStatus.PENDING]


def test_a_webhook_delivery_is_settled_only_by_the_moves_its_state_machine_allows() -> None:
    status = domain.WebhookStatus
    assert domain.can_move(status.PENDING, status.SENDING)
    assert domain.can_move(status.PENDING, status.CANCELLED)  # deactivated before it was ever sent
    assert not domain.can_move(status.PENDING, status.DELIVERED)  # never delivered without a claim
    assert domain.can_move(status.SENDING, status.SENDING)  # a stale claim taken over
    for target in (status.DELIVERED, status.PENDING, status.FAILED, status.CANCELLED):
        assert domain.check_move(status.SENDING, target) is target
    with pytest.raises(ValueError, match="cannot move from cancelled to sending"):
        domain.check_move(status.CANCELLED, status.SENDING)


# --- subscriptions ---------------------------------------------------------------------------------

GOOD = {"url": "https://crm.example.org/hooks/grants", "event_types": ["grants.application.submitted.v1"]}


def test_a_good_subscription_is_accepted_and_its_types_kept() -> None:
    body = NewWebhook.model_validate({**GOOD, "url": "  http://127.0.0.1:8080/hook?x=1 ", "description": " CRM "})
    assert body.url == "http://127.0.0.1:8080/hook?x=1" and body.description == "CRM"
    assert body.event_types == ["grants.application.submitted.v1"]


@pytest.mark.parametrize(("change", "says"), [
    ({"url": "ftp://crm.example.org/hooks"}, "URL scheme should be 'http' or 'https'"),
    ({"url": "javascript:alert(1)"}, "URL scheme"),
    ({"url": "crm.example.org/hooks"}, "relative URL"),
    ({"url": "https://crm.example.org/" + "a" * 477}, "at most 500 characters"),
    ({"url": "https://sam:hunter2@crm.example.org/hooks"}, "user name or password"),
    ({"url": "https://crm.example.org/hooks#top"}, "fragment"),
    ({"event_types": []}, "at least 1 item"),
    ({"event_types": ["grants.application.submitted.v2"]}, "not an event type integrators can subscribe to"),
    ({"event_types": [NotificationDelivered.type]}, "would loop"),
    ({"secret": "my-own"}, "Extra inputs are not permitted"),
    ({"description": "x" * 501}, "at most 500 characters"),
])
def test_a_bad_subscription_is_refused_with_a_reason(change: dict[str, object], says: str) -> None:
    with pytest.raises(ValidationError) as error:
        NewWebhook.model_validate({**GOOD, **change})
    assert says in str(error.value)


def test_a_url_of_exactly_500_characters_is_accepted() -> None:
    url = "https://crm.example.org/" + "a" * (500 - len("https://crm.example.org/"))
    assert len(url) == 500 and NewWebhook.model_validate({**GOOD, "url": url}).url == url


# --- secrets at rest and the settings that guard them ----------------------------------------------


def test_a_secret_is_stored_encrypted_and_read_back_only_with_the_key() -> None:
    key, other = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    token = SecretsCipher([key]).encrypt(SECRET)
    assert SECRET not in token and SecretsCipher([key]).encrypt(SECRET) != token  # fresh IV each time
    assert SecretsCipher([key]).decrypt(token) == SECRET
    with pytest.raises(SecretUnreadable):
        SecretsCipher([other]).decrypt(token)
    # Rotating the key: the new one first encrypts, the old one still reads what it wrote.
    assert SecretsCipher([other, key]).decrypt(token) == SECRET


def test_the_development_key_is_flagged_and_a_bad_key_is_refused_without_being_echoed() -> None:
    assert Settings().uses_development_webhook_secrets_key
    own = Fernet.generate_key().decode()
    assert not Settings(webhook_secrets_key=own).uses_development_webhook_secrets_key
    assert Settings(webhook_secrets_key=f"{own},{DEV_WEBHOOK_SECRETS_KEY}").uses_development_webhook_secrets_key
    with pytest.raises(ValidationError) as error:
        Settings(webhook_secrets_key=f"{own},not-a-fernet-key")
    assert "not a Fernet key" in str(error.value)
    assert "not-a-fernet-key" not in str(error.value) and own not in str(error.value)


def test_a_webhook_claim_outlasts_a_request() -> None:
    with pytest.raises(ValidationError, match="webhook_lease_seconds must be longer than webhook_timeout"):
        Settings(webhook_timeout=30, webhook_lease_seconds=30)
