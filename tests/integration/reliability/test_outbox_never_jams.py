"""The outbox never jams: a real inventory service (relay, database, broker) publishing an event
type nobody consumes, and one the broker refuses, while its other aggregates' events flow on time.

An event no queue is bound for is kept in ``inventory.unrouted`` by the events exchange's
alternate exchange — counted on ``/metrics``, listed and replayed by ``warren unrouted``. A row
the broker refuses backs off on its own: only its aggregate's later rows wait, and go in order.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Sequence
from typing import Any, ClassVar

import aio_pika
import pytest
from click.testing import Result
from typer.testing import CliRunner

from shop_contracts.catalogue import REGISTRY
from shop_contracts.examples import example
from warren.cli import app
from warren.contracts.event import Event
from warren.testing import wait_until

from .conftest import Inventory

RESERVED = REGISTRY.resolve("stock.reserved.v1")
ON_TIME = 0.5  # seconds from commit to delivery for an aggregate nothing holds back


class StockAudited(Event):
    """A test-only event of inventory's that no service consumes (yet)."""

    type: ClassVar[str] = "stock.audited.v1"
    producer: ClassVar[str] = "inventory"
    subject_field: ClassVar[str] = "order_id"
    order_id: uuid.UUID


async def emit(events: Sequence[Event], store: Any) -> Sequence[Event]:
    return events


class Arrivals:
    """When each ``stock.reserved.v1`` reached a queue of the test's, by order id."""

    def __init__(self) -> None:
        self.at: dict[str, float] = {}

    async def keep(self, message: aio_pika.abc.AbstractIncomingMessage) -> None:
        async with message.process():
            self.at[json.loads(message.body)["subject"]] = time.monotonic()

    async def wait(self, order_id: uuid.UUID, timeout: float) -> float:
        async def arrived() -> float | None:
            return self.at.get(str(order_id))

        return await wait_until(arrived, timeout=timeout, interval=0.01, what=f"{order_id}")


@pytest.fixture
async def arrivals(inventory: Inventory) -> Arrivals:
    """Only stock.reserved.v1 has a queue: the test's other events are nobody's."""
    await inventory.sink.unbind("inventory.events", "#")
    seen = Arrivals()
    queue = await inventory.channel.declare_queue(exclusive=True)
    await queue.bind("inventory.events", RESERVED.type)
    await queue.consume(seen.keep)
    return seen


async def commit(inventory: Inventory, *events: Event) -> float:
    await inventory.runtime.writer.execute(emit, list(events))
    return time.monotonic()


async def assert_on_time(inventory: Inventory, arrivals: Arrivals, count: int = 5) -> None:
    for _ in range(count):
        order_id = uuid.uuid4()
        committed = await commit(inventory, example(RESERVED, order_id))
        arrived = await arrivals.wait(order_id, timeout=5)
        assert arrived - committed < ON_TIME, f"{order_id} took {arrived - committed:.2f} s"


async def depth(inventory: Inventory, queue: str) -> int:
    declared: Any = await inventory.channel.declare_queue(queue, passive=True)
    return int(declared.declaration_result.message_count or 0)


async def unsent(inventory: Inventory) -> int:
    count = await inventory.runtime.database.pool.fetchval(
        "SELECT count(*) FROM warren_outbox WHERE sent_at IS NULL"
    )
    return int(count)


async def cli(*args: str) -> Result:
    runner = CliRunner()
    return await asyncio.to_thread(runner.invoke, app, list(args), env={"COLUMNS": "250"})


