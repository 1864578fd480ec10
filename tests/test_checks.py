"""The whole-environment checks that every synth runs: each rule fires on a broken object set."""

from __future__ import annotations

import copy
import json
import re
from typing import Any

import pytest

from delivery.checks import RenderCheckError, check_environment, check_stacks, find_problems
from engine import RenderedEnvironment

LABELS = {
    "app.kubernetes.io/name": "web",
    "app.kubernetes.io/instance": "web",
    "app.kubernetes.io/component": "api",
    "app.kubernetes.io/part-of": "web",
    "app.kubernetes.io/version": "1",
    "app.kubernetes.io/managed-by": "cdk8s",
}
SELECTOR = {
    k: LABELS[k] for k in ("app.kubernetes.io/name", "app.kubernetes.io/instance", "app.kubernetes.io/component")
}


def good() -> list[dict[str, Any]]:
    meta = {"name": "web", "namespace": "apps", "labels": LABELS}
    return [
        {
            "kind": "Deployment",
            "metadata": meta,
            "spec": {
                "selector": {"matchLabels": SELECTOR},
                "template": {"metadata": {"labels": LABELS}, "spec": {"automountServiceAccountToken": False}},
            },
        },
        {"kind": "Service", "metadata": meta, "spec": {"selector": SELECTOR, "ports": [{"name": "http", "port": 80}]}},
        {"kind": "NetworkPolicy", "metadata": meta, "spec": {"podSelector": {"matchLabels": SELECTOR}}},
        {
            "kind": "Ingress",
            "metadata": meta,
            "spec": {
                "rules": [{"http": {"paths": [{"backend": {"service": {"name": "web", "port": {"name": "http"}}}}]}}]
            },
        },
        {
            "kind": "HorizontalPodAutoscaler",
            "metadata": meta,
            "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "web"}},
        },
    ]


def test_a_consistent_set_passes() -> None:
    assert list(find_problems(good())) == []


def broken(kind: str, path: list[str], value: Any) -> list[dict[str, Any]]:
    manifests = copy.deepcopy(good())
    target = next(m for m in manifests if m["kind"] == kind)
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return manifests


@pytest.mark.parametrize(
    ("manifests", "expected"),
    [
        (broken("Service", ["spec", "selector"], {"app.kubernetes.io/name": "other"}), "matches no pod"),
        (broken("NetworkPolicy", ["spec", "podSelector"], {"matchLabels": {"x": "y"}}), "matches no pod"),
        (
            broken("Deployment", ["spec", "selector"], {"matchLabels": {"cdk8s.io/metadata.addr": "c8"}}),
            "metadata.addr",
        ),
        (broken("Deployment", ["spec", "replicas"], 3), "fixed replicas while an HPA"),
        (
            broken("HorizontalPodAutoscaler", ["spec", "scaleTargetRef"], {"kind": "Deployment", "name": "x"}),
            "not rendered",
        ),
        (broken("Service", ["spec", "ports"], [{"name": "grpc", "port": 9000}]), "backend port"),
        (
            broken("Service", ["metadata"], {"name": "other", "namespace": "apps", "labels": LABELS}),
            "backend Service web",
        ),
        (broken("Deployment", ["metadata", "labels"], {}), "missing recommended labels"),
        (
            broken("NetworkPolicy", ["spec", "ingress"], [{"from": [{"podSelector": {"matchLabels": {"a": "b"}}}]}]),
            "peer selector",
        ),
        (
            broken(
                "Deployment",
                ["spec", "template", "spec"],
                {"containers": [{"name": "c", "volumeMounts": [{"name": "v"}]}]},
            ),
            "undeclared volume v",
        ),
        (
            broken(
                "Deployment",
                ["spec", "template", "spec"],
                {"containers": [{"name": "c", "envFrom": [{"configMapRef": {"name": "cm"}}]}]},
            ),
            "reads ConfigMap cm",
        ),
        (
            broken(
                "Deployment",
                ["spec", "template", "spec"],
                {"volumes": [{"name": "d", "persistentVolumeClaim": {"claimName": "data"}}]},
            ),
            "PersistentVolumeClaim data",
        ),
        (
            broken(
                "Deployment",
                ["spec", "template", "spec"],
                {"serviceAccountName": "web", "automountServiceAccountToken": True},
            ),
            "no RoleBinding grants",
        ),
        (
            [*good(), {"kind": "Role", "metadata": {"name": "r", "namespace": "apps", "labels": LABELS}}],
            "bound by no RoleBinding",
        ),
        (
            [
                *good(),
                {
                    "kind": "RoleBinding",
                    "metadata": {"name": "b", "namespace": "apps", "labels": LABELS},
                    "roleRef": {"kind": "Role", "name": "missing"},
                    "subjects": [{"kind": "ServiceAccount", "name": "ghost"}],
                },
            ],
            "binds Role/missing",
        ),
        (
            [
                *good(),
                {"kind": "Secret", "metadata": {"name": "s", "labels": LABELS}, "data": {"password": "aHVudGVyMg=="}},
            ],
            "would be committed to git",
        ),
    ],
)
def test_each_rule_fires(manifests: list[dict[str, Any]], expected: str) -> None:
    with pytest.raises(RenderCheckError, match=expected):
        check_environment(manifests)


