"""The saga deadline end to end: no order waits forever, and no money is kept for a cancelled one.

Each test runs a suite of its own, configured to misbehave: payments that fail every call (the
order is cancelled at its deadline, its stock released, the customer told once), and a provider
so slow that the capture lands after the deadline cancelled the order (the money is refunded).
"""

from __future__ import annotations

import time
from collections import Counter
from datetime import datetime

from warren.testing import wait_until

DEADLINE = 3.0
SWEEP = 0.5  # a tenth of the deadline, at least 0.5 s
SLACK = 3.0  # the sweep interval plus the outbox relay, on a busy machine


async def test_an_order_whose_payment_always_fails_is_cancelled_at_its_deadline(
    start_shop,
) -> None:
    async with (
        start_shop(
            PAYMENT_FAILURE_RATE="1.0",
            ORDER_DEADLINE=str(DEADLINE),
            # The charge is retried past the deadline: its last attempt finds the order cancelled.
            RETRY_DELAYS="[0.2, 0.5, 1, 2, 5]",
        ) as shop,
        shop.tap() as tap,
    ):
        before = (await shop.stock("TEA-GREEN"))["available"]
        started = time.monotonic()
        order_id = await shop.place_order("alice", [{"sku": "TEA-GREEN", "quantity": 2}])

        order = await shop.outcome(order_id, timeout=DEADLINE + 10)
        waited = time.monotonic() - started

        assert order["status"] == "cancelled"
        assert DEADLINE <= waited <= DEADLINE + SLACK + 2
        cancelled = await tap.wait_for("order.cancelled.v1", subject=order_id)
        assert cancelled.envelope.data["reason"] == "deadline_exceeded"
        assert "no payment reply by the deadline" in cancelled.envelope.data["detail"]
        placed_at = datetime.fromisoformat(order["history"][0]["at"])
        cancelled_at = datetime.fromisoformat(cancelled.envelope.data["cancelled_at"])
        assert DEADLINE <= (cancelled_at - placed_at).total_seconds() <= DEADLINE + SLACK

        await tap.wait_for("stock.released.v1", subject=order_id)
        assert (await shop.stock("TEA-GREEN"))["available"] == before
        # The charge still being retried is declined once it sees the cancellation: no capture.
        declined = await tap.wait_for("payment.declined.v1", subject=order_id, timeout=15)
        assert declined.envelope.data["reason"] == "order_cancelled"
        payment = await shop.payment(order_id)
        assert payment is not None
        assert (payment["status"], payment["reason"]) == ("declined", "order_cancelled")
        notified = await wait_until(lambda: shop.notifications(order_id), what="notification")
        assert [n["kind"] for n in notified] == ["order_cancelled"]
        assert "could not be completed in time" in notified[0]["body"]
        assert Counter(tap.types_about(order_id)) == Counter(
            {
                "order.placed.v1": 1,
                "stock.reserved.v1": 1,
                "order.cancelled.v1": 1,
                "stock.released.v1": 1,
                "payment.declined.v1": 1,
            }
        )
        assert (await shop.order(order_id))["status"] == "cancelled"


async def test_a_capture_after_the_deadline_is_refunded_never_kept(start_shop) -> None:
    latency = 6.0  # the provider answers well after the 2 s deadline cancelled the order
    async with (
        start_shop(PAYMENT_LATENCY=str(latency), ORDER_DEADLINE="2", DRAIN_TIMEOUT="15") as shop,
        shop.tap() as tap,
    ):
        before = (await shop.stock("TEA-GREEN"))["available"]
        order_id = await shop.place_order("alice", [{"sku": "TEA-GREEN", "quantity": 1}])

        cancelled = await tap.wait_for("order.cancelled.v1", subject=order_id, timeout=10)
        assert cancelled.envelope.data["reason"] == "deadline_exceeded"
        captured = await tap.wait_for("payment.captured.v1", subject=order_id, timeout=15)
        refunded = await tap.wait_for("payment.refunded.v1", subject=order_id, timeout=20)

        assert refunded.envelope.data["payment_id"] == captured.envelope.data["payment_id"]
        assert refunded.envelope.data["amount"] == captured.envelope.data["amount"]
        payment = await shop.payment(order_id)
        assert payment is not None
        assert (payment["status"], payment["amount"]) == ("refunded", 1250)
        assert payment["refunded_at"] is not None

        async def refund_noted() -> dict | None:
            order = await shop.order(order_id)
            notes = [h["note"] for h in order["history"]]
            return order if any("refunded" in note for note in notes) else None

        order = await wait_until(refund_noted, timeout=10, what="refund in the order's history")
        assert order["status"] == "cancelled"  # the late capture never confirmed it
        notes = [h["note"] for h in order["history"]]
        assert any("captured after cancellation" in note for note in notes)
        assert "order.confirmed.v1" not in tap.types_about(order_id)
        await tap.wait_for("stock.released.v1", subject=order_id)
        assert (await shop.stock("TEA-GREEN"))["available"] == before

        async def both_told() -> list[dict] | None:
            found = await shop.notifications(order_id)
            return found if len(found) >= 2 else None

        notified = await wait_until(both_told, timeout=10, what="two notifications")
        assert sorted(n["kind"] for n in notified) == ["order_cancelled", "payment_refunded"]
