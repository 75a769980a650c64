"""Retries through delay queues, dead-lettering with reasons, and a consumer that keeps going."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import datetime

import aio_pika
import orjson

from shop_contracts.catalogue import REGISTRY
from shop_contracts.examples import example
from warren.contracts.envelope import CONTENT_TYPE
from warren.contracts.event import Event
from warren.messaging import Broker, Delivery, PermanentError, RetryPolicy
from warren.testing import wait_until

PLACED = REGISTRY.resolve("order.placed.v1")
CONFIRMED = REGISTRY.resolve("order.confirmed.v1")
DLQ = "probe.work.dlq"


async def test_transient_failures_are_retried_with_the_configured_delays(
    broker: Broker, consumer_for, drain
) -> None:
    attempts: list[tuple[int, float]] = []

    async def flaky(event: Event, delivery: Delivery) -> None:
        attempts.append((delivery.attempt, time.monotonic()))
        if delivery.attempt < 3:
            raise ConnectionError("provider unavailable")

    await consumer_for({PLACED: flaky}, retry=RetryPolicy((0.3, 0.6, 5.0)))
    await broker.publish(example(PLACED, order_id=uuid.uuid4()))

    await wait_until(lambda: _now(len(attempts) >= 3), timeout=10, what="third attempt")
    await asyncio.sleep(0.5)  # a 4th attempt would show up here if the success were not acked
    assert [number for number, _ in attempts] == [1, 2, 3]
    first_gap = attempts[1][1] - attempts[0][1]
    second_gap = attempts[2][1] - attempts[1][1]
    assert 0.3 <= first_gap < 2.0
    assert 0.6 <= second_gap < 3.0
    assert await drain(DLQ) == []
    assert await drain("probe.work") == []


async def test_exhausted_retries_dead_letter_with_the_reason(
    broker: Broker, consumer_for, drain
) -> None:
    calls = 0

    async def always_failing(event: Event, delivery: Delivery) -> None:
        nonlocal calls
        calls += 1
        raise TimeoutError("still down")

    await consumer_for({PLACED: always_failing}, retry=RetryPolicy((0.1, 0.1)))
    message_id = await broker.publish(example(PLACED, order_id=uuid.uuid4()))

    dead = await _wait_for_dead_letters(drain, 1)
    assert calls == 3
    headers = dead[0].headers
    assert dead[0].message_id == message_id
    assert headers["x-error-type"] == "TimeoutError"
    assert headers["x-error-message"] == "still down"
    assert headers["x-attempts"] == 3
    assert headers["x-original-exchange"] == "orders.events"
    assert headers["x-original-routing-key"] == "order.placed.v1"
    assert datetime.fromisoformat(headers["x-failed-at"]).tzinfo is not None


async def test_permanent_malformed_and_unknown_go_to_the_dlq_and_consuming_goes_on(
    broker: Broker, consumer_for, drain, raw_channel
) -> None:
    handled: list[str] = []

    async def pick(event: Event, delivery: Delivery) -> None:
        if event.customer_id == "refuse-me":  # type: ignore[attr-defined]
            raise PermanentError("customer is blocked")
        handled.append(delivery.message_id)

    await consumer_for({PLACED: pick})
    exchange = await raw_channel.get_exchange("orders.events")
    refused = example(PLACED).model_copy(update={"customer_id": "refuse-me"})
    await broker.publish(refused)
    await exchange.publish(_raw(b"{not json", "order.placed.v1"), "order.placed.v1")
    unknown = orjson.loads(await _body_of(broker, example(PLACED)))
    unknown["type"] = "order.teleported.v1"
    await exchange.publish(_raw(orjson.dumps(unknown), "order.teleported.v1"), "order.placed.v1")
    bad_data = orjson.loads(await _body_of(broker, example(PLACED)))
    bad_data["data"]["lines"] = []
    await exchange.publish(_raw(orjson.dumps(bad_data), "order.placed.v1"), "order.placed.v1")
    good_id = await broker.publish(example(PLACED, order_id=uuid.uuid4()))

    dead = await _wait_for_dead_letters(drain, 4)
    await wait_until(lambda: _now(handled == [good_id]), what="the good message handled")
    reasons = {m.headers["x-error-type"]: m.headers["x-error-message"] for m in dead}
    assert reasons["PermanentError"] == "customer is blocked"
    assert "not valid UTF-8 JSON" in reasons["MalformedMessage"]
    assert "order.teleported.v1" in reasons["UnexpectedEventType"]
    assert "lines" in reasons["SchemaViolation"]
    assert all(m.headers["x-attempts"] == 1 for m in dead)
    assert any(m.body == b"{not json" for m in dead)  # the body is kept as it came


async def test_wrong_content_type_is_dead_lettered(
    broker: Broker, consumer_for, drain, raw_channel
):
    async def never(event: Event, delivery: Delivery) -> None:
        raise AssertionError("must not be called")

    await consumer_for({PLACED: never})
    body = await _body_of(broker, example(PLACED))
    exchange = await raw_channel.get_exchange("orders.events")
    await exchange.publish(
        aio_pika.Message(body, content_type="text/plain"), routing_key="order.placed.v1"
    )
    dead = await _wait_for_dead_letters(drain, 1)
    assert dead[0].headers["x-error-type"] == "MalformedMessage"
    assert "text/plain" in dead[0].headers["x-error-message"]


async def _wait_for_dead_letters(drain, count: int) -> list[aio_pika.abc.AbstractIncomingMessage]:
    found: list[aio_pika.abc.AbstractIncomingMessage] = []

    async def enough() -> bool:
        found.extend(await drain(DLQ))
        return len(found) >= count

    await wait_until(enough, timeout=15, what=f"{count} dead letters")
    await asyncio.sleep(0.3)
    found.extend(await drain(DLQ))
    assert len(found) == count, [m.headers.get("x-error-type") for m in found]
    return found


async def _body_of(broker: Broker, event: Event) -> bytes:
    from warren.messaging.message import prepare

    return prepare(event, service=broker.service).body


def _raw(body: bytes, event_type: str) -> aio_pika.Message:
    return aio_pika.Message(
        body, content_type=CONTENT_TYPE, message_id=str(uuid.uuid4()), type=event_type
    )


async def _now(value: bool) -> bool:
    return value
