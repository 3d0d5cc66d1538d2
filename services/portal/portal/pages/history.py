"""An application's history for managers: every change each service made to it, side by side in
time order, with who asked for it (each service keeps its own part: ``GET /v1/audit/...``)."""

import asyncio

from fastapi import APIRouter, Request
from fastapi.responses import Response

from portal.clients import ApiDep, ApiError
from portal.pages.shared import application_path, q
from portal.rendering import render
from portal.session import ManagerPerson

router = APIRouter(tags=["history"])

SERVICES = ("applications", "scoring", "disbursement", "notifications")
#: What each service is to the people reading the history.
PART = {"applications": "Applying", "scoring": "The panel", "disbursement": "Payments", "notifications": "Messages"}


@router.get("/manage/applications/{application_id}/history", summary="Every change to an application, in order")
async def history(application_id: str, request: Request, api: ApiDep, person: ManagerPerson) -> Response:
    try:
        application = await api.get("applications", application_path(application_id))
    except ApiError as error:
        if error.status != 404:
            raise
        return render(request, "manage/cannot_see.jinja", status_code=404)
    path = f"/v1/audit/applications/{q(application_id)}"
    trails = await asyncio.gather(*(api.get(service, path) for service in SERVICES))
    entries = sorted((entry for trail in trails for entry in trail["entries"]), key=lambda e: (e["at"], e["event_id"]))
    return render(request, "manage/history.jinja", application=application, entries=entries, part=PART,
                  complete=all(trail["complete"] for trail in trails))  # fmt: skip
