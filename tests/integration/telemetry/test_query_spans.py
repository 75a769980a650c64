"""Query spans in a unit of work: recorded inside a recorded trace, not even attempted inside a
sampled-out one (the asyncpg instrumentation would build spans and attributes nobody keeps)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import pytest
from opentelemetry import trace
from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor
from opentelemetry.instrumentation.utils import is_instrumentation_enabled
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

from tests.integration.telemetry.conftest import Spans
from warren import db
from warren.contracts.event import Event
from warren.runtime import Writer

TRACE_ID = 0x5EED_0000_0000_0000_0000_0000_0000_0001


class Probe:
    """A store that remembers whether instrumented libraries were on while it ran."""

    def __init__(self, conn: db.Connection) -> None:
        self.conn = conn
        self.instrumented: list[bool] = []

    async def touch(self) -> None:
        self.instrumented.append(is_instrumentation_enabled())
        await self.conn.execute("SELECT 1")


async def probe(seen: list[bool], store: Probe) -> Sequence[Event]:
    await store.touch()
    seen.extend(store.instrumented)
    return []


@pytest.fixture
def instrumented() -> Iterator[None]:
    """asyncpg instrumented for the test, and left as it was found (it is process-wide)."""
    instrumentor = AsyncPGInstrumentor()  # type: ignore[no-untyped-call]
    already = instrumentor.is_instrumented_by_opentelemetry
    if not already:
        instrumentor.instrument()
    yield
    if not already:
        instrumentor.uninstrument()


@pytest.mark.usefixtures("instrumented")
async def test_a_recorded_unit_of_work_traces_its_queries(
    database: db.Database, spans: Spans
) -> None:
    seen: list[bool] = []
    with trace.get_tracer("test").start_as_current_span("recorded") as parent:
        await Writer(database, "probe", Probe).execute(probe, seen)

    assert seen == [True]
    trace_id = parent.get_span_context().trace_id
    queries = [s for s in spans.of_kind(trace.SpanKind.CLIENT) if s.context.trace_id == trace_id]
    assert any(span.name.startswith("SELECT") for span in queries)


@pytest.mark.usefixtures("instrumented")
async def test_a_sampled_out_unit_of_work_leaves_its_queries_uninstrumented(
    database: db.Database, spans: Spans
) -> None:
    dropped = NonRecordingSpan(SpanContext(TRACE_ID, 1, is_remote=True, trace_flags=TraceFlags(0)))
    seen: list[bool] = []
    with trace.use_span(dropped):
        await Writer(database, "probe", Probe).execute(probe, seen)

    assert seen == [False]
    assert [s for s in spans.all() if s.context.trace_id == TRACE_ID] == []
