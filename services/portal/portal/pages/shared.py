"""Small things several pages need: API paths with their ids quoted, and the redirect after a form."""

from typing import Any
from urllib.parse import quote, urlencode

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


def cursor_paging(path: str, after: str, following: str | None, first: str, later: str, **filters: str) -> dict[str, Any]:
    """Links to the first page and to the next of a list paged by cursor (``next``, which has no
    total and so no numbered pages), keeping the filters; ``first`` and ``later`` say what they hold."""
    kept = {k: v for k, v in filters.items() if v}
    return {
        "previous": {"href": f"{path}?{urlencode(kept)}" if kept else path, "text": "First page", "labelText": first}
        if after else None,
        "next": {"href": f"{path}?{urlencode(kept | {'after': following})}", "text": "Next page", "labelText": later}
        if following else None,
    }  # fmt: skip
