"""Argument and input errors of the operating commands: refused before any broker is contacted.

The AMQP URL points at a closed port: a command that got as far as connecting would exit 1 with
"cannot connect", so exit code 2 proves it stopped at the arguments or the data.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from shop_contracts.catalogue import REGISTRY
from shop_contracts.examples import example
from warren.cli import app

NOWHERE = "amqp://guest:guest@127.0.0.1:1/none"
runner = CliRunner()


def _invoke(*args: str, stdin: str | None = None):
    return runner.invoke(app, [*args, "--amqp-url", NOWHERE], input=stdin, env={"COLUMNS": "200"})


def _valid_order() -> str:
    placed = REGISTRY.resolve("order.placed.v1")
    return json.dumps(example(placed, order_id=uuid.uuid4()).model_dump(mode="json"))


def test_publish_needs_data() -> None:
    result = _invoke("publish", "order.placed.v1")

    assert result.exit_code == 2
    assert "--data" in result.output


def test_publish_of_an_unknown_type_exits_2_and_names_it() -> None:
    result = _invoke("publish", "order.vanished.v1", "--data", "-", stdin="{}")

    assert result.exit_code == 2
    assert "unknown event type 'order.vanished.v1'" in result.stderr


def test_publish_of_invalid_json_exits_2(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text('{"order_id": ')

    result = _invoke("publish", "order.placed.v1", "--data", str(path))

    assert result.exit_code == 2
    assert "invalid order.placed.v1 data" in result.stderr
    assert "Invalid JSON" in result.stderr


def test_publish_lists_every_validation_error() -> None:
    data = json.loads(_valid_order())
    data["total"]["currency"] = "euro"
    data["order_id"] = "not-a-uuid"

    result = _invoke("publish", "order.placed.v1", "--data", "-", stdin=json.dumps(data))

    assert result.exit_code == 2
    assert "(2 errors)" in result.stderr
    assert "order_id: Input should be a valid UUID" in result.stderr
    assert "total.currency: String should match pattern" in result.stderr
    assert "nothing was published" in result.stderr


def test_publish_of_an_unreadable_file_exits_2(tmp_path: Path) -> None:
    result = _invoke("publish", "order.placed.v1", "--data", str(tmp_path / "absent.json"))

    assert result.exit_code == 2
    assert "cannot read" in result.stderr


def test_publish_of_valid_data_to_an_unreachable_broker_exits_1() -> None:
    result = _invoke("publish", "order.placed.v1", "--data", "-", stdin=_valid_order())

    assert result.exit_code == 1
    assert "cannot connect" in result.stderr
    assert "guest:guest" not in result.stderr  # credentials stay out of error messages


@pytest.mark.parametrize(
    "args",
    [
        ("dlq", "replay", "orders.saga.dlq"),
        ("dlq", "replay", "orders.saga.dlq", "--all", "--id", "x"),
        ("dlq", "show", "orders.saga"),
        ("dlq", "show", ".dlq"),
        ("dlq", "show", "orders.saga.dlq", "--limit", "0"),
        ("dlq", "purge", "orders.saga"),
    ],
    ids=["replay-nothing", "replay-both", "show-not-a-dlq", "show-no-origin", "limit-0", "purge"],
)
def test_dlq_argument_errors_exit_2(args: tuple[str, ...]) -> None:
    result = _invoke(*args)

    assert result.exit_code == 2, result.output
    assert "cannot connect" not in result.output


def _commands(group: Any, prefix: tuple[str, ...] = ()) -> list[list[str]]:
    """Every leaf command of the CLI, found by walking its groups (never a list kept by hand)."""
    found = []
    for name, command in sorted(group.commands.items()):
        if hasattr(command, "commands"):  # a group (typer ships its own click)
            found += _commands(command, (*prefix, name))
        else:
            found.append([*prefix, name])
    return found


COMMANDS = _commands(typer.main.get_group(app))


def test_the_cli_has_commands_to_check() -> None:
    assert len(COMMANDS) > 5, COMMANDS


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_every_command_has_help_with_an_example(command: list[str]) -> None:
    result = runner.invoke(app, [*command, "--help"], env={"COLUMNS": "200"})

    assert result.exit_code == 0
    assert "Example: warren " in result.stdout
