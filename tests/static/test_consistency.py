"""Compose, Kubernetes and the broker definitions agree: the same services, HTTP ports, setting
names, vhost, broker users and queue names — all checked against the code (the services' own
Settings and topology), so that a rename in one place fails here instead of at deploy time.
"""

from __future__ import annotations

import copy
import importlib
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.static.conftest import INFRA_SERVICES

ROOT = Path(__file__).resolve().parents[2]
OTEL = {"OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_SERVICE_NAME"}
# Kubernetes composes AMQP_URL from these with $(VAR) expansion; the services never read them.
K8S_HELPERS = {
    "AMQP_USERNAME",
    "AMQP_PASSWORD",
    "AMQP_HOST",
    "AMQP_VHOST",
    "TLS_CA_FILE",
    "DATABASE_SERVER_URL",
}
# Settings that change the topology: deployments must leave them to the code's defaults, or the
# services would declare queues that differ from the definitions (PRECONDITION_FAILED).
TOPOLOGY_SETTINGS = {"RETRY_DELAYS", "DELIVERY_LIMIT"}


def settings_of(service: str) -> tuple[set[str], int]:
    """The environment variables ``service`` reads, and its HTTP port."""
    settings_class = importlib.import_module(f"{service}.main").Settings
    names = {name.upper() for name in settings_class.model_fields}
    return names, int(settings_class().http_port)


def image_env() -> dict[str, dict[str, str]]:
    """Dockerfile ENV per stage (``runtime`` plus each service target)."""
    env: dict[str, dict[str, str]] = {}
    stage = ""
    for line in re.sub(r"\\\n\s*", " ", (ROOT / "Dockerfile").read_text()).splitlines():
        if match := re.match(r"FROM \S+ AS (\S+)", line):
            stage = match.group(1)
        elif line.startswith("ENV "):
            pairs = re.findall(r"([A-Z_]+)=(\S+)", line)
            env.setdefault(stage, {}).update(pairs)
    return env


def k8s_service_env(objects: list[dict[str, Any]], service: str) -> tuple[dict[str, str], int]:
    """The environment (ConfigMap + env) and the container port of ``service``'s Deployment."""
    config = {o["metadata"]["name"]: o.get("data", {}) for o in objects if o["kind"] == "ConfigMap"}
    (deployment,) = [
        o for o in objects if o["kind"] == "Deployment" and o["metadata"]["name"] == service
    ]
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        env.update(config[source["configMapRef"]["name"]])
    for variable in container.get("env", []):
        env[variable["name"]] = variable.get("value", "<secret>")
    return env, int(container["ports"][0]["containerPort"])


def disagreements(
    suite: tuple[str, ...],
    compose: dict[str, Any],
    objects: list[dict[str, Any]],
    definitions: dict[str, Any],
) -> list[str]:
    """Every way compose, the rendered Kubernetes objects and the definitions disagree."""
    problems: list[str] = []
    image = image_env()
    vhost = definitions["vhosts"][0]["name"]
    work_queues = {q["name"] for q in definitions["queues"] if "x-delivery-limit" in q["arguments"]}
    compose_services = set(compose["services"]) - INFRA_SERVICES
    k8s_services = {
        o["metadata"]["name"]
        for o in objects
        if o["kind"] == "Deployment"
        and o["metadata"]["labels"].get("app.kubernetes.io/component") == "service"
    }
    users = {u["name"] for u in definitions["users"]}
    for place, names in (("compose", compose_services), ("k8s", k8s_services)):
        if names != set(suite):
            problems.append(f"{place} services {sorted(names)} != the suite {sorted(suite)}")
    if users != {f"warren-{s}" for s in suite}:
        problems.append(f"definitions users {sorted(users)} != warren-<service>")
    if {q.split(".")[0] for q in work_queues} - set(suite):
        problems.append(f"work queues of unknown services: {sorted(work_queues)}")
    for service in sorted(set(suite) & compose_services & k8s_services):
        settings, port = settings_of(service)
        readable = settings | OTEL
        base = {**image.get("runtime", {}), **image.get("service", {})}
        in_compose = {**base, **compose["services"][service]["environment"]}
        in_k8s, k8s_port = k8s_service_env(objects, service)
        in_k8s = {**base, **in_k8s}
        # Names: nothing a service would ignore, and the same settings in both places.
        for place, env, extra in (("compose", in_compose, set()), ("k8s", in_k8s, K8S_HELPERS)):
            unknown = (
                set(env)
                - readable
                - extra
                - {
                    "PATH",
                    "PYTHONUNBUFFERED",
                    "PYTHONDONTWRITEBYTECODE",
                    "WARREN_SERVICE",
                }
            )
            if unknown:
                problems.append(f"{place} {service}: variables it never reads {sorted(unknown)}")
            if overridden := TOPOLOGY_SETTINGS & set(env):
                problems.append(f"{place} {service}: sets topology settings {sorted(overridden)}")
        both = (set(in_compose) & readable) ^ (set(in_k8s) & readable)
        if both:
            problems.append(f"{service}: settings set in only one of compose/k8s {sorted(both)}")
        # Ports: the code's default, the image, compose and Kubernetes.
        published = {int(p["target"]) for p in compose["services"][service].get("ports", [])}
        ports = {
            "code": port,
            "compose": int(in_compose.get("HTTP_PORT", 0)),
            "k8s env": int(in_k8s["HTTP_PORT"]),
            "k8s container": k8s_port,
            "compose published": min(published, default=0),
        }
        for service_object in objects:
            if (
                service_object["kind"] == "Service"
                and service_object["metadata"]["name"] == service
            ):
                ports["k8s Service"] = int(service_object["spec"]["ports"][0]["port"])
        if len(set(ports.values())) != 1:
            problems.append(f"{service}: HTTP ports disagree {ports}")
        # Broker: user and vhost.
        amqp = urlsplit(in_compose["AMQP_URL"])
        if amqp.username != f"warren-{service}" or amqp.path != f"/{vhost}":
            problems.append(f"compose {service}: AMQP_URL is not warren-{service} on /{vhost}")
        if in_k8s.get("AMQP_VHOST") != vhost:
            problems.append(f"k8s {service}: AMQP_VHOST {in_k8s.get('AMQP_VHOST')} != {vhost}")
    # Queues: the definitions' work queues are what KEDA watches; every queue has its CR.
    scaled = {
        t["metadata"]["queueName"]: (o["spec"]["scaleTargetRef"]["name"], t["metadata"])
        for o in objects
        if o["kind"] == "ScaledObject"
        for t in o["spec"]["triggers"]
        if t["type"] == "rabbitmq"
    }
    if set(scaled) != work_queues:
        problems.append(
            f"KEDA watches {sorted(scaled)}, the code's work queues are {sorted(work_queues)}"
        )
    for queue, (target, metadata) in scaled.items():
        if queue.split(".")[0] != target or metadata.get("vhostName") != vhost:
            problems.append(
                f"KEDA trigger on {queue} scales {target} in {metadata.get('vhostName')}"
            )
    crs = {(o["spec"]["vhost"], o["spec"]["name"]) for o in objects if o["kind"] == "Queue"}
    wanted = {(q["vhost"], q["name"]) for q in definitions["queues"]}
    if crs != wanted:
        problems.append(f"Queue resources differ from the definitions: {sorted(crs ^ wanted)}")
    secrets = {o["spec"]["importCredentialsSecret"]["name"] for o in objects if o["kind"] == "User"}
    if secrets != {f"{u}-amqp" for u in users}:
        problems.append(f"User resources import {sorted(secrets)}")
    return problems


