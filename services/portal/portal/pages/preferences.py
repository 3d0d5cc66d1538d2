"""Everyone's choices of the messages they get: for each kind that can be turned off, by email and in
the portal's messages; the kinds that always go, listed as such; and for reviewers and programme
managers, one email a day instead of one each time. A plain form (checkboxes and radios, no
JavaScript); the choices live in the notifications service, which this page only asks and tells.
"""

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from portal.clients import ApiDep, ApiError
from portal.pages.shared import see_other
from portal.rendering import render
from portal.session import CsrfChecked, Person

router = APIRouter(tags=["preferences"])

PATH = "/account/notifications"
STALE = "Your choices were changed somewhere else (perhaps in another tab) after you opened this page: check them and save again"


def _form(request: Request, choices: dict[str, Any], version: int | None, errors: dict[str, str] | None = None,
          saved: bool = False) -> Response:  # fmt: skip
    optional = [k for k in choices["kinds"] if not k["required"]]
    email_items = [{"value": k["kind"], "text": k["description"]} for k in optional]
    inbox_items = [{"value": k["kind"], "text": k["description"]} for k in optional]
    return render(
        request, "preferences/notifications.jinja", choices=choices, version=version, errors=errors, saved=saved,
        email_items=email_items, inbox_items=inbox_items,
        email_on=[k["kind"] for k in optional if k["email"]], inbox_on=[k["kind"] for k in optional if k["inbox"]],
        required=[k for k in choices["kinds"] if k["required"]],
    )  # fmt: skip


@router.get(PATH, summary="Choose which messages you get")
async def preferences(request: Request, api: ApiDep, person: Person, saved: str = "") -> Response:
    answer = await api.read("notifications", "/v1/me/preferences")
    return _form(request, answer.body, answer.version, saved=saved == "yes")


@router.post(PATH, summary="Save your choices", dependencies=[CsrfChecked])
async def save(request: Request, api: ApiDep, person: Person) -> Response:
    form = await request.form()
    answer = await api.read("notifications", "/v1/me/preferences")
    optional = [k["kind"] for k in answer.body["kinds"] if not k["required"]]
    email_on = {str(v) for v in form.getlist("email")}
    inbox_on = {str(v) for v in form.getlist("inbox")}
    body = {
        "email_off": [kind for kind in optional if kind not in email_on],
        "inbox_off": [kind for kind in optional if kind not in inbox_on],
        "digest": answer.body["digest_available"] and form.get("digest") == "daily",
    }
    version = str(form.get("version") or "")
    # The first choice needs no If-Match (version 0: none made yet); later ones the version shown.
    sent = int(version) if version.isdigit() and int(version) > 0 else None
    try:
        await api.put("notifications", "/v1/me/preferences", body, version=sent)
    except ApiError as error:
        if error.status not in (412, 428):
            raise
        return _form(request, answer.body, answer.version, {"email": STALE})
    return see_other(f"{PATH}?saved=yes")
