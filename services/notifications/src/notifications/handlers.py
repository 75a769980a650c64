"""How the notifications service reacts to the end of an order and to refunds: one function per
event, then the table.

Compose, record, return nothing to publish. No transaction, AMQP or tracing code here: the runtime
runs each handler as a unit of work (inbox + state, one commit). Recording is the sending here; the
UNIQUE (order_id, kind) makes a duplicate event a no-op, so no customer hears the same thing twice.
"""

from __future__ import annotations

from datetime import UTC, datetime

from notifications import domain
from notifications.store import NotificationStore
from shop_contracts.orders import OrderCancelled, OrderConfirmed
from shop_contracts.payments import PaymentRefunded
from warren.contracts.event import Event
from warren.runtime import Step


async def notify_confirmation(event: OrderConfirmed, store: NotificationStore) -> list[Event]:
    """The order is confirmed: tell the customer what they paid."""
    await store.add(domain.confirmation(event, _now()))
    return []


async def notify_cancellation(event: OrderCancelled, store: NotificationStore) -> list[Event]:
    """The order is cancelled: tell the customer why."""
    await store.add(domain.cancellation(event, _now()))
    return []


async def notify_refund(event: PaymentRefunded, store: NotificationStore) -> list[Event]:
    """A late capture of a cancelled order was refunded: tell the customer their money is back."""
    await store.add(domain.refund_notice(event, _now()))
    return []


def _now() -> datetime:
    return datetime.now(UTC)


HANDLERS: dict[type[Event], Step[NotificationStore]] = {
    OrderConfirmed: notify_confirmation,
    OrderCancelled: notify_cancellation,
    PaymentRefunded: notify_refund,
}
