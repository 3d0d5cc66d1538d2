"""Pure parts of the webhooks for integrators: Standard Webhooks signatures (checked with the official
``standardwebhooks`` library, as an integrator would), secret rotation, which addresses webhooks may
go to, what a webhook body carries (no personal data, CloudEvents structured mode), delivery ids,
retries and disabling, subscription input, the secrets' encryption and the settings that guard them."""

import base64
import hashlib
import hmac
import ipaddress
import json
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.fernet import Fernet
from pydantic import ValidationError
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from grants_shared.clock import utcnow
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
from notifications import domain, webhook_targets, webhooks
from notifications.config import DEV_WEBHOOK_SECRETS_KEY, Settings
from notifications.crypto import SecretsCipher, SecretUnreadable
from notifications.handlers import HANDLERS
from notifications.schemas import NewWebhook, Replay, Rotation
from notifications.webhooks import request_headers

PANEL_DECISION = DecisionBasis(
    by="panel", meeting_id="mtg-1",
    tally=DecisionTally(fund=2, fund_different_amount=0, do_not_fund=1, abstain=0, recused=0),
)

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"  # the specification's own example secret
BODY = b'{"specversion":"1.0","id":"e-1","data":{"title":"Caf\xc3\xa9 drop-in"}}'
NOW = datetime(2026, 11, 26, 10, 30, tzinfo=UTC)


# --- the signature ---------------------------------------------------------------------------------


def test_a_new_secret_is_whsec_and_32_random_bytes_in_base64() -> None:
    secret = webhooks.new_secret()
    assert secret.startswith("whsec_") and len(base64.b64decode(secret.removeprefix("whsec_"))) == 32
    assert webhooks.new_secret() != secret
    Webhook(secret)  # the official library takes it as it is


def test_the_signature_is_the_specifications_hmac_of_id_timestamp_and_raw_body() -> None:
    key = base64.b64decode(SECRET.removeprefix("whsec_"))
    expected = hmac.new(key, f"msg_1.{int(NOW.timestamp())}.".encode() + BODY, hashlib.sha256).digest()
    assert webhooks.sign([SECRET], "msg_1", NOW, BODY) == "v1," + base64.b64encode(expected).decode()
    assert webhooks.sign([SECRET], "msg_1", NOW, BODY) != webhooks.sign([SECRET], "msg_2", NOW, BODY)
    with pytest.raises(ValueError):
        webhooks.sign([], "msg_1", NOW, BODY)


