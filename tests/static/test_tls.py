"""TLS in the deployment files: the RabbitmqCluster serves TLS only, every service reaches the
broker over amqps:// and PostgreSQL with sslmode=verify-full against a CA mounted read-only from
a Secret, and the optional compose TLS file does the same — checked on the rendered manifests, and
the services' own settings (production) accept what the manifests give them."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import yaml

from warren.runtime import ServiceSettings

ROOT = Path(__file__).resolve().parents[2]
SETTINGS = set(ServiceSettings.model_fields)


def _deployments(objects: list[dict[str, Any]], suite: tuple[str, ...]) -> dict[str, Any]:
    found = {o["metadata"]["name"]: o for o in objects if o["kind"] == "Deployment"}
    return {name: found[name] for name in suite}


def _environment(objects: list[dict[str, Any]], deployment: dict[str, Any]) -> dict[str, str]:
    """The container's environment with ConfigMaps and $(VAR) expanded; Secrets as stand-ins."""
    config = {o["metadata"]["name"]: o.get("data", {}) for o in objects if o["kind"] == "ConfigMap"}
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        env.update(config[source["configMapRef"]["name"]])
    stand_ins = {"url": "postgresql://svc:pw@db.example:5432", "username": "u", "password": "p"}
    for variable in container.get("env", []):
        if "value" in variable:
            value = re.sub(
                r"\$\((\w+)\)", lambda m: env.get(m.group(1), m.group(0)), variable["value"]
            )
        else:
            value = stand_ins[variable["valueFrom"]["secretKeyRef"]["key"]]
        env[variable["name"]] = value
    return env


def tls_problems(objects: list[dict[str, Any]], suite: tuple[str, ...]) -> list[str]:
    """What in the rendered manifests ``objects`` falls short of TLS everywhere."""
    problems: list[str] = []
    (cluster,) = [o for o in objects if o["kind"] == "RabbitmqCluster"]
    tls = cluster["spec"].get("tls", {})
    if not (
        tls.get("secretName") and tls.get("caSecretName") and tls.get("disableNonTLSListeners")
    ):
        problems.append(f"RabbitmqCluster tls is {tls}: want secretName, caSecretName, TLS only")
    for name, deployment in _deployments(objects, suite).items():
        env = _environment(objects, deployment)
        amqp, database = urlsplit(env["AMQP_URL"]), urlsplit(env["DATABASE_URL"])
        ca = parse_qs(amqp.query).get("cafile", [""])[0]
        if amqp.scheme != "amqps" or amqp.port != 5671 or not ca:
            problems.append(f"{name}: AMQP_URL is not amqps://...:5671 with a cafile")
        db_query = parse_qs(database.query)
        if db_query.get("sslmode") != ["verify-full"] or db_query.get("sslrootcert") != [ca]:
            problems.append(f"{name}: DATABASE_URL is not sslmode=verify-full with the CA")
        if not _mounted_read_only_from_secret(deployment, ca):
            problems.append(f"{name}: the CA {ca!r} is not mounted read-only from a Secret")
        settings = {
            k.lower(): v for k, v in env.items() if k.lower() in ServiceSettings.model_fields
        }
        try:
            ServiceSettings.model_validate({**settings, "service": name})
        except ValueError as refused:
            problems.append(f"{name}: the service refuses its settings: {refused}")
    return problems


def _mounted_read_only_from_secret(deployment: dict[str, Any], path: str) -> bool:
    pod = deployment["spec"]["template"]["spec"]
    secrets = {v["name"] for v in pod.get("volumes", []) if "secret" in v}
    (container,) = pod["containers"]
    return any(
        m["name"] in secrets and m.get("readOnly") and path.startswith(m["mountPath"] + "/")
        for m in container.get("volumeMounts", [])
    )


@pytest.mark.parametrize("overlay", ["dev", "prod"])
def test_every_connection_of_every_service_uses_verified_tls(
    rendered: dict[str, list[dict[str, Any]]], suite: tuple[str, ...], overlay: str
) -> None:
    assert tls_problems(rendered[overlay], suite) == []


