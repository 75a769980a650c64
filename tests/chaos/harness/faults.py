"""The faults a chaos run injects, by name: processes killed, connections cut, servers restarted,
messages delivered twice, out of order, or not at all parseable.

Owns breaking things. Each fault is ``async def (stage) -> note``; it returns once the fault is in
place and the broken part was told to come back (a restart), never once the suite has recovered:
measuring recovery is the run's job. Message faults publish what the services' own outboxes
recorded, with the same message ids, through a plain AMQP client.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import aio_pika
import asyncpg
import httpx
import orjson

from tests.harness import PostgresCluster, RabbitCluster, RabbitNode
from warren.runtime.suite import Suite

from .stream import order_body, order_headers


@dataclass
class Stage:
    """What the faults act on: the suite, its broker node(s) and database cluster."""

    suite: Suite
    cluster: RabbitCluster
    postgres: PostgresCluster
    database_urls: dict[str, str]
    injected: list[str] = field(default_factory=list)  # ids of bad messages we published
    bursts: list[BurstStats] = field(default_factory=list)
    burst_orders: list[str] = field(default_factory=list)

    @property
    def node(self) -> RabbitNode:
        """The first node: the one every service connects to first."""
        return self.cluster.nodes[0]

    @property
    def vhost(self) -> str:
        """The suite's vhost."""
        return self.cluster.vhost

    @property
    def amqp_url(self) -> str:
        """A running node and the vhost, for the harness's own clients."""
        return self.cluster.running()[0].amqp_url(self.vhost)


Fault = Callable[[Stage], Awaitable[str]]


def kill(service: str) -> Fault:
    """SIGKILL ``service`` mid-stream, then start it again."""

    async def inject(stage: Stage) -> str:
        code = await stage.suite.kill(service)
        await stage.suite.start_one(service, timeout=90)
        return f"exit {code}"

    return inject


async def close_connections(stage: Stage) -> str:
    """Force-close every client connection to the vhost (rabbitmqctl close_all_connections)."""
    await stage.node.close_connections(stage.vhost)
    return ""


async def broker_restart(stage: Stage) -> str:
    """Stop the broker node gracefully, then start it again."""
    await stage.node.stop()
    await stage.node.start()
    return ""


async def broker_kill(stage: Stage) -> str:
    """SIGKILL the broker node, then start it again (unflushed state is the broker's problem)."""
    await stage.node.kill()
    await stage.node.start()
    return ""


async def stop_first_node(stage: Stage) -> str:
    """Stop cluster node 1 (the one every service connected to first) and leave it down."""
    await stage.node.stop()
    return f"{len(stage.cluster.running())} of {len(stage.cluster.nodes)} nodes running"


async def start_first_node(stage: Stage) -> str:
    """Start cluster node 1 again: it rejoins, its quorum replicas catch up."""
    await stage.node.start()
    return f"{len(stage.cluster.running())} of {len(stage.cluster.nodes)} nodes running"


async def postgres_restart(stage: Stage) -> str:
    """Restart PostgreSQL (fast mode: open transactions roll back, sessions are cut)."""
    await stage.postgres.restart("fast")
    return ""


async def duplicates(stage: Stage, limit: int = 40) -> str:
    """Publish again the latest ``limit`` sent outbox rows of every service: same message ids."""
    rows = []
    for url in stage.database_urls.values():
        rows += await _sent_rows(url, LATEST, limit)
    await _publish(stage.amqp_url, rows)
    return f"{len(rows)} re-sent"


async def out_of_order(stage: Stage, orders: int = 10) -> str:
    """Re-deliver the whole history of ``orders`` finished orders, newest event first."""
    conn = await asyncpg.connect(stage.database_urls["orders"])
    try:
        ids = [
            r["id"]
            for r in await conn.fetch(
                "SELECT id::text AS id FROM orders WHERE status IN ('confirmed', 'cancelled') "
                "ORDER BY updated_at DESC LIMIT $1",
                orders,
            )
        ]
    finally:
        await conn.close()
    rows = []
    for url in stage.database_urls.values():
        rows += await _sent_rows(url, OF_ORDERS, ids)
    rows.sort(key=lambda row: row["created_at"], reverse=True)
    await _publish(stage.amqp_url, rows)
    return f"{len(rows)} events of {len(ids)} orders, reversed"


async def bad_input(stage: Stage) -> str:
    """Publish malformed and wrong messages on routes the consumers listen to."""
    placed = {"order_id": str(uuid.uuid4()), "customer_id": "x", "currency": "EUR"}
    bodies: list[tuple[str, str, bytes, str]] = [
        ("orders.events", "order.placed.v1", b"{not json", "application/cloudevents+json"),
        (
            "orders.events",
            "order.placed.v1",
            b"\xff\xfe\x00garbage",
            "application/cloudevents+json",
        ),
        ("orders.events", "order.placed.v1", _envelope("order.placed.v1", {}), "text/plain"),
        ("orders.events", "order.placed.v1", _envelope("order.placed.v9", placed), _CE),
        ("orders.events", "order.cancelled.v1", _envelope("order.cancelled.v1", placed), _CE),
        ("inventory.events", "stock.reserved.v1", _envelope("stock.reserved.v1", {"x": 1}), _CE),
        ("payments.events", "payment.captured.v1", b"[]", _CE),
    ]
    connection = await aio_pika.connect(stage.amqp_url)
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        for exchange_name, key, body, content_type in bodies:
            message_id = str(uuid.uuid4())
            exchange = await channel.get_exchange(exchange_name)
            await exchange.publish(
                aio_pika.Message(body, content_type=content_type, message_id=message_id),
                routing_key=key,
                mandatory=True,
            )
            stage.injected.append(message_id)
    return f"{len(bodies)} bad messages"


