"""The orders store: orders and their history in the service's own PostgreSQL database.

One class, SQL inline, methods named by intent. It persists what the domain decided; it decides
nothing and publishes nothing.
"""

from __future__ import annotations

from uuid import UUID

import orjson

from contracts.orders import OrderLine
from orders.domain import Order, Status, Step
from warren.db import Connection

_SELECT = "SELECT * FROM orders WHERE id = $1"
_SELECT_FOR_UPDATE = "SELECT * FROM orders WHERE id = $1 FOR UPDATE"


class OrderStore:
    """Orders on one connection (inside the caller's transaction when it writes)."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    async def add(self, order: Order) -> bool:
        """Insert a new order and its history; False if an order with this id exists."""
        inserted = await self.conn.fetchval(
            """
            INSERT INTO orders (id, customer_id, currency, lines, total, status, trace_id)
            VALUES ($1, $2, $3, $4::jsonb, $5, $6, $7)
            ON CONFLICT (id) DO NOTHING
            RETURNING true
            """,
            order.id,
            order.customer_id,
            order.currency,
            orjson.dumps([line.model_dump() for line in order.lines]).decode(),
            order.total.amount,
            order.status.value,
            order.trace_id,
        )
        if inserted:
            await self._append_history(order, start=0)
        return bool(inserted)

    async def get(self, order_id: UUID) -> Order | None:
        """The order with its history, or None."""
        return await self._load(order_id, lock=False)

    async def get_for_update(self, order_id: UUID) -> Order | None:
        """The order, row-locked until the transaction ends (one saga reply at a time)."""
        return await self._load(order_id, lock=True)

    async def save(self, before: Order, after: Order) -> None:
        """Persist the move from ``before`` to ``after``: status and new history lines."""
        if after == before:
            return
        await self.conn.execute(
            "UPDATE orders SET status = $2, updated_at = now() WHERE id = $1",
            after.id,
            after.status.value,
        )
        await self._append_history(after, start=len(before.history))

    async def list(
        self, *, customer_id: str | None, status: Status | None, limit: int
    ) -> list[Order]:
        """Newest first, optionally for one customer and/or status (history not loaded)."""
        rows = await self.conn.fetch(
            """
            SELECT * FROM orders
            WHERE ($1::text IS NULL OR customer_id = $1) AND ($2::text IS NULL OR status = $2)
            ORDER BY created_at DESC, id
            LIMIT $3
            """,
            customer_id,
            status.value if status else None,
            limit,
        )
        return [_order(row, history=()) for row in rows]

    async def count_by_status(self) -> dict[str, int]:
        """How many orders are in each status."""
        rows = await self.conn.fetch("SELECT status, count(*) AS n FROM orders GROUP BY status")
        return {row["status"]: row["n"] for row in rows}

    async def _load(self, order_id: UUID, *, lock: bool) -> Order | None:
        row = await self.conn.fetchrow(_SELECT_FOR_UPDATE if lock else _SELECT, order_id)
        if row is None:
            return None
        history = await self.conn.fetch(
            "SELECT at, status, note FROM order_history WHERE order_id = $1 ORDER BY seq",
            order_id,
        )
        steps = tuple(Step(h["at"], Status(h["status"]), h["note"]) for h in history)
        return _order(row, history=steps)

    async def _append_history(self, order: Order, *, start: int) -> None:
        new = order.history[start:]
        if not new:
            return
        await self.conn.executemany(
            "INSERT INTO order_history (order_id, seq, at, status, note)"
            " VALUES ($1, $2, $3, $4, $5)",
            [(order.id, start + i, s.at, s.status.value, s.note) for i, s in enumerate(new)],
        )


def _order(row: object, *, history: tuple[Step, ...]) -> Order:
    record = dict(row)  # type: ignore[call-overload]  # asyncpg.Record is a mapping
    return Order(
        id=record["id"],
        customer_id=record["customer_id"],
        lines=tuple(OrderLine.model_validate(line) for line in orjson.loads(record["lines"])),
        currency=record["currency"],
        status=Status(record["status"]),
        history=history,
        trace_id=record["trace_id"],
    )
