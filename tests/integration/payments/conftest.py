"""Fixtures for the payments service's integration tests: its migrated database, its events."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime

import pytest

from payments.main import MIGRATIONS
from shop_contracts.money import Money
from shop_contracts.stock import StockLine, StockReserved
from warren.db import Database, migrations_in

RESERVED_AT = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)

Reserved = Callable[..., StockReserved]


@pytest.fixture
async def database(database_url: str) -> AsyncIterator[Database]:
    """This test's fresh database with the platform's and the payments service's tables."""
    opened = await Database.open(database_url, migrations=migrations_in(MIGRATIONS))
    yield opened
    await opened.close()


@pytest.fixture
def reserved() -> Reserved:
    """``reserved(amount=2999, customer_id="alice", order_id=None)``: a ``stock.reserved`` event."""

    def make(
        amount: int = 2999, customer_id: str = "alice", order_id: uuid.UUID | None = None
    ) -> StockReserved:
        return StockReserved(
            order_id=order_id or uuid.uuid4(),
            customer_id=customer_id,
            lines=(StockLine(sku="TEA-GREEN", quantity=1),),
            amount=Money(amount=amount, currency="EUR"),
            reserved_at=RESERVED_AT,
        )

    return make
