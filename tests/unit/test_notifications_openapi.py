"""Notifications' OpenAPI document says what each operation needs and can answer."""

from typing import Any

from notifications.config import Settings
from notifications.main import build_app

DOCUMENT = build_app(Settings()).openapi()


def operation(method: str, path: str) -> dict[str, Any]:
    return DOCUMENT["paths"][path][method]


def if_match(op: dict[str, Any]) -> dict[str, Any]:
    [header] = [p for p in op["parameters"] if p["in"] == "header" and p["name"] == "If-Match"]
    return header


def test_registering_a_contact_answers_201_or_200_with_an_etag_and_may_need_if_match() -> None:
    put = operation("put", "/v1/me/contact")
    assert set(put["responses"]) == {"200", "201", "401", "403", "412", "422", "428", "503"}
    assert "ETag" in put["responses"]["200"]["headers"] and "ETag" in put["responses"]["201"]["headers"]
    assert not if_match(put).get("required")  # the first registration needs none
    get = operation("get", "/v1/me/contact")
    assert set(get["responses"]) == {"200", "401", "403", "404"}
    assert "ETag" in get["responses"]["200"]["headers"]


def test_the_inbox_and_the_audit_page_and_answer_404_for_what_is_not_yours() -> None:
    for path in ("/v1/inbox", "/v1/deliveries", "/v1/webhooks", "/v1/webhooks/{subscription_id}/deliveries"):
        names = {p["name"] for p in operation("get", path)["parameters"]}
        assert {"limit", "offset"} <= names, path
    assert set(operation("get", "/v1/inbox/{notification_id}")["responses"]) == {"200", "401", "403", "404", "422"}
    assert set(operation("post", "/v1/inbox/{notification_id}/read")["responses"]) == {
        "200", "401", "403", "404", "422", "503"}
    page = DOCUMENT["components"]["schemas"]["InboxPage"]
    assert {"items", "limit", "offset", "total", "unread_count"} <= set(page["properties"])


def test_webhook_changes_declare_their_etag_if_match_and_conflicts() -> None:
    created = operation("post", "/v1/webhooks")
    assert set(created["responses"]) == {"201", "401", "403", "422", "503"}
    assert "ETag" in created["responses"]["201"]["headers"]
    rotate = operation("post", "/v1/webhooks/{subscription_id}/rotate-secret")
    assert set(rotate["responses"]) == {"200", "401", "403", "404", "409", "412", "422", "503"}
    deactivate = operation("delete", "/v1/webhooks/{subscription_id}")
    assert set(deactivate["responses"]) == {"200", "401", "403", "404", "412", "422", "503"}
    for op in (rotate, deactivate):
        assert "ETag" in op["responses"]["200"]["headers"]
        assert not if_match(op).get("required")
    problem = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
    assert all(answer["content"] == problem for status, answer in rotate["responses"].items() if status != "200")


def test_resend_replay_and_reactivate_declare_their_answers() -> None:
    reactivate = operation("post", "/v1/webhooks/{subscription_id}/reactivate")
    assert set(reactivate["responses"]) == {"200", "401", "403", "404", "412", "422", "503"}
    assert "ETag" in reactivate["responses"]["200"]["headers"] and not if_match(reactivate).get("required")
    resend = operation("post", "/v1/webhooks/{subscription_id}/deliveries/{delivery_id}/resend")
    assert {"404", "409", "412", "422"} <= set(resend["responses"])
    replay = operation("post", "/v1/webhooks/{subscription_id}/replay")
    assert {"404", "409", "422"} <= set(replay["responses"])
    replayed = DOCUMENT["components"]["schemas"]["Replayed"]
    assert set(replayed["properties"]) == {"queued", "remaining"}
    view = DOCUMENT["components"]["schemas"]["WebhookView"]
    assert {"status", "previous_secret_until", "disabled_at", "failed_deliveries"} <= set(view["properties"])


def test_preferences_declare_their_etag_and_one_click_unsubscribe_needs_no_token() -> None:
    put = operation("put", "/v1/me/preferences")
    assert set(put["responses"]) == {"200", "401", "403", "412", "422", "428", "503"}
    assert "ETag" in put["responses"]["200"]["headers"] and not if_match(put).get("required")
    assert "ETag" in operation("get", "/v1/me/preferences")["responses"]["200"]["headers"]
    one_click = operation("post", "/v1/unsubscribe/{token}")
    assert {"200", "400", "422"} <= set(one_click["responses"])
    assert "401" not in one_click["responses"] and not one_click.get("security")
    kinds = DOCUMENT["components"]["schemas"]["PreferencesChange"]["properties"]["email_off"]["items"]["enum"]
    assert "payment_sent" in kinds and "payment_failed" not in kinds
