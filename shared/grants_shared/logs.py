"""Logs as JSON lines: time, level, service, logger, message, the trace id, and the ids the line is
about (the application, grant, payment or event being worked on), so one application's journey can be
followed across services by its id or its trace.

The ids come from context, not from each call: the consumer notes the event it handles, a route the
ids in its path, a worker the item it works. Messages themselves carry ids and error types only,
never personal data (names, contact or bank details, application text); nothing here logs a request
or event body.
"""

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from pythonjsonlogger.json import JsonFormatter

from grants_shared.tracing import current_traceparent, trace_id_of

#: The service a task belongs to (several run in one process in the tests) and what it is working on.
SERVICE: ContextVar[str | None] = ContextVar("grants_service", default=None)
ABOUT: ContextVar[dict[str, str]] = ContextVar("grants_log_about", default={})  # noqa: B039 (never mutated)


@contextmanager
def about(**ids: str | None) -> Iterator[None]:
    """Lines logged inside the block name these ids (``application_id=...``, ``event_id=...``)."""
    token = ABOUT.set({**ABOUT.get(), **{k: v for k, v in ids.items() if v}})
    try:
        yield
    finally:
        ABOUT.reset(token)


def note(**ids: str | None) -> None:
    """Like :func:`about`, for the rest of the current task (a request, an event's handling)."""
    ABOUT.set({**ABOUT.get(), **{k: v for k, v in ids.items() if v}})


class GrantsJsonFormatter(JsonFormatter):
    def __init__(self, service: str) -> None:
        super().__init__(reserved_attrs=[*_RESERVED, "color_message"])
        self.service = service

    def add_fields(self, log_data: dict[str, Any], record: logging.LogRecord, message_dict: dict[str, Any]) -> None:
        log_data["time"] = datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")
        log_data["level"] = record.levelname
        log_data["service"] = SERVICE.get() or self.service
        log_data["logger"] = record.name
        log_data["message"] = record.getMessage()
        trace_id = trace_id_of(current_traceparent())
        if trace_id:
            log_data["trace_id"] = trace_id
        log_data.update(ABOUT.get())
        super().add_fields(log_data, record, message_dict)
        log_data.pop("msg", None)


#: The LogRecord attributes that are not extra fields (the library's default list).
_RESERVED = [
    "args", "asctime", "created", "exc_info", "exc_text", "filename", "funcName", "levelname", "levelno",
    "lineno", "module", "msecs", "message", "msg", "name", "pathname", "process", "processName",
    "relativeCreated", "stack_info", "thread", "threadName", "taskName",
]  # fmt: skip


class _Stderr(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is when a line is logged (a test runner's capture included)."""

    @property  # type: ignore[override]
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        pass


def configure_logging(service: str, level: str = "INFO", json_lines: bool = True) -> None:
    """One handler on the root logger, writing to stderr; uvicorn's own loggers pass through it.
    Idempotent: a process that builds several apps (the tests) configures once."""
    root = logging.getLogger()
    root.setLevel(level.upper())
    if any(getattr(handler, "grants", False) for handler in root.handlers):
        return
    handler = _Stderr()
    handler.grants = True  # type: ignore[attr-defined]
    handler.setFormatter(GrantsJsonFormatter(service) if json_lines else logging.Formatter(
        "%(asctime)s %(levelname)s %(name)s: %(message)s"))  # fmt: skip
    root.addHandler(handler)
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers = []
        logging.getLogger(name).propagate = True
    # The request line is logged by the service itself, with the route's template rather than the
    # path and query string as sent (a query could hold a search for a person's name).
    logging.getLogger("uvicorn.access").disabled = True
