"""Erasure requests: an administrator asks, on a person's behalf, that the platform erase their
personal data. This service erases its own at once and tells the others, which each keep their own
confirmation (``GET /v1/personal-data/erasures/{id}`` on every service)."""

from fastapi import APIRouter, Response

from applications import commands, store
from applications.schemas import ErasureRequestView, NewErasureRequest
from grants_shared.api import Admin, DatabaseDep, PathId, Transact
from grants_shared.errors import NotFound

router = APIRouter(prefix="/v1/erasure-requests", tags=["personal data"])


@router.post("", status_code=201, summary="Erase a person's personal data from every service")
async def request_erasure(
    body: NewErasureRequest, caller: Admin, transact: Transact, response: Response
) -> ErasureRequestView:
    request = await transact(commands.request_erasure, caller, body.person_id, body.reason)
    response.headers["Location"] = f"/v1/erasure-requests/{request.id}"
    return ErasureRequestView.of(request)


@router.get("/{request_id}", summary="An erasure request (its confirmations are on each service)")
async def get_erasure_request(request_id: PathId, caller: Admin, database: DatabaseDep) -> ErasureRequestView:
    request = await store.get_erasure_request(database, request_id)
    if request is None:
        raise NotFound(f"no erasure request {request_id}")
    return ErasureRequestView.of(request)
