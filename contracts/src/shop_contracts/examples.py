"""One valid example of every event in the catalogue, for documentation, AsyncAPI and tests.

Examples only: nothing in the suite's behaviour depends on them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID

from pydantic import AwareDatetime

from shop_contracts.money import Money
from shop_contracts.orders import OrderCancelled, OrderConfirmed, OrderLine, OrderPlaced
from shop_contracts.payments import PaymentCaptured, PaymentDeclined, PaymentRefunded
from shop_contracts.products import ProductPriced
from shop_contracts.stock import Shortage, StockLine, StockRejected, StockReleased, StockReserved
from warren.contracts.event import Event

ORDER_ID = UUID("0b8f9a4e-3c52-4d7e-9a61-2f1c7d5e8b90")
PAYMENT_ID = UUID("5d2c1b7a-8e94-4f03-b6a2-9c8d7e6f5a41")
AT = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def example(event_class: type[Event], order_id: UUID = ORDER_ID) -> Event:
    """A valid instance of ``event_class`` (about ``order_id`` when it is about an order)."""
    total = Money(amount=2 * 1250 + 499, currency="EUR")
    lines = (
        OrderLine(sku="TEA-GREEN", quantity=2, unit_price=1250),
        OrderLine(sku="MUG-BLUE", quantity=1, unit_price=499),
    )
    stock = tuple(StockLine(sku=line.sku, quantity=line.quantity) for line in lines)
    by_class: dict[type[Event], Event] = {
        OrderPlaced: OrderPlaced(
            order_id=order_id, customer_id="alice", lines=lines, total=total, placed_at=AT
        ),
        OrderConfirmed: OrderConfirmed(
            order_id=order_id,
            customer_id="alice",
            total=total,
            payment_id=PAYMENT_ID,
            confirmed_at=AT,
        ),
        OrderCancelled: OrderCancelled(
            order_id=order_id,
            customer_id="alice",
            reason="payment_declined",
            detail="amount above the customer's limit",
            cancelled_at=AT,
        ),
        StockReserved: StockReserved(
            order_id=order_id, customer_id="alice", lines=stock, amount=total, reserved_at=AT
        ),
        StockRejected: StockRejected(
            order_id=order_id,
            shortages=(Shortage(sku="MUG-BLUE", requested=1, available=0),),
            rejected_at=AT,
        ),
        StockReleased: StockReleased(order_id=order_id, lines=stock, released_at=AT),
        PaymentCaptured: PaymentCaptured(
            order_id=order_id,
            payment_id=PAYMENT_ID,
            customer_id="alice",
            amount=total,
            captured_at=AT,
        ),
        PaymentDeclined: PaymentDeclined(
            order_id=order_id,
            customer_id="alice",
            amount=total,
            reason="amount above the customer's limit",
            declined_at=AT,
        ),
        PaymentRefunded: PaymentRefunded(
            order_id=order_id,
            payment_id=PAYMENT_ID,
            customer_id="alice",
            amount=total,
            reason="order cancelled (deadline_exceeded) after its payment was captured",
            refunded_at=AT,
        ),
        ProductPriced: ProductPriced(
            sku="TEA-GREEN", price=Money(amount=1250, currency="EUR"), revision=1, priced_at=AT
        ),
    }
    return by_class.get(event_class) or from_fields(event_class, order_id)


def from_fields(event_class: type[Event], order_id: UUID = ORDER_ID) -> Event:
    """An instance of ``event_class`` made from its fields' types, for an event no example above
    describes yet (a just-scaffolded one): ids are ``order_id``, times ``AT``, text "example"."""
    by_type: dict[object, object] = {
        UUID: order_id,
        datetime: AT,
        AwareDatetime: AT,
        str: "example",
        int: 1,
    }
    values = {
        name: by_type[field.annotation]
        for name, field in event_class.model_fields.items()
        if field.is_required() and field.annotation in by_type
    }
    return event_class.model_validate(values)
