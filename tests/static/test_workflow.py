"""The GitHub Actions workflow: valid for GitHub, and it runs what this README promises.

This machine cannot run the workflow (no Docker engine): these checks are static. actionlint's
PyPI package downloads its binary at install time, which this project's machines cannot do, so
the workflow is validated against the schema check-jsonschema ships for GitHub workflows.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import yaml

from tests.static.conftest import tool

ROOT = Path(__file__).resolve().parents[2]
WORKFLOW = ROOT / ".github" / "workflows" / "ci.yml"


def _check(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )


def _jobs() -> dict[str, Any]:
    jobs: dict[str, Any] = yaml.safe_load(WORKFLOW.read_text())["jobs"]
    return jobs


def test_the_workflow_is_valid() -> None:
    result = _check(WORKFLOW)
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_broken_workflow_is_rejected(tmp_path: Path) -> None:
    broken = tmp_path / "ci.yml"
    broken.write_text(WORKFLOW.read_text().replace("runs-on:", "runs_on:", 1))
    assert _check(broken).returncode != 0


def _runs(job: dict[str, Any]) -> str:
    return "\n".join(step.get("run", "") for step in job["steps"])


def test_ci_runs_make_test_the_rabbitmq_matrix_the_floors_and_compose() -> None:
    jobs = _jobs()
    assert "make test" in _runs(jobs["test"])
    assert set(jobs["integration"]["strategy"]["matrix"]["rabbitmq"]) >= {"3.13", "4.1"}
    assert "--resolution lowest-direct" in _runs(jobs["lowest"])
    compose = _runs(jobs["compose"])
    assert "docker compose build" in compose
    assert "up --detach --wait" in compose
