"""Pricing an order: each line at the catalogue's price, never the customer's; what cannot be
priced is refused; the newest announced price wins."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from orders import domain
from shop_contracts.money import MAX_MINOR_UNITS, Money
from shop_contracts.orders import OrderLine, OrderPlaced

DEADLINE = domain.Deadline(timedelta(minutes=15))

AT = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)
PRICES = {"TEA": Money(amount=1250, currency="EUR"), "MUG": Money(amount=499, currency="EUR")}


def command(*items: tuple[str, int], currency: str = "EUR") -> domain.PlaceOrder:
    return domain.PlaceOrder(
        order_id=uuid.uuid4(),
        customer_id="alice",
        items=tuple(domain.Item(sku, n) for sku, n in items),
        currency=currency,
        at=AT,
    )


def test_each_line_is_priced_from_the_catalogue_and_the_total_follows() -> None:
    order, [placed] = domain.place(command(("TEA", 2), ("MUG", 1)), PRICES, DEADLINE)

    assert order.lines == (
        OrderLine(sku="TEA", quantity=2, unit_price=1250),
        OrderLine(sku="MUG", quantity=1, unit_price=499),
    )
    assert order.total == Money(amount=2999, currency="EUR")
    assert isinstance(placed, OrderPlaced)
    assert (placed.lines, placed.total) == (order.lines, order.total)


def test_a_free_product_is_priced_at_zero_not_refused() -> None:
    order, _ = domain.place(
        command(("GIFT", 3)), {"GIFT": Money(amount=0, currency="EUR")}, DEADLINE
    )
    assert order.total.amount == 0  # payments declines it (invalid_amount); pricing is faithful


@pytest.mark.parametrize(
    ("items", "prices", "reason"),
    [
        pytest.param(
            [("TEA", 1), ("NEW", 1)], PRICES, "unknown SKU or no price yet: NEW", id="unknown"
        ),
        pytest.param(
            [("B", 1), ("A", 1), ("B", 2)], {}, "unknown SKU or no price yet: A, B", id="each-once"
        ),
        pytest.param(
            [("TEA", 1)],
            {"TEA": Money(amount=1250, currency="USD")},
            "not priced in EUR: TEA",
            id="currency",
        ),
        pytest.param(
            [("GOLD", 10_000)],
            {"GOLD": Money(amount=MAX_MINOR_UNITS, currency="EUR")},
            f"order total {10_000 * MAX_MINOR_UNITS} exceeds {MAX_MINOR_UNITS} minor units",
            id="too-large",
        ),
    ],
)
def test_what_cannot_be_priced_is_refused_with_its_reason(
    items: list[tuple[str, int]], prices: dict[str, Money], reason: str
) -> None:
    with pytest.raises(domain.Unpriceable) as refused:
        domain.place(command(*items), prices, DEADLINE)
    assert str(refused.value) == reason


def test_only_a_higher_revision_replaces_a_known_price() -> None:
    known = domain.KnownPrice("TEA", Money(amount=1250, currency="EUR"), revision=3, priced_at=AT)

    assert domain.is_newer(None, 1)
    assert domain.is_newer(known, 4)
    assert not domain.is_newer(known, 3)  # the same announcement again (a restart)
    assert not domain.is_newer(known, 2)  # a late one: it must not roll the price back
