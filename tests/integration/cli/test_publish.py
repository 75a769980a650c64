"""``warren publish`` on a real broker: valid data goes out once, enveloped; invalid never does."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import aio_pika
import pytest
from aio_pika import DeliveryMode

from shop_contracts.catalogue import REGISTRY
from shop_contracts.examples import example
from warren.contracts.envelope import CONTENT_TYPE, decode

PLACED = REGISTRY.resolve("order.placed.v1")


@pytest.fixture
async def placed_queue(raw_channel: aio_pika.abc.AbstractChannel) -> aio_pika.abc.AbstractQueue:
    """A queue bound to ``orders.events`` for ``order.placed.v1``: what a consumer would get."""
    exchange = await raw_channel.declare_exchange("orders.events", "topic", durable=True)
    queue = await raw_channel.declare_queue(exclusive=True)
    await queue.bind(exchange, "order.placed.v1")
    return queue


def _order_data(tmp_path: Path) -> tuple[dict[str, object], Path]:
    data = example(PLACED, order_id=uuid.uuid4()).model_dump(mode="json")
    path = tmp_path / "order.json"
    path.write_text(json.dumps(data))
    return data, path


async def test_valid_data_is_published_once_in_its_envelope(
    cli, vhost_url: str, placed_queue, depth, tmp_path: Path
) -> None:
    data, path = _order_data(tmp_path)
    event_id = str(uuid.uuid4())

    result = await cli(
        "publish", "order.placed.v1", "--data", str(path), "--id", event_id,
        "--correlation-id", "ticket-42", "--amqp-url", vhost_url,
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    assert f"published order.placed.v1 {event_id} to orders.events" in result.stdout
    assert await depth(placed_queue.name) == 1  # confirmed, so already there: exactly one
    message = await placed_queue.get(no_ack=True)
    envelope = decode(message.body)
    assert envelope.specversion == "1.0"
    assert envelope.id == event_id
    assert envelope.type == "order.placed.v1"
    assert envelope.source == "/warren/orders"
    assert envelope.subject == data["order_id"]
    assert PLACED.model_validate(envelope.data) == PLACED.model_validate(data)
    assert message.exchange == "orders.events"
    assert message.routing_key == "order.placed.v1"
    assert message.message_id == event_id
    assert message.type == "order.placed.v1"
    assert message.app_id == "orders"
    assert message.correlation_id == "ticket-42"
    assert message.content_type == CONTENT_TYPE
    assert message.delivery_mode == DeliveryMode.PERSISTENT
    assert message.timestamp is not None


async def test_data_from_stdin_with_another_source_service(
    cli, vhost_url: str, placed_queue, depth
) -> None:
    data = example(PLACED, order_id=uuid.uuid4()).model_dump(mode="json")

    result = await cli(
        "publish", "order.placed.v1", "--data", "-", "--source-service", "replayer",
        "--amqp-url", vhost_url, stdin=json.dumps(data),
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    message = await placed_queue.get(no_ack=True)
    envelope = decode(message.body)
    assert envelope.source == "/warren/orders"  # the owner's, whoever sends it
    assert message.app_id == "replayer"
    assert message.exchange == "orders.events"  # the event's producer's exchange, always
    assert message.correlation_id == data["order_id"]  # default: the event's subject
    assert await depth(placed_queue.name) == 0


async def test_invalid_data_exits_2_with_the_errors_and_publishes_nothing(
    cli, vhost_url: str, placed_queue, depth, tmp_path: Path
) -> None:
    data, path = _order_data(tmp_path)
    data.pop("customer_id")
    data["lines"] = [{"sku": "TEA-GREEN", "quantity": 0, "unit_price": 1250}]
    path.write_text(json.dumps(data))

    result = await cli("publish", "order.placed.v1", "--data", str(path), "--amqp-url", vhost_url)

    assert result.exit_code == 2, result.output
    assert "invalid order.placed.v1 data" in result.stderr
    assert "customer_id: Field required" in result.stderr
    assert "lines.0.quantity: Input should be greater than" in result.stderr
    assert "nothing was published" in result.stderr
    assert await depth(placed_queue.name) == 0


async def test_unroutable_event_exits_1(cli, vhost_url: str, raw_channel, tmp_path: Path) -> None:
    await raw_channel.declare_exchange("orders.events", "topic", durable=True)  # no queue bound
    _, path = _order_data(tmp_path)

    result = await cli("publish", "order.placed.v1", "--data", str(path), "--amqp-url", vhost_url)

    assert result.exit_code == 1, result.output
    assert "unroutable" in result.stderr
    assert "order.placed.v1" in result.stderr


async def test_missing_exchange_exits_1_and_says_so(cli, vhost_url: str, tmp_path: Path) -> None:
    _, path = _order_data(tmp_path)

    result = await cli("publish", "order.placed.v1", "--data", str(path), "--amqp-url", vhost_url)

    assert result.exit_code == 1, result.output
    assert "exchange 'orders.events' does not exist" in result.stderr
