"""The notifications service as it runs: order.confirmed/cancelled in through its queue, over HTTP.

Real RabbitMQ (a fresh vhost) and PostgreSQL (a fresh database); events are published as the orders
service would publish them, duplicates included.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from notifications.main import Settings, build
from warren.testing import ServiceUnderTest, running_service


@pytest.fixture
async def running(
    vhost_url: str, database_url: str, trusting: dict[str, str], as_operator: dict[str, str]
) -> AsyncIterator[ServiceUnderTest[Any]]:
    settings = Settings(
        **trusting,
        environment="test",
        amqp_url=vhost_url,
        database_url=database_url,
        database_name=urlsplit(database_url).path[1:],
    )
    async with running_service(build(settings), headers=as_operator) as service:
        yield service


Running = ServiceUnderTest[Any]


async def test_each_customer_is_told_once_how_their_order_ended(
    running: Running, confirmed, cancelled
) -> None:
    happy, unlucky = confirmed(customer_id="frank"), cancelled(customer_id="frank")
    ids = [
        await running.publish(happy),
        await running.publish(unlucky),
        await running.publish(happy),  # re-published: a new message id, the same news
    ]
    await running.wait_handled(*ids, timeout=20)

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
