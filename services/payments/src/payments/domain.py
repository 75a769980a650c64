"""The rules of a payment: what to charge for an order, and what the provider's answer means. Pure.

State in, decision out: ``charge_for`` turns reserved stock into the charge to ask for; ``refusal``
says when a charge must not reach the provider at all (nothing to take: a zero amount is never
captured); ``settle`` turns the answer into the payment to record and the event to publish. No
I/O, no clock, no provider calls: the handler asks the provider and passes its answer in.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from uuid import UUID

from shop_contracts.money import Money
from shop_contracts.payments import PaymentCaptured, PaymentDeclined
from shop_contracts.stock import StockReserved
from warren.contracts.event import Event


class Status(StrEnum):
    """How a payment ended; both are final."""

    CAPTURED = "captured"
    DECLINED = "declined"


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


def charge_for(reserved: StockReserved) -> Charge:
    """The charge for an order whose stock is held: its full amount."""
    return Charge(
        order_id=reserved.order_id, customer_id=reserved.customer_id, amount=reserved.amount
    )


INVALID_AMOUNT = "invalid_amount"
"""The reason a charge of nothing (or less) is declined without asking the provider."""


def refusal(charge: Charge) -> Refused | None:
    """Why ``charge`` is declined before the provider is asked, or None if it may be asked.

    A payment captures money: an amount of zero (or less) is never captured, whatever produced
    it, so the order is declined and cancelled by the saga rather than confirmed for free.
    """
    if charge.amount.amount <= 0:
        amount = f"{charge.amount.amount} {charge.amount.currency}"
        return Refused(f"{INVALID_AMOUNT}: {amount} is not an amount that can be captured")
    return None


def settle(charge: Charge, answer: Answer, at: datetime) -> tuple[Payment, list[Event]]:
    """The payment to record and the event to publish, given the provider's ``answer``."""
    if isinstance(answer, Approved):
        return _captured(charge, answer.payment_id, at)
    return _declined(charge, answer.reason, at)


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
