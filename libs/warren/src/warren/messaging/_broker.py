"""The broker connection of one service: robust connect, confirmed publishing, clean close.

Owns the AMQP connection (named after the service), the publishing channel (publisher confirms,
``mandatory``, a bounded window of confirms in flight), the PRODUCER spans and the publish
counter. Consuming is ``Consumer``'s job; it borrows channels from here.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any
from urllib.parse import unquote, urlsplit

import structlog
from aio_pika.abc import AbstractRobustChannel, AbstractRobustConnection, ExchangeType
from aiormq import spec
from aiormq.abc import AbstractChannel
from aiormq.exceptions import (
    AMQPConnectionError,
    AMQPError,
    ChannelAccessRefused,
    ChannelClosed,
    ChannelInvalidStateError,
    ChannelNotFoundEntity,
    ChannelPreconditionFailed,
    DeliveryError,
)
from aiormq.exceptions import PublishError as Returned
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import SpanKind

from warren import telemetry
from warren.contracts.event import Event
from warren.messaging import nodes
from warren.messaging._errors import (
    MessageTooLarge,
    PublishError,
    TopologyError,
    UnroutableError,
)
from warren.messaging._metrics import PublishMeter
from warren.messaging.message import OutgoingMessage, prepare
from warren.messaging.topology import (
    WorkQueue,
    declare,
    declare_events_exchange,
    events_arguments,
    events_exchange,
    foreign_exchanges,
    unrouted_exchange,
)
from warren.telemetry import attributes as attr
from warren.telemetry import metrics
from warren.telemetry.context import extract, inject

log = structlog.get_logger(__name__)

_CONNECTION_ERRORS = (AMQPConnectionError, ChannelInvalidStateError, ConnectionError)

MAX_MESSAGE_BYTES = 256 * 1024
"""The default bound on a message body, in step with ``max_message_size`` in rabbitmq.conf."""


class Broker:
    """One service's connection to RabbitMQ.

    ``await broker.connect()`` then ``await broker.publish(event)``; every publish is persistent,
    ``mandatory`` and confirmed. A domain event no queue is bound for is not returned: the events
    exchange's alternate exchange keeps it in ``<service>.unrouted``. ``mandatory`` still guards
    the platform's own copies (retries, dead letters, replays), whose exchanges have none: for
    them, as for an events exchange declared before alternate exchanges, a return raises
    :class:`UnroutableError`. Concurrent publishes share one channel and pipeline their
    confirms, at most ``max_in_flight`` at a time. The connection recovers by itself after a
    broker restart or a dropped connection; a publish caught by the drop is retried once the
    channel is back (at-least-once: consumers deduplicate by message id). ``url`` may list several
    nodes of a cluster (``amqp://u:p@h1:5672,h2:5672/vhost``): each reconnect tries the next one.
    While no node is reachable a publish fails after ``unavailable_timeout`` seconds with
    :class:`PublishError` instead of hanging; the outbox keeps the message for later.

    Every message carries the AMQP ``user_id`` of the connection's login, which RabbitMQ checks
    (a mismatch is refused), so consumers know for sure which broker user published it. A body
    over ``max_message_bytes`` is refused with :class:`MessageTooLarge` before it is sent.
    """

    def __init__(
        self,
        url: str,
        service: str,
        *,
        max_in_flight: int = 256,
        publish_timeout: float = 30.0,
        unavailable_timeout: float = 5.0,
        max_message_bytes: int = MAX_MESSAGE_BYTES,
    ) -> None:
        self.url = url
        self.service = service
        self.max_message_bytes = max_message_bytes
        self.user = unquote(urlsplit(url).username or "") or None
        """The broker login (None when the URL names none, e.g. certificate authentication)."""
        self.publish_timeout = publish_timeout
        self.unavailable_timeout = unavailable_timeout
        self._window = asyncio.Semaphore(max_in_flight)
        self._connection: AbstractRobustConnection | None = None
        self._channel: AbstractRobustChannel | None = None
        self._underlay: AbstractChannel | None = None
        self._tracer = telemetry.tracer("warren.messaging")
        self._span_names: dict[str, str] = {}
        self._meter = PublishMeter()
        self.reconnects = 0
        """How many times the connection was re-established since ``connect``."""

    async def connect(self, timeout: float = 30.0) -> None:
        """Open the connection and the publishing channel."""
        self._connection = await nodes.connect(self.url, name=self.service, timeout=timeout)
        self._connection.reconnect_callbacks.add(self._on_reconnect)
        self._channel = await self.channel(publisher_confirms=True)

    def _on_reconnect(self, *_: object) -> None:
        self.reconnects += 1
        log.info("broker connection re-established", service=self.service)

    async def channel(self, *, publisher_confirms: bool = False) -> AbstractRobustChannel:
        """A new channel on the connection (consumers take one each)."""
        channel = await self.connection.channel(
            publisher_confirms=publisher_confirms, on_return_raises=publisher_confirms
        )
        return channel

    @property
    def connection(self) -> AbstractRobustConnection:
        """The live connection; raises if ``connect`` has not been awaited."""
        if self._connection is None:
            raise RuntimeError("Broker.connect() has not been awaited")
        return self._connection

    async def declare(self, queues: list[WorkQueue] | tuple[WorkQueue, ...] = ()) -> None:
        """Declare this service's exchanges and ``queues`` (idempotent).

        Other services' event exchanges are only checked (a passive declare needs no configure
        permission); one that is missing is created when this user may, as in development.
        """
        for name in foreign_exchanges(self.service, queues):
            await self._ensure_exchange(name)
        # The events exchange first: a service may consume its own events (its queues bind to it).
        channel = await self.channel()
        try:
            kept = await declare_events_exchange(channel, self.channel, self.service)
        finally:
            with contextlib.suppress(AMQPError, ChannelInvalidStateError):
                await channel.close()  # already closed by the broker if the exchange differed
        channel = await self.channel()
        try:
            await declare(channel, self.service, queues)
        finally:
            await channel.close()
        if not kept:
            log.warning(
                "events exchange has no alternate exchange: unroutable events will back off "
                "in the outbox instead of being kept; add it by policy (docs/operations.md)",
                exchange=events_exchange(self.service),
                alternate_exchange=unrouted_exchange(self.service),
            )

    async def _ensure_exchange(self, name: str) -> None:
        probe = await self.channel()
        try:
            await probe.declare_exchange(name, ExchangeType.TOPIC, durable=True, passive=True)
            return
        except ChannelNotFoundEntity:
            pass
        finally:
            with contextlib.suppress(AMQPError, ChannelInvalidStateError):
                await probe.close()
        creator = await self.channel()
        try:
            # As its owner will declare it, alternate exchange included: a different argument
            # would make the owner's own declaration fail (PRECONDITION_FAILED).
            owner = name.removesuffix(".events")
            await creator.declare_exchange(
                name, ExchangeType.TOPIC, durable=True, arguments=events_arguments(owner)
            )
        except ChannelAccessRefused as refused:
            raise TopologyError(
                f"exchange {name!r} does not exist and {self.service!r} may not create it: "
                "apply the topology first (warren topology apply, or definitions.json)"
            ) from refused
        finally:
            with contextlib.suppress(AMQPError, ChannelInvalidStateError):
                await creator.close()

    async def publish(
        self,
        event: Event,
        *,
        correlation_id: str | None = None,
        event_id: str | None = None,
        headers: dict[str, Any] | None = None,
    ) -> str:
        """Publish ``event`` to its producer's exchange and wait for the confirm; its id."""
        message = prepare(
            event,
            service=self.service,
            correlation_id=correlation_id,
            event_id=event_id,
            headers=headers,
        )
        self._check_size(message)
        if telemetry.tracing_installed():
            # The headers carry the current context (``prepare`` put it there): the span can take
            # it from the context itself rather than parse it back out of the headers.
            await self._send_traced(message, None)
        else:
            await self._send_counted(message, message.headers)
        return message.message_id

    async def send(self, message: OutgoingMessage, *, bounded: bool = True) -> None:
        """Publish a prepared message, confirmed; raise :class:`PublishError` if not stored.

        ``bounded=False`` is for the platform's own copies of a message the broker already
        took (retries, dead letters, replays): they keep the body whatever its size.

        The PRODUCER span continues the trace context the message carries (the one ``prepare``
        recorded, possibly long ago in an outbox row), and the message leaves with the context
        of this span, so its consumer's span is this span's child. With no tracer provider
        installed there is no span to make: the message leaves with the context it carries.
        """
        if bounded:
            self._check_size(message)
        if telemetry.tracing_installed():
            await self._send_traced(message, extract(message.headers))
        else:
            await self._send_counted(message, message.headers)

    def _check_size(self, message: OutgoingMessage) -> None:
        if len(message.body) > self.max_message_bytes:
            self._meter.count_failure(message.exchange, message.type, "too_large")
            raise MessageTooLarge(
                f"message {message.message_id} ({message.type}) is {len(message.body)} bytes, "
                f"over MAX_MESSAGE_BYTES={self.max_message_bytes}; it was not sent"
            )

    async def _send_traced(self, message: OutgoingMessage, parent: Context | None) -> None:
        span = self._tracer.start_span(
            self._span_name(message.exchange), context=parent, kind=SpanKind.PRODUCER
        )
        if not span.is_recording():  # sampled out: no attributes, no timing, one header at most
            await self._send_counted(message, _unsampled_headers(message, parent, span))
            return
        span.set_attributes(_producer_attributes(message))
        with trace.use_span(span, end_on_exit=True):
            await self._send_counted(message, inject(dict(message.headers)))

    async def _send_counted(self, message: OutgoingMessage, headers: dict[str, Any]) -> None:
        try:
            async with self._window:
                await self._send_with_recovery(message, message.properties(headers, self.user))
        except PublishError as error:
            outcome = "unroutable" if isinstance(error, UnroutableError) else "failed"
            self._meter.count_failure(message.exchange, message.type, outcome)
            raise
        self._meter.count_ok(message.exchange, message.type)

    def _span_name(self, exchange: str) -> str:
        name = self._span_names.get(exchange)
        if name is None:
            name = self._span_names[exchange] = f"publish {exchange}"
        return name

    async def _send_with_recovery(
        self, message: OutgoingMessage, properties: spec.Basic.Properties
    ) -> None:
        """Publish on the channel below the robust one; after a drop, wait for it and again.

        aiormq's ``basic_publish`` is what ``aio_pika.Exchange.publish`` ends in; calling it
        directly skips building an ``aio_pika.Message`` and an exchange lookup per message. The
        robust channel still owns recovery: each attempt takes its current underlying channel.
        """
        deadline = None
        while True:
            try:
                channel = self._underlay
                if channel is None or channel.is_closed:
                    channel = await self._reopened_channel(message.message_id)
                await channel.basic_publish(
                    message.body,
                    exchange=message.exchange,
                    routing_key=message.routing_key,
                    properties=properties,
                    mandatory=True,
                    timeout=self.publish_timeout,
                )
                return
            except Returned as error:
                raise UnroutableError(
                    f"no queue bound to {message.exchange!r} for {message.routing_key!r}"
                ) from error
            except DeliveryError as error:
                raise PublishError(f"broker refused message {message.message_id}") from error
            except ChannelClosed as error:  # the broker closed the channel over this publish
                self._underlay = None  # the robust channel reopens; the next publish waits for it
                raise PublishError(_refusal(message, self.user, error)) from error
            except _CONNECTION_ERRORS as error:
                now = asyncio.get_running_loop().time()
                deadline = deadline or now + self.publish_timeout
                if now >= deadline:
                    raise PublishError(f"broker unreachable: {error!r}") from error
                log.warning("publish interrupted, retrying", message_id=message.message_id)
                await self._wait_ready(deadline - now)
            except TimeoutError as error:
                raise PublishError(f"no confirm within {self.publish_timeout} s") from error

    async def _reopened_channel(self, message_id: str) -> AbstractChannel:
        """The publishing channel's current underlying channel, once the connection is up."""
        await self._wait_connected(message_id)
        self._underlay = await self._publishing_channel().get_underlay_channel()
        return self._underlay

    def _publishing_channel(self) -> AbstractRobustChannel:
        if self._channel is None:
            raise RuntimeError("Broker.connect() has not been awaited")
        return self._channel

    async def _wait_connected(self, message_id: str) -> None:
        """Return at once while connected; else wait ``unavailable_timeout`` s, then fail fast."""
        connection = self.connection
        if connection.connected.is_set():
            return
        try:
            await asyncio.wait_for(connection.connected.wait(), self.unavailable_timeout)
        except TimeoutError:
            raise PublishError(
                f"broker unreachable: no connection to {nodes.redact(self.url)} for "
                f"{self.unavailable_timeout:g} s; message {message_id} was not published"
            ) from None

    async def _wait_ready(self, timeout: float) -> None:
        try:
            await asyncio.wait_for(self._publishing_channel().ready(), max(timeout, 0.1))
        except (TimeoutError, *_CONNECTION_ERRORS):
            await asyncio.sleep(0.2)

    async def measure_unrouted(self, timeout: float = 2.0) -> int | None:
        """Refresh ``warren_unrouted_messages``: how many events ``<service>.unrouted`` keeps.

        Called when ``/metrics`` is scraped (a passive declare on a short-lived channel: no
        management API, no permission beyond the service's own names). When the broker does not
        answer within ``timeout`` the gauge keeps its last value and None is returned.
        """
        queue = unrouted_exchange(self.service)
        try:
            async with asyncio.timeout(timeout):
                channel = await self.channel()
                try:
                    declared = await channel.declare_queue(queue, passive=True)
                finally:
                    with contextlib.suppress(AMQPError, ChannelInvalidStateError):
                        await channel.close()
        except (AMQPError, TimeoutError, RuntimeError, *_CONNECTION_ERRORS) as error:
            log.warning("unrouted events not counted", queue=queue, error=repr(error))
            return None
        depth = declared.declaration_result.message_count or 0
        metrics.UNROUTED_MESSAGES.labels(service=self.service, queue=queue).set(depth)
        return depth

    async def is_ready(self) -> bool:
        """True when the connection and the publishing channel are open."""
        return (
            self._connection is not None
            and self._connection.connected.is_set()  # False while a robust connection is down
            and self._channel is not None
            and not self._channel.is_closed
        )

    async def close(self) -> None:
        """Close the publishing channel and the connection (pending confirms are awaited first)."""
        if self._channel is not None:
            await self._channel.close()
            self._channel = None
            self._underlay = None
        if self._connection is not None:
            await self._connection.close()
            self._connection = None


