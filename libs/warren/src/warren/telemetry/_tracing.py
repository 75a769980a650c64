"""The tracer provider of a service, configured from the standard ``OTEL_*`` environment.

Owns setup and shutdown: resource (``OTEL_SERVICE_NAME``, ``OTEL_RESOURCE_ATTRIBUTES``), sampler
(``OTEL_TRACES_SAMPLER``/``_ARG``, parent-based always-on by default; nothing is recorded when
nothing is exported), exporters (``OTEL_TRACES_EXPORTER``: ``otlp`` over http/protobuf when an
endpoint is set, configured by ``OTEL_EXPORTER_OTLP_*``, ``console``, ``none``) behind a batch
processor (``OTEL_BSP_*``) that is flushed on shutdown. With ``OTEL_SDK_DISABLED=true`` nothing
is installed and every span is a no-op. A bad sampler, exporter or protocol fails at start, not
silently (a bad OTLP timeout or compression is a warning, as in OpenTelemetry's own exporter). It
reads the environment only when called.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

from opentelemetry import trace
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter
from opentelemetry.sdk.trace.sampling import (
    ALWAYS_OFF,
    ALWAYS_ON,
    ParentBased,
    Sampler,
    TraceIdRatioBased,
)

_SAMPLERS: dict[str, Callable[[float], Sampler]] = {
    "always_on": lambda _: ALWAYS_ON,
    "always_off": lambda _: ALWAYS_OFF,
    "traceidratio": TraceIdRatioBased,
    "parentbased_always_on": lambda _: ParentBased(ALWAYS_ON),
    "parentbased_always_off": lambda _: ParentBased(ALWAYS_OFF),
    "parentbased_traceidratio": lambda ratio: ParentBased(TraceIdRatioBased(ratio)),
}
_HTTP_PROTOBUF = "http/protobuf"


@dataclass(frozen=True)
class Tracing:
    """What ``configure_tracing`` installed; ``shutdown`` flushes and stops it."""

    provider: TracerProvider | None

    @property
    def is_enabled(self) -> bool:
        """False when ``OTEL_SDK_DISABLED=true``: spans are no-ops, nothing is instrumented."""
        return self.provider is not None

    def shutdown(self) -> None:
        """Export what is buffered, then stop the exporters."""
        if self.provider is not None:
            self.provider.force_flush()
            self.provider.shutdown()


def configure_tracing(service: str) -> Tracing:
    """Install the global tracer provider the ``OTEL_*`` environment asks for ``service``."""
    provider = tracer_provider(service)
    if provider is not None:
        trace.set_tracer_provider(provider)
    return Tracing(provider)


def tracer_provider(service: str) -> TracerProvider | None:
    """The provider the ``OTEL_*`` environment describes, not installed; None when disabled."""
    if _env("OTEL_SDK_DISABLED").lower() == "true":
        return None
    name = _env("OTEL_SERVICE_NAME") or service
    found = exporters()
    # Spans nobody exports are not worth recording: with no exporter (and no sampler asked for)
    # they stay non-recording. Trace ids are still made and propagated, for logs and responses.
    chosen = sampler() if found or _env("OTEL_TRACES_SAMPLER") else ALWAYS_OFF
    provider = TracerProvider(resource=Resource.create({SERVICE_NAME: name}), sampler=chosen)
    for exporter in found:
        provider.add_span_processor(BatchSpanProcessor(exporter))
    return provider


def sampler() -> Sampler:
    """The sampler named by ``OTEL_TRACES_SAMPLER`` (and its ``OTEL_TRACES_SAMPLER_ARG``)."""
    name = _env("OTEL_TRACES_SAMPLER", "parentbased_always_on").lower()
    make = _SAMPLERS.get(name)
    if make is None:
        raise ValueError(f"OTEL_TRACES_SAMPLER={name!r}: expected one of {sorted(_SAMPLERS)}")
    raw = _env("OTEL_TRACES_SAMPLER_ARG", "1.0")
    try:
        ratio = float(raw)
    except ValueError:
        ratio = -1.0
    if not 0.0 <= ratio <= 1.0:
        raise ValueError(f"OTEL_TRACES_SAMPLER_ARG={raw!r}: expected a ratio from 0 to 1")
    return make(ratio)


def exporters() -> list[SpanExporter]:
    """The exporters ``OTEL_TRACES_EXPORTER`` names; ``otlp`` only once an endpoint is set."""
    found: list[SpanExporter] = []
    for name in _env("OTEL_TRACES_EXPORTER", "otlp").lower().split(","):
        match name.strip():
            case "otlp":
                endpoint = _otlp_endpoint()
                if endpoint:
                    found.append(_otlp_exporter(endpoint))
            case "console":
                found.append(ConsoleSpanExporter())
            case "none" | "":
                pass
            case other:
                raise ValueError(f"OTEL_TRACES_EXPORTER={other!r}: expected otlp, console or none")
    return found


def _otlp_endpoint() -> str:
    """The traces URL: the signal-specific variable as is, else the base one + ``/v1/traces``."""
    traces = _env("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    if traces:
        return traces
    base = _env("OTEL_EXPORTER_OTLP_ENDPOINT")
    return base.rstrip("/") + "/v1/traces" if base else ""


def _otlp_exporter(endpoint: str) -> SpanExporter:
    protocol = (
        _env("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
        or _env("OTEL_EXPORTER_OTLP_PROTOCOL")
        or _HTTP_PROTOBUF
    )
    if protocol != _HTTP_PROTOBUF:
        raise ValueError(
            f"OTLP protocol {protocol!r} is not supported: Warren exports {_HTTP_PROTOBUF} "
            "(Jaeger and the OpenTelemetry Collector accept it on port 4318)"
        )
    from warren.telemetry._exporter import ExportSettings, OtlpExporter  # requests: if used

    return OtlpExporter(ExportSettings.from_environment(endpoint))


def _env(name: str, default: str = "") -> str:
    return os.environ.get(name, default).strip() or default
