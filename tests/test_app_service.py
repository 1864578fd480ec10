"""AppService: safe defaults, contextual defaults, and a clear error for every bad prop."""

from __future__ import annotations

import dataclasses
import re
from typing import Any

import kubernetes_validate
import pytest
from cdk8s_plus_27 import k8s
from pydantic import ValidationError

from constructs_lib import (
    AppService,
    AppServiceProps,
    ContainerSpec,
    EgressRule,
    HttpProbe,
    IngressOptions,
    Metrics,
    NetworkAccess,
    PropsError,
    SecretKeyRef,
)
from delivery.checks import find_problems
from delivery.upgrade_rules import Impact, classify_change
from tests.construct_helpers import IMAGE, PROBE, RESOURCES, only, synth
from tests.test_rendered_output import crd_validator
from value_types.images import ImageSettings
from value_types.monitoring import RelabelingSettings
from value_types.quantities import ResourceSettings
from value_types.workloads import AutoscalingSettings


def minimal(**overrides: Any) -> AppServiceProps:
    props = AppServiceProps(
        name="web", image=IMAGE, port=8080, resources=RESOURCES, liveness_probe=PROBE, readiness_probe=PROBE
    )
    return dataclasses.replace(props, **overrides)


def render(props: AppServiceProps) -> list[dict[str, Any]]:
    return synth(lambda chart: AppService(chart, "Web", props))


def test_required_props_alone_give_a_safe_working_service() -> None:
    manifests = render(minimal())
    assert sorted(m["kind"] for m in manifests) == ["Deployment", "Service", "ServiceAccount"]
    deployment = only(manifests, "Deployment")
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert deployment["spec"]["replicas"] == 1
    assert pod["securityContext"] == {
        "runAsNonRoot": True,
        "runAsUser": 65532,
        "runAsGroup": 65532,
        "fsGroup": 65532,
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert pod["automountServiceAccountToken"] is False
    assert only(manifests, "ServiceAccount")["automountServiceAccountToken"] is False
    # Not cdk8s-plus' defaults: exactly what the props say.
    assert container["resources"]["requests"] == {"cpu": "100m", "memory": "128Mi"}
    assert container["imagePullPolicy"] == "IfNotPresent"
    assert "startupProbe" not in container
    # A writable /tmp, since the root filesystem is read-only.
    assert container["volumeMounts"] == [{"mountPath": "/tmp", "name": "writable-1"}]
    assert pod["volumes"] == [{"emptyDir": {}, "name": "writable-1"}]
    assert list(find_problems(manifests)) == []


def test_selectors_use_only_stable_labels() -> None:
    manifests = render(minimal(component="api", instance="web-blue"))
    expected = {
        "app.kubernetes.io/name": "web",
        "app.kubernetes.io/instance": "web-blue",
        "app.kubernetes.io/component": "api",
    }
    assert only(manifests, "Deployment")["spec"]["selector"] == {"matchLabels": expected}
    assert only(manifests, "Service")["spec"]["selector"] == expected
    labels = only(manifests, "Deployment")["spec"]["template"]["metadata"]["labels"]
    assert labels["app.kubernetes.io/version"] == "1.2.3"
    assert "cdk8s.io/metadata.addr" not in str(manifests)


def test_selector_does_not_change_when_the_construct_moves() -> None:
    from constructs import Construct

    flat = render(minimal())
    nested = synth(lambda chart: AppService(Construct(chart, "Deeper"), "Renamed", minimal()))
    assert only(flat, "Deployment")["spec"]["selector"] == only(nested, "Deployment")["spec"]["selector"]


def test_autoscaling_leaves_replicas_unset_and_targets_cpu_and_memory() -> None:
    manifests = render(minimal(autoscaling=AutoscalingSettings(enabled=True, min_replicas=2, max_replicas=5)))
    assert "replicas" not in only(manifests, "Deployment")["spec"]
    hpa = only(manifests, "HorizontalPodAutoscaler")
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert [m["resource"]["name"] for m in hpa["spec"]["metrics"]] == ["cpu", "memory"]


def test_autoscaling_disabled_keeps_a_fixed_replica_count() -> None:
    manifests = render(minimal(autoscaling=AutoscalingSettings(enabled=False), replicas=3))
    assert only(manifests, "Deployment")["spec"]["replicas"] == 3
    assert [m for m in manifests if m["kind"] == "HorizontalPodAutoscaler"] == []


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"min_replicas": 5, "max_replicas": 4}, "max_replicas\n  Value error, must be >= min_replicas (5)"),
        ({"min_replicas": 0}, "min_replicas\n  Input should be greater than or equal to 1"),
        ({"target_cpu_utilization_percentage": 120}, "target_cpu_utilization_percentage\n  Input should be less than"),
    ],
)
def test_autoscaling_is_the_settings_type_checked_once(fields: dict[str, int], message: str) -> None:
    """The HPA's bounds are checked by the one type settings files and props share, not again by AppService."""
    with pytest.raises(ValidationError) as caught:
        AutoscalingSettings.model_validate({"enabled": True, **fields})
    assert message in str(caught.value)


