"""k8s/: every rendered object is valid against the Kubernetes schemas (kubernetes-validate,
strict) or, for a custom resource, against its CRD's schema; and the manifests keep the promises
the deployment makes (probes, limits, non-root, drains, autoscaling, spread in production).
"""

from __future__ import annotations

import copy
from typing import Any

import jsonschema
import kubernetes_validate
import pytest

# The oldest and the newest Kubernetes versions the manifests are checked against.
KUBERNETES_VERSIONS = ("1.29.0", kubernetes_validate.latest_version())
CUSTOM_GROUPS = ("rabbitmq.com/", "keda.sh/", "monitoring.coreos.com/")


def is_custom(obj: dict[str, Any]) -> bool:
    return str(obj["apiVersion"]).startswith(CUSTOM_GROUPS)


def kubernetes_errors(obj: dict[str, Any], version: str) -> list[str]:
    """Why the built-in object ``obj`` is invalid for Kubernetes ``version`` (strict)."""
    try:
        kubernetes_validate.validate(obj, version, strict=True)
    except kubernetes_validate.ValidationError as error:
        return [f"{obj['kind']}/{obj['metadata']['name']}: {error.message}"]
    return []


def crd_errors(obj: dict[str, Any], schemas: dict[tuple[str, str], Any]) -> list[str]:
    """Why the custom resource ``obj`` is invalid against its CRD's schema."""
    schema = schemas.get((obj["apiVersion"], obj["kind"]))
    if schema is None:
        return [f"no CRD schema for {obj['apiVersion']} {obj['kind']}"]
    validator = jsonschema.Draft7Validator(schema)
    return [
        f"{obj['kind']}/{obj['metadata']['name']}: {'/'.join(map(str, e.path))}: {e.message}"
        for e in validator.iter_errors(obj)
    ]


