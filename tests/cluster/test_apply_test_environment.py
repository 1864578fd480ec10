"""The `test` environment applied for real, not as a dry-run, to a control plane of its own, in the order Argo CD
syncs it: every object is created.

The order: the `argocd` namespace (Argo CD's own, made when Argo CD is installed), then dist/argocd/test/ (the
AppProject and the Applications), then each Application's stack: its namespace as Argo CD creates it
(`CreateNamespace=true`, with the managedNamespaceMetadata labels), the PreSync hooks, the Sync phase, the PostSync
hooks; within a phase by sync wave, then by kind in Argo CD's order (gitops-engine pkg/sync/sync_tasks.go
kindOrder), then by name. Each object is server-side applied by one field manager, as Argo CD with
`ServerSideApply=true` does, and must come back 201 Created; then it is read back.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from tests.cluster import report
from tests.cluster.control_plane import FIELD_MANAGER, ControlPlane
from tests.cluster.pods import rendered_namespace_labels
from tests.cluster.rendered import DIST, RenderedObject, folders, objects

ENVIRONMENT = "test"
KIND_ORDER = [
    "Namespace", "NetworkPolicy", "ResourceQuota", "LimitRange", "PodSecurityPolicy", "PodDisruptionBudget",
    "ServiceAccount", "Secret", "SecretList", "ConfigMap", "StorageClass", "PersistentVolume", "PersistentVolumeClaim",
    "CustomResourceDefinition", "ClusterRole", "ClusterRoleList", "ClusterRoleBinding", "ClusterRoleBindingList",
    "Role", "RoleList", "RoleBinding", "RoleBindingList", "Service", "DaemonSet", "Pod", "ReplicationController",
    "ReplicaSet", "Deployment", "HorizontalPodAutoscaler", "StatefulSet", "Job", "CronJob", "IngressClass", "Ingress",
    "APIService",
]  # fmt: skip
PHASES = ("PreSync", "Sync", "PostSync")


def _annotations(obj: RenderedObject) -> dict[str, Any]:
    return dict(obj.manifest.get("metadata", {}).get("annotations") or {})


def phase(obj: RenderedObject) -> str:
    """The sync phase: a hook's first phase, or Sync."""
    hook = str(_annotations(obj).get("argocd.argoproj.io/hook", "Sync"))
    return hook.split(",")[0].strip()


def sync_order(rendered: list[RenderedObject]) -> list[RenderedObject]:
    def key(obj: RenderedObject) -> tuple[int, int, int, str, str]:
        kind = KIND_ORDER.index(obj.kind) if obj.kind in KIND_ORDER else len(KIND_ORDER)
        wave = int(_annotations(obj).get("argocd.argoproj.io/sync-wave", 0))
        return PHASES.index(phase(obj)), wave, kind, obj.namespace or "", obj.manifest["metadata"]["name"]

    unknown = [obj.where for obj in rendered if phase(obj) not in PHASES]
    assert not unknown, f"hooks of a phase this test does not run: {unknown}"
    return sorted(rendered, key=key)


def applications(argocd: list[RenderedObject]) -> Iterator[tuple[RenderedObject, str]]:
    """Each Application of the environment that deploys a stack folder, with that folder (under dist/)."""
    for obj in sync_order(argocd):
        path = str(obj.manifest.get("spec", {}).get("source", {}).get("path", ""))
        if obj.kind == "Application" and path.startswith(f"dist/{ENVIRONMENT}/"):
            yield obj, path.removeprefix("dist/")


def test_the_test_environment_applies_for_real_in_sync_order(fresh_control_plane: ControlPlane) -> None:
    client = fresh_control_plane.client
    argocd = objects(f"argocd/{ENVIRONMENT}")
    labels = rendered_namespace_labels(argocd)
    applied: list[str] = []
    problems: list[str] = []

    def create(manifest: dict[str, Any], where: str) -> None:
        answer = client.apply(manifest, manager=FIELD_MANAGER)
        if answer.status != 201:
            problems.append(f"{where}: {answer.status} {answer.reason} (expected 201 Created): {answer.message}")
            return
        if [w for w in answer.warnings if "PodSecurity" in w]:
            problems.append(f"{where}: Pod Security warns: {answer.warnings}")
        if client.get(manifest).status != 200:
            problems.append(f"{where}: created, but not found afterwards")
        applied.append(f"{manifest['kind']}/{manifest['metadata']['name']}")

    create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "argocd"}}, "Argo CD's own namespace")
    for obj in sync_order(argocd):
        create(obj.manifest, obj.where)
    stacks = list(applications(argocd))
    assert stacks, f"dist/argocd/{ENVIRONMENT}/ has no Application for a stack of {ENVIRONMENT}"
    covered = set()
    for application, folder in stacks:
        covered.add(folder)
        spec = application.manifest["spec"]
        namespace = spec["destination"]["namespace"]
        if "CreateNamespace=true" in (spec.get("syncPolicy", {}).get("syncOptions") or []):
            source = labels.get(namespace)
            create(
                {
                    "apiVersion": "v1",
                    "kind": "Namespace",
                    "metadata": {"name": namespace, "labels": source.labels if source else {}},
                },
                f"{application.where}: CreateNamespace=true",
            )
        for obj in sync_order(objects(folder)):
            create(obj.manifest, obj.where)
    stack_folders = {f"{ENVIRONMENT}/{name}" for name in folders(DIST / ENVIRONMENT)}
    assert covered == stack_folders, f"stacks no Application deploys: {sorted(stack_folders - covered)}"
    assert not problems, "\n".join(problems)
    rendered = len(objects(ENVIRONMENT)) + len(argocd)
    report.add(
        f"applied for real: {ENVIRONMENT}: {len(applied)} objects created in sync order on a control plane of its "
        f"own: the {rendered} rendered, `argocd` and {len(applied) - rendered - 1} namespaces of CreateNamespace=true"
    )
