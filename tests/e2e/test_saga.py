"""The order saga end to end: four services as processes, real RabbitMQ, real PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter

from warren.testing import EventTap


async def test_happy_path_confirms_captures_and_notifies(shop, tap: EventTap) -> None:
    before = (await shop.stock("TEA-GREEN"))["available"]
    order_id = await shop.place_order("alice", [{"sku": "TEA-GREEN", "quantity": 2}])

    order = await shop.outcome(order_id)
    assert order["status"] == "confirmed"
    await tap.wait_for("order.confirmed.v1", subject=order_id)
    assert tap.types_about(order_id) == [
        "order.placed.v1",
        "stock.reserved.v1",
        "payment.captured.v1",
        "order.confirmed.v1",
    ]
    assert (await shop.stock("TEA-GREEN"))["available"] == before - 2
    payment = await shop.payment(order_id)
    assert payment is not None
    assert (payment["status"], payment["amount"]) == ("captured", 2500)
    assert [n["kind"] for n in await _notified(shop, order_id)] == ["order_confirmed"]
    assert [h["status"] for h in order["history"]] == ["pending", "reserved", "confirmed"]


async def test_declined_payment_cancels_and_releases_stock(shop, tap: EventTap) -> None:
    before = (await shop.stock("TEA-BLACK"))["available"]
    order_id = await shop.place_order("bob", [{"sku": "TEA-BLACK", "quantity": 1}])  # > limit

    order = await shop.outcome(order_id)
    assert order["status"] == "cancelled"
    await tap.wait_for("stock.released.v1", subject=order_id)
    assert tap.types_about(order_id) == [
        "order.placed.v1",
        "stock.reserved.v1",
        "payment.declined.v1",
        "order.cancelled.v1",
        "stock.released.v1",
    ]
    cancelled = await tap.wait_for("order.cancelled.v1", subject=order_id)
    assert cancelled.envelope.data["reason"] == "payment_declined"
    assert (await shop.stock("TEA-BLACK"))["available"] == before
    payment = await shop.payment(order_id)
    assert payment is not None
    assert payment["status"] == "declined"
    assert [n["kind"] for n in await _notified(shop, order_id)] == ["order_cancelled"]


async def test_out_of_stock_cancels_without_payment(shop, tap: EventTap) -> None:
    before = (await shop.stock("MUG-BLUE"))["available"]
    order_id = await shop.place_order("carol", [{"sku": "MUG-BLUE", "quantity": before + 1}])

    order = await shop.outcome(order_id)
    assert order["status"] == "cancelled"
    await tap.wait_for("order.cancelled.v1", subject=order_id)
    assert tap.types_about(order_id) == [
        "order.placed.v1",
        "stock.rejected.v1",
        "order.cancelled.v1",
    ]
    assert (await tap.wait_for("order.cancelled.v1", subject=order_id)).envelope.data[
        "reason"
    ] == "out_of_stock"
    assert (await shop.stock("MUG-BLUE"))["available"] == before
    assert await shop.payment(order_id) is None
    assert [n["kind"] for n in await _notified(shop, order_id)] == ["order_cancelled"]


async def test_200_concurrent_orders_for_50_units_never_oversell(shop) -> None:
    sku = f"CONC-{uuid.uuid4().hex[:8]}"
    await shop.set_stock(sku, 50, price=100)
    await shop.wait_priced(sku, 100)
    lines = [{"sku": sku, "quantity": 1}]
    ids = await asyncio.gather(*(shop.place_order(f"buyer-{i}", lines) for i in range(200)))

    outcomes = await asyncio.gather(*(shop.outcome(i, timeout=90) for i in ids))
    assert Counter(o["status"] for o in outcomes) == {"confirmed": 50, "cancelled": 150}
    assert (await shop.stock(sku))["available"] == 0
    held = await shop.sql(
        "inventory",
        "SELECT order_id::text AS id, status FROM reservations WHERE order_id = ANY($1)",
        [uuid.UUID(i) for i in ids],
    )
    confirmed = {o["order_id"] for o in outcomes if o["status"] == "confirmed"}
    assert {r["id"] for r in held if r["status"] == "held"} == confirmed
    assert all(r["status"] != "held" for r in held if r["id"] not in confirmed)
    negative = await shop.sql("inventory", "SELECT count(*) AS n FROM stock WHERE available < 0")
    assert negative[0]["n"] == 0


async def _notified(shop, order_id: str) -> list[dict]:
    from warren.testing import wait_until

    return await wait_until(lambda: shop.notifications(order_id), what="notification")
