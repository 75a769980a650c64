"""The OTLP/HTTP span exporter: ``encode_request``'s bytes posted to a collector, with retries.

Owns the transport of spans and its configuration. It implements the SDK's public
``SpanExporter`` interface (``export``, ``shutdown``, ``force_flush``) and nothing else of
OpenTelemetry's exporters: none is subclassed or reached into, so no release of theirs can break
it. It reads the variables OpenTelemetry's http exporter reads, the same way, once, when built:
``OTEL_EXPORTER_OTLP_TRACES_<X>`` before ``OTEL_EXPORTER_OTLP_<X>`` for ``HEADERS``, ``TIMEOUT``
(seconds), ``COMPRESSION``, ``CERTIFICATE``, ``CLIENT_CERTIFICATE`` and ``CLIENT_KEY``. The CA
goes with every request, so ``REQUESTS_CA_BUNDLE``/``CURL_CA_BUNDLE`` (which requests lets replace
a session's own CA, psf/requests#3829) cannot undo it. It does not encode spans
(``warren.telemetry._otlp`` does) nor choose the endpoint (``_tracing`` resolves it).
"""

from __future__ import annotations

import gzip
import logging
import math
import os
import random
import threading
import time
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC
from email.utils import parsedate_to_datetime
from importlib.metadata import PackageNotFoundError, version
from typing import NamedTuple

import requests
from opentelemetry.sdk.environment_variables import (
    OTEL_EXPORTER_OTLP_CERTIFICATE,
    OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE,
    OTEL_EXPORTER_OTLP_CLIENT_KEY,
    OTEL_EXPORTER_OTLP_COMPRESSION,
    OTEL_EXPORTER_OTLP_HEADERS,
    OTEL_EXPORTER_OTLP_TIMEOUT,
    OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE,
    OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE,
    OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY,
    OTEL_EXPORTER_OTLP_TRACES_COMPRESSION,
    OTEL_EXPORTER_OTLP_TRACES_HEADERS,
    OTEL_EXPORTER_OTLP_TRACES_TIMEOUT,
)
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.util.re import parse_env_headers

from warren.telemetry._otlp import encode_request

_log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 10.0
"""Seconds one export may take, retries included (OpenTelemetry's default)."""
COMPRESSIONS = ("none", "gzip", "deflate")
TRANSIENT_STATUSES = frozenset({429, 502, 503, 504})
"""Answers worth another attempt (the OTLP/HTTP specification's list)."""
MAX_ATTEMPTS = 6
_FIRST_BACKOFF = 1.0  # seconds, doubled per attempt, as OpenTelemetry's exporter waits
_JITTER = 0.2  # ± a fifth, so exporters that failed together do not retry together


@dataclass(frozen=True)
class ExportSettings:
    """Where and how spans are posted; ``from_environment`` reads the standard variables."""

    endpoint: str
    headers: Mapping[str, str] = field(default_factory=dict)
    timeout: float = DEFAULT_TIMEOUT
    compression: str = "none"
    verify: bool | str = True  # a CA file, or True: the defaults (certifi, REQUESTS_CA_BUNDLE)
    cert: str | tuple[str, str] | None = None  # client certificate (and key) for mutual TLS

    @classmethod
    def from_environment(cls, endpoint: str) -> ExportSettings:
        """What ``OTEL_EXPORTER_OTLP_(TRACES_)*`` ask for, posting spans to ``endpoint``."""
        certificate = _env(
            OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE, OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE
        )
        key = _env(OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY, OTEL_EXPORTER_OTLP_CLIENT_KEY)
        return cls(
            endpoint=endpoint,
            headers=dict(
                parse_env_headers(
                    _env(OTEL_EXPORTER_OTLP_TRACES_HEADERS, OTEL_EXPORTER_OTLP_HEADERS),
                    liberal=True,  # unencoded values too, as OpenTelemetry's exporter takes them
                )
            ),
            timeout=_timeout(),
            compression=_compression(),
            verify=_env(OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE, OTEL_EXPORTER_OTLP_CERTIFICATE)
            or True,
            cert=(certificate, key) if certificate and key else certificate or None,
        )


