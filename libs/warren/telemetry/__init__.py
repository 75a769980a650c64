"""Telemetry for Warren services: tracing, its attribute names, trace context on the wire.

The bottom layer: everything else may import it; it imports nothing of Warren.
"""

from warren.telemetry import attributes
from warren.telemetry._context import extract, inject
from warren.telemetry._tracer import tracer

__all__ = ["attributes", "extract", "inject", "tracer"]
