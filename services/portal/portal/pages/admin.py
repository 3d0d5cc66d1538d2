"""Administrators' webhook subscriptions: the list, subscribing an integrator's endpoint to events,
one subscription with its recent deliveries, deactivating and reactivating it and changing its
signing secret.

A signing secret is shown once, in the answer to the form that made it (never after a redirect,
never in a URL, never kept by the portal); every portal page is sent with Cache-Control: no-store.
"""

import secrets
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from portal import forms
from portal.clients import Api, ApiDep, ApiError
from portal.pages.finance import PAGE_SIZE, page_href, page_number, paging_of
from portal.pages.shared import q, see_other
from portal.rendering import render
from portal.words import event_words
from portal.session import AdminPerson, CsrfChecked

router = APIRouter(tags=["admin"])

#: Where a delivery to an integrator stands: (words, tag colour).
DELIVERY_STATUSES = {
    "pending": ("Waiting to be sent", "grey"), "sending": ("Sending", "blue"), "delivered": ("Delivered", "green"),
    "failed": ("Failed", "red"), "cancelled": ("Cancelled", "grey"),
    "held": ("Held until the subscription is reactivated", "orange"),
}  # fmt: skip
#: Where a subscription stands: (words, tag colour).
SUBSCRIPTION_STATUSES = {
    "active": ("Active", "green"), "disabled": ("Disabled after failing", "orange"), "deactivated": ("Deactivated", "grey"),
}  # fmt: skip
#: One-time tokens of the "new subscription" forms this session has been shown but not yet sent.
FORMS_SHOWN = "webhook_forms"
STALE = "This subscription changed after you opened this page (perhaps in another tab): nothing was changed this time"


def webhook_path(subscription_id: str) -> str:
    return f"/v1/webhooks/{q(subscription_id)}"


def _issue_form_token(request: Request) -> str:
    """A token for one new-subscription form: sending that form twice (reloading the page that shows
    the secret, or a double click) would make a second subscription with a second secret."""
    token = secrets.token_urlsafe(16)
    # Reassigned, not appended to, so the session knows it changed; the last few forms are enough.
    request.session[FORMS_SHOWN] = [*request.session.get(FORMS_SHOWN, [])[-9:], token]
    return token


def _spend_form_token(request: Request, token: str) -> bool:
    shown = request.session.get(FORMS_SHOWN, [])
    if token not in shown:
        return False
    request.session[FORMS_SHOWN] = [t for t in shown if t != token]
    return True


@router.get("/admin/webhooks", summary="Webhook subscriptions, active and deactivated")
async def webhooks(request: Request, api: ApiDep, person: AdminPerson, page: str = "1", sent: str = "") -> Response:
    number = page_number(page)
    listed = await api.get("notifications", "/v1/webhooks", limit=PAGE_SIZE, offset=(number - 1) * PAGE_SIZE)
    if number > 1 and not listed["items"]:  # past the last page (an old link): the first one
        return see_other(page_href("/admin/webhooks", 1))
    return render(request, "admin/webhooks.jinja", webhooks=listed["items"], total=listed["total"],
                  paging=paging_of("/admin/webhooks", listed["total"], number),
                  sent_before=sent == "again")  # fmt: skip


# --- a new subscription (before /admin/webhooks/{id}, which would otherwise take "new") ----------


def _new_form(request: Request, types: list[str], values: dict[str, Any], errors: dict[str, str] | None = None
              ) -> Response:  # fmt: skip
    items = [{"value": t, "text": event_words(t), "hint": {"text": t}} for t in types]
    return render(request, "admin/new.jinja", items=items, values=values, errors=errors,
                  form_token=_issue_form_token(request))  # fmt: skip


async def _event_types(api: Api) -> list[str]:
    return (await api.get("notifications", "/v1/webhooks/event-types"))["items"]


@router.get("/admin/webhooks/new", summary="Subscribe an integrator's endpoint to events")
async def new_webhook(request: Request, api: ApiDep, person: AdminPerson) -> Response:
    return _new_form(request, await _event_types(api), {"url": "", "description": "", "event_types": []})


def _check(values: dict[str, Any]) -> dict[str, str]:
    errors = {}
    if not values["url"]:
        errors["url"] = "Enter the web address to send events to"
    elif not values["url"].lower().startswith(("https://", "http://")):
        errors["url"] = "Enter a web address that starts with https://, like https://crm.example.org/hooks/grants"
    if not values["event_types"]:
        errors["event_types"] = "Select at least one event to send"
    if len(values["description"]) > 500:
        errors["description"] = "Description must be 500 characters or fewer"
    return errors


@router.post("/admin/webhooks/new", summary="Subscribe it, and show its signing secret once",
             dependencies=[CsrfChecked])  # fmt: skip
async def create_webhook(request: Request, api: ApiDep, person: AdminPerson) -> Response:
    form = await request.form()
    values = {"url": str(form.get("url") or "").strip(), "description": str(form.get("description") or "").strip(),
              "event_types": [str(v) for v in form.getlist("event_types")]}  # fmt: skip
    errors = _check(values)
    if errors:
        return _new_form(request, await _event_types(api), values, errors)
    if not _spend_form_token(request, str(form.get("form_token") or "")):
        # This form was sent already: its subscription exists and its secret was shown then.
        return see_other("/admin/webhooks?sent=again")
    body = {"url": values["url"], "event_types": values["event_types"], "description": values["description"]}
    try:
        created = await api.post("notifications", "/v1/webhooks", body)
    except ApiError as error:
        if error.status not in (409, 422):
            raise
        fields = {"url": "url", "event_types": "event_types", "description": "description"}
        return _new_form(request, await _event_types(api), values, forms.field_errors(error, fields, "url"))
    # The answer to this POST is the one place the secret appears: no redirect, nothing kept.
    return render(request, "admin/secret.jinja", webhook=created, secret=created["secret"], created=True)


