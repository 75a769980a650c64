"""``python -m <service>``: one runner for every service process.

Owns the order: logging and tracing first (FastAPI instrumented unless tracing is disabled,
asyncpg only when spans are recorded), then the HTTP server whose lifespan starts the runtime and
the metrics port; on SIGTERM/SIGINT uvicorn stops accepting, the runtime drains, spans are
flushed. Owns the HTTP server's own limits too (header bytes).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import uvicorn

from warren import telemetry
from warren.runtime._http import create_app
from warren.runtime._service import Service


def run(build: Callable[[], Service[Any]]) -> None:
    """Build the service from its composition root and serve it until told to stop."""
    service = build()
    settings = service.settings
    telemetry.configure_logging(
        service.name, log_format=settings.log_format, level=settings.log_level
    )
    tracing = telemetry.configure_tracing(service.name)
    app = create_app(service, serve_metrics=True)
    if tracing.provider is not None:  # OTEL_SDK_DISABLED=true: not even no-op server spans
        telemetry.instrument(app, tracing.provider)
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host=settings.http_host,
            port=settings.http_port,
            log_config=None,
            lifespan="on",
            # h11, not httptools: it bounds the request line and headers (a 431-less 400 past
            # MAX_HEADER_BYTES), where httptools buffers whatever it is sent.
            http="h11",
            h11_max_incomplete_event_size=settings.max_header_bytes,
            timeout_graceful_shutdown=int(settings.drain_timeout),
        )
    )
    try:
        server.run()
    finally:
        tracing.shutdown()
    if not server.started:
        raise SystemExit(3)  # startup failed (the log says why)
