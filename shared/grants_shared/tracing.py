"""Traces across HTTP and AMQP (OpenTelemetry, W3C trace context).

One trace follows a change wherever it goes: the HTTP request's span (continued from the caller's
``traceparent`` if it sent one) is the parent of the events its transaction emits; the relay publishes
each event in a producer span of its own, whose context the message carries as the CloudEvents
distributed-tracing extension (``traceparent``); a consumer handles it in a consumer span that
continues it, and the events its handler emits continue it again, in the next service. Work queued for
a background worker (a payment, an email) keeps the context it was queued in, and the worker's span
continues it. Spans are exported over OTLP/HTTP when ``otlp_traces_endpoint`` is set; otherwise they
are made (so contexts continue) and dropped.

Each service has a tracer provider of its own rather than the process-wide one, so the tests' several
services in one process are each named in their spans.
"""

from collections.abc import Iterator
from contextlib import contextmanager

from opentelemetry import context, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import Span, SpanKind, Tracer
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

PROPAGATOR = TraceContextTextMapPropagator()


def tracer_for(service: str, endpoint: str | None, *processors: SpanProcessor) -> tuple[Tracer, TracerProvider]:
    provider = TracerProvider(resource=Resource.create({"service.name": service, "service.namespace": "grants"}))
    if endpoint:
        # Imported here: only a deployment that exports traces needs the exporter's HTTP client.
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint, timeout=5)))
    for processor in processors:
        provider.add_span_processor(processor)
    return provider.get_tracer("grants"), provider


def current_traceparent() -> str | None:
    """The ``traceparent`` of the span now current (None outside any span)."""
    carrier: dict[str, str] = {}
    PROPAGATOR.inject(carrier)
    return carrier.get("traceparent")


def context_of(traceparent: str | None) -> context.Context:
    """A context whose parent is ``traceparent`` (an empty one, for a new trace, if it is None or invalid)."""
    return PROPAGATOR.extract({"traceparent": traceparent} if traceparent else {}, context=context.Context())


@contextmanager
def span(
    tracer: Tracer, name: str, kind: SpanKind, parent: str | None, attributes: dict[str, str] | None = None
) -> Iterator[Span]:
    """A span continuing ``parent`` (a traceparent), current for the block."""
    with tracer.start_as_current_span(name, context=context_of(parent), kind=kind, attributes=attributes) as current:
        yield current


def trace_id_of(traceparent: str | None) -> str | None:
    """The trace id a ``traceparent`` belongs to (for logs)."""
    if not traceparent:
        return None
    parts = traceparent.split("-")
    return parts[1] if len(parts) == 4 else None


__all__ = ["SpanKind", "Tracer", "TracerProvider", "current_traceparent", "span", "trace", "tracer_for"]
