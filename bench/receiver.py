"""A local OTLP/HTTP trace receiver that accepts every export and discards it.

Runs in a thread of the orchestrator, so traced runs pay the full cost of exporting (protobuf
encoding, HTTP) without a collector's CPU competing with the run. Counts what it received.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class _Discard(BaseHTTPRequestHandler):
    server: OtlpReceiver

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        self.rfile.read(length)
        self.server.requests += 1
        self.server.bytes += length
        self.send_response(200)
        self.send_header("content-type", "application/x-protobuf")
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        return None  # quiet: one line per export would drown the tables


class OtlpReceiver(ThreadingHTTPServer):
    """``with OtlpReceiver() as receiver:`` then point ``OTEL_EXPORTER_OTLP_ENDPOINT`` at
    ``receiver.endpoint``."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Discard)
        self.requests = 0
        self.bytes = 0
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)

    @property
    def endpoint(self) -> str:
        """The base URL (the exporter appends ``/v1/traces``)."""
        return f"http://127.0.0.1:{self.server_address[1]}"

    def __enter__(self) -> OtlpReceiver:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.shutdown()
        self.server_close()
