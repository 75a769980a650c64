"""The outbox relay under load: rows/s it publishes, and commit-to-publish lag at fixed rates.

``python -m bench.outbox '<json spec>'`` makes a fresh vhost and database, then:

- **drain**: ``rows`` outbox rows written while no relay runs; a relay is started and timed until
  the last row is seen on the wire (rows/s: claim, publish with confirms, mark sent, commit);
- **lag**: with the relay running, rows written by ``Writer.execute`` at each fixed rate (open
  loop); lag = when the tap received the message - when ``execute`` returned (the commit).

Prints one ``RESULT {...}`` line.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
import uuid
from dataclasses import asdict, dataclass, field
from typing import Any

from bench import cpu, workload
from bench.stats import percentiles
from bench.tap import Stopwatch
from shop_contracts.orders import OrderPlaced
from warren.db import Connection, Database
from warren.messaging import Broker
from warren.messaging.relay import OutboxRelay
from warren.runtime import Writer
from warren.testing import fresh_database, fresh_vhost


@dataclass
class Spec:
    """What to run; the orchestrator sends it as JSON."""

    amqp_url: str
    management_url: str
    database_url: str
    broker_pid: int = 0
    rows: int = 5000
    rates: list[float] = field(default_factory=lambda: [50.0, 200.0, 1000.0])
    seconds: float = 5.0
    batch_size: int = 200


async def place(order: OrderPlaced, store: Connection) -> list[OrderPlaced]:
    """The step: no state of its own, one event to publish (one outbox row)."""
    return [order]


def _store(conn: Connection) -> Connection:
    return conn


async def drain(spec: Spec, writer: Writer[Connection], relay: OutboxRelay, tap: Stopwatch) -> Any:
    """Write ``rows`` with no relay, then time a relay publishing them all."""
    orders = [workload.order(uuid.uuid4()) for _ in range(spec.rows)]
    gate = asyncio.Semaphore(16)

    async def write(order: OrderPlaced) -> None:
        async with gate:
            await writer.execute(place, order)

    await asyncio.gather(*(write(o) for o in orders))
    published = [tap.expect(o.subject, o.type) for o in orders]
    usage = cpu.Usage({"rabbitmq": spec.broker_pid, "relay process": os.getpid()}, ("postgres",))
    usage.start()
    began = time.perf_counter()
    relay.start()
    await asyncio.wait_for(asyncio.gather(*published), 300)
    seconds = time.perf_counter() - began
    return {"rows": spec.rows, "seconds": seconds, "rate": spec.rows / seconds} | {
        "cpu": usage.shares(seconds)
    }


async def lag(writer: Writer[Connection], tap: Stopwatch, rate: float, seconds: float) -> Any:
    """Rows at ``rate``/s for ``seconds``; commit-to-wire lag percentiles (ms)."""
    lags: list[float] = []

    async def write() -> None:
        order = workload.order(uuid.uuid4())
        seen = tap.expect(order.subject, order.type)
        await writer.execute(place, order)
        committed = time.time()
        lags.append(((await asyncio.wait_for(seen, 30)).received - committed) * 1000)

    tasks = []
    start = time.perf_counter()
    for i in range(round(rate * seconds)):
        delay = start + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(write()))
    await asyncio.gather(*tasks)
    return {"rate": rate, "rows": len(lags), **percentiles(sorted(lags))}


async def run(spec: Spec) -> dict[str, Any]:
    """Both phases on a fresh vhost and database."""
    async with (
        fresh_vhost(spec.amqp_url, spec.management_url, prefix="warren-bench") as url,
        fresh_database(spec.database_url, prefix="warren_bench") as database_url,
    ):
        database = await Database.open(database_url)
        broker = Broker(url, workload.SERVICE)
        await broker.connect()
        channel = await broker.channel()
        await channel.declare_exchange(workload.EXCHANGE, "topic", durable=True)
        await channel.close()
        relay = OutboxRelay(database, broker, batch_size=spec.batch_size)
        writer = Writer(database, workload.SERVICE, _store)
        try:
            async with Stopwatch(url, [workload.EXCHANGE]) as tap:
                result = {"drain": await drain(spec, writer, relay, tap), "lag": []}
                for rate in spec.rates:
                    result["lag"].append(await lag(writer, tap, rate, spec.seconds))
        finally:
            await relay.stop()
            await broker.close()
            await database.close()
    return result


def main() -> None:
    spec = Spec(**json.loads(sys.argv[1]))
    result = asyncio.run(run(spec))
    print("RESULT " + json.dumps({**result, "spec": asdict(spec)}), flush=True)


if __name__ == "__main__":
    main()
