"""Prices are the server's: a client names SKUs and quantities, the catalogue (inventory) says
what they cost, orders prices each line from what inventory announced, payments captures that."""

from __future__ import annotations

import uuid

from warren.testing import EventTap


def _sku() -> str:
    return f"PRICED-{uuid.uuid4().hex[:8]}"


async def test_a_client_supplied_price_is_refused(shop) -> None:
    lines = [{"sku": "TEA-GREEN", "quantity": 5, "unit_price": 0}]

    response = await shop.post_order("mallory", lines)

    assert response.status_code == 422, response.text
    [error] = response.json()["detail"]
    assert (error["type"], error["loc"][1:]) == ("extra_forbidden", ["lines", 0, "unit_price"])
    rows = await shop.sql(
        "orders", "SELECT count(*) AS n FROM orders WHERE customer_id = $1", "mallory"
    )
    assert rows[0]["n"] == 0


async def test_an_unknown_or_unpriced_sku_is_refused_with_the_reason(shop) -> None:
    unpriced = _sku()
    await shop.set_stock(unpriced, 10)  # stocked, never priced

    for sku in (unpriced, _sku()):
        response = await shop.post_order("erin", [{"sku": sku, "quantity": 1}])
        assert response.status_code == 422, response.text
        assert response.json()["detail"] == f"unknown SKU or no price yet: {sku}"


async def test_the_captured_amount_is_the_catalogue_price_and_follows_its_changes(
    shop, tap: EventTap
) -> None:
    sku = _sku()
    await shop.set_stock(sku, 100, price=1234)
    assert (await shop.stock(sku))["price"] == {"amount": 1234, "currency": "EUR"}
    await shop.wait_priced(sku, 1234)

    first = await shop.place_order("frank", [{"sku": sku, "quantity": 3}])
    assert (await shop.outcome(first))["status"] == "confirmed"

    await shop.set_stock(sku, 100, price=2000)  # the price changes
    await shop.wait_priced(sku, 2000)
    second = await shop.place_order("frank", [{"sku": sku, "quantity": 2}])
    assert (await shop.outcome(second))["status"] == "confirmed"

    for order_id, unit, quantity in ((first, 1234, 3), (second, 2000, 2)):
        payment = await shop.payment(order_id)
        assert payment is not None
        assert (payment["status"], payment["amount"]) == ("captured", unit * quantity)
        order = await shop.order(order_id)
        assert order["total"] == {"amount": unit * quantity, "currency": "EUR"}
        assert [line["unit_price"] for line in order["lines"]] == [unit]
    priced = [t.envelope.data for t in tap.about(sku)]
    assert [(p["revision"], p["price"]["amount"]) for p in priced] == [(1, 1234), (2, 2000)]


async def test_a_zero_priced_product_is_never_captured(shop, tap: EventTap) -> None:
    sku = _sku()
    await shop.set_stock(sku, 10, price=0)
    await shop.wait_priced(sku, 0)

    order_id = await shop.place_order("grace", [{"sku": sku, "quantity": 5}])

    order = await shop.outcome(order_id)
    assert order["status"] == "cancelled"
    payment = await shop.payment(order_id)
    assert payment is not None
    assert payment["status"] == "declined"
    assert payment["reason"].startswith("invalid_amount")
    await tap.wait_for("stock.released.v1", subject=order_id)
    assert "payment.captured.v1" not in tap.types_about(order_id)
    assert (await shop.stock(sku))["available"] == 10  # the reservation went back
