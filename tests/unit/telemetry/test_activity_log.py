"""One INFO line per HTTP request in development (probes excluded); none by default elsewhere."""

from __future__ import annotations

import httpx
import pytest
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from structlog.testing import capture_logs

from warren.runtime import ServiceSettings
from warren.telemetry.http import RequestTelemetry


def _app(log_requests: bool) -> RequestTelemetry:
    async def hello(request: object) -> PlainTextResponse:
        return PlainTextResponse("hi", status_code=201)

    routes = [Route("/hello", hello), Route("/healthz", hello)]
    return RequestTelemetry(Starlette(routes=routes), log_requests=log_requests)


@pytest.mark.parametrize("log_requests", [True, False])
async def test_a_request_is_logged_only_when_asked(log_requests: bool) -> None:
    transport = httpx.ASGITransport(app=_app(log_requests))
    with capture_logs() as logs:
        async with httpx.AsyncClient(transport=transport, base_url="http://app") as http:
            await http.get("/hello")
            await http.get("/healthz")

    lines = [entry for entry in logs if entry["event"] == "request"]
    if not log_requests:
        assert lines == []
        return
    assert [(e["method"], e["path"], e["status"]) for e in lines] == [("GET", "/hello", 201)]
    assert lines[0]["log_level"] == "info"


def test_activity_lines_are_on_in_development_only_unless_set() -> None:
    assert ServiceSettings(service="s", environment="development").logs_activity
    assert not ServiceSettings(service="s", environment="test").logs_activity
    assert ServiceSettings(service="s", environment="test", log_activity=True).logs_activity
