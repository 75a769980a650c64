"""The payments service as it runs: stock.reserved in through its queue, payment.* out, over HTTP.

Real RabbitMQ (a fresh vhost) and PostgreSQL (a fresh database); the provider fails a third of its
calls, so every order only gets through by the runtime's retries.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

import aio_pika
import pytest

from payments.main import Settings, build
from warren.testing import ServiceUnderTest, running_service

CAPTURED = "payment.captured.v1"
DECLINED = "payment.declined.v1"


Running = ServiceUnderTest[Any]


@pytest.fixture
async def running(
    vhost_url: str, database_url: str, trusting: dict[str, str], as_operator: dict[str, str]
) -> AsyncIterator[Running]:
    settings = Settings(
        **trusting,
        environment="test",
        amqp_url=vhost_url,
        database_url=database_url,
        database_name=urlsplit(database_url).path[1:],
        retry_delays=(0.05,) * 15,  # 16 attempts at 30% failure: all fail once in 10^8
        payment_failure_rate=0.3,
        payment_limits={"carol": 1000},
    )
    async with running_service(build(settings), headers=as_operator) as service:
        yield service


async def test_every_order_is_charged_exactly_once_through_a_flaky_provider(
    running: Running, reserved
) -> None:
    events = [reserved(amount=2999) for _ in range(20)]
    ids = [await running.publish(event) for event in events]
    ids.append(await running.publish(events[0]))  # re-published: a new message id

    for event in events:
        await running.wait_for(CAPTURED, subject=str(event.order_id), timeout=30)
    await running.wait_handled(*ids, timeout=30)

    queued = await running.database.pool.fetchval(
        "SELECT count(*) FROM warren_outbox WHERE routing_key = $1", CAPTURED
    )
    assert queued == 20  # the re-published event captured nothing more
    assert await dead_lettered(running.amqp_url) == 0  # unavailability is retried, never dropped


async def test_a_payment_is_readable_over_http_once_settled(running: Running, reserved) -> None:
    captured, declined = reserved(amount=900), reserved(amount=2999, customer_id="carol")
    await asyncio.gather(running.publish(captured), running.publish(declined))
    await running.wait_for(CAPTURED, subject=str(captured.order_id), timeout=30)
    await running.wait_for(DECLINED, subject=str(declined.order_id), timeout=30)

    ok = (await running.http.get(f"/payments/{captured.order_id}")).json()
    refused = (await running.http.get(f"/payments/{declined.order_id}")).json()
    missing = await running.http.get(f"/payments/{uuid.uuid4()}")

    assert (ok["status"], ok["amount"], ok["currency"], ok["reason"]) == (
        "captured",
        900,
        "EUR",
        None,
    )
    assert uuid.UUID(ok["payment_id"])
    assert (refused["status"], refused["amount"], refused["payment_id"]) == (
        "declined",
        2999,
        None,
    )
    assert "limit of 1000" in refused["reason"]
    assert missing.status_code == 404


async def dead_lettered(amqp_url: str) -> int:
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel()
        queue = await channel.declare_queue("payments.charges.dlq", passive=True)
        return queue.declaration_result.message_count or 0
