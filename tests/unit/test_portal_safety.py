"""What every page of the portal must do, checked on the app itself (no browser, no services): each
form refuses a request without the session's CSRF token, and every answer carries the headers that
keep people's pages private and the page's scripts its own."""

import httpx
import pytest
from fastapi.routing import APIRoute, iter_route_contexts

from portal.config import Settings
from portal.main import build_app
from portal.session import check_csrf


def _dependencies(dependant):  # type: ignore[no-untyped-def]
    for dependency in dependant.dependencies:
        yield dependency.call
        yield from _dependencies(dependency)


def test_every_form_the_portal_takes_checks_its_csrf_token() -> None:
    app = build_app(Settings())
    posts = [c for c in iter_route_contexts(app.routes)
             if isinstance(c.original_route, APIRoute) and "POST" in (c.methods or ())]  # fmt: skip
    assert posts
    assert [c.path_format for c in posts if check_csrf not in set(_dependencies(c.dependant))] == []


@pytest.fixture
async def portal() -> httpx.AsyncClient:
    app = build_app(Settings())
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://portal.test") as client:
            yield client


async def test_a_form_sent_without_this_sessions_token_is_refused(portal: httpx.AsyncClient) -> None:
    refused = await portal.post("/sign-in", data={"persona": "maya-manager"})
    assert refused.status_code == 400 and "This form has expired" in refused.text
    forged = await portal.post("/sign-in", data={"persona": "maya-manager", "csrf_token": "guessed"})
    assert forged.status_code == 400
    assert "grants_session" not in forged.headers.get("set-cookie", "") or "Sign out" not in forged.text


async def test_pages_are_private_to_the_browser_and_run_only_their_own_scripts(portal: httpx.AsyncClient) -> None:
    page = await portal.get("/accessibility")
    assert page.status_code == 200
    assert page.headers["cache-control"] == "no-store"
    assert page.headers["x-content-type-options"] == "nosniff"
    policy = page.headers["content-security-policy"]
    nonce = policy.split("'nonce-")[1].split("'")[0]
    assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy and "unsafe-inline" not in policy
    # Each inline script carries the page's nonce; another page gets another nonce.
    assert page.text.count("<script") == page.text.count(f'nonce="{nonce}"') == 2
    assert nonce not in (await portal.get("/accessibility")).headers["content-security-policy"]


async def test_only_a_page_on_this_site_is_where_sign_in_leads_afterwards(portal: httpx.AsyncClient) -> None:
    from portal.pages.signin import safe_next

    assert safe_next("/applications/app-1") == "/applications/app-1"
    for elsewhere in ("https://evil.example/", "//evil.example/x", "evil", "/\\evil.example", None, ""):
        assert safe_next(elsewhere) == "/"
