"""The app factory every service uses, so each has the same shape and lifecycle.

A service describes itself with a :class:`Service` (its name, routes, event handlers, indexes and
background workers); :func:`create_app` builds the FastAPI app whose lifespan opens the database,
creates indexes, connects to RabbitMQ (declaring the topology and starting the consumer), starts
the outbox relay and the workers, and closes all of them on shutdown.
"""

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Annotated, Any, Generic, TypeVar

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase
from starlette.exceptions import HTTPException as StarletteHTTPException

from grants_shared.broker import Broker
from grants_shared.consumer import Consumer, Handler
from grants_shared.errors import PROBLEM_JSON, Busy, GrantsError
from grants_shared.idempotency import create_idempotency_indexes
from grants_shared.openapi import document_problems
from grants_shared.outbox import OutboxRelay, create_outbox_indexes
from grants_shared.settings import ServiceSettings
from grants_shared.tasks import stop
from grants_shared.unit_of_work import Database

log = logging.getLogger(__name__)

S = TypeVar("S", bound=ServiceSettings)


@dataclass
class Runtime(Generic[S]):
    """What a running service holds: its settings, its database, the broker, the relay."""

    settings: S
    database: Database[S]
    broker: Broker
    relay: OutboxRelay
    consumer: Consumer

    @property
    def db(self) -> AsyncDatabase:
        return self.database.db


Worker = Callable[[Runtime[Any]], Awaitable[None]]


@dataclass
class Service:
    name: str
    title: str
    description: str
    routers: Sequence[APIRouter]
    handlers: Mapping[str, Handler]
    create_indexes: Callable[[AsyncDatabase], Awaitable[None]]
    #: Long-running loops started with the app (payment runner, email sender...), cancelled on shutdown.
    workers: Sequence[Worker] = field(default_factory=tuple)


@asynccontextmanager
async def running(service: Service, settings: S) -> AsyncIterator[Runtime[S]]:
    """Start everything a service needs; used by the app's lifespan and by tests that need no HTTP."""
    client: AsyncMongoClient = AsyncMongoClient(settings.mongodb_url, tz_aware=True, connect=False)
    relay_box: list[OutboxRelay] = []
    database = Database(client, settings, service.name, after_commit=lambda: relay_box[0].wake())
    await create_outbox_indexes(database.db, settings.outbox_retention_days)
    await create_idempotency_indexes(database.db)
    await service.create_indexes(database.db)

    consumer = Consumer(settings, service.name, database, service.handlers)
    broker = Broker(settings, on_connected=consumer.start)
    relay = OutboxRelay(database.db, broker, settings.outbox_poll_seconds)
    relay_box.append(relay)
    runtime = Runtime(settings, database, broker, relay, consumer)

    broker.start()
    relay.start()
    workers = [asyncio.create_task(_keep_running(w, runtime), name=w.__name__) for w in service.workers]
    try:
        yield runtime
    finally:
        await stop(*workers)
        await relay.close()
        await consumer.close()
        await broker.close()
        await client.close()


async def _keep_running(worker: Worker, runtime: Runtime[Any]) -> None:
    while True:
        try:
            await worker(runtime)
            return
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("worker %s failed; restarting in 1s", worker.__name__)
            await asyncio.sleep(1)


def create_app(service: Service, settings: ServiceSettings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with running(service, settings) as runtime:
            app.state.runtime = runtime
            yield

    app = FastAPI(title=service.title, description=service.description, version="1.0.0", lifespan=lifespan)
    app.state.settings = settings
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["*"],
            allow_headers=["Authorization", "Content-Type", "If-Match", "Idempotency-Key", "traceparent"],
            expose_headers=["ETag", "Location"],
        )
    _add_problem_handlers(app)

    @app.get("/healthz", tags=["health"], summary="The process is alive")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", tags=["health"], summary="The database and the broker are reachable",
             responses={503: {"description": "The database or the broker is unreachable"}})
    async def readyz(request: Request) -> JSONResponse:
        runtime: Runtime[Any] = request.app.state.runtime
        checks = {"database": "ok", "broker": "ok" if runtime.broker.is_connected else "unreachable"}
        try:
            await asyncio.wait_for(runtime.database.client.admin.command("ping"), 2)
        except Exception:
            checks["database"] = "unreachable"
        ready = all(v == "ok" for v in checks.values())
        return JSONResponse({"status": "ready" if ready else "not ready", **checks}, status_code=200 if ready else 503)

    for router in service.routers:
        app.include_router(router)
    document_problems(app)
    return app


def get_runtime(request: Request) -> Runtime[Any]:
    return request.app.state.runtime


RuntimeDep = Annotated[Runtime[Any], Depends(get_runtime)]


def _problem(status: int, title: str, detail: str, headers: Mapping[str, str] | None = None,
             **extra: object) -> JSONResponse:
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail, **extra}
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _add_problem_handlers(app: FastAPI) -> None:
    @app.exception_handler(GrantsError)
    async def grants_error(request: Request, error: GrantsError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if error.status == 401 else None
        if isinstance(error, Busy):
            headers = {"Retry-After": str(error.retry_after_seconds)}
        return JSONResponse(
            error.problem(instance=request.url.path), status_code=error.status, media_type=PROBLEM_JSON, headers=headers
        )

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, error: RequestValidationError) -> JSONResponse:
        errors = [
            {"location": list(e.get("loc", ())), "message": e.get("msg", ""), "type": e.get("type", "")}
            for e in error.errors()
        ]
        return _problem(422, "Invalid request", "the request did not match the expected shape", errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException) -> JSONResponse:
        # Keeps the headers the router sets, such as Allow on a 405.
        return _problem(error.status_code, str(error.detail), str(error.detail), headers=error.headers)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, error: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return _problem(500, "Internal error", "something went wrong on our side; it has been logged")