def test_the_headers_verify_with_the_official_library_and_only_with_their_secret() -> None:
    now = utcnow()
    headers = request_headers("whd_1", [SECRET], BODY, now)
    assert headers["webhook-id"] == "whd_1" and headers["webhook-timestamp"] == str(int(now.timestamp()))
    assert headers["Content-Type"] == "application/cloudevents+json"
    assert headers["webhook-signature"].startswith("v1,") and " " not in headers["webhook-signature"]
    assert Webhook(SECRET).verify(BODY, headers) == json.loads(BODY)
    for tampered, why in [
        (BODY.replace(b"drop", b"drap"), "one byte of the body changed"),
        (json.dumps(json.loads(BODY)).encode(), "the body re-serialised"),
    ]:
        with pytest.raises(WebhookVerificationError):
            Webhook(SECRET).verify(tampered, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(webhooks.new_secret()).verify(BODY, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(SECRET).verify(BODY, {**headers, "webhook-id": "whd_2"})  # the id is signed too
    stale = request_headers("whd_1", [SECRET], BODY, now - timedelta(minutes=6))
    with pytest.raises(WebhookVerificationError, match="too old"):
        Webhook(SECRET).verify(BODY, stale)  # a replay past the tolerance


def test_during_an_overlap_both_secrets_sign_space_separated_and_either_verifies() -> None:
    old, new = webhooks.new_secret(), webhooks.new_secret()
    now = utcnow()
    headers = request_headers("whd_1", [new, old], BODY, now)
    signatures = headers["webhook-signature"].split(" ")
    assert len(signatures) == 2 and all(s.startswith("v1,") for s in signatures)
    assert Webhook(new).verify(BODY, headers) and Webhook(old).verify(BODY, headers)


def test_the_old_secret_signs_only_until_its_overlap_ends() -> None:
    until = NOW + timedelta(hours=1)
    assert domain.secrets_in_use("new", "old", until, NOW) == ["new", "old"]
    assert domain.secrets_in_use("new", "old", until, until) == ["new"]
    assert domain.secrets_in_use("new", None, None, NOW) == ["new"]
    assert domain.secrets_in_use("new", "old", None, NOW) == ["new"]


def test_a_rotation_overlap_is_bounded() -> None:
    assert Rotation.model_validate({}).overlap_seconds is None
    assert Rotation.model_validate({"overlap_seconds": 0}).overlap_seconds == 0
    for bad in (-1, 7 * 86_400 + 1):
        with pytest.raises(ValidationError):
            Rotation.model_validate({"overlap_seconds": bad})


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
            "submitted_at": NOW.isoformat().replace("+00:00", "Z"), "stage": "full",
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


def test_what_is_done_or_held_goes_back_to_pending_only_and_nothing_waiting_is_sent_again() -> None:
    status = domain.WebhookStatus
    done = {status.DELIVERED, status.FAILED, status.CANCELLED, status.HELD}
    assert {s for s, targets in domain.WEBHOOK_TRANSITIONS.items() if targets == {status.PENDING}} == done
    assert domain.SENDABLE_AGAIN == done
    assert status.DELIVERED not in domain.WEBHOOK_TRANSITIONS[status.PENDING]
    assert domain.can_move(status.SENDING, status.HELD)  # claimed just as the subscription was disabled
    assert not domain.can_move(status.HELD, status.SENDING)  # never sent without being released first


def test_a_subscription_is_disabled_by_failure_deactivated_by_an_admin_and_reactivated_from_either() -> None:
    sub = domain.SubscriptionStatus
    assert domain.check_move(sub.ACTIVE, sub.DISABLED) is sub.DISABLED
    assert domain.check_move(sub.DISABLED, sub.ACTIVE) is sub.ACTIVE
    assert domain.check_move(sub.DEACTIVATED, sub.ACTIVE) is sub.ACTIVE
    assert domain.can_move(sub.DISABLED, sub.DEACTIVATED)
    with pytest.raises(ValueError, match="cannot move from deactivated to disabled"):
        domain.check_move(sub.DEACTIVATED, sub.DISABLED)


def test_an_endpoint_is_disabled_after_n_deliveries_failed_in_a_row_or_a_period_of_failing() -> None:
    def disable(failed: int, since: datetime | None) -> bool:
        return domain.should_disable(failed, since, NOW, max_failed_deliveries=5, max_failing_seconds=3_600)

    assert not disable(0, None)
    assert not disable(4, NOW - timedelta(minutes=59))
    assert disable(5, None)
    assert disable(0, NOW - timedelta(hours=1))
    assert disable(1, NOW - timedelta(days=3))


def test_a_resend_starts_a_new_round_of_attempts() -> None:
    assert domain.attempts_left(3, 0, 8) == 5
    assert domain.attempts_left(8, 8, 8) == 8  # resent after giving up: a full round again
    assert domain.attempts_left(20, 8, 8) == 0


def test_a_webhook_delivery_is_settled_only_by_the_moves_its_state_machine_allows() -> None:
    status = domain.WebhookStatus
    assert domain.can_move(status.PENDING, status.SENDING)
    assert domain.can_move(status.PENDING, status.CANCELLED)  # deactivated before it was ever sent
    assert not domain.can_move(status.PENDING, status.DELIVERED)  # never delivered without a claim
    assert domain.can_move(status.SENDING, status.SENDING)  # a stale claim taken over
    for target in (status.DELIVERED, status.PENDING, status.FAILED, status.CANCELLED, status.HELD):
        assert domain.check_move(status.SENDING, target) is target
    with pytest.raises(ValueError, match="cannot move from cancelled to sending"):
        domain.check_move(status.CANCELLED, status.SENDING)


def test_a_replay_names_a_time_range_and_a_bounded_batch() -> None:
    replay = Replay.model_validate({"since": "2026-11-26T10:00:00Z"})
    assert replay.until is None and replay.limit == 1_000
    for bad in ({"since": "2026-11-26T10:00:00"},  # no time zone: ambiguous
                {"since": "2026-11-26T10:00:00Z", "until": "2026-11-26T10:00:00Z"},
                {"since": "2026-11-26T10:00:00Z", "limit": 5_001},
                {"until": "2026-11-26T10:00:00Z"}):
        with pytest.raises(ValidationError):
            Replay.model_validate(bad)


# --- where webhooks may go -------------------------------------------------------------------------


@pytest.mark.parametrize("address", [
    "127.0.0.1", "127.8.9.10", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254", "100.64.0.1",
    "100.127.255.254", "224.0.0.1", "239.255.255.250", "0.0.0.0", "255.255.255.255", "192.0.2.1",
    "::1", "::", "fe80::1", "fc00::1", "fd12:3456::1", "ff02::1", "::ffff:127.0.0.1", "::ffff:10.0.0.1",
    "64:ff9b::a00:1", "2002:7f00:1::1", "2001:db8::1",
])
def test_webhooks_never_go_to_a_loopback_private_link_local_shared_multicast_or_unspecified_address(
    address: str,
) -> None:
    ip = ipaddress.ip_address(address)
    assert webhook_targets.refusal(ip) is not None, address
    with pytest.raises(webhook_targets.TargetRefused, match="public addresses"):
        webhook_targets.check_address("crm.example.org", ip, webhook_targets.Allowed())


@pytest.mark.parametrize("address", ["93.184.215.14", "8.8.8.8", "2606:4700:4700::1111", "64:ff9b::808:808"])
def test_public_addresses_are_fine(address: str) -> None:
    assert webhook_targets.refusal(ipaddress.ip_address(address)) is None


def test_the_allow_list_names_hosts_and_networks() -> None:
    allowed = webhook_targets.Allowed.of(["127.0.0.1", "10.20.0.0/16", "Hooks.Internal.", " "])
    assert allowed.hosts == {"hooks.internal"}
    loopback, inside, outside = (ipaddress.ip_address(a) for a in ("127.0.0.1", "10.20.3.4", "10.21.0.1"))
    webhook_targets.check_address("127.0.0.1", loopback, allowed)
    webhook_targets.check_address("crm.local", inside, allowed)
    webhook_targets.check_address("hooks.internal", outside, allowed)  # named: whatever it resolves to
    with pytest.raises(webhook_targets.TargetRefused, match=r"crm.local \(10.21.0.1\) is a private"):
        webhook_targets.check_address("crm.local", outside, allowed)


async def test_the_request_goes_to_the_address_that_was_checked_with_the_urls_host_kept() -> None:
    allowed = webhook_targets.Allowed.of(["127.0.0.1", "::1"])
    plain = await webhook_targets.checked_destination("http://127.0.0.1:8080/hooks?x=1", allowed)
    assert plain == webhook_targets.Destination("http://127.0.0.1:8080/hooks?x=1", "127.0.0.1:8080", None)
    six = await webhook_targets.checked_destination("https://[::1]/h", allowed)
    assert six == webhook_targets.Destination("https://[::1]/h", "[::1]", None)
    with pytest.raises(webhook_targets.TargetRefused):
        await webhook_targets.checked_destination("http://127.0.0.1:8080/hooks", webhook_targets.Allowed())
    with pytest.raises(webhook_targets.TargetRefused):
        await webhook_targets.checked_destination("http://[::ffff:7f00:1]/hooks", webhook_targets.Allowed())
    # "localhost" is resolved, and what it resolves to (loopback) is refused.
    with pytest.raises(webhook_targets.TargetRefused, match="loopback"):
        await webhook_targets.checked_destination("http://localhost:9/hooks", webhook_targets.Allowed())
    named = await webhook_targets.checked_destination("https://localhost:8443/h", webhook_targets.Allowed.of(["localhost"]))
    assert named.host_header == "localhost:8443" and named.tls_server_name == "localhost"
    assert webhook_targets.literal(webhook_targets.host_of(named.url)) is not None  # aimed at the address


async def test_at_subscribe_time_an_address_or_a_name_that_resolves_to_one_is_refused() -> None:
    nobody = webhook_targets.Allowed()
    for url in ("http://10.0.0.5/h", "http://[fd00::5]/h", "http://localhost/h", "http://169.254.169.254/latest"):
        with pytest.raises(webhook_targets.TargetRefused):
            await webhook_targets.check_subscribable(url, nobody)
    await webhook_targets.check_subscribable("https://no-such-host.invalid/h", nobody)  # checked at every send
    await webhook_targets.check_subscribable("http://127.0.0.1:9/h", webhook_targets.Allowed.of(["127.0.0.0/8"]))


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
