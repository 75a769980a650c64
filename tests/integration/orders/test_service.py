"""The orders service as it runs, with a one-second deadline: its sweeper is a background loop of
the real ``Runtime``, started with the service and stopped with it, and an order nobody answers is
cancelled (``deadline_exceeded``) through the outbox. A payment that arrives after that, and its
refund, only add to the order's history.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from urllib.parse import urlsplit

from orders.main import Settings, build
from shop_contracts.money import Money
from shop_contracts.payments import PaymentCaptured, PaymentRefunded
from shop_contracts.products import ProductPriced
from warren.runtime import Issuer
from warren.telemetry import metrics
from warren.testing import running_service

LINES = [{"sku": "TEA-GREEN", "quantity": 1}]


async def test_an_unanswered_order_is_cancelled_at_its_deadline_and_stays_cancelled(
    vhost_url: str,
    database_url: str,
    trusting: dict[str, str],
    issuer: Issuer,
    as_operator: dict[str, str],
) -> None:
    settings = Settings(
        **trusting,
        environment="test",
        amqp_url=vhost_url,
        database_url=database_url,
        database_name=urlsplit(database_url).path[1:],
        order_deadline=1.0,
    )
    async with running_service(build(settings), headers=as_operator) as orders:
        [loop] = [t for t in orders.runtime.loops if t.get_name().endswith("sweep_deadlines")]
        assert not loop.done()
        assert not any(task.done() for task in orders.runtime.loops)  # the key expiry runs too
        priced = ProductPriced(
            sku="TEA-GREEN",
            price=Money(amount=1250, currency="EUR"),
            revision=1,
            priced_at=datetime.now(UTC),
        )
        await orders.wait_handled(await orders.publish(priced))
        alice = {"Authorization": f"Bearer {issuer.token('alice', ('orders:write',))}"}
        response = await orders.http.post(
            "/orders", json={"currency": "EUR", "lines": LINES}, headers=alice
        )
        assert response.status_code == 202, response.text
        order_id = response.json()["order_id"]

        cancelled = await orders.wait_for("order.cancelled.v1", subject=order_id, timeout=10)
        assert cancelled.envelope.data["reason"] == "deadline_exceeded"

        # A capture that lands late, then its refund: the order stays cancelled, history grows.
        payment_id, now = uuid.uuid4(), datetime.now(UTC)
        amount = Money(amount=1250, currency="EUR")
        late = [
            PaymentCaptured(
                order_id=uuid.UUID(order_id),
                payment_id=payment_id,
                customer_id="alice",
                amount=amount,
                captured_at=now,
            ),
            PaymentRefunded(
                order_id=uuid.UUID(order_id),
                payment_id=payment_id,
                customer_id="alice",
                amount=amount,
                reason="order cancelled (deadline_exceeded) after its payment was captured",
                refunded_at=now,
            ),
        ]
        await orders.wait_handled(*[await orders.publish(event) for event in late], timeout=20)

        order = (await orders.http.get(f"/orders/{order_id}", headers=as_operator)).json()
        assert order["status"] == "cancelled"
        notes = [step["note"] for step in order["history"]]
        assert notes[1].startswith("deadline_exceeded: no stock reply by the deadline")
        assert f"payment {payment_id} captured after cancellation; to be refunded" in notes
        assert f"payment {payment_id} refunded (1250 EUR)" in notes
        assert "order.confirmed.v1" not in orders.tap.types_about(order_id)
        assert b"orders_past_deadline 0.0" in metrics.exposition()[0]

    assert loop.cancelled()  # stopping the service stopped its sweeper
