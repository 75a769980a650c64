"""How the orders service reacts to the saga's replies and to the catalogue's prices: one function
per event, then the tables.

Load, decide, save, return the events to publish. No transaction, AMQP or tracing code here: the
runtime runs each handler as a unit of work (inbox + state + outbox, one commit).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from uuid import UUID

from orders import domain
from orders.store import OrderStore
from shop_contracts.payments import PaymentCaptured, PaymentDeclined, PaymentRefunded
from shop_contracts.products import ProductPriced
from shop_contracts.stock import StockRejected, StockReserved
from warren.contracts.event import Event
from warren.messaging import PermanentError
from warren.runtime import Step


async def note_reservation(event: StockReserved, store: OrderStore) -> list[Event]:
    """Stock is held for the order."""
    return await _decide(store, event.order_id, lambda o: domain.note_reservation(o, _now()))


async def confirm_order(event: PaymentCaptured, store: OrderStore) -> list[Event]:
    """Payment captured: confirm the order."""
    return await _decide(
        store, event.order_id, lambda o: domain.confirm(o, event.payment_id, event.captured_at)
    )


async def cancel_out_of_stock(event: StockRejected, store: OrderStore) -> list[Event]:
    """Stock could not be reserved: cancel the order."""
    missing = ", ".join(f"{s.sku} ({s.available}/{s.requested})" for s in event.shortages)
    return await _decide(
        store,
        event.order_id,
        lambda o: domain.cancel(o, "out_of_stock", f"not enough {missing}", event.rejected_at),
    )


async def cancel_declined(event: PaymentDeclined, store: OrderStore) -> list[Event]:
    """Payment declined: cancel the order."""
    return await _decide(
        store,
        event.order_id,
        lambda o: domain.cancel(o, "payment_declined", event.reason, event.declined_at),
    )


async def record_price(event: ProductPriced, store: OrderStore) -> list[Event]:
    """Inventory priced a SKU: keep the price for the next orders, unless a newer one is known."""
    known = await store.price_for_update(event.sku)
    if domain.is_newer(known, event.revision):
        await store.save_price(
            domain.KnownPrice(event.sku, event.price, event.revision, event.priced_at)
        )
    return []


async def note_refund(event: PaymentRefunded, store: OrderStore) -> list[Event]:
    """A late capture of a cancelled order was given back (history only)."""
    amount = f"{event.amount.amount} {event.amount.currency}"
    text = f"payment {event.payment_id} refunded ({amount})"
    return await _decide(store, event.order_id, lambda o: domain.note(o, event.refunded_at, text))


async def _decide(
    store: OrderStore, order_id: UUID, decide: Callable[[domain.Order], domain.Decision]
) -> list[Event]:
    before = await store.get_for_update(order_id)
    if before is None:
        raise PermanentError(f"order {order_id} does not exist")
    after, events = decide(before)
    await store.save(before, after)
    return events


def _now() -> datetime:
    return datetime.now(UTC)


HANDLERS: dict[type[Event], Step[OrderStore]] = {
    StockReserved: note_reservation,
    StockRejected: cancel_out_of_stock,
    PaymentCaptured: confirm_order,
    PaymentDeclined: cancel_declined,
    PaymentRefunded: note_refund,
}

PRICE_HANDLERS: dict[type[Event], Step[OrderStore]] = {
    ProductPriced: record_price,
}
"""On a queue of its own: a backlog of saga replies never delays a price, nor the reverse."""