def test_rendered_environments_pass(rendered: dict[str, RenderedEnvironment]) -> None:
    for by_stack in rendered.values():
        assert list(find_problems([m for objs in by_stack.values() for m in objs])) == []


# What the Pod Security `restricted` check asks of every container (tests/test_pod_security.py tests it).
RESTRICTED_CONTEXT = {
    "allowPrivilegeEscalation": False,
    "capabilities": {"drop": ["ALL"]},
    "runAsNonRoot": True,
    "seccompProfile": {"type": "RuntimeDefault"},
}


def _pod(image: str = "registry.example/web:1.0.0", **spec: Any) -> dict[str, Any]:
    container = {"name": "c", "image": image, "securityContext": RESTRICTED_CONTEXT}
    return {
        "metadata": {"labels": LABELS},
        "spec": {"automountServiceAccountToken": False, "containers": [container], **spec},
    }


def _job(name: str, annotations: dict[str, str] | None = None) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name, "namespace": "apps", "labels": LABELS}
    if annotations:
        metadata["annotations"] = annotations
    return {"kind": "Job", "metadata": metadata, "spec": {"template": _pod(restartPolicy="Never")}}


def test_a_plain_job_is_refused() -> None:
    """A Job's pod template is immutable: a Job kept in an Application fails the sync of the next image bump."""
    (problem,) = find_problems([_job("agent")])
    assert problem.startswith("Job/agent: a Job's pod template cannot be changed")


@pytest.mark.parametrize(
    "annotations",
    [
        {"argocd.argoproj.io/hook": "PreSync"},
        {"argocd.argoproj.io/sync-options": "Replace=true"},
        {"argocd.argoproj.io/sync-options": "Force=true, Replace=true"},
    ],
)
def test_a_hook_job_or_one_replaced_on_sync_is_accepted(annotations: dict[str, str]) -> None:
    assert list(find_problems([_job("migrate", annotations)])) == []


@pytest.mark.parametrize(
    ("image", "ok"),
    [
        ("registry.example/web:1.0.0", True),
        ("registry.example/web:sha-4e1f0c2", True),
        ("registry.example:5000/web@sha256:" + "a" * 64, True),
        ("registry.example/web:latest", False),
        ("registry.example/web:main", False),
        ("registry.example:5000/web", False),  # no tag means latest
        ("web", False),
    ],
)
def test_rendered_images_name_one_build(image: str, ok: bool) -> None:
    manifests = copy.deepcopy(good())
    manifests[0]["spec"]["template"] = _pod(image)
    problems = [p for p in find_problems(manifests) if "image" in p]
    assert (problems == []) is ok, problems


def _claim(access_mode: str) -> dict[str, Any]:
    return {
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": "data", "namespace": "apps", "labels": LABELS},
        "spec": {"accessModes": [access_mode]},
    }


