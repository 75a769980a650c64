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
from warren.runtime import Runtime
from warren.testing import running_service

QUEUE = "inventory.reservations"
DLQ = f"{QUEUE}.dlq"


@dataclass
class Inventory:
    """The running inventory service, its HTTP API, and a plain AMQP channel on its vhost."""

    runtime: Runtime[Any]
    http: httpx.AsyncClient
    channel: aio_pika.abc.AbstractChannel
    amqp_url: str
    sink: aio_pika.abc.AbstractQueue
    """Bound to every event inventory publishes (``#``): unbind it to have events no queue wants."""


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
    # No tap: the sink stands in for payments and orders, the consumers of what inventory
    # publishes, and a test unbinds it to have events no queue wants.
    async with running_service(build(settings), tap=False, headers=as_operator) as service:
        connection = await aio_pika.connect(vhost_url)
        async with connection:
            channel = await connection.channel(publisher_confirms=True)
            sink = await channel.declare_queue(exclusive=True)
            await sink.bind("inventory.events", "#")
            yield Inventory(service.runtime, service.http, channel, vhost_url, sink)
