"""Events published by the inventory service: stock reserved, rejected or released for an order.

Definitions only; the service decides when they happen.
"""

from __future__ import annotations

from typing import ClassVar
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from shop_contracts.money import CustomerId, Money, Quantity, Sku
from warren.contracts.event import Event


class StockLine(BaseModel):
    """``quantity`` units of ``sku``."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    sku: Sku
    quantity: Quantity


class Shortage(BaseModel):
    """Why a line could not be reserved: fewer units ``available`` than ``requested``."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    sku: Sku
    requested: Quantity
    available: int = Field(ge=0)


class StockEvent(Event):
    """Base of the inventory service's events."""

    producer: ClassVar[str] = "inventory"
    subject_field: ClassVar[str] = "order_id"
    order_id: UUID


class StockReserved(StockEvent):
    """Every line of the order is held; payment may proceed for ``amount``."""

    type: ClassVar[str] = "stock.reserved.v1"
    customer_id: CustomerId
    lines: tuple[StockLine, ...] = Field(min_length=1, max_length=100)
    amount: Money
    reserved_at: AwareDatetime


class StockRejected(StockEvent):
    """At least one line could not be reserved; nothing was held."""

    type: ClassVar[str] = "stock.rejected.v1"
    shortages: tuple[Shortage, ...] = Field(min_length=1, max_length=100)
    rejected_at: AwareDatetime


class StockReleased(StockEvent):
    """The reservation of a cancelled order went back on the shelf."""

    type: ClassVar[str] = "stock.released.v1"
    lines: tuple[StockLine, ...] = Field(min_length=1, max_length=100)
    released_at: AwareDatetime
