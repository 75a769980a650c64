"""The rules of stock and the catalogue: hold an order's lines all or nothing, give them back
once, and price each SKU. Pure: no I/O.

State in, decision out: ``reserve`` and ``release`` take what happened and the current levels of
the SKUs involved, and return the levels to write, the reservation to record and the events to
publish; ``reprice`` and ``announce`` say what a price change (or a start-up) publishes. Stock
never goes below zero. Nothing here reads a database, a queue or the clock.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from uuid import UUID

from shop_contracts.money import Money
from shop_contracts.orders import OrderPlaced
from shop_contracts.products import ProductPriced
from shop_contracts.stock import Shortage, StockLine, StockRejected, StockReleased, StockReserved
from warren.contracts.event import Event

MAX_QUANTITY = 10_000
"""The upper bound of ``shop_contracts.money.Quantity``: the most units one event line may carry."""

MAX_LEVEL = 2**31 - 1
"""The most units a SKU's level may hold (it is stored as a 32-bit integer)."""

Levels = Mapping[str, int]
"""Units available per SKU; a SKU that is absent has none."""


class Status(StrEnum):
    """What inventory answered for an order: stock ``held``, later ``released``, or ``rejected``."""

    HELD = "held"
    RELEASED = "released"
    REJECTED = "rejected"


@dataclass(frozen=True)
class Reservation:
    """Inventory's answer to one order, with the order's lines (as placed, SKUs may repeat)."""

    order_id: UUID
    status: Status
    lines: tuple[StockLine, ...]

    @property
    def is_held(self) -> bool:
        """True while the units are taken from stock for this order."""
        return self.status is Status.HELD


@dataclass(frozen=True)
class StockLevel:
    """A SKU as the API shows it: units on the shelf, units held by reservations, its price."""

    sku: str
    available: int
    reserved: int
    price: Money | None = None


@dataclass(frozen=True)
class Price:
    """What one unit of ``sku`` sells for; ``revision`` counts its changes (1 = first price)."""

    sku: str
    price: Money
    revision: int
    priced_at: datetime


@dataclass(frozen=True)
class SetPrice:
    """The command behind a price in ``PUT /stock/{sku}`` (or in the seeded catalogue)."""

    sku: str
    price: Money
    at: datetime


@dataclass(frozen=True)
class SetLevel:
    """The command behind ``PUT /stock/{sku}``: a counted shelf replaces the level."""

    sku: str
    available: int


@dataclass(frozen=True)
class Decision:
    """What to write (only the levels that change), the reservation to record, what to publish."""

    reservation: Reservation
    levels: dict[str, int] = field(default_factory=dict)
    events: list[Event] = field(default_factory=list)


def units(lines: Iterable[StockLine]) -> dict[str, int]:
    """Units per SKU, quantities of a repeated SKU summed, in SKU order."""
    totals: defaultdict[str, int] = defaultdict(int)
    for line in lines:
        totals[line.sku] += line.quantity
    return {sku: totals[sku] for sku in sorted(totals)}


def reserve(order: OrderPlaced, levels: Levels, at: datetime) -> Decision:
    """Hold every line of ``order`` or none of them.

    Either each SKU has enough units (new levels, a held reservation, ``stock.reserved``), or
    nothing is held and ``stock.rejected`` names every SKU that falls short.
    """
    lines = tuple(StockLine(sku=line.sku, quantity=line.quantity) for line in order.lines)
    wanted = units(lines)
    shortages = tuple(
        _shortage(sku, n, levels.get(sku, 0)) for sku, n in wanted.items() if n > levels.get(sku, 0)
    )
    if shortages:
        rejected = StockRejected(order_id=order.order_id, shortages=shortages, rejected_at=at)
        return Decision(Reservation(order.order_id, Status.REJECTED, lines), events=[rejected])
    reserved = StockReserved(
        order_id=order.order_id,
        customer_id=order.customer_id,
        lines=lines,
        amount=order.total,
        reserved_at=at,
    )
    return Decision(
        Reservation(order.order_id, Status.HELD, lines),
        levels={sku: levels[sku] - n for sku, n in wanted.items()},
        events=[reserved],
    )


def release(reservation: Reservation, levels: Levels, at: datetime) -> Decision:
    """Put a held reservation's units back (once); a rejected or released one changes nothing."""
    if not reservation.is_held:
        return Decision(reservation)
    released = StockReleased(order_id=reservation.order_id, lines=reservation.lines, released_at=at)
    return Decision(
        replace(reservation, status=Status.RELEASED),
        levels={sku: levels.get(sku, 0) + n for sku, n in units(reservation.lines).items()},
        events=[released],
    )


def set_level(command: SetLevel) -> dict[str, int]:
    """The level to write for a counted shelf; stock is never negative."""
    if not 0 <= command.available <= MAX_LEVEL:
        raise ValueError(f"stock of {command.sku} must be 0..{MAX_LEVEL}, not {command.available}")
    return {command.sku: command.available}


def reprice(current: Price | None, command: SetPrice) -> tuple[Price | None, list[Event]]:
    """The price to write and its ``product.priced`` announcement; nothing if it is unchanged.

    Each change takes the next revision, so consumers can tell a newer price from a late one.
    """
    if current is not None and current.price == command.price:
        return current, []
    revision = 1 if current is None else current.revision + 1
    priced = Price(command.sku, command.price, revision, command.at)
    return priced, announce([priced])


def announce(prices: Iterable[Price]) -> list[Event]:
    """``product.priced`` for each of ``prices`` as it stands (its revision unchanged)."""
    return [
        ProductPriced(sku=p.sku, price=p.price, revision=p.revision, priced_at=p.priced_at)
        for p in prices
    ]


def _shortage(sku: str, requested: int, available: int) -> Shortage:
    # The contract bounds a quantity at MAX_QUANTITY, but an order repeating a SKU may ask for
    # more in total. Report such a line at the bound, still short, rather than fail to answer
    # (an unanswered order would never reach a terminal state). Below the bound this is exact.
    shown = min(requested, MAX_QUANTITY)
    return Shortage(sku=sku, requested=shown, available=min(available, shown - 1))
