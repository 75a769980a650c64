"""The tracer provider follows the standard OTEL_* variables, fails fast on bad ones, and
installs nothing at all when the SDK is disabled."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import ConsoleSpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ALWAYS_ON, ParentBased, TraceIdRatioBased

from warren.telemetry import Tracing
from warren.telemetry._exporter import OtlpExporter
from warren.telemetry._tracing import exporters, sampler, tracer_provider

OTEL = (
    "OTEL_SDK_DISABLED",
    "OTEL_SERVICE_NAME",
    "OTEL_TRACES_SAMPLER",
    "OTEL_TRACES_SAMPLER_ARG",
    "OTEL_TRACES_EXPORTER",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "OTEL_EXPORTER_OTLP_PROTOCOL",
    "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
)


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in OTEL:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def providers() -> Iterator[list[TracerProvider]]:
    """Providers built by a test, shut down after it (their batch threads stop)."""
    made: list[TracerProvider] = []
    yield made
    for provider in made:
        provider.shutdown()


def test_disabled_sdk_installs_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_SDK_DISABLED", "true")
    assert tracer_provider("orders") is None
    disabled = Tracing(None)
    assert not disabled.is_enabled
    disabled.shutdown()  # nothing to flush, no error


def test_service_name_defaults_to_the_service_and_follows_otel_service_name(
    monkeypatch: pytest.MonkeyPatch, providers: list[TracerProvider]
) -> None:
    provider = tracer_provider("orders")
    assert provider is not None
    providers.append(provider)
    assert provider.resource.attributes["service.name"] == "orders"

    monkeypatch.setenv("OTEL_SERVICE_NAME", "orders-canary")
    renamed = tracer_provider("orders")
    assert renamed is not None
    providers.append(renamed)
    assert renamed.resource.attributes["service.name"] == "orders-canary"


def test_default_sampler_follows_the_parent_and_samples_roots() -> None:
    chosen = sampler()
    assert isinstance(chosen, ParentBased)
    assert chosen.get_description() == ParentBased(ALWAYS_ON).get_description()


@pytest.mark.parametrize(
    ("name", "argument", "expected"),
    [
        ("always_off", None, ALWAYS_OFF),
        ("always_on", None, ALWAYS_ON),
        ("traceidratio", "0.25", TraceIdRatioBased(0.25)),
        ("parentbased_traceidratio", "0.1", ParentBased(TraceIdRatioBased(0.1))),
        ("parentbased_always_off", None, ParentBased(ALWAYS_OFF)),
    ],
)
def test_sampler_is_the_one_otel_traces_sampler_names(
    monkeypatch: pytest.MonkeyPatch, name: str, argument: str | None, expected: object
) -> None:
    monkeypatch.setenv("OTEL_TRACES_SAMPLER", name)
    if argument is not None:
        monkeypatch.setenv("OTEL_TRACES_SAMPLER_ARG", argument)
    assert sampler().get_description() == expected.get_description()  # type: ignore[attr-defined]


def test_sampled_out_spans_record_nothing_but_still_carry_a_trace_id(
    monkeypatch: pytest.MonkeyPatch, providers: list[TracerProvider]
) -> None:
    monkeypatch.setenv("OTEL_TRACES_SAMPLER", "always_off")
    provider = tracer_provider("orders")
    assert provider is not None
    providers.append(provider)
    with provider.get_tracer("test").start_as_current_span("x") as span:
        assert not span.is_recording()
        assert not span.get_span_context().trace_flags.sampled


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("OTEL_TRACES_SAMPLER", "sometimes"),
        ("OTEL_TRACES_SAMPLER_ARG", "1.5"),
        ("OTEL_TRACES_SAMPLER_ARG", "half"),
        ("OTEL_TRACES_EXPORTER", "zipkin"),
    ],
)
def test_bad_values_fail_at_start_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv("OTEL_TRACES_SAMPLER", "traceidratio")
    monkeypatch.setenv(variable, value)
    with pytest.raises(ValueError, match=variable):
        tracer_provider("orders")


def test_no_endpoint_means_no_exporter() -> None:
    assert exporters() == []


def test_the_otlp_endpoint_gets_the_traces_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://jaeger:4318/")
    [exporter] = exporters()
    assert isinstance(exporter, OtlpExporter)
    assert exporter.endpoint == "http://jaeger:4318/v1/traces"
    exporter.shutdown()


def test_a_traces_endpoint_is_used_as_given(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://ignored:4318")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://collector:4318/custom")
    [exporter] = exporters()
    assert isinstance(exporter, OtlpExporter)
    assert exporter.endpoint == "http://collector:4318/custom"
    exporter.shutdown()


def test_grpc_is_refused_rather_than_silently_not_exporting(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://jaeger:4317")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
    with pytest.raises(ValueError, match="http/protobuf"):
        exporters()


def test_console_and_none_exporters(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://jaeger:4318")
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "none")
    assert exporters() == []
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "console")
    assert [type(e) for e in exporters()] == [ConsoleSpanExporter]


def test_without_an_exporter_spans_are_not_recorded_but_ids_still_flow(
    providers: list[TracerProvider],
) -> None:
    provider = tracer_provider("orders")
    assert provider is not None
    providers.append(provider)
    tracer = provider.get_tracer("test")
    with tracer.start_as_current_span("POST /orders") as root:
        with tracer.start_as_current_span("publish orders.events") as child:
            assert not child.is_recording()  # cheap: nobody would ever see it
        assert root.get_span_context().is_valid  # a trace id for logs and traceparent
        assert child.get_span_context().trace_id == root.get_span_context().trace_id


def test_an_explicit_sampler_is_kept_even_without_an_exporter(
    monkeypatch: pytest.MonkeyPatch, providers: list[TracerProvider]
) -> None:
    monkeypatch.setenv("OTEL_TRACES_SAMPLER", "always_on")
    provider = tracer_provider("orders")
    assert provider is not None
    providers.append(provider)
    with provider.get_tracer("test").start_as_current_span("x") as span:
        assert span.is_recording()


def test_an_endpoint_adds_a_batch_processor(
    monkeypatch: pytest.MonkeyPatch, providers: list[TracerProvider]
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:9")
    provider = tracer_provider("orders")
    assert provider is not None
    providers.append(provider)
    processors = provider._active_span_processor._span_processors
    assert [type(p).__name__ for p in processors] == ["BatchSpanProcessor"]
    with provider.get_tracer("test").start_as_current_span("x") as span:
        assert span.is_recording()  # exported spans are recorded (the default sampler)
