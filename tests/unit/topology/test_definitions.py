"""definitions.json is generated from the topology code: the committed file must not drift, and the
permissions must say exactly what least privilege means."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from pathlib import Path

import pytest

from warren.cli._topology import service_topologies
from warren.messaging.definitions import ServiceTopology, definitions, password_hash, permission

COMMITTED = Path(__file__).parents[3] / "infra" / "rabbitmq" / "definitions.json"


@pytest.fixture(autouse=True)
def _default_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("RETRY_DELAYS", "DELIVERY_LIMIT", "PREFETCH", "WARREN_SERVICES"):
        monkeypatch.delenv(name, raising=False)


def test_committed_definitions_match_the_code() -> None:
    generated = definitions("warren", service_topologies())
    assert json.loads(COMMITTED.read_text()) == generated, (
        "infra/rabbitmq/definitions.json drifted from the code: run "
        "`warren topology export --output infra/rabbitmq/definitions.json`"
    )


def test_committed_definitions_hold_no_secret() -> None:
    users = json.loads(COMMITTED.read_text())["users"]
    assert users
    assert all(user["password_hash"] == "" for user in users)
    assert all(user["tags"] == [] for user in users)  # no administrator among services


@pytest.fixture
def suite() -> dict[str, ServiceTopology]:
    return {t.service: t for t in service_topologies()}


def test_a_service_writes_and_configures_only_its_own_names(suite) -> None:
    grant = permission(suite["payments"])
    for name in ("payments.events", "payments.retry", "payments.dlx", "payments.charges"):
        assert re.match(grant.write, name)
        assert re.match(grant.configure, name)
    for name in ("orders.events", "inventory.events", "inventory.reservations", "paymentsx.events"):
        assert not re.match(grant.write, name)
        assert not re.match(grant.configure, name)


def test_a_service_reads_its_queues_and_the_exchanges_it_binds_to(suite) -> None:
    grant = permission(suite["payments"])
    assert re.match(grant.read, "payments.charges")
    assert re.match(grant.read, "inventory.events")  # it binds to stock.reserved
    assert re.match(grant.read, "orders.events")  # and to order.cancelled
    for name in ("inventory.reservations", "orders.saga", "notifications.events", "orders.eventsX"):
        assert not re.match(grant.read, name)


def test_password_hash_is_rabbitmqs_salted_sha256() -> None:
    encoded = password_hash("s3cret", salt=b"\x01\x02\x03\x04")
    raw = base64.b64decode(encoded)
    assert raw[:4] == b"\x01\x02\x03\x04"
    assert raw[4:] == hashlib.sha256(b"\x01\x02\x03\x04s3cret").digest()
    assert password_hash("s3cret") != password_hash("s3cret")  # a fresh salt each time
