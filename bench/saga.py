"""The saga under load: the four services as processes, orders in over HTTP, confirmations out.

``python -m bench.saga '<json spec>'`` starts the suite (``warren.runtime.suite.Suite``) on its
own vhost and databases — from this tree, or from another one's source roots (``pythonpath``,
``bench.baseline``), proved by the files the services report having imported — then measures
and prints one ``RESULT {...}`` line:

- **paced**: orders at fixed offered rates (open loop, 50/s and 100/s by default); latency from
  the start of ``POST /orders`` to ``order.confirmed`` seen on the wire, and where that time goes,
  hop by hop, from the CloudEvents ``time`` of each event (when the step's transaction wrote it);
- **saturation**: a closed loop of ``concurrency`` customers, each placing its next order as soon
  as the last one is confirmed: the orders/s the suite sustains, the latency it costs, and the
  CPU each process spent per order;
- **accounting** (when ``accounting_seconds`` > 0): a short pass at a low rate with the
  statement counters on (``bench.accounting``): statements and commits per order.

CPU shares of each service, the broker and the load generator say who used the two cores.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import os
import random
import sys
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import asyncpg
import httpx
import orjson
import uvloop

from bench import accounting, cpu
from bench.baseline import current
from bench.client import Client
from bench.stats import percentiles
from bench.tap import Stopwatch
from shop_contracts.catalogue import REGISTRY
from warren.messaging.url import credentials, vhost_of
from warren.runtime import Issuer
from warren.runtime.suite import Suite
from warren.testing import fresh_vhost

HOOKS = Path(__file__).parent / "service_site"  # the sitecustomize every service loads
PORTS = {"orders": 19001, "inventory": 19002, "payments": 19003, "notifications": 19004}
EXCHANGES = tuple(sorted({f"{event.producer}.events" for event in REGISTRY}))
SKUS = tuple(f"BENCH-{i:02d}" for i in range(32))
ISSUER = functools.cache(lambda: Issuer(issuer="https://bench.test/", audience="warren-bench"))
"""The token issuer the benchmarked suite trusts (one key per run, made on first use)."""
HOPS = (
    ("POST -> order.placed", None, "order.placed.v1"),
    ("order.placed -> stock.reserved", "order.placed.v1", "stock.reserved.v1"),
    ("stock.reserved -> payment.captured", "stock.reserved.v1", "payment.captured.v1"),
    ("payment.captured -> order.confirmed", "payment.captured.v1", "order.confirmed.v1"),
    ("order.confirmed written -> on the wire", "order.confirmed.v1", "wire"),
)


@dataclass
class Spec:
    """What to run; the orchestrator sends it as JSON."""

    amqp_url: str  # the server, any vhost: a fresh one is made
    management_url: str
    database_url: str
    broker_pid: int = 0
    contender: str = "after"  # a name for the report
    # The tree the services run (default: this one, as installed): its source roots go in front
    # on their PYTHONPATH, and every module they report must come from under ``code_root``.
    code_root: str = ""
    pythonpath: str = ""
    services: list[str] | None = None  # [tool.warren] of that tree, in start order
    modules: list[str] | None = None  # top-level modules whose files prove the tree
    rates: list[float] = field(default_factory=lambda: [50.0, 100.0])  # paced phases, in order
    seconds: float = 20.0
    concurrency: int = 48
    saturation_seconds: float = 20.0
    accounting_seconds: float = 0.0  # 0: no accounting pass
    accounting_rate: float = 20.0
    accounting_load_rate: float = 0.0  # a second counting pass near capacity (0: none)
    prefetch: int = 0  # PREFETCH of the services; 0: the tree's own default
    pool_size: int = 10
    env: dict[str, str] | None = None
    profile: str = ""  # directory: pyinstrument each service, write saga-<service>.txt there


@dataclass
class Order:
    """One order's clock: when its POST started and ended, and when it was confirmed."""

    id: str = ""
    posted: float = 0.0
    answered: float = 0.0
    confirmed: float = 0.0


