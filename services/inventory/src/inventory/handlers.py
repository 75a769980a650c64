"""How the inventory service reacts to orders: one function per event, then the table.

Load (locking what the decision reads), decide, save, return the events to publish. No
transaction, AMQP or tracing code here: the runtime runs each handler as a unit of work (inbox +
state + outbox, one commit).
"""

from __future__ import annotations

from datetime import UTC, datetime

from inventory import domain
from inventory.store import StockStore
from shop_contracts.orders import OrderCancelled, OrderPlaced
from warren.contracts.event import Event
from warren.runtime import Step


async def reserve_stock(event: OrderPlaced, store: StockStore) -> list[Event]:
    """An order was placed: hold all of its lines, or none and say which SKUs fall short."""
    levels = await store.levels_for_update(line.sku for line in event.lines)
    # Checked after taking the locks: a twin of this event (published again under a new id) that
    # is being handled right now has committed by then, so its answer is seen and stands.
    if await store.get_reservation(event.order_id) is not None:
        return []
    decision = domain.reserve(event, levels, _now())
    await store.add_reservation(decision.reservation, decision.levels)
    return decision.events


async def release_stock(event: OrderCancelled, store: StockStore) -> list[Event]:
    """An order was cancelled: put what it held back on the shelf (once)."""
    reservation = await store.get_reservation_for_update(event.order_id)
    if reservation is None:
        return []  # nothing was ever held for it
    levels = await store.levels_for_update(line.sku for line in reservation.lines)
    decision = domain.release(reservation, levels, _now())
    await store.save_levels(decision.levels)
    await store.save_reservation(reservation, decision.reservation)
    return decision.events


def _now() -> datetime:
    return datetime.now(UTC)


HANDLERS: dict[type[Event], Step[StockStore]] = {
    OrderPlaced: reserve_stock,
    OrderCancelled: release_stock,
}
