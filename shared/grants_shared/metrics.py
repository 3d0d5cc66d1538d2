"""What a service counts, for Prometheus (``GET /metrics``) and for the benchmarks.

Database round trips are counted by command (PyMongo's command monitoring): they are what the
embedded database, and a busy MongoDB, spend most of their time on, and WriteConflicts (aborted
transactions) are counted with them. Every series carries the service's name, so several services
in one process (the tests) keep their figures apart.
"""

import logging
import time
from contextvars import ContextVar
from typing import Any

from prometheus_client import Counter, Gauge, Histogram
from pymongo import monitoring
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from grants_shared.logs import SERVICE
from grants_shared.tracing import SpanKind, Tracer, span

log = logging.getLogger("grants.requests")

DATABASE_COMMANDS = Counter(
    "grants_database_commands",
    "Database commands sent (round trips), by command and by what caused them: a route "
    "('POST /v1/applications/{application_id}/submit'), an event ('event grants.application.submitted.v1'), "
    "a worker, the outbox relay, or start-up",
    ["service", "command", "origin"],
)
#: What the current task is doing, for counting its round trips: set by the request, the consumer, the
#: relay and each worker.
ORIGIN: ContextVar[str] = ContextVar("grants_origin", default="start-up")
DATABASE_FAILURES = Counter(
    "grants_database_command_failures",
    "Database commands that failed, by command, error (WriteConflict: a transaction met another) and what "
    "caused them (as grants_database_commands' origin), so that a hot document's writers can be found",
    ["service", "command", "error", "origin"],
)
HTTP_REQUESTS = Histogram(
    "grants_http_request_duration_seconds",
    "HTTP requests by route and status, and how long they took",
    ["service", "method", "route", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
EVENTS_PUBLISHED = Counter("grants_events_published", "Events published from the outbox", ["service", "type"])
EVENTS_CONSUMED = Counter(
    "grants_events_consumed",
    "Events received, by what became of them: handled, duplicate (already in the inbox), retried, "
    "waiting (for what they depend on), dead_lettered",
    ["service", "type", "outcome"],
)
OUTBOX_PENDING = Gauge("grants_outbox_pending", "Outbox entries not yet published", ["service"])
OUTBOX_OLDEST_SECONDS = Gauge(
    "grants_outbox_oldest_pending_seconds", "Age of the oldest unpublished outbox entry", ["service"]
)
WORK_ITEMS = Gauge(
    "grants_work_items", "Background work (payments, emails, webhook deliveries) by status", ["service", "queue", "status"]
)


class CommandCounter(monitoring.CommandListener):
    """Counts every command a client sends, for one service."""

    def __init__(self, service: str) -> None:
        self.service = service

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        DATABASE_COMMANDS.labels(self.service, event.command_name, ORIGIN.get()).inc()

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        failure: Any = event.failure or {}
        DATABASE_FAILURES.labels(
            self.service, event.command_name, str(failure.get("codeName", "unknown")), ORIGIN.get()
        ).inc()


class RequestTelemetry:
    """ASGI middleware: each request in a server span (continuing the caller's ``traceparent``),
    counted by its route's template (``/v1/grants/{grant_id}``, so ids do not make a series each) and
    status, and logged as one line with the template, not the path and query as sent."""

    def __init__(self, app: ASGIApp, service: str, tracer: Tracer) -> None:
        self.app = app
        self.service = service
        self.tracer = tracer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope.get("headers", ())}

        async def send_and_note(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        SERVICE.set(self.service)
        ORIGIN.set(f"{scope['method']} unrouted")  # until the route is known (grants_shared.service)
        with span(self.tracer, scope["method"], SpanKind.SERVER, headers.get("traceparent")) as current:
            try:
                await self.app(scope, receive, send_and_note)
            finally:
                template = getattr(scope.get("route"), "path", None) or "unmatched"
                seconds = time.perf_counter() - started
                HTTP_REQUESTS.labels(self.service, scope["method"], template, str(status)).observe(seconds)
                current.update_name(f"{scope['method']} {template}")
                current.set_attributes({"http.request.method": scope["method"], "http.route": template,
                                        "http.response.status_code": status})  # fmt: skip
                if template not in QUIET_ROUTES:
                    log.info("%s %s %d %.1fms", scope["method"], template, status, seconds * 1000,
                             extra={"route": template, "status": status, "duration_ms": round(seconds * 1000, 1)})

#: Probes and scrapes, many a minute: counted but not logged.
QUIET_ROUTES = frozenset({"/healthz", "/readyz", "/metrics"})
