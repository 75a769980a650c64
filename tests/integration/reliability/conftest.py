"""A real service in this process (inventory: its consumer, handler table and database) on a fresh
vhost and database, with a raw channel to throw things at it and an operator's view of its DLQ."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import aio_pika
import httpx
import pytest

from inventory.main import Settings, build
from warren.runtime import Runtime, create_app

QUEUE = "inventory.reservations"
DLQ = f"{QUEUE}.dlq"


@dataclass
class Inventory:
    """The running inventory service, its HTTP API, and a plain AMQP channel on its vhost."""

    runtime: Runtime[Any]
    http: httpx.AsyncClient
    channel: aio_pika.abc.AbstractChannel
    amqp_url: str


@pytest.fixture
async def inventory(
    vhost_url: str, database_url: str, trusting: dict[str, str], as_operator: dict[str, str]
) -> AsyncIterator[Inventory]:
    settings = Settings(
        **trusting,
        environment="test",
        amqp_url=vhost_url,
        database_url=database_url,
        database_name=urlsplit(database_url).path[1:],
        retry_delays=(0.05, 0.1),
        seed_stock={"TEA-GREEN": 1000, "MUG-BLUE": 1000},
    )
    app = create_app(build(settings))
    runtime: Runtime[Any] = app.state.runtime
    await runtime.start()
    connection = await aio_pika.connect(vhost_url)
    try:
        channel = await connection.channel(publisher_confirms=True)
        # What inventory publishes needs a queue, or it is unroutable (payments and orders' job).
        sink = await channel.declare_queue(exclusive=True)
        await sink.bind("inventory.events", "#")
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://inventory", headers=as_operator
        ) as http:
            yield Inventory(runtime, http, channel, vhost_url)
    finally:
        await connection.close()
        await runtime.stop()
