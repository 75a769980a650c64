"""Messaging spans on a real broker: a CONSUMER span is the child of the PRODUCER span of the
message it handled, with the messaging semantic conventions; retries and DLQ moves are span
events, and their re-publishes continue the trace; the outbox hop keeps the trace; a trace the
sampler left out records nothing and stays left out in the consumer and what it publishes."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import NonRecordingSpan, SpanContext, SpanKind, StatusCode, TraceFlags

from shop_contracts.catalogue import REGISTRY
from shop_contracts.examples import example
from warren import db, telemetry
from warren.contracts.event import Event
from warren.messaging import Broker, Delivery, PermanentError, RetryPolicy
from warren.messaging.message import prepare
from warren.messaging.relay import OutboxRelay
from warren.runtime import Writer
from warren.telemetry import attributes as attr
from warren.testing import wait_until

from .conftest import Spans

PLACED = REGISTRY.resolve("order.placed.v1")
tracer = telemetry.tracer("tests")


async def test_consumer_span_is_the_child_of_the_producer_span(
    broker: Broker, consumer_for, spans: Spans
) -> None:
    handled: list[Delivery] = []

    async def record(event: Event, delivery: Delivery) -> None:
        handled.append(delivery)

    await consumer_for({PLACED: record})
    order_id = str(uuid.uuid4())
    with tracer.start_as_current_span("POST /orders", kind=SpanKind.SERVER) as request:
        message_id = await broker.publish(example(PLACED, order_id=order_id))
    await _wait_for(spans, SpanKind.CONSUMER, 1)

    [producer] = spans.of_kind(SpanKind.PRODUCER)
    [consumer] = spans.of_kind(SpanKind.CONSUMER)
    trace_id = request.get_span_context().trace_id
    assert producer.context.trace_id == consumer.context.trace_id == trace_id
    assert _parent(producer) == request.get_span_context().span_id
    assert _parent(consumer) == producer.context.span_id

    assert producer.name == "publish orders.events"
    assert (
        _attributes(producer).items()
        >= {
            attr.MESSAGING_SYSTEM: "rabbitmq",
            attr.MESSAGING_OPERATION_TYPE: "send",
            attr.MESSAGING_OPERATION_NAME: "publish",
            attr.MESSAGING_DESTINATION_NAME: "orders.events",
            attr.RABBITMQ_ROUTING_KEY: "order.placed.v1",
            attr.MESSAGING_MESSAGE_ID: message_id,
            attr.MESSAGING_CONVERSATION_ID: order_id,
            attr.CLOUDEVENTS_TYPE: "order.placed.v1",
        }.items()
    )
    assert consumer.name == "process probe.work"
    assert (
        _attributes(consumer).items()
        >= {
            attr.MESSAGING_SYSTEM: "rabbitmq",
            attr.MESSAGING_OPERATION_TYPE: "process",
            attr.MESSAGING_DESTINATION_NAME: "probe.work",
            attr.MESSAGING_CONSUMER_GROUP: "probe.work",
            attr.RABBITMQ_ROUTING_KEY: "order.placed.v1",
            attr.MESSAGING_MESSAGE_ID: message_id,
            attr.MESSAGING_CONVERSATION_ID: order_id,
            attr.CLOUDEVENTS_TYPE: "order.placed.v1",
            attr.WARREN_ATTEMPT: 1,
            attr.WARREN_OUTCOME: "ack",
        }.items()
    )
    assert [d.message_id for d in handled] == [message_id]


async def test_a_retry_is_a_span_event_and_the_next_attempt_continues_the_trace(
    broker: Broker, consumer_for, spans: Spans
) -> None:
    async def flaky(event: Event, delivery: Delivery) -> None:
        if delivery.attempt == 1:
            raise ConnectionError("provider unavailable")

    await consumer_for({PLACED: flaky}, retry=RetryPolicy((0.1,)))
    message_id = await broker.publish(example(PLACED, order_id=uuid.uuid4()))
    await _wait_for(spans, SpanKind.CONSUMER, 2)

    first, second = sorted(spans.of_kind(SpanKind.CONSUMER), key=lambda s: s.start_time or 0)
    original, retry = sorted(spans.of_kind(SpanKind.PRODUCER), key=lambda s: s.start_time or 0)
    assert len({s.context.trace_id for s in (first, second, original, retry)}) == 1
    assert _attributes(first)[attr.WARREN_OUTCOME] == "retry"
    [scheduled] = [e for e in first.events if e.name == attr.EVENT_RETRY_SCHEDULED]
    assert dict(scheduled.attributes or {}) == {
        attr.WARREN_ATTEMPT: 1,
        attr.WARREN_RETRY_DELAY: 0.1,
        attr.WARREN_ERROR_TYPE: "ConnectionError",
    }
    assert "exception" in [e.name for e in first.events]
    # publish -> process (fails) -> publish to the delay queue -> process again (acks)
    assert _parent(first) == original.context.span_id
    assert _parent(retry) == first.context.span_id
    assert _parent(second) == retry.context.span_id
    assert _attributes(retry)[attr.MESSAGING_DESTINATION_NAME] == "probe.retry"
    assert _attributes(retry)[attr.MESSAGING_MESSAGE_ID] == message_id
    assert _attributes(second)[attr.WARREN_ATTEMPT] == 2
    assert _attributes(second)[attr.WARREN_OUTCOME] == "ack"


async def test_a_dead_letter_move_is_a_span_event_with_an_error_status(
    broker: Broker, consumer_for, spans: Spans
) -> None:
    async def refuse(event: Event, delivery: Delivery) -> None:
        raise PermanentError("no such customer")

    await consumer_for({PLACED: refuse})
    await broker.publish(example(PLACED, order_id=uuid.uuid4()))
    await _wait_for(spans, SpanKind.PRODUCER, 2)  # the original and the DLQ copy

    [consumer] = spans.of_kind(SpanKind.CONSUMER)
    assert consumer.status.status_code == StatusCode.ERROR
    assert _attributes(consumer)[attr.WARREN_OUTCOME] == "dead_letter"
    [moved] = [e for e in consumer.events if e.name == attr.EVENT_DEAD_LETTERED]
    assert dict(moved.attributes or {}) == {
        attr.WARREN_ATTEMPT: 1,
        attr.WARREN_ERROR_TYPE: "PermanentError",
        attr.WARREN_DEAD_LETTER_QUEUE: "probe.work.dlq",
    }
    [copy] = [s for s in spans.of_kind(SpanKind.PRODUCER) if s.name == "publish probe.dlx"]
    assert _parent(copy) == consumer.context.span_id


async def test_the_outbox_hop_keeps_the_trace_of_the_code_that_wrote_the_row(
    database: db.Database, broker: Broker, consumer_for, spans: Spans
) -> None:
    async def emit(events: Sequence[Event], store: object) -> Sequence[Event]:
        return events

    async def record(event: Event, delivery: Delivery) -> None:
        pass

    await consumer_for({PLACED: record})
    writer = Writer(database, "orders", lambda conn: conn)
    with tracer.start_as_current_span("POST /orders", kind=SpanKind.SERVER) as request:
        await writer.execute(emit, [example(PLACED, order_id=uuid.uuid4())])
    stored = await database.pool.fetchval("SELECT headers FROM warren_outbox")
    request_ids = request.get_span_context()
    assert f"{request_ids.trace_id:032x}-{request_ids.span_id:016x}" in stored

    relay = OutboxRelay(database, broker)
    # Published later, while another trace is current: the context stored with the row wins.
    with tracer.start_as_current_span("unrelated"):
        assert await relay.relay_once() == (1, 0)
    await _wait_for(spans, SpanKind.CONSUMER, 1)

    [producer] = spans.of_kind(SpanKind.PRODUCER)
    [consumer] = spans.of_kind(SpanKind.CONSUMER)
    assert producer.context.trace_id == consumer.context.trace_id == request_ids.trace_id
    assert _parent(producer) == request_ids.span_id
    assert _parent(consumer) == producer.context.span_id


@pytest.mark.parametrize("path", ["publish", "send"])
async def test_a_sampled_out_trace_records_nothing_and_stays_sampled_out_downstream(
    broker: Broker, consumer_for, spans: Spans, path: str
) -> None:
    """As under ``parentbased_traceidratio``: the request was not sampled, so neither is the
    PRODUCER span, the CONSUMER span, nor anything the handler publishes, yet one trace id runs
    through them all (for the logs)."""
    seen: list[trace.SpanContext] = []

    async def record(event: Event, delivery: Delivery) -> None:
        seen.append(trace.get_current_span().get_span_context())

    await consumer_for({PLACED: record})
    unsampled = SpanContext(
        trace_id=uuid.uuid4().int,
        span_id=0x00F067AA0BA902B7,
        is_remote=False,
        trace_flags=TraceFlags(TraceFlags.DEFAULT),
    )
    event = example(PLACED, order_id=uuid.uuid4())
    with trace.use_span(NonRecordingSpan(unsampled)):
        if path == "publish":
            await broker.publish(event)
        else:  # the outbox relay's path: prepared now, sent later outside any trace
            prepared = prepare(event, service="orders")
    if path == "send":
        await broker.send(prepared)

    async def handled() -> bool:
        return bool(seen)

    await wait_until(handled, timeout=10, what="the event handled")
    assert seen[0].trace_id == unsampled.trace_id
    assert not seen[0].trace_flags.sampled
    await asyncio.sleep(0.2)  # a span recorded by mistake would be exported by now
    assert spans.all() == []


def _parent(span: ReadableSpan) -> int | None:
    return span.parent.span_id if span.parent is not None else None


def _attributes(span: ReadableSpan) -> dict[str, object]:
    return dict(span.attributes or {})


async def _wait_for(spans: Spans, kind: trace.SpanKind, count: int) -> None:
    async def enough() -> bool:
        return len(spans.of_kind(kind)) >= count

    await wait_until(enough, timeout=10, what=f"{count} {kind.name} span(s)")
    await asyncio.sleep(0.2)  # a surplus span (a double delivery) would show up here
