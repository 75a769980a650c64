"""The AsyncAPI documents: valid against the official AsyncAPI 3.0.0 JSON Schema, complete, and
generated from the code — every payload is its event's JSON Schema, every operation is there.

The schema is vendored in ``asyncapi_schema/`` (see its README); validation uses ``jsonschema``.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest
from typer.testing import CliRunner

from shop_contracts.catalogue import REGISTRY
from warren.cli import app
from warren.cli._project import load_project
from warren.runtime import Runtime, Service, create_app

SCHEMA = json.loads((Path(__file__).parent / "asyncapi_schema" / "3.0.0.json").read_text())
URL = "amqp://operator:s3cret@rabbit.example:5673/prod"


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft7Validator:
    return jsonschema.Draft7Validator(SCHEMA)


@pytest.fixture(scope="module")
def services() -> list[Service[Any]]:
    return load_project().build()


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    result = CliRunner().invoke(app, ["asyncapi", "--amqp-url", URL])
    assert result.exit_code == 0, result.output
    assert "s3cret" not in result.stdout
    parsed: dict[str, Any] = json.loads(result.stdout)
    return parsed


def _errors(validator: jsonschema.Draft7Validator, document: dict[str, Any]) -> list[str]:
    return [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
        for e in validator.iter_errors(document)
    ]


def test_the_suite_document_is_valid_asyncapi_3(validator, document) -> None:
    assert document["asyncapi"] == "3.0.0"
    assert _errors(validator, document) == []
    assert document["servers"]["rabbitmq"] == {
        "host": "rabbit.example:5673",
        "protocol": "amqp",
        "pathname": "/prod",
        "description": "RabbitMQ, vhost 'prod'",
    }


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("asyncapi",), "2.6.0"),
        (("channels", "order.placed.v1", "bindings", "amqp", "is"), "exchange"),
        (("operations", "orders.send.order.placed.v1", "action"), "publish"),
        (("components", "messages", "order.placed.v1", "payload", "type"), 5),
    ],
    ids=["version", "channel-binding", "operation-action", "payload-schema"],
)
def test_the_validator_catches_a_broken_document(validator, document, path, value) -> None:
    broken = copy.deepcopy(document)
    node = broken
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value

    assert _errors(validator, broken) != []


def test_every_message_payload_is_the_event_schema(document) -> None:
    messages = document["components"]["messages"]
    assert set(messages) == {event.type for event in REGISTRY}
    for event in REGISTRY:
        message = messages[event.type]
        assert message["name"] == event.type
        assert message["contentType"] == "application/cloudevents+json"
        payload = _inline(message["payload"], document["components"]["schemas"])
        expected = event.model_json_schema(mode="validation")
        expected = _inline(expected, expected.get("$defs", {}))
        expected.pop("$defs", None)
        assert payload.pop("title") == event.type
        assert payload.pop("x-producer") == event.producer
        expected.pop("title")
        assert payload == expected, event.type


def test_one_channel_per_event_type_on_its_producers_exchange(document) -> None:
    for event in REGISTRY:
        channel = document["channels"][event.type]
        assert channel["address"] == event.type
        binding = channel["bindings"]["amqp"]
        assert binding["is"] == "routingKey"
        assert binding["exchange"]["name"] == f"{event.producer}.events"
        assert binding["exchange"]["type"] == "topic"
        assert binding["exchange"]["vhost"] == "prod"
        assert channel["messages"][event.type] == {"$ref": f"#/components/messages/{event.type}"}


def test_every_service_operation_is_present(document, services) -> None:
    expected: dict[str, tuple[str, str]] = {}
    for service in services:
        for event in service.publishes:
            expected[f"{service.name}.send.{event.type}"] = ("send", event.type)
        for queue in Runtime(service).work_queues():
            for event in queue.handlers:
                expected[f"{queue.name}.receive.{event.type}"] = ("receive", queue.name)
    operations = document["operations"]
    assert set(operations) == set(expected)
    assert any(action == "send" for action, _ in expected.values())
    assert any(action == "receive" for action, _ in expected.values())
    for name, (action, channel) in expected.items():
        operation = operations[name]
        assert operation["action"] == action
        assert operation["channel"] == {"$ref": f"#/channels/{channel}"}
        target = document["channels"][channel]
        for message in operation["messages"]:
            assert _resolve(document, message["$ref"]) in target["messages"].values()
        if action == "receive":
            assert target["bindings"]["amqp"]["is"] == "queue"
            assert target["bindings"]["amqp"]["queue"]["name"] == channel


@pytest.mark.parametrize("name", ["orders", "inventory", "payments", "notifications"])
async def test_each_service_serves_its_own_document(name, services, validator) -> None:
    service = next(s for s in services if s.name == name)
    transport = httpx.ASGITransport(app=create_app(service))  # no lifespan: nothing connects
    async with httpx.AsyncClient(transport=transport, base_url="http://service") as http:
        response = await http.get("/asyncapi.json")

    assert response.status_code == 200
    own = response.json()
    assert _errors(validator, own) == []
    assert own["operations"]
    assert all(operation.startswith(f"{name}.") for operation in own["operations"])
    sent = {o["channel"]["$ref"] for o in own["operations"].values() if o["action"] == "send"}
    assert sent == {f"#/channels/{event.type}" for event in service.publishes}
    received = {op for op in own["operations"] if ".receive." in op}
    handled = {
        f"{queue.name}.receive.{event.type}"
        for queue in Runtime(service).work_queues()
        for event in queue.handlers
    }
    assert received == handled
    for operation in own["operations"].values():
        _resolve(own, operation["channel"]["$ref"])  # every channel it uses is in the document


def test_output_writes_the_file(tmp_path: Path, document) -> None:
    target = tmp_path / "asyncapi.json"

    result = CliRunner().invoke(app, ["asyncapi", "--amqp-url", URL, "--output", str(target)])

    assert result.exit_code == 0, result.output
    assert json.loads(target.read_text()) == document
    assert "channels" in result.stderr


def _resolve(document: dict[str, Any], ref: str) -> Any:
    node: Any = document
    for part in ref.removeprefix("#/").split("/"):
        node = node[part]
    return node


def _inline(schema: Any, definitions: dict[str, Any]) -> Any:
    """``schema`` with every local ``$ref`` replaced by the definition it names."""
    if isinstance(schema, dict):
        ref = schema.get("$ref")
        if isinstance(ref, str):
            return _inline(definitions[ref.rsplit("/", 1)[1]], definitions)
        return {k: _inline(v, definitions) for k, v in schema.items() if k != "$defs"}
    if isinstance(schema, list):
        return [_inline(item, definitions) for item in schema]
    return schema
