"""Fixtures for the notifications service's integration tests: its migrated database, its events."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime

import pytest

from notifications.main import MIGRATIONS
from shop_contracts.money import Money
from shop_contracts.orders import OrderCancelled, OrderConfirmed
from warren.db import Database, migrations_in

CONFIRMED_AT = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)

Confirmed = Callable[..., OrderConfirmed]
Cancelled = Callable[..., OrderCancelled]


@pytest.fixture
async def database(database_url: str) -> AsyncIterator[Database]:
    """This test's fresh database with the platform's and the notifications service's tables."""
    opened = await Database.open(database_url, migrations=migrations_in(MIGRATIONS))
    yield opened
    await opened.close()


@pytest.fixture
def confirmed() -> Confirmed:
    """``confirmed(customer_id="alice", order_id=None)``: an ``order.confirmed`` for 29.99 EUR."""

    def make(customer_id: str = "alice", order_id: uuid.UUID | None = None) -> OrderConfirmed:
        return OrderConfirmed(
            order_id=order_id or uuid.uuid4(),
            customer_id=customer_id,
            total=Money(amount=2999, currency="EUR"),
            payment_id=uuid.uuid4(),
            confirmed_at=CONFIRMED_AT,
        )

    return make


@pytest.fixture
def cancelled() -> Cancelled:
    """``cancelled(customer_id="alice", order_id=None)``: an ``order.cancelled``, out of stock."""

    def make(customer_id: str = "alice", order_id: uuid.UUID | None = None) -> OrderCancelled:
        return OrderCancelled(
            order_id=order_id or uuid.uuid4(),
            customer_id=customer_id,
            reason="out_of_stock",
            detail="not enough MUG-BLUE (0/1)",
            cancelled_at=CONFIRMED_AT,
        )

    return make
