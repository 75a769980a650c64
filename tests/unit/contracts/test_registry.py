"""The registry: each type string resolves to its one class; unknown and duplicate types fail."""

from __future__ import annotations

from typing import ClassVar
from uuid import UUID

import pytest

from shop_contracts.catalogue import REGISTRY
from shop_contracts.orders import OrderCancelled, OrderPlaced
from warren.contracts.event import Event
from warren.contracts.registry import Registry, UnknownEventType


class Impostor(Event):
    """Claims a type string that another class already owns."""

    type: ClassVar[str] = "order.placed.v1"
    producer: ClassVar[str] = "impostor"
    subject_field: ClassVar[str] = "order_id"
    order_id: UUID


def test_a_type_string_resolves_to_its_class() -> None:
    registry = Registry([OrderPlaced, OrderCancelled])

    assert registry.resolve("order.placed.v1") is OrderPlaced
    assert registry.resolve("order.cancelled.v1") is OrderCancelled
    assert "order.placed.v1" in registry
    assert len(registry) == 2


def test_iteration_is_ordered_by_type_string() -> None:
    registry = Registry([OrderPlaced, OrderCancelled])

    expected: list[type[Event]] = [OrderCancelled, OrderPlaced]
    assert list(registry) == expected


def test_every_catalogued_event_resolves_to_itself() -> None:
    for event in REGISTRY:
        assert REGISTRY.resolve(event.type) is event


def test_an_unknown_type_is_refused_by_name() -> None:
    with pytest.raises(UnknownEventType, match=r"unknown event type 'order\.shipped\.v1'"):
        REGISTRY.resolve("order.shipped.v1")

    assert "order.shipped.v1" not in REGISTRY


def test_an_unknown_type_is_a_lookup_error() -> None:
    assert issubclass(UnknownEventType, LookupError)


def test_a_second_class_for_a_taken_type_is_refused() -> None:
    registry = Registry([OrderPlaced])

    with pytest.raises(ValueError, match=r"'order\.placed\.v1' is already OrderPlaced"):
        registry.register(Impostor)

    assert registry.resolve("order.placed.v1") is OrderPlaced


def test_a_registry_built_with_a_duplicate_type_is_refused() -> None:
    with pytest.raises(ValueError, match="already"):
        Registry([OrderPlaced, Impostor])


def test_registering_the_same_class_again_is_harmless() -> None:
    registry = Registry([OrderPlaced])

    assert registry.register(OrderPlaced) is OrderPlaced
    assert len(registry) == 1
