"""One log pipeline: structlog and stdlib lines alike are JSON with the service, the current
trace and span ids and the bound event id/type; filtered-out levels are dropped early."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
import structlog
from opentelemetry.sdk.trace import TracerProvider

from warren.telemetry import configure_logging


@pytest.fixture
def json_logs() -> Iterator[io.StringIO]:
    """``configure_logging`` writing to a buffer; the previous setup is restored after."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    configure_logging("orders", log_format="json", level="INFO")
    buffer = io.StringIO()
    [handler] = root.handlers
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(buffer)
    yield buffer
    root.handlers[:] = handlers
    root.setLevel(level)
    structlog.reset_defaults()


def lines(buffer: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in buffer.getvalue().splitlines() if line]


def test_lines_inside_a_span_carry_trace_span_service_and_event(
    json_logs: io.StringIO,
) -> None:
    tracer = TracerProvider().get_tracer("test")
    with (
        tracer.start_as_current_span("process orders.saga") as span,
        structlog.contextvars.bound_contextvars(event_id="e-1", event_type="order.placed.v1"),
    ):
        structlog.get_logger("warren.test").info("handled", queue="orders.saga")
        logging.getLogger("uvicorn.error").warning("from the stdlib")
        context = span.get_span_context()

    ours, stdlib = lines(json_logs)
    for line in (ours, stdlib):
        assert line["trace_id"] == format(context.trace_id, "032x")
        assert line["span_id"] == format(context.span_id, "016x")
        assert line["service"] == "orders"
        assert line["event_id"] == "e-1"
        assert line["event_type"] == "order.placed.v1"
    assert ours["event"] == "handled"
    assert ours["queue"] == "orders.saga"
    assert (stdlib["event"], stdlib["logger"]) == ("from the stdlib", "uvicorn.error")


def test_lines_outside_a_span_have_no_trace_ids(json_logs: io.StringIO) -> None:
    structlog.get_logger("warren.test").info("started")
    [line] = lines(json_logs)
    assert "trace_id" not in line
    assert line["service"] == "orders"


def test_levels_below_the_configured_one_are_dropped(
    json_logs: io.StringIO,
) -> None:
    log = structlog.get_logger("warren.test")
    log.debug("not shown")
    logging.getLogger("aio_pika").info("chatty library, not shown")
    log.info("shown")
    assert [line["event"] for line in lines(json_logs)] == ["shown"]
