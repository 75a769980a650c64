"""Observability end to end: the four services as processes export their spans over OTLP/HTTP
to a receiver this test runs, log JSON lines and serve ``/metrics``.

One order is one trace: the HTTP request that placed it is the root, every publish (through the
outbox) and every consume in all four services hang below it, each CONSUMER span the child of the
PRODUCER span of the message it handled. The services' log lines about the order carry its trace
id, and their counters move by what the orders did.

This suite runs apart from the session's (free ports picked at start, its own vhost and databases)
because it exports spans, which the session's suite does not.
"""

from __future__ import annotations

import asyncio
import gzip
import io
import json
import threading
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span as ProtoSpan
from prometheus_client.parser import text_string_to_metric_families

from warren.cli._project import load_project
from warren.runtime import Issuer
from warren.runtime.suite import Suite
from warren.testing import Servers, drop_databases, free_ports, fresh_vhost, wait_until

SERVICES = load_project(Path(__file__).parent).services  # [tool.warren], in start order
SERVER, CLIENT = ProtoSpan.SPAN_KIND_SERVER, ProtoSpan.SPAN_KIND_CLIENT
PRODUCER, CONSUMER = ProtoSpan.SPAN_KIND_PRODUCER, ProtoSpan.SPAN_KIND_CONSUMER
PUBLISHER = {"order": "orders", "stock": "inventory", "payment": "payments"}

# (service, kind, event type) of every messaging span one order causes, per outcome.
HAPPY = Counter(
    [
        ("orders", PRODUCER, "order.placed.v1"),
        ("inventory", CONSUMER, "order.placed.v1"),
        ("inventory", PRODUCER, "stock.reserved.v1"),
        ("payments", CONSUMER, "stock.reserved.v1"),
        ("orders", CONSUMER, "stock.reserved.v1"),
        ("payments", PRODUCER, "payment.captured.v1"),
        ("orders", CONSUMER, "payment.captured.v1"),
        ("orders", PRODUCER, "order.confirmed.v1"),
        ("notifications", CONSUMER, "order.confirmed.v1"),
    ]
)
DECLINED = Counter(
    [
        ("orders", PRODUCER, "order.placed.v1"),
        ("inventory", CONSUMER, "order.placed.v1"),
        ("inventory", PRODUCER, "stock.reserved.v1"),
        ("payments", CONSUMER, "stock.reserved.v1"),
        ("orders", CONSUMER, "stock.reserved.v1"),
        ("payments", PRODUCER, "payment.declined.v1"),
        ("orders", CONSUMER, "payment.declined.v1"),
        ("orders", PRODUCER, "order.cancelled.v1"),
        ("inventory", CONSUMER, "order.cancelled.v1"),
        ("notifications", CONSUMER, "order.cancelled.v1"),
        ("payments", CONSUMER, "order.cancelled.v1"),  # nothing captured: nothing to refund
        ("inventory", PRODUCER, "stock.released.v1"),  # kept in inventory.unrouted
    ]
)


@dataclass(frozen=True)
class Received:
    """One exported span, as the receiver decoded it."""

    service: str
    name: str
    kind: int
    trace_id: str
    span_id: str
    parent_id: str
    attributes: dict[str, Any]
    links: tuple[tuple[str, str], ...]
    events: tuple[str, ...]

    @property
    def event_type(self) -> str:
        return str(self.attributes.get("cloudevents.event_type", ""))


