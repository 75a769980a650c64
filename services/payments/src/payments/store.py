"""The payments store: one payment per order in the service's own PostgreSQL database.

One class, SQL inline, methods named by intent. It persists what the domain decided (payments, their
refunds, and the orders cancelled before any payment); it decides nothing, calls no provider and
publishes nothing.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from asyncpg import Record

from payments.domain import Payment, Status
from shop_contracts.money import Money
from warren.db import Connection


class PaymentStore:
    """Payments on one connection (inside the caller's transaction when it writes)."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    async def lock(self, order_id: UUID) -> None:
        """Serialise, until the transaction ends, everything done about ``order_id``'s money.

        A transaction-scoped advisory lock, since the row to lock may not exist yet: a charge and
        the order's cancellation never interleave, so no capture slips past a cancellation.
        """
        await self.conn.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended('payments/' || $1::uuid::text, 0))",
            order_id,
        )

    async def add(self, payment: Payment) -> bool:
        """Record the payment of an order; False if that order already has one (nothing changes)."""
        inserted = await self.conn.fetchval(
            """
            INSERT INTO payments
                (order_id, payment_id, customer_id, amount, currency, status, reason, created_at)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
            ON CONFLICT (order_id) DO NOTHING
            RETURNING true
            """,
            payment.order_id,
            payment.payment_id,
            payment.customer_id,
            payment.amount.amount,
            payment.amount.currency,
            payment.status.value,
            payment.reason,
            payment.at,
        )
        return bool(inserted)

    async def get(self, order_id: UUID) -> Payment | None:
        """The payment of ``order_id``, or None if it has not been charged."""
        row = await self.conn.fetchrow("SELECT * FROM payments WHERE order_id = $1", order_id)
        return None if row is None else _payment(row)

    async def mark_refunded(self, payment: Payment) -> None:
        """Record that the captured ``payment`` was given back."""
        await self.conn.execute(
            "UPDATE payments SET status = $2, refunded_at = $3 "
            "WHERE order_id = $1 AND status = 'captured'",
            payment.order_id,
            payment.status.value,
            payment.refunded_at,
        )

    async def remember_cancelled(self, order_id: UUID, reason: str, at: datetime) -> None:
        """Remember that ``order_id`` was cancelled before any payment (once)."""
        await self.conn.execute(
            "INSERT INTO cancelled_orders (order_id, reason, cancelled_at) VALUES ($1, $2, $3) "
            "ON CONFLICT (order_id) DO NOTHING",
            order_id,
            reason,
            at,
        )

    async def state(self, order_id: UUID) -> tuple[Payment | None, bool]:
        """The payment of ``order_id`` (None if not charged) and whether the order was cancelled
        before any payment — what a charge must know, in one round trip."""
        row = await self.conn.fetchrow(
            """
            SELECT p.*, EXISTS (
                SELECT 1 FROM cancelled_orders WHERE order_id = $1
            ) AS cancelled_first
            FROM (SELECT 1) AS one LEFT JOIN payments AS p ON p.order_id = $1
            """,
            order_id,
        )
        assert row is not None  # one row always: the LEFT JOIN keeps the constant one
        payment = None if row["payment_id"] is None else _payment(row)
        return payment, bool(row["cancelled_first"])


def _payment(row: Record) -> Payment:
    return Payment(
        order_id=row["order_id"],
        customer_id=row["customer_id"],
        amount=Money(amount=row["amount"], currency=row["currency"]),
        status=Status(row["status"]),
        payment_id=row["payment_id"],
        reason=row["reason"],
        at=row["created_at"],
        refunded_at=row["refunded_at"],
    )
