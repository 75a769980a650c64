"""HTTP telemetry: requests counted by route template and status (never the raw path), probes
untraced, and the ``traceparent`` response header naming the server span."""

from __future__ import annotations

import httpx
from fastapi import FastAPI, HTTPException
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.instrumentation.utils import is_instrumentation_enabled
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from prometheus_client import REGISTRY

from warren.telemetry._instrumentation import TraceparentResponse
from warren.telemetry.http import RequestTelemetry


def app_with_routes(seen: dict[str, bool]) -> FastAPI:
    app = FastAPI()
    app.add_middleware(RequestTelemetry)

    @app.get("/things/{thing_id}")
    async def thing(thing_id: int) -> dict[str, int]:
        if thing_id == 0:
            raise HTTPException(404, "no such thing")
        if thing_id < 0:
            raise RuntimeError("bug")
        seen["traced"] = is_instrumentation_enabled()
        return {"thing_id": thing_id}

    @app.get("/readyz")
    async def readyz() -> dict[str, str]:
        seen["probe traced"] = is_instrumentation_enabled()
        return {"status": "ready"}

    return app


def requests(route: str, status: int, method: str = "GET") -> float:
    labels = {"method": method, "route": route, "status": str(status)}
    return REGISTRY.get_sample_value("warren_http_requests_total", labels) or 0.0


def duration_count(route: str, status: int) -> float:
    labels = {"method": "GET", "route": route, "status": str(status)}
    return REGISTRY.get_sample_value("warren_http_request_duration_seconds_count", labels) or 0.0


async def test_requests_are_counted_by_route_template_and_status() -> None:
    seen: dict[str, bool] = {}
    app = app_with_routes(seen)
    template = "/things/{thing_id}"
    before = {
        "ok": requests(template, 200),
        "missing": requests(template, 404),
        "crash": requests(template, 500),
        "unmatched": requests("unmatched", 404),
        "latency": duration_count(template, 200),
    }
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        for thing_id in (1, 2, 3):
            assert (await http.get(f"/things/{thing_id}")).status_code == 200
        assert (await http.get("/things/0")).status_code == 404
        assert (await http.get("/things/-1")).status_code == 500
        assert (await http.get("/nowhere/at/all")).status_code == 404
        assert (await http.get("/readyz")).status_code == 200

    assert requests(template, 200) - before["ok"] == 3
    assert duration_count(template, 200) - before["latency"] == 3
    assert requests(template, 404) - before["missing"] == 1
    assert requests(template, 500) - before["crash"] == 1
    assert requests("unmatched", 404) - before["unmatched"] == 1
    assert requests("/things/1", 200) == 0  # never the raw path
    assert seen == {"traced": True, "probe traced": False}


def test_traceparent_response_header_names_the_server_span() -> None:
    provider = TracerProvider()
    with provider.get_tracer("test").start_as_current_span("GET /orders/{order_id}") as span:
        server = trace.set_span_in_context(span, otel_context.Context())
    ids = span.get_span_context()
    start = {"type": "http.response.start", "status": 200, "headers": [(b"a", b"b")]}
    body = {"type": "http.response.body", "body": b"{}"}

    for message in (start, body):
        TraceparentResponse().inject(message, context=server, setter=_AsgiHeaders())

    traceparent = f"00-{ids.trace_id:032x}-{ids.span_id:016x}-{int(ids.trace_flags):02x}"
    assert start["headers"] == [(b"a", b"b"), (b"traceparent", traceparent.encode())]
    assert "headers" not in body
    # The same header the W3C propagator writes on AMQP messages: one format everywhere.
    carrier: dict[str, str] = {}
    TraceContextTextMapPropagator().inject(carrier, context=server)
    assert carrier["traceparent"] == traceparent


def test_no_traceparent_without_a_span() -> None:
    start: dict[str, object] = {"type": "http.response.start", "status": 200, "headers": []}
    TraceparentResponse().inject(start, context=otel_context.Context(), setter=_AsgiHeaders())
    assert start["headers"] == []


class _AsgiHeaders:
    """The setter the ASGI instrumentation passes: appends (name, value) byte pairs."""

    def set(self, carrier: dict[str, list[tuple[bytes, bytes]]], key: str, value: str) -> None:
        carrier.setdefault("headers", []).append((key.encode(), value.encode()))
