"""The order rules around the saga deadline: when an order expires, what a late capture does."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from orders import domain
from shop_contracts.money import Money
from shop_contracts.orders import OrderCancelled, OrderConfirmed

AT = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
DEADLINE = domain.Deadline(timedelta(seconds=30))
DUE = AT + DEADLINE.after
PRICES = {"TEA-GREEN": Money(amount=1250, currency="EUR")}


def placed() -> domain.Order:
    order, _ = domain.place(
        domain.PlaceOrder(
            order_id=uuid.uuid4(),
            customer_id="alice",
            items=(domain.Item(sku="TEA-GREEN", quantity=2),),
            currency="EUR",
            at=AT,
        ),
        PRICES,
        DEADLINE,
    )
    return order


def reserved() -> domain.Order:
    order, _ = domain.note_reservation(placed(), AT + timedelta(seconds=1))
    return order


def test_an_order_is_due_its_deadline_after_placement() -> None:
    assert placed().deadline_at == DUE


@pytest.mark.parametrize("after", [timedelta(0), timedelta(seconds=-1)])
def test_a_deadline_must_be_positive(after: timedelta) -> None:
    with pytest.raises(ValueError, match="positive"):
        domain.Deadline(after)


@pytest.mark.parametrize(
    ("after", "interval"),
    [
        (timedelta(seconds=1), 0.5),  # a tenth would be 0.1 s: at least 0.5 s
        (timedelta(seconds=3), 0.5),
        (timedelta(seconds=60), 6.0),
        (timedelta(minutes=15), 30.0),  # a tenth would be 90 s: at most 30 s
    ],
)
def test_sweeps_come_every_tenth_of_the_deadline_within_bounds(
    after: timedelta, interval: float
) -> None:
    assert domain.Deadline(after).sweep_interval == interval


@pytest.mark.parametrize("make", [placed, reserved], ids=["pending", "reserved"])
def test_an_open_order_before_its_deadline_is_left_alone(make) -> None:
    order = make()
    assert domain.expire(order, DUE - timedelta(microseconds=1)) == (order, [])


@pytest.mark.parametrize(
    ("make", "waiting"), [(placed, "stock"), (reserved, "payment")], ids=["pending", "reserved"]
)
def test_an_open_order_at_its_deadline_is_cancelled_deadline_exceeded(make, waiting: str) -> None:
    order = make()
    after, events = domain.expire(order, DUE)

    assert after.status is domain.Status.CANCELLED
    [cancelled] = events
    assert isinstance(cancelled, OrderCancelled)
    assert (cancelled.order_id, cancelled.reason) == (order.id, "deadline_exceeded")
    assert cancelled.customer_id == "alice"
    assert cancelled.cancelled_at == DUE
    assert f"no {waiting} reply by the deadline" in cancelled.detail
    assert after.history[-1].note.startswith("deadline_exceeded: ")


def test_a_terminal_order_never_expires() -> None:
    confirmed, _ = domain.confirm(reserved(), uuid.uuid4(), AT + timedelta(seconds=2))
    cancelled, _ = domain.cancel(placed(), "out_of_stock", "none left", AT + timedelta(seconds=2))
    for order in (confirmed, cancelled):
        assert domain.expire(order, DUE + timedelta(hours=1)) == (order, [])


def test_an_expired_order_is_cancelled_once() -> None:
    once, _ = domain.expire(reserved(), DUE)
    assert domain.expire(once, DUE + timedelta(seconds=5)) == (once, [])


def test_a_capture_in_time_confirms() -> None:
    payment_id = uuid.uuid4()
    after, events = domain.confirm(reserved(), payment_id, DUE - timedelta(seconds=1))
    assert after.status is domain.Status.CONFIRMED
    assert [type(e) for e in events] == [OrderConfirmed]


def test_a_capture_after_the_deadline_cancelled_the_order_never_confirms_it() -> None:
    expired, _ = domain.expire(reserved(), DUE)
    payment_id = uuid.uuid4()

    after, events = domain.confirm(expired, payment_id, DUE + timedelta(seconds=1))

    assert events == []  # no order.confirmed: payments refunds on order.cancelled
    assert after.status is domain.Status.CANCELLED
    assert after.history[:-1] == expired.history
    assert after.history[-1].status is domain.Status.CANCELLED
    assert f"payment {payment_id} captured after cancellation" in after.history[-1].note


def test_a_repeated_capture_of_a_confirmed_order_changes_nothing() -> None:
    payment_id = uuid.uuid4()
    confirmed, _ = domain.confirm(reserved(), payment_id, AT + timedelta(seconds=2))
    assert domain.confirm(confirmed, payment_id, AT + timedelta(seconds=3)) == (confirmed, [])