_CE = "application/cloudevents+json"


def _envelope(event_type: str, data: dict[str, Any]) -> bytes:
    return orjson.dumps(
        {
            "specversion": "1.0",
            "id": str(uuid.uuid4()),
            "source": "chaos",
            "type": event_type,
            "time": datetime.now(UTC).isoformat(),
            "datacontenttype": "application/json",
            "subject": data.get("order_id", "none"),
            "data": data,
        }
    )


_COLUMNS = (
    "SELECT exchange, routing_key, body, headers::text AS headers, "
    "properties::text AS properties, created_at FROM warren_outbox WHERE sent_at IS NOT NULL "
)
LATEST = _COLUMNS + "ORDER BY seq DESC LIMIT $1"
OF_ORDERS = _COLUMNS + "AND aggregate_id = ANY($1::text[]) ORDER BY seq"


async def _sent_rows(url: str, query: str, argument: object) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(url)
    try:
        return list(await conn.fetch(query, argument))
    finally:
        await conn.close()


async def _publish(amqp_url: str, rows: list[asyncpg.Record]) -> None:
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        for row in rows:
            properties = orjson.loads(row["properties"])
            exchange = await channel.get_exchange(row["exchange"])
            await exchange.publish(
                aio_pika.Message(
                    row["body"],
                    headers=orjson.loads(row["headers"]),
                    content_type=properties["content_type"],
                    message_id=properties["message_id"],
                    type=properties["type"],
                    app_id=properties["app_id"],
                    correlation_id=properties.get("correlation_id"),
                    delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                ),
                routing_key=row["routing_key"],
                mandatory=True,
            )


FAULTS: dict[str, Fault] = {
    "kill orders": kill("orders"),
    "kill inventory": kill("inventory"),
    "kill payments": kill("payments"),
    "kill notifications": kill("notifications"),
    "close broker connections": close_connections,
    "broker restart": broker_restart,
    "broker SIGKILL": broker_kill,
    "postgres restart": postgres_restart,
    "stop cluster node 1": stop_first_node,
    "start cluster node 1": start_first_node,
    "duplicate delivery": duplicates,
    "out-of-order delivery": out_of_order,
    "bad input": bad_input,
}
"""Every fault by the name the schedule and the table use."""


@dataclass
class BurstStats:
    """What an overload burst showed: readiness latency and the queues' depth and unacked count."""

    orders: int = 0
    seconds: float = 0.0
    readyz_worst_ms: float = 0.0
    readyz_failures: int = 0
    deepest_queue: int = 0
    most_unacked: int = 0


async def burst(stage: Stage, orders: int = 300, concurrency: int = 50) -> str:
    """Place ``orders`` orders as fast as HTTP takes them, far above the consumers' rate.

    Meanwhile /readyz of every service is polled and the work queues' depth and unacked count are
    sampled, so the run can show that queues absorb the burst, prefetch bounds what is in flight
    and HTTP stays responsive.
    """
    stats = BurstStats()
    stage.bursts.append(stats)
    done = asyncio.Event()
    watchers = [
        asyncio.create_task(_watch_readyz(stage, stats, done)),
        asyncio.create_task(_watch_queues(stage, stats, done)),
    ]
    started = time.monotonic()
    orders_url = stage.suite.services["orders"].url
    gate = asyncio.Semaphore(concurrency)
    async with httpx.AsyncClient(base_url=orders_url, timeout=30) as http:

        async def place(number: int) -> None:
            async with gate:
                response = await http.post(
                    "/orders", json=order_body(number), headers=order_headers(number)
                )
                response.raise_for_status()
                stage.burst_orders.append(str(response.json()["order_id"]))

        await asyncio.gather(*(place(n) for n in range(orders)))
    stats.orders, stats.seconds = orders, time.monotonic() - started
    await asyncio.sleep(1.0)  # keep sampling while the queues drain
    done.set()
    await asyncio.gather(*watchers)
    return (
        f"{orders} orders in {stats.seconds:.1f} s; deepest queue {stats.deepest_queue}, "
        f"most unacked {stats.most_unacked}; /readyz worst {stats.readyz_worst_ms:.0f} ms, "
        f"{stats.readyz_failures} failures"
    )


async def _watch_readyz(stage: Stage, stats: BurstStats, done: asyncio.Event) -> None:
    async with httpx.AsyncClient(timeout=2) as http:
        while not done.is_set():
            for service in stage.suite.services.values():
                started = time.monotonic()
                try:
                    ok = (await http.get(f"{service.url}/readyz")).status_code == 200
                except httpx.HTTPError:
                    ok = False
                stats.readyz_worst_ms = max(
                    stats.readyz_worst_ms, (time.monotonic() - started) * 1000
                )
                stats.readyz_failures += not ok
            await asyncio.sleep(0.1)


async def _watch_queues(stage: Stage, stats: BurstStats, done: asyncio.Event) -> None:
    while not done.is_set():
        listing = await stage.node.ctl(
            "list_queues", "-p", stage.vhost, "name", "messages_ready",
            "messages_unacknowledged", "--no-table-headers", "--quiet",
        )  # fmt: skip
        for line in listing.splitlines():
            fields = line.split()
            # work queues only (``<service>.<purpose>``), not DLQs or delay queues
            if len(fields) == 3 and fields[1].isdigit() and fields[0].count(".") == 1:
                stats.deepest_queue = max(stats.deepest_queue, int(fields[1]))
                stats.most_unacked = max(stats.most_unacked, int(fields[2]))
        await asyncio.sleep(0.3)


FAULTS["overload burst"] = burst
