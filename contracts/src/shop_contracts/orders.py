"""Events published by the orders service: an order was placed, confirmed or cancelled.

Definitions only; the service decides when they happen.
"""

from __future__ import annotations

from typing import ClassVar, Literal
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from shop_contracts.money import CustomerId, MinorUnits, Money, Quantity, Sku
from warren.contracts.event import Event


class OrderLine(BaseModel):
    """One line of an order: ``quantity`` of ``sku`` at ``unit_price`` minor units each."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    sku: Sku
    quantity: Quantity
    unit_price: MinorUnits


class OrderEvent(Event):
    """Base of the orders service's events."""

    producer: ClassVar[str] = "orders"
    subject_field: ClassVar[str] = "order_id"
    order_id: UUID


class OrderPlaced(OrderEvent):
    """A customer placed an order; the saga starts here."""

    type: ClassVar[str] = "order.placed.v1"
    customer_id: CustomerId
    lines: tuple[OrderLine, ...] = Field(min_length=1, max_length=100)
    total: Money
    placed_at: AwareDatetime


class OrderConfirmed(OrderEvent):
    """Stock is reserved and payment captured: the order will ship. Terminal."""

    type: ClassVar[str] = "order.confirmed.v1"
    customer_id: CustomerId
    total: Money
    payment_id: UUID
    confirmed_at: AwareDatetime


CancellationReason = Literal["out_of_stock", "payment_declined", "deadline_exceeded"]
"""Why an order was cancelled; ``deadline_exceeded``: not terminal within the orders deadline."""


class OrderCancelled(OrderEvent):
    """The order will not be fulfilled; any stock held for it must be released. Terminal."""

    type: ClassVar[str] = "order.cancelled.v1"
    customer_id: CustomerId
    reason: CancellationReason
    detail: str = Field(default="", max_length=500)
    cancelled_at: AwareDatetime
