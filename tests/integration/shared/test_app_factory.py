"""What every service gets from create_app: health, readiness, problem+json errors, role checks."""

import asyncio
import re
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field
from pymongo.asynchronous.database import AsyncDatabase

from grants_shared.api import IfMatchRequired, Manager, PathId, Transact
from grants_shared.auth import Caller, Role, require
from grants_shared.errors import Conflict
from grants_shared.events import ProgrammeClosed
from grants_shared.money import Money
from grants_shared.openapi import problems
from grants_shared.service import RuntimeDep, Service, create_app
from grants_shared.settings import ServiceSettings
from grants_shared.unit_of_work import Transaction
from tests.support.app import bearer, runtime_of, serve
from tests.support.bus import TestBus
from tests.support.waiting import eventually

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


async def close_round(tx: Transaction, round_id: str, version: int) -> None:
    await tx.emit(ProgrammeClosed(programme_id=round_id))


@router.post("/rounds/{round_id}/close", status_code=204, responses=problems(409))
async def close(round_id: PathId, caller: Manager, transact: Transact, version: IfMatchRequired) -> None:
    await transact(close_round, round_id, version)


async def count(tx: Transaction, counter_id: str) -> None:
    await tx.db.counters.update_one({"_id": counter_id}, {"$inc": {"n": 1}}, upsert=True, session=tx.session)


@router.post("/counters/{counter_id}", status_code=204)
async def increment(counter_id: PathId, caller: Manager, transact: Transact) -> None:
    await transact(count, counter_id)


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


async def test_events_a_route_causes_carry_the_request_trace_and_the_caller(settings: ServiceSettings, bus: TestBus) -> None:
    trace = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    headers = {**bearer(settings, "maya", "programme_manager"), "traceparent": trace, "If-Match": '"1"'}
    async with serve(app_for(settings)) as client:
        assert (await client.post("/v1/rounds/r-1/close", headers=headers)).status_code == 204
        [event] = await bus.wait_for(ProgrammeClosed.type, programme_id="r-1")
    # Continued, not copied: the same trace, under the service's own spans (request, then publish).
    assert event.traceparent is not None and event.traceparent != trace
    _, trace_id, span_id, _ = event.traceparent.split("-")
    assert trace_id == "4bf92f3577b34da6a3ce929d0e0e4736" and span_id != "00f067aa0ba902b7"
    assert event.actor == "maya"


async def test_a_wrong_method_is_a_405_problem_naming_the_allowed_ones(settings: ServiceSettings) -> None:
    async with serve(app_for(settings)) as client:
        answer = await client.delete("/v1/pledges")
    assert answer.status_code == 405
    assert answer.headers["allow"] == "POST"
    assert answer.headers["content-type"] == "application/problem+json"


