"""How the payments service reacts to reserved stock: one function per event, then the table.

Load, ask the provider, decide, save, return the events to publish. The provider is declared as a
parameter and given by the runtime from ``Service.dependencies``. No transaction, AMQP or tracing
code here: the runtime runs each handler as a unit of work (inbox + state + outbox, one commit), so
a ``ProviderUnavailable`` rolls everything back and the message is retried through the delay queues.
"""

from __future__ import annotations

from datetime import UTC, datetime

from payments import domain
from payments.provider import SimulatedProvider
from payments.store import PaymentStore
from shop_contracts.stock import StockReserved
from warren.contracts.event import Event
from warren.runtime import Step


async def capture_payment(
    event: StockReserved, store: PaymentStore, provider: SimulatedProvider
) -> list[Event]:
    """Stock is held: charge the order once, and say whether the money was captured or declined."""
    if await store.get(event.order_id) is not None:
        return []  # already charged (a re-published stock.reserved): never take the money twice
    charge = domain.charge_for(event)
    answer = domain.refusal(charge) or await provider.charge(charge)
    payment, events = domain.settle(charge, answer, datetime.now(UTC))
    if not await store.add(payment):
        return []  # a concurrent delivery for the same order recorded it first
    return events


HANDLERS: dict[type[Event], Step[PaymentStore]] = {
    StockReserved: capture_payment,
}
