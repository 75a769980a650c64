"""The suite's catalogue: every event type Warren's reference services publish, in one registry.

Owns the list; tools (schema export, AsyncAPI, the CLI) read it. The platform never imports it.
"""

from __future__ import annotations

from shop_contracts.orders import OrderCancelled, OrderConfirmed, OrderPlaced
from shop_contracts.payments import PaymentCaptured, PaymentDeclined, PaymentRefunded
from shop_contracts.products import ProductPriced
from shop_contracts.stock import StockRejected, StockReleased, StockReserved
from warren.contracts.registry import Registry

REGISTRY = Registry(
    [
        OrderPlaced,
        OrderConfirmed,
        OrderCancelled,
        StockReserved,
        StockRejected,
        StockReleased,
        PaymentCaptured,
        PaymentDeclined,
        PaymentRefunded,
        ProductPriced,
    ]
)