class Shop:
    """Places orders over HTTP and waits for their confirmation on the wire."""

    def __init__(self, http: Client, tap: Stopwatch, issuer: Issuer) -> None:
        self.http = http
        self.tap = tap
        # Signing costs the load generator CPU: a few customers' tokens, made once, reused.
        self.tokens = [
            {"Authorization": f"Bearer {issuer.token(f'bench-{i}', ['orders:write'], ttl=86_400)}"}
            for i in range(32)
        ]

    async def order(self, timeout: float = 60.0) -> Order:
        """Place one order and wait until it is confirmed; its clock."""
        lines = [
            {"sku": sku, "quantity": 1}  # 5.00 EUR each: the catalogue's price (SEED_PRICES)
            for sku in random.sample(SKUS, k=random.randint(1, 3))
        ]
        body = {"currency": "EUR", "lines": lines}  # the customer is the token's subject
        clock = Order(posted=time.time())
        _, answer = await self.http.post("/orders", orjson.dumps(body), random.choice(self.tokens))
        clock.answered = time.time()
        clock.id = orjson.loads(answer)["order_id"]
        confirmed = self.tap.expect(clock.id, "order.confirmed.v1")
        clock.confirmed = (await asyncio.wait_for(confirmed, timeout)).received
        return clock


async def paced(shop: Shop, rate: float, seconds: float) -> list[Order]:
    """Orders at ``rate`` per second for ``seconds``, whatever the suite's speed (open loop)."""
    start = time.perf_counter()
    tasks = []
    for i in range(round(rate * seconds)):
        delay = start + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(shop.order()))
    results = await asyncio.gather(*tasks, return_exceptions=True)
    return [r for r in results if isinstance(r, Order)]


async def saturated(shop: Shop, concurrency: int, seconds: float) -> tuple[list[Order], float]:
    """``concurrency`` customers ordering back to back for ``seconds``; every order they placed
    (each customer waits for its last one) and the wall time until the last was confirmed."""
    stop = time.time() + seconds
    done: list[Order] = []

    async def customer() -> None:
        while time.time() < stop:
            done.append(await shop.order())

    begin = time.time()
    await asyncio.gather(*(customer() for _ in range(concurrency)))
    return done, time.time() - begin


def latency(orders: list[Order]) -> dict[str, float]:
    """POST -> confirmed, and the POST's own answer time, in ms."""
    total = sorted((o.confirmed - o.posted) * 1000 for o in orders)
    answer = sorted((o.answered - o.posted) * 1000 for o in orders)
    span = max(o.confirmed for o in orders) - min(o.posted for o in orders) if orders else 0.0
    done = {"completed_per_s": len(orders) / span} if span > 0 else {}
    return {**percentiles(total), "post_p50": percentiles(answer)["p50"], **done}


def hops(tap: Stopwatch, orders: list[Order]) -> dict[str, dict[str, float]]:
    """Per hop p50/p95/p99 (ms) over the orders, from the events' CloudEvents times."""
    spans: dict[str, list[float]] = {name: [] for name, _, _ in HOPS}
    for clock in orders:
        seen = tap.about(clock.id)
        for name, before, after in HOPS:
            if after == "wire":
                start, end = seen[before].time, seen[before].received
            else:
                start = clock.posted if before is None else seen[before].time
                end = seen[after].time
            spans[name].append((end - start) * 1000)
    return {name: percentiles(sorted(values)) for name, values in spans.items()}


