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
from datetime import UTC, datetime
from typing import Any

import structlog
from aio_pika.abc import AbstractIncomingMessage, AbstractQueue, AbstractRobustChannel
from aiormq.exceptions import AMQPError, ChannelInvalidStateError
from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode
from pydantic import ValidationError

from contracts.envelope import CONTENT_TYPE, EnvelopeError, decode
from contracts.event import Event
from contracts.violation import describe
from warren import telemetry
from warren.messaging._broker import Broker
from warren.messaging._delivery import Delivery
from warren.messaging._errors import (
    MalformedMessage,
    PermanentError,
    SchemaViolation,
    UnexpectedEventType,
)
from warren.messaging._message import OutgoingMessage
from warren.messaging._metrics import ConsumeMeter
from warren.messaging._topology import WorkQueue, dead_letter_exchange, retry_exchange
from warren.telemetry import attributes as attr
from warren.telemetry import metrics

log = structlog.get_logger(__name__)

ATTEMPTS = "x-attempts"
MAX_ERROR_MESSAGE = 1000


class Consumer:
    """Consumes one work queue with its handler table, at most ``queue.prefetch`` at a time.

    A message is acked only after its handler returned. A handler that raises
    :class:`PermanentError` (or a message that cannot be decoded) sends the message to the DLQ at
    once; any other exception schedules a retry through the queue's delay queues until the retry
    policy is spent, then dead-letters it. Retry and DLQ copies are published with confirms before
    the original is acked, so nothing is lost between the two.
    """

    def __init__(self, broker: Broker, queue: WorkQueue, *, drain_timeout: float = 30.0) -> None:
        self.broker = broker
        self.queue = queue
        self.drain_timeout = drain_timeout
        self._types = queue.event_types
        self._channel: AbstractRobustChannel | None = None
        self._amqp_queue: AbstractQueue | None = None
        self._tag: str | None = None
        self._stopping = False
        self._was_consuming = True
        self._tasks: set[asyncio.Task[Any]] = set()
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
        queue was deleted, or the node holding it was lost). The robust channel re-subscribes by
        itself once the queue is back; this turns True again then.
        """
        if self._channel is None or self._tag is None or self._stopping:
            return False
        try:
            channel = await asyncio.wait_for(self._channel.get_underlay_channel(), timeout)
            consuming = self._tag in getattr(channel, "consumers", {})  # aiormq: tag -> callback
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
        self._amqp_queue = await self._channel.declare_queue(self.queue.name, passive=True)
        self._tag = await self._amqp_queue.consume(self._on_message)

    async def stop(self) -> None:
        """Stop taking messages, let in-flight handlers finish (bounded), then close the channel.

        Handlers still running after ``drain_timeout`` are cancelled; their messages, never acked,
        go back to the queue when the channel closes, as do prefetched ones not yet started.
        """
        self._stopping = True
        if self._amqp_queue is not None and self._tag is not None:
            try:
                await self._amqp_queue.cancel(self._tag)
            except (AMQPError, ChannelInvalidStateError):
                log.warning("consumer cancel failed; closing the channel", queue=self.queue.name)
        if self._tasks:
            _, pending = await asyncio.wait(set(self._tasks), timeout=self.drain_timeout)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        if self._channel is not None and not self._channel.is_closed:
            await self._channel.close()
        self._channel = self._amqp_queue = self._tag = None

    async def _on_message(self, message: AbstractIncomingMessage) -> None:
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
                message_id=message.message_id,
            )
            with contextlib.suppress(AMQPError, ChannelInvalidStateError, ConnectionError):
                await message.reject(requeue=False)
        finally:
            if task is not None:
                self._tasks.discard(task)

    async def _process(self, message: AbstractIncomingMessage) -> None:
        attempt = _attempts(message) + 1
        with self._tracer.start_as_current_span(
            self._span_name,
            context=telemetry.extract(message.headers),  # parent: the PRODUCER span
            kind=SpanKind.CONSUMER,
        ) as span:
            if span.is_recording():
                span.set_attributes(self._consumer_attributes(message, attempt))
            try:
                event, delivery = self._decode(message, attempt)
            except PermanentError as error:
                meter = self._meters.get(message.type or "") or self._other
                await self._dead_letter(message, error, attempt, span, meter)
                return
            log_context = structlog.contextvars.bound_contextvars(
                event_id=delivery.message_id, event_type=delivery.event_type
            )
            with log_context:
                await self._dispatch(message, event, delivery, span)

    async def _dispatch(
        self,
        message: AbstractIncomingMessage,
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
        await message.ack()
        meter.acked.inc()
        span.set_attribute(attr.WARREN_OUTCOME, "ack")
        if self._is_debug:
            log.debug(
                "message handled",
                queue=self.queue.name,
                attempt=delivery.attempt,
                duration_ms=round(elapsed * 1000, 3),
            )

    async def _fail(
        self,
        message: AbstractIncomingMessage,
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

    def _decode(self, message: AbstractIncomingMessage, attempt: int) -> tuple[Event, Delivery]:
        content_type = (message.content_type or CONTENT_TYPE).split(";", 1)[0].strip().lower()
        if content_type != CONTENT_TYPE:
            raise MalformedMessage(f"content type {content_type!r} is not {CONTENT_TYPE!r}")
        try:
            envelope = decode(message.body)
        except EnvelopeError as error:
            raise MalformedMessage(str(error)) from None
        event_class = self._types.get(envelope.type)
        if event_class is None:
            raise UnexpectedEventType(
                f"queue {self.queue.name} has no handler for {envelope.type!r}"
            )
        try:
            event = event_class.model_validate(envelope.data)
        except ValidationError as error:
            raise SchemaViolation(f"{envelope.type}: {describe(error)}") from None
        delivery = Delivery(
            message_id=envelope.id,
            event_type=envelope.type,
            source=envelope.source,
            time=envelope.time,
            correlation_id=message.correlation_id,
            queue=self.queue.name,
            attempt=attempt,
            redelivered=bool(message.redelivered),
            headers=message.headers,
        )
        return event, delivery

    async def _retry(
        self,
        message: AbstractIncomingMessage,
        error: Exception,
        attempt: int,
        delay: float,
        span: trace.Span,
        meter: ConsumeMeter,
    ) -> None:
        error_type = type(error).__name__
        headers = _carry_origin(message) | {
            ATTEMPTS: attempt,
            "x-last-error-type": error_type,
            "x-last-error-message": _truncate(str(error)),
        }
        await self.broker.send(
            OutgoingMessage.readdressed(
                message, retry_exchange(self.queue.service), self.queue.delay_queue(delay), headers
            )
        )
        await message.ack()
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

    async def _dead_letter(
        self,
        message: AbstractIncomingMessage,
        error: Exception,
        attempt: int,
        span: trace.Span,
        meter: ConsumeMeter,
    ) -> None:
        error_type = type(error).__name__
        headers = _carry_origin(message) | {
            "x-error-type": error_type,
            "x-error-message": _truncate(str(error)) or error_type,
            ATTEMPTS: attempt,
            "x-failed-at": datetime.now(UTC).isoformat(),
            "x-queue": self.queue.name,
        }
        await self.broker.send(
            OutgoingMessage.readdressed(
                message,
                dead_letter_exchange(self.queue.service),
                self.queue.dead_letter_queue,
                headers,
            )
        )
        await message.ack()
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

    def _consumer_attributes(
        self, message: AbstractIncomingMessage, attempt: int
    ) -> dict[str, str | int]:
        return {
            attr.MESSAGING_SYSTEM: attr.SYSTEM_RABBITMQ,
            attr.MESSAGING_OPERATION_TYPE: "process",
            attr.MESSAGING_OPERATION_NAME: "process",
            attr.MESSAGING_DESTINATION_NAME: self.queue.name,
            attr.MESSAGING_CONSUMER_GROUP: self.queue.name,
            attr.RABBITMQ_ROUTING_KEY: message.routing_key or "",
            attr.MESSAGING_MESSAGE_ID: message.message_id or "",
            attr.MESSAGING_CONVERSATION_ID: message.correlation_id or "",
            attr.MESSAGING_BODY_SIZE: len(message.body),
            attr.CLOUDEVENTS_TYPE: message.type or "",
            attr.WARREN_ATTEMPT: attempt,
        }


def _attempts(message: AbstractIncomingMessage) -> int:
    value = (message.headers or {}).get(ATTEMPTS, 0)
    return value if isinstance(value, int) and value >= 0 else 0


def _carry_origin(message: AbstractIncomingMessage) -> dict[str, Any]:
    """Headers of ``message`` plus where it first came from (kept across retry hops)."""
    headers = dict(message.headers or {})
    headers.pop("x-death", None)  # the broker's own bookkeeping grows with every hop
    # The copy is published from the CONSUMER span (the publish takes its context from these
    # headers), so the trace reads: publish -> process (failed) -> publish retry -> process.
    headers.pop("traceparent", None)
    headers.pop("tracestate", None)
    telemetry.inject(headers)
    headers.setdefault("x-original-exchange", message.exchange or "")
    headers.setdefault("x-original-routing-key", message.routing_key or "")
    return headers


def _truncate(text: str) -> str:
    """At most ``MAX_ERROR_MESSAGE`` characters, encodable as UTF-8 for an AMQP header.

    Error messages quote the input, and undecodable input shows up as lone surrogates, which no
    header can carry: they are replaced rather than failing the dead-lettering itself.
    """
    safe = text.encode("utf-8", "replace").decode("utf-8")
    return safe if len(safe) <= MAX_ERROR_MESSAGE else safe[: MAX_ERROR_MESSAGE - 1] + "…"
