"""Third-party instrumentation of a service: FastAPI server spans and asyncpg client spans.

Owns what is traced besides Warren's own messaging spans: every request except the probes (each
response names its trace in a ``traceparent`` header), every asyncpg query when spans are recorded,
and ``untraced()`` for Warren's bookkeeping queries (outbox polling, probes) that would otherwise
start a new trace each time they run. Nothing is instrumented at import; ``instrument`` is called
by the runner.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.instrumentation.propagators import (
    ResponsePropagator,
    set_global_response_propagator,
)
from opentelemetry.instrumentation.utils import suppress_instrumentation
from opentelemetry.propagators import textmap
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF

UNTRACED_PATHS = ("/healthz", "/readyz", "/metrics")
"""Probe and scrape endpoints: polled every few seconds, never part of a business transaction."""


class TraceparentResponse(ResponsePropagator):
    """Puts the server span's W3C ``traceparent`` on every HTTP response it answers.

    A client (or a person with curl) reads the trace id from it and opens the trace in Jaeger.
    """

    def inject(
        self,
        carrier: Any,
        context: Context | None = None,
        setter: textmap.Setter[Any] = textmap.default_setter,
    ) -> None:
        """Add ``traceparent`` to an ASGI ``http.response.start`` message (others untouched)."""
        if not isinstance(carrier, dict) or carrier.get("type") != "http.response.start":
            return
        span_context = trace.get_current_span(context).get_span_context()
        if not span_context.is_valid:
            return
        setter.set(
            carrier,
            "traceparent",
            f"00-{span_context.trace_id:032x}-{span_context.span_id:016x}"
            f"-{int(span_context.trace_flags):02x}",
        )


def instrument(app: Any, provider: TracerProvider) -> None:
    """Trace ``app``'s requests (except ``UNTRACED_PATHS``) and, if ``provider`` records, queries.

    Requests are always instrumented: even unrecorded, their trace id names the order, its log
    lines and the ``traceparent`` of the response. A query span carries nothing anyone sees
    unless it is recorded, and wrapping every query costs about a third of asyncpg's own client
    time, so asyncpg is instrumented only when the provider's sampler can record a span.
    """
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

    set_global_response_propagator(TraceparentResponse())  # type: ignore[no-untyped-call]
    FastAPIInstrumentor.instrument_app(
        app,
        excluded_urls=",".join(f"{path}$" for path in UNTRACED_PATHS),
        # One server span per request; ASGI send/receive spans only clutter the trace.
        exclude_spans=["receive", "send"],
    )
    if is_recording(provider):
        _instrument_asyncpg()


def is_recording(provider: TracerProvider) -> bool:
    """Whether ``provider`` may record spans (False when its sampler drops every one)."""
    return provider.sampler is not ALWAYS_OFF


def _instrument_asyncpg() -> None:
    from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor

    asyncpg = AsyncPGInstrumentor()  # type: ignore[no-untyped-call]  # untyped upstream
    if not asyncpg.is_instrumented_by_opentelemetry:
        asyncpg.instrument()


@contextmanager
def untraced() -> Iterator[None]:
    """Within this block (and tasks started in it) instrumented libraries record no spans.

    Warren's own spans are unaffected: a publish in here still gets its PRODUCER span, parented
    by the trace context the message carries.
    """
    with suppress_instrumentation():
        yield
