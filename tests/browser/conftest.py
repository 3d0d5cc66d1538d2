"""Browser tests: the portal in Debian's Chromium (driven by Playwright through ``executable_path``),
in front of the whole platform as separate processes (the four services and the portal, the real
RabbitMQ, a MongoDB-wire server and an SMTP sink), as people use it.

Every page a test visits can be scanned with axe-core for WCAG 2.2 A and AA (``scan``), every
context refuses and records requests that would leave this machine, and key pages are kept as
screenshots in tests/artifacts/screenshots/.
"""

import asyncio
import json
import re
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit
from uuid import uuid4

import pytest
from aiosmtpd.controller import Controller
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

from grants_shared.dev.infra import free_port
from grants_shared.dev.journey import load_demo_programme
from grants_shared.dev.stack import PORTS, local_stack
from grants_shared.settings import ServiceSettings
from tests.support.bus import delete_topology

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "tests" / "artifacts" / "screenshots"
CHROMIUM_ARGS = ["--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1", "[::1]"}
AXE_OPTIONS = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]},
               "resultTypes": ["violations"]}


class Mail:
    def __init__(self) -> None:
        self.messages: list[bytes] = []

    async def handle_DATA(self, server, session, envelope) -> str:  # type: ignore[no-untyped-def]
        self.messages.append(envelope.content)
        return "250 OK"


def page_routes() -> list[tuple[re.Pattern[str], str]]:
    """The portal's pages (its GET routes, in the order the app matches them) as patterns."""
    from fastapi.routing import APIRoute, iter_route_contexts

    from portal.main import app

    routes = []
    for context in iter_route_contexts(app.routes):
        if isinstance(context.original_route, APIRoute) and "GET" in (context.methods or ()):
            template = context.path_format
            routes.append((re.compile("^" + re.sub(r"\{[^/]+\}", "[^/]+", template) + "$"), template))
    return routes


PAGE_ROUTES = page_routes()
#: Every page scanned in this session, by its route (tests/browser/test_zz_every_page.py checks them all).
SCANNED: set[str] = set()


@dataclass
class Platform:
    urls: dict[str, str]
    mail: Mail
    programme: dict
    prefix: str

    @property
    def portal(self) -> str:
        return self.urls["portal"]


@pytest.fixture(scope="session")
def platform(mongodb_url: str, rabbitmq_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    if shutil.which("chromium") is None:
        pytest.fail("Chromium is missing: apt-get install -y chromium (.ci/run installs it)")
    mail, smtp_port = Mail(), free_port()
    sink = Controller(mail, hostname="127.0.0.1", port=smtp_port)
    sink.start()
    bus = ServiceSettings(prefix=f"b{uuid4().hex[:10]}", rabbitmq_url=rabbitmq_url, retry_delays_ms=[500, 2000, 5000])
    ports = {name: free_port() for name in PORTS}
    env = {"GRANTS_PREFIX": bus.prefix, "GRANTS_SMTP_HOST": "127.0.0.1", "GRANTS_SMTP_PORT": str(smtp_port),
           "GRANTS_EMAIL_POLL_SECONDS": "0.2", "GRANTS_PAYMENT_POLL_SECONDS": "0.2", "GRANTS_OUTBOX_POLL_SECONDS": "0.2",
           "GRANTS_RETRY_DELAYS_MS": json.dumps(bus.retry_delays_ms),
           # One account the simulated bank always refuses (tests/browser/test_involvement.py), retried quickly.
           "GRANTS_SIMULATED_DECLINE_ACCOUNTS": json.dumps(["40404040"]), "GRANTS_PAYMENT_RETRY_BACKOFF_SECONDS": "0.2",
           # The integrator of the admin's journey listens on loopback.
           "GRANTS_WEBHOOK_ALLOWED_TARGETS": json.dumps(["127.0.0.1"])}
    try:
        with local_stack(mongodb_url, rabbitmq_url, tmp_path_factory.mktemp("logs"), ports=ports, env=env) as stack:
            programme = load_demo_programme(stack.urls)
            yield Platform(urls=stack.urls, mail=mail, programme=programme, prefix=bus.prefix)
    finally:
        sink.stop()
        # The broker is shared (and its file descriptors few): leave nothing of this run behind. In a
        # thread of its own: Playwright's sync API holds this thread's event loop.
        cleaner = threading.Thread(target=lambda: asyncio.run(delete_topology(bus)))
        cleaner.start()
        cleaner.join(30)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=shutil.which("chromium"), headless=True,
                                              args=CHROMIUM_ARGS)  # fmt: skip
        yield chromium
        chromium.close()


def is_local(url: str) -> bool:
    return url.startswith(("data:", "blob:", "about:")) or (urlsplit(url).hostname or "") in LOCAL_HOSTS


def guarded(context: BrowserContext) -> list[str]:
    """Abort, and record, every request that would leave this machine (fonts pulled in by CSS too)."""
    foreign: list[str] = []
    context.route("**/*", lambda route: route.continue_() if is_local(route.request.url) else route.abort())
    context.on("request", lambda request: None if is_local(request.url) else foreign.append(request.url))
    return foreign


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    context = browser.new_context(viewport={"width": 1100, "height": 900})
    foreign = guarded(context)
    yield context
    context.close()
    assert foreign == [], f"pages asked hosts other than this one: {foreign}"


@pytest.fixture
def no_js_context(browser: Browser) -> Iterator[BrowserContext]:
    context = browser.new_context(java_script_enabled=False, viewport={"width": 1100, "height": 900})
    context.js_enabled = False  # type: ignore[attr-defined]  # read by scan()
    foreign = guarded(context)
    yield context
    context.close()
    assert foreign == [], f"pages asked hosts other than this one: {foreign}"


@pytest.fixture
def page(context: BrowserContext) -> Page:
    page = context.new_page()
    page.set_default_timeout(15_000)  # events take a moment to reach every service; nothing takes this long
    return page


_axe = Axe()


def scan(page: Page, platform: Platform | None = None) -> None:
    """No WCAG 2.2 A or AA violation on the page as it is now.

    A page with JavaScript off cannot run axe (its timers never fire), so its exact HTML is scanned
    in a scripting context whose security policy keeps the page's own scripts off."""
    results = _axe.run(page, options=AXE_OPTIONS) if getattr(page.context, "js_enabled", True) else _scan_copy(page)
    assert results.violations_count == 0, f"{page.url}\n{results.generate_report()}"
    path = urlsplit(page.url).path
    SCANNED.update(next(([template] for pattern, template in PAGE_ROUTES if pattern.match(path)), []))


def _scan_copy(page: Page):  # type: ignore[no-untyped-def]
    html, url = page.content(), page.url
    scanner = page.context.browser.new_context()  # type: ignore[union-attr]
    guarded(scanner)
    try:
        copy = scanner.new_page()
        copy.route(url, lambda route: route.fulfill(
            body=html, content_type="text/html", headers={"content-security-policy": "script-src 'none'"}))
        copy.goto(url)
        return _axe.run(copy, options=AXE_OPTIONS)
    finally:
        scanner.close()


def screenshot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / f"{name}.png", full_page=True)


def sign_in(page: Page, platform: Platform, who: str) -> None:
    """Sign in on the development page as one of the demo programme's people (by their name)."""
    page.goto(f"{platform.portal}/sign-in")
    page.get_by_label(who).check()
    page.get_by_role("button", name="Sign in").click()


def sign_out(page: Page, platform: Platform) -> None:
    page.goto(f"{platform.portal}/sign-out")