# --- one subscription ----------------------------------------------------------------------------


@router.get("/admin/webhooks/{subscription_id}", summary="One subscription and its recent deliveries")
async def webhook(subscription_id: str, request: Request, api: ApiDep, person: AdminPerson) -> Response:
    shown = await api.get("notifications", webhook_path(subscription_id))
    deliveries = await api.get("notifications", f"{webhook_path(subscription_id)}/deliveries", limit=20)
    return render(request, "admin/webhook.jinja", webhook=shown, deliveries=deliveries["items"],
                  total=deliveries["total"], statuses=DELIVERY_STATUSES,
                  subscription_statuses=SUBSCRIPTION_STATUSES)  # fmt: skip


async def _confirm(request: Request, api: Api, subscription_id: str, template: str,
                   errors: dict[str, str] | None = None) -> Response:  # fmt: skip
    answer = await api.read("notifications", webhook_path(subscription_id))
    if not answer.body["active"] and not errors:
        return see_other(f"/admin/webhooks/{q(subscription_id)}")  # nothing left to do to it
    return render(request, template, webhook=answer.body, version=answer.version, errors=errors)


def _refusal(error: ApiError) -> str:
    return STALE if error.status == 412 else error.detail[:1].upper() + error.detail[1:]


@router.get("/admin/webhooks/{subscription_id}/deactivate", summary="Deactivate a subscription: are you sure?")
async def deactivate_page(subscription_id: str, request: Request, api: ApiDep, person: AdminPerson) -> Response:
    return await _confirm(request, api, subscription_id, "admin/deactivate.jinja")


@router.post("/admin/webhooks/{subscription_id}/deactivate", summary="Deactivate it", dependencies=[CsrfChecked])
async def deactivate(
    subscription_id: str, request: Request, api: ApiDep, person: AdminPerson, version: Annotated[str, Form()] = ""
) -> Response:
    try:
        await api.delete("notifications", webhook_path(subscription_id),
                         version=int(version) if version.isdigit() else None)  # fmt: skip
    except ApiError as error:
        if error.status not in (409, 412):
            raise
        return await _confirm(request, api, subscription_id, "admin/deactivate.jinja", {"confirm": _refusal(error)})
    return see_other(f"/admin/webhooks/{q(subscription_id)}")


@router.get("/admin/webhooks/{subscription_id}/rotate-secret", summary="Change the signing secret: are you sure?")
async def rotate_page(subscription_id: str, request: Request, api: ApiDep, person: AdminPerson) -> Response:
    return await _confirm(request, api, subscription_id, "admin/rotate.jinja")


@router.post("/admin/webhooks/{subscription_id}/rotate-secret", summary="Change it, and show the new one once",
             dependencies=[CsrfChecked])  # fmt: skip
async def rotate(
    subscription_id: str, request: Request, api: ApiDep, person: AdminPerson, version: Annotated[str, Form()] = ""
) -> Response:
    # The version sent is the one the page was shown at: sending the form again (reloading the page
    # with the new secret) is refused with 412 rather than changing the secret a second time.
    try:
        rotated = await api.post("notifications", f"{webhook_path(subscription_id)}/rotate-secret",
                                 version=int(version) if version.isdigit() else None)  # fmt: skip
    except ApiError as error:
        if error.status not in (409, 412):
            raise
        return await _confirm(request, api, subscription_id, "admin/rotate.jinja", {"confirm": _refusal(error)})
    return render(request, "admin/secret.jinja", webhook=rotated, secret=rotated["secret"], created=False)


@router.get("/admin/webhooks/{subscription_id}/reactivate", summary="Reactivate a subscription: are you sure?")
async def reactivate_page(subscription_id: str, request: Request, api: ApiDep, person: AdminPerson) -> Response:
    return await _confirm_reactivation(request, api, subscription_id)


async def _confirm_reactivation(request: Request, api: Api, subscription_id: str,
                                errors: dict[str, str] | None = None) -> Response:  # fmt: skip
    answer = await api.read("notifications", webhook_path(subscription_id))
    if answer.body["active"] and not errors:
        return see_other(f"/admin/webhooks/{q(subscription_id)}")  # active already
    return render(request, "admin/reactivate.jinja", webhook=answer.body, version=answer.version, errors=errors)


@router.post("/admin/webhooks/{subscription_id}/reactivate", summary="Reactivate it", dependencies=[CsrfChecked])
async def reactivate(
    subscription_id: str, request: Request, api: ApiDep, person: AdminPerson, version: Annotated[str, Form()] = ""
) -> Response:
    try:
        await api.post("notifications", f"{webhook_path(subscription_id)}/reactivate",
                       version=int(version) if version.isdigit() else None)  # fmt: skip
    except ApiError as error:
        if error.status not in (409, 412):
            raise
        return await _confirm_reactivation(request, api, subscription_id, {"confirm": _refusal(error)})
    return see_other(f"/admin/webhooks/{q(subscription_id)}")


@router.post("/admin/webhooks/{subscription_id}/deliveries/{delivery_id}/resend",
             summary="Send one delivery again (the same webhook-id)", dependencies=[CsrfChecked])  # fmt: skip
async def resend(subscription_id: str, delivery_id: str, request: Request, api: ApiDep, person: AdminPerson) -> Response:
    try:
        await api.post("notifications", f"{webhook_path(subscription_id)}/deliveries/{q(delivery_id)}/resend")
    except ApiError as error:
        if error.status not in (409, 412):
            raise
        # Disabled or deactivated meanwhile: the subscription's page says which.
    return see_other(f"/admin/webhooks/{q(subscription_id)}")
