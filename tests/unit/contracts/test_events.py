"""The suite's events: explicit versioned types, frozen instances, constrained fields."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, ClassVar
from uuid import UUID

import pytest
from pydantic import BaseModel, ValidationError

from shop_contracts.catalogue import REGISTRY
from shop_contracts.examples import example
from shop_contracts.money import Money
from shop_contracts.orders import OrderLine, OrderPlaced
from shop_contracts.stock import Shortage, StockLine, StockRejected, StockReleased, StockReserved
from warren.contracts.event import TYPE_PATTERN, Event

EVENTS = list(REGISTRY)
NAIVE = datetime(2026, 1, 2, 3, 4, 5)
PRODUCER_OF_AGGREGATE = {
    "order": "orders",
    "stock": "inventory",
    "product": "inventory",
    "payment": "payments",
}


def test_the_type_strings_are_exactly_those_of_the_design() -> None:
    assert {event.type for event in EVENTS} == {
        "order.placed.v1",
        "order.confirmed.v1",
        "order.cancelled.v1",
        "stock.reserved.v1",
        "stock.rejected.v1",
        "stock.released.v1",
        "payment.captured.v1",
        "payment.declined.v1",
        "payment.refunded.v1",
        "product.priced.v1",
    }


@pytest.mark.parametrize("event_class", EVENTS, ids=lambda event: event.type)
def test_each_type_is_explicit_versioned_and_published_by_its_aggregate(
    event_class: type[Event],
) -> None:
    assert "type" in vars(event_class), "set on the class itself, never inherited or derived"
    assert TYPE_PATTERN.match(event_class.type)
    assert event_class.version() == 1
    assert event_class.producer == PRODUCER_OF_AGGREGATE[event_class.type.split(".")[0]]


@pytest.mark.parametrize("event_class", EVENTS, ids=lambda event: event.type)
def test_events_are_frozen(event_class: type[Event]) -> None:
    event = example(event_class)

    with pytest.raises(ValidationError, match="frozen"):
        event.order_id = UUID(int=1)  # type: ignore[attr-defined]


@pytest.mark.parametrize("event_class", EVENTS, ids=lambda event: event.type)
def test_the_subject_is_the_order_id_or_for_a_product_its_sku(event_class: type[Event]) -> None:
    event = example(event_class)

    field = "sku" if event_class.type.startswith("product.") else "order_id"
    assert event_class.subject_field == field
    assert event.subject == str(event.model_dump()[field])


@pytest.mark.parametrize("event_class", EVENTS, ids=lambda event: event.type)
def test_naive_datetimes_are_rejected(event_class: type[Event]) -> None:
    data = example(event_class).model_dump()
    times = [name for name, value in data.items() if isinstance(value, datetime)]
    assert times, f"{event_class.type} says when it happened"

    for name in times:
        with pytest.raises(ValidationError, match="timezone"):
            event_class.model_validate({**data, name: NAIVE})


@pytest.mark.parametrize("event_class", EVENTS, ids=lambda event: event.type)
def test_unknown_fields_are_ignored_so_additive_fields_do_not_break_consumers(
    event_class: type[Event],
) -> None:
    event = example(event_class)

    assert event_class.model_validate({**event.model_dump(), "added_later": 1}) == event


@pytest.mark.parametrize(
    ("model", "fields"),
    [
        pytest.param(OrderLine, {"sku": "TEA", "quantity": -1, "unit_price": 1}, id="negative"),
        pytest.param(OrderLine, {"sku": "TEA", "quantity": 0, "unit_price": 1}, id="zero"),
        pytest.param(OrderLine, {"sku": "TEA", "quantity": 10_001, "unit_price": 1}, id="huge"),
        pytest.param(OrderLine, {"sku": "TEA", "quantity": 1, "unit_price": -1}, id="price"),
        pytest.param(OrderLine, {"sku": "", "quantity": 1, "unit_price": 1}, id="empty-sku"),
        pytest.param(OrderLine, {"sku": "-TEA", "quantity": 1, "unit_price": 1}, id="bad-sku"),
        pytest.param(StockLine, {"sku": "TEA", "quantity": -1}, id="stock-negative"),
        pytest.param(Shortage, {"sku": "TEA", "requested": 1, "available": -1}, id="available"),
        pytest.param(Money, {"amount": -1, "currency": "EUR"}, id="negative-money"),
        pytest.param(Money, {"amount": 10**12 + 1, "currency": "EUR"}, id="too-much"),
        pytest.param(Money, {"amount": 1, "currency": "eur"}, id="lower-case-currency"),
        pytest.param(Money, {"amount": 1, "currency": "EURO"}, id="long-currency"),
        pytest.param(Money, {"amount": 1, "currency": ""}, id="no-currency"),
        pytest.param(Money, {"amount": 1.5, "currency": "EUR"}, id="fractional-minor-units"),
    ],
)
def test_field_constraints_refuse_bad_values(
    model: type[BaseModel], fields: dict[str, Any]
) -> None:
    with pytest.raises(ValidationError):
        model.model_validate(fields)


@pytest.mark.parametrize(
    ("event_class", "field"),
    [
        (OrderPlaced, "lines"),
        (StockReserved, "lines"),
        (StockRejected, "shortages"),
        (StockReleased, "lines"),
    ],
)
def test_lists_of_lines_must_not_be_empty(event_class: type[Event], field: str) -> None:
    data = example(event_class).model_dump()

    with pytest.raises(ValidationError, match=f"{field}\n  Tuple should have at least 1 item"):
        event_class.model_validate({**data, field: ()})


@pytest.mark.parametrize(
    "malformed",
    ["OrderPlaced", "order.placed", "order.placed.v0", "Order.placed.v1", "order-placed.v1", ""],
)
def test_an_event_with_a_malformed_type_string_is_refused(malformed: str) -> None:
    with pytest.raises(ValueError, match=re.escape("must look like '<aggregate>.<happened>.v<N>'")):

        class Malformed(Event):
            type: ClassVar[str] = malformed
            producer: ClassVar[str] = "tests"
            subject_field: ClassVar[str] = "order_id"


def test_a_well_formed_type_string_is_accepted_with_its_version() -> None:
    class Shipped(Event):
        type: ClassVar[str] = "order.shipped.v2"
        producer: ClassVar[str] = "tests"
        subject_field: ClassVar[str] = "order_id"

    assert Shipped.version() == 2
