"""Charging an order against a real PostgreSQL: captured or declined, recorded once, never twice."""

from __future__ import annotations

import asyncio
import random
import uuid

import pytest

from payments.domain import Payment, Status
from payments.handlers import HANDLERS, capture_payment
from payments.main import Settings, build
from payments.provider import ProviderUnavailable, SimulatedProvider, payment_id_for
from payments.store import PaymentStore
from shop_contracts.payments import PaymentCaptured, PaymentDeclined
from shop_contracts.stock import StockReserved
from warren.contracts.event import Event
from warren.db import Database, inbox, outbox
from warren.runtime import Writer

HEALTHY = SimulatedProvider(rng=random.Random(0))
DOWN = SimulatedProvider(failure_rate=1.0, rng=random.Random(0))


async def capture(
    database: Database, event: StockReserved, provider: SimulatedProvider = HEALTHY
) -> list[Event]:
    async with database.transaction() as conn:
        return await capture_payment(event, PaymentStore(conn), provider)


async def payment_of(database: Database, order_id: uuid.UUID) -> Payment | None:
    async with database.pool.acquire() as conn:
        return await PaymentStore(conn).get(order_id)


async def rows_for(database: Database, order_id: uuid.UUID) -> int:
    count = await database.pool.fetchval(
        "SELECT count(*) FROM payments WHERE order_id = $1", order_id
    )
    return int(count)


async def test_a_capture_is_recorded_once_when_the_event_comes_twice(
    database: Database, reserved
) -> None:
    event = reserved(amount=2999)
    [captured] = await capture(database, event)
    # The second time the provider is not even asked: a failing one changes nothing.
    assert await capture(database, event, DOWN) == []
    assert await capture(database, event) == []

    assert isinstance(captured, PaymentCaptured)
    assert captured.payment_id == payment_id_for(event.order_id)
    assert captured.amount == event.amount
    payment = await payment_of(database, event.order_id)
    assert payment is not None
    assert payment.status is Status.CAPTURED
    assert payment.payment_id == captured.payment_id
    assert payment.amount == event.amount
    assert payment.at == captured.captured_at
    assert await rows_for(database, event.order_id) == 1


async def test_an_amount_above_the_limit_is_declined_and_recorded(
    database: Database, reserved
) -> None:
    provider = SimulatedProvider(limits={"alice": 1000})
    event = reserved(amount=2999, customer_id="alice")
    [declined] = await capture(database, event, provider)
    assert await capture(database, event, HEALTHY) == []  # a decline is final too

    assert isinstance(declined, PaymentDeclined)
    assert "limit of 1000" in declined.reason
    payment = await payment_of(database, event.order_id)
    assert payment is not None
    assert payment.status is Status.DECLINED
    assert payment.payment_id is None
    assert payment.reason == declined.reason
    assert await rows_for(database, event.order_id) == 1


async def test_a_transient_provider_failure_raises_and_leaves_nothing_recorded(
    database: Database, reserved
) -> None:
    event = reserved()

    async def deliver_while_the_provider_is_down() -> None:
        async with database.transaction() as conn:
            assert await inbox.record(conn, "payments.charges", "message-1")
            await capture_payment(event, PaymentStore(conn), DOWN)

    with pytest.raises(ProviderUnavailable):
        await deliver_while_the_provider_is_down()

    assert await payment_of(database, event.order_id) is None
    async with database.transaction() as conn:  # the inbox forgot it: the retry will run
        assert await inbox.record(conn, "payments.charges", "message-1")
    [retried] = await capture(database, event)
    assert isinstance(retried, PaymentCaptured)


async def test_concurrent_deliveries_for_one_order_capture_it_once(
    database: Database, reserved
) -> None:
    event = reserved()
    results = await asyncio.gather(*(capture(database, event) for _ in range(5)))
    published = [events for events in results if events]
    assert len(published) == 1
    assert await rows_for(database, event.order_id) == 1


async def test_the_unit_of_work_queues_the_event_with_the_payment(
    database: Database, reserved
) -> None:
    event = reserved()
    step = HANDLERS[StockReserved]
    with pytest.raises(ProviderUnavailable):
        await Writer(database, "payments", PaymentStore, [DOWN]).execute(step, event)
    async with database.pool.acquire() as conn:
        assert await outbox.pending(conn) == (0, 0.0)

    writer = Writer(database, "payments", PaymentStore, [HEALTHY])
    await writer.execute(step, event, correlation_id=str(event.order_id))

    async with database.transaction() as conn:
        [row] = await outbox.claim(conn, limit=10)
    assert (row.exchange, row.routing_key) == ("payments.events", "payment.captured.v1")
    assert row.aggregate_id == str(event.order_id)


async def test_the_settings_reach_the_provider(database: Database, reserved) -> None:
    service = build(Settings(payment_limits={"bob": 100}, payment_default_limit=1_000_000))
    step = service.subscriptions[0].handlers[StockReserved]
    writer = Writer(database, "payments", PaymentStore, service.dependencies)

    [bob] = await writer.execute(step, reserved(amount=101, customer_id="bob"))
    [alice] = await writer.execute(step, reserved(amount=500_000, customer_id="alice"))
    assert isinstance(bob, PaymentDeclined)
    assert isinstance(alice, PaymentCaptured)
