"""AsyncAPI 3.0.0 documents generated from code: what a suite (or one service) sends and receives.

Owns the mapping of services, their work queues and the events' pydantic models to an AsyncAPI
document: one channel per event type on its producer's ``<service>.events`` exchange (address =
routing key), one channel per work queue, a message per event type (payload = the event's JSON
Schema), and each service's send and receive operations. It reads declarations only: nothing here
connects to a broker, and it never imports a suite's event modules (callers pass the events in).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from importlib import metadata
from typing import Any
from urllib.parse import urlsplit

from pydantic.json_schema import models_json_schema

from warren.contracts.envelope import CONTENT_TYPE, Envelope
from warren.contracts.event import Event
from warren.messaging import WorkQueue
from warren.messaging.topology import events_exchange
from warren.messaging.url import vhost_of
from warren.runtime._runtime import Runtime
from warren.runtime._service import Service

ASYNCAPI_VERSION = "3.0.0"
AMQP_BINDING = "0.3.0"
SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
_SCHEMAS = "#/components/schemas/"
_ENVELOPE = "CloudEventsEnvelope"


def event_schema(event: type[Event]) -> dict[str, Any]:
    """The JSON Schema of ``event``'s ``data``, identified by its type string.

    The same document ``contracts/schemas/<type>.json`` records: pydantic's validation schema with
    ``$schema``, ``$id`` and ``title`` (the type string, never the class name) and ``x-producer``.
    """
    schema = event.model_json_schema(mode="validation")
    return {
        **schema,
        "$schema": SCHEMA_DIALECT,
        "$id": event.type,
        "title": event.type,
        "x-producer": event.producer,
    }


def asyncapi_document(
    services: Sequence[Service[Any]],
    *,
    events: Iterable[type[Event]] = (),
    amqp_url: str | None = None,
    title: str = "Warren",
) -> dict[str, Any]:
    """The AsyncAPI 3.0.0 document of ``services`` (plus any extra ``events`` to document).

    ``amqp_url`` names the server and vhost (default: the first service's ``AMQP_URL``); its
    credentials never appear in the document. Pass one service for that service's own document.
    """
    queues = {service.name: Runtime(service).work_queues() for service in services}
    catalogue = _events(services, queues, events)
    url = amqp_url or (services[0].settings.amqp_url if services else "amqp://localhost/")
    vhost = vhost_of(url)
    payloads, shared = _payloads(catalogue)
    channels: dict[str, Any] = {e.type: _event_channel(e, vhost) for e in catalogue}
    operations: dict[str, Any] = {}
    for service in services:
        for event in service.publishes:
            operations[f"{service.name}.send.{event.type}"] = _send(service, event)
        for queue in queues[service.name]:
            channels[queue.name] = _queue_channel(queue, vhost)
            for event in queue.handlers:
                operations[f"{queue.name}.receive.{event.type}"] = _receive(queue, event)
    return {
        "asyncapi": ASYNCAPI_VERSION,
        "info": _info(title, services),
        "defaultContentType": CONTENT_TYPE,
        "servers": {"rabbitmq": _server(url, vhost)},
        "channels": channels,
        "operations": operations,
        "components": {
            "schemas": {**shared, _ENVELOPE: _envelope_schema()},
            "messages": {e.type: _message(e, payloads[e]) for e in catalogue},
            "messageTraits": {"cloudevents": _cloudevents_trait()},
        },
    }


def _events(
    services: Sequence[Service[Any]],
    queues: dict[str, list[WorkQueue]],
    extra: Iterable[type[Event]],
) -> list[type[Event]]:
    found: dict[str, type[Event]] = {e.type: e for e in extra}
    for service in services:
        found.update((e.type, e) for e in service.publishes)
        found.update((e.type, e) for q in queues[service.name] for e in q.handlers)
    return [found[name] for name in sorted(found)]


def _payloads(
    events: list[type[Event]],
) -> tuple[dict[type[Event], dict[str, Any]], dict[str, Any]]:
    """Each event's schema, its nested models shared under ``components.schemas``."""
    if not events:
        return {}, {}
    refs, definitions = models_json_schema(
        [(event, "validation") for event in events], ref_template=_SCHEMAS + "{model}"
    )
    shared: dict[str, Any] = definitions.get("$defs", {})
    names = {event: refs[(event, "validation")]["$ref"].removeprefix(_SCHEMAS) for event in events}
    payloads = {
        event: {**shared[name], "title": event.type, "x-producer": event.producer}
        for event, name in names.items()
    }
    still_used = _references([*payloads.values(), *shared.values()])
    for name in set(names.values()) - still_used:
        del shared[name]  # an event is inlined as its message's payload, not kept twice
    return payloads, shared


def _references(schemas: Iterable[Any]) -> set[str]:
    found: set[str] = set()
    stack = list(schemas)
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith(_SCHEMAS):
                found.add(ref.removeprefix(_SCHEMAS))
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return found


def _info(title: str, services: Sequence[Service[Any]]) -> dict[str, Any]:
    try:
        version = metadata.version("warren")
    except metadata.PackageNotFoundError:
        version = "0.0.0"
    names = ", ".join(service.name for service in services) or "no services"
    return {
        "title": title,
        "version": version,
        "description": (
            f"Events of {names} on RabbitMQ. Every message body is a CloudEvents 1.0 envelope "
            "(structured mode) whose `data` is the payload documented here."
        ),
    }


def _server(url: str, vhost: str) -> dict[str, Any]:
    parts = urlsplit(url)
    return {
        "host": f"{parts.hostname or 'localhost'}:{parts.port or 5672}",
        "protocol": "amqps" if parts.scheme == "amqps" else "amqp",
        "pathname": "/" + vhost.lstrip("/"),
        "description": f"RabbitMQ, vhost {vhost!r}",
    }


def _event_channel(event: type[Event], vhost: str) -> dict[str, Any]:
    exchange = events_exchange(event.producer)
    return {
        "address": event.type,
        "title": event.type,
        "description": f"{event.type} on the topic exchange {exchange}, routing key = type.",
        "servers": [{"$ref": "#/servers/rabbitmq"}],
        "messages": {event.type: {"$ref": f"#/components/messages/{event.type}"}},
        "bindings": {
            "amqp": {
                "is": "routingKey",
                "exchange": {
                    "name": exchange,
                    "type": "topic",
                    "durable": True,
                    "autoDelete": False,
                    "vhost": vhost,
                },
                "bindingVersion": AMQP_BINDING,
            }
        },
    }


def _queue_channel(queue: WorkQueue, vhost: str) -> dict[str, Any]:
    bound = [
        {"exchange": events_exchange(event.producer), "routingKey": event.type}
        for event in sorted(queue.handlers, key=lambda e: e.type)
    ]
    return {
        "address": queue.name,
        "title": queue.name,
        "description": (
            f"Work queue of {queue.service} (quorum); failures retry, then go to "
            f"{queue.dead_letter_queue}."
        ),
        "servers": [{"$ref": "#/servers/rabbitmq"}],
        "messages": {
            e.type: {"$ref": f"#/components/messages/{e.type}"}
            for e in sorted(queue.handlers, key=lambda e: e.type)
        },
        "bindings": {
            "amqp": {
                "is": "queue",
                "queue": {
                    "name": queue.name,
                    "durable": True,
                    "exclusive": False,
                    "autoDelete": False,
                    "vhost": vhost,
                },
                "x-bindings": bound,
                "x-dead-letter-queue": queue.dead_letter_queue,
                "bindingVersion": AMQP_BINDING,
            }
        },
    }


def _send(service: Service[Any], event: type[Event]) -> dict[str, Any]:
    return {
        "action": "send",
        "title": f"{service.name} publishes {event.type}",
        "summary": f"Published through {service.name}'s outbox with publisher confirms.",
        "channel": {"$ref": f"#/channels/{event.type}"},
        "messages": [{"$ref": f"#/channels/{event.type}/messages/{event.type}"}],
        "bindings": {
            "amqp": {
                "deliveryMode": 2,
                "mandatory": True,
                "timestamp": True,
                "bindingVersion": AMQP_BINDING,
            }
        },
    }


def _receive(queue: WorkQueue, event: type[Event]) -> dict[str, Any]:
    handler = queue.handlers[event]
    return {
        "action": "receive",
        "title": f"{queue.service} consumes {event.type}",
        "summary": f"Handled by {getattr(handler, '__name__', 'a handler')} from {queue.name}.",
        "channel": {"$ref": f"#/channels/{queue.name}"},
        "messages": [{"$ref": f"#/channels/{queue.name}/messages/{event.type}"}],
        "bindings": {"amqp": {"ack": True, "bindingVersion": AMQP_BINDING}},
    }


def _message(event: type[Event], payload: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": event.type,
        "title": event.type,
        "summary": (event.__doc__ or event.type).strip().splitlines()[0],
        "contentType": CONTENT_TYPE,
        "payload": payload,
        "correlationId": {
            "description": "The aggregate id (the CloudEvents subject; the order id in the saga).",
            "location": f"$message.payload#/{event.subject_field}",
        },
        "traits": [{"$ref": "#/components/messageTraits/cloudevents"}],
        "bindings": {"amqp": {"messageType": event.type, "bindingVersion": AMQP_BINDING}},
        "x-producer": event.producer,
    }


def _cloudevents_trait() -> dict[str, Any]:
    return {
        "description": (
            "CloudEvents 1.0, structured mode: the AMQP body is the JSON envelope "
            f"(see #/components/schemas/{_ENVELOPE}); its `data` is the message payload. AMQP "
            "properties: message_id = event id, type = event type, app_id = publishing service, "
            "timestamp, correlation_id = subject, delivery_mode persistent."
        ),
        "headers": {
            "type": "object",
            "description": "AMQP headers: W3C trace context (one business transaction, one trace).",
            "properties": {
                "traceparent": {"type": "string", "description": "W3C traceparent"},
                "tracestate": {"type": "string", "description": "W3C tracestate"},
            },
        },
        "externalDocs": {
            "description": "CloudEvents 1.0 AMQP binding",
            "url": "https://github.com/cloudevents/spec/blob/v1.0.2/cloudevents/bindings/amqp-protocol-binding.md",
        },
        "x-envelope": {"$ref": f"#/components/schemas/{_ENVELOPE}"},
    }


def _envelope_schema() -> dict[str, Any]:
    schema = Envelope.model_json_schema(mode="validation")
    return {**schema, "title": "CloudEvents 1.0 envelope (structured mode)"}
