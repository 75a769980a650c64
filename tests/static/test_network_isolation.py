"""k8s/: the ``warren`` namespace is isolated and locked down, on every rendered overlay.

Default-deny in and out, then one allow per path the suite needs (k8s/base/network-policy.yaml);
every pod meets the "restricted" Pod Security profile, which the namespace enforces; production
publishes orders alone, through one TLS Ingress that rate-limits at the edge.

Nothing here names a service but through the manifests: the services are the pods labelled
``app.kubernetes.io/component: service``, the public one is the pod behind the Service labelled
``warren.dev/public: "true"``, the broker is the RabbitmqCluster named by ``AMQP_HOST`` and the
trace collector the Service named by ``OTEL_EXPORTER_OTLP_ENDPOINT``. What lies outside the
namespace (kube-dns, the ingress controller, Prometheus, the operators, KEDA, PostgreSQL) is named
below, once, with the ports it may use. Each check returns its findings, and the last test breaks
a copy of the manifests in each way that matters and expects the check to notice.
"""

from __future__ import annotations

import copy
import ipaddress
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import pytest

Objects = list[dict[str, Any]]
PortRange = tuple[str, int, int]  # protocol, first, last

NAMESPACE = "warren"
METADATA_NAME = "kubernetes.io/metadata.name"  # every namespace carries its name as a label
PUBLIC_LABEL = "warren.dev/public"
SERVICE_LABELS = {"app.kubernetes.io/component": "service"}


def tcp(*ports: int | tuple[int, int]) -> frozenset[PortRange]:
    return frozenset(("TCP", *p) if isinstance(p, tuple) else ("TCP", p, p) for p in ports)


AMQP = tcp(5672, 5671)
CLUSTERING = tcp(4369, 25672, (35672, 35682))
MANAGEMENT = tcp(15672, 15671)
BROKER_METRICS = tcp(15692, 15691)
OTLP = tcp(4317, 4318)
POSTGRES = tcp(5432)
DNS = frozenset({("UDP", 53, 53), ("TCP", 53, 53)})
ALL_PORTS = frozenset((proto, 1, 65535) for proto in ("TCP", "UDP", "SCTP"))

# Namespaces outside the suite, and which pods there may be peers (None: any pod).
DNS_PODS = ("kube-system", {"k8s-app": "kube-dns"})
POSTGRES_NAMESPACE = "postgres"  # an operator's PostgreSQL; a managed one is a narrow ipBlock
INGRESS_NAMESPACE = "ingress-nginx"
MONITORING_NAMESPACE = "monitoring"
OPERATORS_NAMESPACE = "rabbitmq-system"
KEDA_NAMESPACE = "keda"  # reads queue depth for the ScaledObjects' rabbitmq triggers
# The Cluster Operator's containers in a RabbitMQ pod: the override must cover each of them.
BROKER_CONTAINERS = {"containers": {"rabbitmq"}, "initContainers": {"setup-container"}}
# Pod Security "restricted": the volume types and capability it allows.
RESTRICTED_VOLUMES = {"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral"}
RESTRICTED_VOLUMES |= {"persistentVolumeClaim", "projected", "secret"}
RATE_LIMITS = ("limit-rps", "limit-burst-multiplier", "limit-connections")
NGINX = "nginx.ingress.kubernetes.io/"


@dataclass
class Pod:
    """A workload's pods: their labels, spec and role (service, broker or other)."""

    workload: str
    labels: dict[str, str]
    spec: dict[str, Any]
    role: str

    def port(self, name: str) -> PortRange | None:
        for container in self.spec.get("containers", []):
            for port in container.get("ports", []):
                if port.get("name") == name:
                    number = int(port["containerPort"])
                    return (port.get("protocol", "TCP"), number, number)
        return None


@dataclass
class Peer:
    """One side of a NetworkPolicy rule, resolved: pods of this namespace, another namespace
    (None: any), an address block, or anywhere."""

    kind: str  # inside | namespace | block | anywhere
    pods: list[Pod] = field(default_factory=list)
    namespace: str | None = None
    selector: dict[str, str] | None = None  # pod labels required in that namespace; None: any
    cidr: str = ""


# --- reading the rendered objects ---------------------------------------------------------------


def of_kind(objects: Objects, kind: str) -> list[dict[str, Any]]:
    return [o for o in objects if o["kind"] == kind]


