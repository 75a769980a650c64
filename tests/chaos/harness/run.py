"""A chaos run: the suite on its own broker node and PostgreSQL cluster, an order stream, faults on
a schedule, a bounded settle, then the ledger's invariant table.

Owns the order of events and the clock. ``chaos_run(base, profile)`` starts everything under
``base`` (removed after); ``await run.execute()`` returns the :class:`Outcome`. A ``sabotage``
step, run once the suite is up, lets a test switch a guarantee off to prove the checks can fail.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import httpx
import orjson
import structlog

from tests.harness import postgres_cluster, rabbitmq_cluster
from warren.cli._project import load_project
from warren.runtime.suite import Suite
from warren.testing import free_ports, wait_until

from .faults import FAULTS, Stage
from .ledger import FaultRecord, Invariants, check, observe, table
from .stream import (
    PAYMENT_LIMITS,
    SEED_STOCK,
    OrderStream,
    issuer,
    operator,
    order_body,
    order_headers,
)

SERVICES = load_project(Path(__file__).parent).services  # [tool.warren], in start order
VHOST = "warren-chaos"
PREFIX = "chaos_"
log = structlog.get_logger("chaos")
PREFETCH = 16
"""Unacked deliveries per work queue: what bounds a consumer's memory under a burst."""


@dataclass(frozen=True)
class Profile:
    """How big a run is: orders, their rate, the faults in order, the gap between them, settle."""

    name: str
    orders: int
    rate: float
    faults: Sequence[str]
    gap: float = 1.0
    settle: float = 60.0
    failure_rate: float = 0.05
    nodes: int = 1


SHORT = Profile(
    "short",
    orders=50,
    rate=2.0,  # spread over most of the schedule, so faults hit orders in flight
    faults=(
        "kill payments",
        "close broker connections",
        "duplicate delivery",
        "broker restart",
        "postgres restart",
        "kill orders",
        "out-of-order delivery",
        "bad input",
        "overload burst",
    ),
    gap=0.5,
)
"""What ``make test`` runs: every kind of fault once, ~50 orders, about a minute."""

LONG = Profile(
    "long",
    orders=1000,
    rate=12.0,
    faults=(
        "kill orders",
        "kill inventory",
        "kill payments",
        "kill notifications",
        "close broker connections",
        "duplicate delivery",
        "broker restart",
        "out-of-order delivery",
        "postgres restart",
        "bad input",
        "broker SIGKILL",
        "kill inventory",
        "close broker connections",
        "kill payments",
        "postgres restart",
        "duplicate delivery",
        "overload burst",
    ),
    gap=3.0,
    settle=180.0,
    failure_rate=0.1,
)
"""What ``make chaos`` runs: 1000 orders, every fault, some twice."""

CLUSTER = Profile(
    "cluster",
    orders=60,
    rate=3.0,
    faults=(
        "stop cluster node 1",
        "kill payments",
        "duplicate delivery",
        "start cluster node 1",
        "close broker connections",
        "bad input",
    ),
    gap=2.0,
    nodes=3,
)
"""Three nodes, quorum queues on all of them; node 1 stopped under load, then rejoined."""

Sabotage = Callable[["ChaosRun"], Awaitable[None]]


@dataclass
class Outcome:
    """The figures of a run and the table that shows them."""

    invariants: Invariants
    faults: list[FaultRecord]
    report: str
    stream: OrderStream


