"""W3C trace context in AMQP headers: inject on publish, extract on consume.

Owns the carrier conversion only; the propagator is OpenTelemetry's global one.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace

from warren.telemetry._tracer import tracing_installed


def inject(headers: dict[str, Any], context: otel_context.Context | None = None) -> dict[str, Any]:
    """Add ``traceparent``/``tracestate`` for ``context`` (default: current) to ``headers``.

    Without a tracer provider and outside any trace (a service that neither traces nor consumed
    a traced message) there is nothing to carry, and the propagators are not asked.
    """
    outside_any_trace = not trace.get_current_span().get_span_context().is_valid
    if context is None and outside_any_trace and not tracing_installed():
        return headers
    propagate.inject(headers, context=context)
    return headers


def extract(headers: Mapping[str, Any] | None) -> otel_context.Context:
    """The trace context carried by AMQP ``headers`` (bytes values are decoded)."""
    carrier: dict[str, str] = {}
    for key in ("traceparent", "tracestate"):
        value = (headers or {}).get(key)
        if isinstance(value, bytes):
            value = value.decode("ascii", "replace")
        if isinstance(value, str):
            carrier[key] = value
    return propagate.extract(carrier)
