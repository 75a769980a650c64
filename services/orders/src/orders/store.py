"""The orders store: orders, their history and the known prices in the service's own database.

One class, SQL inline, methods named by intent. It persists what the domain decided; it decides
nothing and publishes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import orjson
from asyncpg import Record

from orders.domain import KnownPrice, Order, Status, Step
from shop_contracts.money import Money
from shop_contracts.orders import OrderLine
from warren.db import Connection

# New history lines travel as parallel arrays, so an order and its lines (or a move and its
# line) are written in one statement, one round trip.
_ADD = """
WITH placed AS (
    INSERT INTO orders (id, customer_id, currency, lines, total, status, trace_id, deadline_at)
    VALUES ($1, $2, $3, $4::jsonb, $5, $6, $7, $12)
    ON CONFLICT (id) DO NOTHING
    RETURNING id
), history AS (
    INSERT INTO order_history (order_id, seq, at, status, note)
    SELECT placed.id, h.seq, h.at, h.status, h.note
    FROM placed, unnest($8::int[], $9::timestamptz[], $10::text[], $11::text[])
        AS h(seq, at, status, note)
)
SELECT count(*) = 1 FROM placed
"""
# Every move a transaction buffered, in one statement: the orders' new statuses, then all their
# new history lines.
_SAVE = """
WITH moved AS (
    UPDATE orders AS o SET status = m.status, updated_at = now()
    FROM unnest($1::uuid[], $2::text[]) AS m(id, status)
    WHERE o.id = m.id
)
INSERT INTO order_history (order_id, seq, at, status, note)
SELECT * FROM unnest($3::uuid[], $4::int[], $5::timestamptz[], $6::text[], $7::text[])
"""
# The order with its history in one statement (one snapshot) when nothing is locked.
_GET = """
SELECT o.*, h.at AS history_at, h.status AS history_status, h.note AS history_note
FROM orders AS o
LEFT JOIN LATERAL (
    SELECT array_agg(at ORDER BY seq) AS at, array_agg(status ORDER BY seq) AS status,
           array_agg(note ORDER BY seq) AS note
    FROM order_history WHERE order_id = o.id
) AS h ON true
WHERE o.id = $1
"""
_CLAIM = """
INSERT INTO idempotency_keys (customer_id, key, fingerprint, order_id) VALUES ($1, $2, $3, $4)
ON CONFLICT (customer_id, key) DO NOTHING
RETURNING order_id, fingerprint
"""
# Expired keys, oldest first, a batch at a time; a key another transaction holds is left for later.
_FORGET_KEYS = """
WITH old AS (
    SELECT customer_id, key FROM idempotency_keys
    WHERE created_at < $1
    ORDER BY created_at
    LIMIT $2
    FOR UPDATE SKIP LOCKED
), gone AS (
    DELETE FROM idempotency_keys AS k USING old
    WHERE k.customer_id = old.customer_id AND k.key = old.key
    RETURNING 1
)
SELECT count(*) FROM gone
"""
# A separate statement: under READ COMMITTED it sees the row of a concurrent claim that won.
_HELD = "SELECT order_id, fingerprint FROM idempotency_keys WHERE customer_id = $1 AND key = $2"
_SELECT_FOR_UPDATE = "SELECT * FROM orders WHERE id = $1 FOR UPDATE"
# The order and its history in one round trip, if its row is free: locked without waiting, so
# the history read in the same snapshot is the one the lock protects. A row another transaction
# holds is skipped (no row comes back), and the caller waits for it the long way.
_LOCK_IF_FREE = _GET + " FOR UPDATE OF o SKIP LOCKED"
# Open orders past their deadline, oldest first. SKIP LOCKED: an order a saga reply (or another
# replica's sweep) holds is left to it; the next sweep sees it again if it is still open.
_CLAIM_OVERDUE = """
SELECT * FROM orders
WHERE status IN ('pending', 'reserved') AND deadline_at <= $1
ORDER BY deadline_at
LIMIT $2
FOR UPDATE SKIP LOCKED
"""
_HISTORY = "SELECT at, status, note FROM order_history WHERE order_id = $1 ORDER BY seq"


@dataclass(frozen=True)
class HeldKey:
    """Who holds an idempotency key: the order it placed and its request's fingerprint."""

    order_id: UUID
    fingerprint: bytes


