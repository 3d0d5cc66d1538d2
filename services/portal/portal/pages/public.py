"""What anyone can read, signed in or not: the start page, the open programmes (who can apply, how
much, the closing date, how applications are judged), and the statements every service publishes."""

from fastapi import APIRouter, Request
from fastapi.responses import Response

from portal.clients import ApiDep
from portal.pages.shared import programme_path
from portal.rendering import render
from portal.session import MaybePerson

router = APIRouter(tags=["public"])


@router.get("/", summary="Start page")
async def start(request: Request, api: ApiDep, person: MaybePerson) -> Response:
    programmes = await api.get("applications", "/v1/programmes", status="open", limit=5)
    return render(request, "public/start.jinja", programmes=programmes["items"])


@router.get("/programmes", summary="The open programmes")
async def programmes(request: Request, api: ApiDep, person: MaybePerson) -> Response:
    open_now = await api.get("applications", "/v1/programmes", status="open", limit=100)
    return render(request, "public/programmes.jinja", programmes=open_now["items"], total=open_now["total"])


@router.get("/programmes/{programme_id}", summary="One programme: who can apply, how much, when, the criteria")
async def programme(programme_id: str, request: Request, api: ApiDep, person: MaybePerson) -> Response:
    shown = await api.get("applications", programme_path(programme_id))
    return render(request, "public/programme.jinja", programme=shown)


@router.get("/accessibility", summary="Accessibility statement")
async def accessibility(request: Request) -> Response:
    return render(request, "public/accessibility.jinja")


@router.get("/privacy", summary="How we use your information")
async def privacy(request: Request) -> Response:
    return render(request, "public/privacy.jinja")
