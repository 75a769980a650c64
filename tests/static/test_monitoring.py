"""``warren monitoring k8s``: the Prometheus Operator and Grafana objects of
k8s/base/monitoring.yaml are generated from the monitoring sources compose uses, and they reach
what they must.

The committed file must equal the generator's output (drift is caught, on the file and on a
source); every alert of alerts.yml is in the PrometheusRule and every dashboard has its sidecar
ConfigMap; the ServiceMonitor selects, through a Service, every service Deployment's pods on
their metrics port and names the job as compose does; the PodMonitor scrapes the broker's
per-object endpoint over TLS with its CA; the custom resources pass the operator's schema (and a
broken one does not); the network policies let Prometheus reach each scraped port. Services are
read from the rendered manifests, never listed here.
"""

from __future__ import annotations

import copy
import json
import re
import shutil
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from typer.testing import CliRunner

from warren.cli import app
from warren.cli._monitoring import monitoring_resources, read_sources, render

ROOT = Path(__file__).resolve().parents[2]
COMMITTED = ROOT / "k8s" / "base" / "monitoring.yaml"
RULES = ROOT / "infra" / "prometheus" / "alerts.yml"
SCRAPE = ROOT / "infra" / "prometheus" / "prometheus.yml"
DASHBOARDS = ROOT / "infra" / "grafana" / "dashboards"

SERVICE_LABELS = {"app.kubernetes.io/component": "service"}  # the suite's pods, as the policies
# The Cluster Operator's broker pods: labels from the RabbitmqCluster's name, and the name and
# number it gives the TLS Prometheus port (the only one with disableNonTLSListeners).
BROKER_TLS_PORT = ("prometheus-tls", 15691)
MONITORING_NAMESPACE_LABELS = {"kubernetes.io/metadata.name": "monitoring"}
PROMETHEUS_PODS = {"app.kubernetes.io/name": "prometheus"}  # kube-prometheus-stack's

Objects = list[dict[str, Any]]


def generate(namespace: str = "warren") -> str:
    return render(monitoring_resources(*read_sources(RULES, SCRAPE, DASHBOARDS), namespace))


def of_kind(objects: Objects, kind: str) -> list[dict[str, Any]]:
    return [o for o in objects if o["kind"] == kind]


def the(objects: Objects, kind: str) -> dict[str, Any]:
    (found,) = of_kind(objects, kind)
    return found


