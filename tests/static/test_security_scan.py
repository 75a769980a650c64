"""checkov on the Dockerfile and on every rendered overlay: no failed check. The skipped ones are
listed, each with its reason, in .checkov.yaml (and one, for the dev overlay only, in its patch).
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]


def scan(folder: Path, checkov: str, runner: Any) -> dict[str, Any]:
    """checkov's JSON report on ``folder`` (Dockerfile and Kubernetes YAML), with our config."""
    result = runner(
        checkov,
        "--config-file",
        str(ROOT / ".checkov.yaml"),
        "--directory",
        str(folder),
        "--framework",
        "dockerfile",
        "kubernetes",
        "--output",
        "json",
    )
    reports = json.loads(result.stdout)
    reports = reports if isinstance(reports, list) else [reports]
    failed = [f for r in reports for f in r["results"]["failed_checks"]]
    return {"code": result.returncode, "failed": failed, "reports": reports}


def write_inputs(folder: Path, dockerfile: str, rendered: dict[str, list[dict[str, Any]]]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "Dockerfile").write_text(dockerfile)
    for overlay, objects in rendered.items():
        (folder / f"{overlay}.yaml").write_text(yaml.safe_dump_all(objects, sort_keys=False))


@pytest.fixture(scope="module")
def report(
    rendered: dict[str, list[dict[str, Any]]], checkov: str, runner: Any, tmp_path_factory: Any
) -> dict[str, Any]:
    folder = tmp_path_factory.mktemp("scan")
    write_inputs(folder, (ROOT / "Dockerfile").read_text(), rendered)
    return scan(folder, checkov, runner)


def test_dockerfile_and_manifests_pass(report: dict[str, Any]) -> None:
    failures = [f"{f['check_id']} {f['resource']} ({f['file_path']})" for f in report["failed"]]
    assert failures == []
    assert report["code"] == 0
    checked = {r["check_type"]: r["summary"]["passed"] for r in report["reports"]}
    assert checked["dockerfile"] > 0
    assert checked["kubernetes"] > 0


def test_every_skip_has_its_reason() -> None:
    config = (ROOT / ".checkov.yaml").read_text()
    skipped = re.findall(r"(?m)^  - (CKV\S+)$", config)
    assert skipped
    for check in skipped:
        comment = config.split(f"  - {check}\n")[0].rsplit("\n  - ", 1)[-1]
        assert "#" in comment, f"{check} is skipped without a reason"


def test_a_privileged_container_and_a_root_image_fail(
    rendered: dict[str, list[dict[str, Any]]], checkov: str, runner: Any, tmp_path: Path
) -> None:
    broken = copy.deepcopy(rendered)
    for obj in broken["prod"]:
        if obj["kind"] == "Deployment" and obj["metadata"]["name"] == "orders":
            context = obj["spec"]["template"]["spec"]["containers"][0]["securityContext"]
            context.update(privileged=True, allowPrivilegeEscalation=True)
    dockerfile = re.sub(r"(?m)^(USER|HEALTHCHECK) .*$", "", (ROOT / "Dockerfile").read_text())
    dockerfile = re.sub(r"(?m)^    CMD \[\"python\", \"-c\".*$", "", dockerfile)
    write_inputs(tmp_path, dockerfile, {"prod": broken["prod"]})
    result = scan(tmp_path, checkov, runner)
    failed = {f["check_id"] for f in result["failed"]}
    assert result["code"] != 0
    assert {"CKV_K8S_16", "CKV_K8S_20"} <= failed  # privileged, privilege escalation
    assert {"CKV_DOCKER_2", "CKV_DOCKER_3"} <= failed  # no HEALTHCHECK, no USER
