"""CloudEvents 1.0 in AMQP binary mode: the body is the event's data as JSON, attributes in headers."""

import json
from datetime import datetime

from aio_pika import DeliveryMode, Message
from aio_pika.abc import AbstractIncomingMessage
from pydantic import ValidationError

from grants_shared.errors import MalformedEvent
from grants_shared.events import CONTRACTS, Event

SPECVERSION = "1.0"
_REQUIRED = ("specversion", "id", "source", "type", "time", "subject")


def to_message(event: Event, public: bool = False) -> Message:
    """The event as an AMQP message; ``public``: for the integrators' exchange, without the fields the
    contract marks personal and without the actor (a person's id)."""
    headers: dict[str, str] = {
        "cloudEvents_specversion": SPECVERSION,
        "cloudEvents_id": event.id,
        "cloudEvents_source": event.source,
        "cloudEvents_type": event.type,
        "cloudEvents_time": event.time.isoformat(),
        "cloudEvents_subject": event.subject,
    }
    if event.traceparent:
        headers["traceparent"] = event.traceparent
    if event.actor and not public:
        headers["cloudEvents_actor"] = event.actor
    body = json.dumps(event.data.without_personal_data()) if public else event.data.model_dump_json()
    return Message(
        body=body.encode(),
        headers=headers,
        content_type="application/json",
        message_id=event.id,
        delivery_mode=DeliveryMode.PERSISTENT,
    )


def from_message(message: AbstractIncomingMessage) -> Event:
    """Read an event back, raising :class:`MalformedEvent` with a reason a person can act on."""
    headers = message.headers or {}
    attributes: dict[str, str] = {}
    for name in _REQUIRED:
        value = headers.get(f"cloudEvents_{name}")
        if isinstance(value, bytes):
            value = value.decode(errors="replace")
        if not isinstance(value, str) or not value:
            raise MalformedEvent(f"missing CloudEvents attribute cloudEvents_{name}")
        attributes[name] = value
    if attributes["specversion"] != SPECVERSION:
        raise MalformedEvent(f"unsupported CloudEvents specversion {attributes['specversion']!r}")
    if message.content_type not in (None, "application/json"):
        raise MalformedEvent(f"unsupported content type {message.content_type!r}")
    contract = CONTRACTS.get(attributes["type"])
    if contract is None:
        raise MalformedEvent(f"unknown event type {attributes['type']!r}")
    try:
        data = contract.model_validate(json.loads(message.body))
    except (ValueError, ValidationError) as error:
        raise MalformedEvent(f"body does not match {contract.type}: {_first_line(error)}") from None
    try:
        time = datetime.fromisoformat(attributes["time"])
    except ValueError:
        raise MalformedEvent(f"cloudEvents_time is not an RFC 3339 time: {attributes['time']!r}") from None
    traceparent = headers.get("traceparent")
    actor = headers.get("cloudEvents_actor")
    return Event(
        id=attributes["id"],
        type=attributes["type"],
        source=attributes["source"],
        time=time,
        subject=attributes["subject"],
        traceparent=traceparent if isinstance(traceparent, str) else None,
        actor=actor if isinstance(actor, str) else None,
        data=data,
    )


def _first_line(error: Exception) -> str:
    text = str(error)
    return " ".join(text.split("\n")[:3])[:500]
