"""An outgoing message, ready for the wire: built from an event, stored by the outbox, sent as AMQP.

Owns the mapping of DESIGN.md's AMQP properties (message id, type, app id, timestamp, correlation
id, persistent delivery, CloudEvents content type). It does not talk to the broker.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aio_pika import DeliveryMode
from aio_pika.abc import AbstractIncomingMessage
from aiormq import spec

from warren.contracts.envelope import CONTENT_TYPE, serialize
from warren.contracts.event import Event
from warren.messaging.topology import events_exchange
from warren.telemetry.context import inject

_PERSISTENT = int(DeliveryMode.PERSISTENT)


@dataclass(frozen=True, slots=True)
class OutgoingMessage:
    """Everything needed to publish one message, with no reference to a live connection."""

    exchange: str
    routing_key: str
    body: bytes
    message_id: str
    type: str
    app_id: str
    timestamp: datetime
    correlation_id: str | None = None
    headers: dict[str, Any] = field(default_factory=dict)
    content_type: str = CONTENT_TYPE

    @classmethod
    def readdressed(
        cls,
        message: AbstractIncomingMessage,
        exchange: str,
        routing_key: str,
        headers: dict[str, Any],
    ) -> OutgoingMessage:
        """A received message's body and properties, sent on to ``exchange`` with ``headers``.

        How DLQ replays forward a message without touching its body.
        """
        return cls.forwarded(message.properties, message.body, exchange, routing_key, headers)

    @classmethod
    def forwarded(
        cls,
        properties: spec.Basic.Properties,
        body: bytes,
        exchange: str,
        routing_key: str,
        headers: dict[str, Any],
    ) -> OutgoingMessage:
        """A delivery's body and wire properties, sent on to ``exchange`` with ``headers``.

        The consumer's retries and dead letters: the body is forwarded untouched.
        """
        return cls(
            exchange=exchange,
            routing_key=routing_key,
            body=body,
            message_id=properties.message_id or "",
            type=properties.message_type or "",
            app_id=properties.app_id or "",
            timestamp=properties.timestamp or datetime.now(UTC),
            correlation_id=properties.correlation_id,
            headers=headers,
            content_type=properties.content_type or CONTENT_TYPE,
        )

    def properties(
        self, headers: dict[str, Any] | None = None, user_id: str | None = None
    ) -> spec.Basic.Properties:
        """The AMQP properties as the wire takes them (with ``headers`` instead, if given).

        ``user_id`` is the publishing connection's login, which the broker validates.

        What ``Broker.send`` publishes with: building them directly costs a tenth of an
        ``aio_pika.Message``, which would build the same object again on every publish.
        """
        return spec.Basic.Properties(
            content_type=self.content_type,
            delivery_mode=_PERSISTENT,
            message_id=self.message_id,
            message_type=self.type,
            app_id=self.app_id,
            timestamp=self.timestamp,
            correlation_id=self.correlation_id,
            headers=self.headers if headers is None else headers,
            user_id=user_id,
        )


def source_of(service: str) -> str:
    """The CloudEvents ``source`` of events published by ``service``."""
    return f"/warren/{service}"


def prepare(
    event: Event,
    *,
    service: str,
    correlation_id: str | None = None,
    event_id: str | None = None,
    headers: dict[str, Any] | None = None,
) -> OutgoingMessage:
    """Wrap ``event`` in its envelope, addressed to its producer's exchange by its type.

    The envelope's ``source`` is always the event's owner (``event.producer``), whose exchange
    it goes to; ``app_id`` says which service sent it, and the broker-validated ``user_id``
    proves it (a service that does not own the event is refused by the broker in production).

    The current trace context is recorded in the headers, so a message stored now and sent later
    (the outbox) continues the trace of the code that caused it.
    """
    now = datetime.now(UTC)
    event_id = event_id or str(uuid.uuid4())
    return OutgoingMessage(
        exchange=events_exchange(event.producer),
        routing_key=event.type,
        body=serialize(event, source=source_of(event.producer), event_id=event_id, time=now),
        message_id=event_id,
        type=event.type,
        app_id=service,
        timestamp=now,
        correlation_id=correlation_id or event.subject,
        headers=inject(dict(headers or {})),
    )
