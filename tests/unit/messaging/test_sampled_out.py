"""A sampled-out PRODUCER span records nothing, yet its message still tells consumers the trace
is sampled out: a new root injects its own unsampled context, a message that already carries
its unsampled parent goes as it is, and a sampled parent is never left on a dropped span's
message (its consumers would record a trace whose producer is missing)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from opentelemetry import context, propagate, trace
from opentelemetry.context import Context
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

from warren.messaging._broker import _unsampled_headers
from warren.messaging.message import OutgoingMessage

TRACE_ID = 0x0AF7651916CD43DD8448EB211C80319C


def message(headers: dict[str, str]) -> OutgoingMessage:
    return OutgoingMessage(
        exchange="orders.events",
        routing_key="order.placed.v1",
        body=b"{}",
        message_id="m-1",
        type="order.placed.v1",
        app_id="orders",
        timestamp=datetime.now(UTC),
        headers=headers,
    )


def remote(sampled: bool) -> Context:
    flags = TraceFlags(TraceFlags.SAMPLED if sampled else TraceFlags.DEFAULT)
    parent = SpanContext(TRACE_ID, 0xB7AD6B7169203331, is_remote=True, trace_flags=flags)
    return trace.set_span_in_context(NonRecordingSpan(parent))


def is_sampled(traceparent: str) -> bool:
    return bool(int(traceparent.rsplit("-", 1)[1], 16) & TraceFlags.SAMPLED)


def dropped_span(parent: Context | None) -> trace.Span:
    span = TracerProvider(sampler=ALWAYS_OFF).get_tracer("t").start_span("p", context=parent)
    assert not span.is_recording()
    return span


def test_a_new_root_that_is_sampled_out_says_so_to_its_consumers() -> None:
    span = dropped_span(None)

    headers = _unsampled_headers(message({"x-custom": "kept"}), None, span)

    context = span.get_span_context()
    assert headers["traceparent"].startswith(f"00-{context.trace_id:032x}-{context.span_id:016x}-")
    assert not is_sampled(headers["traceparent"])
    assert headers["x-custom"] == "kept"


def test_a_message_carrying_its_unsampled_parent_goes_as_it_is() -> None:
    parent = remote(sampled=False)
    carried: dict[str, str] = {}
    propagate.inject(carried, context=parent)
    outgoing = message(carried)

    assert _unsampled_headers(outgoing, parent, dropped_span(parent)) is outgoing.headers


@pytest.mark.parametrize("current", [False, True], ids=["extracted", "current"])
def test_a_sampled_parent_is_replaced_by_the_dropped_span_context(current: bool) -> None:
    parent = remote(sampled=True)
    carried: dict[str, str] = {}
    propagate.inject(carried, context=parent)
    span = dropped_span(parent)

    if current:  # publish(): the parent is the current context
        token = context.attach(parent)
        try:
            headers = _unsampled_headers(message(dict(carried)), None, span)
        finally:
            context.detach(token)
    else:  # send(): the parent was extracted from the headers
        headers = _unsampled_headers(message(dict(carried)), parent, span)

    assert headers["traceparent"].startswith(
        f"00-{TRACE_ID:032x}-{span.get_span_context().span_id:016x}-"
    )
    assert not is_sampled(headers["traceparent"])