async def run(spec: Spec) -> dict[str, Any]:
    """Start the suite, run the phases, stop the suite; the measurements."""
    prefix = f"warren_bench_{uuid.uuid4().hex[:8]}_"
    async with fresh_vhost(spec.amqp_url, spec.management_url, prefix="warren-bench") as url:
        env = {
            "AMQP_URL": url,
            "DATABASE_URL": spec.database_url,
            "DATABASE_PREFIX": prefix,
            "RABBITMQ_MANAGEMENT_URL": spec.management_url,
            "ENVIRONMENT": "test",
            "LOG_FORMAT": "json",
            **({"PREFETCH": str(spec.prefetch)} if spec.prefetch else {}),
            "POOL_SIZE": str(spec.pool_size),
            "SEED_STOCK": json.dumps(dict.fromkeys(SKUS, 1_000_000_000)),
            "SEED_PRICES": json.dumps({sku: {"amount": 500, "currency": "EUR"} for sku in SKUS}),
            "PAYMENT_DEFAULT_LIMIT": str(10**9),
            **ISSUER().settings(),
            **(spec.env or {}),
        }
        logs = Path(tempfile.mkdtemp(prefix="warren-bench-saga-"))
        env |= _hooks(logs, spec)
        suite = Suite(spec.services or [], env=env, ports=PORTS, log_dir=logs)
        try:
            await suite.start(timeout=90)
            pids = {name: s.process.pid for name, s in suite.services.items() if s.process}
            ledger = accounting.Ledger(logs / "accounting", pids, spec.database_url, prefix)
            return await _measure(spec, url, suite, ledger) | {"logs": str(logs)}
        finally:
            await suite.stop()
            await _drop_databases(spec.database_url, prefix)


async def _measure(spec: Spec, url: str, suite: Suite, ledger: accounting.Ledger) -> dict[str, Any]:
    usage = cpu.Usage(
        {**ledger.pids, "rabbitmq": spec.broker_pid, "load generator": os.getpid()}, ("postgres",)
    )
    base = suite.services["orders"].url
    async with (
        Stopwatch(url, EXCHANGES) as tap,
        Client(base, limit=spec.concurrency + 64, timeout=30) as http,
    ):
        shop = Shop(http, tap, ISSUER())
        await paced(shop, 10, 1.0)  # warm: connections, caches, prepared statements
        code = (await ledger.snapshot()).files
        _check_code(code, Path(spec.code_root))
        result: dict[str, Any] = {
            "contender": spec.contender,
            "code": code,
            "prefetch": await _prefetch(spec, url),
            "paced": [
                await _paced_phase(shop, tap, usage, rate, spec.seconds) for rate in spec.rates
            ],
            "saturation": await _saturation_phase(shop, tap, usage, spec),
        }
        passes = (
            ("accounting", spec.accounting_rate),
            ("accounting_loaded", spec.accounting_load_rate),
        )
        for key, rate in passes:  # low, then near capacity (where deliveries wait together)
            if spec.accounting_seconds > 0 and rate > 0:
                result[key] = await _count(shop, ledger, rate, spec.accounting_seconds)
    return result


async def _count(
    shop: Shop, ledger: accounting.Ledger, rate: float, seconds: float
) -> dict[str, Any]:
    """Statements and commits per order over a paced pass at ``rate`` with the counters on."""
    await asyncio.sleep(1.0)  # the last orders' notifications, the relays' last marks

    async def pass_() -> int:
        return len(await paced(shop, rate, seconds))

    counted = await accounting.account(ledger, pass_)
    return counted | {"rate": rate, "pass_seconds": seconds}


def _check_code(code: dict[str, dict[str, str | None]], root: Path) -> None:
    """Every service ran the tree under ``root``: its main module and every module it reports."""
    for service, files in code.items():
        if not files.get("__main__") or not files.get("warren"):
            raise RuntimeError(f"{service} did not report where it imported its code from")
        for module, path in files.items():
            if path and not Path(path).resolve().is_relative_to(root.resolve()):
                raise RuntimeError(f"{service} imported {module} from {path}, not from {root}")


async def _paced_phase(
    shop: Shop, tap: Stopwatch, usage: cpu.Usage, rate: float, seconds: float
) -> dict[str, Any]:
    usage.start()
    began = time.time()
    orders = await paced(shop, rate, seconds)
    return {
        "offered": rate,
        "orders": len(orders),
        "expected": round(rate * seconds),
        **latency(orders),
        "hops": hops(tap, orders),
        "cpu": usage.shares(time.time() - began),
    }


