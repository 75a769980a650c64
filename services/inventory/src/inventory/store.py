"""The inventory store: stock levels, reservations and prices in the service's own database.

One class, SQL inline, methods named by intent. It persists what the domain decided and locks what
a decision reads; it decides nothing and publishes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from uuid import UUID

import asyncpg
import orjson

from inventory.domain import Price, Reservation, Status, StockLevel
from shop_contracts.money import Money
from shop_contracts.stock import StockLine
from warren.db import Connection

# ``reserved`` sums the lines of held reservations naming the SKU; ``@>`` lets the partial GIN
# index find those reservations instead of scanning every held one.
_LEVELS = """
SELECT s.sku, s.available, COALESCE(held.units, 0) AS reserved,
       p.amount AS price_amount, p.currency AS price_currency
FROM stock AS s
LEFT JOIN prices AS p ON p.sku = s.sku
LEFT JOIN LATERAL (
    SELECT sum((line ->> 'quantity')::int) AS units
    FROM reservations AS r, jsonb_array_elements(r.lines) AS line
    WHERE r.status = 'held'
      AND r.lines @> jsonb_build_array(jsonb_build_object('sku', s.sku))
      AND line ->> 'sku' = s.sku
) AS held ON true
"""


class StockStore:
    """Stock and reservations on one connection (inside the caller's transaction when it writes)."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    async def levels_for_update(self, skus: Iterable[str]) -> dict[str, int]:
        """Levels of those ``skus`` that exist, row-locked until the transaction ends.

        Rows are locked in SKU order, the same for every caller, so orders sharing SKUs queue
        behind each other instead of deadlocking, and each decides on levels no one else changes.
        """
        rows = await self.conn.fetch(
            "SELECT sku, available FROM stock WHERE sku = ANY($1::text[]) ORDER BY sku FOR UPDATE",
            sorted(set(skus)),
        )
        return {row["sku"]: row["available"] for row in rows}

    async def save_levels(self, levels: Mapping[str, int]) -> None:
        """Write these levels, adding SKUs not stocked yet."""
        if not levels:
            return
        await self.conn.execute(
            """
            INSERT INTO stock (sku, available)
            SELECT * FROM unnest($1::text[], $2::int[])
            ON CONFLICT (sku) DO UPDATE SET available = EXCLUDED.available, updated_at = now()
            """,
            list(levels),
            list(levels.values()),
        )

    async def add_missing(self, levels: Mapping[str, int]) -> list[str]:
        """Stock the SKUs not stocked yet at these levels, leave the others; return those added."""
        rows = await self.conn.fetch(
            """
            INSERT INTO stock (sku, available)
            SELECT * FROM unnest($1::text[], $2::int[])
            ON CONFLICT (sku) DO NOTHING
            RETURNING sku
            """,
            list(levels),
            list(levels.values()),
        )
        return sorted(row["sku"] for row in rows)

    async def get_level(self, sku: str) -> StockLevel | None:
        """One SKU with its available and reserved units, or None if it is not stocked."""
        row = await self.conn.fetchrow(_LEVELS + "WHERE s.sku = $1", sku)
        return None if row is None else _level(row)

    async def list_levels(self, *, limit: int) -> list[StockLevel]:
        """Stocked SKUs in SKU order, with their available and reserved units."""
        rows = await self.conn.fetch(_LEVELS + "ORDER BY s.sku LIMIT $1", limit)
        return [_level(row) for row in rows]

    async def price_for_update(self, sku: str) -> Price | None:
        """The SKU's price, row-locked until the transaction ends; None if it has none yet."""
        row = await self.conn.fetchrow("SELECT * FROM prices WHERE sku = $1 FOR UPDATE", sku)
        return None if row is None else _price(row)

    async def save_price(self, before: Price | None, after: Price | None) -> None:
        """Persist the move from ``before`` to ``after``; nothing if unchanged."""
        if after is None or after == before:
            return
        await self.conn.execute(
            """
            INSERT INTO prices (sku, amount, currency, revision, priced_at)
            VALUES ($1, $2, $3, $4, $5)
            ON CONFLICT (sku) DO UPDATE SET amount = EXCLUDED.amount,
                currency = EXCLUDED.currency, revision = EXCLUDED.revision,
                priced_at = EXCLUDED.priced_at
            """,
            after.sku,
            after.price.amount,
            after.price.currency,
            after.revision,
            after.priced_at,
        )

    async def add_missing_prices(self, prices: Iterable[Price]) -> list[str]:
        """Price the SKUs that have no price yet, leave the others; return those added."""
        prices = list(prices)
        rows = await self.conn.fetch(
            """
            INSERT INTO prices (sku, amount, currency, revision, priced_at)
            SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[], $4::bigint[],
                                 $5::timestamptz[])
            ON CONFLICT (sku) DO NOTHING
            RETURNING sku
            """,
            [p.sku for p in prices],
            [p.price.amount for p in prices],
            [p.price.currency for p in prices],
            [p.revision for p in prices],
            [p.priced_at for p in prices],
        )
        return sorted(row["sku"] for row in rows)

    async def list_prices(self) -> list[Price]:
        """Every SKU's current price, in SKU order."""
        rows = await self.conn.fetch("SELECT * FROM prices ORDER BY sku")
        return [_price(row) for row in rows]

    async def get_reservation(self, order_id: UUID) -> Reservation | None:
        """What inventory answered for this order, or None if it has not seen it."""
        row = await self.conn.fetchrow("SELECT * FROM reservations WHERE order_id = $1", order_id)
        return None if row is None else _reservation(row)

    async def get_reservation_for_update(self, order_id: UUID) -> Reservation | None:
        """The reservation, row-locked until the transaction ends (one release at a time)."""
        row = await self.conn.fetchrow(
            "SELECT * FROM reservations WHERE order_id = $1 FOR UPDATE", order_id
        )
        return None if row is None else _reservation(row)

    async def add_reservation(
        self, reservation: Reservation, levels: Mapping[str, int] | None = None
    ) -> None:
        """Record inventory's answer to a new order, and the ``levels`` it leaves, in one statement.

        Twins of one order queue on their SKUs' row locks, so the second sees the first's answer.
        Should two still race (no stocked SKU to lock), the loser fails on the primary key and
        its whole transaction rolls back: its levels are never written, and its retry sees the
        winner's answer.
        """
        levels = levels or {}
        await self.conn.execute(
            """
            WITH levels AS (
                INSERT INTO stock (sku, available)
                SELECT * FROM unnest($4::text[], $5::int[])
                ON CONFLICT (sku) DO UPDATE SET available = EXCLUDED.available, updated_at = now()
            )
            INSERT INTO reservations (order_id, status, lines) VALUES ($1, $2, $3::jsonb)
            """,
            reservation.order_id,
            reservation.status.value,
            _lines_json(reservation.lines),
            list(levels),
            list(levels.values()),
        )

    async def save_reservation(self, before: Reservation, after: Reservation) -> None:
        """Persist the move from ``before`` to ``after`` (its status); nothing if unchanged."""
        if after == before:
            return
        await self.conn.execute(
            "UPDATE reservations SET status = $2, updated_at = now() WHERE order_id = $1",
            after.order_id,
            after.status.value,
        )


def _lines_json(lines: Iterable[StockLine]) -> str:
    return orjson.dumps([line.model_dump() for line in lines]).decode()


def _level(row: asyncpg.Record) -> StockLevel:
    price = (
        None
        if row["price_amount"] is None
        else Money(amount=row["price_amount"], currency=row["price_currency"])
    )
    return StockLevel(row["sku"], row["available"], row["reserved"], price)


def _price(row: asyncpg.Record) -> Price:
    return Price(
        sku=row["sku"],
        price=Money(amount=row["amount"], currency=row["currency"]),
        revision=row["revision"],
        priced_at=row["priced_at"],
    )


def _reservation(row: asyncpg.Record) -> Reservation:
    return Reservation(
        order_id=row["order_id"],
        status=Status(row["status"]),
        lines=tuple(StockLine.model_validate(line) for line in orjson.loads(row["lines"])),
    )
