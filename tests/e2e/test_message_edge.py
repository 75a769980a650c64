"""The attack the message edge closes, on the whole suite: with inventory's own route, a forged
``payment.captured`` for a reserved, unpaid order. The order must not be confirmed."""

from __future__ import annotations

import uuid

import aio_pika

from shop_contracts.catalogue import REGISTRY
from shop_contracts.examples import example
from warren.contracts.envelope import CONTENT_TYPE, wrap
from warren.testing import EventTap, wait_until

CAPTURED = REGISTRY.resolve("payment.captured.v1")


async def test_a_forged_capture_confirms_nothing(shop, tap: EventTap, suite_vhost: str) -> None:
    order_id = await shop.place_order(
        "bob",
        [{"sku": "TEA-BLACK", "quantity": 1, "unit_price": 500_000}],  # above bob's limit
    )
    reserved = await tap.wait_for("stock.reserved.v1", subject=order_id)
    assert reserved.envelope.subject == order_id
    forged = wrap(example(CAPTURED, order_id=uuid.UUID(order_id)), source="/warren/inventory")
    connection = await aio_pika.connect(suite_vhost)
    async with connection:
        channel = await connection.channel()
        exchange = await channel.get_exchange("inventory.events")  # inventory may write there
        await exchange.publish(
            aio_pika.Message(
                forged.model_dump_json().encode(),
                content_type=CONTENT_TYPE,
                message_id=forged.id,
                type="stock.reserved.v1",
            ),
            routing_key="stock.reserved.v1",  # bound to orders.saga
        )
        assert (await shop.outcome(order_id))["status"] == "cancelled"  # declined, as it must
        dlq = await channel.declare_queue("orders.saga.dlq", passive=True)

        async def dead_forgery() -> aio_pika.abc.AbstractIncomingMessage | None:
            while (message := await dlq.get(fail=False)) is not None:
                if message.message_id == forged.id:
                    return message
            return None  # the others stay unacked: back in the DLQ when the channel closes

        dead = await wait_until(dead_forgery, what="the forgery in orders.saga.dlq")
        assert dead.headers["x-error-type"] == "UntrustedSource"
    assert (await shop.order(order_id))["status"] == "cancelled"
