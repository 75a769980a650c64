"""Topology as code: the names and arguments of every exchange and queue, and their declaration.

Owns naming (``<service>.events``, ``<service>.<purpose>``, ``<queue>.dlq``, delay queues,
``<service>.unrouted``) and idempotent declaration on a channel. It does not publish or consume.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import aio_pika
from aio_pika.abc import AbstractChannel, ExchangeType
from aiormq.exceptions import ChannelPreconditionFailed

from warren.contracts.event import Event

if TYPE_CHECKING:
    from warren.messaging._delivery import Delivery

Handler = Callable[[Any, "Delivery"], Awaitable[object]]
"""A consuming callable: ``async def (event, delivery) -> None``; raising means failure."""


def events_exchange(service: str) -> str:
    """The topic exchange ``service`` publishes its events to."""
    return f"{service}.events"


def unrouted_exchange(service: str) -> str:
    """The fanout alternate exchange of ``service``'s events exchange, and its queue's name.

    A domain event no queue is bound for yet goes there instead of back to the publisher, and
    waits in the durable queue of the same name until an operator replays it (``warren
    unrouted``). Publishing a new event type before its consumer exists is not an error.
    """
    return f"{service}.unrouted"


UNROUTED_MAX_LENGTH = 100_000
"""How many unrouted events a service's ``<service>.unrouted`` queue keeps at most.

Past it the broker refuses (nacks) new ones rather than drop old ones: each stays in its outbox
and its aggregate backs off, so nothing is lost — and the ``WarrenUnroutedEvents`` alert has
fired long before."""

UNROUTED_MAX_BYTES = 256 * 1024 * 1024
"""The same bound in bytes of message bodies, whichever limit comes first."""


def events_arguments(service: str) -> dict[str, Any]:
    """Arguments of ``<service>.events``: its alternate exchange, ``<service>.unrouted``."""
    return {"alternate-exchange": unrouted_exchange(service)}


def unrouted_arguments() -> dict[str, Any]:
    """Arguments of ``<service>.unrouted``: replicated, bounded, refusing rather than dropping."""
    return {
        "x-queue-type": "quorum",
        "x-max-length": UNROUTED_MAX_LENGTH,
        "x-max-length-bytes": UNROUTED_MAX_BYTES,
        "x-overflow": "reject-publish",
    }


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
        if self.name == unrouted_exchange(self.service):
            raise ValueError(f"{self.name!r} is the service's unrouted queue: pick another purpose")
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
    The events exchange is ``declare_events_exchange``'s job: it may already exist in an older
    form, which must not fail the rest.
    """
    retry = await _exchange(channel, retry_exchange(service), ExchangeType.DIRECT)
    dlx = await _exchange(channel, dead_letter_exchange(service), ExchangeType.DIRECT)
    unrouted = await _exchange(channel, unrouted_exchange(service), ExchangeType.FANOUT)
    kept = await channel.declare_queue(
        unrouted_exchange(service), durable=True, arguments=unrouted_arguments()
    )
    await kept.bind(unrouted, routing_key="")
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


async def declare_events_exchange(
    channel: AbstractChannel, reopen: Callable[[], Awaitable[AbstractChannel]], service: str
) -> bool:
    """Declare ``<service>.events`` with its alternate exchange; False if it exists without one.

    An exchange declared before alternate exchanges existed cannot be redeclared with one (the
    broker answers PRECONDITION_FAILED and closes ``channel``), and deleting it would drop every
    other service's bindings. So it is kept as it is, checked on a channel from ``reopen``: its
    unroutable events then come back to the publisher (``mandatory``) and back off in the outbox
    until an operator adds the alternate exchange by policy (see docs/operations.md).
    """
    name = events_exchange(service)
    try:
        await _exchange(channel, name, ExchangeType.TOPIC, events_arguments(service))
        return True
    except ChannelPreconditionFailed as error:
        if "alternate-exchange" not in str(error):
            raise  # another difference (its type, say) is a real topology error
        probe = await reopen()
        try:
            await probe.declare_exchange(name, ExchangeType.TOPIC, durable=True, passive=True)
        finally:
            await probe.close()
        return False


async def _exchange(
    channel: AbstractChannel,
    name: str,
    kind: ExchangeType,
    arguments: dict[str, Any] | None = None,
) -> aio_pika.abc.AbstractExchange:
    return await channel.declare_exchange(name, kind, durable=True, arguments=arguments)
