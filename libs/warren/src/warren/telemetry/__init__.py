"""Telemetry for Warren services: tracing, logs, metrics, the names, trace context on the wire.

The bottom layer: everything else may import it; it imports nothing of Warren. ``attributes``
names every span attribute and event, ``metrics`` every Prometheus metric.
"""

from warren.telemetry import attributes, metrics
from warren.telemetry._context import extract, inject
from warren.telemetry._http import RequestTelemetry
from warren.telemetry._instrumentation import instrument, untraced
from warren.telemetry._logging import LogFormat, add_trace_ids, configure_logging
from warren.telemetry._tracer import tracer, tracing_installed
from warren.telemetry._tracing import Tracing, configure_tracing

__all__ = [
    "LogFormat",
    "RequestTelemetry",
    "Tracing",
    "add_trace_ids",
    "attributes",
    "configure_logging",
    "configure_tracing",
    "extract",
    "inject",
    "instrument",
    "metrics",
    "tracer",
    "tracing_installed",
    "untraced",
]