@dataclass
class ChaosRun:
    """A started suite on its own servers; :meth:`execute` drives, breaks and counts."""

    profile: Profile
    stage: Stage
    ports: dict[str, int]
    faults: list[FaultRecord] = field(default_factory=list)
    probes: list[str] = field(default_factory=list)
    placed: list[str] = field(default_factory=list)

    async def execute(self, sabotage: Sabotage | None = None) -> Outcome:
        """Stream orders, inject the profile's faults, settle, and check the invariants."""
        if sabotage is not None:
            await sabotage(self)
        stream = OrderStream(self.orders_url, self.profile.orders, self.profile.rate)
        started = time.monotonic()
        load = asyncio.create_task(stream.run())
        for name in self.profile.faults:
            await asyncio.sleep(self.profile.gap)
            await self._inject(name, started)
        await load
        await self._settle()
        self.placed = [*stream.placed, *self.probes, *self.stage.burst_orders]
        invariants = await self.measure()
        title = (
            f"chaos run '{self.profile.name}': {self.profile.orders} orders at "
            f"{self.profile.rate:g}/s + {len(self.probes)} probe orders + "
            f"{len(self.stage.burst_orders)} in bursts, "
            f"{len(self.faults)} faults, {time.monotonic() - started:.0f} s "
            f"(HTTP retries by clients: {stream.retried})"
        )
        return Outcome(invariants, self.faults, table(invariants, self.faults, title=title), stream)

    async def measure(self) -> Invariants:
        """Read the databases and DLQs now and check the invariants."""
        observed = await observe(
            self.stage.database_urls, self.stage.amqp_url, dead_letter_queues(), SEED_STOCK
        )
        return check(
            observed,
            placed=self.placed,
            consumers=consumers_by_routing_key(),
            injected=self.stage.injected,
        )

    async def disable_inbox(self) -> None:
        """Sabotage: drop the inbox's key in every service, so duplicates are handled again."""
        for url in self.stage.database_urls.values():
            conn = await asyncpg.connect(url)
            try:
                await conn.execute("ALTER TABLE warren_inbox DROP CONSTRAINT warren_inbox_pkey")
            finally:
                await conn.close()

    async def bypass_outbox(self) -> None:
        """Sabotage: orders' outbox rows are marked sent as they are written, never published.

        That is what a service without an outbox does when it crashes between commit and
        publish (the dual-write problem): the state changed, the event never left. The rows are
        not reserved for the writer's own publish either (``next_attempt_at`` cleared), so
        neither the dispatcher nor a relay sends them.
        """
        conn = await asyncpg.connect(self.stage.database_urls["orders"])
        try:
            await conn.execute(_BYPASS_OUTBOX)
        finally:
            await conn.close()

    @property
    def orders_url(self) -> str:
        """The orders API."""
        return f"http://127.0.0.1:{self.ports['orders']}"

    async def _inject(self, name: str, started: float) -> None:
        record = FaultRecord(name, at=time.monotonic() - started)
        self.faults.append(record)
        injected = time.monotonic()
        record.note = await FAULTS[name](self.stage)
        log.info("fault injected", fault=name, took_s=round(time.monotonic() - injected, 1))
        try:
            await self._probe()
        except TimeoutError as error:
            record.note = f"{record.note}; not recovered: {error}".lstrip("; ")
            return
        record.recovered_s = time.monotonic() - injected
        log.info("recovered", fault=name, after_s=round(record.recovered_s, 1))

    async def _probe(self, timeout: float = 90.0) -> None:
        """Every service ready, and a fresh order placed and finished: the suite works again."""
        async with httpx.AsyncClient(timeout=2) as http:

            async def all_ready() -> bool:
                for service in self.stage.suite.services.values():
                    try:
                        response = await http.get(f"{service.url}/readyz")
                    except httpx.HTTPError:
                        return False
                    if response.status_code != 200:
                        return False
                return True

            await wait_until(all_ready, timeout=timeout, interval=0.1, what="every /readyz")
            stream = OrderStream(self.orders_url, 1, 1.0, give_up_after=timeout)
            async with httpx.AsyncClient(base_url=self.orders_url, timeout=5) as orders:
                order_id = await stream.place(orders, order_body(0), order_headers(0))
            if order_id is None:
                raise TimeoutError("the probe order was not accepted")
            self.probes.append(order_id)

            async def finished() -> bool:
                try:
                    response = await http.get(
                        f"{self.orders_url}/orders/{order_id}", headers=operator()
                    )
                except httpx.HTTPError:
                    return False
                return response.status_code == 200 and response.json()["status"] in {
                    "confirmed",
                    "cancelled",
                }

            await wait_until(finished, timeout=timeout, interval=0.1, what="probe order done")

    async def _settle(self) -> None:
        """Wait (bounded) until every order is terminal and every outbox row is sent."""

        async def settled() -> bool:
            try:
                return await self._open_work() == 0
            except (OSError, asyncpg.PostgresError):
                return False

        # Whatever is still open after the bound is what the ledger reports (stuck, unpublished).
        with contextlib.suppress(TimeoutError):
            await wait_until(settled, timeout=self.profile.settle, interval=0.5, what="settle")

    async def _open_work(self) -> int:
        open_work = 0
        for service, url in self.stage.database_urls.items():
            conn = await asyncpg.connect(url)
            try:
                open_work += await conn.fetchval(
                    "SELECT count(*) FROM warren_outbox WHERE sent_at IS NULL"
                )
                if service == "orders":
                    open_work += await conn.fetchval(
                        "SELECT count(*) FROM orders WHERE status NOT IN ('confirmed', 'cancelled')"
                    )
            finally:
                await conn.close()
        return int(open_work)


