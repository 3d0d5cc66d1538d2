"""Generate the AsyncAPI 3.0 document of the whole event catalogue from the contracts in events.py.

Two exchanges carry each event: the services' own (``grants.events``, with the personal data their
consumers need) and the integrators' (``grants.public``, the same events without the fields the
contracts mark personal). Integrators bind their own queue to the public one and read this document;
a test fails when `docs/asyncapi.yaml` no longer matches what this module generates (`make asyncapi`
rewrites it).
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


def _public_schema(schema: Any) -> Any:
    """A schema without the properties marked personal (at any depth), its references renamed to the
    public definitions."""
    if isinstance(schema, list):
        return [_public_schema(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    copied: dict[str, Any] = {}
    for key, value in schema.items():
        if key == "$ref" and isinstance(value, str):
            copied[key] = f"{value}Public"
        elif key == "properties" and isinstance(value, dict):
            copied[key] = {name: _public_schema(prop) for name, prop in value.items()
                           if not (isinstance(prop, dict) and prop.get("x-personal-data"))}  # fmt: skip
        elif key == "$defs" and isinstance(value, dict):
            copied[key] = {f"{name}Public": _public_schema(definition) for name, definition in value.items()}
        else:
            copied[key] = _public_schema(value)
    if "required" in copied and isinstance(schema.get("properties"), dict):
        copied["required"] = [name for name in copied["required"] if name in copied.get("properties", {})]
    return copied


def _amqp_channel(event_type: str, exchange: str, description: str, message: str) -> dict[str, Any]:
    return {
        "address": event_type,
        "title": f"{event_type} on {exchange}",
        "description": description,
        "messages": {message: {"$ref": f"#/components/messages/{message}"}},
        "bindings": {
            "amqp": {
                "is": "routingKey",
                "exchange": {"name": exchange, "type": "topic", "durable": True, "autoDelete": False, "vhost": "/"},
                "bindingVersion": "0.3.0",
            }
        },
    }


def build(exchange: str = "grants.events", public_exchange: str = "grants.public") -> dict[str, Any]:
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    schemas: dict[str, Any] = {}
    for event_type, contract in sorted(CONTRACTS.items()):
        name = _name(contract)
        schema = contract.model_json_schema(ref_template="#/components/schemas/{model}", mode="serialization")
        public = _public_schema(schema)
        schemas[contract.__name__] = _hoist_defs(schema, schemas)
        schemas[f"{contract.__name__}Public"] = _hoist_defs(public, schemas)
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
        messages[f"{name}Public"] = {
            **messages[name],
            "title": f"{contract.__name__} (public)",
            "description": f"Published by **{contract.owner}** for integrators, without its personal data. "
            f"Subject: `{contract.subject_field}`.",
            "headers": {"$ref": "#/components/schemas/CloudEventsHeadersPublic"},
            "payload": {"$ref": f"#/components/schemas/{contract.__name__}Public"},
        }
        channels[name] = _amqp_channel(event_type, exchange, f"Routing key `{event_type}` on the services' own "
                                       f"`{exchange}` topic exchange (not for integrators).", name)  # fmt: skip
        channels[f"{name}Public"] = _amqp_channel(event_type, public_exchange, f"Routing key `{event_type}` on the "
                                                  f"integrators' `{public_exchange}` topic exchange.", f"{name}Public")  # fmt: skip
        operations[f"integratorsReceive{contract.__name__}"] = {
            "action": "receive",
            "channel": {"$ref": f"#/channels/{name}Public"},
            "summary": f"an integrator's own queue receives {event_type} without its personal data",
            "messages": [{"$ref": f"#/channels/{name}Public/messages/{name}Public"}],
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
    schemas["CloudEventsHeadersPublic"] = _public_schema(HEADERS_SCHEMA)
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Grants platform events",
            "version": "1.0.0",
            "description": (
                "Every event the grants services exchange over RabbitMQ. Integrators bind their own queue to "
                f"the `{public_exchange}` topic exchange with the routing keys (event types) they want, as the "
                "integrators' broker user (which can read only there): it carries every event without the "
                f"fields marked personal (`x-personal-data`). `{exchange}` is the services' own and is not for "
                "integrators. Bodies are JSON; CloudEvents attributes travel in AMQP headers. Money is integer "
                "minor units plus an ISO 4217 currency. Or integrators subscribe to webhooks (notifications' "
                "/v1/webhooks): the same events without personal data, as CloudEvents JSON, signed as Standard "
                "Webhooks (webhook-id, webhook-timestamp, webhook-signature; whsec_ secrets). Generated from "
                "shared/grants_shared/events.py: do not edit by hand."
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


class _Dumper(yaml.SafeDumper):
    def ignore_aliases(self, data: Any) -> bool:
        return True  # the public messages share parts with the internal ones: written out, not as anchors


def render() -> str:
    return "# Generated by `grants asyncapi` from shared/grants_shared/events.py. Do not edit by hand.\n" + yaml.dump(
        build(), Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100
    )
