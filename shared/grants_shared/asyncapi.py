"""Generate the AsyncAPI 3.0 document of the whole event catalogue from the contracts in events.py.

Integrators bind their own queue to the events exchange and read this document; a test fails when
`docs/asyncapi.yaml` no longer matches what this module generates (`make asyncapi` rewrites it).
"""

from typing import Any

import yaml

from grants_shared.events import CONTRACTS, EventData

HEADERS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "CloudEvents 1.0 attributes in AMQP binary mode, plus W3C trace context.",
    "required": [
        "cloudEvents_specversion", "cloudEvents_id", "cloudEvents_source",
        "cloudEvents_type", "cloudEvents_time", "cloudEvents_subject",
    ],
    "properties": {
        "cloudEvents_specversion": {"type": "string", "const": "1.0"},
        "cloudEvents_id": {"type": "string", "description": "Unique event id; also the AMQP message_id. Deduplicate on it."},
        "cloudEvents_source": {"type": "string", "description": "The publishing service, e.g. /grants/applications"},
        "cloudEvents_type": {"type": "string", "description": "The event type; also the routing key"},
        "cloudEvents_time": {"type": "string", "format": "date-time"},
        "cloudEvents_subject": {"type": "string", "description": "Id of the aggregate the event is about"},
        "traceparent": {"type": "string", "description": "W3C trace context"},
        "cloudEvents_actor": {
            "type": "string",
            "description": "Extension: the subject id of the person whose request caused the event (absent when "
            "a worker or another event did). Personal data, for consumers inside the platform only.",
            "x-personal-data": True,
        },
    },
}


def _name(contract: type[EventData]) -> str:
    return contract.__name__[0].lower() + contract.__name__[1:]


def _hoist_defs(schema: dict[str, Any], schemas: dict[str, Any]) -> dict[str, Any]:
    for name, definition in schema.pop("$defs", {}).items():
        schemas[name] = definition
    return schema


def build(exchange: str = "grants.events") -> dict[str, Any]:
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    schemas: dict[str, Any] = {}
    for event_type, contract in sorted(CONTRACTS.items()):
        name = _name(contract)
        schema = contract.model_json_schema(ref_template="#/components/schemas/{model}", mode="serialization")
        schemas[contract.__name__] = _hoist_defs(schema, schemas)
        consumers = ", ".join(contract.consumers) or "integrators and audit only"
        description = (contract.__doc__ or "").strip()
        messages[name] = {
            "name": event_type,
            "title": contract.__name__,
            "summary": description or event_type,
            "description": f"Published by **{contract.owner}**; consumed by {consumers}. Subject: `{contract.subject_field}`.",
            "contentType": "application/json",
            "headers": {"$ref": "#/components/schemas/CloudEventsHeaders"},
            "payload": {"$ref": f"#/components/schemas/{contract.__name__}"},
            "bindings": {"amqp": {"messageType": event_type, "bindingVersion": "0.3.0"}},
        }
        channels[name] = {
            "address": event_type,
            "title": event_type,
            "description": f"Routing key `{event_type}` on the `{exchange}` topic exchange.",
            "messages": {name: {"$ref": f"#/components/messages/{name}"}},
            "bindings": {
                "amqp": {
                    "is": "routingKey",
                    "exchange": {"name": exchange, "type": "topic", "durable": True, "autoDelete": False, "vhost": "/"},
                    "bindingVersion": "0.3.0",
                }
            },
        }
        channel_ref = {"$ref": f"#/channels/{name}"}
        operations[f"{contract.owner}Sends{contract.__name__}"] = {
            "action": "send",
            "channel": channel_ref,
            "summary": f"{contract.owner} publishes {event_type}",
            "messages": [{"$ref": f"#/channels/{name}/messages/{name}"}],
            "bindings": {"amqp": {"deliveryMode": 2, "bindingVersion": "0.3.0"}},
        }
        for consumer in contract.consumers:
            operations[f"{consumer}Receives{contract.__name__}"] = {
                "action": "receive",
                "channel": channel_ref,
                "summary": f"{consumer} consumes {event_type}",
                "messages": [{"$ref": f"#/channels/{name}/messages/{name}"}],
            }
    schemas["CloudEventsHeaders"] = HEADERS_SCHEMA
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Grants platform events",
            "version": "1.0.0",
            "description": (
                "Every event the grants services exchange over RabbitMQ. Bind your own queue to the "
                f"`{exchange}` topic exchange with the routing keys (event types) you want. Bodies are JSON; "
                "CloudEvents attributes travel in AMQP headers. Money is integer minor units plus an ISO 4217 "
                "currency. Generated from shared/grants_shared/events.py: do not edit by hand."
            ),
            "license": {"name": "MIT"},
        },
        "defaultContentType": "application/json",
        "servers": {
            "local": {
                "host": "localhost:5672",
                "protocol": "amqp",
                "protocolVersion": "0-9-1",
                "description": "RabbitMQ of a local or docker-compose stack (default vhost).",
            }
        },
        "channels": channels,
        "operations": operations,
        "components": {"schemas": dict(sorted(schemas.items())), "messages": messages},
    }


def render() -> str:
    return "# Generated by `grants asyncapi` from shared/grants_shared/events.py. Do not edit by hand.\n" + yaml.safe_dump(
        build(), sort_keys=False, allow_unicode=True, width=100
    )
