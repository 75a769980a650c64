"""``warren dlq`` on a real broker: a poison message dead-lettered by a real consumer, inspected
without loss, replayed after the fix and processed exactly once, or purged.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections import Counter
from typing import Any

import aio_pika

from shop_contracts.catalogue import REGISTRY
from shop_contracts.examples import example
from warren.contracts.envelope import CONTENT_TYPE, encode, wrap
from warren.contracts.event import Event
from warren.messaging import Broker, Delivery, Handler, PermanentError
from warren.testing import Servers, wait_until

PLACED = REGISTRY.resolve("order.placed.v1")
WORK = "probe.work"
DLQ = "probe.work.dlq"


class Handling:
    """The handler table of ``probe.work`` and a record of what the fixed handler processed."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.deliveries: dict[str, Delivery] = {}
        self.table: dict[type[Event], Handler] = {PLACED: self.poisoned}

    async def poisoned(self, event: Event, delivery: Delivery) -> None:
        raise PermanentError("order cannot be handled: bug #123")

    async def fixed(self, event: Event, delivery: Delivery) -> None:
        self.calls[delivery.message_id] += 1
        self.deliveries[delivery.message_id] = delivery

    def fix(self) -> None:
        """Deploy the fix: the table now points at the working handler."""
        self.table[PLACED] = self.fixed


async def _poison(broker: Broker, consumer_for, depth, count: int) -> tuple[Handling, list[str]]:
    handling = Handling()
    await consumer_for(handling.table)
    ids = [await broker.publish(example(PLACED, order_id=uuid.uuid4())) for _ in range(count)]

    async def all_dead() -> bool:
        return await depth(DLQ) == count

    await wait_until(all_dead, timeout=10, what=f"{count} messages in {DLQ}")
    return handling, ids


async def _shown(cli, vhost_url: str) -> list[dict[str, Any]]:
    result = await cli("dlq", "show", DLQ, "--json", "--amqp-url", vhost_url)
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.stdout.splitlines()]


async def test_show_lists_the_errors_and_leaves_the_dlq_unchanged(
    cli, broker: Broker, consumer_for, depth, vhost_url: str
) -> None:
    _, ids = await _poison(broker, consumer_for, depth, 3)

    first = await cli("dlq", "show", DLQ, "--amqp-url", vhost_url)
    second = await cli("dlq", "show", DLQ, "--amqp-url", vhost_url)

    assert first.exit_code == 0, first.output
    assert first.stdout == second.stdout
    for message_id in ids:
        assert message_id in first.stdout
    assert "PermanentError" in first.stdout
    assert "order cannot be handled: bug #123" in first.stdout
    assert "order.placed.v1" in first.stdout
    assert f"{DLQ}: 3 messages, showing 3" in first.stdout
    assert await depth(DLQ) == 3
    before, after = await _shown(cli, vhost_url), await _shown(cli, vhost_url)
    assert before == after  # same messages, same order, same bodies and headers
    assert [m["message_id"] for m in before] == ids
    headers = before[0]["headers"]
    assert headers["x-error-type"] == "PermanentError"
    assert headers["x-attempts"] == 1
    assert headers["x-original-routing-key"] == "order.placed.v1"
    assert headers["x-queue"] == WORK
    assert before[0]["body"]["id"] == ids[0]
    assert await depth(DLQ) == 3


async def test_show_limit_shows_the_head_only(
    cli, broker: Broker, consumer_for, depth, vhost_url: str
) -> None:
    _, ids = await _poison(broker, consumer_for, depth, 3)

    result = await cli("dlq", "show", DLQ, "--limit", "1", "--json", "--amqp-url", vhost_url)

    assert result.exit_code == 0, result.output
    assert [json.loads(line)["message_id"] for line in result.stdout.splitlines()] == ids[:1]
    assert await depth(DLQ) == 3


async def test_replay_all_after_the_fix_processes_each_message_exactly_once(
    cli, broker: Broker, consumer_for, depth, vhost_url: str
) -> None:
    handling, ids = await _poison(broker, consumer_for, depth, 2)
    handling.fix()

    result = await cli("dlq", "replay", DLQ, "--all", "--amqp-url", vhost_url)

    assert result.exit_code == 0, result.output
    assert f"replayed 2 message(s) from {DLQ}" in result.stdout
    await wait_until(
        lambda: _now(set(handling.calls) == set(ids)), timeout=10, what="both replayed"
    )
    await asyncio.sleep(0.5)  # a duplicate delivery would show up here
    assert handling.calls == Counter(dict.fromkeys(ids, 1))
    assert await depth(DLQ) == 0
    assert await depth(WORK) == 0
    delivery = handling.deliveries[ids[0]]
    assert delivery.attempt == 1  # fresh attempts: the failure record stayed behind
    assert "x-error-type" not in delivery.headers
    assert "x-attempts" not in delivery.headers
    assert delivery.headers["x-replay-count"] == 1
    assert "x-replayed-at" in delivery.headers


