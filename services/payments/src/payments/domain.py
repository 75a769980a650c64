"""The rules of a payment: what to charge for an order, what the provider's answer means, and
when money must go back. Pure.

State in, decision out: ``charge_for`` turns reserved stock into the charge to ask for; ``refusal``
says when a charge must not reach the provider at all (nothing to take: a zero amount is never
captured; the order was cancelled first); ``settle`` turns the answer into the payment to record
and the event to publish; ``refund`` turns a captured payment of a cancelled order into its
refund. Money is never kept for a cancelled order: cancelled before its charge, the charge is
refused (``CANCELLED_FIRST``); cancelled after, it is refunded. No I/O, no clock, no provider
calls: the handler asks the provider and passes its answer in.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from uuid import UUID

from shop_contracts.money import Money
from shop_contracts.payments import PaymentCaptured, PaymentDeclined, PaymentRefunded
from shop_contracts.stock import StockReserved
from warren.contracts.event import Event


class Status(StrEnum):
    """Where a payment is: ``declined`` and ``refunded`` are final; ``captured`` is final unless
    its order turns out to be cancelled, when it is refunded."""

    CAPTURED = "captured"
    DECLINED = "declined"
    REFUNDED = "refunded"


@dataclass(frozen=True)
class Charge:
    """What the provider is asked to take: ``amount`` from ``customer_id`` for ``order_id``."""

    order_id: UUID
    customer_id: str
    amount: Money


@dataclass(frozen=True)
class Approved:
    """The provider took the money; ``payment_id`` is its reference."""

    payment_id: UUID


@dataclass(frozen=True)
class Refused:
    """The provider refused the charge, for ``reason``."""

    reason: str


Answer = Approved | Refused

CANCELLED_FIRST = Refused("order_cancelled")
"""The answer for a charge whose order was cancelled before it: declined, never sent on."""


@dataclass(frozen=True)
class Payment:
    """The one payment of an order, as the payments service records it."""

    order_id: UUID
    customer_id: str
    amount: Money
    status: Status
    payment_id: UUID | None
    reason: str | None
    at: datetime
    refunded_at: datetime | None = None


def charge_for(reserved: StockReserved) -> Charge:
    """The charge for an order whose stock is held: its full amount."""
    return Charge(
        order_id=reserved.order_id, customer_id=reserved.customer_id, amount=reserved.amount
    )


INVALID_AMOUNT = "invalid_amount"
"""The reason a charge of nothing (or less) is declined without asking the provider."""


def refusal(charge: Charge, *, cancelled: bool = False) -> Refused | None:
    """Why ``charge`` is declined before the provider is asked, or None if it may be asked.

    A payment captures money: an amount of zero (or less) is never captured, whatever produced
    it, so the order is declined and cancelled by the saga rather than confirmed for free. Nor
    is an order that was ``cancelled`` before its charge (its deadline passed first).
    """
    if cancelled:
        return CANCELLED_FIRST
    if charge.amount.amount <= 0:
        amount = f"{charge.amount.amount} {charge.amount.currency}"
        return Refused(f"{INVALID_AMOUNT}: {amount} is not an amount that can be captured")
    return None


def settle(charge: Charge, answer: Answer, at: datetime) -> tuple[Payment, list[Event]]:
    """The payment to record and the event to publish, given the provider's ``answer``."""
    if isinstance(answer, Approved):
        return _captured(charge, answer.payment_id, at)
    return _declined(charge, answer.reason, at)


def is_refund_due(payment: Payment | None) -> bool:
    """Whether the order just cancelled has money to give back: a captured, unrefunded payment."""
    return payment is not None and payment.status is Status.CAPTURED


def refund(payment: Payment, reason: str, at: datetime) -> tuple[Payment, list[Event]]:
    """The refunded payment and its ``payment.refunded``; nothing if no refund is due."""
    if not is_refund_due(payment) or payment.payment_id is None:
        return payment, []
    refunded = replace(payment, status=Status.REFUNDED, refunded_at=at)
    event = PaymentRefunded(
        order_id=payment.order_id,
        payment_id=payment.payment_id,
        customer_id=payment.customer_id,
        amount=payment.amount,
        reason=reason.strip()[:500] or "order cancelled",
        refunded_at=at,
    )
    return refunded, [event]


def _captured(charge: Charge, payment_id: UUID, at: datetime) -> tuple[Payment, list[Event]]:
    payment = Payment(
        order_id=charge.order_id,
        customer_id=charge.customer_id,
        amount=charge.amount,
        status=Status.CAPTURED,
        payment_id=payment_id,
        reason=None,
        at=at,
    )
    event = PaymentCaptured(
        order_id=charge.order_id,
        payment_id=payment_id,
        customer_id=charge.customer_id,
        amount=charge.amount,
        captured_at=at,
    )
    return payment, [event]


def _declined(charge: Charge, reason: str, at: datetime) -> tuple[Payment, list[Event]]:
    reason = reason.strip()[:500] or "declined by the provider"  # the contract's bounds
    payment = Payment(
        order_id=charge.order_id,
        customer_id=charge.customer_id,
        amount=charge.amount,
        status=Status.DECLINED,
        payment_id=None,
        reason=reason,
        at=at,
    )
    event = PaymentDeclined(
        order_id=charge.order_id,
        customer_id=charge.customer_id,
        amount=charge.amount,
        reason=reason,
        declined_at=at,
    )
    return payment, [event]