def _claim_users(cron_spec: dict[str, Any], web_spec: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """The web Deployment (Recreate) and a CronJob mounting the same claim."""
    volumes = [{"name": "data", "persistentVolumeClaim": {"claimName": "data"}}]
    cron_labels = {**LABELS, "app.kubernetes.io/component": "cron"}
    manifests = copy.deepcopy(good())
    manifests[0]["spec"]["strategy"] = {"type": "Recreate"}
    manifests[0]["spec"]["template"] = _pod(volumes=volumes, **(web_spec or {}))
    cron_pod = _pod(volumes=volumes, restartPolicy="Never", **cron_spec)
    cron_pod["metadata"]["labels"] = cron_labels
    manifests.append(
        {
            "kind": "CronJob",
            "metadata": {"name": "cron", "namespace": "apps", "labels": cron_labels},
            "spec": {"jobTemplate": {"spec": {"template": cron_pod}}},
        }
    )
    return manifests


def _affinity(selector: dict[str, str], topology: str = "kubernetes.io/hostname") -> dict[str, Any]:
    term = {"labelSelector": {"matchLabels": selector}, "topologyKey": topology}
    return {"affinity": {"podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [term]}}}


@pytest.mark.parametrize(
    ("access_mode", "cron_spec", "web_spec", "ok"),
    [
        # Nothing keeps the CronJob's pod on the web pod's node.
        ("ReadWriteOnce", {}, None, False),
        ("ReadWriteOncePod", {}, None, False),
        # Required pod affinity to the web pods, per host name.
        ("ReadWriteOnce", _affinity(SELECTOR), None, True),
        # ... per zone is not enough: two nodes of one zone cannot share the volume.
        ("ReadWriteOnce", _affinity(SELECTOR, "topology.kubernetes.io/zone"), None, False),
        # ... and it must select the web pods.
        ("ReadWriteOnce", _affinity({"app.kubernetes.io/name": "other"}), None, False),
        # The same node pinned for both.
        (
            "ReadWriteOnce",
            {"nodeSelector": {"kubernetes.io/hostname": "n1"}},
            {"nodeSelector": {"kubernetes.io/hostname": "n1"}},
            True,
        ),
        (
            "ReadWriteOnce",
            {"nodeSelector": {"kubernetes.io/hostname": "n2"}},
            {"nodeSelector": {"kubernetes.io/hostname": "n1"}},
            False,
        ),
        # Storage every node can mount needs no placement.
        ("ReadWriteMany", {}, None, True),
    ],
)
def test_a_single_node_claim_keeps_its_pods_on_one_node(
    access_mode: str, cron_spec: dict[str, Any], web_spec: dict[str, Any] | None, ok: bool
) -> None:
    manifests = [*_claim_users(cron_spec, web_spec), _claim(access_mode)]
    problems = [p for p in find_problems(manifests) if "PersistentVolumeClaim/data" in p]
    assert (problems == []) is ok, problems
    if not ok:
        assert "Deployment/web, CronJob/cron" in problems[0]


def test_a_rolling_deployment_on_a_single_node_claim_is_refused() -> None:
    manifests = [*_claim_users(_affinity(SELECTOR)), _claim("ReadWriteOnce")]
    del manifests[0]["spec"]["strategy"]
    (problem,) = find_problems(manifests)
    assert problem.startswith("Deployment/web: mounts ReadWriteOnce claim data with a RollingUpdate strategy")


def _route(name: str, host: str, path: str = "/", entry_point: str = "websecure") -> dict[str, Any]:
    match = f"Host(`{host}`)" + (f" && PathPrefix(`{path}`)" if path != "/" else "")
    return {
        "kind": "IngressRoute",
        "metadata": {"name": name, "namespace": "apps", "labels": LABELS},
        "spec": {
            "entryPoints": [entry_point],
            "routes": [{"match": match, "services": [{"name": "web", "port": "http"}]}],
        },
    }


def _ingress(name: str, host: str, path: str = "/") -> dict[str, Any]:
    backend = {"service": {"name": "web", "port": {"name": "http"}}}
    return {
        "kind": "Ingress",
        "metadata": {"name": name, "namespace": "apps", "labels": LABELS},
        "spec": {
            "ingressClassName": "nginx",
            "rules": [{"host": host, "http": {"paths": [{"path": path, "backend": backend}]}}],
        },
    }


@pytest.mark.parametrize(
    ("routes", "conflict"),
    [
        ([_ingress("a", "x.example.com"), _ingress("b", "x.example.com")], "Ingress/a and Ingress/b"),
        ([_ingress("a", "x.example.com"), _ingress("b", "x.example.com", "/api")], None),
        ([_ingress("a", "x.example.com"), _ingress("b", "y.example.com")], None),
        ([_route("a", "x.example.com"), _route("b", "x.example.com")], "IngressRoute/a and IngressRoute/b"),
        ([_route("a", "x.example.com", "/api"), _route("b", "x.example.com", "/api")], "path /api"),
        # An HTTP route and an HTTPS route of one host (a redirect) are on different entry points.
        ([_route("a", "x.example.com", entry_point="web"), _route("b", "x.example.com")], None),
    ],
)
def test_two_routes_may_not_claim_one_host_and_path(routes: list[dict[str, Any]], conflict: str | None) -> None:
    manifests = [*good()[:2], *routes]
    problems = [p for p in find_problems(manifests) if "both route" in p]
    if conflict is None:
        assert problems == []
    else:
        (problem,) = problems
        assert conflict in problem


def test_two_stacks_may_not_render_one_object() -> None:
    config = {"kind": "ConfigMap", "metadata": {"name": "shared", "namespace": "apps", "labels": LABELS}}
    with pytest.raises(RenderCheckError) as caught:
        check_stacks({"one": [*good(), config], "two": [copy.deepcopy(config)]})
    assert str(caught.value).startswith("ConfigMap/shared in namespace apps: rendered by stacks one, two")
    check_stacks({"one": [*good(), config], "two": []})


def test_a_claim_template_without_the_version_label() -> None:
    """A StatefulSet's claim templates cannot change: a version label there turns every image bump into an update
    the API server refuses."""
    labels: dict[str, str] = dict(LABELS)
    claim: dict[str, Any] = {"metadata": {"name": "data", "labels": labels}, "spec": {"accessModes": ["ReadWriteOnce"]}}
    manifests = copy.deepcopy(good())
    manifests[0]["kind"] = "StatefulSet"
    manifests[0]["spec"]["volumeClaimTemplates"] = [claim]
    (problem,) = [p for p in find_problems(manifests) if "claim template" in p]
    assert problem.startswith("StatefulSet/web: claim template data carries app.kubernetes.io/version")
    del manifests[0]["spec"]["volumeClaimTemplates"][0]["metadata"]["labels"]["app.kubernetes.io/version"]
    assert [p for p in find_problems(manifests) if "claim template" in p] == []


READ_ONLY = {"readOnlyRootFilesystem": True}


def _scratch_pod(mounts: list[dict[str, Any]], volumes: list[dict[str, Any]], exempt: str | None = None) -> Any:
    pod = _pod(
        volumes=volumes,
        initContainers=[{"name": "migrate", "image": "registry.example/web:1.0.0", "securityContext": READ_ONLY}],
    )
    pod["spec"]["containers"][0].update(securityContext=READ_ONLY, volumeMounts=mounts)
    pod["spec"]["initContainers"][0]["volumeMounts"] = [{"name": "migrate-tmp", "mountPath": "/tmp"}]
    volumes.append({"name": "migrate-tmp", "emptyDir": {}})
    if exempt:
        pod["metadata"]["annotations"] = {"k8s-workloads/no-writable-tmp": exempt}
    return pod


@pytest.mark.parametrize(
    ("mounts", "volumes", "exempt", "problem"),
    [
        ([{"name": "tmp", "mountPath": "/tmp"}], [{"name": "tmp", "emptyDir": {}}], None, False),
        ([{"name": "tmp", "mountPath": "/tmp/"}], [{"name": "tmp", "emptyDir": {}}], None, False),
        ([], [], None, True),
        ([{"name": "data", "mountPath": "/data"}], [{"name": "data", "emptyDir": {}}], None, True),
        ([{"name": "tmp", "mountPath": "/tmp", "readOnly": True}], [{"name": "tmp", "emptyDir": {}}], None, True),
        # A ConfigMap at /tmp is not scratch space: the kubelet mounts it read-only.
        ([{"name": "tmp", "mountPath": "/tmp"}], [{"name": "tmp", "configMap": {"name": "x"}}], None, True),
        ([], [], "c", False),
        ([], [], "migrate, c", False),
        ([], [], "migrate", True),
    ],
)
def test_a_read_only_container_has_a_writable_tmp(
    mounts: list[dict[str, Any]], volumes: list[dict[str, Any]], exempt: str | None, problem: bool
) -> None:
    manifests = copy.deepcopy(good())
    manifests[0]["spec"]["template"] = _scratch_pod(mounts, volumes, exempt)
    problems = [p for p in find_problems(manifests) if "/tmp" in p]
    expected = [
        "Deployment/web: container c has a read-only root filesystem and no writable emptyDir at /tmp; mount one "
        "(render_pod does), or set writable_tmp=False in its props if it never writes there"
    ]
    assert problems == (expected if problem else [])


def test_an_init_container_without_tmp_is_named() -> None:
    manifests = copy.deepcopy(good())
    pod = _scratch_pod([{"name": "tmp", "mountPath": "/tmp"}], [{"name": "tmp", "emptyDir": {}}])
    del pod["spec"]["initContainers"][0]["volumeMounts"]
    manifests[0]["spec"]["template"] = pod
    assert [p for p in find_problems(manifests) if "/tmp" in p] == [
        "Deployment/web: container migrate has a read-only root filesystem and no writable emptyDir at /tmp; mount "
        "one (render_pod does), or set writable_tmp=False in its props if it never writes there"
    ]


@pytest.mark.parametrize(
    ("selector", "message"),
    [
        ({**SELECTOR, "app.kubernetes.io/version": "1"}, "is not exactly the stable labels"),
        ({"app.kubernetes.io/name": "web"}, "is not exactly the stable labels"),
        ({**SELECTOR, "app": "web"}, "is not exactly the stable labels"),
    ],
)
def test_a_workload_selects_by_the_stable_labels_only(selector: dict[str, str], message: str) -> None:
    manifests = broken("Deployment", ["spec", "selector"], {"matchLabels": selector})
    with pytest.raises(RenderCheckError, match=message):
        check_environment(manifests)


def test_two_workloads_may_not_select_each_others_pods() -> None:
    manifests = copy.deepcopy(good())
    other = copy.deepcopy(manifests[0])
    other["metadata"] = {**other["metadata"], "name": "web-canary"}
    manifests.append(other)
    problems = [p for p in find_problems(manifests) if "also matches" in p]
    assert problems == [
        f"Deployment/{a}: selector {SELECTOR} also matches the pods of Deployment/{b}; each workload's name, instance "
        "and component must together select its pods alone"
        for a, b in (("web", "web-canary"), ("web-canary", "web"))
    ]
    # Another component of the same instance is a different workload: no overlap.
    other["spec"]["selector"]["matchLabels"] = {**SELECTOR, "app.kubernetes.io/component": "worker"}
    other["spec"]["template"]["metadata"]["labels"] = {**LABELS, "app.kubernetes.io/component": "worker"}
    assert [p for p in find_problems(manifests) if "also matches" in p] == []


class _CountedLookups(dict[str, Any]):
    """An object (or any mapping in one) that counts the look-ups into it: how much work the checks do."""

    lookups = 0

    def get(self, key: str, default: Any = None, /) -> Any:
        _CountedLookups.lookups += 1
        return super().get(key, default)

    def __getitem__(self, key: str) -> Any:
        _CountedLookups.lookups += 1
        return super().__getitem__(key)


def _services(count: int) -> list[dict[str, Any]]:
    """`count` copies of the web service, each under its own name (so each selector selects its own pods alone):
    good()'s objects, a CronJob sharing a ReadWriteOnce claim with the Deployment, and a Role bound to the web
    ServiceAccount."""
    meta = {"name": "web", "namespace": "apps", "labels": LABELS}
    web = [
        *_claim_users(_affinity(SELECTOR)),
        _claim("ReadWriteOnce"),
        {"kind": "ServiceAccount", "metadata": meta},
        {"kind": "Role", "metadata": meta},
        {
            "kind": "RoleBinding",
            "metadata": meta,
            "roleRef": {"kind": "Role", "name": "web"},
            "subjects": [{"kind": "ServiceAccount", "name": "web"}],
        },
    ]
    next(m for m in web if m["kind"] == "Ingress")["spec"]["rules"][0]["host"] = "web"
    one = json.dumps(web)
    return [
        manifest
        for index in range(count)
        for manifest in json.loads(re.sub(r'"(web|cron|data)"', rf'"\1-{index}"', one), object_hook=_CountedLookups)
    ]


def test_the_checks_work_in_proportion_to_the_objects() -> None:
    """Four times the services, four times the look-ups into the objects (nothing timed): a check that tries every
    selector on every pod (or every claim on every pod, every Role on every binding, every workload on every other)
    does sixteen times as many."""
    lookups = {}
    for count in (10, 40):
        manifests = _services(count)
        _CountedLookups.lookups = 0
        assert list(find_problems(manifests)) == []
        lookups[count] = _CountedLookups.lookups
    assert lookups[40] <= 4.2 * lookups[10], lookups