def matches(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    """matchLabels and matchExpressions (In, NotIn, Exists, DoesNotExist) against ``labels``."""
    if any(labels.get(k) != v for k, v in selector.get("matchLabels", {}).items()):
        return False
    for expression in selector.get("matchExpressions", []):
        key, values = expression["key"], expression.get("values") or []
        if not {
            "In": labels.get(key) in values,
            "NotIn": key not in labels or labels[key] not in values,
            "Exists": key in labels,
            "DoesNotExist": key not in labels,
        }[expression["operator"]]:
            return False
    return True


def relabel(rules: list[dict[str, Any]], labels: dict[str, str]) -> dict[str, str]:
    """Prometheus' ``replace`` relabeling (the only action the monitors use) over ``labels``."""
    labels = dict(labels)
    for rule in rules:
        assert rule.get("action", "replace") == "replace", rule
        value = rule.get("separator", ";").join(
            labels.get(s, "") for s in rule.get("sourceLabels", [])
        )
        found = re.fullmatch(rule.get("regex", "(.*)"), value)
        if found:
            labels[rule["targetLabel"]] = found.expand(
                re.sub(r"\$(\d+)", r"\\\1", rule.get("replacement", "$1"))
            )
    return labels


def service_pods(objects: Objects) -> dict[str, dict[str, Any]]:
    """Deployment name -> pod template, for the Deployments whose pods are the suite's services."""
    return {
        d["metadata"]["name"]: d["spec"]["template"]
        for d in of_kind(objects, "Deployment")
        if matches({"matchLabels": SERVICE_LABELS}, d["spec"]["template"]["metadata"]["labels"])
    }


def container_port(pod: dict[str, Any], port: str | int) -> int | None:
    for container in pod["spec"]["containers"]:
        for declared in container.get("ports", []):
            if port in (declared.get("name"), declared["containerPort"]):
                return int(declared["containerPort"])
    return None


def scrape_jobs() -> dict[str, dict[str, Any]]:
    config = yaml.safe_load(SCRAPE.read_text())
    return {job["job_name"]: job for job in config["scrape_configs"]}


# --- generated, never edited --------------------------------------------------------------------


def test_committed_file_is_generated_from_the_sources() -> None:
    assert COMMITTED.read_text() == generate(), "run: make k8s (warren monitoring k8s)"


def test_command_writes_the_committed_file(tmp_path: Path) -> None:
    output = tmp_path / "monitoring.yaml"
    result = CliRunner().invoke(app, ["monitoring", "k8s", "--output", str(output)])
    assert result.exit_code == 0, result.output
    assert output.read_text() == COMMITTED.read_text()
    check = ["monitoring", "k8s", "--output", str(COMMITTED), "--check"]
    assert CliRunner().invoke(app, check).exit_code == 0


def test_drift_is_caught(tmp_path: Path) -> None:
    edited = tmp_path / "monitoring.yaml"
    edited.write_text(COMMITTED.read_text().replace("for: 5m", "for: 6m", 1))
    result = CliRunner().invoke(app, ["monitoring", "k8s", "--output", str(edited), "--check"])
    assert result.exit_code == 1
    assert "stale" in result.output
    # A changed source (a regenerated dashboard) makes the committed file stale too.
    boards = tmp_path / "dashboards"
    shutil.copytree(DASHBOARDS, boards)
    board = next(boards.glob("*.json"))
    board.write_text(board.read_text().replace('"refresh": "30s"', '"refresh": "1m"'))
    args = ["--dashboards", str(boards), "--output", str(COMMITTED), "--check"]
    assert CliRunner().invoke(app, ["monitoring", "k8s", *args]).exit_code == 1
    assert COMMITTED.read_text() == generate()  # --check wrote nothing


# --- what the objects contain -------------------------------------------------------------------


@pytest.mark.parametrize("overlay", ["dev", "prod"])
def test_every_alert_is_in_the_prometheus_rule(rendered: dict[str, Objects], overlay: str) -> None:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    rule = the(rendered[overlay], "PrometheusRule")
    assert rule["metadata"]["namespace"] == "warren"
    assert rule["spec"]["groups"] == groups
    alerts = [r["alert"] for g in rule["spec"]["groups"] for r in g["rules"] if "alert" in r]
    assert len(alerts) == RULES.read_text().count("- alert:") >= 10


@pytest.mark.parametrize("overlay", ["dev", "prod"])
def test_every_dashboard_has_its_sidecar_configmap(
    rendered: dict[str, Objects], overlay: str
) -> None:
    sidecar = [
        c
        for c in of_kind(rendered[overlay], "ConfigMap")
        if c["metadata"].get("labels", {}).get("grafana_dashboard") == "1"
    ]
    files = {path.name: path.read_text() for path in DASHBOARDS.glob("*.json")}
    assert len(files) >= 4
    shipped = {name: text for c in sidecar for name, text in c["data"].items()}
    assert shipped == files
    for name, text in shipped.items():
        assert json.loads(text)["uid"] == Path(name).stem


@pytest.mark.parametrize("overlay", ["dev", "prod"])
def test_the_service_monitor_scrapes_every_service_as_compose_names_it(
    rendered: dict[str, Objects], suite: tuple[str, ...], overlay: str
) -> None:
    objects = rendered[overlay]
    monitor = the(objects, "ServiceMonitor")
    (endpoint,) = monitor["spec"]["endpoints"]
    namespace = monitor["metadata"]["namespace"]
    pods = service_pods(objects)
    assert set(pods) >= set(suite), "a service of pyproject has no Deployment labelled as one"
    selected = [
        s
        for s in of_kind(objects, "Service")
        if s["metadata"]["namespace"] == namespace
        and matches(monitor["spec"]["selector"], s["metadata"].get("labels", {}))
    ]
    jobs = scrape_jobs()
    scraped = {}
    for name, pod in pods.items():
        labels = pod["metadata"]["labels"]
        routes = [s for s in selected if matches({"matchLabels": s["spec"]["selector"]}, labels)]
        assert len(routes) == 1, f"{name}: {len(routes)} monitored Services route to its pods"
        (service,) = routes
        (port,) = [p for p in service["spec"]["ports"] if p.get("name") == endpoint["port"]]
        number = container_port(pod, port.get("targetPort", port["port"]))
        assert number is not None, f"{name}: the Service's metrics port reaches no container port"
        meta = {"__meta_kubernetes_service_name": service["metadata"]["name"], "job": "x"}
        job = relabel(endpoint.get("relabelings", []), meta)["job"]
        assert re.fullmatch("warren.*", job), f"{name}: job {job} escapes the rules' selectors"
        scraped[job] = (number, endpoint.get("path", "/metrics"))
    # The same jobs as compose's prometheus.yml, on the same port and path.
    compose = {
        name: (
            int(job["static_configs"][0]["targets"][0].rsplit(":", 1)[1]),
            job.get("metrics_path", "/metrics"),
        )
        for name, job in jobs.items()
        if name[len("warren-") :] in pods
    }
    assert scraped == compose
    assert len(selected) == len(pods), "the ServiceMonitor selects a Service that is no service"


@pytest.mark.parametrize("overlay", ["dev", "prod"])
def test_the_pod_monitor_scrapes_the_broker_per_object_over_tls(
    rendered: dict[str, Objects], overlay: str
) -> None:
    objects = rendered[overlay]
    cluster = the(objects, "RabbitmqCluster")
    name, tls = cluster["metadata"]["name"], cluster["spec"]["tls"]
    assert tls["disableNonTLSListeners"] is True  # so the TLS port is the one to scrape
    monitor = the(objects, "PodMonitor")
    broker_pods = {"app.kubernetes.io/name": name, "app.kubernetes.io/component": "rabbitmq"}
    assert matches(monitor["spec"]["selector"], broker_pods)
    (endpoint,) = monitor["spec"]["podMetricsEndpoints"]
    assert (endpoint["port"], endpoint["scheme"]) == (BROKER_TLS_PORT[0], "https")
    assert endpoint["tlsConfig"]["ca"]["secret"] == {"name": tls["caSecretName"], "key": "ca.crt"}
    assert not endpoint["tlsConfig"].get("insecureSkipVerify")
    assert endpoint["tlsConfig"]["serverName"] == name  # a name the broker's certificate carries
    job = relabel(endpoint["relabelings"], {"job": f"warren/{monitor['metadata']['name']}"})["job"]
    assert job == "warren-rabbitmq"
    assert endpoint["path"] == scrape_jobs()[job]["metrics_path"] == "/metrics/per-object"


# --- the operator's schema ----------------------------------------------------------------------


def schema_errors(obj: dict[str, Any], schemas: dict[tuple[str, str], Any]) -> list[str]:
    validator = jsonschema.Draft202012Validator(schemas[(obj["apiVersion"], obj["kind"])])
    return [f"{'/'.join(map(str, e.path))}: {e.message}" for e in validator.iter_errors(obj)]


def test_the_custom_resources_match_the_operator_schema(crd_schemas: dict[Any, Any]) -> None:
    custom = [o for o in yaml.safe_load_all(COMMITTED.read_text()) if o["kind"] != "ConfigMap"]
    assert {o["kind"] for o in custom} == {"PrometheusRule", "ServiceMonitor", "PodMonitor"}
    assert [e for o in custom for e in schema_errors(o, crd_schemas)] == []


BREAKAGES = {
    "an unknown endpoint field": (
        "ServiceMonitor",
        lambda s: s["endpoints"][0].update(metricsPath="/metrics"),
    ),
    "a scheme out of its enum": (
        "PodMonitor",
        lambda s: s["podMetricsEndpoints"][0].update(scheme="tls"),
    ),
    "an unknown TLS field": (
        "PodMonitor",
        lambda s: s["podMetricsEndpoints"][0]["tlsConfig"].update(caFile={"name": "x"}),
    ),
    "no selector": ("ServiceMonitor", lambda s: s.pop("selector")),
    "a misspelt rule field": (
        "PrometheusRule",
        lambda s: s["groups"][0]["rules"][0].update(expression="up == 0"),
    ),
    "a bad duration": (
        "PrometheusRule",
        lambda s: s["groups"][0]["rules"][0].update({"for": "five minutes"}),
    ),
}


@pytest.mark.parametrize("breakage", BREAKAGES, ids=list(BREAKAGES))
def test_the_schema_rejects_a_broken_resource(crd_schemas: dict[Any, Any], breakage: str) -> None:
    kind, breaks = BREAKAGES[breakage]
    objects = list(yaml.safe_load_all(COMMITTED.read_text()))
    resource = copy.deepcopy(the(objects, kind))
    assert schema_errors(resource, crd_schemas) == []
    breaks(resource["spec"])
    assert schema_errors(resource, crd_schemas), f"{breakage} passed the operator's schema"


# --- the network lets Prometheus in -------------------------------------------------------------


def unreachable(objects: Objects) -> list[str]:
    """The scraped (pod labels, port) pairs no NetworkPolicy opens to Prometheus' pods in the
    monitoring namespace (the namespace is default-deny)."""
    cluster = the(objects, "RabbitmqCluster")["metadata"]["name"]
    targets = [
        (name, pod["metadata"]["labels"], {"metrics", container_port(pod, "metrics")})
        for name, pod in service_pods(objects).items()
    ]
    broker = {"app.kubernetes.io/name": cluster, "app.kubernetes.io/component": "rabbitmq"}
    targets.append((cluster, broker, set(BROKER_TLS_PORT)))
    missing = []
    for name, labels, port in targets:
        opened = False
        for policy in of_kind(objects, "NetworkPolicy"):
            if not matches(policy["spec"]["podSelector"], labels):
                continue
            for rule in policy["spec"].get("ingress", []):
                from_prometheus = any(
                    "namespaceSelector" in peer  # without one, the peer is this namespace
                    and matches(peer["namespaceSelector"], MONITORING_NAMESPACE_LABELS)
                    and matches(peer.get("podSelector", {}), PROMETHEUS_PODS)
                    for peer in rule.get("from", [])
                )
                ports = {p.get("port") for p in rule.get("ports", [])}
                opened |= from_prometheus and bool(ports & port)
        if not opened:
            missing.append(f"{name}: {sorted(map(str, port))}")
    return missing


@pytest.mark.parametrize("overlay", ["dev", "prod"])
def test_prometheus_may_reach_every_scraped_port(
    rendered: dict[str, Objects], overlay: str
) -> None:
    assert unreachable(rendered[overlay]) == []


def test_a_closed_scrape_port_is_caught(rendered: dict[str, Objects]) -> None:
    objects = copy.deepcopy(rendered["prod"])
    (policy,) = [
        p for p in of_kind(objects, "NetworkPolicy") if p["metadata"]["name"] == "rabbitmq"
    ]
    for rule in policy["spec"]["ingress"]:
        rule["ports"] = [p for p in rule.get("ports", []) if p["port"] != BROKER_TLS_PORT[1]]
    assert unreachable(objects) == [f"warren-rabbitmq: {sorted(map(str, BROKER_TLS_PORT))}"]