def _refusal(message: OutgoingMessage, user: str | None, error: ChannelClosed) -> str:
    """What the broker's refusal of ``message`` means, in words an operator can act on."""
    where = f"{message.type} to {message.exchange!r} with routing key {message.routing_key!r}"
    if isinstance(error, ChannelPreconditionFailed):
        return (
            f"broker refused {where}: PRECONDITION_FAILED ({error}); the AMQP user_id {user!r} "
            "must be the connection's own login"
            if "user_id" in str(error)
            else f"broker refused {where}: PRECONDITION_FAILED ({error})"
        )
    if isinstance(error, ChannelAccessRefused):
        return (
            f"broker user {user!r} may not publish {where}: ACCESS_REFUSED ({error}); a service "
            "writes only its own exchange, with the routing keys of the events it owns"
        )
    return f"broker closed the channel while publishing {where}: {error}"


def _unsampled_headers(
    message: OutgoingMessage, parent: Context | None, span: trace.Span
) -> dict[str, Any]:
    """The headers a sampled-out message leaves with: enough for its consumers to drop theirs.

    When the message already carries its parent's unsampled context (``prepare`` recorded the
    current one; ``send`` extracted it), that says all a consumer needs: this trace, unsampled.
    Only a new root (no parent, or a sampled one) must inject its own unsampled context.
    """
    carried = trace.get_current_span(parent).get_span_context()
    if carried.is_valid and not carried.trace_flags.sampled:
        return message.headers
    return inject(dict(message.headers), trace.set_span_in_context(span))


def _producer_attributes(message: OutgoingMessage) -> dict[str, str | int]:
    return {
        attr.MESSAGING_SYSTEM: attr.SYSTEM_RABBITMQ,
        attr.MESSAGING_OPERATION_TYPE: "send",
        attr.MESSAGING_OPERATION_NAME: "publish",
        attr.MESSAGING_DESTINATION_NAME: message.exchange,
        attr.RABBITMQ_ROUTING_KEY: message.routing_key,
        attr.MESSAGING_MESSAGE_ID: message.message_id,
        attr.MESSAGING_CONVERSATION_ID: message.correlation_id or "",
        attr.MESSAGING_BODY_SIZE: len(message.body),
        attr.CLOUDEVENTS_TYPE: message.type,
    }