def test_the_openapi_document_declares_each_problem_an_operation_can_answer(settings: ServiceSettings) -> None:
    document = app_for(settings).openapi()
    schemas = document["components"]["schemas"]
    assert "HTTPValidationError" not in schemas and "Problem" in schemas
    close = document["paths"]["/v1/rounds/{round_id}/close"]["post"]
    assert set(close["responses"]) == {"204", "401", "403", "404", "409", "412", "422", "428", "503"}
    for status, answer in close["responses"].items():
        if status != "204":
            assert answer["content"] == {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
    assert "Retry-After" in close["responses"]["503"]["headers"]
    [if_match] = [p for p in close["parameters"] if p["name"] == "If-Match"]
    assert if_match["in"] == "header" and if_match["required"] is True
    pledge = document["paths"]["/v1/pledges"]["post"]
    assert set(pledge["responses"]) == {"201", "401", "403", "422"}
    assert set(document["paths"]["/v1/boom"]["get"]["responses"]) == {"200"}


async def test_readiness_follows_the_broker_going_away_and_coming_back(settings: ServiceSettings) -> None:
    import time
    from urllib.parse import urlparse

    from grants_shared.dev.infra import free_port
    from tests.support.proxy import TcpProxy

    broker = urlparse(settings.rabbitmq_url)
    proxy, port = TcpProxy(broker.hostname or "127.0.0.1", broker.port or 5672), free_port()
    await proxy.open(port)
    through_proxy = settings.model_copy(
        update={"rabbitmq_url": f"amqp://{broker.username}:{broker.password}@127.0.0.1:{port}/"}
    )
    try:
        async with serve(app_for(through_proxy)) as client:
            assert (await client.get("/readyz")).status_code == 200
            await proxy.close()  # the broker goes away
            lost = time.monotonic()
            gone = await eventually(lambda: _status(client, 503), timeout=2, what="503 within 2 s")
            assert gone["broker"] == "unreachable" and gone["database"] == "ok"
            assert time.monotonic() - lost < 2
            assert (await client.get("/healthz")).status_code == 200  # alive all along
            await proxy.open(port)  # and comes back
            back = await eventually(lambda: _status(client, 200), timeout=20, what="ready again")
            assert back["broker"] == "ok"
    finally:
        await proxy.close()


async def _status(client, status: int):  # type: ignore[no-untyped-def]
    answer = await client.get("/readyz")
    return answer.json() if answer.status_code == status else None


async def test_a_change_that_cannot_be_made_in_time_is_a_503_with_retry_after_and_writes_nothing(
    settings: ServiceSettings,
) -> None:
    impatient = settings.model_copy(update={"transaction_timeout_seconds": 1.0})
    headers = bearer(settings, "maya", "programme_manager")
    async with serve(app_for(impatient)) as client:
        assert (await client.post("/v1/counters/c-1", headers=headers)).status_code == 204
        database = runtime_of(client).database
        # Another writer holds the document in a transaction it has not finished (a process that died
        # mid-way looks the same until the server aborts it).
        async with database.client.start_session() as session:
            await session.start_transaction()
            await database.db.counters.update_one({"_id": "c-1"}, {"$inc": {"n": 100}}, session=session)
            busy = await client.post("/v1/counters/c-1", headers=headers)
            await session.abort_transaction()
        assert busy.status_code == 503
        assert busy.headers["retry-after"] == "2" and busy.headers["content-type"] == "application/problem+json"
        assert (await database.db.counters.find_one({"_id": "c-1"}))["n"] == 1
        assert (await client.post("/v1/counters/c-1", headers=headers)).status_code == 204  # and then it works


def _sample(text: str, name: str, **labels: str) -> float:
    """The sum of the series with these labels in a Prometheus text exposition (0 if none)."""
    from prometheus_client.parser import text_string_to_metric_families

    return sum(sample.value for family in text_string_to_metric_families(text) for sample in family.samples
               if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()))  # fmt: skip


async def test_metrics_count_requests_by_route_database_round_trips_and_events(
    settings: ServiceSettings, bus: TestBus
) -> None:
    headers = {**bearer(settings, "maya", "programme_manager"), "If-Match": '"1"'}
    async with serve(app_for(settings)) as client:
        before = (await client.get("/metrics")).text
        for n in range(3):
            assert (await client.post(f"/v1/counters/c-{n}", headers=headers)).status_code == 204
        assert (await client.post("/v1/rounds/r-m/close", headers=headers)).status_code == 204
        await bus.wait_for(ProgrammeClosed.type, programme_id="r-m")

        async def marked() -> Any:
            # The relay marks the event published after the broker's confirm, gathering marks first.
            scraped = await client.get("/metrics")
            return scraped if _sample(scraped.text, "grants_outbox_pending", service="test") == 0 else None

        after = await eventually(marked, what="the event marked published")
    assert after.status_code == 200 and after.headers["content-type"].startswith("text/plain")
    text = after.text
    route = {"service": "test", "method": "POST", "route": "/v1/counters/{counter_id}", "status": "204"}
    # The figures are the process's: what this test did is what they grew by.
    def grew(name: str, **labels: str) -> float:
        return _sample(text, name, **labels) - _sample(before, name, **labels)

    assert grew("grants_http_request_duration_seconds_count", **route) == 3  # by template, not by id
    assert grew("grants_database_commands_total", service="test", command="commitTransaction") == 4
    assert grew("grants_database_commands_total", service="test", command="update") >= 3
    # Each round trip is counted under what caused it: here, the route.
    assert grew("grants_database_commands_total", service="test", command="commitTransaction",
                origin="POST /v1/counters/{counter_id}") == 3  # fmt: skip
    assert _sample(text, "grants_events_published_total", service="test", type=ProgrammeClosed.type) >= 1
    assert _sample(text, "grants_outbox_pending", service="test") == 0


