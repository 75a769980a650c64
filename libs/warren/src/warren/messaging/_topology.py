"""Topology as code: the names and arguments of every exchange and queue, and their declaration.

Owns naming (``<service>.events``, ``<service>.<purpose>``, ``<queue>.dlq``, delay queues) and
idempotent declaration on a channel. It does not publish or consume.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import aio_pika
from aio_pika.abc import AbstractChannel, ExchangeType

from warren.contracts.event import Event

if TYPE_CHECKING:
    from warren.messaging._delivery import Delivery

Handler = Callable[[Any, "Delivery"], Awaitable[object]]
"""A consuming callable: ``async def (event, delivery) -> None``; raising means failure."""


def events_exchange(service: str) -> str:
    """The topic exchange ``service`` publishes its events to."""
    return f"{service}.events"


def retry_exchange(service: str) -> str:
    """The direct exchange that feeds ``service``'s delay queues and routes retries back."""
    return f"{service}.retry"


def dead_letter_exchange(service: str) -> str:
    """The direct exchange that routes ``service``'s failed messages to their DLQs."""
    return f"{service}.dlx"


@dataclass(frozen=True)
class RetryPolicy:
    """Delays (seconds) before each retry; ``len(delays) + 1`` attempts in all."""

    delays: tuple[float, ...] = (1.0, 5.0, 30.0)

    def __post_init__(self) -> None:
        if any(delay <= 0 for delay in self.delays):
            raise ValueError("retry delays must be positive")

    @property
    def max_attempts(self) -> int:
        """First delivery plus one per delay."""
        return len(self.delays) + 1

    def delay_after(self, attempt: int) -> float | None:
        """The delay before the next try after failed ``attempt`` (1-based); None when spent."""
        return self.delays[attempt - 1] if attempt <= len(self.delays) else None


@dataclass(frozen=True)
class WorkQueue:
    """A durable quorum queue ``<service>.<purpose>`` and the table of what it handles.

    The handler table is the routing: the queue is bound, on each event's producer exchange, to
    the event's type; a message of any other type goes to the DLQ.
    """

    service: str
    purpose: str
    handlers: Mapping[type[Event], Handler]
    prefetch: int = 32
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    delivery_limit: int = 20

    def __post_init__(self) -> None:
        if not 1 <= self.prefetch <= 65535:
            raise ValueError(f"prefetch must be within 1..65535, got {self.prefetch}")
        if not self.handlers:
            raise ValueError(f"work queue {self.name} has no handlers")

    @property
    def name(self) -> str:
        """``<service>.<purpose>``."""
        return f"{self.service}.{self.purpose}"

    @property
    def dead_letter_queue(self) -> str:
        """``<queue>.dlq``."""
        return f"{self.name}.dlq"

    def delay_queue(self, delay: float) -> str:
        """The delay queue holding messages for ``delay`` seconds before their retry."""
        return f"{self.name}.retry.{round(delay * 1000)}ms"

    @property
    def event_types(self) -> dict[str, type[Event]]:
        """Type string -> event class, for the events this queue handles."""
        return {event.type: event for event in self.handlers}


def quorum_arguments(queue: WorkQueue) -> dict[str, Any]:
    """Arguments of the work queue: quorum, delivery limit, at-least-once dead-lettering."""
    return {
        "x-queue-type": "quorum",
        "x-delivery-limit": queue.delivery_limit,
        "x-dead-letter-exchange": dead_letter_exchange(queue.service),
        "x-dead-letter-routing-key": queue.dead_letter_queue,
        "x-dead-letter-strategy": "at-least-once",
        "x-overflow": "reject-publish",
    }


def delay_arguments(queue: WorkQueue, delay: float) -> dict[str, Any]:
    """Arguments of a delay queue: hold for ``delay``, then dead-letter back to the work queue."""
    return {
        "x-queue-type": "quorum",
        "x-message-ttl": round(delay * 1000),
        "x-dead-letter-exchange": retry_exchange(queue.service),
        "x-dead-letter-routing-key": queue.name,
        "x-dead-letter-strategy": "at-least-once",
        "x-overflow": "reject-publish",
    }


def foreign_exchanges(service: str, queues: Iterable[WorkQueue]) -> list[str]:
    """The other services' event exchanges that ``service``'s queues bind to."""
    names = {events_exchange(e.producer) for q in queues for e in q.handlers}
    return sorted(names - {events_exchange(service)})


async def declare(channel: AbstractChannel, service: str, queues: Iterable[WorkQueue]) -> None:
    """Declare ``service``'s exchanges and each queue with its bindings, DLQ and delay queues.

    Idempotent: declaring again with the same code changes nothing. Other services' exchanges
    must exist already (see ``Broker.declare``); they are bound to by name, never configured.
    """
    retry = await _exchange(channel, retry_exchange(service), ExchangeType.DIRECT)
    dlx = await _exchange(channel, dead_letter_exchange(service), ExchangeType.DIRECT)
    await _exchange(channel, events_exchange(service), ExchangeType.TOPIC)
    for queue in queues:
        work = await channel.declare_queue(
            queue.name, durable=True, arguments=quorum_arguments(queue)
        )
        await work.bind(retry, routing_key=queue.name)
        for event in queue.handlers:
            await work.bind(events_exchange(event.producer), routing_key=event.type)
        dead = await channel.declare_queue(
            queue.dead_letter_queue, durable=True, arguments={"x-queue-type": "quorum"}
        )
        await dead.bind(dlx, routing_key=queue.dead_letter_queue)
        for delay in sorted(set(queue.retry.delays)):
            name = queue.delay_queue(delay)
            held = await channel.declare_queue(
                name, durable=True, arguments=delay_arguments(queue, delay)
            )
            await held.bind(retry, routing_key=name)


async def _exchange(
    channel: AbstractChannel, name: str, kind: ExchangeType
) -> aio_pika.abc.AbstractExchange:
    return await channel.declare_exchange(name, kind, durable=True)
