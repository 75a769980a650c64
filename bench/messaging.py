"""One messaging measurement in its own process: publish, consume, end to end, or paced latency.

``python -m bench.messaging '<json spec>'`` runs one contender through one scenario and prints
one ``RESULT {...}`` line. A process per run keeps the global tracer provider, the event loop
policy and the garbage collector of one run from touching the next. The drivers are the same for
every contender: only ``Contender.publish`` and the consuming callback differ.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import asdict, dataclass, field
from typing import Any

from bench import cpu, workload
from bench.contender import CONTENDERS, Contender, Warren, new_id
from bench.stats import percentiles
from shop_contracts.orders import OrderPlaced


@dataclass
class Spec:
    """What to run; the orchestrator sends it as JSON."""

    contender: str
    scenario: str  # publish | consume | e2e | latency
    url: str
    count: int = 5000
    window: int = 200
    prefetch: int = 100
    rate: float = 1000.0
    seconds: float = 4.0
    loop: str = "asyncio"  # or uvloop
    tracing: str = ""  # OTLP/HTTP endpoint; empty: no tracer provider
    sampler: str = ""  # OTEL_TRACES_SAMPLER when tracing; empty: the default (every span)
    sampler_arg: str = ""  # OTEL_TRACES_SAMPLER_ARG
    inbox_database: str = ""  # PostgreSQL server URL; set: handler runs through Writer
    profile: str = ""  # write a pyinstrument text profile of the timed part here
    broker_pid: int = 0
    queue_type: str = "quorum"  # or classic: how much is the quorum queue's disk
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Measure:
    """The timed part of a run: wall time, client CPU and broker CPU over it."""

    broker_pid: int
    wall: float = 0.0
    cpu: float = 0.0
    broker_cpu: float = 0.0

    @contextlib.contextmanager
    def timing(self) -> Any:
        wall, mine, broker = time.perf_counter(), time.process_time(), cpu.seconds(self.broker_pid)
        yield
        self.wall = time.perf_counter() - wall
        self.cpu = time.process_time() - mine
        self.broker_cpu = cpu.seconds(self.broker_pid) - broker

    def result(self, messages: int) -> dict[str, float]:
        return {
            "messages": messages,
            "seconds": self.wall,
            "rate": messages / self.wall if self.wall else 0.0,
            "client_cpu": self.cpu / self.wall if self.wall else 0.0,
            "broker_cpu": self.broker_cpu / self.wall if self.wall else 0.0,
            "cpu_us_per_msg": 1e6 * self.cpu / messages if messages else 0.0,
        }


async def publish_all(contender: Contender, event: OrderPlaced, count: int, window: int) -> None:
    """Publish ``count`` messages with at most ``window`` confirms in flight."""
    remaining = count

    async def worker() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            await contender.publish(event, new_id())

    await asyncio.gather(*(worker() for _ in range(min(window, count))))


class Counter:
    """Counts deliveries; ``done`` is set at ``target``; ``first`` is when the first came."""

    def __init__(self, target: int) -> None:
        self.target = target
        self.seen = 0
        self.first = 0.0
        self.done = asyncio.Event()

    def __call__(self, event: OrderPlaced, message_id: str) -> None:
        if self.seen == 0:
            self.first = time.perf_counter()
        self.seen += 1
        if self.seen >= self.target:
            self.done.set()


async def scenario_publish(spec: Spec, contender: Contender, measure: Measure) -> dict[str, Any]:
    await contender.open(spec.url)
    event = workload.order()
    await publish_all(contender, event, max(spec.window, spec.count // 10), spec.window)  # warm
    with measure.timing(), _profiled(spec.profile):
        await publish_all(contender, event, spec.count, spec.window)
    return measure.result(spec.count)


async def scenario_consume(spec: Spec, contender: Contender, measure: Measure) -> dict[str, Any]:
    warm = min(1000, spec.count // 10)
    await workload.preload(spec.url, warm + spec.count)
    counter = Counter(warm)
    await contender.open(spec.url, spec.prefetch, counter)
    await asyncio.wait_for(counter.done.wait(), 60)
    counter.target, counter.done = warm + spec.count, asyncio.Event()
    with measure.timing(), _profiled(spec.profile):
        await asyncio.wait_for(counter.done.wait(), 300)
    return measure.result(spec.count)


async def scenario_e2e(spec: Spec, contender: Contender, measure: Measure) -> dict[str, Any]:
    warm = min(1000, spec.count // 10)
    counter = Counter(warm)
    await contender.open(spec.url, spec.prefetch, counter)
    event = workload.order()
    await publish_all(contender, event, warm, spec.window)
    await asyncio.wait_for(counter.done.wait(), 60)
    counter.target, counter.done = warm + spec.count, asyncio.Event()
    with measure.timing(), _profiled(spec.profile):
        await publish_all(contender, event, spec.count, spec.window)
        await asyncio.wait_for(counter.done.wait(), 300)
    return measure.result(spec.count)


async def scenario_latency(spec: Spec, contender: Contender, measure: Measure) -> dict[str, Any]:
    """Publish at ``rate`` (open loop, one task per message); latency from the intended send time.

    Measuring from when a message was due, not when the loop got round to it, keeps a stalled
    producer from hiding its own delay (no coordinated omission).
    """
    due: dict[str, float] = {}
    latencies: list[float] = []
    total = round(spec.rate * spec.seconds)
    warm = round(spec.rate * 0.5)
    finished = asyncio.Event()

    def on_event(event: OrderPlaced, message_id: str) -> None:
        sent = due.pop(message_id, None)
        if sent is not None:
            latencies.append(time.perf_counter() - sent)
        if len(latencies) >= total + warm:
            finished.set()

    await contender.open(spec.url, spec.prefetch, on_event)
    event = workload.order()
    tasks: set[asyncio.Task[None]] = set()
    with measure.timing(), _profiled(spec.profile):
        start = time.perf_counter()
        for i in range(total + warm):
            when = start + i / spec.rate
            delay = when - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            message_id = new_id()
            due[message_id] = when
            task = asyncio.create_task(contender.publish(event, message_id))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        await asyncio.wait_for(finished.wait(), 60)
    measured = sorted(latencies[warm:])
    result = measure.result(total + warm)
    result.update({k: v * 1000 for k, v in percentiles(measured).items()})
    result["offered"] = spec.rate
    return result


SCENARIOS: dict[str, Callable[[Spec, Contender, Measure], Coroutine[Any, Any, dict[str, Any]]]] = {
    "publish": scenario_publish,
    "consume": scenario_consume,
    "e2e": scenario_e2e,
    "latency": scenario_latency,
}


@contextlib.contextmanager
def _profiled(path: str) -> Any:
    if not path:
        yield
        return
    from pyinstrument import Profiler

    profiler = Profiler(interval=0.0005, async_mode="disabled")
    profiler.start()
    try:
        yield
    finally:
        profiler.stop()
        libraries = r".*/(warren|contracts|aio_pika|aiormq|pamqp|opentelemetry|bench)/.*"
        tree = profiler.output_text(
            processor_options={"filter_threshold": 0.01, "show_regex": libraries}
        )
        flat = profiler.output_text(flat=True, processor_options={"filter_threshold": 0.004})
        with open(path, "w") as out:
            out.write(tree)
            out.write("\nSelf time by function (flat, top 40):\n\n")
            out.write("\n".join(flat.splitlines()[:48]) + "\n")


@contextlib.asynccontextmanager
async def _inbox_writer(server_url: str) -> AsyncIterator[Any]:
    from warren.db import Connection, Database
    from warren.runtime import Writer
    from warren.testing import fresh_database

    async with fresh_database(server_url, prefix="warren_bench") as url:
        database = await Database.open(url)
        try:

            def store(conn: Connection) -> Connection:
                return conn

            yield Writer(database, workload.SERVICE, store)
        finally:
            await database.close()


async def run(spec: Spec) -> dict[str, Any]:
    """Run ``spec`` and return its measurements."""
    tracing = None
    if spec.tracing:
        from warren import telemetry

        os.environ["OTEL_EXPORTER_OTLP_ENDPOINT"] = spec.tracing
        if spec.sampler:
            os.environ["OTEL_TRACES_SAMPLER"] = spec.sampler
            os.environ["OTEL_TRACES_SAMPLER_ARG"] = spec.sampler_arg
        tracing = telemetry.configure_tracing(workload.SERVICE)
    await workload.prepare_queue(spec.url, spec.queue_type)
    measure = Measure(spec.broker_pid)
    async with contextlib.AsyncExitStack() as stack:
        if spec.inbox_database:
            writer = await stack.enter_async_context(_inbox_writer(spec.inbox_database))
            contender: Contender = Warren(writer)
        else:
            contender = CONTENDERS[spec.contender]()
        try:
            result = await SCENARIOS[spec.scenario](spec, contender, measure)
        finally:
            await contender.close()
    if tracing is not None:
        tracing.shutdown()
    return result


def main() -> None:
    spec = Spec(**json.loads(sys.argv[1]))
    if spec.loop == "uvloop":
        import uvloop

        result = uvloop.run(run(spec))
    else:
        result = asyncio.run(run(spec))
    print("RESULT " + json.dumps({**result, "spec": asdict(spec)}), flush=True)


if __name__ == "__main__":
    main()