@dataclass
class OtlpReceiver:
    """An OTLP/HTTP endpoint: ``POST /v1/traces`` with protobuf bodies, spans kept in memory."""

    spans: list[Received] = field(default_factory=list)
    requests: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadingHTTPServer | None = None

    @property
    def endpoint(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                if self.path != "/v1/traces":
                    self.send_error(404)
                    return
                receiver.keep(ExportTraceServiceRequest.FromString(body))
                reply = ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *_: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def keep(self, request: ExportTraceServiceRequest) -> None:
        decoded = []
        for resource_spans in request.resource_spans:
            resource = _attributes(resource_spans.resource.attributes)
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    decoded.append(
                        Received(
                            service=str(resource["service.name"]),
                            name=span.name,
                            kind=span.kind,
                            trace_id=span.trace_id.hex(),
                            span_id=span.span_id.hex(),
                            parent_id=span.parent_span_id.hex(),
                            attributes=_attributes(span.attributes),
                            links=tuple((ln.trace_id.hex(), ln.span_id.hex()) for ln in span.links),
                            events=tuple(event.name for event in span.events),
                        )
                    )
        with self._lock:
            self.spans.extend(decoded)
            self.requests += 1

    def trace(self, trace_id: str) -> list[Received]:
        with self._lock:
            return [span for span in self.spans if span.trace_id == trace_id]


@dataclass
class TracedShop:
    """The suite with tracing on, its receiver, its output and an HTTP client per service."""

    suite: Suite
    receiver: OtlpReceiver
    output: io.StringIO
    log_dir: Path
    http: dict[str, httpx.AsyncClient]
    issuer: Issuer

    async def place_order(self, customer: str, sku: str, quantity: int = 1) -> httpx.Response:
        body = {
            "currency": "EUR",
            "lines": [{"sku": sku, "quantity": quantity}],
        }
        token = self.issuer.token(customer, ["orders:write"])
        response = await self.http["orders"].post(
            "/orders", json=body, headers={"Authorization": f"Bearer {token}"}
        )
        assert response.status_code == 202, response.text
        return response

    async def outcome(self, order_id: str) -> dict[str, Any]:
        async def terminal() -> dict[str, Any] | None:
            order = (await self.http["orders"].get(f"/orders/{order_id}")).json()
            return order if order["status"] in {"confirmed", "cancelled"} else None

        found: dict[str, Any] = await wait_until(
            terminal, timeout=15, interval=0.1, what=f"order {order_id} terminal"
        )
        return found

    def log_lines(self) -> list[dict[str, Any]]:
        """Every JSON line the services wrote so far, with the service that wrote it."""
        lines = []
        for raw in self.output.getvalue().splitlines():
            name, _, text = raw.partition(" | ")
            if text.startswith("{"):
                lines.append({"_process": name.strip(), **json.loads(text)})
        return lines

    async def metrics(self, service: str) -> list[tuple[str, dict[str, str], float]]:
        # /metrics is served on the metrics port, not the API's
        response = await self.http[service].get(self.suite.services[service].metrics_url)
        response.raise_for_status()
        return [
            (sample.name, sample.labels, sample.value)
            for family in text_string_to_metric_families(response.text)
            for sample in family.samples
        ]


@pytest.fixture(scope="module")
def receiver() -> Iterator[OtlpReceiver]:
    started = OtlpReceiver()
    started.start()
    yield started
    started.stop()


@pytest.fixture(scope="module")
async def traced_shop(
    servers: Servers,
    receiver: OtlpReceiver,
    tmp_path_factory: pytest.TempPathFactory,
    issuer: Issuer,
    operator_token: str,
) -> AsyncIterator[TracedShop]:
    prefix = f"warren_otel_{uuid.uuid4().hex[:8]}_"
    log_dir = tmp_path_factory.mktemp("traced-suite-logs")
    output = io.StringIO()
    async with fresh_vhost(servers.amqp_url, servers.management_url, prefix="warren-otel") as url:
        env = {
            "AMQP_URL": url,
            "DATABASE_URL": servers.database_url,
            "DATABASE_PREFIX": prefix,
            "RABBITMQ_MANAGEMENT_URL": servers.management_url,
            "ENVIRONMENT": "test",
            "LOG_FORMAT": "json",
            "LOG_LEVEL": "DEBUG",  # one "message handled" line per consumed message
            "RETRY_DELAYS": "[0.1, 0.2, 0.4]",
            "DRAIN_TIMEOUT": "5",
            "PAYMENT_FAILURE_RATE": "0",
            "PAYMENT_LIMITS": '{"bob": 1000}',  # one TEA-BLACK (11.90 EUR) is above it
            "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint,
            "OTEL_BSP_SCHEDULE_DELAY": "100",
            "OTEL_TRACES_SAMPLER": "parentbased_always_on",
            **issuer.settings(),
        }
        ports = free_ports([*SERVICES, *(f"{name}-metrics" for name in SERVICES)])
        metrics_ports = {name: ports[f"{name}-metrics"] for name in SERVICES}
        suite = Suite(
            SERVICES,
            env=env,
            ports=ports,
            metrics_ports=metrics_ports,
            output=output,
            log_dir=log_dir,
        )
        operator = {"Authorization": f"Bearer {operator_token}"}
        http = {
            name: httpx.AsyncClient(base_url=service.url, timeout=10, headers=operator)
            for name, service in suite.services.items()
        }
        try:
            await suite.start(timeout=60)
            yield TracedShop(suite, receiver, output, log_dir, http, issuer)
        finally:
            for client in http.values():
                await client.aclose()
            await suite.stop()
            await drop_databases(servers.database_url, prefix)


@pytest.mark.parametrize(
    ("customer", "sku", "status", "expected"),
    [
        ("alice", "TEA-GREEN", "confirmed", HAPPY),
        ("bob", "TEA-BLACK", "cancelled", DECLINED),  # above bob's payment limit
    ],
    ids=["happy", "declined"],
)
async def test_one_order_is_one_trace_across_all_four_services(
    traced_shop: TracedShop,
    customer: str,
    sku: str,
    status: str,
    expected: Counter[tuple[str, int, str]],
) -> None:
    placed = await traced_shop.place_order(customer, sku)
    order_id = placed.json()["order_id"]
    order = await traced_shop.outcome(order_id)
    assert order["status"] == status
    trace_id = order["trace_id"]
    assert len(trace_id) == 32
    # The response named the same trace, so a client can jump to it.
    assert placed.headers["traceparent"].split("-")[1] == trace_id

    receiver = traced_shop.receiver
    spans = await _wait_for_spans(receiver, trace_id, expected)
    by_id = {span.span_id: span for span in spans}

    # Every span about this order, in any service, is in this one trace.
    about_order = [s for s in receiver.spans if s.attributes.get(_CONVERSATION) == order_id]
    assert {s.trace_id for s in about_order} == {trace_id}
    assert {s.service for s in spans} == set(SERVICES)
    assert Counter(_messaging(spans)) == expected  # exactly these publishes and consumes

    # The HTTP request that placed the order is the root; nothing hangs loose (outbox included).
    [root] = [s for s in spans if not s.parent_id]
    assert (root.service, root.kind, root.attributes.get("http.route")) == (
        "orders",
        SERVER,
        "/orders",
    )
    assert root.name == "POST /orders"
    assert all(s.parent_id in by_id for s in spans if s is not root)
    [first_publish] = [s for s in spans if s.event_type == "order.placed.v1" and s.kind == PRODUCER]
    assert first_publish.parent_id == root.span_id  # the relay continued the request's trace

    for span in spans:
        if span.kind == CONSUMER:
            _assert_consumer(span, by_id, order_id)
        elif span.kind == PRODUCER:
            _assert_producer(span, order_id)
    # The database calls are in the trace too, in every service that stores something.
    assert {s.service for s in spans if s.kind == CLIENT and "db.system" in str(s.attributes)} >= {
        "orders",
        "inventory",
        "payments",
        "notifications",
    }


async def test_log_lines_about_an_order_carry_its_trace_id(traced_shop: TracedShop) -> None:
    placed = await traced_shop.place_order("carol", "MUG-BLUE")
    order_id = placed.json()["order_id"]
    order = await traced_shop.outcome(order_id)
    trace_id = order["trace_id"]
    spans = await _wait_for_spans(traced_shop.receiver, trace_id, HAPPY)
    message_ids = {s.attributes[_MESSAGE_ID] for s in spans if s.kind == CONSUMER}

    async def handled_everywhere() -> list[dict[str, Any]]:
        lines = [line for line in traced_shop.log_lines() if line.get("event_id") in message_ids]
        return lines if {line["service"] for line in lines} == set(SERVICES) else []

    lines = await wait_until(handled_everywhere, timeout=10, what="a handled line per service")
    assert {line["trace_id"] for line in lines} == {trace_id}
    for line in lines:
        span = next(s for s in spans if s.span_id == line["span_id"])
        assert span.kind == CONSUMER  # logged inside the CONSUMER span of that message
        assert span.service == line["service"] == line["_process"]
        assert line["event_type"] == span.event_type
    assert {line["event"] for line in lines} == {"message handled"}
    # The same lines go to the suite's log directory (one JSON file per service).
    assert sorted(p.name for p in traced_shop.log_dir.iterdir()) == sorted(
        f"{name}.log" for name in SERVICES
    )


async def test_metrics_count_what_the_orders_did(traced_shop: TracedShop) -> None:
    orders = 3
    before = {name: await traced_shop.metrics(name) for name in SERVICES}
    placed = [
        (await traced_shop.place_order("dave", "TEA-GREEN")).json()["order_id"]
        for _ in range(orders)
    ]
    for order_id in placed:
        assert (await traced_shop.outcome(order_id))["status"] == "confirmed"

    async def delta(service: str, name: str, **labels: str) -> float:
        after = await traced_shop.metrics(service)
        return _total(after, name, labels) - _total(before[service], name, labels)

    async def notified() -> bool:
        consumed = "warren_messages_consumed_total"
        return await delta("notifications", consumed, event_type="order.confirmed.v1") == orders

    await wait_until(notified, timeout=10, what="every confirmation notified")
    await asyncio.sleep(0.3)  # anything counted twice would show here

    published, consumed = "warren_messages_published_total", "warren_messages_consumed_total"
    expected = [
        ("orders", published, {"event_type": "order.placed.v1", "outcome": "ok"}),
        ("orders", published, {"event_type": "order.confirmed.v1", "outcome": "ok"}),
        ("inventory", consumed, {"event_type": "order.placed.v1", "outcome": "ack"}),
        ("inventory", published, {"event_type": "stock.reserved.v1", "outcome": "ok"}),
        ("payments", consumed, {"event_type": "stock.reserved.v1", "outcome": "ack"}),
        ("payments", published, {"event_type": "payment.captured.v1", "outcome": "ok"}),
        ("orders", consumed, {"event_type": "stock.reserved.v1", "outcome": "ack"}),
        ("orders", consumed, {"event_type": "payment.captured.v1", "outcome": "ack"}),
        ("notifications", consumed, {"event_type": "order.confirmed.v1", "outcome": "ack"}),
        ("payments", "warren_handler_duration_seconds_count", {"event_type": "stock.reserved.v1"}),
        ("orders", "warren_http_requests_total", {"route": "/orders", "status": "202"}),
        ("orders", "warren_http_request_duration_seconds_count", {"route": "/orders"}),
        ("payments", "warren_outbox_publish_lag_seconds_count", {}),
    ]
    for service, name, labels in expected:
        assert await delta(service, name, **labels) == orders, (service, name, labels)
    assert await delta("orders", "warren_outbox_publish_lag_seconds_count") == 2 * orders
    for name in ("warren_messages_retried_total", "warren_messages_dead_lettered_total"):
        assert await delta("payments", name) == 0
    reads = await delta("orders", "warren_http_requests_total", route="/orders/{order_id}")
    assert reads >= orders  # each outcome() polled it at least once
    for service in SERVICES:
        after = await traced_shop.metrics(service)
        assert _total(after, "warren_outbox_pending_messages", {}) == 0
        assert any(name == "warren_outbox_oldest_pending_age_seconds" for name, *_ in after)


async def test_responses_carry_traceparent_probes_are_not_traced(traced_shop: TracedShop) -> None:
    http = traced_shop.http["inventory"]
    stock = await http.get("/stock/TEA-GREEN")
    version, trace_id, span_id, flags = stock.headers["traceparent"].split("-")
    assert (version, len(trace_id), len(span_id)) == ("00", 32, 16)
    assert int(flags, 16) & 1  # sampled
    server = await wait_until(
        lambda: _now([s for s in traced_shop.receiver.trace(trace_id) if s.span_id == span_id]),
        timeout=5,
        what="the server span of GET /stock/{sku}",
    )
    assert (server[0].kind, server[0].service) == (SERVER, "inventory")
    metrics_url = traced_shop.suite.services["inventory"].metrics_url
    for probe in ("/healthz", "/readyz", metrics_url):
        assert "traceparent" not in (await http.get(probe)).headers


_CONVERSATION = "messaging.message.conversation_id"
_MESSAGE_ID = "messaging.message.id"


def _messaging(spans: list[Received]) -> list[tuple[str, int, str]]:
    return [(s.service, s.kind, s.event_type) for s in spans if s.kind in (PRODUCER, CONSUMER)]


async def _wait_for_spans(
    receiver: OtlpReceiver, trace_id: str, expected: Counter[tuple[str, int, str]]
) -> list[Received]:
    async def complete() -> list[Received]:
        spans = receiver.trace(trace_id)
        return spans if not expected - Counter(_messaging(spans)) else []

    await wait_until(complete, timeout=15, interval=0.1, what=f"the spans of trace {trace_id}")
    await asyncio.sleep(0.5)  # the last database spans, and any surplus span, arrive here
    return receiver.trace(trace_id)


def _assert_consumer(span: Received, by_id: dict[str, Received], order_id: str) -> None:
    parent = by_id[span.parent_id]
    assert parent.kind == PRODUCER, span
    assert parent.attributes[_MESSAGE_ID] == span.attributes[_MESSAGE_ID]
    assert parent.event_type == span.event_type
    attributes = span.attributes
    assert attributes["messaging.system"] == "rabbitmq"
    assert attributes["messaging.operation.type"] == "process"
    assert str(attributes["messaging.destination.name"]).startswith(f"{span.service}.")
    assert attributes["messaging.rabbitmq.destination.routing_key"] == span.event_type
    assert attributes[_CONVERSATION] == order_id
    assert attributes["warren.outcome"] == "ack"
    assert span.name == f"process {attributes['messaging.destination.name']}"


def _assert_producer(span: Received, order_id: str) -> None:
    publisher = PUBLISHER[span.event_type.split(".")[0]]
    attributes = span.attributes
    assert span.service == publisher
    assert attributes["messaging.system"] == "rabbitmq"
    assert attributes["messaging.operation.type"] == "send"
    assert attributes["messaging.destination.name"] == f"{publisher}.events"
    assert attributes["messaging.rabbitmq.destination.routing_key"] == span.event_type
    assert attributes[_CONVERSATION] == order_id
    assert len(str(attributes[_MESSAGE_ID])) == 36
    assert span.name == f"publish {publisher}.events"


def _total(
    samples: list[tuple[str, dict[str, str], float]], name: str, labels: dict[str, str]
) -> float:
    return sum(
        value
        for sample, sample_labels, value in samples
        if sample == name and labels.items() <= sample_labels.items()
    )


def _attributes(pairs: Any) -> dict[str, Any]:
    return {pair.key: _value(pair.value) for pair in pairs}


def _value(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    return getattr(value, kind) if kind else None


async def _now(value: Any) -> Any:
    return value
