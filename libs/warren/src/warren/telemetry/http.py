"""HTTP request telemetry as ASGI middleware: request count and latency, untraced probes.

Owns the ``warren_http_*`` metrics of a service's API, labelled by the route *template*
(``/orders/{order_id}``, never the raw path, so an id cannot explode the label set) and status,
and keeps probe and scrape requests out of traces. Server spans are FastAPI instrumentation's job.
"""

from __future__ import annotations

import time
from typing import Any

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from warren.telemetry import metrics
from warren.telemetry._instrumentation import UNTRACED_PATHS, untraced

UNMATCHED = "unmatched"
"""The ``route`` label of a request no route matched (a 404 for an unknown path)."""


_log = structlog.get_logger("warren.http")


class RequestTelemetry:
    """ASGI middleware: ``app.add_middleware(RequestTelemetry)``."""

    def __init__(self, app: ASGIApp, *, log_requests: bool = False) -> None:
        self.app = app
        self.log_requests = log_requests  # one INFO line per request (development)
        self._children: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer the request through the app and count it, whatever happens."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500  # what the client gets if the app raises before answering

        async def send_and_note(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        started = time.perf_counter()
        try:
            if scope["path"] in UNTRACED_PATHS:
                with untraced():
                    await self.app(scope, receive, send_and_note)
            else:
                await self.app(scope, receive, send_and_note)
        finally:
            seconds = time.perf_counter() - started
            self._observe(scope, status, seconds)
            if self.log_requests and scope["path"] not in UNTRACED_PATHS:
                _log.info(
                    "request",
                    method=scope["method"],
                    path=scope["path"],
                    status=status,
                    duration_ms=round(seconds * 1000, 1),
                )

    def _observe(self, scope: Scope, status: int, seconds: float) -> None:
        route = getattr(scope.get("route"), "path", None) or UNMATCHED
        key = (scope["method"], route, status)
        children = self._children.get(key)
        if children is None:
            labels = (key[0], route, str(status))
            children = self._children[key] = (
                metrics.HTTP_REQUESTS.labels(*labels),
                metrics.HTTP_REQUEST_DURATION.labels(*labels),
            )
        count, duration = children
        count.inc()
        duration.observe(seconds)