def test_config_becomes_a_configmap_and_its_change_rolls_the_pods() -> None:
    first = render(minimal(config={"MODE": "a"}))
    second = render(minimal(config={"MODE": "b"}))
    assert only(first, "ConfigMap")["data"] == {"MODE": "a"}
    container = only(first, "Deployment")["spec"]["template"]["spec"]["containers"][0]
    assert container["envFrom"] == [{"configMapRef": {"name": "web-config"}}]

    def checksum(manifests: list[dict[str, Any]]) -> str:
        annotations: dict[str, str] = only(manifests, "Deployment")["spec"]["template"]["metadata"]["annotations"]
        return annotations["checksum/config"]

    assert checksum(first) != checksum(second)


def test_secret_env_is_a_reference() -> None:
    manifests = render(minimal(secret_env=[SecretKeyRef(env_name="DB_PASSWORD", secret_name="db", key="pw")]))
    env = only(manifests, "Deployment")["spec"]["template"]["spec"]["containers"][0]["env"]
    assert env == [{"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "db", "key": "pw"}}}]


def test_env_from_secrets_follows_the_configmap() -> None:
    manifests = render(minimal(config={"A": "1"}, env_from_secrets=["web-env"]))
    container = only(manifests, "Deployment")["spec"]["template"]["spec"]["containers"][0]
    assert container["envFrom"] == [{"configMapRef": {"name": "web-config"}}, {"secretRef": {"name": "web-env"}}]


def test_optional_parts() -> None:
    props = minimal(
        autoscaling=AutoscalingSettings(enabled=True, min_replicas=2, max_replicas=4),
        max_unavailable=1,
        metrics=Metrics(),
        network_access=NetworkAccess(from_namespaces=["ingress-nginx"], egress=[EgressRule(ports=[5432])]),
        init_containers=[ContainerSpec(name="migrate", image=IMAGE, resources=RESOURCES, command=["migrate"])],
        sidecars=[ContainerSpec(name="proxy", image=IMAGE, resources=RESOURCES, ports={"proxy": 9000})],
    )
    manifests = synth(
        lambda chart: AppService(chart, "Web", props).expose_via_ingress(IngressOptions(hosts=["web.example.com"]))
    )
    kinds = sorted(m["kind"] for m in manifests)
    assert kinds == [
        "Deployment",
        "HorizontalPodAutoscaler",
        "Ingress",
        "NetworkPolicy",
        "PodDisruptionBudget",
        "Service",
        "ServiceAccount",
        "ServiceMonitor",
    ]
    pod = only(manifests, "Deployment")["spec"]["template"]
    assert pod["metadata"]["annotations"]["prometheus.io/port"] == "8080"
    assert [c["name"] for c in pod["spec"]["initContainers"]] == ["migrate"]
    assert [c["name"] for c in pod["spec"]["containers"]] == ["web", "proxy"]
    for container in [*pod["spec"]["initContainers"], *pod["spec"]["containers"]]:
        assert container["securityContext"]["readOnlyRootFilesystem"] is True
    spread = pod["spec"]["topologySpreadConstraints"][0]
    assert spread["topologyKey"] == "topology.kubernetes.io/zone"
    anti = pod["spec"]["affinity"]["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"][0]
    assert anti["podAffinityTerm"]["topologyKey"] == "kubernetes.io/hostname"
    assert list(find_problems(manifests)) == []


@pytest.mark.parametrize(
    ("overrides", "prop", "allowed"),
    [
        ({"name": "Web_1"}, "name", "a DNS label"),
        ({"port": 70000}, "port", "1..65535"),
        (
            {"replicas": 3, "autoscaling": AutoscalingSettings(enabled=True, min_replicas=2, max_replicas=4)},
            "replicas",
            "None when",
        ),
        ({"max_unavailable": 0}, "max_unavailable", "block every node drain"),
        ({"env": {"API_TOKEN": "abc"}}, "env.API_TOKEN", "reference a Secret"),
        ({"config": {"DB_PASSWORD": "abc"}}, "env.DB_PASSWORD", "reference a Secret"),
        ({"env": {"1BAD": "x"}}, "env", "a variable name"),
        ({"liveness_probe": HttpProbe(path="/h", port="metrics")}, "liveness_probe.port", "one of the container's"),
        ({"liveness_probe": HttpProbe(path="h")}, "liveness_probe.path", "starting with '/'"),
        ({"liveness_probe": HttpProbe(path="/h", success_threshold=2)}, "liveness_probe.success_threshold", "1"),
        ({"writable_paths": ["tmp"]}, "writable_paths", "absolute"),
        (
            {"sidecars": [ContainerSpec(name="web", image=IMAGE, resources=RESOURCES)]},
            "sidecars",
            "distinct container names",
        ),
    ],
)
def test_bad_props_name_the_prop_the_value_and_what_is_allowed(
    overrides: dict[str, Any], prop: str, allowed: str
) -> None:
    with pytest.raises(PropsError) as caught:
        render(minimal(**overrides))
    assert caught.value.construct == "AppService"
    assert caught.value.prop == prop
    assert allowed in caught.value.allowed
    assert f"prop '{prop}'" in str(caught.value)


def test_credential_values_are_not_echoed_in_errors() -> None:
    with pytest.raises(PropsError) as caught:
        render(minimal(env={"API_TOKEN": "s3cr3t"}))
    assert "s3cr3t" not in str(caught.value)


def _allowed_peers(manifests: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    policy = next(m for m in manifests if m["kind"] == "NetworkPolicy" and m["metadata"]["name"] == name)
    rules: list[dict[str, Any]] = policy["spec"].get("ingress", [])
    return rules


def test_allow_from_admits_the_other_workload_by_its_stable_selector() -> None:
    def build(chart: Any) -> None:
        web = AppService(chart, "Web", minimal(network_access=NetworkAccess(from_namespaces=["ingress-nginx"])))
        api = AppService(chart, "Api", minimal(name="api", network_access=NetworkAccess()))
        worker = AppService(chart, "Worker", minimal(name="worker"))
        web.allow_from(worker)  # appended to the rule the namespaces made
        api.allow_from(web)  # the policy had no rule: one is made, on the service's port
        worker.allow_from(web)  # no policy: nothing is isolated, nothing to add

    manifests = synth(build)
    assert _allowed_peers(manifests, "web") == [
        {
            "from": [
                {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}}},
                {
                    "podSelector": {
                        "matchLabels": {
                            "app.kubernetes.io/name": "worker",
                            "app.kubernetes.io/instance": "worker",
                            "app.kubernetes.io/component": "server",
                        }
                    }
                },
            ],
            "ports": [{"port": 8080, "protocol": "TCP"}],
        }
    ]
    (rule,) = _allowed_peers(manifests, "api")
    assert rule["ports"] == [{"port": 8080, "protocol": "TCP"}]
    assert [peer["podSelector"]["matchLabels"]["app.kubernetes.io/name"] for peer in rule["from"]] == ["web"]
    assert [m["metadata"]["name"] for m in manifests if m["kind"] == "NetworkPolicy"] == ["web", "api"]


def test_expose_via_ingress_needs_a_service() -> None:
    def build(chart: Any) -> None:
        AppService(chart, "Web", minimal(expose=False)).expose_via_ingress(IngressOptions(hosts=["web.example.com"]))

    with pytest.raises(PropsError) as caught:
        synth(build)
    assert caught.value.prop == "expose"


@pytest.mark.parametrize(
    ("requests", "limits", "message"),
    [
        ({"cpu": "2", "memory": "1Gi"}, {"cpu": "1", "memory": "1Gi"}, "cpu limit 1 is below the cpu request 2"),
        (
            {"cpu": "1", "memory": "lots"},
            {"cpu": "1", "memory": "1Gi"},
            "requests.memory\n  Value error, must be a memory",
        ),
    ],
)
def test_resources_are_one_checked_type_for_settings_and_props(
    requests: dict[str, str], limits: dict[str, str], message: str
) -> None:
    """Bad resources never reach a construct: the type the props take checks them when it is made, with the
    same words a settings file gets."""
    with pytest.raises(ValidationError) as caught:
        ResourceSettings.model_validate({"requests": requests, "limits": limits})
    assert message in str(caught.value)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"tag": "a b"}, "tag\n  Value error, must be an image tag"),
        ({"tag": "latest"}, "tag 'latest' moves to new builds"),
        ({"repository": "x/y:1"}, "repository\n  Value error, must be an image name without tag"),
        ({"pull_policy": "Sometimes"}, "pull_policy\n  Input should be 'Always', 'IfNotPresent' or 'Never'"),
    ],
)
def test_images_are_one_checked_type_for_settings_and_props(fields: dict[str, str], message: str) -> None:
    """A container's image is the settings' ImageSettings: a bad one is refused when made, as in a settings file."""
    with pytest.raises(ValidationError) as caught:
        ImageSettings.model_validate({"repository": "ghcr.io/acme/web", "tag": "1.2.3", **fields})
    assert message in str(caught.value)