@pytest.mark.parametrize("overlay", ["dev", "prod"])
def test_compose_k8s_and_definitions_agree(
    suite: tuple[str, ...],
    compose_config: dict[str, Any],
    rendered: dict[str, list[dict[str, Any]]],
    code_definitions: dict[str, Any],
    overlay: str,
) -> None:
    assert disagreements(suite, compose_config, rendered[overlay], code_definitions) == []


BREAKAGES = {
    "a renamed port": lambda c, o, d: _container(o, "payments")["ports"][0].update(
        containerPort=9003
    ),
    "a queue KEDA no longer watches": lambda c, o, d: _trigger(o, "orders").update(
        queueName="orders.sagas"
    ),
    "a misspelt setting": lambda c, o, d: c["services"]["inventory"]["environment"].update(
        DRAIN_TIMOUT="20"
    ),
    "a missing service": lambda c, o, d: c["services"].pop("notifications"),
    "a queue without its resource": lambda c, o, d: d["queues"].append(
        {"name": "orders.audit", "vhost": "warren", "durable": True, "arguments": {}}
    ),
    "a compose user of another service": lambda c, o, d: c["services"]["orders"][
        "environment"
    ].update(AMQP_URL="amqp://warren-payments:x@rabbitmq:5672/warren"),
    "a retry setting that reshapes the queues": lambda c, o, d: _container(o, "orders")[
        "env"
    ].append({"name": "RETRY_DELAYS", "value": "[2]"}),
}


@pytest.mark.parametrize("breakage", BREAKAGES.values(), ids=BREAKAGES.keys())
def test_a_disagreement_is_caught(
    suite: tuple[str, ...],
    compose_config: dict[str, Any],
    rendered: dict[str, list[dict[str, Any]]],
    code_definitions: dict[str, Any],
    breakage: Any,
) -> None:
    compose, objects, definitions = (
        copy.deepcopy(compose_config),
        copy.deepcopy(rendered["prod"]),
        copy.deepcopy(code_definitions),
    )
    breakage(compose, objects, definitions)
    assert disagreements(suite, compose, objects, definitions) != []


def _container(objects: list[dict[str, Any]], service: str) -> dict[str, Any]:
    (deployment,) = [
        o for o in objects if o["kind"] == "Deployment" and o["metadata"]["name"] == service
    ]
    container: dict[str, Any] = deployment["spec"]["template"]["spec"]["containers"][0]
    return container


def _trigger(objects: list[dict[str, Any]], service: str) -> dict[str, Any]:
    (scaled,) = [
        o for o in objects if o["kind"] == "ScaledObject" and o["metadata"]["name"] == service
    ]
    metadata: dict[str, Any] = scaled["spec"]["triggers"][0]["metadata"]
    return metadata


def test_broker_and_services_bound_messages_alike() -> None:
    """``max_message_size`` in rabbitmq.conf and in the cluster's additionalConfig, and the
    services' default ``MAX_MESSAGE_BYTES``, are one number."""
    from warren.runtime import ServiceSettings

    setting = re.compile(r"^\s*max_message_size\s*=\s*(\d+)\s*$", re.MULTILINE)
    conf = setting.findall((ROOT / "infra" / "rabbitmq" / "rabbitmq.conf").read_text())
    cluster = setting.findall((ROOT / "k8s" / "base" / "rabbitmq-cluster.yaml").read_text())
    default = ServiceSettings.model_fields["max_message_bytes"].default
    assert conf == cluster == [str(default)]
