"""How the payments service reacts to reserved stock and cancelled orders: one function per event,
then the table.

Load, ask the provider, decide, save, return the events to publish. The provider is declared as a
parameter and given by the runtime from ``Service.dependencies``. No transaction, AMQP or tracing
code here: the runtime runs each handler as a unit of work (inbox + state + outbox, one commit), so
a ``ProviderUnavailable`` rolls everything back and the message is retried through the delay queues.
Both handlers first take the order's payment lock, so a charge and the order's cancellation are
never interleaved: whichever comes second sees what the first did (money is never kept).
"""

from __future__ import annotations

from datetime import UTC, datetime

from payments import domain
from payments.provider import SimulatedProvider
from payments.store import PaymentStore
from shop_contracts.orders import OrderCancelled
from shop_contracts.stock import StockReserved
from warren.contracts.event import Event
from warren.runtime import Step


async def capture_payment(
    event: StockReserved, store: PaymentStore, provider: SimulatedProvider
) -> list[Event]:
    """Stock is held: charge the order once, and say whether the money was captured or declined.

    An order already cancelled (its deadline passed first) is declined without asking the provider.
    """
    await store.lock(event.order_id)
    charged, cancelled = await store.state(event.order_id)
    if charged is not None:
        return []  # already charged (a re-published stock.reserved): never take the money twice
    charge = domain.charge_for(event)
    answer = domain.refusal(charge, cancelled=cancelled) or await provider.charge(charge)
    payment, events = domain.settle(charge, answer, datetime.now(UTC))
    if not await store.add(payment):
        return []  # a concurrent delivery for the same order recorded it first
    return events


async def refund_cancelled(
    event: OrderCancelled, store: PaymentStore, provider: SimulatedProvider
) -> list[Event]:
    """The order is cancelled: refund its captured payment, or refuse any charge still to come."""
    await store.lock(event.order_id)
    payment = await store.get(event.order_id)
    if payment is None:
        await store.remember_cancelled(event.order_id, event.reason, event.cancelled_at)
        return []
    if not domain.is_refund_due(payment):
        return []  # declined, or refunded already: nothing was kept
    await provider.refund(payment)
    reason = f"order cancelled ({event.reason}) after its payment was captured"
    refunded, events = domain.refund(payment, reason, datetime.now(UTC))
    await store.mark_refunded(refunded)
    return events


HANDLERS: dict[type[Event], Step[PaymentStore]] = {
    StockReserved: capture_payment,
    OrderCancelled: refund_cancelled,
}
