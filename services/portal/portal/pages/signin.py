"""Signing in and out.

In production: OpenID Connect, authorisation code flow with PKCE, against the identity provider the
services trust (authlib); the access token it issues is what the portal sends to the APIs. In
development: a "sign in as" page listing the demo programme's people, minting development tokens
as `grants token` does.
"""

import logging
from typing import Annotated
from urllib.parse import urlsplit

from authlib.integrations.starlette_client import OAuth, OAuthError
from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from grants_shared.auth import Role, decode_token, mint_token
from grants_shared.errors import Unauthorized
from portal.clients import Api, ApiError, ServiceUnavailable
from portal.config import CurrentSettings, Settings
from portal.personas import BY_SUBJECT, PERSONAS
from portal.rendering import render
from portal.session import CsrfChecked, MaybePerson, NotAllowed, sign_in, sign_out

router = APIRouter(tags=["sign in"])
log = logging.getLogger(__name__)

#: Who is written to at the address their sign-in carries: the programme's people. Applicants are
#: written to at the contact address on their application.
TOKEN_ADDRESS_ROLES = frozenset({Role.REVIEWER, Role.PROGRAMME_MANAGER})


async def record_token_address(request: Request, token: str, roles: frozenset[Role], email: str | None) -> None:
    """Tell notifications the address in the token is where this reviewer's or manager's messages
    go (unless they registered another), so nobody on the panel has to register an address
    separately. Best effort: signing in never fails because notifications is away; the next sign-in
    tries again."""
    if not email or not roles & TOKEN_ADDRESS_ROLES:
        return
    try:
        await Api(request.app.state.http, request.app.state.settings, token).put(
            "notifications", "/v1/me/contact/from-token", None
        )
    except (ApiError, ServiceUnavailable) as error:
        log.warning("could not record the sign-in address for notifications: %s", type(error).__name__)


def identity_provider(settings: Settings) -> OAuth:
    oauth = OAuth()
    oauth.register(
        name="idp",
        server_metadata_url=settings.oidc_discovery_url,
        client_id=settings.oidc_client_id,
        client_secret=settings.oidc_client_secret.get_secret_value() if settings.oidc_client_secret else None,
        client_kwargs={"scope": settings.oidc_scopes, "code_challenge_method": "S256"},
    )
    return oauth


def safe_next(next_path: str | None) -> str:
    """Only a path on this site: a sign-in link must not send people elsewhere afterwards."""
    # Browsers read "/\\host" as "//host" (another site): no backslash, no second slash.
    if (not next_path or not next_path.startswith("/") or next_path.startswith("//") or "\\" in next_path
            or urlsplit(next_path).netloc):
        return "/"
    return next_path


def home_for(roles: frozenset[Role]) -> str:
    for role, path in ((Role.PROGRAMME_MANAGER, "/manage"), (Role.FINANCE_OFFICER, "/finance"),
                       (Role.REVIEWER, "/reviews"), (Role.APPLICANT, "/applications"), (Role.ADMIN, "/manage")):
        if role in roles:
            return path
    return "/"


@router.get("/sign-in", summary="Sign in")
async def sign_in_page(request: Request, settings: CurrentSettings, person: MaybePerson, next: str | None = None) -> Response:
    if person is not None:
        return RedirectResponse(safe_next(next) if next else home_for(person.roles), status_code=303)
    if settings.uses_oidc:
        request.session["after_sign_in"] = safe_next(next)
        redirect_uri = f"{settings.public_url.rstrip('/')}/sign-in/callback"
        return await request.app.state.oauth.idp.authorize_redirect(request, redirect_uri)
    if not settings.development:
        raise NotAllowed("sign-in is not configured: set GRANTS_OIDC_DISCOVERY_URL")
    return render(request, "signin/personas.jinja", personas=PERSONAS, next=safe_next(next))


@router.post("/sign-in", summary="Sign in as one of the demo programme's people (development only)",
             dependencies=[CsrfChecked])
async def sign_in_as(
    request: Request, settings: CurrentSettings, persona: Annotated[str, Form()] = "", next: Annotated[str, Form()] = "/"
) -> Response:
    if not settings.development or settings.uses_oidc:
        raise NotAllowed("signing in as someone else is only for development")
    chosen = BY_SUBJECT.get(persona)
    if chosen is None:
        return render(request, "signin/personas.jinja", personas=PERSONAS, next=safe_next(next),
                      errors={"persona": "Select who you are signing in as"})  # fmt: skip
    token = mint_token(settings, chosen.subject, list(chosen.roles), list(chosen.organisations), name=chosen.name,
                       email=chosen.email)  # fmt: skip
    sign_in(request, token)
    roles = frozenset(Role(r) for r in chosen.roles)
    await record_token_address(request, token, roles, chosen.email)
    return RedirectResponse(safe_next(next) if next != "/" else home_for(roles), status_code=303)


@router.get("/sign-in/callback", summary="Where the identity provider sends people back")
async def callback(request: Request, settings: CurrentSettings) -> Response:
    if not settings.uses_oidc:
        raise NotAllowed("sign-in with an identity provider is not configured")
    after = safe_next(request.session.get("after_sign_in"))
    try:
        answer = await request.app.state.oauth.idp.authorize_access_token(request)
        token = answer["access_token"]
        caller = decode_token(settings, token)  # as the services will check it
    except (OAuthError, KeyError, Unauthorized) as error:
        return render(request, "signin/failed.jinja", status_code=400, reason=str(error)[:200])
    sign_in(request, token)
    await record_token_address(request, token, caller.roles, caller.email)
    return RedirectResponse(after if after != "/" else home_for(caller.roles), status_code=303)


@router.get("/sign-out", summary="Sign out")
async def sign_out_page(request: Request) -> Response:
    sign_out(request)
    return render(request, "signin/signed_out.jinja")
