"""The app factory every service uses, so each has the same shape and lifecycle.

A service describes itself with a :class:`Service` (its name, routes, event handlers, indexes and
background workers); :func:`create_app` builds the FastAPI app whose lifespan opens the database,
creates indexes, connects to RabbitMQ (declaring the topology and starting the consumer), starts
the outbox relay and the workers, and closes all of them on shutdown.
"""

import asyncio
import logging
from importlib.resources import files
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Annotated, Any, Generic, TypeVar

from aio_pika.abc import AbstractRobustConnection
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase
from starlette.exceptions import HTTPException as StarletteHTTPException

from grants_shared.audit import audit_router, create_audit_indexes
from grants_shared.broker import Broker
from grants_shared.consumer import Consumer, Handler
from grants_shared.errors import PROBLEM_JSON, Busy, GrantsError
from grants_shared.hardening import DOCS_PREFIX, Hardening
from grants_shared.idempotency import create_idempotency_indexes
from grants_shared.logs import SERVICE, configure_logging, note
from grants_shared.metrics import ORIGIN, WORK_ITEMS, CommandCounter, RequestTelemetry
from grants_shared.openapi import document_problems
from grants_shared.outbox import OutboxRelay, create_outbox_indexes
from grants_shared.privacy import PersonalData, create_privacy_indexes, privacy_router
from grants_shared.settings import ServiceSettings
from grants_shared.tasks import stop
from grants_shared.tracing import Tracer, TracerProvider, tracer_for
from grants_shared.unit_of_work import Database
from grants_shared.worker import LeasedQueue

log = logging.getLogger(__name__)

S = TypeVar("S", bound=ServiceSettings)
Tracing = tuple[Tracer, TracerProvider]


@dataclass
class Runtime(Generic[S]):
    """What a running service holds: its settings, its database, the broker, the relay."""

    settings: S
    database: Database[S]
    broker: Broker
    relay: OutboxRelay
    consumer: Consumer
    tracer: Tracer

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
    #: The queues those workers take from, counted by status in ``/metrics``.
    queues: Sequence[LeasedQueue] = field(default_factory=tuple)
    #: What it holds about people, for copies and erasure (``grants_shared.privacy``).
    personal_data: Sequence[PersonalData] = field(default_factory=tuple)


@asynccontextmanager
async def running(service: Service, settings: S, tracing: Tracing | None = None) -> AsyncIterator[Runtime[S]]:
    """Start everything a service needs; used by the app's lifespan and by tests that need no HTTP."""
    SERVICE.set(service.name)  # every task started below logs as this service
    tracer, provider = tracing or tracer_for(service.name, settings.otlp_traces_endpoint)
    client: AsyncMongoClient = AsyncMongoClient(
        settings.mongodb_url, tz_aware=True, connect=False, event_listeners=[CommandCounter(service.name)],
        maxPoolSize=settings.mongodb_max_pool_size,
    )

    async def start_consuming(connection: AbstractRobustConnection) -> None:
        await consumer.start(connection)  # the consumer below, once the broker answers

    broker = Broker(settings, on_connected=start_consuming)
    relay = OutboxRelay(client[settings.database(service.name)], broker, service.name, tracer,
                        settings.outbox_poll_seconds)  # fmt: skip
    # Committed events go straight to this process's relay, already leased to it.
    database = Database(client, settings, service.name, after_commit=relay.hand_over, lease_owner=relay.owner,
                        tracer=tracer)  # fmt: skip
    consumer = Consumer(settings, service.name, database, service.handlers, tracer)
    await create_outbox_indexes(database.db, settings.audit_retention_days)
    await create_audit_indexes(database.db)
    await create_privacy_indexes(database.db, service.personal_data)
    await create_idempotency_indexes(database.db)
    await service.create_indexes(database.db)
    runtime = Runtime(settings, database, broker, relay, consumer, tracer)

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
        if tracing is None:
            provider.shutdown()  # sends what is still batched


async def _keep_running(worker: Worker, runtime: Runtime[Any]) -> None:
    ORIGIN.set(f"worker {worker.__name__}")
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
    configure_logging(service.name, settings.log_level, settings.log_json)
    tracing = tracer_for(service.name, settings.otlp_traces_endpoint)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with running(service, settings, tracing) as runtime:
            app.state.runtime = runtime
            yield
        tracing[1].shutdown()

    app = FastAPI(title=service.title, description=service.description, version="1.0.0", lifespan=lifespan,
                  dependencies=[Depends(_note_path_ids)], docs_url=None, redoc_url=None)  # fmt: skip
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
    app.add_middleware(Hardening, max_body_bytes=settings.max_request_bytes)
    app.add_middleware(RequestTelemetry, service=service.name, tracer=tracing[0])
    _add_documentation(app)

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

    @app.get("/metrics", tags=["health"], summary="Prometheus metrics", response_class=PlainTextResponse)
    async def metrics(request: Request) -> Response:
        runtime: Runtime[Any] = request.app.state.runtime
        await runtime.relay.measure_backlog()
        for queue in service.queues:
            for status, count in (await queue.count_by_status(runtime.database)).items():
                WORK_ITEMS.labels(service.name, queue.name, status).set(count)
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    for router in service.routers:
        app.include_router(router)
    app.include_router(audit_router(service.name))
    app.include_router(privacy_router(service.name, service.personal_data))
    document_problems(app)
    return app


def _add_documentation(app: FastAPI) -> None:
    """Swagger UI served by the service itself (no CDN: the assets are fastapi-offline's bundle)."""
    assets = f"{DOCS_PREFIX}/assets"
    app.mount(assets, StaticFiles(directory=str(files("fastapi_offline") / "static")), name="documentation-assets")

    @app.get(DOCS_PREFIX, include_in_schema=False)
    async def documentation() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json", title=f"{app.title}: API",
            swagger_js_url=f"{assets}/swagger-ui-bundle.js", swagger_css_url=f"{assets}/swagger-ui.css",
            swagger_favicon_url=f"{assets}/favicon.png", oauth2_redirect_url=None,
        )  # fmt: skip


async def _note_path_ids(request: Request) -> None:
    """What the request is about (``application_id`` ...), for every line it logs; its route, for the
    round trips it causes."""
    note(**{name: value for name, value in request.path_params.items() if name.endswith("_id")})
    ORIGIN.set(f"{request.method} {getattr(request.scope.get('route'), 'path', 'unrouted')}")


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
