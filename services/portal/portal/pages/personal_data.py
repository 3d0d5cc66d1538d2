"""Administrators answer people's requests about their personal data (UK GDPR): a copy of everything
the platform holds about a person (every service's part, gathered into one download), and erasure
(applications erases its part and tells the others; the page shows each service's confirmation)."""

import asyncio
import json
import re
from typing import Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from grants_shared.clock import utcnow
from grants_shared.events import ID_PATTERN
from portal.clients import Api, ApiDep, ApiError
from portal.pages.shared import q, see_other
from portal.rendering import render
from portal.session import AdminPerson, CsrfChecked

router = APIRouter(tags=["personal data"])

SERVICES = ("applications", "scoring", "disbursement", "notifications")
#: What each service is to the people reading these pages.
PART = {"applications": "Applying", "scoring": "The panel", "disbursement": "Payments", "notifications": "Messages"}
KINDS = {"copy": "A copy of their data", "erasure": "Erasure of their data"}


def _check(person_id: str, kind: str) -> dict[str, str]:
    errors = {}
    if not person_id:
        errors["person_id"] = "Enter the person's id"
    elif len(person_id) > 64 or not re.match(ID_PATTERN, person_id):
        errors["person_id"] = "Enter the id exactly as their sign-in account shows it, like sam-harrow"
    if kind not in KINDS:
        errors["kind"] = "Select what the person asked for"
    return errors


@router.get("/admin/personal-data", summary="A person's request about their personal data")
async def start(request: Request, person: AdminPerson) -> Response:
    return render(request, "admin/personal_data.jinja", values={"person_id": "", "kind": ""}, kinds=KINDS)


@router.post("/admin/personal-data", summary="Go on with the request", dependencies=[CsrfChecked])
async def choose(request: Request, person: AdminPerson, person_id: str = Form(""), kind: str = Form("")) -> Response:
    person_id = person_id.strip()
    errors = _check(person_id, kind)
    if errors:
        return render(request, "admin/personal_data.jinja", values={"person_id": person_id, "kind": kind},
                      kinds=KINDS, errors=errors)  # fmt: skip
    if kind == "copy":
        return see_other(f"/admin/personal-data/people/{q(person_id)}")
    return render(request, "admin/erase.jinja", person_id=person_id)


async def _copies(api: Api, person_id: str) -> dict[str, dict[str, Any]]:
    path = f"/v1/personal-data/people/{q(person_id)}"
    answers = await asyncio.gather(*(api.get(service, path) for service in SERVICES))
    return {service: answer["held"] for service, answer in zip(SERVICES, answers)}


@router.get("/admin/personal-data/people/{person_id}", summary="What the platform holds about a person")
async def held(person_id: str, request: Request, api: ApiDep, person: AdminPerson) -> Response:
    copies = await _copies(api, person_id)
    rows = [{"part": PART[service], "collection": collection, "about": "; ".join(part["about"]),
             "count": len(part["documents"])}
            for service, parts in copies.items() for collection, part in parts.items()]  # fmt: skip
    return render(request, "admin/held.jinja", person_id=person_id, rows=rows)


@router.get("/admin/personal-data/people/{person_id}/copy.json", summary="The copy, as one file to send them")
async def download(person_id: str, api: ApiDep, person: AdminPerson) -> Response:
    copy = {"person_id": person_id, "gathered_at": utcnow().isoformat(), "services": await _copies(api, person_id)}
    filename = f"personal-data-{re.sub(r'[^A-Za-z0-9_-]', '_', person_id)}.json"
    return Response(json.dumps(copy, indent=2, ensure_ascii=False), media_type="application/json",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})  # fmt: skip


@router.post("/admin/personal-data/erasures", summary="Erase a person's data", dependencies=[CsrfChecked])
async def erase(request: Request, api: ApiDep, person: AdminPerson, person_id: str = Form(""),
                reason: str = Form("")) -> Response:  # fmt: skip
    errors = _check(person_id.strip(), "erasure")
    if errors or len(reason) > 1_000:
        errors = errors or {"reason": "How the request reached you must be 1,000 characters or fewer"}
        return render(request, "admin/erase.jinja", person_id=person_id, reason=reason, errors=errors)
    created = await api.post("applications", "/v1/erasure-requests", {"person_id": person_id.strip(), "reason": reason})
    return see_other(f"/admin/personal-data/erasures/{q(created['id'])}")


@router.get("/admin/personal-data/erasures/{request_id}", summary="An erasure and each service's confirmation")
async def erasure(request_id: str, request: Request, api: ApiDep, person: AdminPerson) -> Response:
    asked = await api.get("applications", f"/v1/erasure-requests/{q(request_id)}")

    async def confirmation(service: str) -> dict[str, Any] | None:
        try:
            return await api.get(service, f"/v1/personal-data/erasures/{q(request_id)}")
        except ApiError as error:
            if error.status == 404:
                return None  # not carried out there yet
            raise

    confirmations = await asyncio.gather(*(confirmation(service) for service in SERVICES))
    rows = [{"part": PART[service], "confirmation": done} for service, done in zip(SERVICES, confirmations)]
    return render(request, "admin/erasure.jinja", asked=asked, rows=rows, complete=all(confirmations))
