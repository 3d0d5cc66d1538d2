"""The portal: run with ``uvicorn portal.main:app`` (port 8000).

A front end like any other: it calls the four services' public HTTP APIs with the signed-in person's
own token and keeps no grants data of its own. Every page is server-rendered on the NHS.UK design
system and works without JavaScript.
"""

import logging
import secrets
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.middleware.sessions import SessionMiddleware

from grants_shared.errors import GrantsError
from portal.clients import ApiError, ServiceUnavailable
from portal.config import Settings
from portal.pages import ROUTERS
from portal.pages.signin import identity_provider
from portal.rendering import render
from portal.session import SignInNeeded, sign_out

STATIC = Path(__file__).parent / "static"
#: How long an idle connection to a service is kept for reuse: shorter than the services' own
#: keep-alive (uvicorn's is 5 s), so the portal never sends a request on a connection the service is
#: closing at that moment (with both at 5 s, a page read right then answered 503).
KEEPALIVE_SECONDS = 2.0

log = logging.getLogger(__name__)


def build_app(settings: Settings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        limits = httpx.Limits(keepalive_expiry=KEEPALIVE_SECONDS)
        async with httpx.AsyncClient(timeout=settings.api_timeout_seconds, limits=limits) as http:
            app.state.http = http
            yield

    app = FastAPI(title="Grants portal", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.settings = settings
    if settings.uses_oidc:
        app.state.oauth = identity_provider(settings)
    app.add_middleware(
        SessionMiddleware,
        secret_key=settings.session_secret.get_secret_value(),
        session_cookie="grants_session",
        max_age=settings.session_max_age_seconds,
        same_site="lax",
        https_only=not settings.development,
    )

    @app.middleware("http")
    async def headers(request: Request, call_next) -> Response:  # type: ignore[no-untyped-def]
        started = time.perf_counter()
        # The design system's inline script (and ours) run with this nonce; no other script can.
        request.state.csp_nonce = nonce = secrets.token_urlsafe(16)
        response = await call_next(request)
        elapsed_ms = (time.perf_counter() - started) * 1000
        # Read by the page benchmark: how long the page took here, and how many API calls it made.
        response.headers["Server-Timing"] = f"app;dur={elapsed_ms:.1f}"
        api = getattr(request.state, "api", None)
        response.headers["X-Api-Calls"] = str(api.calls if api else 0)
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "same-origin"
        response.headers["Content-Security-Policy"] = (
            f"default-src 'self'; script-src 'self' 'nonce-{nonce}'; style-src 'self'; img-src 'self' data:; "
            "frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
        )
        if not request.url.path.startswith(("/static", "/assets")):
            # Pages show people's applications and messages: no cache may keep them.
            response.headers["Cache-Control"] = "no-store"
        return response

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    # The design system's stylesheet refers to its images under /assets.
    app.mount("/assets", StaticFiles(directory=STATIC / "assets"), name="assets")
    for router in ROUTERS:
        app.include_router(router)
    _add_error_pages(app)

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", include_in_schema=False)
    async def readyz() -> JSONResponse:
        # Ready once its styles are built: the services it calls have readiness of their own, and a
        # page says so when one of them cannot be reached.
        built = (STATIC / "portal.css").is_file() and (STATIC / "assets").is_dir()
        return JSONResponse({"status": "ready" if built else "not ready"}, status_code=200 if built else 503)

    return app


def _add_error_pages(app: FastAPI) -> None:
    @app.exception_handler(SignInNeeded)
    async def sign_in_first(request: Request, error: SignInNeeded) -> Response:
        return RedirectResponse(f"/sign-in?next={error.next_path}", status_code=303)

    @app.exception_handler(ApiError)
    async def api_error(request: Request, error: ApiError) -> Response:
        if error.status == 401:
            sign_out(request)  # the token is no longer good: sign in again
            return RedirectResponse(f"/sign-in?next={request.url.path}", status_code=303)
        if error.status == 404:
            return render(request, "errors/not_found.jinja", status_code=404)
        return render(request, "errors/problem.jinja", status_code=error.status, problem=error.detail)

    @app.exception_handler(GrantsError)
    async def portal_error(request: Request, error: GrantsError) -> Response:
        return render(request, "errors/problem.jinja", status_code=error.status, problem=error.detail,
                      heading=error.title)  # fmt: skip

    @app.exception_handler(ServiceUnavailable)
    async def unavailable(request: Request, error: ServiceUnavailable) -> Response:
        log.warning("%s", error)  # which service, and the error's type or status: no personal data
        return render(request, "errors/unavailable.jinja", status_code=503)

    @app.exception_handler(404)
    async def not_found(request: Request, error: Exception) -> Response:
        return render(request, "errors/not_found.jinja", status_code=404)


settings = Settings()
app = build_app(settings)