def _tmp_volume(pod: dict[str, Any], container: dict[str, Any]) -> dict[str, Any]:
    (mount,) = [m for m in container.get("volumeMounts", []) if m["mountPath"] == "/tmp"]
    (volume,) = [v for v in pod["volumes"] if v["name"] == mount["name"]]
    return dict(volume)


def test_every_container_gets_its_own_writable_tmp() -> None:
    """Issue 15 item 10: the root filesystem is read-only, so the main container, every sidecar and every init
    container gets a writable emptyDir at /tmp, each its own; a container that mounts something there keeps it."""
    init = ContainerSpec(name="migrate", image=IMAGE, resources=RESOURCES, command=["migrate"])
    sidecar = ContainerSpec(name="proxy", image=IMAGE, resources=RESOURCES)
    manifests = render(minimal(init_containers=[init], sidecars=[sidecar]))
    template = only(manifests, "Deployment")["spec"]["template"]
    pod = template["spec"]
    main, proxy = pod["containers"]
    (migrate,) = pod["initContainers"]
    assert _tmp_volume(pod, main) == {"name": "writable-1", "emptyDir": {}}  # the main container's writable_paths
    assert _tmp_volume(pod, proxy) == {"name": "proxy-tmp", "emptyDir": {}}
    assert _tmp_volume(pod, migrate) == {"name": "migrate-tmp", "emptyDir": {}}
    assert "annotations" not in template["metadata"]
    assert list(find_problems(manifests)) == []


