"""Small things several pages need: API paths with their ids quoted, and the redirect after a form."""

from urllib.parse import quote

from fastapi.responses import RedirectResponse


def q(identifier: str) -> str:
    """An id as a path segment: ids come from URLs people can edit, so they are always quoted."""
    return quote(identifier, safe="")


def programme_path(programme_id: str) -> str:
    return f"/v1/programmes/{q(programme_id)}"


def application_path(application_id: str) -> str:
    return f"/v1/applications/{q(application_id)}"


def see_other(path: str) -> RedirectResponse:
    """After a form is sent: the next page, by GET (so a refresh does not send it again)."""
    return RedirectResponse(path, status_code=303)
