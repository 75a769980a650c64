"""The ledger: what the databases and DLQs say after a chaos run, and the invariants checked on it.

Owns counting, never fixing. Every number comes from a service's own tables (orders and their
deadlines, stock, reservations, payments and refunds, ``warren_outbox``, ``warren_inbox``) or from
the DLQs, read at the end of a run; ``Ledger.check`` turns them into the invariant table the chaos
run prints.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import aio_pika
import asyncpg
import orjson

TERMINAL = {"confirmed", "cancelled"}


@dataclass
class FaultRecord:
    """One injected fault: what, when (s into the run) and how long until the suite recovered."""

    name: str
    at: float
    recovered_s: float | None = None
    note: str = ""


@dataclass
class Observations:
    """Raw facts read from the suite after the settle time."""

    orders: dict[str, str] = field(default_factory=dict)  # order id -> status
    stocked: dict[str, int] = field(default_factory=dict)  # sku -> units stocked at start
    available: dict[str, int] = field(default_factory=dict)  # sku -> units on the shelf now
    reservations: dict[str, tuple[str, dict[str, int]]] = field(default_factory=dict)
    captured_rows: Counter[str] = field(default_factory=Counter)  # order id -> captured payments
    payments: dict[str, str] = field(default_factory=dict)  # order id -> payment status
    overdue: dict[str, float] = field(default_factory=dict)  # open order -> s past its deadline
    captured_events: Counter[str] = field(default_factory=Counter)  # order -> payment.captured
    outbox: list[tuple[str, str, bool]] = field(default_factory=list)  # (id, routing key, sent)
    inbox: Counter[tuple[str, str]] = field(default_factory=Counter)  # (consumer, id) -> rows
    dead: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # dlq -> headers+id


@dataclass
class Invariants:
    """The figures of one run; :meth:`violations` names every one that is not as promised."""

    placed: int
    orders: int
    confirmed: int
    cancelled: int
    stuck: int
    overdue: int
    captured_twice: int
    kept: int
    oversold: int
    stock_drift: int
    unreleased: int
    unpublished: int
    lost: int
    applied_twice: int
    dlq_total: int
    dlq_injected: int
    dlq_unexplained: int

    def violations(self) -> list[str]:
        """A sentence per broken promise; empty when every invariant holds."""
        broken = []
        checks = {
            "stuck": "orders not in a terminal state after the settle time",
            "overdue": "open orders past their deadline + slack (the sweeper did not end them)",
            "captured_twice": "orders whose money was captured more than once",
            "kept": "cancelled orders whose captured money was not refunded",
            "oversold": "units reserved beyond what was stocked",
            "stock_drift": "SKUs whose shelf + held units differ from what was stocked",
            "unreleased": "cancelled orders still holding stock",
            "unpublished": "outbox rows never published",
            "lost": "published events neither handled by a consumer nor in a DLQ",
            "applied_twice": "messages whose effects were committed more than once",
            "dlq_unexplained": "DLQ messages the harness cannot account for",
        }
        for name, meaning in checks.items():
            value = getattr(self, name)
            if value:
                broken.append(f"{name}={value}: {meaning}")
        if self.orders < self.placed:
            broken.append(f"orders={self.orders} < placed={self.placed}: accepted orders vanished")
        return broken


def check(
    observed: Observations,
    *,
    placed: Sequence[str],
    consumers: Mapping[str, Sequence[str]],
    injected: Iterable[str] = (),
    slack: float = 30.0,
) -> Invariants:
    """The invariants over ``observed``; ``consumers`` maps routing key -> consuming queues.

    ``slack``: how long past its deadline an open order may still be (sweep interval, a restart
    of orders, the outbox relay) before it counts as overdue.
    """
    statuses = Counter(observed.orders.values())
    held: dict[str, int] = defaultdict(int)
    for status, lines in observed.reservations.values():
        if status == "held":
            for sku, quantity in lines.items():
                held[sku] += quantity
    dead_ids = {queue: {m["message_id"] for m in msgs} for queue, msgs in observed.dead.items()}
    all_dead = [m for msgs in observed.dead.values() for m in msgs]
    injected_ids = set(injected)
    return Invariants(
        placed=len(set(placed)),
        orders=len(observed.orders),
        confirmed=statuses["confirmed"],
        cancelled=statuses["cancelled"],
        stuck=sum(1 for s in observed.orders.values() if s not in TERMINAL),
        overdue=sum(
            1
            for order, late in observed.overdue.items()
            if late > slack and observed.orders.get(order) not in TERMINAL
        ),
        captured_twice=len(
            {o for o, n in observed.captured_rows.items() if n > 1}
            | {o for o, n in observed.captured_events.items() if n > 1}
        ),
        kept=sum(
            1
            for order, status in observed.orders.items()
            if status == "cancelled" and observed.payments.get(order) == "captured"
        ),
        oversold=sum(max(0, held[sku] - units) for sku, units in observed.stocked.items()),
        stock_drift=sum(
            1
            for sku, units in observed.stocked.items()
            if observed.available.get(sku, 0) + held[sku] != units
        ),
        unreleased=sum(
            1
            for order, status in observed.orders.items()
            if status == "cancelled" and observed.reservations.get(order, ("", {}))[0] == "held"
        ),
        unpublished=sum(1 for _, _, sent in observed.outbox if not sent),
        lost=sum(
            1
            for message_id, key, sent in observed.outbox
            if sent
            for queue in consumers.get(key, ())
            if (queue, message_id) not in observed.inbox
            and message_id not in dead_ids.get(f"{queue}.dlq", set())
        ),
        applied_twice=sum(1 for n in observed.inbox.values() if n > 1),
        dlq_total=len(all_dead),
        dlq_injected=sum(1 for m in all_dead if m["message_id"] in injected_ids),
        dlq_unexplained=sum(
            1 for m in all_dead if m["message_id"] not in injected_ids or not m.get("x-error-type")
        ),
    )


async def observe(
    database_urls: Mapping[str, str],
    amqp_url: str,
    dead_letter_queues: Sequence[str],
    stocked: Mapping[str, int],
) -> Observations:
    """Read every service database and DLQ (DLQ messages are put back, not consumed)."""
    seen = Observations(stocked=dict(stocked))
    for service, url in database_urls.items():
        conn = await asyncpg.connect(url)
        try:
            await _read_platform_tables(conn, seen)
            await _READERS[service](conn, seen)
        finally:
            await conn.close()
    seen.dead = await _read_dead_letters(amqp_url, dead_letter_queues)
    return seen


async def _read_platform_tables(conn: asyncpg.Connection, seen: Observations) -> None:
    for row in await conn.fetch(
        "SELECT id::text AS id, routing_key, aggregate_id, sent_at IS NOT NULL AS sent "
        "FROM warren_outbox"
    ):
        seen.outbox.append((row["id"], row["routing_key"], row["sent"]))
        if row["routing_key"] == "payment.captured.v1":
            seen.captured_events[row["aggregate_id"]] += 1
    for row in await conn.fetch(
        "SELECT consumer, message_id, count(*) AS n FROM warren_inbox GROUP BY 1, 2"
    ):
        seen.inbox[(row["consumer"], row["message_id"])] += row["n"]


async def _read_orders(conn: asyncpg.Connection, seen: Observations) -> None:
    for row in await conn.fetch(
        "SELECT id::text AS id, status, extract(epoch FROM now() - deadline_at)::float AS late "
        "FROM orders"
    ):
        seen.orders[row["id"]] = row["status"]
        if row["status"] not in TERMINAL and row["late"] > 0:
            seen.overdue[row["id"]] = row["late"]


async def _read_inventory(conn: asyncpg.Connection, seen: Observations) -> None:
    for row in await conn.fetch("SELECT sku, available FROM stock"):
        seen.available[row["sku"]] = row["available"]
    for row in await conn.fetch(
        "SELECT order_id::text AS id, status, lines::text AS lines FROM reservations"
    ):
        lines = {line["sku"]: int(line["quantity"]) for line in orjson.loads(row["lines"])}
        seen.reservations[row["id"]] = (row["status"], lines)


async def _read_payments(conn: asyncpg.Connection, seen: Observations) -> None:
    # A refunded payment was captured once too: it counts towards "captured twice".
    for row in await conn.fetch(
        "SELECT order_id::text AS id, status FROM payments WHERE status IN ('captured', 'refunded')"
    ):
        seen.captured_rows[row["id"]] += 1
        seen.payments[row["id"]] = row["status"]


async def _read_nothing(conn: asyncpg.Connection, seen: Observations) -> None:
    return None


_READERS = {
    "orders": _read_orders,
    "inventory": _read_inventory,
    "payments": _read_payments,
    "notifications": _read_nothing,
}


async def _read_dead_letters(
    amqp_url: str, queues: Sequence[str]
) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {}
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel()
        for name in queues:
            queue = await channel.declare_queue(name, passive=True)
            found[name] = []
            # Unacked gets stay with this channel; closing it puts them all back.
            while (message := await queue.get(fail=False, no_ack=False)) is not None:
                found[name].append(
                    {"message_id": message.message_id or "", **dict(message.headers or {})}
                )
    return found


def table(invariants: Invariants, faults: Sequence[FaultRecord], *, title: str) -> str:
    """The run as a plain-text table: the invariants, then each fault and its recovery time."""
    rows = [
        ("orders placed (202)", invariants.placed, ""),
        ("orders in the orders DB", invariants.orders, ">= placed"),
        ("confirmed", invariants.confirmed, ""),
        ("cancelled", invariants.cancelled, ""),
        ("stuck after settle", invariants.stuck, "0"),
        ("open past deadline + slack", invariants.overdue, "0"),
        ("payments captured twice", invariants.captured_twice, "0"),
        ("cancelled orders whose money was kept", invariants.kept, "0"),
        ("units oversold", invariants.oversold, "0"),
        ("SKUs with stock drift", invariants.stock_drift, "0"),
        ("cancelled orders still holding stock", invariants.unreleased, "0"),
        ("outbox rows never published", invariants.unpublished, "0"),
        ("events lost (not handled, not in a DLQ)", invariants.lost, "0"),
        ("messages applied twice", invariants.applied_twice, "0"),
        ("DLQ messages", invariants.dlq_total, ""),
        ("  of which injected bad input", invariants.dlq_injected, ""),
        ("  unaccounted for", invariants.dlq_unexplained, "0"),
    ]
    width = max(len(name) for name, _, _ in rows)
    lines = [title, "", f"{'invariant':<{width}}  {'value':>7}  expected", "-" * (width + 20)]
    lines += [f"{name:<{width}}  {value:>7}  {want}" for name, value, want in rows]
    lines += ["", f"{'fault':<{width}}  {'at (s)':>7}  recovered after (s)", "-" * (width + 30)]
    for fault in faults:
        recovered = "-" if fault.recovered_s is None else f"{fault.recovered_s:.1f}"
        note = f"  ({fault.note})" if fault.note else ""
        lines.append(f"{fault.name:<{width}}  {fault.at:>7.1f}  {recovered}{note}")
    return "\n".join(lines)