def test_a_container_that_needs_no_tmp_is_named_in_the_pod() -> None:
    init = ContainerSpec(name="migrate", image=IMAGE, resources=RESOURCES, writable_tmp=False)
    manifests = render(minimal(init_containers=[init]))
    template = only(manifests, "Deployment")["spec"]["template"]
    (migrate,) = template["spec"]["initContainers"]
    assert "volumeMounts" not in migrate
    assert template["metadata"]["annotations"]["k8s-workloads/no-writable-tmp"] == "migrate"
    assert list(find_problems(manifests)) == []


def test_a_volume_named_like_a_scratch_volume_is_refused() -> None:
    init = ContainerSpec(name="migrate", image=IMAGE, resources=RESOURCES)
    taken = k8s.Volume(name="migrate-tmp", empty_dir=k8s.EmptyDirVolumeSource())
    with pytest.raises(PropsError, match="migrate-tmp"):
        render(minimal(init_containers=[init], volumes=[taken]))


def test_pod_labels_go_on_the_pods_only() -> None:
    manifests = render(minimal(pod_labels={"app": "web"}))
    deployment = only(manifests, "Deployment")
    assert deployment["spec"]["template"]["metadata"]["labels"]["app"] == "web"
    assert "app" not in deployment["spec"]["selector"]["matchLabels"]
    assert "app" not in deployment["metadata"]["labels"]
    assert "app" not in only(manifests, "Service")["spec"]["selector"]


