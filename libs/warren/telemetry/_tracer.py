"""The tracer Warren's own instrumentation uses; a no-op until a provider is configured."""

from __future__ import annotations

from opentelemetry import trace

_INSTRUMENTATION = "warren"


def tracer(name: str = _INSTRUMENTATION) -> trace.Tracer:
    """The tracer for ``name`` from the global provider (no-op when tracing is off)."""
    return trace.get_tracer(name)
