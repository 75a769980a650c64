"""Events published by the inventory service about its products: a SKU's price was set.

Definitions only; inventory owns the catalogue and decides when a price is set or announced.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import AwareDatetime, Field

from shop_contracts.money import Money, Sku
from warren.contracts.event import Event


class ProductPriced(Event):
    """``sku`` sells at ``price`` per unit from now on; the highest ``revision`` wins.

    Inventory bumps ``revision`` each time the price changes and announces the current price of
    every SKU again when it starts, so a consumer that keeps the highest revision per SKU holds
    the newest price whatever order (and however often) the announcements arrive in.
    """

    producer: ClassVar[str] = "inventory"
    subject_field: ClassVar[str] = "sku"
    type: ClassVar[str] = "product.priced.v1"

    sku: Sku
    price: Money
    revision: int = Field(ge=1, le=2**63 - 1)
    priced_at: AwareDatetime
