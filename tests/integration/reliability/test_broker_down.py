"""Publishing while the broker is down fails fast with a clear error, and the outbox absorbs it:
what was written while the broker was away is published once it is back. Also: one URL listing
several nodes connects to whichever is up. Faults hit a RabbitMQ node this test starts itself."""

from __future__ import annotations

import shutil
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import aio_pika
import pytest

from shop_contracts.catalogue import REGISTRY
from shop_contracts.examples import example
from tests.harness import RabbitCluster, rabbitmq_cluster
from warren.db import Database, outbox
from warren.messaging import Broker, PublishError
from warren.messaging.message import prepare
from warren.messaging.relay import OutboxRelay, to_record
from warren.testing import wait_until

PLACED = REGISTRY.resolve("order.placed.v1")

pytestmark = pytest.mark.skipif(
    not Path("/usr/lib/rabbitmq/bin/rabbitmq-server").exists()
    and not shutil.which("rabbitmq-server"),
    reason="starts its own RabbitMQ node: install rabbitmq-server",
)


@pytest.fixture
async def node(tmp_path: Path) -> AsyncIterator[RabbitCluster]:
    async with rabbitmq_cluster(tmp_path / "rabbitmq", 1, prefix="warren-it") as cluster:
        connection = await aio_pika.connect(cluster.node_url())
        async with connection:
            channel = await connection.channel()
            exchange = await channel.declare_exchange("orders.events", "topic", durable=True)
            queue = await channel.declare_queue(
                "sink", durable=True, arguments={"x-queue-type": "quorum"}
            )
            await queue.bind(exchange, "#")
        yield cluster


@pytest.mark.timeout(180)
async def test_a_publish_while_the_broker_is_down_fails_fast_and_the_outbox_catches_up(
    node: RabbitCluster, database_url: str
) -> None:
    broker = Broker(node.node_url(), "orders", unavailable_timeout=2.0)
    await broker.connect()
    database = await Database.open(database_url)
    relay = OutboxRelay(database, broker, max_backoff=1.0)
    relay.start()
    try:
        await node.nodes[0].stop()
        assert not await broker.is_ready()

        started = time.monotonic()
        with pytest.raises(PublishError, match="broker unreachable"):
            await broker.publish(example(PLACED, order_id=uuid.uuid4()))
        assert time.monotonic() - started < 5  # not publish_timeout (30 s), not forever

        # Meanwhile the service keeps accepting work: its events wait in the outbox.
        message = prepare(example(PLACED, order_id=uuid.uuid4()), service="orders")
        async with database.transaction() as conn:
            await outbox.append(conn, [to_record(message, aggregate_id="o-1")])

        await node.nodes[0].start()
        await wait_until(broker.is_ready, timeout=30, what="the broker connection is back")

        async def published() -> bool:
            return bool(
                await database.pool.fetchval(
                    "SELECT sent_at IS NOT NULL FROM warren_outbox WHERE id = $1",
                    uuid.UUID(message.message_id),
                )
            )

        await wait_until(published, timeout=30, what="the outbox row published after recovery")
        connection = await aio_pika.connect(node.node_url())
        async with connection:
            queue = await (await connection.channel()).declare_queue("sink", passive=True)
            seen = []
            while (got := await queue.get(fail=False, no_ack=True)) is not None:
                seen.append(got.message_id)
        assert message.message_id in seen
    finally:
        await relay.stop()
        await broker.close()
        await database.close()


@pytest.mark.timeout(120)
async def test_a_url_listing_several_nodes_connects_to_one_that_is_up(
    node: RabbitCluster,
) -> None:
    dead = "127.0.0.1:1"  # nothing listens there
    url = f"amqp://guest:guest@{dead},{node.nodes[0].address}/{node.vhost}"
    broker = Broker(url, "orders")
    await broker.connect(timeout=15)
    try:
        assert await broker.is_ready()
        await broker.publish(example(PLACED, order_id=uuid.uuid4()))
    finally:
        await broker.close()
