"""Telemetry test fixtures: spans recorded in memory, a broker and consumers on a fresh vhost,
a fresh service database, metric deltas read from the process's Prometheus registry."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client import REGISTRY

from warren import db
from warren.messaging import Broker

SERVICE = "probe"


@pytest.fixture(scope="session")
def span_exporter() -> InMemorySpanExporter:
    """Every finished span of this process, kept in memory (one global provider per process)."""
    exporter = InMemorySpanExporter()
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        provider = TracerProvider(resource=Resource.create({"service.name": SERVICE}))
        trace.set_tracer_provider(provider)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return exporter


class Spans:
    """The spans finished during one test."""

    def __init__(self, exporter: InMemorySpanExporter) -> None:
        self.exporter = exporter

    def all(self) -> list[ReadableSpan]:
        return list(self.exporter.get_finished_spans())

    def of_kind(self, kind: trace.SpanKind) -> list[ReadableSpan]:
        return [span for span in self.all() if span.kind == kind]

    def named(self, name: str) -> list[ReadableSpan]:
        return [span for span in self.all() if span.name == name]


@pytest.fixture
def spans(span_exporter: InMemorySpanExporter) -> Iterator[Spans]:
    span_exporter.clear()
    yield Spans(span_exporter)
    span_exporter.clear()


@pytest.fixture
async def broker(vhost_url: str, spans: Spans) -> AsyncIterator[Broker]:
    """A connected ``Broker`` for service ``probe``, created once tracing is in place."""
    connected = Broker(vhost_url, SERVICE)
    await connected.connect()
    yield connected
    await connected.close()


@pytest.fixture
async def database(database_url: str) -> AsyncIterator[db.Database]:
    """A fresh, migrated service database (the platform's outbox and inbox tables)."""
    opened = await db.Database.open(database_url, max_size=4)
    yield opened
    await opened.close()


class Metric:
    """A sample of the process registry, read before and after: ``metric.delta()``."""

    def __init__(self, name: str, **labels: str) -> None:
        self.name = name
        self.labels = labels
        self.before = self.value()

    def value(self) -> float:
        return REGISTRY.get_sample_value(self.name, self.labels) or 0.0

    def delta(self) -> float:
        return self.value() - self.before
