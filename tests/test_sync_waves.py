"""Sync waves: derived from references, so that Argo CD never applies an object before what it needs.

The references below are extracted here, independently of delivery.sync_waves, from the rendered objects.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from delivery.sync_waves import WAVE_ANNOTATION, assign_sync_waves
from engine import Manifest, RenderedEnvironment

Ref = tuple[str, str]


def wave(manifest: Manifest) -> int:
    return int(manifest["metadata"]["annotations"][WAVE_ANNOTATION])


def refs(manifest: Manifest, stack: list[Manifest]) -> Iterator[Ref]:
    """What an object needs to exist first: its Namespace, the Secret sources, ConfigMaps, claims and account its
    pods use, the pods a Service selects, the Services a route or monitor targets, an autoscaler's target."""
    kind, spec = manifest["kind"], manifest.get("spec", {})
    namespace = manifest["metadata"].get("namespace")
    if namespace:
        yield "Namespace", namespace
    pod = _pod(manifest)
    if pod:
        if "serviceAccountName" in pod:
            yield "ServiceAccount", pod["serviceAccountName"]
        for volume in pod.get("volumes", []):
            if "persistentVolumeClaim" in volume:
                yield "PersistentVolumeClaim", volume["persistentVolumeClaim"]["claimName"]
            if "configMap" in volume:
                yield "ConfigMap", volume["configMap"]["name"]
        for container in [*pod.get("initContainers", []), *pod["containers"]]:
            for source in container.get("envFrom", []):
                if "configMapRef" in source:
                    yield "ConfigMap", source["configMapRef"]["name"]
                if "secretRef" in source:
                    yield "ExternalSecret", source["secretRef"]["name"]
            for variable in container.get("env", []):
                ref = variable.get("valueFrom", {})
                if "configMapKeyRef" in ref:
                    yield "ConfigMap", ref["configMapKeyRef"]["name"]
    if kind == "ServiceAccount":
        for secret in manifest.get("imagePullSecrets", []):
            yield "ExternalSecret", secret["name"]
    if kind == "Service":
        for other in stack:
            labels = (_template(other) or {}).get("metadata", {}).get("labels", {})
            if labels and all(labels.get(k) == v for k, v in spec["selector"].items()):
                yield other["kind"], other["metadata"]["name"]
    if kind == "Ingress":
        for rule in spec["rules"]:
            for path in rule["http"]["paths"]:
                yield "Service", path["backend"]["service"]["name"]
    if kind == "IngressRoute":
        for route in spec["routes"]:
            for service in route["services"]:
                yield "Service", service["name"]
            for middleware in route.get("middlewares", []):
                yield "Middleware", middleware["name"]
    if kind == "HorizontalPodAutoscaler":
        yield spec["scaleTargetRef"]["kind"], spec["scaleTargetRef"]["name"]
    if kind == "RoleBinding":
        yield "Role", manifest["roleRef"]["name"]
    if kind == "Application":
        yield "AppProject", spec["project"]


def _template(manifest: Manifest) -> dict[str, Any] | None:
    spec = manifest.get("spec", {})
    if manifest["kind"] == "CronJob":
        spec = spec["jobTemplate"]["spec"]
    if manifest["kind"] in ("Deployment", "StatefulSet", "Job", "CronJob"):
        template: dict[str, Any] = spec["template"]
        return template
    return None


def _pod(manifest: Manifest) -> dict[str, Any] | None:
    template = _template(manifest)
    return template["spec"] if template else None


def test_no_object_has_a_lower_wave_than_what_it_references(rendered: dict[str, RenderedEnvironment]) -> None:
    checked = 0
    for env, stacks in rendered.items():
        for stack, manifests in stacks.items():
            by_ref = {(m["kind"], m["metadata"]["name"]): m for m in manifests}
            for manifest in manifests:
                if "argocd.argoproj.io/hook" in manifest["metadata"].get("annotations", {}):
                    # Hooks have phases, not derived waves; only an explicit order within their phase (a backup
                    # before the migration: constructs_lib.postgres_backup_job), never after the unordered ones.
                    assert int(manifest["metadata"]["annotations"].get(WAVE_ANNOTATION, "0")) <= 0
                    continue
                for ref in refs(manifest, manifests):
                    target = by_ref.get(ref)
                    if target is None:
                        continue
                    checked += 1
                    where = f"{env}/{stack} {manifest['kind']}/{manifest['metadata']['name']} -> {ref}"
                    assert wave(manifest) > wave(target), where
    assert checked > 100


def test_order_of_the_issue_in_kairoflow_prod(rendered: dict[str, RenderedEnvironment]) -> None:
    """Namespace, then Secret sources and ConfigMaps and storage, then workloads, then Services, then routes."""
    waves = {m["kind"]: wave(m) for m in rendered["prod"]["kairoflow"]}
    assert waves["Namespace"] < waves["ExternalSecret"] < waves["ServiceAccount"] < waves["Deployment"]
    assert waves["Namespace"] < waves["PersistentVolumeClaim"] < waves["Deployment"] < waves["Service"]
    assert waves["Service"] < waves["IngressRoute"]
    core = {m["kind"]: wave(m) for m in rendered["prod"]["core-pipeline"] if m["kind"] != "Job"}
    assert core["Deployment"] < core["HorizontalPodAutoscaler"]
    assert core["Service"] < core["ServiceMonitor"]


def test_waves_follow_dependencies_not_order() -> None:
    manifests: list[dict[str, Any]] = [
        {"kind": "Service", "metadata": {"name": "web", "namespace": "a"}, "spec": {"selector": {"app": "web"}}},
        {
            "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "a"},
            "spec": {
                "template": {
                    "metadata": {"labels": {"app": "web"}},
                    "spec": {"containers": [{"name": "c", "envFrom": [{"configMapRef": {"name": "cfg"}}]}]},
                }
            },
        },
        {"kind": "ConfigMap", "metadata": {"name": "cfg", "namespace": "a"}},
        {"kind": "Namespace", "metadata": {"name": "a"}},
    ]
    assign_sync_waves(manifests)
    assert [wave(m) for m in manifests] == [3, 2, 1, 0]


def test_a_dependency_cycle_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    import delivery.sync_waves as waves

    # No two rendered kinds reference each other today; a future one that did must fail loudly, not loop.
    monkeypatch.setattr(
        waves,
        "dependencies",
        lambda manifests: {("Role", None, "a"): {("Role", None, "b")}, ("Role", None, "b"): {("Role", None, "a")}},
    )
    with pytest.raises(ValueError, match="cycle"):
        waves.assign_sync_waves(
            [{"kind": "Role", "metadata": {"name": "a"}}, {"kind": "Role", "metadata": {"name": "b"}}]
        )
