"""``warren topology k8s``: definitions.json -> Messaging Topology Operator resources.

The converter is checked on a small definitions document, its output against the CRDs, and the
committed k8s/base/rabbitmq-topology.yaml against the topology code (it must not drift).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import jsonschema
import yaml
from typer.testing import CliRunner

from warren.cli import app
from warren.cli._kubernetes import render, topology_resources

ROOT = Path(__file__).resolve().parents[2]

SAMPLE: dict[str, Any] = {
    "vhosts": [{"name": "shop"}],
    "users": [{"name": "shop-billing", "password_hash": "", "tags": []}],
    "permissions": [
        {
            "user": "shop-billing",
            "vhost": "shop",
            "configure": "^billing\\..*",
            "write": "^billing\\..*",
            "read": "^(billing\\..*|orders\\.events)$",
        }
    ],
    "policies": [
        {
            "vhost": "shop",
            "name": "billing-limits",
            "pattern": "^billing\\.",
            "apply-to": "queues",
            "priority": 1,
            "definition": {"max-length": 10000},
        }
    ],
    "exchanges": [
        {
            "name": "billing.events",
            "vhost": "shop",
            "type": "topic",
            "durable": True,
            "auto_delete": False,
            "internal": False,
            "arguments": {},
        }
    ],
    "queues": [
        {
            "name": "billing.invoices",
            "vhost": "shop",
            "durable": True,
            "auto_delete": False,
            "arguments": {"x-queue-type": "quorum", "x-delivery-limit": 20},
        }
    ],
    "bindings": [
        {
            "source": "orders.events",
            "vhost": "shop",
            "destination": "billing.invoices",
            "destination_type": "queue",
            "routing_key": "order.placed.v1",
            "arguments": {},
        }
    ],
}

DNS_1123 = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def by_kind(resources: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    kinds: dict[str, list[dict[str, Any]]] = {}
    for resource in resources:
        kinds.setdefault(resource["kind"], []).append(resource)
    return kinds


def test_each_definition_becomes_its_resource() -> None:
    kinds = by_kind(topology_resources(SAMPLE, "shop-ns", "shop-rabbit"))
    assert {k: len(v) for k, v in kinds.items()} == {
        "Vhost": 1,
        "User": 1,
        "Permission": 1,
        "Policy": 1,
        "Exchange": 1,
        "Queue": 1,
        "Binding": 1,
    }
    (queue,) = kinds["Queue"]
    assert queue["spec"]["name"] == "billing.invoices"
    assert queue["spec"]["type"] == "quorum"  # x-queue-type moves to the CR's field
    assert queue["spec"]["arguments"] == {"x-delivery-limit": 20}
    (user,) = kinds["User"]
    assert user["spec"]["importCredentialsSecret"] == {"name": "shop-billing-amqp"}
    (grant,) = kinds["Permission"]
    assert grant["spec"]["userReference"] == {"name": user["metadata"]["name"]}
    assert grant["spec"]["permissions"]["read"] == "^(billing\\..*|orders\\.events)$"
    (binding,) = kinds["Binding"]
    assert (binding["spec"]["source"], binding["spec"]["routingKey"]) == (
        "orders.events",
        "order.placed.v1",
    )
    assert kinds["Policy"][0]["spec"]["applyTo"] == "queues"
    for resource in topology_resources(SAMPLE, "shop-ns", "shop-rabbit"):
        assert resource["metadata"]["namespace"] == "shop-ns"
        assert resource["spec"]["rabbitmqClusterReference"] == {"name": "shop-rabbit"}


def test_no_secret_leaves_the_definitions() -> None:
    with_hash = {**SAMPLE, "users": [{**SAMPLE["users"][0], "password_hash": "c2VjcmV0"}]}
    assert "c2VjcmV0" not in render(topology_resources(with_hash, "shop"))


def test_resources_match_their_crds(crd_schemas: dict[Any, Any]) -> None:
    for resource in topology_resources(SAMPLE, "shop"):
        schema = crd_schemas[(resource["apiVersion"], resource["kind"])]
        jsonschema.validate(resource, schema)


def test_names_are_valid_and_unique(code_definitions: dict[str, Any]) -> None:
    long_queue = {**SAMPLE["queues"][0], "name": "billing." + "very-long-purpose." * 8}
    sample = {**SAMPLE, "queues": [*SAMPLE["queues"], long_queue]}
    for definitions in (sample, code_definitions):
        resources = topology_resources(definitions, "shop")
        names = [(r["kind"], r["metadata"]["name"]) for r in resources]
        assert len(names) == len(set(names))
        assert all(DNS_1123.match(name) and len(name) <= 63 for _, name in names)


def test_committed_topology_is_generated_from_the_code(code_definitions: dict[str, Any]) -> None:
    committed = (ROOT / "k8s" / "base" / "rabbitmq-topology.yaml").read_text()
    expected = render(topology_resources(code_definitions, "warren"))
    assert committed == expected, (
        "run: warren topology k8s --output k8s/base/rabbitmq-topology.yaml"
    )


def test_command_writes_the_same_file(tmp_path: Any) -> None:
    output = tmp_path / "topology.yaml"
    result = CliRunner().invoke(app, ["topology", "k8s", "--output", str(output)])
    assert result.exit_code == 0, result.output
    committed = yaml.safe_load_all((ROOT / "k8s" / "base" / "rabbitmq-topology.yaml").read_text())
    assert list(yaml.safe_load_all(output.read_text())) == list(committed)