async def test_an_event_nobody_consumes_is_kept_counted_listed_and_holds_nothing_up(
    inventory: Inventory, arrivals: Arrivals
) -> None:
    audited = StockAudited(order_id=uuid.uuid4())
    await commit(inventory, audited)

    await assert_on_time(inventory, arrivals)

    async def kept() -> bool:
        return await depth(inventory, "inventory.unrouted") == 1

    await wait_until(kept, timeout=5, what="the unrouted event kept in inventory.unrouted")
    assert await unsent(inventory) == 0  # published (confirmed), not stuck in the outbox
    metrics = (await inventory.http.get("/metrics")).text
    assert 'warren_unrouted_messages{queue="inventory.unrouted",service="inventory"} 1.0' in metrics
    ready = await inventory.http.get("/readyz")
    assert (ready.status_code, ready.json()["outbox"]["status"]) == (200, "ok")

    async def listed() -> bool:  # the management API's statistics lag by a few seconds
        result = await cli("unrouted", "list", "--amqp-url", inventory.amqp_url)
        assert result.exit_code == 0, result.output
        return any(
            [cell.strip() for cell in line.split("│")[1:4]]
            == ["inventory.unrouted", "1", "inventory"]
            for line in result.stdout.splitlines()
        )

    await wait_until(listed, timeout=20, interval=1, what="warren unrouted list shows it")
    shown = await cli("unrouted", "show", "inventory.unrouted", "--json", "--amqp-url",
                      inventory.amqp_url)  # fmt: skip
    assert shown.exit_code == 0, shown.output
    [message] = [json.loads(line) for line in shown.stdout.splitlines()]
    assert (message["type"], message["routing_key"]) == ("stock.audited.v1", "stock.audited.v1")
    assert message["body"]["subject"] == str(audited.order_id)

    # A consumer of the new type appears; the operator replays what was kept, and it arrives.
    late = await inventory.channel.declare_queue(exclusive=True)
    await late.bind("inventory.events", StockAudited.type)
    replayed = await cli("unrouted", "replay", "inventory.unrouted", "--all", "--amqp-url",
                         inventory.amqp_url)  # fmt: skip
    assert replayed.exit_code == 0, replayed.output

    async def delivered() -> aio_pika.abc.AbstractIncomingMessage | None:
        return await late.get(no_ack=True, fail=False)

    got = await wait_until(delivered, timeout=5, what="the replayed event")
    assert got.message_id == message["message_id"]
    assert got.headers["x-replay-count"] == 1
    assert await depth(inventory, "inventory.unrouted") == 0
    await inventory.http.get("/metrics")
    metrics = (await inventory.http.get("/metrics")).text
    assert 'warren_unrouted_messages{queue="inventory.unrouted",service="inventory"} 0.0' in metrics


async def test_a_refused_row_holds_back_only_its_own_aggregate_and_then_goes_in_order(
    inventory: Inventory, arrivals: Arrivals
) -> None:
    # A queue that refuses (nacks) every stock.audited.v1: the broker does not take it.
    refuser = await inventory.channel.declare_queue(
        "refuser", arguments={"x-max-length": 0, "x-overflow": "reject-publish"}
    )
    await refuser.bind("inventory.events", StockAudited.type)
    held = uuid.uuid4()
    await commit(inventory, StockAudited(order_id=held), example(RESERVED, held))

    async def backing_off() -> bool:
        attempts = await inventory.runtime.database.pool.fetchval(
            "SELECT attempts FROM warren_outbox WHERE routing_key = $1", StockAudited.type
        )
        return bool(attempts and attempts >= 2)

    await wait_until(backing_off, timeout=10, what="the refused row retried with backoff")
    await assert_on_time(inventory, arrivals)  # every other aggregate flows meanwhile
    assert str(held) not in arrivals.at  # its own later row waits behind the refused one
    row = await inventory.runtime.database.pool.fetchrow(
        "SELECT next_attempt_at > now() - interval '1 minute' AS deferred, last_error "
        "FROM warren_outbox WHERE routing_key = $1",
        StockAudited.type,
    )
    assert row["deferred"]
    assert "refused" in row["last_error"]

    # Rows that old make the outbox stale: /readyz says so and keeps the pod in its Service.
    await inventory.runtime.database.pool.execute(
        "UPDATE warren_outbox SET created_at = now() - interval '2 minutes' WHERE sent_at IS NULL"
    )
    ready = await inventory.http.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["outbox"]["status"] == "stale"
    assert ready.json()["outbox"]["pending"] == 2

    await refuser.delete(if_unused=False, if_empty=False)  # the broker takes it again
    await arrivals.wait(held, timeout=35)  # within the capped backoff
    order = await inventory.runtime.database.pool.fetch(
        "SELECT routing_key FROM warren_outbox WHERE aggregate_id = $1 ORDER BY sent_at, seq",
        str(held),
    )
    assert [r["routing_key"] for r in order] == [StockAudited.type, RESERVED.type]
    assert await unsent(inventory) == 0
    assert (await inventory.http.get("/readyz")).json()["outbox"]["status"] == "ok"
