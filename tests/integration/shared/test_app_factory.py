"""What every service gets from create_app: health, readiness, problem+json errors, role checks."""

from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field
from pymongo.asynchronous.database import AsyncDatabase

from grants_shared.auth import Caller, Role, require
from grants_shared.errors import Conflict
from grants_shared.money import Money
from grants_shared.service import RuntimeDep, Service, create_app
from grants_shared.settings import ServiceSettings
from tests.support.app import bearer, runtime_of, serve

router = APIRouter(prefix="/v1")


class Pledge(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: Annotated[str, Field(min_length=1, max_length=20)]
    amount: Money


@router.post("/pledges", status_code=201)
async def make_pledge(
    pledge: Pledge, runtime: RuntimeDep, caller: Annotated[Caller, Depends(require(Role.PROGRAMME_MANAGER))]
) -> dict[str, str]:
    if pledge.title == "taken":
        raise Conflict("a pledge with that title exists")
    await runtime.db.pledges.insert_one(pledge.model_dump())
    return {"by": caller.subject}


@router.get("/boom")
async def boom() -> None:
    raise RuntimeError("secret internals")


async def no_indexes(db: AsyncDatabase) -> None:
    return None


def app_for(settings: ServiceSettings):
    return create_app(Service("test", "Test", "", [router], {}, no_indexes), settings)


async def test_health_and_readiness(settings: ServiceSettings) -> None:
    async with serve(app_for(settings)) as client:
        assert (await client.get("/healthz")).json() == {"status": "ok"}
        ready = await client.get("/readyz")
        assert ready.status_code == 200
        assert ready.json() == {"status": "ready", "database": "ok", "broker": "ok"}
        assert (await client.get("/docs")).status_code == 200


async def test_readiness_fails_when_the_broker_is_unreachable(settings: ServiceSettings) -> None:
    from grants_shared.dev.infra import free_port

    app = app_for(settings.model_copy(update={"rabbitmq_url": f"amqp://guest:guest@127.0.0.1:{free_port()}/"}))
    async with app.router.lifespan_context(app):
        import httpx

        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
            ready = await client.get("/readyz")
    assert ready.status_code == 503
    assert ready.json()["broker"] == "unreachable"


async def test_bad_input_is_a_422_problem_and_writes_nothing(settings: ServiceSettings) -> None:
    headers = bearer(settings, "maya", "programme_manager")
    async with serve(app_for(settings)) as client:
        for body in (
            {"title": "x" * 21, "amount": {"amount": 100, "currency": "GBP"}},
            {"title": "ok", "amount": {"amount": 1.5, "currency": "GBP"}},
            {"title": "ok", "amount": {"amount": 100, "currency": "GBP"}, "unknown": 1},
        ):
            response = await client.post("/v1/pledges", json=body, headers=headers)
            assert response.status_code == 422
            assert response.headers["content-type"] == "application/problem+json"
            problem = response.json()
            assert problem["status"] == 422 and problem["errors"]
        runtime = runtime_of(client)
        assert await runtime.db.pledges.count_documents({}) == 0


async def test_domain_errors_and_crashes_are_problems_without_internals(settings: ServiceSettings) -> None:
    headers = bearer(settings, "maya", "programme_manager")
    async with serve(app_for(settings)) as client:
        conflict = await client.post("/v1/pledges", json={"title": "taken", "amount": {"amount": 1, "currency": "GBP"}},
                                     headers=headers)
        assert conflict.status_code == 409
        assert conflict.json()["detail"] == "a pledge with that title exists"
        crash = await client.get("/v1/boom")
        assert crash.status_code == 500
        assert crash.headers["content-type"] == "application/problem+json"
        assert "secret" not in crash.text


async def test_callers_need_a_valid_token_and_the_right_role(settings: ServiceSettings) -> None:
    body = {"title": "ok", "amount": {"amount": 100, "currency": "GBP"}}
    async with serve(app_for(settings)) as client:
        missing = await client.post("/v1/pledges", json=body)
        assert missing.status_code == 401
        assert missing.headers["www-authenticate"] == "Bearer"
        garbage = await client.post("/v1/pledges", json=body, headers={"Authorization": "Bearer nonsense"})
        assert garbage.status_code == 401
        wrong_role = await client.post("/v1/pledges", json=body, headers=bearer(settings, "ali", "applicant"))
        assert wrong_role.status_code == 403
        assert wrong_role.headers["content-type"] == "application/problem+json"
        allowed = await client.post("/v1/pledges", json=body, headers=bearer(settings, "maya", "programme_manager"))
        assert allowed.status_code == 201 and allowed.json() == {"by": "maya"}