class OtlpExporter(SpanExporter):
    """Posts spans as OTLP/HTTP protobuf (written by ``encode_request``) to a collector.

    A transient failure (no connection, a timeout, HTTP 429, 502, 503, 504) is tried again after
    about 1, 2, 4 … s (or the collector's ``Retry-After``) while ``settings.timeout`` allows, at
    most ``MAX_ATTEMPTS`` times in all; any other failure drops the batch at once. ``shutdown``
    cuts a wait short, and every export after it fails.
    """

    def __init__(self, settings: ExportSettings) -> None:
        self.settings = settings
        self._headers = _request_headers(settings)
        self._session = requests.Session()
        self._stopped = threading.Event()

    @property
    def endpoint(self) -> str:
        """The URL spans are posted to."""
        return self.settings.endpoint

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        """Encode ``spans`` and post them; FAILURE (logged) when either step fails."""
        if self._stopped.is_set():
            _log.warning("the span exporter is shut down: %d spans dropped", len(spans))
            return SpanExportResult.FAILURE
        try:
            body = self._compress(encode_request(spans))
        except Exception:  # one bad attribute must not stop the exporter thread
            _log.exception("could not encode %d spans", len(spans))
            return SpanExportResult.FAILURE
        posted = self._post(body, len(spans))
        return SpanExportResult.SUCCESS if posted else SpanExportResult.FAILURE

    def shutdown(self) -> None:
        """Stop: a retry waiting now gives up, later exports fail, connections close."""
        if not self._stopped.is_set():
            self._stopped.set()
            self._session.close()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Nothing waits here (the batch processor holds the spans): always True."""
        return True

    def _post(self, body: bytes, count: int) -> bool:
        deadline = time.monotonic() + self.settings.timeout
        attempt = 0
        while True:
            attempt += 1
            failure = self._attempt(body, deadline - time.monotonic())
            if failure is None:
                return True
            wait = _backoff(attempt) if failure.retry_after is None else failure.retry_after
            if (
                not failure.transient
                or attempt == MAX_ATTEMPTS
                or wait >= deadline - time.monotonic()
            ):
                _log.error(
                    "could not export %d spans to %s (%d attempts): %s",
                    count,
                    self.endpoint,
                    attempt,
                    failure.reason,
                )
                return False
            _log.warning("exporting spans failed (%s); retrying in %.1f s", failure.reason, wait)
            if self._stopped.wait(wait):
                _log.error("%d spans dropped: the exporter was shut down while retrying", count)
                return False

    def _attempt(self, body: bytes, timeout: float) -> _Failure | None:
        """One POST; None when the collector took the spans."""
        try:
            response = self._session.post(
                self.settings.endpoint,
                data=body,
                headers=self._headers,
                timeout=max(timeout, 0.001),
                verify=self.settings.verify,  # per request: the environment cannot replace it
                cert=self.settings.cert,
                allow_redirects=False,
            )
        except requests.exceptions.SSLError as error:  # a certificate does not mend in seconds
            return _Failure(repr(error), transient=False)
        except (requests.ConnectionError, requests.Timeout) as error:
            return _Failure(repr(error), transient=True)
        except (OSError, ValueError) as error:  # a bad URL, a certificate file that is not there
            return _Failure(repr(error), transient=False)
        if response.ok:
            return None
        status = response.status_code
        transient = status in TRANSIENT_STATUSES
        return _Failure(
            f"HTTP {status} {response.reason}",
            transient=transient,
            retry_after=_retry_after(response) if transient else None,
        )

    def _compress(self, body: bytes) -> bytes:
        match self.settings.compression:
            case "gzip":
                return gzip.compress(body, compresslevel=6)  # 9 costs more CPU for little gain
            case "deflate":
                return zlib.compress(body)
        return body


class _Failure(NamedTuple):
    reason: str
    transient: bool
    retry_after: float | None = None


def _backoff(attempt: int) -> float:
    return _FIRST_BACKOFF * 2.0 ** (attempt - 1) * random.uniform(1 - _JITTER, 1 + _JITTER)


def _retry_after(response: requests.Response) -> float | None:
    """Seconds the collector's ``Retry-After`` asks for (a number or an HTTP date), if any."""
    value = response.headers.get("retry-after", "").strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            moment = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        seconds = moment.timestamp() - time.time()
    return max(seconds, 0.0) if math.isfinite(seconds) else None


def _request_headers(settings: ExportSettings) -> dict[str, str]:
    headers = {"content-type": "application/x-protobuf", "user-agent": _user_agent()}
    headers.update({name.lower(): value for name, value in settings.headers.items()})
    if settings.compression != "none":
        headers.setdefault("content-encoding", settings.compression)
    return headers


def _user_agent() -> str:
    try:
        return f"warren-platform/{version('warren-platform')}"
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "warren-platform"


def _timeout() -> float:
    raw = _env(OTEL_EXPORTER_OTLP_TRACES_TIMEOUT, OTEL_EXPORTER_OTLP_TIMEOUT)
    if not raw:
        return DEFAULT_TIMEOUT
    try:
        seconds = float(raw)
    except ValueError:
        seconds = math.nan
    if not 0 < seconds < math.inf:
        # As OpenTelemetry's exporter does: a warning, not a service that refuses to start.
        _log.warning("OTLP timeout %r is not a number of seconds: using %s", raw, DEFAULT_TIMEOUT)
        return DEFAULT_TIMEOUT
    return seconds


def _compression() -> str:
    raw = _env(OTEL_EXPORTER_OTLP_TRACES_COMPRESSION, OTEL_EXPORTER_OTLP_COMPRESSION) or "none"
    name = raw.lower()
    if name not in COMPRESSIONS:
        _log.warning("OTLP compression %r is not one of %s: using none", raw, COMPRESSIONS)
        return "none"
    return name


def _env(signal: str, general: str) -> str:
    """The signal's own variable, else the general one; empty when neither is set."""
    return (os.environ.get(signal) or os.environ.get(general) or "").strip()
