"""The HTTP edge every service shares: the FastAPI app, its lifespan, health probes, dependencies.

Owns ``/healthz`` (the process is alive), ``/readyz`` (broker and database reachable; the
outbox's freshness as a detail), both open;
``/asyncapi.json`` (the service's AsyncAPI 3 document), the ``store`` and ``writer`` dependencies
routes declare, the app's guards (bearer tokens via ``runtime._auth``, bounded input via
``runtime._limits``) and its lifespan that runs the ``Runtime`` (and, when ``run`` serves it, the
metrics port of ``runtime._metrics``: ``/metrics`` is not on the API port). No SQL, no AMQP here.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel

from warren.runtime._auth import Authenticator, is_secured
from warren.runtime._docs import serve_docs
from warren.runtime._limits import InputLimits, explain_invalid
from warren.runtime._metrics import MetricsServer
from warren.runtime._runtime import Runtime
from warren.runtime._service import Service
from warren.runtime._unit_of_work import Writer
from warren.runtime.asyncapi import asyncapi_document
from warren.telemetry.http import RequestTelemetry

health = APIRouter(tags=["health"])


class Problem(BaseModel):
    """The body of every 4xx answer a route raises: what is wrong, in words."""

    detail: str


NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": Problem, "description": "No such resource"}
}
"""``responses=`` for routes that answer 404, so the OpenAPI document says so."""

UNREADABLE_BODY: dict[int | str, dict[str, Any]] = {
    400: {"model": Problem, "description": "The body could not be read as JSON (e.g. not UTF-8)"},
    413: {"model": Problem, "description": "The body exceeds MAX_BODY_BYTES"},
}
"""``responses=`` for routes that take a JSON body: 400 when it cannot be parsed, 413 too big."""

SECURED: dict[int | str, dict[str, Any]] = {
    401: {"model": Problem, "description": "No bearer token, or one that does not verify"},
    403: {"model": Problem, "description": "The token lacks a scope this route requires"},
}
"""What every route behind ``Scopes(...)`` may answer; ``create_app`` documents it for them."""


@health.get("/healthz", summary="Liveness: the process answers")
async def healthz() -> dict[str, str]:
    """Always 200 while the event loop runs."""
    return {"status": "ok"}


@health.get("/readyz", summary="Readiness: broker and database reachable")
async def readyz(request: Request) -> JSONResponse:
    """200 when the broker connection and the database answer, else 503 naming what is down.

    ``outbox`` details the outbox (``ok``, ``stale`` past ``OUTBOX_STALE_SECONDS``, or
    ``unknown``) without deciding readiness: a stale outbox keeps the pod in its Service, since
    taking it out would stop HTTP writes too while the late rows wait safely in the database.
    """
    runtime = runtime_of(request)
    checks = await runtime.readiness()
    ready = all(checks.values())
    return JSONResponse(
        {
            "status": "ready" if ready else "not ready",
            "checks": checks,
            "outbox": await runtime.outbox_health(),
        },
        status_code=200 if ready else 503,
    )


spec = APIRouter(tags=["asyncapi"])


@spec.get("/asyncapi.json", summary="AsyncAPI 3 document of this service's messaging")
async def asyncapi_json(request: Request) -> dict[str, Any]:
    """The channels, messages and operations this service sends and receives (AsyncAPI 3.0.0)."""
    service = runtime_of(request).service
    return asyncapi_document([service], title=service.title or service.name)


def runtime_of(request: Request) -> Runtime[Any]:
    """The runtime serving this request."""
    runtime: Runtime[Any] = request.app.state.runtime
    return runtime


async def store(request: Request) -> Any:
    """Dependency: the service's store for reads, over the pool itself (no transaction).

    Each query borrows a connection only while it runs, so a request that reads and also writes
    through the ``writer`` never holds two connections at once: no pool starvation under load.
    """
    # (async: a plain def dependency would cost a threadpool hop on every request)
    runtime = runtime_of(request)
    pool: Any = runtime.database.pool  # a Pool answers fetch/fetchrow/execute like a connection
    return runtime.service.store(pool)


async def writer(request: Request) -> Writer[Any]:
    """Dependency: the one write path (transaction + outbox) for commands."""
    return runtime_of(request).writer


def create_app(service: Service[Any], *, serve_metrics: bool = False) -> FastAPI:
    """The service's FastAPI app; its lifespan starts and stops the ``Runtime``.

    With ``serve_metrics`` (what ``run`` asks for) the lifespan also serves ``/metrics`` on
    ``METRICS_PORT``; tests that drive the app in-process leave it off and read the registry.
    """
    runtime = Runtime(service)
    settings = service.settings

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.runtime = runtime
        await runtime.start()
        metrics = None
        try:
            if serve_metrics and settings.metrics_port:
                metrics = MetricsServer(runtime, settings.http_host, settings.metrics_port)
                await metrics.start()
            yield
        finally:
            if metrics is not None:
                await metrics.stop()
            await runtime.stop()

    title = service.title or service.name
    app = FastAPI(title=title, lifespan=lifespan, docs_url=None, redoc_url=None)
    serve_docs(app, title)  # Swagger UI and ReDoc from this process, never a CDN
    app.state.runtime = runtime
    app.state.authenticator = Authenticator.from_settings(settings)
    app.add_exception_handler(RequestValidationError, explain_invalid)
    app.add_middleware(
        InputLimits,
        max_body_bytes=settings.max_body_bytes,
        max_headers=settings.max_headers,
        max_header_bytes=settings.max_header_bytes,
        max_json_depth=settings.max_json_depth,
    )
    # outermost: it also counts (and in development logs) the refusals
    app.add_middleware(RequestTelemetry, log_requests=settings.logs_activity)
    app.include_router(health)
    app.include_router(spec)
    if service.router is not None:
        for route in service.router.routes:  # (idempotent: the same answers every time)
            if isinstance(route, APIRoute) and is_secured(route.dependant):
                route.responses = {**SECURED, **route.responses}
        app.include_router(service.router)
    return app
