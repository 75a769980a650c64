"""Events published by the payments service: a payment was captured, declined or refunded.

Definitions only; the service decides when they happen.
"""

from __future__ import annotations

from typing import ClassVar
from uuid import UUID

from pydantic import AwareDatetime, Field

from shop_contracts.money import CustomerId, Money
from warren.contracts.event import Event


class PaymentEvent(Event):
    """Base of the payments service's events."""

    producer: ClassVar[str] = "payments"
    subject_field: ClassVar[str] = "order_id"
    order_id: UUID


class PaymentCaptured(PaymentEvent):
    """The provider captured ``amount``; it happens at most once per order."""

    type: ClassVar[str] = "payment.captured.v1"
    payment_id: UUID
    customer_id: CustomerId
    amount: Money
    captured_at: AwareDatetime


class PaymentDeclined(PaymentEvent):
    """The provider refused the payment; the order must be cancelled."""

    type: ClassVar[str] = "payment.declined.v1"
    customer_id: CustomerId
    amount: Money
    reason: str = Field(min_length=1, max_length=500)
    declined_at: AwareDatetime


class PaymentRefunded(PaymentEvent):
    """A captured payment was given back because its order was cancelled first (a compensation).

    It happens at most once per order, and only for an order that ``payment.captured`` charged.
    """

    type: ClassVar[str] = "payment.refunded.v1"
    payment_id: UUID
    customer_id: CustomerId
    amount: Money
    reason: str = Field(min_length=1, max_length=500)
    refunded_at: AwareDatetime