async def _saturation_phase(
    shop: Shop, tap: Stopwatch, usage: cpu.Usage, spec: Spec
) -> dict[str, Any]:
    """Orders/s confirmed inside the window; CPU per order over every order of the phase."""
    usage.start()
    stop = time.time() + spec.saturation_seconds
    done, wall = await saturated(shop, spec.concurrency, spec.saturation_seconds)
    cores = usage.shares(wall)
    per_order = wall * 1000 / max(len(done), 1)  # ms per order for each core busy
    window = [o for o in done if o.confirmed <= stop]
    return {
        "concurrency": spec.concurrency,
        "orders": len(window),
        "rate": len(window) / min(spec.saturation_seconds, wall),
        **latency(window),
        "hops": hops(tap, window),
        "cpu": cores,
        # CPU over the whole phase (its tail too) over every order confirmed in it.
        "cpu_ms_per_order": {name: share * per_order for name, share in cores.items()},
    }


async def _prefetch(spec: Spec, url: str) -> dict[str, int]:
    """Each work queue's consumer prefetch, as the broker sees it (the tree's own default
    unless ``spec.prefetch`` set one)."""
    user, password = credentials(url)
    vhost = quote(vhost_of(url), safe="")
    async with httpx.AsyncClient(
        base_url=spec.management_url, auth=(user, password), timeout=30
    ) as http:
        response = await http.get(f"/api/consumers/{vhost}")
        response.raise_for_status()
    return {
        c["queue"]["name"]: c["prefetch_count"]
        for c in response.json()
        if not c["queue"]["name"].startswith("amq.")  # the tap's own, server-named queue
    }


def _hooks(scratch: Path, spec: Spec) -> dict[str, str]:
    """Environment that loads ``bench/service_site`` into every service (and the tree's code)."""
    counts = scratch / "accounting"
    counts.mkdir()
    # The hooks first, then the tree's source roots, then whatever PYTHONPATH the bench had:
    # all in front of the venv's editable installs, so ``python -m orders`` imports that tree.
    path = [str(HOOKS), spec.pythonpath, os.environ.get("PYTHONPATH", "")]
    env = {
        "PYTHONPATH": os.pathsep.join(filter(None, path)),
        "WARREN_BENCH_ACCOUNTING": str(counts),
        "WARREN_BENCH_MODULES": ",".join(spec.modules or []),
    }
    if spec.profile:
        Path(spec.profile).mkdir(parents=True, exist_ok=True)
        env |= {"WARREN_BENCH_PROFILE": spec.profile, "PYINSTRUMENT_IGNORE_OVERHEAD_WARNING": "1"}
    return env


async def _drop_databases(server_url: str, prefix: str) -> None:
    conn = await asyncpg.connect(server_url)
    try:
        names = await conn.fetch(
            "SELECT datname FROM pg_database WHERE datname LIKE $1", prefix + "%"
        )
        for row in names:
            with contextlib.suppress(asyncpg.PostgresError):
                await conn.execute(f'DROP DATABASE IF EXISTS "{row["datname"]}" WITH (FORCE)')
    finally:
        await conn.close()


def main() -> None:
    spec = Spec(**json.loads(sys.argv[1]))
    if not spec.code_root:  # this tree, as the venv has it installed
        tree = current()
        spec.code_root, spec.services = str(tree.root), list(tree.services)
        spec.modules = ["warren", tree.contracts, *tree.services]
    # The load generator runs on uvloop, as the services do (uvicorn picks it): its own CPU is
    # taken from the suite it measures.
    result = uvloop.run(run(spec))
    print("RESULT " + json.dumps({**result, "spec": asdict(spec)}), flush=True)


if __name__ == "__main__":
    main()
