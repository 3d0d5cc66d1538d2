"""Everyone's in-app inbox: their messages newest first, the unread ones marked, a page at a time;
and one message, marked as read when it is opened.

A message is shown as its plain text, never its HTML body: the text is escaped like anything else
people did not write for this page, and the web addresses in it stay words, not links. The link
to what the message is about is the portal's own: the page notifications names for it (a path on
this site), or the application.
"""

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from grants_shared.auth import Caller, Role
from portal.clients import Api, ApiDep
from portal.pages.shared import q
from portal.rendering import render
from portal.session import Person

router = APIRouter(tags=["inbox"])

PER_PAGE = 20
#: What the link to a message's page says, by the kind of page it is.
LINK_WORDS = {
    "/reviews/": "Go to the application you were asked to review",
    "/grants/": "Go to your grant",
    "/applications/": "Go to your application",
}


def _page_number(text: str | None) -> int:
    return int(text) if text and text.isdigit() and 0 < int(text) <= 10_000 else 1


@router.get("/inbox", summary="Your messages")
async def inbox(request: Request, api: ApiDep, person: Person, page: str | None = None) -> Response:
    number = _page_number(page)
    listed = await api.get("notifications", "/v1/inbox", limit=PER_PAGE, offset=(number - 1) * PER_PAGE)
    pages = max(1, -(-listed["total"] // PER_PAGE))
    return render(request, "inbox/inbox.jinja", messages=listed["items"], total=listed["total"],
                  unread=listed["unread_count"], number=number, pages=pages)  # fmt: skip


def _local(path: Any) -> str | None:
    """A path on this site only: a message must not send people elsewhere."""
    if isinstance(path, str) and path.startswith("/") and not path.startswith(("//", "/\\")) and path != "/":
        return path
    return None


async def _destination(api: Api, person: Caller, message: dict[str, Any]) -> dict[str, str] | None:
    """Where the message's "Go to" link leads, and what it says; None when it is about nothing."""
    page = _local(message.get("page"))
    application_id = message.get("application_id")
    if message["kind"] == "review_assigned" and person.has(Role.REVIEWER):
        return await _review_link(api, page, application_id)
    if page is None and application_id and person.has(Role.APPLICANT):
        # A message that names only the application: the applicant's page for it.
        page = f"/applications/{q(application_id)}"
    if page is None:
        return None
    words = next((w for prefix, w in LINK_WORDS.items() if page.startswith(prefix)),
                 "Go to the page this message is about")  # fmt: skip
    return {"href": page, "text": words}


async def _review_link(api: Api, page: str | None, application_id: str | None) -> dict[str, str]:
    """The review, found among the reviewer's own. A review leaves their list when it is given to
    someone else (a conflict of interest, a change of panel): then the link goes to their reviews."""
    reviews = (await api.get("scoring", "/v1/reviews", limit=200))["items"]
    held = next((r for r in reviews if page == f"/reviews/{q(r['id'])}"), None)
    held = held or next((r for r in reviews if r["application_id"] == application_id), None)
    if held:
        return {"href": f"/reviews/{q(held['id'])}", "text": LINK_WORDS["/reviews/"]}
    return {"href": "/reviews", "text": "Go to your reviews", "gone": "true"}


def _paragraphs(text: str) -> list[list[str]]:
    blocks = [block.strip("\n") for block in text.replace("\r\n", "\n").split("\n\n")]
    return [block.split("\n") for block in blocks if block.strip()]


@router.get("/inbox/{notification_id}", summary="One of your messages (marked as read)")
async def message(notification_id: str, request: Request, api: ApiDep, person: Person) -> Response:
    path = f"/v1/inbox/{q(notification_id)}"
    shown = await api.get("notifications", path)
    if shown["read_at"] is None:
        shown = await api.post("notifications", f"{path}/read")
    return render(request, "inbox/message.jinja", message=shown, paragraphs=_paragraphs(shown["text"]),
                  destination=await _destination(api, person, shown))  # fmt: skip