class OrderStore:
    """Orders on one connection (inside the caller's transaction when it writes).

    Moves (``save``) are buffered and written by ``flush``, which the runtime's ``Writer`` awaits
    once per transaction: a group of saga replies writes its moves in one statement. An order
    locked and moved earlier in the same transaction is read back from the buffer.
    """

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self._moves: dict[UUID, tuple[Order, Order]] = {}  # id -> (as locked, as last decided)

    async def add(self, order: Order) -> bool:
        """Insert a new order and its history; False if an order with this id exists."""
        inserted = await self.conn.fetchval(
            _ADD,
            order.id,
            order.customer_id,
            order.currency,
            orjson.dumps([line.model_dump() for line in order.lines]).decode(),
            order.total.amount,
            order.status.value,
            order.trace_id,
            *_columns(order.history, start=0),
            order.deadline_at,
        )
        return bool(inserted)

    async def claim_key(
        self, customer_id: str, key: str, fingerprint: bytes, order_id: UUID
    ) -> HeldKey:
        """Claim ``key`` for ``order_id``; the existing holder if the customer used it before."""
        row = await self.conn.fetchrow(_CLAIM, customer_id, key, fingerprint, order_id)
        if row is None:  # waited for a concurrent claim to commit, or an old one
            row = await self.conn.fetchrow(_HELD, customer_id, key)
        if row is None:
            raise RuntimeError(f"idempotency key {key!r} neither claimed nor held")
        return HeldKey(row["order_id"], bytes(row["fingerprint"]))

    async def get(self, order_id: UUID) -> Order | None:
        """The order with its history, or None."""
        row = await self.conn.fetchrow(_GET, order_id)
        return None if row is None else _with_history(row)

    async def get_for_update(self, order_id: UUID) -> Order | None:
        """The order, row-locked until the transaction ends (one saga reply at a time).

        One statement when the row is free. When another transaction holds it, two: the history
        is read after the lock is granted, so it includes what that transaction appended (one
        statement would read it as of before the wait).
        """
        moved = self._moves.get(order_id)
        if moved is not None:  # locked earlier in this transaction, and moved since
            return moved[1]
        free = await self.conn.fetchrow(_LOCK_IF_FREE, order_id)
        if free is not None:  # the common case: nobody else is deciding about this order
            return _with_history(free)
        row = await self.conn.fetchrow(_SELECT_FOR_UPDATE, order_id)  # held, or missing
        if row is None:
            return None
        history = await self.conn.fetch(_HISTORY, order_id)
        steps = tuple(Step(h["at"], Status(h["status"]), h["note"]) for h in history)
        return _order(row, history=steps)

    async def forget_keys_before(self, at: datetime, limit: int) -> int:
        """Delete up to ``limit`` idempotency keys claimed before ``at``, oldest first; how many."""
        deleted: int = await self.conn.fetchval(_FORGET_KEYS, at, limit)
        return deleted

    async def claim_overdue(self, at: datetime, limit: int) -> list[Order]:
        """Up to ``limit`` open orders due by ``at``, row-locked until the transaction ends.

        Orders locked elsewhere are skipped, so concurrent sweepers never wait for or repeat
        each other's work.
        """
        rows = await self.conn.fetch(_CLAIM_OVERDUE, at, limit)
        orders = []
        for row in rows:
            history = await self.conn.fetch(_HISTORY, row["id"])
            steps = tuple(Step(h["at"], Status(h["status"]), h["note"]) for h in history)
            orders.append(_order(row, history=steps))
        return orders

    async def count_open_due_by(self, at: datetime) -> int:
        """How many open orders were due by ``at`` (and so are overdue now)."""
        count = await self.conn.fetchval(
            "SELECT count(*) FROM orders "
            "WHERE status IN ('pending', 'reserved') AND deadline_at <= $1",
            at,
        )
        return int(count)

    async def save(self, before: Order, after: Order) -> None:
        """Buffer the move from ``before`` to ``after`` (status and new history lines) for
        ``flush``; a later move of the same order in this transaction extends it."""
        if after == before:
            return
        first = self._moves.get(after.id, (before, before))[0]
        self._moves[after.id] = (first, after)

    async def flush(self) -> None:
        """Write every buffered move in one statement (the ``Writer`` calls it before commit)."""
        if not self._moves:
            return
        moves, self._moves = list(self._moves.values()), {}
        lines = [  # every move's new history lines: (order id, seq, step)
            (after.id, seq, step)
            for before, after in moves
            for seq, step in enumerate(after.history)
            if seq >= len(before.history)
        ]
        await self.conn.execute(
            _SAVE,
            [after.id for _, after in moves],
            [after.status.value for _, after in moves],
            [order_id for order_id, _, _ in lines],
            [seq for _, seq, _ in lines],
            [step.at for _, _, step in lines],
            [step.status.value for _, _, step in lines],
            [step.note for _, _, step in lines],
        )

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

    async def prices_of(self, skus: Iterable[str]) -> dict[str, Money]:
        """The known unit price of each of ``skus`` that has one."""
        rows = await self.conn.fetch(
            "SELECT sku, amount, currency FROM prices WHERE sku = ANY($1::text[])",
            sorted(set(skus)),
        )
        return {row["sku"]: Money(amount=row["amount"], currency=row["currency"]) for row in rows}

    async def price_for_update(self, sku: str) -> KnownPrice | None:
        """The SKU's known price, row-locked until the transaction ends; None if unknown."""
        row = await self.conn.fetchrow("SELECT * FROM prices WHERE sku = $1 FOR UPDATE", sku)
        if row is None:
            return None
        return KnownPrice(
            sku=row["sku"],
            price=Money(amount=row["amount"], currency=row["currency"]),
            revision=row["revision"],
            priced_at=row["priced_at"],
        )

    async def save_price(self, price: KnownPrice) -> None:
        """Keep ``price`` for its SKU unless a newer revision is already known.

        The guard matters when two announcements of a SKU never seen before race: neither had a
        row to lock, and the older one must not overwrite the newer.
        """
        await self.conn.execute(
            """
            INSERT INTO prices (sku, amount, currency, revision, priced_at)
            VALUES ($1, $2, $3, $4, $5)
            ON CONFLICT (sku) DO UPDATE SET amount = EXCLUDED.amount,
                currency = EXCLUDED.currency, revision = EXCLUDED.revision,
                priced_at = EXCLUDED.priced_at, updated_at = now()
            WHERE prices.revision < EXCLUDED.revision
            """,
            price.sku,
            price.price.amount,
            price.price.currency,
            price.revision,
            price.priced_at,
        )

    async def count_by_status(self) -> dict[str, int]:
        """How many orders are in each status."""
        rows = await self.conn.fetch("SELECT status, count(*) AS n FROM orders GROUP BY status")
        return {row["status"]: row["n"] for row in rows}


def _columns(history: tuple[Step, ...], start: int) -> tuple[list[Any], ...]:
    """The history lines from ``start`` on as (seq, at, status, note) arrays."""
    new = history[start:]
    return (
        list(range(start, start + len(new))),
        [step.at for step in new],
        [step.status.value for step in new],
        [step.note for step in new],
    )


def _with_history(row: Record) -> Order:
    """An order read by ``_GET``: its row with its history as arrays."""
    lines = zip(
        row["history_at"] or (),
        row["history_status"] or (),
        row["history_note"] or (),
        strict=True,
    )
    return _order(row, history=tuple(Step(at, Status(st), note) for at, st, note in lines))


def _order(row: object, *, history: tuple[Step, ...]) -> Order:
    record = dict(row)  # type: ignore[call-overload]  # asyncpg.Record is a mapping
    return Order(
        id=record["id"],
        customer_id=record["customer_id"],
        lines=tuple(OrderLine.model_validate(line) for line in orjson.loads(record["lines"])),
        currency=record["currency"],
        status=Status(record["status"]),
        history=history,
        deadline_at=record["deadline_at"],
        trace_id=record["trace_id"],
    )
