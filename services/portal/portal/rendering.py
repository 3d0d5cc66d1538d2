"""Pages are Jinja2 templates on the NHS.UK design system (the nhsuk-frontend-jinja macros).

Every page gets the same context: who is signed in and what they can reach (the navigation), the
funder's name and logo, the session's CSRF token for its forms, and the form's errors, which the
layout shows as the error summary linking to each field (and prefixes the page title with "Error:").
"""

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.templating import Jinja2Templates
from jinja2 import ChainableUndefined, ChoiceLoader, Environment, FileSystemLoader, PackageLoader
from starlette.responses import Response

from grants_shared.auth import Caller, Role
from portal import words
from portal.session import csrf_token, current_person

TEMPLATES = Path(__file__).parent / "templates"


def environment() -> Environment:
    env = Environment(
        loader=ChoiceLoader([FileSystemLoader(TEMPLATES), PackageLoader("nhsuk_frontend_jinja")]),
        # The macros read params.a.b.c whether or not a page set them.
        undefined=ChainableUndefined,
        # "text" parameters of the macros are escaped only because of this: never turn it off.
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        money=words.money, date=words.date, datetime=words.when, status=words.status, tag_colour=words.tag_colour,
        kind=words.kind, pounds=words.pounds, event_words=words.event_words,
    )
    return env


templates = Jinja2Templates(env=environment())


def navigation(person: Caller | None, path: str) -> list[dict[str, object]]:
    """The places a person can go, by what they do in the programme (signing in and out is in the
    header's account area)."""
    links = [{"href": "/programmes", "text": "Funding programmes"}]
    if person is None:
        return _marked(links, path)
    if person.has(Role.APPLICANT):
        links.append({"href": "/applications", "text": "Your applications"})
    if person.has(Role.REVIEWER):
        links.append({"href": "/reviews", "text": "Your reviews"})
        if not person.has(Role.PROGRAMME_MANAGER, Role.ADMIN):
            # Panel members rank and decide too: their panels are on the manage pages.
            links.append({"href": "/manage", "text": "Your panels"})
    if person.has(Role.PROGRAMME_MANAGER, Role.ADMIN):
        links.append({"href": "/manage", "text": "Manage programmes"})
    if person.has(Role.FINANCE_OFFICER, Role.ADMIN):
        links.append({"href": "/finance", "text": "Finance"})
    if person.has(Role.ADMIN):
        links.append({"href": "/admin/webhooks", "text": "Webhooks"})
        links.append({"href": "/admin/personal-data", "text": "Personal data"})
    links.append({"href": "/inbox", "text": "Messages"})
    return _marked(links, path)


def _marked(links: list[dict[str, object]], path: str) -> list[dict[str, object]]:
    return [{**link, "current": path == link["href"] or path.startswith(f"{link['href']}/")} for link in links]


def render(
    request: Request, template: str, status_code: int = 200, errors: dict[str, str] | None = None, **context: Any
) -> Response:
    person = current_person(request)
    errors = errors or {}
    return templates.TemplateResponse(
        request,
        template,
        {
            "settings": request.app.state.settings,
            "person": person,
            "navigation_items": navigation(person, request.url.path),
            "csrf_token": csrf_token(request),
            "errors": errors,
            "error_list": [{"text": message, "href": f"#{field}"} for field, message in errors.items()],
            "current_path": request.url.path,
            "cspNonce": getattr(request.state, "csp_nonce", None),
            **context,
        },
        status_code=422 if errors and status_code == 200 else status_code,
    )
