"""A tap on a vhost's event exchanges: what was published, for tests to wait on and count.

Binds its own exclusive queue with ``#`` to the exchanges it is given, so it sees every event
without taking any from the services' queues. It never publishes and never acks for others.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

import aio_pika
from aio_pika.abc import AbstractIncomingMessage

from warren.contracts.envelope import Envelope, EnvelopeError, decode
from warren.messaging.topology import unrouted_exchange


@dataclass(frozen=True)
class Tapped:
    """One event seen on the wire: its envelope, AMQP properties and headers."""

    envelope: Envelope
    exchange: str
    routing_key: str
    correlation_id: str | None
    app_id: str | None
    headers: dict[str, object]


class EventTap:
    """``async with EventTap(url, ["orders.events", ...]) as tap: await tap.wait_for(...)``."""

    def __init__(self, amqp_url: str, exchanges: Sequence[str]) -> None:
        self.amqp_url = amqp_url
        self.exchanges = tuple(exchanges)
        self.seen: list[Tapped] = []
        self._changed = asyncio.Condition()
        self._connection: aio_pika.abc.AbstractConnection | None = None

    async def __aenter__(self) -> EventTap:
        self._connection = await aio_pika.connect(self.amqp_url)
        channel = await self._connection.channel()
        queue = await channel.declare_queue(exclusive=True, auto_delete=True)
        for name in self.exchanges:
            # Declared as its service declares it (alternate exchange included), or the service
            # starting after the tap would be refused its own exchange (PRECONDITION_FAILED).
            owner = name.removesuffix(".events")
            exchange = await channel.declare_exchange(
                name,
                "topic",
                durable=True,
                arguments={"alternate-exchange": unrouted_exchange(owner)},
            )
            await queue.bind(exchange, "#")
        await queue.consume(self._keep, no_ack=True)
        return self

    async def __aexit__(self, *_: object) -> None:
        if self._connection is not None:
            await self._connection.close()

    async def _keep(self, message: AbstractIncomingMessage) -> None:
        try:
            envelope = decode(message.body)
        except EnvelopeError:
            return  # not an event; the consumers' DLQs deal with it
        self.seen.append(
            Tapped(
                envelope,
                message.exchange or "",
                message.routing_key or "",
                message.correlation_id,
                message.app_id,
                dict(message.headers or {}),
            )
        )
        async with self._changed:
            self._changed.notify_all()

    def about(self, subject: str) -> list[Tapped]:
        """Every event seen whose CloudEvents subject is ``subject`` (an order id), in order."""
        return [t for t in self.seen if t.envelope.subject == subject]

    def types_about(self, subject: str) -> list[str]:
        """The event types seen about ``subject``, in arrival order."""
        return [t.envelope.type for t in self.about(subject)]

    async def wait_for(self, event_type: str, *, subject: str, timeout: float = 10.0) -> Tapped:
        """The first ``event_type`` about ``subject``; TimeoutError after ``timeout`` s."""

        def found() -> Tapped | None:
            return next((t for t in self.about(subject) if t.envelope.type == event_type), None)

        try:
            async with asyncio.timeout(timeout), self._changed:
                while (hit := found()) is None:
                    await self._changed.wait()
                return hit
        except TimeoutError:
            seen = self.types_about(subject)
            raise TimeoutError(
                f"no {event_type} about {subject} within {timeout:.0f} s; seen: {seen}"
            ) from None
