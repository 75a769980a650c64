"""The message every messaging benchmark moves, and the topology it moves through.

Owns the ~600-byte ``order.placed.v1`` CloudEvents envelope (the same bytes for every
contender), the typed envelope raw aio-pika and FastStream validate into, and the one work queue
(declared by warren's own topology code, so every contender uses the same quorum queue).
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Any, Literal

import aio_pika
import orjson
from pydantic import AwareDatetime, BaseModel, ConfigDict

from shop_contracts.money import Money
from shop_contracts.orders import OrderLine, OrderPlaced
from warren.contracts.envelope import CONTENT_TYPE
from warren.messaging import Broker, WorkQueue
from warren.messaging.message import prepare

SERVICE = "bench"
EXCHANGE = "orders.events"
ROUTING_KEY = OrderPlaced.type
SOURCE = f"/warren/{SERVICE}"
LINES = 4


def order(order_id: uuid.UUID | None = None) -> OrderPlaced:
    """An order with enough lines to make a ~600-byte envelope."""
    lines = tuple(
        OrderLine(sku=f"TEA-GREEN-{i:03d}", quantity=i + 1, unit_price=1250 + i)
        for i in range(LINES)
    )
    total = sum(line.quantity * line.unit_price for line in lines)
    return OrderPlaced(
        order_id=order_id or uuid.uuid4(),
        customer_id="customer-0042",
        lines=lines,
        total=Money(amount=total, currency="EUR"),
        placed_at=datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC),
    )


class OrderPlacedEnvelope(BaseModel):
    """The CloudEvents envelope with ``data`` typed: what a hand-written consumer validates into."""

    model_config = ConfigDict(frozen=True)

    specversion: Literal["1.0"]
    id: str
    source: str
    type: Literal["order.placed.v1"]
    time: AwareDatetime
    datacontenttype: Literal["application/json"] = "application/json"
    subject: str | None = None
    data: OrderPlaced


def envelope_bytes(event: OrderPlaced, message_id: str, now: datetime) -> bytes:
    """The envelope as a hand-written producer builds it (orjson): same bytes as warren's."""
    return orjson.dumps(
        {
            "specversion": "1.0",
            "id": message_id,
            "source": SOURCE,
            "type": event.type,
            "time": now,
            "datacontenttype": "application/json",
            "subject": event.subject,
            "data": event.model_dump(mode="json"),
        },
        option=orjson.OPT_UTC_Z,
    )


def properties(event: OrderPlaced, message_id: str, now: datetime) -> dict[str, Any]:
    """The AMQP properties DESIGN.md fixes, as keyword arguments of ``aio_pika.Message``."""
    return {
        "content_type": CONTENT_TYPE,
        "delivery_mode": aio_pika.DeliveryMode.PERSISTENT,
        "message_id": message_id,
        "type": event.type,
        "app_id": SERVICE,
        "timestamp": now,
        "correlation_id": event.subject,
        "headers": {},
    }


def work_queue(handler: Any, prefetch: int = 32) -> WorkQueue:
    """The one work queue, ``bench.orders``, bound to ``orders.events`` / ``order.placed.v1``."""
    return WorkQueue(SERVICE, "orders", {OrderPlaced: handler}, prefetch=prefetch)


async def _ignore(*_: object) -> None:
    return None


QUEUE = work_queue(_ignore).name


async def prepare_queue(url: str, queue_type: str = "quorum") -> None:
    """Declare the topology with warren's own code (idempotent) and empty the queue.

    ``queue_type="classic"`` swaps the work queue for a classic durable one (same name and
    binding), to see how much of a result is the quorum queue's disk writes.
    """
    broker = Broker(url, SERVICE)
    await broker.connect()
    try:
        channel = await broker.channel()
        await channel.queue_delete(QUEUE)  # starts empty, whichever type it was
        await broker.declare([work_queue(_ignore)])
        if queue_type == "classic":
            await channel.queue_delete(QUEUE)
            queue = await channel.declare_queue(QUEUE, durable=True)
            await queue.bind(EXCHANGE, ROUTING_KEY)
        await channel.close()
    finally:
        await broker.close()


async def preload(url: str, count: int) -> None:
    """Put ``count`` warren-prepared envelopes (fresh ids) in the queue, confirmed, untimed."""
    connection = await aio_pika.connect(url)
    try:
        channel = await connection.channel(publisher_confirms=True)
        exchange = await channel.get_exchange(EXCHANGE, ensure=False)
        event = order()
        pending: set[Any] = set()
        for _ in range(count):
            message = prepare(event, service=SERVICE)
            amqp = aio_pika.Message(
                message.body, **properties(event, message.message_id, message.timestamp)
            )
            pending.add(exchange.publish(amqp, ROUTING_KEY, mandatory=True))
            if len(pending) >= 500:
                await _drain(pending)
        await _drain(pending)
        await channel.close()
    finally:
        await connection.close()


async def _drain(pending: set[Any]) -> None:
    await asyncio.gather(*pending)
    pending.clear()
