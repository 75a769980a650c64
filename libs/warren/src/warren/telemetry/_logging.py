"""Structured logs: structlog for Warren and the stdlib loggers (uvicorn, aio-pika, asyncpg) alike.

Owns the logging pipeline: context variables (service, event id/type), the current trace and span
ids on every line, JSON in production and readable console output in a terminal.
"""

from __future__ import annotations

import logging
import sys
from typing import Any, Literal

import structlog
from opentelemetry import trace

LogFormat = Literal["auto", "json", "console"]


def add_trace_ids(_: Any, __: str, event: dict[str, Any]) -> dict[str, Any]:
    """Processor: the current span's ``trace_id``/``span_id`` (hex), when there is one."""
    context = trace.get_current_span().get_span_context()
    if context.is_valid:
        event.setdefault("trace_id", format(context.trace_id, "032x"))
        event.setdefault("span_id", format(context.span_id, "016x"))
    return event


def configure_logging(service: str, *, log_format: LogFormat = "auto", level: str = "INFO") -> None:
    """Route structlog and stdlib logging through one pipeline that stamps ``service`` on lines."""
    is_console = log_format == "console" or (log_format == "auto" and sys.stderr.isatty())
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        add_trace_ids,
        _stamp(service),
    ]
    renderer: Any = (
        structlog.dev.ConsoleRenderer() if is_console else structlog.processors.JSONRenderer()
    )
    structlog.configure(
        # Level first: a filtered-out line (debug on a hot path) costs one check, not a render.
        processors=[
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler()
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[*shared, structlog.processors.format_exc_info],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("aio_pika", "aiormq", "httpx"):
        logging.getLogger(noisy).setLevel(max(root.level, logging.WARNING))
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)


def _stamp(service: str) -> Any:
    def stamp(_: Any, __: str, event: dict[str, Any]) -> dict[str, Any]:
        event.setdefault("service", service)
        return event

    return stamp
