"""CPU per message without a broker: what each step of warren's hot paths costs, in µs.

``python -m bench.micro`` times the pieces the profiles point at (building the envelope, the AMQP
message, trace context, spans, decoding and validating) beside the hand-written equivalent, and
prints one ``RESULT {...}`` line. Best of several repeats, so a busy machine inflates it least.
"""

from __future__ import annotations

import json
import timeit
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import aio_pika
import structlog
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF
from opentelemetry.trace import SpanKind

from bench import workload
from shop_contracts.orders import OrderPlaced
from warren.contracts.envelope import decode, decode_as, encode, wrap
from warren.messaging.message import prepare
from warren.telemetry._otlp import encode_request
from warren.telemetry.context import extract, inject

BATCH = 128
"""Spans per OTLP request in the encoding steps (reported per span)."""


def best(step: Callable[[], Any], number: int = 2000, repeat: int = 7) -> float:
    """Microseconds per call, best of ``repeat``."""
    return min(timeit.repeat(step, number=number, repeat=repeat)) / number * 1e6


def steps() -> dict[str, Callable[[], Any]]:
    """Name -> a zero-argument callable doing one message's worth of that step."""
    event = workload.order()
    now = datetime.now(UTC)
    message = prepare(event, service=workload.SERVICE)
    body = message.body
    props = workload.properties(event, message.message_id, now)
    sdk = TracerProvider().get_tracer("bench")  # recording spans, no processor
    sampled_off = TracerProvider(sampler=ALWAYS_OFF).get_tracer("bench")  # no exporter today
    noop = trace.NoOpTracer()
    headers = {"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}
    envelope = decode(body)
    spans = producer_spans(message.message_id)

    def span(tracer: trace.Tracer) -> Callable[[], None]:
        def start_and_end() -> None:
            with tracer.start_as_current_span("publish orders.events", kind=SpanKind.PRODUCER):
                pass

        return start_and_end

    def inject_in_span() -> None:
        with sdk.start_as_current_span("x"):
            inject({})

    def bound() -> None:
        with structlog.contextvars.bound_contextvars(event_id="x", event_type="y"):
            pass

    return {
        "publish: warren prepare (wrap + encode + inject)": lambda: prepare(
            event, service=workload.SERVICE
        ),
        "publish: contracts wrap (Envelope model)": lambda: wrap(event, source=workload.SOURCE),
        "publish: contracts encode (model_dump_json)": lambda: encode(envelope),
        "publish: hand-written envelope (orjson)": lambda: workload.envelope_bytes(
            event, message.message_id, now
        ),
        "publish: event.model_dump(mode=json)": lambda: event.model_dump(mode="json"),
        "publish: event.model_dump_json()": event.model_dump_json,
        "publish: aio_pika.Message(**properties)": lambda: aio_pika.Message(body, **props),
        "publish: OutgoingMessage.properties (what Broker.send sends)": lambda: message.properties(
            dict(message.headers)
        ),
        "trace: inject, no span (no-op)": lambda: inject({}),
        "trace: inject inside an SDK span": inject_in_span,
        "trace: extract traceparent": lambda: extract(headers),
        "trace: extract, no headers": lambda: extract({}),
        "trace: span, no-op tracer": span(noop),
        "trace: span, SDK provider, recording, no processor": span(sdk),
        "trace: span, SDK provider, ALWAYS_OFF sampler": span(sampled_off),
        "trace: context attach/detach": lambda: otel_context.detach(
            otel_context.attach(otel_context.get_current())
        ),
        "consume: warren decode (Envelope) + model_validate(data)": lambda: (
            OrderPlaced.model_validate(decode(body).data)
        ),
        "consume: contracts decode (Envelope, data as dict)": lambda: decode(body),
        "consume: typed envelope, one model_validate_json": lambda: (
            workload.OrderPlacedEnvelope.model_validate_json(body)
        ),
        "consume: contracts decode_as (warren's path: typed envelope, one pass)": lambda: decode_as(
            body, OrderPlaced
        ),
        "consume: structlog bound_contextvars": bound,
        "trace: OTLP encoding per span, OpenTelemetry's encoder": lambda: encode_spans(
            spans
        ).SerializePartialToString(),
        "trace: OTLP encoding per span, warren's encoder": lambda: encode_request(spans),
    }


def producer_spans(message_id: str) -> list[ReadableSpan]:
    """``BATCH`` PRODUCER spans with the attributes ``Broker.send`` gives them."""
    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("warren.messaging")
    for number in range(BATCH):
        attributes = {
            "messaging.system": "rabbitmq",
            "messaging.operation.type": "send",
            "messaging.operation.name": "publish",
            "messaging.destination.name": "orders.events",
            "messaging.rabbitmq.destination.routing_key": "order.placed.v1",
            "messaging.message.id": f"{message_id}-{number}",
            "messaging.message.conversation_id": f"order-{number}",
            "messaging.message.body.size": 612,
            "cloudevents.event_type": "order.placed.v1",
        }
        tracer.start_span(
            "publish orders.events", kind=SpanKind.PRODUCER, attributes=attributes
        ).end()
    return list(memory.get_finished_spans())


def main() -> None:
    results = {
        name: best(step, number=50) / BATCH if "per span" in name else best(step)
        for name, step in steps().items()
    }
    print("RESULT " + json.dumps(results), flush=True)


if __name__ == "__main__":
    main()
