"""OTLP over https: Warren's span exporter honours OpenTelemetry's standard TLS variables
(OTEL_EXPORTER_OTLP_CERTIFICATE, _CLIENT_CERTIFICATE, _CLIENT_KEY) against a collector stand-in
that speaks TLS and demands a client certificate; a stranger CA gets no span through, and
requests' own CA variables (REQUESTS_CA_BUNDLE, CURL_CA_BUNDLE) do not replace the configured CA."""

from __future__ import annotations

import http.server
import ssl
import threading
from collections.abc import Iterator

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from tls_setup import SERVER_NAME, Pki

from warren.telemetry._tracing import tracer_provider  # not installed globally


class Collector(http.server.ThreadingHTTPServer):
    """Keeps the bodies POSTed to /v1/traces."""

    bodies: list[bytes]


class _Receive(http.server.BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.path == "/v1/traces":
            self.server.bodies.append(body)  # type: ignore[attr-defined]
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture
def collector(pki: Pki) -> Iterator[Collector]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=str(pki.ca))
    context.verify_mode = ssl.CERT_REQUIRED  # mutual TLS: the exporter must show its certificate
    context.load_cert_chain(pki.server.certificate_file, pki.server.key_file)
    server = Collector(("127.0.0.1", 0), _Receive)
    server.bodies = []
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def export_one_span(
    monkeypatch: pytest.MonkeyPatch, collector: Collector, ca: str, pki: Pki
) -> None:
    port = collector.server_address[1]
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "otlp")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", f"https://{SERVER_NAME}:{port}")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_CERTIFICATE", ca)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE", str(pki.client_certificate))
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_CLIENT_KEY", str(pki.client_key))
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TIMEOUT", "5")
    provider = tracer_provider("tls-probe")
    assert provider is not None
    with provider.get_tracer("tls").start_as_current_span("over https"):
        pass
    provider.force_flush(10_000)
    provider.shutdown()


def test_spans_reach_an_https_collector_verified_with_a_client_certificate(
    monkeypatch: pytest.MonkeyPatch, collector: Collector, pki: Pki
) -> None:
    export_one_span(monkeypatch, collector, str(pki.ca), pki)
    assert len(collector.bodies) == 1
    request = ExportTraceServiceRequest.FromString(collector.bodies[0])
    assert request.resource_spans[0].scope_spans[0].spans[0].name == "over https"


def test_a_collector_certificate_from_another_ca_gets_no_span(
    monkeypatch: pytest.MonkeyPatch, collector: Collector, pki: Pki
) -> None:
    export_one_span(monkeypatch, collector, str(pki.other_ca), pki)
    assert collector.bodies == []


def test_the_configured_ca_wins_over_the_ca_variables_of_requests(
    monkeypatch: pytest.MonkeyPatch, collector: Collector, pki: Pki
) -> None:
    # Many images set these for every requests user; they must not replace the collector's CA.
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(pki.other_ca))
    monkeypatch.setenv("CURL_CA_BUNDLE", str(pki.other_ca))
    export_one_span(monkeypatch, collector, str(pki.ca), pki)
    assert len(collector.bodies) == 1
