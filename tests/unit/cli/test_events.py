"""``warren events`` and ``warren schema``: the catalogue as the code declares it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from shop_contracts.catalogue import REGISTRY
from warren.cli import app

RECORDED = Path(__file__).parents[3] / "contracts" / "schemas"
runner = CliRunner()

# From the suite's design (README): who consumes what, through which work queue.
CONSUMERS = {
    "order.placed.v1": {"inventory.reservations"},
    "order.confirmed.v1": {"notifications.outbound"},
    "order.cancelled.v1": {"inventory.reservations", "notifications.outbound", "payments.charges"},
    "stock.reserved.v1": {"payments.charges", "orders.saga"},
    "stock.rejected.v1": {"orders.saga"},
    "stock.released.v1": set(),  # none yet: kept in inventory.unrouted
    "payment.captured.v1": {"orders.saga"},
    "payment.declined.v1": {"orders.saga"},
    "payment.refunded.v1": {"orders.saga", "notifications.outbound"},
    "product.priced.v1": {"orders.prices"},
}
PRODUCERS = {"order": "orders", "stock": "inventory", "product": "inventory", "payment": "payments"}
QUEUES = {
    "inventory.reservations",
    "notifications.outbound",
    "payments.charges",
    "orders.saga",
    "orders.prices",
}


def test_events_lists_every_type_with_version_producer_and_consumers() -> None:
    result = runner.invoke(app, ["events"], env={"COLUMNS": "250"})

    assert result.exit_code == 0, result.output
    rows = {
        cells[0]: cells
        for line in result.stdout.splitlines()
        if len(cells := [c.strip() for c in line.strip("│ ").split("│")]) == 4
    }
    assert set(CONSUMERS) <= set(rows)
    assert {event.type for event in REGISTRY} == set(CONSUMERS)
    for event in REGISTRY:
        name, version, producer, consumers = rows[event.type]
        assert version == f"v{event.version()}"
        assert producer == PRODUCERS[event.type.split(".")[0]]
        listed = {c.strip() for c in consumers.split(",")} - {"none"}
        assert listed == CONSUMERS[name], name
        assert listed <= QUEUES
    assert f"{len(CONSUMERS)} event types" in result.stdout


@pytest.mark.parametrize("event_type", sorted(CONSUMERS))
def test_schema_prints_the_recorded_json_schema(event_type: str) -> None:
    result = runner.invoke(app, ["schema", event_type])

    assert result.exit_code == 0, result.output
    printed = json.loads(result.stdout)
    recorded = json.loads((RECORDED / f"{event_type}.json").read_text())
    assert printed == recorded
    assert printed["$id"] == printed["title"] == event_type


def test_schema_of_an_unknown_type_exits_2() -> None:
    result = runner.invoke(app, ["schema", "order.exploded.v1"])

    assert result.exit_code == 2
    assert "unknown event type 'order.exploded.v1'" in result.stderr
    assert result.stdout == ""
