"""Warren's OTLP/HTTP exporter reads the standard OTEL_EXPORTER_OTLP_* variables as
OpenTelemetry's exporter does, posts what ``encode_request`` writes, retries only transient
failures and only within its timeout, and refuses to export once shut down. The collector here
is a real HTTP server on a local port that answers from a script."""

from __future__ import annotations

import gzip
import http.server
import logging
import threading
import time
import zlib
from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from warren.telemetry import _exporter
from warren.telemetry._exporter import MAX_ATTEMPTS, ExportSettings, OtlpExporter
from warren.telemetry._otlp import encode_request

OTLP = (
    "HEADERS",
    "TIMEOUT",
    "COMPRESSION",
    "CERTIFICATE",
    "CLIENT_CERTIFICATE",
    "CLIENT_KEY",
)


class Collector(http.server.ThreadingHTTPServer):
    """Answers each POST with the next scripted (status, headers); 200 once the script ends."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Answer)
        self.script: list[tuple[int, dict[str, str]]] = []
        self.received: list[tuple[dict[str, str], bytes]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1/traces"


class _Answer(http.server.BaseHTTPRequestHandler):
    server: Collector

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
        status, headers = self.server.script.pop(0) if self.server.script else (200, {})
        self.send_response(status)
        for name, value in {**headers, "Content-Length": "0"}.items():
            self.send_header(name, value)
        self.end_headers()

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in OTLP:
        monkeypatch.delenv(f"OTEL_EXPORTER_OTLP_{name}", raising=False)
        monkeypatch.delenv(f"OTEL_EXPORTER_OTLP_TRACES_{name}", raising=False)


@pytest.fixture
def quick_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """Waits of 10, 20, 40 … ms instead of 1, 2, 4 … s: the same schedule, shorter tests."""
    monkeypatch.setattr(_exporter, "_FIRST_BACKOFF", 0.01)


@pytest.fixture
def collector() -> Iterator[Collector]:
    server = Collector()
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


@pytest.fixture
def spans() -> list[ReadableSpan]:
    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    with provider.get_tracer("test").start_as_current_span("publish orders.events"):
        pass
    provider.shutdown()
    return list(memory.get_finished_spans())


def exporter_for(url: str, **settings: Any) -> OtlpExporter:
    return OtlpExporter(ExportSettings(endpoint=url, **settings))


def test_the_traces_variables_win_over_the_general_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, general, traces in [
        ("HEADERS", "a=general", "b=traces,c=x y"),
        ("TIMEOUT", "3", "7.5"),
        ("COMPRESSION", "none", "GZIP"),
        ("CERTIFICATE", "/general/ca.crt", "/traces/ca.crt"),
        ("CLIENT_CERTIFICATE", "/general/client.crt", "/traces/client.crt"),
        ("CLIENT_KEY", "/general/client.key", "/traces/client.key"),
    ]:
        monkeypatch.setenv(f"OTEL_EXPORTER_OTLP_{name}", general)
        monkeypatch.setenv(f"OTEL_EXPORTER_OTLP_TRACES_{name}", traces)

    settings = ExportSettings.from_environment("https://collector:4318/v1/traces")

    assert settings == ExportSettings(
        endpoint="https://collector:4318/v1/traces",
        headers={"b": "traces", "c": "x y"},  # unencoded values are taken, as OpenTelemetry does
        timeout=7.5,
        compression="gzip",
        verify="/traces/ca.crt",
        cert=("/traces/client.crt", "/traces/client.key"),
    )


def test_the_general_variables_apply_when_the_traces_ones_are_unset(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", "authorization=Bearer%20abc")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TIMEOUT", "4")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE", "/tls/client.pem")

    settings = ExportSettings.from_environment("http://collector:4318/v1/traces")

    assert settings.headers == {"authorization": "Bearer abc"}
    assert settings.timeout == 4.0
    assert settings.verify is True  # no CA set: the defaults, as requests has them
    assert settings.cert == "/tls/client.pem"  # a file holding certificate and key
    assert settings.compression == "none"


@pytest.mark.parametrize(
    ("variable", "value", "field", "default"),
    [
        ("OTEL_EXPORTER_OTLP_TIMEOUT", "soon", "timeout", 10.0),
        ("OTEL_EXPORTER_OTLP_TIMEOUT", "-1", "timeout", 10.0),
        ("OTEL_EXPORTER_OTLP_COMPRESSION", "brotli", "compression", "none"),
    ],
)
def test_a_bad_timeout_or_compression_warns_and_takes_the_default(
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    variable: str,
    value: str,
    field: str,
    default: object,
) -> None:
    monkeypatch.setenv(variable, value)
    with caplog.at_level(logging.WARNING, logger=_exporter.__name__):
        settings = ExportSettings.from_environment("http://collector:4318/v1/traces")
    assert getattr(settings, field) == default
    assert value in caplog.text


def test_spans_are_posted_as_otlp_protobuf_with_the_configured_headers(
    collector: Collector, spans: list[ReadableSpan]
) -> None:
    exporter = exporter_for(collector.url, headers={"X-Tenant": "shop"})

    assert exporter.export(spans) is SpanExportResult.SUCCESS

    [(headers, body)] = collector.received
    assert headers["content-type"] == "application/x-protobuf"
    assert headers["x-tenant"] == "shop"
    assert headers["user-agent"].startswith("warren-platform")
    assert body == encode_request(spans)
    exporter.shutdown()


@pytest.mark.parametrize("compression", ["gzip", "deflate"])
def test_a_compressed_body_says_so_and_unpacks_to_the_spans(
    collector: Collector, spans: list[ReadableSpan], compression: str
) -> None:
    exporter = exporter_for(collector.url, compression=compression)

    assert exporter.export(spans) is SpanExportResult.SUCCESS

    [(headers, body)] = collector.received
    assert headers["content-encoding"] == compression
    unpacked = gzip.decompress(body) if compression == "gzip" else zlib.decompress(body)
    request = ExportTraceServiceRequest.FromString(unpacked)
    assert request.resource_spans[0].scope_spans[0].spans[0].name == "publish orders.events"
    exporter.shutdown()


@pytest.mark.parametrize("status", [429, 502, 503, 504])
def test_a_transient_answer_is_tried_again(
    collector: Collector, spans: list[ReadableSpan], quick_backoff: None, status: int
) -> None:
    collector.script = [(status, {}), (status, {"Retry-After": "0"})]
    exporter = exporter_for(collector.url)

    assert exporter.export(spans) is SpanExportResult.SUCCESS

    assert len(collector.received) == 3
    exporter.shutdown()


@pytest.mark.parametrize("status", [400, 401, 404, 413, 500])
def test_any_other_failure_drops_the_batch_at_once(
    collector: Collector, spans: list[ReadableSpan], status: int
) -> None:
    collector.script = [(status, {})]
    exporter = exporter_for(collector.url)

    assert exporter.export(spans) is SpanExportResult.FAILURE

    assert len(collector.received) == 1
    exporter.shutdown()


def test_a_collector_that_never_recovers_gets_a_bounded_number_of_attempts(
    collector: Collector, spans: list[ReadableSpan], quick_backoff: None
) -> None:
    collector.script = [(503, {})] * (MAX_ATTEMPTS + 5)
    exporter = exporter_for(collector.url, timeout=30.0)

    assert exporter.export(spans) is SpanExportResult.FAILURE

    assert len(collector.received) == MAX_ATTEMPTS
    exporter.shutdown()


def test_retries_stop_when_the_next_wait_would_pass_the_timeout(
    collector: Collector, spans: list[ReadableSpan]
) -> None:
    collector.script = [(503, {"Retry-After": "0.3"})] * 10
    exporter = exporter_for(collector.url, timeout=1.0)

    started = time.monotonic()
    assert exporter.export(spans) is SpanExportResult.FAILURE

    assert time.monotonic() - started < 1.0
    # Tried at 0, 0.3, 0.6 (and 0.9 s, unless the machine is slow); 1.2 s is past the timeout.
    assert 3 <= len(collector.received) <= 4
    exporter.shutdown()


def test_a_collector_that_is_not_listening_is_retried_within_the_timeout(
    spans: list[ReadableSpan], quick_backoff: None, caplog: pytest.LogCaptureFixture
) -> None:
    exporter = exporter_for("http://127.0.0.1:9/v1/traces", timeout=2.0)  # discard: closed

    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger=_exporter.__name__):
        assert exporter.export(spans) is SpanExportResult.FAILURE

    assert time.monotonic() - started < 2.0
    assert caplog.text.count("retrying in") == MAX_ATTEMPTS - 1
    exporter.shutdown()


def test_shutdown_cuts_a_retry_wait_short_and_later_exports_fail(
    collector: Collector, spans: list[ReadableSpan]
) -> None:
    collector.script = [(503, {"Retry-After": "20"})]
    exporter = exporter_for(collector.url, timeout=60.0)
    results: list[SpanExportResult] = []
    exporting = threading.Thread(target=lambda: results.append(exporter.export(spans)))
    exporting.start()
    deadline = time.monotonic() + 5
    while not collector.received and time.monotonic() < deadline:
        time.sleep(0.01)

    started = time.monotonic()
    exporter.shutdown()
    exporting.join(timeout=5)

    assert time.monotonic() - started < 1.0
    assert results == [SpanExportResult.FAILURE]
    assert exporter.export(spans) is SpanExportResult.FAILURE
    assert len(collector.received) == 1  # nothing posted after shutdown
    assert exporter.force_flush() is True
