"""The hand-written OTLP encoder writes what OpenTelemetry's own encoder writes, for any span."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import (
    Link,
    NonRecordingSpan,
    SpanContext,
    SpanKind,
    Status,
    StatusCode,
    TraceFlags,
    TraceState,
    set_span_in_context,
)

from warren.telemetry._otlp import encode_request

INT64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)
TEXT = st.text(max_size=40)
SCALARS = st.one_of(st.booleans(), TEXT, INT64, st.floats(allow_nan=False), st.binary(max_size=8))
VALUES = st.one_of(
    SCALARS,
    st.lists(st.booleans(), max_size=3),
    st.lists(TEXT, max_size=3),
    st.lists(INT64, max_size=3),
)
ATTRIBUTES = st.dictionaries(st.text(min_size=1, max_size=20), VALUES, max_size=6)


def recorded(
    build: Any, resource: Resource | None = None, scope: tuple[str, str | None] = ("t", None)
) -> list[ReadableSpan]:
    """The spans ``build(tracer)`` ends, as an exporter would receive them."""
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=resource or Resource.create({"service.name": "test"}))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    build(provider.get_tracer(*scope))
    provider.shutdown()
    return list(memory.get_finished_spans())


def assert_same_as_opentelemetry(spans: list[ReadableSpan]) -> None:
    expected = encode_spans(spans)
    ours = ExportTraceServiceRequest.FromString(encode_request(spans))
    assert ours == expected
    assert encode_request(spans) == expected.SerializeToString()


REMOTE_PARENT = SpanContext(
    trace_id=0x0AF7651916CD43DD8448EB211C80319C,
    span_id=0xB7AD6B7169203331,
    is_remote=True,
    trace_flags=TraceFlags(TraceFlags.SAMPLED),
    trace_state=TraceState([("vendor", "value"), ("other", "x")]),
)


def test_a_messaging_span_encodes_as_opentelemetry_encodes_it() -> None:
    def build(tracer: Any) -> None:
        with tracer.start_as_current_span(
            "publish orders.events",
            context=set_span_in_context(NonRecordingSpan(REMOTE_PARENT)),
            kind=SpanKind.PRODUCER,
            attributes={"messaging.system": "rabbitmq", "messaging.message.body.size": 612},
        ) as span:
            span.add_event("retry scheduled", {"warren.attempt": 2, "warren.retry.delay": 0.5})
            span.record_exception(ValueError("boom"))
            span.set_status(Status(StatusCode.ERROR, "ValueError"))
        root = tracer.start_as_current_span("root", kind=SpanKind.SERVER)
        with root, tracer.start_as_current_span("child", links=[Link(REMOTE_PARENT, {"a": 1})]):
            pass

    assert_same_as_opentelemetry(recorded(build))


def test_spans_of_several_resources_and_scopes_are_grouped_as_opentelemetry_groups_them() -> None:
    first = recorded(lambda t: t.start_span("a").end(), scope=("warren.messaging", "1.0"))
    other = Resource.create({"service.name": "other", "n": 3}, schema_url="https://x/1.0")
    second = recorded(lambda t: t.start_span("b").end(), resource=other, scope=("fastapi", None))
    third = recorded(lambda t: t.start_span("c", kind=SpanKind.CONSUMER).end())

    assert_same_as_opentelemetry([*first, *second, *first, *third])


@settings(max_examples=60, deadline=None)
@given(
    name=TEXT,
    kind=st.sampled_from(list(SpanKind)),
    attributes=ATTRIBUTES,
    event_attributes=ATTRIBUTES,
    status=st.sampled_from(list(StatusCode)),
    description=st.one_of(st.none(), TEXT),
    remote=st.booleans(),
)
def test_any_span_encodes_as_opentelemetry_encodes_it(
    name: str,
    kind: SpanKind,
    attributes: dict[str, Any],
    event_attributes: dict[str, Any],
    status: StatusCode,
    description: str | None,
    remote: bool,
) -> None:
    parent = SpanContext(REMOTE_PARENT.trace_id, REMOTE_PARENT.span_id, is_remote=remote)

    def build(tracer: Any) -> None:
        span = tracer.start_span(
            name,
            context=set_span_in_context(NonRecordingSpan(parent)),
            kind=kind,
            attributes=attributes,
        )
        span.add_event("e", event_attributes)
        span.set_status(Status(status, description if status is StatusCode.ERROR else None))
        span.end()

    assert_same_as_opentelemetry(recorded(build))


@pytest.mark.parametrize("value", [2**63, -(2**63) - 1], ids=["too-big", "too-small"])
def test_an_attribute_otlp_cannot_carry_is_left_out_not_fatal(value: int) -> None:
    spans = recorded(lambda t: t.start_span("s", attributes={"big": value, "ok": "yes"}).end())

    decoded = ExportTraceServiceRequest.FromString(encode_request(spans))

    (span,) = decoded.resource_spans[0].scope_spans[0].spans
    assert [(kv.key, kv.value.string_value) for kv in span.attributes] == [("ok", "yes")]


def test_remembered_attribute_values_stay_bounded_for_ids_that_never_repeat() -> None:
    from warren.telemetry import _otlp

    def build(tracer: Any) -> None:
        for number in range(200):
            tracer.start_span("s", attributes={"id.key": f"message-{number}"}).end()

    spans = recorded(build)
    assert_same_as_opentelemetry(spans)
    remembered = [key for key in _otlp._KEY_VALUES if key[0] == "id.key"]
    assert len(remembered) == _otlp._VALUES_PER_KEY
