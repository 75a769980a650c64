"""Grafana dashboards as code: the committed JSON is what the code generates, every panel says
what it answers, every query is valid PromQL, and the project's board follows its catalogue.

Whether every panel's query returns series against a running suite is the real-Prometheus test's
business (tests/e2e/test_prometheus.py).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from shop_contracts.catalogue import REGISTRY
from warren.cli._dashboards import panels

ROOT = Path(__file__).resolve().parents[2]
FOLDER = ROOT / "infra" / "grafana" / "dashboards"
WARREN = Path(sys.executable).with_name("warren")


def _boards() -> dict[str, dict[str, Any]]:
    return {path.stem: json.loads(path.read_text()) for path in sorted(FOLDER.glob("*.json"))}


def _generate(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [WARREN, "dashboards", *args], cwd=ROOT, capture_output=True, text=True, check=False
    )


def test_the_committed_dashboards_are_generated_from_the_code() -> None:
    result = _generate("--check")
    assert result.returncode == 0, f"run `warren dashboards`:\n{result.stdout}{result.stderr}"


def test_drift_is_caught(tmp_path: Path) -> None:
    for path in FOLDER.glob("*.json"):
        (tmp_path / path.name).write_text(path.read_text().replace("Retries", "Retried"))
    result = _generate("--check", "--output", str(tmp_path))
    assert result.returncode == 1
    assert "stale" in result.stdout


def test_every_panel_says_what_it_answers_and_queries_prometheus() -> None:
    boards = _boards()
    assert len(boards) >= 4
    for uid, board in boards.items():
        assert board["uid"] == uid
        for panel in panels(board):
            assert panel["description"].endswith("?"), (uid, panel["title"])
            assert panel["targets"], (uid, panel["title"])
            assert all(t["datasource"]["uid"] == "prometheus" for t in panel["targets"])


def test_the_project_board_has_a_panel_per_aggregate_of_the_catalogue() -> None:
    aggregates = {event.type.split(".")[0] for event in REGISTRY}
    board = _boards()["warren-project"]
    titles = {panel["title"] for panel in panels(board)}
    assert {f"{aggregate} events" for aggregate in aggregates} <= titles


def _queries() -> list[str]:
    return [
        target["expr"].replace("$__rate_interval", "5m")
        for board in _boards().values()
        for panel in panels(board)
        for target in panel["targets"]
    ]


def _check_rules(expressions: list[str], folder: Path, promtool: str) -> int:
    rules = {
        "groups": [
            {
                "name": "dashboard-queries",
                "rules": [
                    {"record": f"dashboard:query_{i}", "expr": e} for i, e in enumerate(expressions)
                ],
            }
        ]
    }
    path = folder / "queries.yml"
    path.write_text(yaml.safe_dump(rules))
    return subprocess.run(
        [promtool, "check", "rules", str(path)], capture_output=True, check=False
    ).returncode


@pytest.fixture
def promtool() -> str:
    import shutil

    found = shutil.which("promtool")
    if found is None:
        pytest.fail("promtool is missing: run infra/local/ensure-promtool (make test does)")
    return found


def test_every_query_is_valid_promql(tmp_path: Path, promtool: str) -> None:
    queries = _queries()
    assert len(queries) > 10
    assert _check_rules(queries, tmp_path, promtool) == 0


def test_invalid_promql_is_caught(tmp_path: Path, promtool: str) -> None:
    assert _check_rules(["sum by (queue (rate(x[5m]))"], tmp_path, promtool) != 0