_BYPASS_OUTBOX = """
CREATE FUNCTION chaos_bypass_outbox() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN NEW.sent_at := now(); NEW.next_attempt_at := NULL; RETURN NEW; END $$;
CREATE TRIGGER chaos_bypass_outbox BEFORE INSERT ON warren_outbox
    FOR EACH ROW EXECUTE FUNCTION chaos_bypass_outbox();
"""


def consumers_by_routing_key() -> dict[str, list[str]]:
    """Event type -> the work queues that consume it, read from each service's composition root."""
    keys: dict[str, list[str]] = defaultdict(list)
    for module in SERVICES:
        service = importlib.import_module(f"{module}.main").build()
        for subscription in service.subscriptions:
            for event in subscription.handlers:
                keys[event.type].append(f"{service.name}.{subscription.purpose}")
    return dict(keys)


def dead_letter_queues() -> list[str]:
    """Every work queue's DLQ."""
    queues = {q for qs in consumers_by_routing_key().values() for q in qs}
    return sorted(f"{queue}.dlq" for queue in queues)


@asynccontextmanager
async def chaos_run(base: Path, profile: Profile, log_dir: Path) -> AsyncIterator[ChaosRun]:
    """The suite on a new broker node and PostgreSQL cluster under ``base``; all torn down after."""
    async with (
        postgres_cluster(base / "postgres") as postgres,
        rabbitmq_cluster(base / "rabbitmq", profile.nodes, vhost=VHOST) as cluster,
    ):
        every_port = free_ports([*SERVICES, *(f"{name}-metrics" for name in SERVICES)])
        ports = {name: every_port[name] for name in SERVICES}
        env = {
            "AMQP_URL": cluster.amqp_url(),  # every node: amqp://guest:guest@h1,h2,h3/vhost
            "DATABASE_URL": postgres.url,
            "DATABASE_PREFIX": PREFIX,
            "ENVIRONMENT": "test",
            "LOG_FORMAT": "json",
            "RETRY_DELAYS": "[0.2, 0.5, 1, 2, 2, 3, 3, 5, 5]",
            # Past the retry budget (~22 s): only orders whose replies were exhausted or lost
            # meet their deadline, and the ledger checks none stays open past it (+ slack).
            "ORDER_DEADLINE": "45",
            "DRAIN_TIMEOUT": "5",
            "SEED_STOCK": orjson.dumps(SEED_STOCK).decode(),
            "PAYMENT_LIMITS": orjson.dumps(PAYMENT_LIMITS).decode(),
            "PAYMENT_FAILURE_RATE": str(profile.failure_rate),
            "PREFETCH": str(PREFETCH),
            "OTEL_SDK_DISABLED": "true",
            **issuer().settings(),
        }
        suite = Suite(
            SERVICES,
            env=env,
            ports=ports,
            metrics_ports={name: every_port[f"{name}-metrics"] for name in SERVICES},
            log_dir=log_dir,
        )
        urls = {name: f"{postgres.url.rsplit('/', 1)[0]}/{PREFIX}{name}" for name in SERVICES}
        try:
            await suite.start(timeout=90)
            yield ChaosRun(profile, Stage(suite, cluster, postgres, urls), ports)
        finally:
            await suite.stop(timeout=15)
