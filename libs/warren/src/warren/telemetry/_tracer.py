"""The tracer Warren's own instrumentation uses; a no-op until a provider is configured."""

from __future__ import annotations

from opentelemetry import trace

_INSTRUMENTATION = "warren"


def tracer(name: str = _INSTRUMENTATION) -> trace.Tracer:
    """The tracer for ``name`` from the global provider (no-op when tracing is off)."""
    return trace.get_tracer(name)


def tracing_installed() -> bool:
    """True once a tracer provider is installed; False while every span would be a no-op.

    The messaging hot path asks this per message to skip making no-op spans (about a tenth of
    the client's CPU per message): spans are made whenever a provider is installed, sampled or
    not, so trace ids still reach the logs.
    """
    global _installed
    if not _installed:  # a provider, once set, is never unset: remember the answer then
        _installed = not isinstance(trace.get_tracer_provider(), _NO_OP_PROVIDERS)
    return _installed


_NO_OP_PROVIDERS = (trace.ProxyTracerProvider, trace.NoOpTracerProvider)
_installed = False
