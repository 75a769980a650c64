"""The one consumer loop: decode, validate, dispatch, then ack, retry or dead-letter.

Owns everything that happens between a delivery and its ack: envelope and schema validation at
the edge, the CONSUMER span, the handler call, retries through delay queues, DLQ moves with the
``x-error-*`` headers, the consume metrics, and graceful shutdown. Handlers never see any of it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from datetime import UTC, datetime
from typing import Any, cast

import structlog
from aio_pika.abc import AbstractRobustChannel
from aiormq.abc import DeliveredMessage
from aiormq.exceptions import AMQPError, ChannelInvalidStateError, ChannelNotFoundEntity
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode
from pydantic import ValidationError

from warren import telemetry
from warren.contracts.envelope import CONTENT_TYPE, Envelope, EnvelopeError, decode, decode_as
from warren.contracts.event import Event
from warren.contracts.violation import describe
from warren.messaging._broker import Broker
from warren.messaging._delivery import Delivery
from warren.messaging._errors import (
    MalformedMessage,
    MessageTooLarge,
    PermanentError,
    SchemaViolation,
    UnexpectedEventType,
    UntrustedSource,
)
from warren.messaging._metrics import ConsumeMeter
from warren.messaging.definitions import user_prefix
from warren.messaging.edge import (
    ATTEMPTS,
    ORIGINAL_EXCHANGE,
    ORIGINAL_ROUTING_KEY,
    ORIGINAL_USER,
    Edge,
    is_platform_header,
)
from warren.messaging.message import OutgoingMessage
from warren.messaging.topology import WorkQueue, dead_letter_exchange, retry_exchange
from warren.telemetry import attributes as attr
from warren.telemetry import metrics
from warren.telemetry.context import extract, inject

log = structlog.get_logger(__name__)

MAX_ERROR_MESSAGE = 1000


class Consumer:
    """Consumes one work queue with its handler table, at most ``queue.prefetch`` at a time.

    A message is acked only after its handler returned. A handler that raises
    :class:`PermanentError` (or a message that cannot be decoded) sends the message to the DLQ at
    once; any other exception schedules a retry through the queue's delay queues until the retry
    policy is spent, then dead-letters it. Retry and DLQ copies are published with confirms before
    the original is acked, so nothing is lost between the two.

    It subscribes on the channel below aio-pika's robust one (aiormq's): a delivery costs one
    task and no ``aio_pika.IncomingMessage``. The robust channel still reconnects and restores
    the queue and the prefetch; this consumer subscribes again after each reopen, and again
    once its queue is back after the broker cancelled the subscription.

    Before any handler runs, every delivery passes the message edge (see ``Edge``): a message
    larger than the broker's ``max_message_bytes`` is dead-lettered as ``MessageTooLarge``, one
    that did not come the way its type's owner publishes it as ``UntrustedSource`` (counted in
    ``warren_messages_untrusted_total`` and logged as a security event). ``verify_publisher``
    also requires the broker-validated ``user_id`` to be the owner's broker user; by default it
    is on whenever the broker login is not ``guest`` (per-service users, as in production).
    """

    def __init__(
        self,
        broker: Broker,
        queue: WorkQueue,
        *,
        drain_timeout: float = 30.0,
        verify_publisher: bool | None = None,
        log_handled: bool = False,
    ) -> None:
        self.broker = broker
        self.log_handled = log_handled  # one INFO line per handled message (development)
        self.queue = queue
        self.drain_timeout = drain_timeout
        login = broker.user or ""
        if verify_publisher is None:
            verify_publisher = login not in ("", "guest")
        self.verify_publisher = verify_publisher
        prefix = user_prefix(login, broker.service) if verify_publisher else None
        self._edge = Edge(queue, users_prefix=prefix)
        self._max_bytes = broker.max_message_bytes
        self._types = queue.event_types
        self._channel: AbstractRobustChannel | None = None
        self._tag: str | None = None
        self._stopping = False
        self._was_consuming = True
        self._tasks: set[asyncio.Task[Any]] = set()
        self._resubscribing: asyncio.Task[None] | None = None
        self._tracer = telemetry.tracer("warren.messaging")
        self._span_name = f"process {queue.name}"
        self._meters = {name: ConsumeMeter.of(queue.name, name) for name in self._types}
        self._other = ConsumeMeter.of(queue.name, metrics.OTHER)
        self._is_debug = False

    @property
    def in_flight(self) -> int:
        """Messages being handled right now."""
        return len(self._tasks)

    async def is_consuming(self, timeout: float = 0.5) -> bool:
        """True while the broker delivers to this consumer (for ``/readyz``); never raises.

        False while the channel is down, and after the broker cancelled the subscription (its
        queue was deleted, or the node holding it was lost). The consumer subscribes again by
        itself once the channel or the queue is back; this turns True again then.
        """
        if self._channel is None or self._tag is None or self._stopping:
            return False
        try:
            channel = await asyncio.wait_for(self._channel.get_underlay_channel(), timeout)
            consuming = _subscribed(channel, self._tag)
        except Exception:  # any failure means "not consuming"; the probe must not crash
            consuming = False
        if consuming != self._was_consuming:
            self._was_consuming = consuming
            report = log.info if consuming else log.warning
            report("consumer subscribed" if consuming else "consumer not subscribed",
                   queue=self.queue.name)  # fmt: skip
        return consuming

    async def start(self) -> None:
        """Open a channel with the queue's prefetch and start consuming (queue must exist)."""
        self._stopping = False
        self._is_debug = logging.getLogger(__name__).isEnabledFor(logging.DEBUG)
        self._channel = await self.broker.channel()
        await self._channel.set_qos(prefetch_count=self.queue.prefetch)
        await self._channel.declare_queue(self.queue.name, passive=True)  # clear error if absent
        self._tag = f"{self.queue.name}.{uuid.uuid4().hex}"
        self._channel.reopen_callbacks.add(self._on_reopen)
        await self._subscribe()

    async def _subscribe(self) -> None:
        """Consume on the robust channel's current underlying channel (idempotent)."""
        if self._channel is None or self._tag is None or self._stopping:
            return
        channel = await self._channel.get_underlay_channel()
        if _subscribed(channel, self._tag):
            return
        channel.on_consumer_cancel_callbacks.add(self._on_cancelled_by_broker)
        await channel.basic_consume(self.queue.name, self._on_delivery, consumer_tag=self._tag)

    async def _on_reopen(self, *_: object) -> None:
        """The robust channel is back (new connection or channel): subscribe on it again."""
        try:
            await self._subscribe()
        except (AMQPError, ChannelInvalidStateError, ConnectionError) as error:
            log.warning("could not subscribe again", queue=self.queue.name, error=repr(error))
            self._resubscribe_later()

    def _on_cancelled_by_broker(self, frame: Any) -> None:
        if frame.consumer_tag == self._tag and not self._stopping:
            log.warning("subscription cancelled by the broker", queue=self.queue.name)
            self._resubscribe_later()

    def _resubscribe_later(self) -> None:
        if self._resubscribing is None or self._resubscribing.done():
            self._resubscribing = asyncio.create_task(self._resubscribe())

    async def _resubscribe(self, first_delay: float = 0.5, max_delay: float = 5.0) -> None:
        """Until the queue exists again (checked on a channel of its own), then consume it."""
        delay = first_delay
        while not self._stopping:
            await asyncio.sleep(delay)
            delay = min(delay * 2, max_delay)
            try:
                if await self._queue_exists():
                    await self._subscribe()
                    log.info("subscribed again", queue=self.queue.name)
                    return
            except (AMQPError, ChannelInvalidStateError, ConnectionError, TimeoutError) as error:
                log.warning("queue not consumable yet", queue=self.queue.name, error=repr(error))

    async def _queue_exists(self) -> bool:
        probe = await self.broker.connection.channel()  # a 404 closes this one, not ours
        try:
            await probe.declare_queue(self.queue.name, passive=True)
            return True
        except ChannelNotFoundEntity:
            return False
        finally:
            with contextlib.suppress(AMQPError, ChannelInvalidStateError):
                await probe.close()

    async def stop(self) -> None:
        """Stop taking messages, let in-flight handlers finish (bounded), then close the channel.

        Handlers still running after ``drain_timeout`` are cancelled; their messages, never acked,
        go back to the queue when the channel closes, as do prefetched ones not yet started.
        """
        self._stopping = True
        if self._resubscribing is not None:
            self._resubscribing.cancel()
        if self._channel is not None and self._tag is not None:
            try:
                channel = await asyncio.wait_for(self._channel.get_underlay_channel(), 5.0)
                if _subscribed(channel, self._tag):
                    await channel.basic_cancel(self._tag)
            except (AMQPError, ChannelInvalidStateError, ConnectionError, TimeoutError):
                log.warning("consumer cancel failed; closing the channel", queue=self.queue.name)
        if self._tasks:
            _, pending = await asyncio.wait(set(self._tasks), timeout=self.drain_timeout)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        if self._channel is not None:
            self._channel.reopen_callbacks.discard(self._on_reopen)
            if not self._channel.is_closed:
                await self._channel.close()
        self._channel = self._tag = None

    async def _on_delivery(self, message: DeliveredMessage) -> None:
        if self._stopping:
            return  # not acked: requeued when the channel closes
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            await self._process(message)
        except (AMQPError, ChannelInvalidStateError, ConnectionError) as error:
            # The channel went away mid-flight; the broker redelivers the unacked message.
            log.warning("delivery interrupted", queue=self.queue.name, error=repr(error))
        except Exception:
            # Retrying or dead-lettering it ourselves failed (e.g. the DLQ copy was refused):
            # reject it so the queue's own dead-lettering moves it to the DLQ (with x-death).
            log.exception(
                "could not retry or dead-letter a message; rejecting it to the DLQ",
                queue=self.queue.name,
                message_id=message.header.properties.message_id,
            )
            with contextlib.suppress(AMQPError, ChannelInvalidStateError, ConnectionError):
                await message.channel.basic_reject(_tag_of(message), requeue=False)
        finally:
            if task is not None:
                self._tasks.discard(task)

    async def _process(self, message: DeliveredMessage) -> None:
        properties = message.header.properties
        # Only the platform's own retry exchange may carry an attempt count; from a publisher a
        # message is always a first attempt, whatever its headers say.
        retried = self._edge.is_retried(message.exchange, message.routing_key)
        attempt = _attempts(properties.headers) + 1 if retried else 1
        if not telemetry.tracing_installed():
            # No spans to make; a trace context the message carries still reaches the events
            # the handler publishes (and the logs), as it would through a no-op span.
            headers = properties.headers
            carried = headers is not None and "traceparent" in headers
            token = otel_context.attach(extract(headers)) if carried else None
            try:
                await self._handle(message, attempt, trace.INVALID_SPAN)
            finally:
                if token is not None:
                    otel_context.detach(token)
            return
        span = self._tracer.start_span(
            self._span_name,
            context=extract(properties.headers),  # parent: the PRODUCER span
            kind=SpanKind.CONSUMER,
        )
        if span.is_recording():  # a sampled-out span keeps nothing: no attributes to build
            span.set_attributes(self._consumer_attributes(message, attempt))
        # Current even when sampled out: what the handler publishes carries the unsampled trace.
        with trace.use_span(span, end_on_exit=True):
            await self._handle(message, attempt, span)

    async def _handle(self, message: DeliveredMessage, attempt: int, span: trace.Span) -> None:
        try:
            event, delivery = self._admit(message, attempt)
        except UntrustedSource as error:
            self._report_untrusted(message, error)
            meter = self._meters.get(message.header.properties.message_type or "") or self._other
            await self._dead_letter(message, error, attempt, span, meter)
            return
        except PermanentError as error:
            meter = self._meters.get(message.header.properties.message_type or "") or self._other
            await self._dead_letter(message, error, attempt, span, meter)
            return
        bound = structlog.contextvars.bind_contextvars(
            event_id=delivery.message_id, event_type=delivery.event_type
        )
        try:
            await self._dispatch(message, event, delivery, span)
        finally:
            structlog.contextvars.reset_contextvars(**bound)

    async def _dispatch(
        self,
        message: DeliveredMessage,
        event: Event,
        delivery: Delivery,
        span: trace.Span,
    ) -> None:
        handler = self.queue.handlers[type(event)]
        meter = self._meters[delivery.event_type]
        started = time.perf_counter()
        try:
            await handler(event, delivery)
        except Exception as error:
            meter.duration.observe(time.perf_counter() - started)
            await self._fail(message, error, delivery.attempt, span, meter)
            return
        elapsed = time.perf_counter() - started
        meter.duration.observe(elapsed)
        # The ack is queued, not awaited: were the connection lost before it is written, the
        # broker redelivers the message, which the handler's inbox recognises.
        await message.channel.basic_ack(_tag_of(message), wait=False)
        meter.acked.inc()
        span.set_attribute(attr.WARREN_OUTCOME, "ack")
        if self.log_handled or self._is_debug:
            (log.info if self.log_handled else log.debug)(
                "message handled",
                queue=self.queue.name,
                event_type=delivery.event_type,
                event_id=delivery.message_id,
                correlation_id=delivery.correlation_id,
                attempt=delivery.attempt,
                duration_ms=round(elapsed * 1000, 3),
            )

    async def _fail(
        self,
        message: DeliveredMessage,
        error: Exception,
        attempt: int,
        span: trace.Span,
        meter: ConsumeMeter,
    ) -> None:
        """Dead-letter a permanent failure or a spent retry policy; else schedule a retry."""
        span.record_exception(error)
        delay = None if isinstance(error, PermanentError) else self.queue.retry.delay_after(attempt)
        if delay is None:
            await self._dead_letter(message, error, attempt, span, meter)
        else:
            await self._retry(message, error, attempt, delay, span, meter)

    def _admit(self, message: DeliveredMessage, attempt: int) -> tuple[Event, Delivery]:
        """Size, then decoding, then the edge: what may reach a handler, or why it may not."""
        size = len(message.body)
        if size > self._max_bytes:
            raise MessageTooLarge(f"{size} bytes, over the limit of {self._max_bytes} bytes")
        event, delivery = self._decode(message, attempt)
        properties = message.header.properties
        self._edge.admit(
            exchange=message.exchange or "",
            routing_key=message.routing_key or "",
            amqp_type=properties.message_type or "",
            envelope_type=delivery.event_type,
            source=delivery.source,
            user_id=properties.user_id or "",
            headers=delivery.headers,
        )
        return event, delivery

    def _report_untrusted(self, message: DeliveredMessage, error: UntrustedSource) -> None:
        properties = message.header.properties
        claimed = properties.message_type or ""
        metrics.MESSAGES_UNTRUSTED.labels(
            self.queue.name, claimed if claimed in self._types else metrics.OTHER, error.reason
        ).inc()
        log.warning(
            "untrusted message refused",
            security=True,
            queue=self.queue.name,
            reason=error.reason,
            mismatch=_truncate(str(error)),
            exchange=message.exchange,
            routing_key=message.routing_key,
            event_type=claimed,
            message_id=properties.message_id,
            user_id=properties.user_id,
            app_id=properties.app_id,
        )

    def _decode(self, message: DeliveredMessage, attempt: int) -> tuple[Event, Delivery]:
        properties = message.header.properties
        content_type = (properties.content_type or CONTENT_TYPE).split(";", 1)[0].strip().lower()
        if content_type != CONTENT_TYPE:
            raise MalformedMessage(f"content type {content_type!r} is not {CONTENT_TYPE!r}")
        event_class = self._types.get(properties.message_type or "")
        decoded = None if event_class is None else decode_as(message.body, event_class)
        envelope, event = decoded or self._decode_strictly(message.body)
        delivery = Delivery(
            message_id=envelope.id,
            event_type=envelope.type,
            source=envelope.source,
            time=envelope.time,
            correlation_id=properties.correlation_id,
            queue=self.queue.name,
            attempt=attempt,
            redelivered=bool(message.redelivered),
            headers=properties.headers or {},
        )
        return event, delivery

    def _decode_strictly(self, body: bytes) -> tuple[Envelope, Event]:
        """Envelope first, then the event: slower than ``decode_as``, but says what is wrong."""
        try:
            envelope = decode(body)
        except EnvelopeError as error:
            raise MalformedMessage(str(error)) from None
        event_class = self._types.get(envelope.type)
        if event_class is None:
            raise UnexpectedEventType(
                f"queue {self.queue.name} has no handler for {envelope.type!r}"
            )
        try:
            return envelope, event_class.model_validate(envelope.data)
        except ValidationError as error:
            raise SchemaViolation(f"{envelope.type}: {describe(error)}") from None

    async def _retry(
        self,
        message: DeliveredMessage,
        error: Exception,
        attempt: int,
        delay: float,
        span: trace.Span,
        meter: ConsumeMeter,
    ) -> None:
        error_type = type(error).__name__
        headers = self._carry_origin(message) | {
            ATTEMPTS: attempt,
            "x-last-error-type": error_type,
            "x-last-error-message": _truncate(str(error)),
        }
        await self._move(
            message, retry_exchange(self.queue.service), self.queue.delay_queue(delay), headers
        )
        meter.count_retry(error_type)
        span.add_event(
            attr.EVENT_RETRY_SCHEDULED,
            {
                attr.WARREN_ATTEMPT: attempt,
                attr.WARREN_RETRY_DELAY: delay,
                attr.WARREN_ERROR_TYPE: error_type,
            },
        )
        span.set_attribute(attr.WARREN_OUTCOME, "retry")
        log.warning(
            "handler failed, retry scheduled",
            queue=self.queue.name,
            attempt=attempt,
            delay_s=delay,
            error=repr(error),
        )

    async def _move(
        self, message: DeliveredMessage, exchange: str, routing_key: str, headers: dict[str, Any]
    ) -> None:
        """The one forwarder of retry and DLQ copies: publish the copy (confirmed, mandatory),
        then ack the original; a crash in between duplicates, which the inbox absorbs."""
        copy = OutgoingMessage.forwarded(
            message.header.properties, message.body, exchange, routing_key, headers
        )
        await self.broker.send(copy, bounded=False)  # the broker took it already: keep the body
        await message.channel.basic_ack(_tag_of(message))

    async def _dead_letter(
        self,
        message: DeliveredMessage,
        error: Exception,
        attempt: int,
        span: trace.Span,
        meter: ConsumeMeter,
    ) -> None:
        error_type = type(error).__name__
        headers = self._carry_origin(message) | {
            "x-error-type": error_type,
            "x-error-message": _truncate(str(error)) or error_type,
            ATTEMPTS: attempt,
            "x-failed-at": datetime.now(UTC).isoformat(),
            "x-queue": self.queue.name,
        }
        await self._move(
            message, dead_letter_exchange(self.queue.service), self.queue.dead_letter_queue, headers
        )
        meter.count_dead_letter(error_type)
        span.add_event(
            attr.EVENT_DEAD_LETTERED,
            {
                attr.WARREN_ATTEMPT: attempt,
                attr.WARREN_ERROR_TYPE: error_type,
                attr.WARREN_DEAD_LETTER_QUEUE: self.queue.dead_letter_queue,
            },
        )
        span.set_attribute(attr.WARREN_OUTCOME, "dead_letter")
        span.set_status(Status(StatusCode.ERROR, error_type))
        log.error(
            "message dead-lettered",
            queue=self.queue.name,
            attempt=attempt,
            error_type=error_type,
            error=_truncate(str(error)),
        )

    def _carry_origin(self, message: DeliveredMessage) -> dict[str, Any]:
        """Headers of ``message`` plus where it first came from (kept across retry hops).

        On a first arrival the origin is recorded from the delivery itself (exchange, routing
        key, broker-validated user) and any platform header the publisher set is dropped: only
        copies the platform made, back through its retry exchange, keep their record.
        """
        properties = message.header.properties
        headers = dict(properties.headers or {})
        headers.pop("x-death", None)  # the broker's own bookkeeping grows with every hop
        # The copy is published from the CONSUMER span (the publish takes its context from these
        # headers), so the trace reads: publish -> process (failed) -> publish retry -> process.
        headers.pop("traceparent", None)
        headers.pop("tracestate", None)
        inject(headers)
        if self._edge.is_retried(message.exchange, message.routing_key):
            headers.setdefault(ORIGINAL_EXCHANGE, message.exchange or "")
            headers.setdefault(ORIGINAL_ROUTING_KEY, message.routing_key or "")
            return headers
        headers = {name: value for name, value in headers.items() if not is_platform_header(name)}
        headers[ORIGINAL_EXCHANGE] = message.exchange or ""
        headers[ORIGINAL_ROUTING_KEY] = message.routing_key or ""
        headers[ORIGINAL_USER] = properties.user_id or ""
        return headers

    def _consumer_attributes(self, message: DeliveredMessage, attempt: int) -> dict[str, str | int]:
        properties = message.header.properties
        return {
            attr.MESSAGING_SYSTEM: attr.SYSTEM_RABBITMQ,
            attr.MESSAGING_OPERATION_TYPE: "process",
            attr.MESSAGING_OPERATION_NAME: "process",
            attr.MESSAGING_DESTINATION_NAME: self.queue.name,
            attr.MESSAGING_CONSUMER_GROUP: self.queue.name,
            attr.RABBITMQ_ROUTING_KEY: message.routing_key or "",
            attr.MESSAGING_MESSAGE_ID: properties.message_id or "",
            attr.MESSAGING_CONVERSATION_ID: properties.correlation_id or "",
            attr.MESSAGING_BODY_SIZE: len(message.body),
            attr.CLOUDEVENTS_TYPE: properties.message_type or "",
            attr.WARREN_ATTEMPT: attempt,
        }


def _subscribed(channel: Any, tag: str) -> bool:
    """Whether ``tag`` consumes on this aiormq channel (its ``consumers``: tag -> callback)."""
    return tag in getattr(channel, "consumers", {})


def _tag_of(message: DeliveredMessage) -> int:
    return cast(int, message.delivery_tag)  # a consumer's delivery always has its tag


def _attempts(headers: dict[str, Any] | None) -> int:
    value = (headers or {}).get(ATTEMPTS, 0)
    return value if isinstance(value, int) and value >= 0 else 0


def _truncate(text: str) -> str:
    """At most ``MAX_ERROR_MESSAGE`` characters, encodable as UTF-8 for an AMQP header.

    Error messages quote the input, and undecodable input shows up as lone surrogates, which no
    header can carry: they are replaced rather than failing the dead-lettering itself.
    """
    safe = text.encode("utf-8", "replace").decode("utf-8")
    return safe if len(safe) <= MAX_ERROR_MESSAGE else safe[: MAX_ERROR_MESSAGE - 1] + "…"
