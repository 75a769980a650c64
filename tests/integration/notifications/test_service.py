"""The notifications service as it runs: order.confirmed/cancelled in through its queue, over HTTP.

Real RabbitMQ (a fresh vhost) and PostgreSQL (a fresh database); events are published as the orders
service would publish them, duplicates included.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from notifications.main import Settings, build
from warren.db import Database
from warren.messaging import Broker
from warren.runtime import create_app
from warren.testing import wait_until


@dataclass
class Running:
    """The started service, a client for its HTTP API, the orders service's side of the broker."""

    http: httpx.AsyncClient
    database: Database
    orders: Broker


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
    )
    app = create_app(build(settings))
    runtime: Any = app.state.runtime
    await runtime.start()
    orders = Broker(vhost_url, "orders")
    await orders.connect()
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://notifications", headers=as_operator
        ) as http:
            yield Running(http, runtime.database, orders)
    finally:
        await orders.close()
        await runtime.stop()


async def test_each_customer_is_told_once_how_their_order_ended(
    running: Running, confirmed, cancelled
) -> None:
    happy, unlucky = confirmed(customer_id="frank"), cancelled(customer_id="frank")
    ids = [
        await running.orders.publish(happy),
        await running.orders.publish(unlucky),
        await running.orders.publish(happy),  # re-published: a new message id, the same news
    ]
    await wait_until(lambda: handled(running.database, ids), timeout=20, what="all 3 handled")

    about_happy = await notifications(running.http, order_id=str(happy.order_id))
    about_unlucky = await notifications(running.http, order_id=str(unlucky.order_id))
    for_frank = await notifications(running.http, customer_id="frank")

    assert [n["kind"] for n in about_happy] == ["order_confirmed"]
    assert [n["kind"] for n in about_unlucky] == ["order_cancelled"]
    assert about_happy[0]["customer_id"] == "frank"
    assert about_happy[0]["channel"] == "email"
    assert "29.99 EUR" in about_happy[0]["body"]
    assert {n["id"] for n in for_frank} == {about_happy[0]["id"], about_unlucky[0]["id"]}
    assert for_frank[0]["created_at"] >= for_frank[1]["created_at"]  # newest first


async def test_bad_queries_are_refused(running: Running) -> None:
    for query in ("limit=0", "limit=501", "order_id=not-a-uuid"):
        response = await running.http.get(f"/notifications?{query}")
        assert response.status_code == 422, query
    assert await notifications(running.http, order_id=str(uuid.uuid4())) == []


async def notifications(http: httpx.AsyncClient, **query: str) -> list[dict[str, Any]]:
    response = await http.get("/notifications", params=query)
    response.raise_for_status()
    listed: list[dict[str, Any]] = response.json()
    return listed


async def handled(database: Database, message_ids: list[str]) -> bool:
    count = await database.pool.fetchval(
        "SELECT count(*) FROM warren_inbox WHERE consumer = 'notifications.outbound'"
        " AND message_id = ANY($1::text[])",
        message_ids,
    )
    return bool(count == len(message_ids))
