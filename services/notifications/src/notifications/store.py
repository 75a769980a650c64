"""The notifications store: the messages sent, one per order and kind, in the service's database.

One class, SQL inline, methods named by intent. It keeps what the domain composed; it composes
nothing and sends nothing.
"""

from __future__ import annotations

from uuid import UUID

from asyncpg import Record

from notifications.domain import Kind, Notification
from warren.db import Connection


class NotificationStore:
    """Notifications on one connection (inside the caller's transaction when it writes)."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    async def add(self, notification: Notification) -> bool:
        """Record a sent notification; False if this order already got one of this kind."""
        inserted = await self.conn.fetchval(
            """
            INSERT INTO notifications
                (id, order_id, customer_id, kind, channel, subject, body, created_at)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
            ON CONFLICT DO NOTHING
            RETURNING true
            """,
            notification.id,
            notification.order_id,
            notification.customer_id,
            notification.kind.value,
            notification.channel,
            notification.subject,
            notification.body,
            notification.created_at,
        )
        return bool(inserted)

    async def list(
        self, *, order_id: UUID | None, customer_id: str | None, limit: int
    ) -> list[Notification]:
        """Newest first, optionally about one order and/or for one customer."""
        rows = await self.conn.fetch(
            """
            SELECT * FROM notifications
            WHERE ($1::uuid IS NULL OR order_id = $1) AND ($2::text IS NULL OR customer_id = $2)
            ORDER BY created_at DESC, id
            LIMIT $3
            """,
            order_id,
            customer_id,
            limit,
        )
        return [_notification(row) for row in rows]


def _notification(row: Record) -> Notification:
    return Notification(
        id=row["id"],
        order_id=row["order_id"],
        customer_id=row["customer_id"],
        kind=Kind(row["kind"]),
        channel=row["channel"],
        subject=row["subject"],
        body=row["body"],
        created_at=row["created_at"],
    )
