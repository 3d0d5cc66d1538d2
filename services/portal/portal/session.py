"""Who is signed in, kept in the session cookie, and the CSRF token every form carries.

The cookie (Starlette's SessionMiddleware: signed, HttpOnly, SameSite=Lax, Secure outside
development) holds the person's token and a CSRF token, nothing about their applications. The token
is checked on every request as the services check it (issuer, audience, expiry, signature), so an
expired token signs the person out rather than failing half-way through a page.
"""

import hmac
import secrets
from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, Request

from grants_shared.auth import Caller, Role, decode_token
from grants_shared.errors import GrantsError, Unauthorized
from portal.config import Settings

TOKEN = "token"
CSRF = "csrf"


class SignInNeeded(Exception):
    """The page needs someone signed in: the portal answers with a redirect to the sign-in page."""

    def __init__(self, next_path: str) -> None:
        self.next_path = next_path


class NotAllowed(GrantsError):
    status = 403
    code = "forbidden"
    title = "You cannot use this page"


class BadForm(GrantsError):
    """A form without the CSRF token of this session: not sent from one of our pages."""

    status = 400
    code = "bad-form"
    title = "This form has expired"


def sign_in(request: Request, token: str) -> None:
    request.session.clear()
    request.session[TOKEN] = token
    request.session[CSRF] = secrets.token_urlsafe(32)


def sign_out(request: Request) -> None:
    request.session.clear()


def csrf_token(request: Request) -> str:
    token = request.session.get(CSRF)
    if not token:
        token = request.session[CSRF] = secrets.token_urlsafe(32)
    return token


async def check_csrf(request: Request) -> None:
    """Every POST form carries the session's CSRF token in a hidden field (``csrf_token``)."""
    form = await request.form()
    sent = form.get("csrf_token")
    expected = request.session.get(CSRF)
    if not (isinstance(sent, str) and expected and hmac.compare_digest(sent, expected)):
        raise BadForm("go back to the page, reload it and send the form again")


def current_person(request: Request) -> Caller | None:
    token = request.session.get(TOKEN)
    if not token:
        return None
    settings: Settings = request.app.state.settings
    try:
        return decode_token(settings, token)
    except Unauthorized:
        sign_out(request)  # expired or no longer valid: as if never signed in
        return None


def token_of(request: Request) -> str | None:
    return request.session.get(TOKEN) if current_person(request) else None


def _needs_person(request: Request) -> Caller:
    person = current_person(request)
    if person is None:
        path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise SignInNeeded(quote(path, safe="/?=&"))
    return person


def needs(*roles: Role):
    """A page for people holding one of ``roles``: others are sent to sign in, or told they cannot."""

    def check(person: Annotated[Caller, Depends(_needs_person)]) -> Caller:
        if roles and not person.has(*roles):
            raise NotAllowed("this page is for " + ", ".join(r.value.replace("_", " ") for r in roles))
        return person

    return check


MaybePerson = Annotated[Caller | None, Depends(current_person)]
Person = Annotated[Caller, Depends(needs())]
ApplicantPerson = Annotated[Caller, Depends(needs(Role.APPLICANT))]
ReviewerPerson = Annotated[Caller, Depends(needs(Role.REVIEWER))]
ManagerPerson = Annotated[Caller, Depends(needs(Role.PROGRAMME_MANAGER, Role.ADMIN))]
FinancePerson = Annotated[Caller, Depends(needs(Role.FINANCE_OFFICER, Role.ADMIN))]
AdminPerson = Annotated[Caller, Depends(needs(Role.ADMIN))]
CsrfChecked = Depends(check_csrf)