@pytest.mark.parametrize(
    ("labels", "prop"),
    [
        ({"app.kubernetes.io/instance": "x"}, "pod_labels"),
        ({"bad key!": "x"}, "pod_labels"),
        ({"app": "not a value"}, "pod_labels.app"),
    ],
)
def test_pod_labels_are_checked(labels: dict[str, str], prop: str) -> None:
    with pytest.raises(PropsError) as error:
        render(minimal(pod_labels=labels))
    assert error.value.prop == prop


def test_a_headless_service_has_no_cluster_ip_and_switching_is_refused_in_place() -> None:
    """Seed "service.yaml": support for a headless Service. The API server refuses to change an existing Service's
    clusterIP, so the diff's rule must refuse the switch both ways."""
    normal = only(render(minimal()), "Service")
    headless = only(render(minimal(headless=True)), "Service")
    assert "clusterIP" not in normal["spec"]
    assert headless["spec"]["clusterIP"] == "None"
    assert headless["spec"]["selector"] == normal["spec"]["selector"]
    kubernetes_validate.validate(headless, "1.27.0", strict=True)
    for old, new in ((normal, headless), (headless, normal)):
        (finding,) = classify_change(old, new)
        assert (finding.impact, finding.field) == (Impact.REFUSED, "spec.clusterIP")


CUSTOM_METRICS: list[dict[str, Any]] = [
    {"type": "Pods", "name": "http_requests_per_second", "target_average_value": "100"},
    {
        "type": "Object",
        "name": "requests_per_second",
        "described_object": {"api_version": "networking.k8s.io/v1", "kind": "Ingress", "name": "web"},
        "target": {"type": "Value", "value": "2k"},
    },
    {
        "type": "External",
        "name": "kafka_consumergroup_lag",
        "selector": {"topic": "orders"},
        "target": {"value": "500m"},
    },
]


def test_custom_and_external_metrics_scale_the_hpa() -> None:
    scaling = AutoscalingSettings.model_validate({"enabled": True, "custom_metrics": CUSTOM_METRICS})
    hpa = only(render(minimal(autoscaling=scaling)), "HorizontalPodAutoscaler")
    kubernetes_validate.validate(hpa, "1.27.0", strict=True)
    assert [m["type"] for m in hpa["spec"]["metrics"]] == ["Resource", "Resource", "Pods", "Object", "External"]
    pods, obj, external = hpa["spec"]["metrics"][2:]
    assert pods["pods"] == {
        "metric": {"name": "http_requests_per_second"},
        "target": {"type": "AverageValue", "averageValue": "100"},
    }
    assert obj["object"] == {
        "describedObject": {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "name": "web"},
        "metric": {"name": "requests_per_second"},
        "target": {"type": "Value", "value": "2k"},
    }
    assert external["external"] == {
        "metric": {"name": "kafka_consumergroup_lag", "selector": {"matchLabels": {"topic": "orders"}}},
        "target": {"type": "AverageValue", "averageValue": "500m"},
    }


