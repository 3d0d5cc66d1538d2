"""An administrator's webhook subscriptions in the browser: subscribing an integrator's endpoint,
seeing its signing secret once (and only in that answer), the deliveries it is sent, changing the
secret and deactivating it. Every page passes axe.

The integrator is a small HTTP server on this machine that records what it is sent (loopback, which
the platform's allow-list of webhook targets names for these tests).
"""

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from playwright.sync_api import BrowserContext, Page, expect
from standardwebhooks.webhooks import Webhook

from grants_shared.dev.infra import free_port
from portal.pages.finance import PAGE_SIZE
from tests.browser.conftest import Platform, scan, screenshot, sign_in, sign_out
from tests.browser.test_finance import services, submitted_application


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes


@dataclass
class Integrator:
    url: str
    received: list[Received] = field(default_factory=list)


@pytest.fixture(scope="module")
def integrator() -> Iterator[Integrator]:
    port = free_port()
    endpoint = Integrator(url=f"http://127.0.0.1:{port}/hook")

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (the standard library's name)
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            endpoint.received.append(Received({k.lower(): v for k, v in self.headers.items()}, body))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield endpoint
    server.shutdown()
    server.server_close()


def add_subscription(page: Page, platform: Platform, url: str, event: str, description: str) -> str:
    """Through the pages: the form, then the answer showing the secret. Returns the secret."""
    page.goto(f"{platform.portal}/admin/webhooks")
    page.get_by_role("button", name="Add a webhook subscription").click()
    page.get_by_label("Web address to send events to").fill(url)
    page.get_by_label(event, exact=True).check()
    page.get_by_label("Description (optional)").fill(description)
    page.get_by_role("button", name="Add subscription").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Copy the signing secret now")
    return page.locator("#secret").inner_text().strip()


def test_an_admin_subscribes_an_endpoint_sees_the_secret_once_and_deactivates_it_with_javascript_off(
    no_js_context: BrowserContext, platform: Platform, integrator: Integrator
) -> None:
    page = no_js_context.new_page()
    page.set_default_timeout(15_000)
    sign_in(page, platform, "Ade Okoro")
    page.goto(f"{platform.portal}/admin/webhooks")
    expect(page.get_by_role("heading", level=1)).to_have_text("Webhook subscriptions")
    scan(page, platform)

    page.get_by_role("button", name="Add a webhook subscription").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Add a webhook subscription")
    expect(page.get_by_label("Payment sent", exact=True)).to_be_visible()  # the event types come from the API
    scan(page, platform)
    page.get_by_role("button", name="Add subscription").click()
    summary = page.locator(".nhsuk-error-summary")
    expect(summary).to_contain_text("Enter the web address to send events to")
    expect(summary).to_contain_text("Select at least one event to send")
    scan(page, platform)
    page.get_by_label("Web address to send events to").fill("ftp://crm.example.org/hooks")
    page.get_by_label("Application submitted", exact=True).check()
    page.get_by_role("button", name="Add subscription").click()
    expect(page.locator("#url-error")).to_contain_text("starts with https://")
    expect(page.get_by_label("Application submitted", exact=True)).to_be_checked()  # what was chosen is kept
    scan(page, platform)

    crm = f"{integrator.url}/crm"
    page.get_by_label("Web address to send events to").fill(crm)
    page.get_by_label("Description (optional)").fill("Hope Street CRM")
    with page.expect_response(lambda r: r.request.method == "POST" and r.url.endswith("/admin/webhooks/new")) as sent:
        page.get_by_role("button", name="Add subscription").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Copy the signing secret now")
    expect(page.get_by_text("It will not be shown again")).to_be_visible()
    secret = page.locator("#secret").inner_text().strip()
    assert len(secret) >= 32
    assert sent.value.headers["cache-control"] == "no-store"
    assert secret not in page.url  # shown in the form's answer: no redirect, nothing in a URL
    scan(page, platform)
    screenshot(page, "admin-webhook-secret")

    # Sending that form again (reloading the page with the secret) makes no second subscription.
    page.reload()
    expect(page.get_by_text("That form had been sent already")).to_be_visible()
    assert secret not in page.content()
    scan(page, platform)

    page.goto(f"{platform.portal}/admin/webhooks")
    row = page.get_by_role("row").filter(has=page.get_by_role("link", name=crm))
    expect(row).to_have_count(1)
    expect(row).to_contain_text("Hope Street CRM")
    expect(row).to_contain_text("Application submitted")
    expect(row.locator(".nhsuk-tag")).to_have_text("Active")
    assert secret not in page.content()
    scan(page, platform)
    screenshot(page, "admin-webhooks")

    # Something happens that it subscribed to: the integrator is sent it, signed with that secret.
    apis = services(platform)
    application_id, _ = submitted_application(apis, platform.programme, "Ealing Walk and Talk", "Ealing")
    delivered = apis.until("the webhook to arrive", lambda: [r for r in integrator.received
                                                             if application_id.encode() in r.body])  # fmt: skip
    # As the integrator checks it: the official Standard Webhooks library, the raw body and headers.
    Webhook(secret).verify(delivered[0].body, delivered[0].headers)

    row.get_by_role("link", name=crm).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Webhook subscription")
    deliveries = page.get_by_role("table", name="Recent deliveries to this subscription")
    for _ in range(40):  # the sender records the delivery just after the integrator answers
        if deliveries.get_by_text("Delivered").count():
            break
        page.wait_for_timeout(250)
        page.reload()
    expect(deliveries.get_by_role("row").filter(has_text="Application submitted").first).to_contain_text("HTTP 204")
    assert secret not in page.content()
    scan(page, platform)
    screenshot(page, "admin-webhook")

    # Sent again from its row: the same webhook-id and body reach the integrator a second time.
    sent_row = deliveries.get_by_role("row").filter(has_text="Application submitted").first
    sent_row.get_by_role("button", name="Send again").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Webhook subscription")
    again = apis.until("the webhook to arrive again", lambda: [r for r in integrator.received
                                                               if application_id.encode() in r.body][1:])  # fmt: skip
    assert again[0].headers["webhook-id"] == delivered[0].headers["webhook-id"] and again[0].body == delivered[0].body
    Webhook(secret).verify(again[0].body, again[0].headers)
    scan(page, platform)

    page.get_by_role("link", name="Deactivate this subscription").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Are you sure you want to deactivate this subscription?")
    scan(page, platform)
    page.get_by_role("button", name="Deactivate subscription").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Webhook subscription")
    expect(page.locator("p").filter(has_text="Status:").locator(".nhsuk-tag")).to_have_text("Deactivated")
    expect(page.get_by_role("link", name="Deactivate this subscription")).to_have_count(0)
    scan(page, platform)
    page.get_by_role("link", name="Webhook subscriptions").click()
    expect(row.locator(".nhsuk-tag")).to_have_text("Deactivated")

    # Deactivating can be undone.
    row.get_by_role("link", name=crm).click()
    page.get_by_role("link", name="Reactivate this subscription").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Are you sure you want to reactivate this subscription?")
    scan(page, platform)
    page.get_by_role("button", name="Reactivate subscription").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Webhook subscription")
    expect(page.locator("p").filter(has_text="Status:").locator(".nhsuk-tag")).to_have_text("Active")
    expect(page.get_by_role("link", name="Deactivate this subscription")).to_be_visible()
    scan(page, platform)


def test_an_admin_changes_a_signing_secret_and_is_told_when_it_can_no_longer_change(
    page: Page, platform: Platform, integrator: Integrator
) -> None:
    # Enough subscriptions for a second page (to an event no test causes: a programme closing).
    apis = services(platform)
    admin = apis.as_("ade-admin", "admin")
    for n in range(PAGE_SIZE + 1):
        apis.call("POST", "notifications", "/v1/webhooks", admin, expect=201, json={
            "url": f"{integrator.url}/archive-{n}", "event_types": ["grants.programme.closed.v1"]})
    sign_in(page, platform, "Ade Okoro")
    page.goto(f"{platform.portal}/admin/webhooks")
    expect(page.get_by_text("newest first (page 1 of")).to_be_visible()
    expect(page.get_by_role("link", name=f"{integrator.url}/archive-{PAGE_SIZE}")).to_be_visible()
    page.get_by_role("link", name="Next").click()
    expect(page.get_by_text("newest first (page 2 of")).to_be_visible()
    expect(page.get_by_role("link", name=f"{integrator.url}/archive-0")).to_be_visible()
    scan(page, platform)
    page.goto(f"{platform.portal}/admin/webhooks?page=400")  # past the last page
    expect(page.get_by_text("newest first (page 1 of")).to_be_visible()

    first = add_subscription(page, platform, f"{integrator.url}/finance", "Grant offered", "Finance system")
    scan(page, platform)
    page.get_by_role("link", name="Go to the subscription").click()
    expect(page.get_by_text("Nothing has been sent to it yet")).to_be_visible()
    scan(page, platform)
    subscription = page.url

    page.get_by_role("link", name="Change the signing secret").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Are you sure you want to change the signing secret?")
    scan(page, platform)
    page.get_by_role("button", name="Change the secret").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Copy the signing secret now")
    expect(page.get_by_text("and with the old one too until")).to_be_visible()  # the overlap
    second = page.locator("#secret").inner_text().strip()
    assert second and second != first
    scan(page, platform)
    screenshot(page, "admin-webhook-new-secret")
    page.reload()  # sends the form again: refused, as the secret changed since that page was shown
    expect(page.locator(".nhsuk-error-summary")).to_contain_text("nothing was changed this time")
    assert second not in page.content()
    scan(page, platform)

    # Someone deactivates it while the page asking to change its secret is open.
    page.goto(f"{subscription}/rotate-secret")
    other = page.context.new_page()
    other.goto(f"{subscription}/deactivate")
    other.get_by_role("button", name="Deactivate subscription").click()
    expect(other.locator(".nhsuk-tag")).to_have_text("Deactivated")
    other.close()
    page.get_by_role("button", name="Change the secret").click()
    refused = page.locator(".nhsuk-error-summary")
    expect(refused).to_contain_text("The subscription is deactivated; reactivate it or create a new one")
    expect(page.get_by_role("button", name="Change the secret")).to_have_count(0)
    scan(page, platform)

    # Only admins manage webhooks.
    sign_out(page, platform)
    sign_in(page, platform, "Femi Adeyemi")
    page.goto(f"{platform.portal}/admin/webhooks")
    expect(page.get_by_role("heading", level=1)).to_have_text("You cannot use this page")
