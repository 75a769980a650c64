"""The one consumer loop: decode, validate, dispatch, then ack, retry or dead-letter.

Owns everything that happens between a delivery and its ack: envelope and schema validation at
the edge, the CONSUMER span, the handler call, retries through delay queues, DLQ moves with the
``x-error-*`` headers, and graceful shutdown. Handlers never see any of it.
"""

from __future__ import annotations

import asyncio
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
from warren import telemetry
from warren.messaging._broker import Broker
from warren.messaging._delivery import Delivery
from warren.messaging._errors import (
    MalformedMessage,
    PermanentError,
    PublishError,
    SchemaViolation,
    UnexpectedEventType,
)
from warren.messaging._message import OutgoingMessage
from warren.messaging._topology import WorkQueue, dead_letter_exchange, retry_exchange
from warren.telemetry import attributes as attr

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
        self._tasks: set[asyncio.Task[Any]] = set()
        self._tracer = telemetry.tracer("warren.messaging")

    @property
    def in_flight(self) -> int:
        """Messages being handled right now."""
        return len(self._tasks)

    async def start(self) -> None:
        """Open a channel with the queue's prefetch and start consuming (queue must exist)."""
        self._stopping = False
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
        except (AMQPError, ChannelInvalidStateError, ConnectionError, PublishError) as error:
            # The channel went away mid-flight; the broker redelivers the unacked message.
            log.warning("delivery interrupted", queue=self.queue.name, error=repr(error))
        finally:
            if task is not None:
                self._tasks.discard(task)

    async def _process(self, message: AbstractIncomingMessage) -> None:
        attempt = _attempts(message) + 1
        context = telemetry.extract(message.headers)
        with self._tracer.start_as_current_span(
            f"process {self.queue.name}",
            context=context,
            kind=SpanKind.CONSUMER,
            attributes=self._consumer_attributes(message, attempt),
        ) as span:
            try:
                event, delivery = self._decode(message, attempt)
            except PermanentError as error:
                await self._dead_letter(message, error, attempt, span)
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
        try:
            await handler(event, delivery)
        except PermanentError as error:
            await self._dead_letter(message, error, delivery.attempt, span)
        except Exception as error:
            delay = self.queue.retry.delay_after(delivery.attempt)
            if delay is None:
                await self._dead_letter(message, error, delivery.attempt, span)
            else:
                await self._retry(message, error, delivery.attempt, delay, span)
        else:
            await message.ack()
            span.set_attribute(attr.WARREN_OUTCOME, "ack")

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
            raise SchemaViolation(f"{envelope.type}: {_reasons(error)}") from None
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
    ) -> None:
        headers = _carry_origin(message) | {
            ATTEMPTS: attempt,
            "x-last-error-type": type(error).__name__,
            "x-last-error-message": _truncate(str(error)),
        }
        await self.broker.send(
            _copy(
                message, retry_exchange(self.queue.service), self.queue.delay_queue(delay), headers
            )
        )
        await message.ack()
        span.add_event(
            attr.EVENT_RETRY_SCHEDULED,
            {
                attr.WARREN_ATTEMPT: attempt,
                "warren.retry.delay_s": delay,
                attr.WARREN_ERROR_TYPE: type(error).__name__,
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
    ) -> None:
        headers = _carry_origin(message) | {
            "x-error-type": type(error).__name__,
            "x-error-message": _truncate(str(error)) or type(error).__name__,
            ATTEMPTS: attempt,
            "x-failed-at": datetime.now(UTC).isoformat(),
            "x-queue": self.queue.name,
        }
        await self.broker.send(
            _copy(
                message,
                dead_letter_exchange(self.queue.service),
                self.queue.dead_letter_queue,
                headers,
            )
        )
        await message.ack()
        span.add_event(
            attr.EVENT_DEAD_LETTERED,
            {attr.WARREN_ATTEMPT: attempt, attr.WARREN_ERROR_TYPE: type(error).__name__},
        )
        span.set_attribute(attr.WARREN_OUTCOME, "dead_lettered")
        span.set_status(Status(StatusCode.ERROR, type(error).__name__))
        log.error(
            "message dead-lettered",
            queue=self.queue.name,
            attempt=attempt,
            error_type=type(error).__name__,
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
    headers.setdefault("x-original-exchange", message.exchange or "")
    headers.setdefault("x-original-routing-key", message.routing_key or "")
    return headers


def _copy(
    message: AbstractIncomingMessage, exchange: str, routing_key: str, headers: dict[str, Any]
) -> OutgoingMessage:
    """The same body and properties, re-addressed, with ``headers``."""
    return OutgoingMessage(
        exchange=exchange,
        routing_key=routing_key,
        body=message.body,
        message_id=message.message_id or "",
        type=message.type or "",
        app_id=message.app_id or "",
        timestamp=message.timestamp or datetime.now(UTC),
        correlation_id=message.correlation_id,
        headers=headers,
        content_type=message.content_type or CONTENT_TYPE,
    )


def _truncate(text: str) -> str:
    return text if len(text) <= MAX_ERROR_MESSAGE else text[: MAX_ERROR_MESSAGE - 1] + "…"


def _reasons(error: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or '<root>'}: {e['msg']}" for e in error.errors()
    )
