"""Consumer liveness: a service whose subscription the broker cancelled (its queue deleted) notices,
reports not-ready while it cannot consume, re-subscribes once the queue is back, and goes on."""

from __future__ import annotations

import uuid

import aio_pika

from shop_contracts.catalogue import REGISTRY
from shop_contracts.examples import example
from warren.contracts.envelope import CONTENT_TYPE, encode, wrap
from warren.testing import wait_until

PLACED = REGISTRY.resolve("order.placed.v1")


async def test_a_cancelled_consumer_reports_not_ready_then_resubscribes(inventory) -> None:
    assert (await inventory.http.get("/readyz")).status_code == 200

    queue = await inventory.channel.declare_queue("inventory.reservations", passive=True)
    await queue.delete(if_unused=False, if_empty=False)  # the broker cancels the subscription

    async def not_ready() -> bool:
        return (await inventory.http.get("/readyz")).status_code == 503

    await wait_until(not_ready, timeout=10, interval=0.1, what="/readyz turns 503")
    body = (await inventory.http.get("/readyz")).json()
    assert body["checks"] == {"broker": True, "database": True, "consumers": False}

    # An operator re-applies the topology (what `warren topology apply` or a restart does).
    await inventory.runtime.broker.declare(inventory.runtime.work_queues())

    async def ready() -> bool:
        return (await inventory.http.get("/readyz")).status_code == 200

    await wait_until(ready, timeout=15, interval=0.1, what="/readyz back to 200")
    envelope = wrap(example(PLACED, order_id=uuid.uuid4()), source="/warren/orders")
    exchange = await inventory.channel.get_exchange("orders.events")
    await exchange.publish(
        aio_pika.Message(encode(envelope), content_type=CONTENT_TYPE, message_id=envelope.id),
        routing_key="order.placed.v1",
        mandatory=True,
    )

    async def handled() -> bool:
        count = await inventory.runtime.database.pool.fetchval(
            "SELECT count(*) FROM warren_inbox WHERE message_id = $1", envelope.id
        )
        return bool(count)

    await wait_until(handled, timeout=10, what="an order handled after re-subscribing")
