"""Telemetry for Warren services: tracing, logs, metrics, the names, trace context on the wire.

The bottom layer: everything else may import it; it imports nothing of Warren. ``attributes``
names every span attribute and event, ``metrics`` every Prometheus metric. Trace context on the
wire (``context``: ``inject``/``extract``) and the HTTP middleware (``http``) are public modules
for the layers above, not for a service.
"""

from warren.telemetry import attributes, metrics
from warren.telemetry._instrumentation import instrument, untraced
from warren.telemetry._logging import LogFormat, add_trace_ids, configure_logging
from warren.telemetry._tracer import tracer, tracing_installed
from warren.telemetry._tracing import Tracing, configure_tracing

__all__ = [
    "LogFormat",
    "Tracing",
    "add_trace_ids",
    "attributes",
    "configure_logging",
    "configure_tracing",
    "instrument",
    "metrics",
    "tracer",
    "tracing_installed",
    "untraced",
]
