"""The rules of an order: pricing and placing it, and how each saga reply moves it on. Pure.

State in, decision out: every function takes an ``Order`` (and what happened) and returns the new
``Order`` with the events to publish. An order ends in exactly one terminal state; a reply that
arrives after that changes nothing but the history. Prices are the catalogue's, never the
customer's: ``place`` prices each line from the prices inventory announced, and refuses what it
cannot price. An order gets its deadline when it is placed; one still open at its deadline is
cancelled (``deadline_exceeded``), so no order waits forever.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from uuid import UUID

from shop_contracts.money import MAX_MINOR_UNITS, Money
from shop_contracts.orders import (
    CancellationReason,
    OrderCancelled,
    OrderConfirmed,
    OrderLine,
    OrderPlaced,
)
from warren.contracts.event import Event


class Status(StrEnum):
    """Where an order is in the saga; ``confirmed`` and ``cancelled`` are terminal."""

    PENDING = "pending"
    RESERVED = "reserved"
    CONFIRMED = "confirmed"
    CANCELLED = "cancelled"

    @property
    def is_terminal(self) -> bool:
        """True for the two end states."""
        return self in (Status.CONFIRMED, Status.CANCELLED)


@dataclass(frozen=True)
class Step:
    """One line of an order's history: what happened, when, and a human note."""

    at: datetime
    status: Status
    note: str


@dataclass(frozen=True)
class Order:
    """An order and its history, as the orders service knows it."""

    id: UUID
    customer_id: str
    lines: tuple[OrderLine, ...]
    currency: str
    status: Status
    history: tuple[Step, ...]
    deadline_at: datetime
    trace_id: str | None = None

    @property
    def total(self) -> Money:
        """Sum of quantity x unit price over the lines."""
        amount = sum(line.quantity * line.unit_price for line in self.lines)
        return Money(amount=amount, currency=self.currency)


@dataclass(frozen=True)
class Item:
    """What a customer asks for: ``quantity`` units of ``sku`` (the price is not theirs to say)."""

    sku: str
    quantity: int


@dataclass(frozen=True)
class PlaceOrder:
    """The command behind ``POST /orders``."""

    order_id: UUID
    customer_id: str
    items: tuple[Item, ...]
    currency: str
    at: datetime
    trace_id: str | None = None


@dataclass(frozen=True)
class Deadline:
    """How long an order may stay open: ``after`` its placement it is cancelled if not terminal."""

    after: timedelta

    def __post_init__(self) -> None:
        if self.after <= timedelta(0):
            raise ValueError(f"the order deadline must be positive, not {self.after}")

    @property
    def sweep_interval(self) -> float:
        """Seconds between two sweeps: a tenth of the deadline, within [0.5 s, 30 s]."""
        return min(30.0, max(0.5, self.after.total_seconds() / 10))


@dataclass(frozen=True)
class KnownPrice:
    """A SKU's price as inventory last announced it; ``revision`` orders the announcements."""

    sku: str
    price: Money
    revision: int
    priced_at: datetime


class Unpriceable(ValueError):
    """The order cannot be priced: a SKU without a known price, another currency, too large."""


Decision = tuple[Order, list[Event]]


def is_newer(known: KnownPrice | None, revision: int) -> bool:
    """Whether an announcement of ``revision`` supersedes the ``known`` price (newest wins)."""
    return known is None or revision > known.revision


def price_lines(
    items: tuple[Item, ...], prices: Mapping[str, Money], currency: str
) -> tuple[OrderLine, ...]:
    """Each item at its catalogue unit price; ``Unpriceable`` if any cannot be priced.

    Every line must be priced in ``currency`` (the order's), and the total must fit an event.
    """
    unknown = sorted({item.sku for item in items if item.sku not in prices})
    if unknown:
        raise Unpriceable(f"unknown SKU or no price yet: {', '.join(unknown)}")
    foreign = sorted({item.sku for item in items if prices[item.sku].currency != currency})
    if foreign:
        raise Unpriceable(f"not priced in {currency}: {', '.join(foreign)}")
    lines = tuple(
        OrderLine(sku=item.sku, quantity=item.quantity, unit_price=prices[item.sku].amount)
        for item in items
    )
    total = sum(line.quantity * line.unit_price for line in lines)
    if total > MAX_MINOR_UNITS:
        raise Unpriceable(f"order total {total} exceeds {MAX_MINOR_UNITS} minor units")
    return lines


def place(command: PlaceOrder, prices: Mapping[str, Money], deadline: Deadline) -> Decision:
    """A new pending order, priced from ``prices`` and due by ``deadline``, and the
    ``order.placed`` that starts the saga.

    Raises ``Unpriceable`` when a line cannot be priced: no order exists then.
    """
    order = Order(
        id=command.order_id,
        customer_id=command.customer_id,
        lines=price_lines(command.items, prices, command.currency),
        currency=command.currency,
        status=Status.PENDING,
        history=(Step(command.at, Status.PENDING, "order placed"),),
        deadline_at=command.at + deadline.after,
        trace_id=command.trace_id,
    )
    placed = OrderPlaced(
        order_id=order.id,
        customer_id=order.customer_id,
        lines=order.lines,
        total=order.total,
        placed_at=command.at,
    )
    return order, [placed]


def note_reservation(order: Order, at: datetime) -> Decision:
    """Stock is held: the order waits for its payment."""
    if order.status is not Status.PENDING:
        return _unchanged(order)
    return _move(order, Status.RESERVED, at, "stock reserved"), []


def confirm(order: Order, payment_id: UUID, at: datetime) -> Decision:
    """Payment captured: the order is confirmed (once).

    A capture that arrives after the order was cancelled (its deadline passed first) never
    confirms it: the order stays cancelled, and payments refunds the money on ``order.cancelled``.
    """
    if order.status is Status.CANCELLED:
        return note(order, at, f"payment {payment_id} captured after cancellation; to be refunded")
    if order.status.is_terminal:
        return _unchanged(order)
    confirmed = _move(order, Status.CONFIRMED, at, f"payment {payment_id} captured")
    event = OrderConfirmed(
        order_id=order.id,
        customer_id=order.customer_id,
        total=order.total,
        payment_id=payment_id,
        confirmed_at=at,
    )
    return confirmed, [event]


def cancel(order: Order, reason: CancellationReason, detail: str, at: datetime) -> Decision:
    """Out of stock, payment declined or deadline passed: the order is cancelled (once)."""
    if order.status.is_terminal:
        return _unchanged(order)
    cancelled = _move(order, Status.CANCELLED, at, f"{reason}: {detail}"[:500])
    event = OrderCancelled(
        order_id=order.id,
        customer_id=order.customer_id,
        reason=reason,
        detail=detail[:500],
        cancelled_at=at,
    )
    return cancelled, [event]


def expire(order: Order, at: datetime) -> Decision:
    """At or past its deadline and still open: the order is cancelled, ``deadline_exceeded``."""
    if order.status.is_terminal or at < order.deadline_at:
        return _unchanged(order)
    waiting = "stock" if order.status is Status.PENDING else "payment"
    detail = f"no {waiting} reply by the deadline {order.deadline_at.isoformat()}"
    return cancel(order, "deadline_exceeded", detail, at)


def note(order: Order, at: datetime, text: str) -> Decision:
    """Record something that happened without changing the status."""
    return replace(order, history=(*order.history, Step(at, order.status, text))), []


def _move(order: Order, status: Status, at: datetime, text: str) -> Order:
    return replace(order, status=status, history=(*order.history, Step(at, status, text)))


def _unchanged(order: Order) -> Decision:
    return order, []
