"""The Prometheus alert rules and scrape config (infra/prometheus): valid for promtool, unit-tested
by their own ``promtool test rules`` file, and complete — every alert is expected to fire in at
least one test and carries what an on-call engineer needs (severity, summary, description,
runbook).

promtool comes from Debian's ``prometheus`` package; ``infra/local/ensure-promtool`` (run by
``make test``) installs it. Without it these tests fail rather than skip: untested alerts are the
failure they exist to prevent.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
PROMETHEUS = ROOT / "infra" / "prometheus"
RULES = PROMETHEUS / "alerts.yml"
RULE_TESTS = PROMETHEUS / "alerts.test.yml"
CONFIG = PROMETHEUS / "prometheus.yml"
SEVERITIES = {"critical", "warning"}
RUNBOOKS = "docs/operations.md"


def promtool() -> str:
    """Path of promtool, or a failure that says how to install it."""
    found = shutil.which("promtool")
    if found is None:
        pytest.fail("promtool is not installed: run infra/local/ensure-promtool (make test does)")
    return found


def alerts() -> dict[str, dict[str, Any]]:
    """Every alerting rule of alerts.yml, by alert name."""
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return {rule["alert"]: rule for group in groups for rule in group["rules"] if "alert" in rule}


def expected_firing() -> set[str]:
    """The alerts that some case of alerts.test.yml expects to fire."""
    tests = yaml.safe_load(RULE_TESTS.read_text())["tests"]
    return {
        case["alertname"]
        for test in tests
        for case in test.get("alert_rule_test", [])
        if case.get("exp_alerts")
    }


@pytest.mark.parametrize(
    "command",
    [
        ("check", "rules", str(RULES)),
        # Relative paths in the config (rule_files) are resolved from the config's own folder.
        ("check", "config", str(CONFIG)),
        ("test", "rules", str(RULE_TESTS)),
    ],
    ids=["check-rules", "check-config", "test-rules"],
)
def test_promtool_accepts(runner: Any, command: tuple[str, ...]) -> None:
    result = runner(promtool(), *command)
    assert result.returncode == 0, f"promtool {' '.join(command)}:\n{result.stdout}{result.stderr}"


def test_the_rule_tests_load_the_shipped_rules() -> None:
    rule_files = yaml.safe_load(RULE_TESTS.read_text())["rule_files"]
    assert [PROMETHEUS / name for name in rule_files] == [RULES]


def test_every_alert_is_expected_to_fire_in_a_rule_test() -> None:
    names = set(alerts())
    assert names, f"no alerts in {RULES}"
    assert names - expected_firing() == set(), "alerts that no case of alerts.test.yml fires"
    assert expected_firing() - names == set(), "alerts.test.yml fires alerts that do not exist"


@pytest.mark.parametrize("name", sorted(alerts()))
def test_alert_says_how_bad_what_and_where_to_look(name: str) -> None:
    rule = alerts()[name]
    assert rule.get("labels", {}).get("severity") in SEVERITIES, "severity: critical or warning"
    annotations = rule.get("annotations", {})
    assert annotations.get("summary"), "a one-line summary"
    assert annotations.get("description"), "a description"
    # The runbook is the section of docs/operations.md headed by the alert's name.
    assert annotations.get("runbook") == f"{RUNBOOKS}#{name.lower()}"


def test_prometheus_scrapes_every_service_and_the_broker(suite: tuple[str, ...]) -> None:
    config = yaml.safe_load(CONFIG.read_text())
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert set(jobs) == {f"warren-{service}" for service in suite} | {"warren-rabbitmq"}
    for service in suite:
        targets = [t for c in jobs[f"warren-{service}"]["static_configs"] for t in c["targets"]]
        assert targets == [f"{service}:9464"]
    # The queue rules need RabbitMQ's per-queue series (labels vhost, queue).
    assert jobs["warren-rabbitmq"]["metrics_path"] == "/metrics/per-object"
