"""The tracer provider of a service, configured from the standard ``OTEL_*`` environment.

Owns setup and shutdown: resource (``service.name``), sampler (``OTEL_TRACES_SAMPLER``), OTLP
http/protobuf export when an endpoint is configured, a batch processor flushed on shutdown. With
``OTEL_SDK_DISABLED=true`` nothing is installed and every span is a no-op.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from opentelemetry import trace
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor


@dataclass
class Tracing:
    """What ``configure_tracing`` installed; ``shutdown`` flushes and stops it."""

    provider: TracerProvider | None

    def shutdown(self) -> None:
        """Export what is buffered, then stop the exporter."""
        if self.provider is not None:
            self.provider.force_flush()
            self.provider.shutdown()


def configure_tracing(service: str) -> Tracing:
    """Install a global tracer provider for ``service`` unless the SDK is disabled."""
    if os.environ.get("OTEL_SDK_DISABLED", "").lower() == "true":
        return Tracing(None)
    resource = Resource.create({SERVICE_NAME: os.environ.get("OTEL_SERVICE_NAME", service)})
    provider = TracerProvider(resource=resource)
    if _endpoint_configured():
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    return Tracing(provider)


def _endpoint_configured() -> bool:
    return any(
        os.environ.get(name)
        for name in ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    )
