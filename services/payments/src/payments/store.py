"""The payments store: one payment per order in the service's own PostgreSQL database.

One class, SQL inline, methods named by intent. It persists what the domain decided; it decides
nothing, calls no provider and publishes nothing.
"""

from __future__ import annotations

from uuid import UUID

from asyncpg import Record

from payments.domain import Payment, Status
from shop_contracts.money import Money
from warren.db import Connection


class PaymentStore:
    """Payments on one connection (inside the caller's transaction when it writes)."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

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


def _payment(row: Record) -> Payment:
    return Payment(
        order_id=row["order_id"],
        customer_id=row["customer_id"],
        amount=Money(amount=row["amount"], currency=row["currency"]),
        status=Status(row["status"]),
        payment_id=row["payment_id"],
        reason=row["reason"],
        at=row["created_at"],
    )
