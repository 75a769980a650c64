"""Delivery guarantees through the whole suite: duplicates, a crash between commit and publish,
transient provider failures, and bad HTTP input."""

from __future__ import annotations

import asyncio
import uuid
from urllib.parse import quote, unquote, urlsplit

import aio_pika
import httpx

from warren.testing import EventTap, wait_until

LINE = [{"sku": "TEA-GREEN", "quantity": 1}]


async def test_a_duplicate_delivery_changes_state_once(shop, tap: EventTap, suite_vhost) -> None:
    order_id = await shop.place_order("dave", LINE)
    assert (await shop.outcome(order_id))["status"] == "confirmed"
    reserved = await tap.wait_for("stock.reserved.v1", subject=order_id)
    placed = await tap.wait_for("order.placed.v1", subject=order_id)
    stock_before = (await shop.stock("TEA-GREEN"))["available"]

    connection = await aio_pika.connect(suite_vhost)
    async with connection:
        channel = await connection.channel()
        for tapped in (placed, reserved):  # the very same message ids, delivered again
            exchange = await channel.get_exchange(tapped.exchange)
            await exchange.publish(
                aio_pika.Message(
                    tapped.envelope.model_dump_json().encode(),
                    content_type="application/cloudevents+json",
                    message_id=tapped.envelope.id,
                    type=tapped.envelope.type,
                    correlation_id=tapped.correlation_id,
                ),
                routing_key=tapped.routing_key,
            )
    # A later order travels the same queues behind the duplicates: once it is confirmed, they
    # have been delivered and handled.
    sentinel = await shop.place_order("dave", LINE)
    assert (await shop.outcome(sentinel))["status"] == "confirmed"
    stock_before -= 1
    assert (await shop.stock("TEA-GREEN"))["available"] == stock_before
    # The tap sees the two re-sent copies too; the services must have added nothing of their own.
    reserved_ids = {
        t.envelope.id for t in tap.about(order_id) if t.envelope.type == reserved.envelope.type
    }
    assert reserved_ids == {reserved.envelope.id}
    assert tap.types_about(order_id).count("payment.captured.v1") == 1
    inbox = await shop.sql(
        "inventory",
        "SELECT count(*) AS n FROM warren_inbox WHERE message_id = $1",
        placed.envelope.id,
    )
    assert inbox[0]["n"] == 1


async def test_an_event_committed_but_not_published_is_published_after_a_crash(
    shop, suite_vhost
) -> None:
    # No tap here: with order.placed unbound from inventory, nothing may route it anywhere.
    connection = await aio_pika.connect(suite_vhost)
    async with connection:
        channel = await connection.channel()
        queue = await channel.declare_queue("inventory.reservations", passive=True)
        exchange = await channel.get_exchange("orders.events")
        await queue.unbind(exchange, "order.placed.v1")  # publishing order.placed now fails
        try:
            order_id = await shop.place_order("erin", LINE)
            unsent = await wait_until(
                lambda: _unsent(shop), timeout=5, what="the outbox row stays unsent"
            )
            assert unsent >= 1
            assert await shop.suite.kill("orders") == -9  # SIGKILL: no graceful anything
        finally:
            await queue.bind(exchange, "order.placed.v1")
    await shop.suite.start_one("orders")

    assert (await shop.outcome(order_id, timeout=60))["status"] == "confirmed"
    reservations = await shop.sql(
        "inventory", "SELECT status FROM reservations WHERE order_id = $1", uuid.UUID(order_id)
    )
    assert [r["status"] for r in reservations] == ["held"]


async def test_transient_provider_failures_end_every_order_through_retries(
    shop, servers, suite_vhost
) -> None:
    retried_before = await _published_to(servers, suite_vhost, "payments.retry")
    await shop.suite.stop_one("payments")
    await shop.suite.start_one("payments", env={"PAYMENT_FAILURE_RATE": "0.3"})
    try:
        ids = await asyncio.gather(*(shop.place_order(f"frank-{i}", LINE) for i in range(20)))
        outcomes = await asyncio.gather(*(shop.outcome(i, timeout=60) for i in ids))
    finally:
        await shop.suite.stop_one("payments")
        await shop.suite.start_one("payments")
    assert [o["status"] for o in outcomes] == ["confirmed"] * 20

    async def retried() -> bool:  # management stats are aggregated every few seconds
        return await _published_to(servers, suite_vhost, "payments.retry") > retried_before

    await wait_until(retried, timeout=20, interval=1, what="retries seen on payments.retry")
    payments = await shop.sql(
        "payments",
        "SELECT count(*) AS n FROM payments WHERE order_id = ANY($1)",
        [uuid.UUID(i) for i in ids],
    )
    assert payments[0]["n"] == 20  # one payment per order, never two


async def test_bad_http_input_is_explained(shop) -> None:
    orders = shop.http["orders"]
    response = await orders.post(
        "/orders",
        json={"customer_id": "", "currency": "euro", "lines": [{"sku": "X", "quantity": 0}]},
    )
    assert response.status_code == 422
    fields = {tuple(e["loc"][1:]) for e in response.json()["detail"]}
    assert {
        ("customer_id",),
        ("currency",),
        ("lines", 0, "quantity"),
    } <= fields
    missing = await orders.get(f"/orders/{uuid.uuid4()}")
    assert missing.status_code == 404
    assert "not found" in missing.json()["detail"]
    assert (await orders.get("/orders/not-a-uuid")).status_code == 422
    # a NUL byte would reach PostgreSQL, which refuses it: the edge refuses it first (was a 500)
    assert (await orders.get("/orders", params={"customer_id": "a\x00b"})).status_code == 422
    nul = {"customer_id": "a\x00b", "currency": "EUR", "lines": LINE}
    assert (await orders.post("/orders", json=nul)).status_code == 422


async def _unsent(shop) -> int:
    rows = await shop.sql("orders", "SELECT count(*) AS n FROM warren_outbox WHERE sent_at IS NULL")
    return int(rows[0]["n"])


async def _published_to(servers, vhost_url: str, exchange: str) -> int:
    vhost = quote(unquote(urlsplit(vhost_url).path[1:]), safe="")
    async with httpx.AsyncClient(base_url=servers.management_url, auth=("guest", "guest")) as api:
        body = (await api.get(f"/api/exchanges/{vhost}/{exchange}")).json()
    return int(body.get("message_stats", {}).get("publish_in", 0))
