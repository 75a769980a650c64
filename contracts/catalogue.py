"""The suite's catalogue: every event type Warren's reference services publish, in one registry.

Owns the list; tools (schema export, AsyncAPI, the CLI) read it. The platform never imports it.
"""

from __future__ import annotations

from contracts.orders import OrderCancelled, OrderConfirmed, OrderPlaced
from contracts.payments import PaymentCaptured, PaymentDeclined
from contracts.registry import Registry
from contracts.stock import StockRejected, StockReleased, StockReserved

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
    ]
)
