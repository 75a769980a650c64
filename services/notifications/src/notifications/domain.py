"""What the customer is told when an order ends, and when money for a cancelled order comes back:
the message for each outcome. Pure: no I/O.

State in, decision out: each function takes the saga's event and the time, and returns the
``Notification`` to send. It sends nothing and remembers nothing; the store keeps one per order and
kind.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from shop_contracts.money import Money
from shop_contracts.orders import CancellationReason, OrderCancelled, OrderConfirmed
from shop_contracts.payments import PaymentRefunded

# Fixed forever: a notification's id is derived from its order and kind, so it is the same on
# every delivery of the event that causes it.
NOTIFICATION_NAMESPACE = uuid.UUID("8c4e1a9f-2d7b-4f63-b0e5-7a1d3c9e6f28")
CHANNEL = "email"

# ISO 4217 currencies whose minor unit is not a hundredth; every other currency has two decimals.
_DECIMALS = {"BHD": 3, "IQD": 3, "JOD": 3, "KWD": 3, "LYD": 3, "OMR": 3, "TND": 3}
_DECIMALS |= dict.fromkeys(("BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW"), 0)
_DECIMALS |= dict.fromkeys(("PYG", "RWF", "UGX", "VND", "VUV", "XAF", "XOF", "XPF"), 0)

_REASONS: dict[CancellationReason, str] = {
    "out_of_stock": "some items are out of stock",
    "payment_declined": "the payment was declined",
    "deadline_exceeded": "it could not be completed in time",
}


class Kind(StrEnum):
    """Which end of an order (or which refund) a notification announces."""

    ORDER_CONFIRMED = "order_confirmed"
    ORDER_CANCELLED = "order_cancelled"
    PAYMENT_REFUNDED = "payment_refunded"


@dataclass(frozen=True)
class Notification:
    """One message to one customer about one order."""

    id: uuid.UUID
    order_id: uuid.UUID
    customer_id: str
    kind: Kind
    channel: str
    subject: str
    body: str
    created_at: datetime


def confirmation(event: OrderConfirmed, at: datetime) -> Notification:
    """The message telling the customer their order is confirmed, and what they paid."""
    return _notification(
        event.order_id,
        event.customer_id,
        Kind.ORDER_CONFIRMED,
        subject=f"Your order {_short(event.order_id)} is confirmed",
        body=(
            f"Good news: order {event.order_id} is confirmed. We charged {_amount(event.total)}"
            f" (payment {event.payment_id}) and will ship it soon."
        ),
        at=at,
    )


def cancellation(event: OrderCancelled, at: datetime) -> Notification:
    """The message telling the customer their order is cancelled, and why."""
    detail = f" ({event.detail})" if event.detail else ""
    return _notification(
        event.order_id,
        event.customer_id,
        Kind.ORDER_CANCELLED,
        subject=f"Your order {_short(event.order_id)} was cancelled",
        body=(
            f"Sorry: order {event.order_id} was cancelled because {_REASONS[event.reason]}"
            f"{detail}. You have not been charged for it."
        ),
        at=at,
    )


def refund_notice(event: PaymentRefunded, at: datetime) -> Notification:
    """The message telling the customer the money taken for their cancelled order is back."""
    return _notification(
        event.order_id,
        event.customer_id,
        Kind.PAYMENT_REFUNDED,
        subject=f"Your payment for order {_short(event.order_id)} was refunded",
        body=(
            f"Order {event.order_id} was cancelled, but its payment {event.payment_id} went"
            f" through late. We refunded {_amount(event.amount)} in full."
        ),
        at=at,
    )


def notification_id(order_id: uuid.UUID, kind: Kind) -> uuid.UUID:
    """The id of the ``kind`` notification about ``order_id``: the same every time."""
    return uuid.uuid5(NOTIFICATION_NAMESPACE, f"{order_id}/{kind.value}")


def _notification(
    order_id: uuid.UUID, customer_id: str, kind: Kind, *, subject: str, body: str, at: datetime
) -> Notification:
    return Notification(
        id=notification_id(order_id, kind),
        order_id=order_id,
        customer_id=customer_id,
        kind=kind,
        channel=CHANNEL,
        subject=subject,
        body=body,
        created_at=at,
    )


def _amount(money: Money) -> str:
    """``2999 EUR`` -> ``29.99 EUR``; ``500 JPY`` -> ``500 JPY``."""
    decimals = _DECIMALS.get(money.currency, 2)
    units, minor = divmod(money.amount, 10**decimals)
    return (
        f"{units}.{minor:0{decimals}d} {money.currency}"
        if decimals
        else f"{units} {money.currency}"
    )


def _short(order_id: uuid.UUID) -> str:
    return str(order_id)[:8]