async def test_replay_by_id_replays_only_that_message(
    cli, broker: Broker, consumer_for, depth, vhost_url: str
) -> None:
    handling, ids = await _poison(broker, consumer_for, depth, 2)
    handling.fix()

    result = await cli("dlq", "replay", DLQ, "--id", ids[1], "--amqp-url", vhost_url)

    assert result.exit_code == 0, result.output
    await wait_until(lambda: _now(ids[1] in handling.calls), timeout=10, what="replayed")
    await asyncio.sleep(0.5)  # the other message would show up here if it had been replayed
    assert handling.calls == Counter({ids[1]: 1})
    assert [m["message_id"] for m in await _shown(cli, vhost_url)] == [ids[0]]


async def test_replay_of_an_unknown_id_exits_1_and_changes_nothing(
    cli, broker: Broker, consumer_for, depth, vhost_url: str
) -> None:
    _, ids = await _poison(broker, consumer_for, depth, 2)

    result = await cli("dlq", "replay", DLQ, "--id", "no-such-id", "--amqp-url", vhost_url)

    assert result.exit_code == 1, result.output
    assert "not found" in result.stderr
    assert [m["message_id"] for m in await _shown(cli, vhost_url)] == ids


async def test_unroutable_replay_keeps_the_message_in_the_dlq(
    cli, raw_channel: aio_pika.abc.AbstractChannel, depth, vhost_url: str
) -> None:
    # A DLQ whose origin queue is gone: its retry exchange routes the key nowhere.
    await raw_channel.declare_exchange("ghost.retry", "direct", durable=True)
    dead = await raw_channel.declare_queue("ghost.work.dlq", durable=True)
    body = json.dumps({"not": "inspected"}).encode()
    await raw_channel.default_exchange.publish(
        aio_pika.Message(body, message_id="m-1", content_type=CONTENT_TYPE), routing_key=dead.name
    )

    result = await cli("dlq", "replay", "ghost.work.dlq", "--all", "--amqp-url", vhost_url)

    assert result.exit_code == 1, result.output
    assert "m-1 not replayed, still in ghost.work.dlq" in result.stderr
    assert await depth("ghost.work.dlq") == 1


async def test_purge_asks_first_and_empties_with_yes(
    cli, broker: Broker, consumer_for, depth, vhost_url: str
) -> None:
    await _poison(broker, consumer_for, depth, 2)

    declined = await cli("dlq", "purge", DLQ, "--amqp-url", vhost_url, stdin="n\n")
    assert declined.exit_code == 1
    assert await depth(DLQ) == 2

    result = await cli("dlq", "purge", DLQ, "--yes", "--amqp-url", vhost_url)
    assert result.exit_code == 0, result.output
    assert f"purged 2 message(s) from {DLQ}" in result.stdout
    assert await depth(DLQ) == 0


async def test_list_shows_every_dlq_with_its_depth(
    cli, broker: Broker, consumer_for, depth, vhost_url: str, servers: Servers
) -> None:
    await _poison(broker, consumer_for, depth, 1)
    options = ("--amqp-url", vhost_url, "--management-url", servers.management_url)

    async def listed() -> str | None:
        result = await cli("dlq", "list", *options)
        assert result.exit_code == 0, result.output
        row = next((line for line in result.stdout.splitlines() if DLQ in line), "")
        return row if " 1 " in row else None  # statistics lag the queue by a few seconds

    row = await wait_until(listed, timeout=20, interval=1, what=f"{DLQ} listed with depth 1")
    assert WORK in row.replace(DLQ, "")  # the origin queue column


async def test_a_missing_queue_is_a_clear_error(cli, vhost_url: str) -> None:
    result = await cli("dlq", "show", "nothing.here.dlq", "--amqp-url", vhost_url)

    assert result.exit_code == 1
    assert "queue 'nothing.here.dlq' not found" in result.stderr


async def _now(value: bool) -> bool:
    return value


async def test_a_forged_origin_header_cannot_steer_a_replay(
    cli, broker: Broker, consumer_for, depth, raw_channel, vhost_url: str
) -> None:
    handling = Handling()
    handling.fix()
    await consumer_for(handling.table)
    victim_exchange = await raw_channel.declare_exchange("victim.retry", "direct", durable=True)
    victim = await raw_channel.declare_queue("victim.work", durable=True)
    await victim.bind(victim_exchange, "victim.work")
    # In the DLQ, as a message the broker dead-lettered would be: headers as its publisher wrote
    envelope = wrap(example(PLACED, order_id=uuid.uuid4()), source="/warren/orders")
    dlx = await raw_channel.get_exchange("probe.dlx")
    await dlx.publish(
        aio_pika.Message(
            encode(envelope),
            content_type=CONTENT_TYPE,
            message_id=envelope.id,
            type=PLACED.type,
            headers={"x-queue": "victim.work", "x-first-death-queue": "victim.work"},
        ),
        routing_key=DLQ,
    )

    result = await cli("dlq", "replay", DLQ, "--all", "--amqp-url", vhost_url)

    assert result.exit_code == 0, result.output
    await wait_until(lambda: _now(handling.calls[envelope.id] == 1), what="replayed to probe.work")
    assert await depth("victim.work") == 0
