"""Telemetry for Warren services: tracing, logs, the attribute names, trace context on the wire.

The bottom layer: everything else may import it; it imports nothing of Warren.
"""

from warren.telemetry import attributes
from warren.telemetry._context import extract, inject
from warren.telemetry._logging import LogFormat, add_trace_ids, configure_logging
from warren.telemetry._tracer import tracer
from warren.telemetry._tracing import Tracing, configure_tracing

__all__ = [
    "LogFormat",
    "Tracing",
    "add_trace_ids",
    "attributes",
    "configure_logging",
    "configure_tracing",
    "extract",
    "inject",
    "tracer",
]
