"""Inventory's rules: reservations are all or nothing, shortages are exact, releases happen once."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from inventory import domain
from inventory.domain import Reservation, SetLevel, Status
from shop_contracts.money import Money
from shop_contracts.orders import OrderLine, OrderPlaced
from shop_contracts.products import ProductPriced
from shop_contracts.stock import Shortage, StockLine, StockRejected, StockReleased, StockReserved

AT = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def order(*lines: tuple[str, int]) -> OrderPlaced:
    """An order of ``(sku, quantity)`` lines at 100 minor units each."""
    return OrderPlaced(
        order_id=uuid.uuid4(),
        customer_id="c-1",
        lines=tuple(OrderLine(sku=sku, quantity=n, unit_price=100) for sku, n in lines),
        total=Money(amount=100 * sum(n for _, n in lines), currency="EUR"),
        placed_at=AT,
    )


def held(*lines: tuple[str, int]) -> Reservation:
    stock_lines = tuple(StockLine(sku=sku, quantity=n) for sku, n in lines)
    return Reservation(uuid.uuid4(), Status.HELD, stock_lines)


def test_an_order_with_enough_stock_is_held_in_full() -> None:
    placed = order(("TEA", 3), ("MUG", 1))

    decision = domain.reserve(placed, {"TEA": 10, "MUG": 1, "POT": 4}, AT)

    assert decision.levels == {"MUG": 0, "TEA": 7}  # only what changes; POT untouched
    assert decision.reservation == Reservation(
        placed.order_id,
        Status.HELD,
        (StockLine(sku="TEA", quantity=3), StockLine(sku="MUG", quantity=1)),
    )
    assert decision.events == [
        StockReserved(
            order_id=placed.order_id,
            customer_id="c-1",
            lines=decision.reservation.lines,
            amount=placed.total,
            reserved_at=AT,
        )
    ]


def test_one_short_line_rejects_the_whole_order_and_holds_nothing() -> None:
    placed = order(("TEA", 3), ("MUG", 2))

    decision = domain.reserve(placed, {"TEA": 10, "MUG": 1}, AT)

    assert decision.levels == {}
    assert decision.reservation.status is Status.REJECTED
    assert decision.reservation.order_id == placed.order_id
    assert decision.events == [
        StockRejected(
            order_id=placed.order_id,
            shortages=(Shortage(sku="MUG", requested=2, available=1),),
            rejected_at=AT,
        )
    ]


def test_every_short_sku_is_listed_in_sku_order() -> None:
    placed = order(("TEA", 5), ("MUG", 2), ("POT", 1))

    decision = domain.reserve(placed, {"TEA": 4, "MUG": 0, "POT": 1}, AT)

    [rejected] = decision.events
    assert isinstance(rejected, StockRejected)
    assert rejected.shortages == (
        Shortage(sku="MUG", requested=2, available=0),
        Shortage(sku="TEA", requested=5, available=4),
    )


def test_a_repeated_sku_is_summed_before_it_is_checked() -> None:
    placed = order(("TEA", 3), ("TEA", 4))

    assert domain.reserve(placed, {"TEA": 7}, AT).levels == {"TEA": 0}
    [rejected] = domain.reserve(placed, {"TEA": 6}, AT).events
    assert rejected == StockRejected(
        order_id=placed.order_id,
        shortages=(Shortage(sku="TEA", requested=7, available=6),),
        rejected_at=AT,
    )


def test_an_unknown_sku_counts_as_none_available() -> None:
    placed = order(("TEA", 1), ("GHOST", 1))

    decision = domain.reserve(placed, {"TEA": 10}, AT)

    assert decision.levels == {}
    assert decision.events[0] == StockRejected(
        order_id=placed.order_id,
        shortages=(Shortage(sku="GHOST", requested=1, available=0),),
        rejected_at=AT,
    )


def test_exactly_the_last_units_can_be_held() -> None:
    decision = domain.reserve(order(("POT", 5)), {"POT": 5}, AT)

    assert decision.reservation.is_held
    assert decision.levels == {"POT": 0}


def test_a_total_beyond_the_contract_bound_is_still_answered_as_a_shortage() -> None:
    # Two lines of 10,000 ask for 20,000 units; the contract cannot carry that number, yet the
    # order must get an answer or the saga would never end.
    placed = order(("TEA", domain.MAX_QUANTITY), ("TEA", domain.MAX_QUANTITY))

    [rejected] = domain.reserve(placed, {"TEA": 15_000}, AT).events

    assert isinstance(rejected, StockRejected)
    [shortage] = rejected.shortages
    assert shortage.requested == domain.MAX_QUANTITY
    assert shortage.available < shortage.requested


def test_max_quantity_is_the_contract_bound() -> None:
    StockLine(sku="TEA", quantity=domain.MAX_QUANTITY)
    with pytest.raises(ValidationError):
        StockLine(sku="TEA", quantity=domain.MAX_QUANTITY + 1)


def test_releasing_a_held_reservation_returns_its_units() -> None:
    reservation = held(("TEA", 3), ("MUG", 1), ("TEA", 2))

    decision = domain.release(reservation, {"TEA": 1, "MUG": 0}, AT)

    assert decision.levels == {"MUG": 1, "TEA": 6}
    assert decision.reservation.status is Status.RELEASED
    assert decision.events == [
        StockReleased(order_id=reservation.order_id, lines=reservation.lines, released_at=AT)
    ]


def test_releasing_returns_units_of_a_sku_no_longer_stocked() -> None:
    assert domain.release(held(("TEA", 3)), {}, AT).levels == {"TEA": 3}


@pytest.mark.parametrize("status", [Status.RELEASED, Status.REJECTED])
def test_only_a_held_reservation_is_released(status: Status) -> None:
    reservation = Reservation(uuid.uuid4(), status, (StockLine(sku="TEA", quantity=3),))

    decision = domain.release(reservation, {"TEA": 1}, AT)

    assert decision.reservation == reservation
    assert decision.levels == {}
    assert decision.events == []


def test_releasing_twice_gives_the_units_back_once() -> None:
    first = domain.release(held(("TEA", 3)), {"TEA": 0}, AT)

    second = domain.release(first.reservation, first.levels, AT)

    assert first.levels == {"TEA": 3}
    assert second.levels == {}
    assert second.events == []


def test_reserve_then_release_restores_the_levels() -> None:
    before = {"TEA": 10, "MUG": 2}
    reserved = domain.reserve(order(("TEA", 4), ("MUG", 2), ("TEA", 1)), before, AT)

    released = domain.release(reserved.reservation, {**before, **reserved.levels}, AT)

    assert {**before, **reserved.levels, **released.levels} == before


def test_units_sums_per_sku_in_sku_order() -> None:
    lines = [StockLine(sku=s, quantity=n) for s, n in [("B", 1), ("A", 2), ("B", 3)]]

    assert list(domain.units(lines).items()) == [("A", 2), ("B", 4)]


def test_a_level_is_set_as_counted() -> None:
    assert domain.set_level(SetLevel("TEA", 0)) == {"TEA": 0}
    assert domain.set_level(SetLevel("TEA", 42)) == {"TEA": 42}


@pytest.mark.parametrize("available", [-1, domain.MAX_LEVEL + 1])
def test_a_level_out_of_range_is_refused(available: int) -> None:
    with pytest.raises(ValueError, match="must be 0"):
        domain.set_level(SetLevel("TEA", available))


def test_a_first_price_is_revision_1_and_announced() -> None:
    price = Money(amount=1250, currency="EUR")

    priced, [event] = domain.reprice(None, domain.SetPrice("TEA", price, AT))

    assert priced == domain.Price("TEA", price, revision=1, priced_at=AT)
    assert isinstance(event, ProductPriced)
    assert (event.sku, event.price, event.revision, event.priced_at) == ("TEA", price, 1, AT)


def test_a_changed_price_takes_the_next_revision_an_unchanged_one_changes_nothing() -> None:
    current = domain.Price("TEA", Money(amount=1250, currency="EUR"), revision=4, priced_at=AT)
    later = datetime(2026, 3, 2, tzinfo=UTC)

    priced, [event] = domain.reprice(
        current, domain.SetPrice("TEA", Money(amount=990, currency="EUR"), later)
    )
    assert priced is not None
    assert (priced.revision, priced.price.amount, priced.priced_at) == (5, 990, later)
    assert isinstance(event, ProductPriced)
    assert event.revision == 5

    same = domain.reprice(current, domain.SetPrice("TEA", current.price, later))
    assert same == (current, [])


def test_announcing_repeats_each_current_price_at_its_revision() -> None:
    prices = [
        domain.Price("MUG", Money(amount=499, currency="EUR"), revision=2, priced_at=AT),
        domain.Price("TEA", Money(amount=0, currency="EUR"), revision=7, priced_at=AT),
    ]

    events = domain.announce(prices)

    assert [(e.sku, e.revision, e.price.amount) for e in events] == [  # type: ignore[attr-defined]
        ("MUG", 2, 499),
        ("TEA", 7, 0),
    ]
