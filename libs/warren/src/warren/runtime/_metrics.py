"""The Prometheus scrape endpoint, served on its own port (``METRICS_PORT``, default 9464).

Owns the small ASGI app that answers ``GET /metrics`` and the server that runs it inside the
service's event loop. Why a port of its own: the ingress exposes only the API port, so metrics
(queue names, event types, error counts) never reach the public surface and need no token;
Prometheus scrapes this port and a network policy lets only it in.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from warren import telemetry
from warren.runtime._runtime import Runtime


def metrics_app(runtime: Runtime[Any]) -> Starlette:
    """An app with one route, ``GET /metrics``, in the Prometheus text format."""

    async def metrics(request: Request) -> Response:
        if runtime.relay is not None:  # started: the database and the broker are there to ask
            await asyncio.gather(runtime.relay.measure_backlog(), runtime.broker.measure_unrouted())
        body, content_type = telemetry.metrics.exposition()
        return Response(body, media_type=content_type)

    return Starlette(routes=[Route("/metrics", metrics, methods=["GET"])])


class _EmbeddedServer(uvicorn.Server):
    """A uvicorn server inside another's event loop: the outer server owns the signals."""

    @contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class MetricsServer:
    """Serves ``metrics_app`` on ``host:port`` from ``start()`` until ``stop()``."""

    def __init__(self, runtime: Runtime[Any], host: str, port: int) -> None:
        self.host = host
        self.port = port
        config = uvicorn.Config(
            metrics_app(runtime), lifespan="off", log_config=None, access_log=False, http="h11"
        )
        self._server = _EmbeddedServer(config)
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Bind (an ``OSError`` if the port is taken: startup fails loudly) and serve."""
        listening = socket.create_server((self.host, self.port), reuse_port=False)
        self.port = listening.getsockname()[1]
        self._task = asyncio.create_task(self._server.serve(sockets=[listening]))

    async def stop(self) -> None:
        """Stop serving."""
        if self._task is None:
            return
        self._server.should_exit = True
        await self._task