def test_the_autoscaler_reads_queue_depth_over_tls(
    rendered: dict[str, list[dict[str, Any]]],
) -> None:
    objects = rendered["prod"]
    maps = {o["metadata"]["name"]: o for o in objects if o["kind"] == "ConfigMap"}
    assert maps["warren-broker"]["data"]["url"].startswith("amqps://")
    assert maps["warren-broker"]["data"]["tls"] == "enable"
    for auth in (o for o in objects if o["kind"] == "TriggerAuthentication"):
        parameters = {ref["parameter"] for ref in auth["spec"]["secretTargetRef"]}
        parameters |= {ref["parameter"] for ref in auth["spec"]["configMapTargetRef"]}
        assert {"tls", "ca"} <= parameters, auth["metadata"]["name"]


def _plain_amqp(o: list[dict[str, Any]]) -> None:
    deployment = next(x for x in o if x["kind"] == "Deployment")
    for variable in deployment["spec"]["template"]["spec"]["containers"][0]["env"]:
        if variable["name"] == "AMQP_URL":
            variable["value"] = variable["value"].replace("amqps://", "amqp://")


def _writable_ca(o: list[dict[str, Any]]) -> None:
    deployment = next(x for x in o if x["kind"] == "Deployment")
    for mount in deployment["spec"]["template"]["spec"]["containers"][0]["volumeMounts"]:
        mount.pop("readOnly", None)


def _sslmode_require(o: list[dict[str, Any]]) -> None:
    deployment = next(x for x in o if x["kind"] == "Deployment")
    for variable in deployment["spec"]["template"]["spec"]["containers"][0]["env"]:
        if variable["name"] == "DATABASE_URL":
            variable["value"] = variable["value"].replace("verify-full", "require")


def _no_cluster_tls(o: list[dict[str, Any]]) -> None:
    next(x for x in o if x["kind"] == "RabbitmqCluster")["spec"].pop("tls")


BREAKAGES = {
    "plain amqp": _plain_amqp,
    "a writable CA mount": _writable_ca,
    "sslmode=require": _sslmode_require,
    "a cluster without tls": _no_cluster_tls,
}


@pytest.mark.parametrize("breakage", BREAKAGES.values(), ids=BREAKAGES.keys())
def test_a_gap_is_caught(
    rendered: dict[str, list[dict[str, Any]]], suite: tuple[str, ...], breakage: Any
) -> None:
    objects = copy.deepcopy(rendered["prod"])
    breakage(objects)
    assert tls_problems(objects, suite) != []


def test_the_compose_tls_file_verifies_both_servers(
    suite: tuple[str, ...], compose: str, runner: Any
) -> None:
    result = runner(
        compose, "--env-file", ".env.example", "-f", "docker-compose.yml",
        "-f", "docker-compose.tls.yml", "config", "--format", "json",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    services = yaml.safe_load(result.stdout)["services"]
    for name in suite:
        env = services[name]["environment"]
        ca = parse_qs(urlsplit(env["AMQP_URL"]).query)["cafile"][0]
        assert env["AMQP_URL"].startswith("amqps://"), name
        assert parse_qs(urlsplit(env["DATABASE_URL"]).query) == {
            "sslmode": ["verify-full"],
            "sslrootcert": [ca],
        }, name
        assert any(v["target"] == ca and v.get("read_only") for v in services[name]["volumes"])
    mounts = {v["target"] for v in services["rabbitmq"]["volumes"]}
    assert "/etc/rabbitmq/conf.d/30-tls.conf" in mounts
    conf = (ROOT / "infra/rabbitmq/tls.conf").read_text()
    assert "listeners.tcp = none" in conf
    assert "listeners.ssl.default = 5671" in conf
    assert Path(ROOT / ".gitignore").read_text().count("infra/tls/") == 1