def objects_of(objects: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {o["metadata"]["name"]: o for o in objects if o["kind"] == kind}


# --- schemas ------------------------------------------------------------------------------------


@pytest.mark.parametrize("overlay", ["dev", "prod"])
@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_every_builtin_object_is_valid_kubernetes(
    rendered: dict[str, list[dict[str, Any]]], overlay: str, version: str
) -> None:
    builtin = [o for o in rendered[overlay] if not is_custom(o)]
    assert len(builtin) > 10
    assert [e for o in builtin for e in kubernetes_errors(o, version)] == []


@pytest.mark.parametrize("overlay", ["dev", "prod"])
def test_every_custom_resource_matches_its_crd(
    rendered: dict[str, list[dict[str, Any]]], crd_schemas: dict[Any, Any], overlay: str
) -> None:
    custom = [o for o in rendered[overlay] if is_custom(o)]
    kinds = {o["kind"] for o in custom}
    assert kinds >= {"RabbitmqCluster", "ScaledObject", "TriggerAuthentication", "Vhost", "User"}
    assert kinds >= {"Permission", "Exchange", "Queue", "Binding"}
    assert kinds >= {"ServiceMonitor", "PodMonitor", "PrometheusRule"}
    assert [e for o in custom for e in crd_errors(o, crd_schemas)] == []


def test_kubernetes_schema_rejects_a_broken_deployment(
    rendered: dict[str, list[dict[str, Any]]],
) -> None:
    deployment = copy.deepcopy(objects_of(rendered["prod"], "Deployment")["orders"])
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    container["ports"][0]["containerPort"] = "eight-thousand-one"  # must be an integer
    container["livenessProbe"]["httpGet"]["pathh"] = "/healthz"  # unknown field (strict)
    errors = kubernetes_errors(deployment, KUBERNETES_VERSIONS[-1])
    assert errors, "a broken Deployment passed the Kubernetes schema"


@pytest.mark.parametrize(
    ("kind", "name", "breakage"),
    [
        ("ScaledObject", "orders", lambda spec: spec.pop("scaleTargetRef")),  # required
        ("RabbitmqCluster", "warren-rabbitmq", lambda spec: spec.update(replicas="three")),
        ("Queue", "queue-warren-orders-saga", lambda spec: spec.update(durabel=True)),  # unknown
        ("Vhost", "vhost-warren", lambda spec: spec.update(defaultQueueType="fast")),  # enum
        (
            "TriggerAuthentication",
            "orders-rabbitmq",
            lambda spec: spec.update(secretTargetRef=[{}]),
        ),
    ],
)
def test_crd_schema_rejects_a_broken_custom_resource(
    rendered: dict[str, list[dict[str, Any]]],
    crd_schemas: dict[Any, Any],
    kind: str,
    name: str,
    breakage: Any,
) -> None:
    resource = copy.deepcopy(objects_of(rendered["prod"], kind)[name])
    assert crd_errors(resource, crd_schemas) == []
    breakage(resource["spec"])
    assert crd_errors(resource, crd_schemas), f"a broken {kind} passed its CRD schema"


# --- what the manifests promise ----------------------------------------------------------------


def service_deployments(objects: list[dict[str, Any]], suite: tuple[str, ...]) -> dict[str, Any]:
    deployments = objects_of(objects, "Deployment")
    return {name: deployments[name] for name in suite}


@pytest.mark.parametrize("overlay", ["dev", "prod"])
def test_services_have_probes_limits_and_a_locked_down_context(
    rendered: dict[str, list[dict[str, Any]]], suite: tuple[str, ...], overlay: str
) -> None:
    config = objects_of(rendered[overlay], "ConfigMap")["warren-config"]["data"]
    drain = float(config["DRAIN_TIMEOUT"])
    for name, deployment in service_deployments(rendered[overlay], suite).items():
        pod = deployment["spec"]["template"]["spec"]
        (container,) = pod["containers"]
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz", name
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz", name
        assert {"cpu", "memory"} <= container["resources"]["limits"].keys(), name
        assert {"cpu", "memory"} <= container["resources"]["requests"].keys(), name
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        assert container["securityContext"]["readOnlyRootFilesystem"] is True, name
        assert container["securityContext"]["allowPrivilegeEscalation"] is False, name
        assert container["securityContext"]["capabilities"]["drop"] == ["ALL"], name
        pre_stop = float(container["lifecycle"]["preStop"]["exec"]["command"][-1])
        assert pod["terminationGracePeriodSeconds"] > pre_stop + drain, name


@pytest.mark.parametrize("overlay", ["dev", "prod"])
def test_every_service_has_a_budget_and_autoscaling(
    rendered: dict[str, list[dict[str, Any]]], suite: tuple[str, ...], overlay: str
) -> None:
    objects = rendered[overlay]
    budgets = {
        b["spec"]["selector"]["matchLabels"]["app.kubernetes.io/name"]
        for b in objects_of(objects, "PodDisruptionBudget").values()
    }
    scaled = objects_of(objects, "ScaledObject")
    assert budgets >= set(suite)
    for name in suite:
        triggers = {t["type"]: t for t in scaled[name]["spec"]["triggers"]}
        assert scaled[name]["spec"]["scaleTargetRef"]["name"] == name
        assert set(triggers) == {"rabbitmq", "cpu"}, name
        assert triggers["rabbitmq"]["metadata"]["mode"] == "QueueLength", name
    assert objects_of(objects, "HorizontalPodAutoscaler") == {}, "KEDA owns the one HPA"


def test_dev_is_small_and_prod_is_spread(
    rendered: dict[str, list[dict[str, Any]]], suite: tuple[str, ...]
) -> None:
    dev, prod = rendered["dev"], rendered["prod"]
    assert objects_of(dev, "RabbitmqCluster")["warren-rabbitmq"]["spec"]["replicas"] == 1
    assert objects_of(prod, "RabbitmqCluster")["warren-rabbitmq"]["spec"]["replicas"] == 3
    rabbit_affinity = objects_of(prod, "RabbitmqCluster")["warren-rabbitmq"]["spec"]["affinity"]
    assert rabbit_affinity["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    for name in suite:
        assert service_deployments(dev, suite)[name]["spec"]["replicas"] == 1
        prod_deployment = service_deployments(prod, suite)[name]
        assert prod_deployment["spec"]["replicas"] >= 3
        assert "podAntiAffinity" in prod_deployment["spec"]["template"]["spec"]["affinity"]
        assert objects_of(prod, "ScaledObject")[name]["spec"]["minReplicaCount"] >= 3


@pytest.mark.parametrize("overlay", ["dev", "prod"])
def test_no_secret_is_committed(rendered: dict[str, list[dict[str, Any]]], overlay: str) -> None:
    assert objects_of(rendered[overlay], "Secret") == {}
