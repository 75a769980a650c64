"""Money is never kept for a cancelled order, against a real PostgreSQL: a capture followed by
the order's cancellation is refunded once; a cancellation that comes first makes the later charge
a decline the provider never sees; a charge and a cancellation racing for one order are serialised,
so the cancellation always sees the capture it must undo."""

from __future__ import annotations

import asyncio
import random
import uuid
from datetime import UTC, datetime

import pytest

from payments.domain import Payment, Status
from payments.handlers import capture_payment, refund_cancelled
from payments.provider import ProviderUnavailable, SimulatedProvider
from payments.store import PaymentStore
from shop_contracts.orders import CancellationReason, OrderCancelled
from shop_contracts.payments import PaymentCaptured, PaymentDeclined, PaymentRefunded
from shop_contracts.stock import StockReserved
from warren.contracts.event import Event
from warren.db import Database

HEALTHY = SimulatedProvider(rng=random.Random(0))
DOWN = SimulatedProvider(failure_rate=1.0, rng=random.Random(0))
CANCELLED_AT = datetime(2026, 1, 2, 3, 20, tzinfo=UTC)


def cancelled(
    order_id: uuid.UUID, reason: CancellationReason = "deadline_exceeded"
) -> OrderCancelled:
    return OrderCancelled(
        order_id=order_id, customer_id="alice", reason=reason, cancelled_at=CANCELLED_AT
    )


async def capture(
    database: Database, event: StockReserved, provider: SimulatedProvider = HEALTHY
) -> list[Event]:
    async with database.transaction() as conn:
        return await capture_payment(event, PaymentStore(conn), provider)


async def cancel(
    database: Database, event: OrderCancelled, provider: SimulatedProvider = HEALTHY
) -> list[Event]:
    async with database.transaction() as conn:
        return await refund_cancelled(event, PaymentStore(conn), provider)


async def payment_of(database: Database, order_id: uuid.UUID) -> Payment | None:
    async with database.pool.acquire() as conn:
        return await PaymentStore(conn).get(order_id)


async def test_a_capture_then_the_orders_cancellation_is_refunded_once(
    database: Database, reserved
) -> None:
    event = reserved(amount=2999)
    [captured] = await capture(database, event)
    assert isinstance(captured, PaymentCaptured)

    [refunded] = await cancel(database, cancelled(event.order_id))
    assert await cancel(database, cancelled(event.order_id), DOWN) == []  # never twice

    assert isinstance(refunded, PaymentRefunded)
    assert (refunded.payment_id, refunded.amount) == (captured.payment_id, captured.amount)
    assert "deadline_exceeded" in refunded.reason
    payment = await payment_of(database, event.order_id)
    assert payment is not None
    assert payment.status is Status.REFUNDED
    assert payment.refunded_at == refunded.refunded_at
    assert await capture(database, event) == []  # a re-published stock.reserved: no new charge


async def test_a_refund_the_provider_fails_is_retried_with_nothing_recorded(
    database: Database, reserved
) -> None:
    event = reserved()
    await capture(database, event)
    with pytest.raises(ProviderUnavailable):
        await cancel(database, cancelled(event.order_id), DOWN)
    payment = await payment_of(database, event.order_id)
    assert payment is not None
    assert payment.status is Status.CAPTURED  # rolled back: the retry refunds it

    [refunded] = await cancel(database, cancelled(event.order_id))
    assert isinstance(refunded, PaymentRefunded)


async def test_a_cancellation_first_declines_the_later_charge_without_the_provider(
    database: Database, reserved
) -> None:
    event = reserved()
    assert await cancel(database, cancelled(event.order_id, "out_of_stock"), DOWN) == []
    assert await payment_of(database, event.order_id) is None  # nothing to show, nothing taken

    [declined] = await capture(database, event, DOWN)  # DOWN: it is never asked

    assert isinstance(declined, PaymentDeclined)
    assert declined.reason == "order_cancelled"
    payment = await payment_of(database, event.order_id)
    assert payment is not None
    assert (payment.status, payment.payment_id) == (Status.DECLINED, None)


async def test_nothing_is_refunded_for_a_declined_payment(database: Database, reserved) -> None:
    event = reserved(amount=10**9)  # above every limit
    [declined] = await capture(database, event)
    assert isinstance(declined, PaymentDeclined)
    assert await cancel(database, cancelled(event.order_id, "payment_declined")) == []
    payment = await payment_of(database, event.order_id)
    assert payment is not None
    assert payment.status is Status.DECLINED


async def test_a_cancellation_racing_a_slow_capture_waits_for_it_and_refunds(
    database: Database, reserved
) -> None:
    event = reserved()
    slow = SimulatedProvider(latency=0.5, rng=random.Random(0))
    charging = asyncio.create_task(capture(database, event, slow))
    await asyncio.sleep(0.1)  # the charge holds the order's payment lock, the provider is busy

    refunds = await cancel(database, cancelled(event.order_id))

    [captured] = await charging
    assert isinstance(captured, PaymentCaptured)
    assert [type(e) for e in refunds] == [PaymentRefunded]
    payment = await payment_of(database, event.order_id)
    assert payment is not None
    assert payment.status is Status.REFUNDED


async def test_a_charge_learns_the_payment_and_an_earlier_cancellation_in_one_read(
    database: Database, reserved
) -> None:
    event = reserved(amount=1500)
    async with database.transaction() as conn:
        store = PaymentStore(conn)
        assert await store.state(event.order_id) == (None, False)
        await store.remember_cancelled(event.order_id, "deadline_exceeded", CANCELLED_AT)
        assert await store.state(event.order_id) == (None, True)

    other = reserved(amount=1500)
    await capture(database, other)
    async with database.transaction() as conn:
        payment, cancelled_first = await PaymentStore(conn).state(other.order_id)
    assert payment is not None
    assert (payment.order_id, payment.status, cancelled_first) == (
        other.order_id,
        Status.CAPTURED,
        False,
    )