@pytest.mark.parametrize(
    ("metric", "field"),
    [
        ({**CUSTOM_METRICS[0], "name": "1bad name"}, "custom_metrics.0.Pods.name"),
        ({**CUSTOM_METRICS[0], "target_average_value": "lots"}, "custom_metrics.0.Pods.target_average_value"),
        ({**CUSTOM_METRICS[1], "target": {"type": "Utilization", "value": "1"}}, "custom_metrics.0.Object.target.type"),
        ({**CUSTOM_METRICS[1], "described_object": {"api_version": "v1", "kind": "svc", "name": "web"}}, "kind"),
        ({**CUSTOM_METRICS[2], "selector": {"topic": "not a value"}}, "custom_metrics.0.External.selector.topic"),
        ({"type": "Resource", "name": "cpu"}, "custom_metrics.0"),
    ],
)
def test_bad_custom_metrics_are_refused(metric: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as error:
        AutoscalingSettings.model_validate({"enabled": True, "custom_metrics": [metric]})
    paths = [".".join(str(part) for part in e["loc"]) for e in error.value.errors()]
    assert any(path.startswith(field) or path.endswith(field) for path in paths), paths


RELABELINGS: list[dict[str, Any]] = [
    {"source_labels": ["__meta_kubernetes_pod_node_name"], "target_label": "node"},
    {"source_labels": ["__address__"], "target_label": "shard", "modulus": 4, "action": "hashmod"},
    {"regex": "__meta_kubernetes_pod_label_(.+)", "action": "labelmap"},
]
METRIC_RELABELINGS: list[dict[str, Any]] = [
    {"source_labels": ["__name__"], "regex": "go_gc_.*", "action": "drop"},
    {"source_labels": ["route"], "separator": ";", "regex": "/api/(.*)", "target_label": "route", "replacement": "$1"},
]


def test_service_monitor_relabelings_and_metric_relabelings() -> None:
    """Seed "servicemonitor.yaml": metric relabeling if needed. Rendered in order, unset fields left out, and valid
    against the vendored prometheus-operator CRD, strictly."""
    metrics = Metrics(
        relabelings=[RelabelingSettings.model_validate(rule) for rule in RELABELINGS],
        metric_relabelings=[RelabelingSettings.model_validate(rule) for rule in METRIC_RELABELINGS],
    )
    monitor = only(render(minimal(metrics=metrics)), "ServiceMonitor")
    assert list(crd_validator(monitor["apiVersion"], "ServiceMonitor").iter_errors(monitor)) == []
    (endpoint,) = monitor["spec"]["endpoints"]
    assert endpoint["relabelings"] == [
        {"action": "replace", "sourceLabels": ["__meta_kubernetes_pod_node_name"], "targetLabel": "node"},
        {"action": "hashmod", "modulus": 4, "sourceLabels": ["__address__"], "targetLabel": "shard"},
        {"action": "labelmap", "regex": "__meta_kubernetes_pod_label_(.+)"},
    ]
    assert endpoint["metricRelabelings"] == [
        {"action": "drop", "regex": "go_gc_.*", "sourceLabels": ["__name__"]},
        {
            "action": "replace",
            "regex": "/api/(.*)",
            "replacement": "$1",
            "separator": ";",
            "sourceLabels": ["route"],
            "targetLabel": "route",
        },
    ]
    assert "relabelings" not in only(render(minimal(metrics=Metrics())), "ServiceMonitor")["spec"]["endpoints"][0]


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ({"source_labels": ["a"], "regex": "(unclosed", "target_label": "x"}, "not a valid regular expression"),
        ({"source_labels": ["a"], "regex": "(?!x).*", "action": "keep"}, "RE2 syntax"),
        ({"source_labels": ["a"], "regex": "(a)\\1", "action": "keep"}, "RE2 syntax"),
        ({"source_labels": ["a"]}, "target_label is required with action replace"),
        ({"action": "drop", "regex": "x"}, "source_labels are required with action drop"),
        ({"source_labels": ["a"], "target_label": "x", "action": "hashmod"}, "modulus is required"),
        ({"source_labels": ["a"], "target_label": "x", "modulus": 2}, "modulus is required with action hashmod"),
        ({"source_labels": ["a"], "target_label": "x", "action": "Replace"}, "action"),
        ({"source_labels": ["bad-label"], "target_label": "x"}, "Prometheus label name"),
    ],
)
def test_bad_relabelings_are_refused(rule: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=re.escape(message)):
        RelabelingSettings.model_validate(rule)