def matches(selector: dict[str, Any] | None, labels: dict[str, str]) -> bool:
    """Kubernetes label-selector semantics (matchLabels and matchExpressions)."""
    selector = selector or {}
    if any(labels.get(k) != v for k, v in selector.get("matchLabels", {}).items()):
        return False
    for expression in selector.get("matchExpressions", []):
        key, operator, values = expression["key"], expression["operator"], expression.get("values")
        present = key in labels
        if not {
            "In": present and labels.get(key) in (values or []),
            "NotIn": not present or labels.get(key) not in (values or []),
            "Exists": present,
            "DoesNotExist": not present,
        }[operator]:
            return False
    return True


def pods(objects: Objects) -> list[Pod]:
    """Every pod the overlay makes, including the RabbitMQ nodes the Cluster Operator makes (its
    labels, and the pod spec the RabbitmqCluster's override imposes)."""
    found = []
    for obj in objects:
        kind, name, spec = obj["kind"], obj["metadata"]["name"], obj.get("spec", {})
        template = None
        if kind in {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"}:
            template = spec["template"]
        elif kind == "CronJob":
            template = spec["jobTemplate"]["spec"]["template"]
        elif kind == "Pod":
            template = obj
        if template is not None:
            labels = template.get("metadata", {}).get("labels", {})
            role = "service" if matches({"matchLabels": SERVICE_LABELS}, labels) else "other"
            found.append(Pod(f"{kind}/{name}", labels, template["spec"], role))
        elif kind == "RabbitmqCluster":
            override = spec.get("override", {}).get("statefulSet", {}).get("spec", {})
            template = override.get("template", {})
            labels = {"app.kubernetes.io/name": name, "app.kubernetes.io/component": "rabbitmq"}
            labels |= template.get("metadata", {}).get("labels", {})
            found.append(Pod(f"{kind}/{name}", labels, template.get("spec", {}), "broker"))
    return found


def config(objects: Objects) -> dict[str, str]:
    (config_map,) = [
        o for o in of_kind(objects, "ConfigMap") if o["metadata"]["name"] == "warren-config"
    ]
    data: dict[str, str] = config_map["data"]
    return data


def broker_pods(objects: Objects) -> list[Pod]:
    """The RabbitMQ nodes the services connect to (AMQP_HOST names the RabbitmqCluster)."""
    host = config(objects)["AMQP_HOST"]
    return [p for p in pods(objects) if p.workload == f"RabbitmqCluster/{host}"]


def backend_pods(objects: Objects, service_names: set[str]) -> list[Pod]:
    services = [o for o in of_kind(objects, "Service") if o["metadata"]["name"] in service_names]
    return [
        p
        for p in pods(objects)
        for s in services
        if matches({"matchLabels": s["spec"]["selector"]}, p.labels)
    ]


def otlp_pods(objects: Objects) -> list[Pod]:
    """The pods behind the Service OTEL_EXPORTER_OTLP_ENDPOINT points at."""
    host = urlsplit(config(objects)["OTEL_EXPORTER_OTLP_ENDPOINT"]).hostname or ""
    return backend_pods(objects, {host.split(".")[0]})


def public_services(objects: Objects) -> list[dict[str, Any]]:
    return [
        s
        for s in of_kind(objects, "Service")
        if s["metadata"].get("labels", {}).get(PUBLIC_LABEL) == "true"
    ]


def public_pods(objects: Objects) -> list[Pod]:
    return backend_pods(objects, {s["metadata"]["name"] for s in public_services(objects)})


def policies(objects: Objects) -> list[dict[str, Any]]:
    return of_kind(objects, "NetworkPolicy")


def selected(policy: dict[str, Any], objects: Objects) -> list[Pod]:
    return [p for p in pods(objects) if matches(policy["spec"]["podSelector"], p.labels)]


def peers(rule: dict[str, Any], direction: str, objects: Objects) -> list[Peer]:
    """The peers of one ingress (``from``) or egress (``to``) rule; none listed is anywhere."""
    listed = rule.get("from" if direction == "ingress" else "to") or []
    if not listed:
        return [Peer("anywhere")]
    resolved = []
    for peer in listed:
        if "ipBlock" in peer:
            resolved.append(Peer("block", cidr=peer["ipBlock"]["cidr"]))
            continue
        pod_selector, namespaces = peer.get("podSelector"), peer.get("namespaceSelector")
        namespace: str | None = NAMESPACE  # a podSelector alone means this namespace
        if namespaces is not None:  # by name, or else any namespace
            by_name = set(namespaces) == {"matchLabels"}
            namespace = namespaces["matchLabels"].get(METADATA_NAME) if by_name else None
        if namespace == NAMESPACE:
            chosen = [p for p in pods(objects) if matches(pod_selector, p.labels)]
            resolved.append(Peer("inside", pods=chosen))
        else:
            by_labels = pod_selector and set(pod_selector) == {"matchLabels"}
            labels = pod_selector["matchLabels"] or None if by_labels else None
            resolved.append(Peer("namespace", namespace=namespace, selector=labels))
    return resolved


def port_ranges(rule: dict[str, Any], targets: list[Pod]) -> set[PortRange | tuple[str, str]]:
    """The ports of a rule, named ports resolved on ``targets`` (unresolved ones stay names)."""
    if not rule.get("ports"):
        return set(ALL_PORTS)
    found: set[PortRange | tuple[str, str]] = set()
    for port in rule["ports"]:
        protocol, number = port.get("protocol", "TCP"), port.get("port")
        if number is None:
            found.add((protocol, 1, 65535))
        elif isinstance(number, int):
            found.add((protocol, number, int(port.get("endPort", number))))
        else:
            named = {hit for pod in targets if (hit := pod.port(number))}
            found |= named or {(protocol, number)}
    return found


def within(ports: set[Any], allowed: frozenset[PortRange]) -> bool:
    return all(
        len(port) == 3
        and any(port[0] == a[0] and a[1] <= port[1] <= port[2] <= a[2] for a in allowed)
        for port in ports
    )


def rules(objects: Objects, direction: str) -> list[tuple[str, list[Pod], dict[str, Any]]]:
    """(policy name, the pods it selects, rule) for every ingress or egress rule."""
    return [
        (policy["metadata"]["name"], selected(policy, objects), rule)
        for policy in policies(objects)
        for rule in policy["spec"].get(direction, []) or []
    ]


# --- the checks ---------------------------------------------------------------------------------


def default_deny_problems(objects: Objects) -> list[str]:
    """A policy selects every pod, covers Ingress and Egress, and allows nothing."""
    types: set[str] = set()
    for policy in policies(objects):
        spec = policy["spec"]
        if (
            not any(spec["podSelector"].values())
            and not spec.get("ingress")
            and not spec.get("egress")
        ):
            types |= set(spec.get("policyTypes", []))
    missing = {"Ingress", "Egress"} - types
    return [f"no default-deny for {sorted(missing)}"] if missing else []


def coverage_problems(objects: Objects) -> list[str]:
    """Every pod has a policy of its own besides the default deny, in this namespace."""
    problems = [
        f"{p['metadata']['name']} is in namespace {p['metadata'].get('namespace')}"
        for p in policies(objects)
        if p["metadata"].get("namespace") != NAMESPACE
    ]
    for pod in pods(objects):
        own = [
            p
            for p in policies(objects)
            if any(p["spec"]["podSelector"].values()) and pod in selected(p, objects)
        ]
        if not own:
            problems.append(f"{pod.workload}: no policy names it (only the default deny)")
    return problems


def egress_destination(peer: Peer, objects: Objects) -> str:
    """Which of the suite's destinations ``peer`` is, or a description of what it is instead."""
    if peer.kind == "inside" and peer.pods:
        if peer.pods == broker_pods(objects):
            return "broker"
        if peer.pods == otlp_pods(objects):
            return "otlp"
        return "pods " + ", ".join(p.workload for p in peer.pods)
    if peer.kind == "namespace":
        if (peer.namespace, peer.selector) == DNS_PODS:
            return "dns"
        if peer.namespace == POSTGRES_NAMESPACE:
            return "postgres"
        return f"namespace {peer.namespace or '<any>'}"
    if peer.kind == "block":
        network = ipaddress.ip_network(peer.cidr, strict=False)
        return "postgres" if network.prefixlen >= 16 else f"wide block {peer.cidr}"
    return peer.kind


EGRESS = {
    "service": {"dns": DNS, "broker": AMQP, "otlp": OTLP, "postgres": POSTGRES},
    "broker": {"dns": DNS, "broker": CLUSTERING},
}


def egress_problems(objects: Objects) -> list[str]:
    """Pods reach only their listed destinations, on their ports, and reach every one of them."""
    problems: list[str] = []
    reached: dict[str, set[str]] = {p.workload: set() for p in pods(objects)}
    for name, sources, rule in rules(objects, "egress"):
        for peer in peers(rule, "egress", objects):
            destination = egress_destination(peer, objects)
            ports = port_ranges(rule, peer.pods)
            for source in sources:
                allowed = EGRESS.get(source.role, {}).get(destination)
                if allowed is None or not within(ports, allowed):
                    problems.append(
                        f"{name}: {source.workload} -> {destination} on {sorted(ports)}"
                    )
                else:
                    reached[source.workload].add(destination)
    for pod in pods(objects):
        if missing := set(EGRESS.get(pod.role, {})) - reached[pod.workload]:
            problems.append(f"{pod.workload} cannot reach {sorted(missing)}")
    return problems


def ingress_source(peer: Peer) -> str:
    if peer.kind == "inside":
        roles = {p.role for p in peer.pods}
        return f"inside:{roles.pop()}" if len(roles) == 1 else "inside:mixed"
    if peer.kind == "namespace" and peer.namespace:
        return peer.namespace
    return "outside"


def scales_on_queues(objects: Objects) -> bool:
    """Whether KEDA reads queue depths from the broker (a ScaledObject's rabbitmq trigger)."""
    triggers = [t for s in of_kind(objects, "ScaledObject") for t in s["spec"]["triggers"]]
    return any(t["type"] == "rabbitmq" for t in triggers)


def ingress_allowance(target: Pod, source: str, objects: Objects) -> frozenset[PortRange]:
    """The ports ``source`` may open on ``target``; empty when none."""
    metrics, http = target.port("metrics"), target.port("http")
    if target.role == "service":
        allowed = {MONITORING_NAMESPACE: frozenset({metrics} if metrics else ())}
        if target in public_pods(objects) and http:
            allowed[INGRESS_NAMESPACE] = frozenset({http})
        return allowed.get(source, frozenset())
    if target.role == "broker":
        keda = scales_on_queues(objects)
        return {
            "inside:service": AMQP,
            "inside:broker": CLUSTERING,
            OPERATORS_NAMESPACE: MANAGEMENT,
            MONITORING_NAMESPACE: BROKER_METRICS,
            KEDA_NAMESPACE: AMQP if keda else frozenset(),
        }.get(source, frozenset())
    # Anything else (Jaeger) serves this namespace only.
    return ALL_PORTS if source.startswith("inside:") else frozenset()


def ingress_problems(objects: Objects) -> list[str]:
    """Each pod accepts only its listed sources on their ports; orders (the public pod) alone
    accepts the ingress controller, every service accepts Prometheus on its metrics port."""
    problems: list[str] = []
    accepted: set[tuple[str, str]] = set()
    for name, targets, rule in rules(objects, "ingress"):
        for peer in peers(rule, "ingress", objects):
            source = ingress_source(peer)
            for target in targets:
                ports = port_ranges(rule, [target])
                if within(ports, ingress_allowance(target, source, objects)) and ports:
                    accepted.add((target.workload, source))
                else:
                    problems.append(f"{name}: {source} -> {target.workload} on {sorted(ports)}")
    public = public_pods(objects)
    if not public or any(p.role != "service" for p in public):
        problems.append(
            f"the public Service must front suite services: {[p.workload for p in public]}"
        )
    for pod in pods(objects):
        expected = {MONITORING_NAMESPACE} if pod.role == "service" else set()
        expected |= {INGRESS_NAMESPACE} if pod in public else set()
        expected |= {"inside:service"} if pod in otlp_pods(objects) else set()
        if pod.role == "broker":
            expected = {"inside:service", "inside:broker", OPERATORS_NAMESPACE}
            expected |= {KEDA_NAMESPACE} if scales_on_queues(objects) else set()
        if missing := {s for s in expected if (pod.workload, s) not in accepted}:
            problems.append(f"{pod.workload} is not reachable from {sorted(missing)}")
    return problems


def restricted_problems(objects: Objects) -> list[str]:
    """The namespace enforces "restricted", and every pod spec meets it."""
    (namespace,) = of_kind(objects, "Namespace")
    problems = []
    if (
        namespace["metadata"].get("labels", {}).get("pod-security.kubernetes.io/enforce")
        != "restricted"
    ):
        problems.append("the namespace does not enforce the restricted profile")
    for pod in pods(objects):
        problems += [f"{pod.workload}: {p}" for p in pod_problems(pod.spec)]
        if pod.role == "broker":
            for key, names in BROKER_CONTAINERS.items():
                if missing := names - {c["name"] for c in pod.spec.get(key, [])}:
                    problems.append(f"{pod.workload}: the override leaves {sorted(missing)} as is")
    return problems


def pod_problems(spec: dict[str, Any]) -> list[str]:
    """How a pod spec falls short of Pod Security "restricted" (the checks a spec can show)."""
    problems = [
        f"{host} is set" for host in ("hostNetwork", "hostPID", "hostIPC") if spec.get(host)
    ]
    for volume in spec.get("volumes", []):
        if not set(volume) - {"name"} <= RESTRICTED_VOLUMES:
            problems.append(f"volume {volume['name']} is of a type restricted forbids")
    pod_context = spec.get("securityContext", {})
    for kind in ("initContainers", "containers", "ephemeralContainers"):
        for container in spec.get(kind, []):
            context, name = container.get("securityContext", {}), container["name"]
            merged = {**pod_context, **context}
            seccomp = merged.get("seccompProfile", {}).get("type")
            capabilities = context.get("capabilities", {})
            for wrong, why in (
                (merged.get("runAsNonRoot") is not True, "may run as root"),
                (merged.get("runAsUser") == 0, "runs as UID 0"),
                (seccomp not in {"RuntimeDefault", "Localhost"}, f"seccomp is {seccomp}"),
                (context.get("allowPrivilegeEscalation") is not False, "may escalate privileges"),
                (context.get("privileged") is True, "is privileged"),
                ("ALL" not in capabilities.get("drop", []), "does not drop ALL capabilities"),
                (set(capabilities.get("add", [])) - {"NET_BIND_SERVICE"}, "adds capabilities"),
                (any(p.get("hostPort") for p in container.get("ports", [])), "uses a hostPort"),
            ):
                if wrong:
                    problems.append(f"{kind} {name} {why}")
    return problems


def exposure_problems(objects: Objects, overlay: str) -> list[str]:
    """Only public Services are exposed: through Ingresses (prod: exactly one, TLS, rate-limited)
    and never through a NodePort or LoadBalancer."""
    public = {s["metadata"]["name"]: s for s in public_services(objects)}
    ingresses = of_kind(objects, "Ingress")
    problems = [
        f"Service {s['metadata']['name']} is a {s['spec']['type']}"
        for s in of_kind(objects, "Service")
        if s["spec"].get("type", "ClusterIP") != "ClusterIP"
    ]
    for cluster in of_kind(objects, "RabbitmqCluster"):
        if cluster["spec"].get("service", {}).get("type", "ClusterIP") != "ClusterIP":
            problems.append(f"RabbitmqCluster {cluster['metadata']['name']} is exposed")
    if overlay == "prod" and len(ingresses) != 1:
        problems.append(f"prod has {len(ingresses)} Ingresses, not one")
    for ingress in ingresses:
        name, spec = ingress["metadata"]["name"], ingress["spec"]
        annotations = ingress["metadata"].get("annotations", {})
        backends = [spec["defaultBackend"]] if "defaultBackend" in spec else []
        backends += [
            p["backend"] for r in spec.get("rules", []) for p in r.get("http", {}).get("paths", [])
        ]
        for backend in backends:
            service = backend.get("service", {})
            port = service.get("port", {}).get("name") or service.get("port", {}).get("number")
            ports = {
                p.get("name")
                for p in public.get(service.get("name"), {}).get("spec", {}).get("ports", [])
            }
            ports |= {
                p["port"]
                for p in public.get(service.get("name"), {}).get("spec", {}).get("ports", [])
            }
            if service.get("name") not in public or port not in ports - {"metrics", 9464}:
                problems.append(f"Ingress {name} routes to {service.get('name')}:{port}")
        hosts = {r.get("host") for r in spec.get("rules", [])}
        secured = {
            h for t in spec.get("tls", []) if t.get("secretName") for h in t.get("hosts", [])
        }
        if not backends or None in hosts or hosts - secured:
            problems.append(f"Ingress {name}: hosts {sorted(map(str, hosts))} not all under TLS")
        if spec.get("ingressClassName") != "nginx":
            problems.append(f"Ingress {name} is not for ingress-nginx")
        for limit in RATE_LIMITS:
            if not str(annotations.get(NGINX + limit, "")).isdigit():
                problems.append(f"Ingress {name} has no {limit}")
        if not annotations.get(NGINX + "proxy-body-size"):
            problems.append(f"Ingress {name} does not bound the body size")
    return problems


CHECKS: dict[str, Callable[[Objects, str], list[str]]] = {
    "default deny": lambda objects, _: default_deny_problems(objects),
    "coverage": lambda objects, _: coverage_problems(objects),
    "egress": lambda objects, _: egress_problems(objects),
    "ingress": lambda objects, _: ingress_problems(objects),
    "restricted": lambda objects, _: restricted_problems(objects),
    "exposure": exposure_problems,
}


@pytest.mark.parametrize("overlay", ["dev", "prod"])
@pytest.mark.parametrize("check", CHECKS.values(), ids=CHECKS.keys())
def test_the_namespace_is_isolated_and_restricted(
    rendered: dict[str, Objects], overlay: str, check: Callable[[Objects, str], list[str]]
) -> None:
    assert check(rendered[overlay], overlay) == []


def test_the_suite_is_derived_from_the_manifests(
    rendered: dict[str, Objects], suite: tuple[str, ...]
) -> None:
    """The checks above see the suite the project declares, so a vacuous pass is impossible."""
    objects = rendered["prod"]
    services = {p.workload.split("/")[1] for p in pods(objects) if p.role == "service"}
    assert services == set(suite)
    assert [p.workload for p in public_pods(objects)] == ["Deployment/orders"]
    assert broker_pods(objects)
    assert otlp_pods(objects)


# --- each check fails on a broken copy ----------------------------------------------------------


def named(objects: Objects, kind: str, name: str) -> dict[str, Any]:
    (found,) = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    return found


def policy_rules(objects: Objects, name: str, direction: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = named(objects, "NetworkPolicy", name)["spec"][direction]
    return found


def override(objects: Objects) -> dict[str, Any]:
    cluster = of_kind(objects, "RabbitmqCluster")[0]
    spec: dict[str, Any] = cluster["spec"]["override"]["statefulSet"]["spec"]["template"]["spec"]
    return spec


def a_non_public_service(objects: Objects) -> str:
    public = {p.workload for p in public_pods(objects)}
    return sorted(
        p.workload for p in pods(objects) if p.role == "service" and p.workload not in public
    )[0]


def _deployment(objects: Objects, workload: str) -> dict[str, Any]:
    return named(objects, "Deployment", workload.split("/")[1])


BREAKAGES: dict[str, tuple[str, Callable[[Objects], Any]]] = {
    "default deny of ingress only": (
        "default deny",
        lambda o: named(o, "NetworkPolicy", "default-deny")["spec"].update(policyTypes=["Ingress"]),
    ),
    "a default deny that allows": (
        "default deny",
        lambda o: named(o, "NetworkPolicy", "default-deny")["spec"].update(egress=[{}]),
    ),
    "broker pods no policy names": (
        "coverage",
        lambda o: named(o, "NetworkPolicy", "rabbitmq")["spec"].update(
            podSelector={"matchLabels": {"app.kubernetes.io/name": "rabbitmq"}}
        ),
    ),
    "egress anywhere": (
        "egress",
        lambda o: policy_rules(o, "services-egress", "egress").append({}),
    ),
    "egress to the internet on 443": (
        "egress",
        lambda o: policy_rules(o, "services-egress", "egress").append(
            {"to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}], "ports": [{"port": 443}]}
        ),
    ),
    "PostgreSQL as a wide range": (
        "egress",
        lambda o: policy_rules(o, "services-egress", "egress")[2]["to"][1]["ipBlock"].update(
            cidr="10.0.0.0/8"
        ),
    ),
    "services without DNS": (
        "egress",
        lambda o: policy_rules(o, "services-egress", "egress").pop(),
    ),
    "the broker's port to another namespace": (
        "egress",
        lambda o: policy_rules(o, "services-egress", "egress")[0]["to"].append(
            {"namespaceSelector": {}}
        ),
    ),
    "every service behind the ingress controller": (
        "ingress",
        lambda o: named(o, "NetworkPolicy", "orders-from-ingress")["spec"].update(
            podSelector={"matchLabels": SERVICE_LABELS}
        ),
    ),
    "a non-public service open to every namespace": (
        "ingress",
        lambda o: policy_rules(o, "services-metrics", "ingress").append(
            {"from": [{"namespaceSelector": {}}]}
        ),
    ),
    "Prometheus on the API port": (
        "ingress",
        lambda o: policy_rules(o, "services-metrics", "ingress")[0]["ports"][0].update(port="http"),
    ),
    "a service without a metrics port": (
        "ingress",
        lambda o: _deployment(o, a_non_public_service(o))["spec"]["template"]["spec"]["containers"][
            0
        ]["ports"].pop(),
    ),
    "the broker open to the namespace": (
        "ingress",
        lambda o: policy_rules(o, "rabbitmq", "ingress")[0]["from"][0].update(podSelector={}),
    ),
    "management from any namespace": (
        "ingress",
        lambda o: policy_rules(o, "rabbitmq", "ingress")[2]["from"][0].update(namespaceSelector={}),
    ),
    "clustering ports from the services": (
        "ingress",
        lambda o: policy_rules(o, "rabbitmq", "ingress")[0]["ports"].append({"port": 25672}),
    ),
    "the Jaeger UI from another namespace": (
        "ingress",
        lambda o: policy_rules(o, "jaeger", "ingress")[1]["from"].append(
            {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "default"}}}
        ),
    ),
    "a baseline namespace": (
        "restricted",
        lambda o: of_kind(o, "Namespace")[0]["metadata"]["labels"].update(
            {"pod-security.kubernetes.io/enforce": "baseline"}
        ),
    ),
    "an init container that may escalate": (
        "restricted",
        lambda o: override(o)["initContainers"][0]["securityContext"].pop(
            "allowPrivilegeEscalation"
        ),
    ),
    "the init container left to the operator": (
        "restricted",
        lambda o: override(o).pop("initContainers"),
    ),
    "Jaeger without seccomp": (
        "restricted",
        lambda o: named(o, "Deployment", "jaeger")["spec"]["template"]["spec"][
            "securityContext"
        ].pop("seccompProfile"),
    ),
    "a service that adds a capability": (
        "restricted",
        lambda o: _deployment(o, a_non_public_service(o))["spec"]["template"]["spec"]["containers"][
            0
        ]["securityContext"]["capabilities"].update(add=["NET_ADMIN"]),
    ),
    "a container as UID 0": (
        "restricted",
        lambda o: named(o, "Deployment", "jaeger")["spec"]["template"]["spec"]["containers"][0][
            "securityContext"
        ].update(runAsUser=0),
    ),
    "a broker that may run as root": (
        "restricted",
        lambda o: (
            [c["securityContext"].pop("runAsNonRoot") for c in override(o)["containers"]]
            + [override(o)["securityContext"].pop("runAsNonRoot")]
        ),
    ),
    "a second Ingress": ("exposure", lambda o: o.append(copy.deepcopy(of_kind(o, "Ingress")[0]))),
    "an Ingress to a non-public service": (
        "exposure",
        lambda o: of_kind(o, "Ingress")[0]["spec"]["rules"][0]["http"]["paths"][0]["backend"][
            "service"
        ].update(name=a_non_public_service(o).split("/")[1]),
    ),
    "an Ingress to the metrics port": (
        "exposure",
        lambda o: of_kind(o, "Ingress")[0]["spec"]["rules"][0]["http"]["paths"][0]["backend"][
            "service"
        ].update(port={"name": "metrics"}),
    ),
    "an Ingress without TLS": ("exposure", lambda o: of_kind(o, "Ingress")[0]["spec"].pop("tls")),
    "an Ingress without a rate limit": (
        "exposure",
        lambda o: of_kind(o, "Ingress")[0]["metadata"]["annotations"].pop(NGINX + "limit-rps"),
    ),
    "a LoadBalancer Service": (
        "exposure",
        lambda o: named(o, "Service", a_non_public_service(o).split("/")[1])["spec"].update(
            type="LoadBalancer"
        ),
    ),
}


@pytest.mark.parametrize(("check", "breakage"), BREAKAGES.values(), ids=BREAKAGES.keys())
def test_a_breach_is_caught(rendered: dict[str, Objects], check: str, breakage: Any) -> None:
    objects = copy.deepcopy(rendered["prod"])
    assert CHECKS[check](objects, "prod") == []
    breakage(objects)
    assert CHECKS[check](objects, "prod") != [], f"{check} missed it"