async def test_every_answer_carries_the_security_headers_and_no_store(settings: ServiceSettings) -> None:
    async with serve(app_for(settings)) as client:
        for answer in (await client.get("/healthz"), await client.get("/v1/pledges/none"),
                       await client.post("/v1/pledges", json={})):  # fmt: skip
            assert answer.headers["x-content-type-options"] == "nosniff"
            assert answer.headers["referrer-policy"] == "no-referrer"
            assert "frame-ancestors 'none'" in answer.headers["content-security-policy"]
            assert answer.headers["cache-control"] == "no-store"
            assert "strict-transport-security" not in answer.headers  # plain HTTP: no HSTS
    app = app_for(settings)
    async with app.router.lifespan_context(app):
        import httpx

        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://api.test") as tls:
            assert (await tls.get("/healthz")).headers["strict-transport-security"].startswith("max-age=")


async def test_the_api_documentation_is_served_by_the_service_itself(settings: ServiceSettings) -> None:
    async with serve(app_for(settings)) as client:
        page = await client.get("/docs")
        assert page.status_code == 200
        sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
        assert sources and all(source.startswith("/docs/assets/") for source in sources), sources
        for source in sources:
            assert (await client.get(source)).status_code == 200
        assert "script-src 'self'" in page.headers["content-security-policy"]


async def test_a_request_body_over_the_limit_is_a_413_problem_and_writes_nothing(settings: ServiceSettings) -> None:
    small = settings.model_copy(update={"max_request_bytes": 2_048})
    headers = bearer(settings, "maya", "programme_manager")
    async with serve(app_for(small)) as client:
        body = {"title": "big", "amount": {"amount": 1, "currency": "GBP"}, "padding": "x" * 5_000}
        declared = await client.post("/v1/pledges", json=body, headers=headers)
        assert declared.status_code == 413 and declared.headers["content-type"] == "application/problem+json"

        async def streamed():  # no Content-Length: refused once it passes the limit
            for _ in range(10):
                yield b" " * 1_000

        chunked = await client.post("/v1/pledges", content=streamed(),
                                    headers={**headers, "Content-Type": "application/json"})  # fmt: skip
        assert chunked.status_code == 413 and chunked.json()["status"] == 413
        assert await runtime_of(client).db.pledges.count_documents({}) == 0


async def test_metrics_count_background_work_by_status(settings: ServiceSettings) -> None:
    from grants_shared.worker import LeasedQueue

    jobs = LeasedQueue("jobs")
    app = create_app(Service("test", "Test", "", [router], {}, no_indexes, queues=(jobs,)), settings)
    async with serve(app) as client:
        db = runtime_of(client).db
        await db.jobs.insert_many([{"status": s} for s in ("pending", "pending", "pending", "sending", "failed")])
        text = (await client.get("/metrics")).text
    for status, n in (("pending", 3), ("sending", 1), ("failed", 1)):
        assert _sample(text, "grants_work_items", service="test", queue="jobs", status=status) == n


async def test_a_replica_keeps_no_more_database_connections_than_its_pool_allows(settings: ServiceSettings) -> None:
    # Many changes at once wait for one of the few connections instead of opening more of them.
    small = settings.model_copy(update={"mongodb_max_pool_size": 2})
    async with serve(app_for(small)) as client:
        headers = bearer(small, "manager-1", "programme_manager")
        runtime = runtime_of(client)
        assert runtime.database.client.options.pool_options.max_pool_size == 2
        answers = await asyncio.gather(*(client.post(f"/v1/counters/c{n % 3}", headers=headers) for n in range(24)))
        assert [a.status_code for a in answers] == [204] * 24
        counted = await runtime.db.counters.find().to_list(None)
        assert sorted(c["n"] for c in counted) == [8, 8, 8]
