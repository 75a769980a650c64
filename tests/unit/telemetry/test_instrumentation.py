"""Third-party instrumentation: requests always get a server span (their trace id names the
order); asyncpg queries are wrapped only when the provider can record spans, since an unrecorded
query span only costs time."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ALWAYS_ON, ParentBased

from warren.telemetry import instrument


@pytest.fixture
def asyncpg_instrumentor() -> Iterator[AsyncPGInstrumentor]:
    instrumentor = AsyncPGInstrumentor()  # type: ignore[no-untyped-call]
    assert not instrumentor.is_instrumented_by_opentelemetry
    yield instrumentor
    if instrumentor.is_instrumented_by_opentelemetry:
        instrumentor.uninstrument()


def test_a_provider_that_records_nothing_leaves_queries_unwrapped(
    asyncpg_instrumentor: AsyncPGInstrumentor,
) -> None:
    app = FastAPI()
    instrument(app, TracerProvider(sampler=ALWAYS_OFF))
    try:
        assert app._is_instrumented_by_opentelemetry  # type: ignore[attr-defined]
        assert not asyncpg_instrumentor.is_instrumented_by_opentelemetry
    finally:
        FastAPIInstrumentor.uninstrument_app(app)


@pytest.mark.parametrize("sampler", [ALWAYS_ON, ParentBased(ALWAYS_OFF)])
def test_a_provider_that_may_record_gets_query_spans(
    asyncpg_instrumentor: AsyncPGInstrumentor, sampler: object
) -> None:
    app = FastAPI()
    instrument(app, TracerProvider(sampler=sampler))  # type: ignore[arg-type]
    try:
        assert asyncpg_instrumentor.is_instrumented_by_opentelemetry
    finally:
        FastAPIInstrumentor.uninstrument_app(app)
