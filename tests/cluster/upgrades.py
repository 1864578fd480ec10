"""Upgrade scenarios for the cluster tests: an object's old and new form, and how Argo CD syncs the change.

The forms are valid objects (each accepted on its own), so that a refusal can only come from the change itself.
They follow tests/test_upgrade_rules.py's pairs, one or more per rule of delivery/upgrade_rules.py and per change
those rules call harmless, made valid where the pure rules need not be (a DaemonSet has no replicas; a changed
selector comes with matching pod labels; a Job's pod template says restartPolicy: Never; a dual-stack Service says
its ipFamilyPolicy).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from constructs_lib.sync_options import SYNC_OPTIONS_ANNOTATION, replaces_on_sync, sync_options
from delivery.diff import diff_documents
from delivery.upgrade_rules import Finding

Doc = dict[str, Any]
Edit = Callable[[Doc], object]

LABELS = {"app.kubernetes.io/name": "web", "app.kubernetes.io/instance": "web"}
POD_TEMPLATE: Doc = {
    "metadata": {"labels": dict(LABELS)},
    "spec": {
        "containers": [
            {
                "name": "web",
                "image": "ghcr.io/acme/web:1.0.0",
                "env": [{"name": "LOG_LEVEL", "value": "info"}],
                "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}},
            }
        ]
    },
}


def workload(kind: str, **spec: Any) -> Doc:
    body: Doc = {"selector": {"matchLabels": dict(LABELS)}, "template": copy.deepcopy(POD_TEMPLATE)}
    if kind != "DaemonSet":
        body["replicas"] = 2
    return {
        "apiVersion": "apps/v1",
        "kind": kind,
        "metadata": {"name": "web", "namespace": "apps", "labels": {"app.kubernetes.io/version": "1.0.0"}},
        "spec": {**body, **copy.deepcopy(spec)},
    }


STATEFULSET = workload(
    "StatefulSet",
    serviceName="web",
    volumeClaimTemplates=[
        {
            "metadata": {"name": "data"},
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "10Gi"}}},
        }
    ],
)
JOB: Doc = {
    "apiVersion": "batch/v1",
    "kind": "Job",
    "metadata": {"name": "migrate", "namespace": "apps"},
    "spec": {
        "backoffLimit": 1,
        "activeDeadlineSeconds": 600,
        "template": {
            **copy.deepcopy(POD_TEMPLATE),
            "spec": {**copy.deepcopy(POD_TEMPLATE["spec"]), "restartPolicy": "Never"},
        },
    },
}
INDEXED_JOB: Doc = copy.deepcopy(JOB)
INDEXED_JOB["spec"].update(completionMode="Indexed", completions=2, parallelism=2)
CLAIM: Doc = {
    "apiVersion": "v1",
    "kind": "PersistentVolumeClaim",
    "metadata": {"name": "uploads", "namespace": "apps"},
    "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "5Gi"}}},
}
ROLE_BINDING: Doc = {
    "apiVersion": "rbac.authorization.k8s.io/v1",
    "kind": "RoleBinding",
    "metadata": {"name": "leader-election", "namespace": "apps"},
    "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "leader-election"},
    "subjects": [{"kind": "ServiceAccount", "name": "web", "namespace": "apps"}],
}
CLUSTER_ROLE_BINDING: Doc = {
    "apiVersion": "rbac.authorization.k8s.io/v1",
    "kind": "ClusterRoleBinding",
    "metadata": {"name": "web-view"},
    "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
    "subjects": [{"kind": "ServiceAccount", "name": "web", "namespace": "apps"}],
}
CRONJOB: Doc = {
    "apiVersion": "batch/v1",
    "kind": "CronJob",
    "metadata": {"name": "cleanup", "namespace": "apps"},
    "spec": {"schedule": "0 3 * * *", "jobTemplate": {"spec": {"template": copy.deepcopy(JOB["spec"]["template"])}}},
}


def config(kind: str, **fields: Any) -> Doc:
    return {"apiVersion": "v1", "kind": kind, "metadata": {"name": "cfg", "namespace": "apps"}, **copy.deepcopy(fields)}


def service(**spec: Any) -> Doc:
    body: Doc = {"selector": dict(LABELS), "ports": [{"name": "http", "port": 80, "targetPort": 8080}]}
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "web", "namespace": "apps"},
        "spec": {**body, **spec},
    }


def with_annotations(doc: Doc, annotations: dict[str, str]) -> Doc:
    doc = copy.deepcopy(doc)
    doc["metadata"]["annotations"] = dict(annotations)
    return doc


@dataclass(frozen=True)
class Scenario:
    """`old` as the cluster has it, `new` as the render has it now."""

    name: str
    old: Doc
    new: Doc
    # A claim is bound in a real cluster (a provisioner binds it); here nothing would, so the test marks it Bound.
    bound_claim: bool = field(default=False)

    @property
    def sync(self) -> str:
        """How Argo CD applies the change: `apply` (kubectl apply, an update), `replace` (kubectl replace, an
        update), or `delete-create` (a hook re-created at every sync, or Force=true,Replace=true)."""
        annotations = self.new.get("metadata", {}).get("annotations") or {}
        policies = [p.strip() for p in str(annotations.get("argocd.argoproj.io/hook-delete-policy", "")).split(",")]
        if "argocd.argoproj.io/hook" in annotations and "BeforeHookCreation" in policies:
            return "delete-create"
        if replaces_on_sync(annotations):
            return "delete-create"
        if sync_options(annotations).get("Replace") == "true":
            return "replace"
        return "apply"


def changed(name: str, old: Doc, edit: Edit, *, bound_claim: bool = False) -> Scenario:
    new = copy.deepcopy(old)
    edit(new)
    return Scenario(name, copy.deepcopy(old), new, bound_claim)


def diff_exit_code(old: Doc, new: Doc) -> tuple[int, list[Finding]]:
    """What `main.py diff --exit-code` exits with for this one change (delivery/commands.py diff: 0 no change, 1 all
    in place, 3 refused or destroying data), and the findings behind it."""
    report = diff_documents({"scenario/object.yaml": old}, {"scenario/object.yaml": new})
    findings = [finding for resource in report.resources for finding in resource.findings]
    if not report.has_changes:
        return 0, findings
    return (3 if report.impact.blocks else 1), findings


def _template_spec(doc: Doc) -> Doc:
    spec: Doc = doc["spec"]["template"]["spec"]
    return spec


def _container(doc: Doc) -> Doc:
    container: Doc = _template_spec(doc)["containers"][0]
    return container


def _select_tier(doc: Doc) -> None:
    """A new selector, and pod labels it matches (without them the new form would be invalid on its own)."""
    doc["spec"]["selector"]["matchLabels"]["tier"] = "web"
    doc["spec"]["template"]["metadata"]["labels"]["tier"] = "web"


BENIGN_WORKLOAD_EDITS: dict[str, Edit] = {
    "image tag": lambda d: _container(d).update(image="ghcr.io/acme/web:1.1.0"),
    "label": lambda d: d["metadata"]["labels"].update({"app.kubernetes.io/version": "1.1.0"}),
    "pod label": lambda d: d["spec"]["template"]["metadata"]["labels"].update(release="2"),
    "replicas": lambda d: d["spec"].update(replicas=5),
    "resources": lambda d: _container(d)["resources"]["requests"].update(cpu="200m"),
    "env": lambda d: _container(d)["env"].append({"name": "X", "value": "1"}),
}


def _spec_update(values: Doc) -> Edit:
    return lambda doc: doc["spec"].update(copy.deepcopy(values))


def _claim_template(doc: Doc) -> Doc:
    template: Doc = doc["spec"]["volumeClaimTemplates"][0]
    return template


def scenarios() -> list[Scenario]:
    found: list[Scenario] = []
    add = found.append
    # Workloads: the harmless changes, and the selector.
    for kind in ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet"):
        base = STATEFULSET if kind == "StatefulSet" else workload(kind)
        for what, edit in BENIGN_WORKLOAD_EDITS.items():
            if not (kind == "DaemonSet" and what == "replicas"):
                add(changed(f"{kind}: {what}", base, edit))
        add(changed(f"{kind}: selector", base, _select_tier))
    # StatefulSet: the spec beyond its mutable fields, and the mutable ones.
    sts = STATEFULSET
    add(changed("StatefulSet: serviceName", sts, lambda d: d["spec"].update(serviceName="web-headless")))
    add(changed("StatefulSet: podManagementPolicy", sts, lambda d: d["spec"].update(podManagementPolicy="Parallel")))
    add(
        changed(
            "StatefulSet: claim template size",
            sts,
            lambda d: _claim_template(d)["spec"]["resources"]["requests"].update(storage="20Gi"),
        )
    )
    add(
        changed(
            "StatefulSet: claim template label",
            sts,
            lambda d: _claim_template(d)["metadata"].update(labels={"version": "2"}),
        )
    )
    mutable_fields: dict[str, Doc] = {
        "updateStrategy": {"updateStrategy": {"type": "OnDelete"}},
        "minReadySeconds": {"minReadySeconds": 10},
        "ordinals": {"ordinals": {"start": 1}},
        "revisionHistoryLimit": {"revisionHistoryLimit": 3},
        "persistentVolumeClaimRetentionPolicy": {
            "persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Delete", "whenScaled": "Retain"}
        },
        "podManagementPolicy written out as the default": {"podManagementPolicy": "OrderedReady"},
    }
    for what, mutable in mutable_fields.items():
        add(changed(f"StatefulSet: {what}", sts, _spec_update(mutable)))
    add(
        changed(
            "StatefulSet: updateStrategy back to RollingUpdate",
            workload("StatefulSet", serviceName="web", updateStrategy={"type": "OnDelete"}),
            lambda d: d["spec"].update(updateStrategy={"type": "RollingUpdate"}),
        )
    )
    # A Deployment's strategy: no rule names it, so the rules call it in place.
    add(
        changed(
            "Deployment: strategy Recreate",
            workload("Deployment"),
            lambda d: d["spec"].update(strategy={"type": "Recreate"}),
        )
    )
    add(
        changed(
            "Deployment: strategy Recreate, rollingUpdate written out before",
            workload(
                "Deployment", strategy={"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}
            ),
            lambda d: d["spec"].update(strategy={"type": "Recreate"}),
        )
    )
    add(
        changed(
            "StatefulSet: updateStrategy OnDelete, rollingUpdate written out before",
            workload(
                "StatefulSet",
                serviceName="web",
                updateStrategy={"type": "RollingUpdate", "rollingUpdate": {"partition": 0}},
            ),
            lambda d: d["spec"].update(updateStrategy={"type": "OnDelete"}),
        )
    )
    add(
        changed(
            "Deployment: strategy RollingUpdate tuned",
            workload("Deployment"),
            lambda d: d["spec"].update(
                strategy={"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 1}}
            ),
        )
    )
    # Job.
    add(changed("Job: pod template image", JOB, lambda d: _container(d).update(image="ghcr.io/acme/web:2")))
    add(changed("Job: pod template label", JOB, lambda d: d["spec"]["template"]["metadata"]["labels"].update(v="2")))
    add(
        changed(
            "Job: manual selector",
            JOB,
            lambda d: (
                d["spec"].update(manualSelector=True, selector={"matchLabels": {"job": "x"}}),
                d["spec"]["template"]["metadata"]["labels"].update(job="x"),
            ),
        )
    )
    add(changed("Job: completions", JOB, lambda d: d["spec"].update(completions=3)))
    add(changed("Job: completionMode", JOB, lambda d: d["spec"].update(completionMode="Indexed", completions=1)))
    add(
        changed(
            "Job: podFailurePolicy",
            JOB,
            lambda d: d["spec"].update(
                podFailurePolicy={"rules": [{"action": "FailJob", "onExitCodes": {"operator": "In", "values": [42]}}]}
            ),
        )
    )
    add(changed("Job: managedBy", JOB, lambda d: d["spec"].update(managedBy="example.test/job-controller")))
    add(changed("Job: backoffLimitPerIndex", INDEXED_JOB, lambda d: d["spec"].update(backoffLimitPerIndex=1)))
    add(
        changed(
            "Job: successPolicy",
            INDEXED_JOB,
            lambda d: d["spec"].update(successPolicy={"rules": [{"succeededIndexes": "0"}]}),
        )
    )
    add(
        changed(
            "Job: backoffLimit and deadline", JOB, lambda d: d["spec"].update(backoffLimit=3, activeDeadlineSeconds=900)
        )
    )
    add(changed("Job: elastic Indexed Job", INDEXED_JOB, lambda d: d["spec"].update(completions=4, parallelism=4)))
    # CronJob: its job template and schedule change in place.
    add(
        changed(
            "CronJob: job template",
            CRONJOB,
            lambda d: d["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0].update(
                image="ghcr.io/acme/web:2"
            ),
        )
    )
    add(changed("CronJob: schedule", CRONJOB, lambda d: d["spec"].update(schedule="0 4 * * *")))
    # PersistentVolumeClaim (bound, as in a cluster).
    for what, edit in {
        "grow": lambda d: d["spec"]["resources"]["requests"].update(storage="10Gi"),
        "grow in Mi": lambda d: d["spec"]["resources"]["requests"].update(storage="6000Mi"),
        "volumeAttributesClassName": lambda d: d["spec"].update(volumeAttributesClassName="fast"),
        "volumeMode written out as the default": lambda d: d["spec"].update(volumeMode="Filesystem"),
        "shrink": lambda d: d["spec"]["resources"]["requests"].update(storage="4Gi"),
        "storageClassName": lambda d: d["spec"].update(storageClassName="fast"),
        "accessModes": lambda d: d["spec"].update(accessModes=["ReadWriteMany"]),
        "volumeMode": lambda d: d["spec"].update(volumeMode="Block"),
        "limits.storage": lambda d: d["spec"]["resources"].update(limits={"storage": "8Gi"}),
    }.items():
        add(changed(f"PersistentVolumeClaim: {what}", CLAIM, edit, bound_claim=True))
    # RBAC.
    for binding in (ROLE_BINDING, CLUSTER_ROLE_BINDING):
        add(
            changed(
                f"{binding['kind']}: roleRef", binding, lambda d: d["roleRef"].update(name="admin", kind="ClusterRole")
            )
        )
        add(
            changed(
                f"{binding['kind']}: subjects",
                binding,
                lambda d: d["subjects"].append(
                    {"kind": "User", "name": "ops", "apiGroup": "rbac.authorization.k8s.io"}
                ),
            )
        )
    # Immutable ConfigMaps and Secrets.
    for kind in ("ConfigMap", "Secret"):
        immutable = config(kind, immutable=True, data={"a": "MQ=="})
        add(changed(f"{kind}: immutable, data", immutable, lambda d: d["data"].update(a="Mg==")))
        add(changed(f"{kind}: immutable made false", immutable, lambda d: d.update(immutable=False)))
        add(changed(f"{kind}: immutable removed", immutable, lambda d: d.pop("immutable")))
        mutable = config(kind, data={"a": "MQ=="})
        add(changed(f"{kind}: mutable, data", mutable, lambda d: d["data"].update(a="Mg==")))
        add(
            changed(
                f"{kind}: made immutable with new data", mutable, lambda d: d.update(immutable=True, data={"a": "Mw=="})
            )
        )
    add(
        changed(
            "ConfigMap: immutable, binaryData",
            config("ConfigMap", immutable=True, binaryData={"a": "MQ=="}),
            lambda d: d["binaryData"].update(a="Mg=="),
        )
    )
    tls_data = {"tls.crt": "Y2VydA==", "tls.key": "a2V5"}
    add(changed("Secret: type", config("Secret", data=tls_data), lambda d: d.update(type="kubernetes.io/tls")))
    add(changed("Secret: type Opaque written out", config("Secret", data=tls_data), lambda d: d.update(type="Opaque")))
    # Services (each its own addresses: the old forms are really created).
    found += _service_scenarios()
    # Argo CD: hooks re-created at every sync, and the sync options.
    new_image: Edit = lambda d: _container(d).update(image="ghcr.io/acme/web:2")  # noqa: E731
    hook = {"argocd.argoproj.io/hook": "PreSync", "argocd.argoproj.io/hook-delete-policy": "BeforeHookCreation"}
    add(changed("Argo CD hook (BeforeHookCreation): Job pod template", with_annotations(JOB, hook), new_image))
    kept_hook = {**hook, "argocd.argoproj.io/hook-delete-policy": "HookSucceeded"}
    add(changed("Argo CD hook (HookSucceeded): Job pod template", with_annotations(JOB, kept_hook), new_image))
    force_replace = {SYNC_OPTIONS_ANNOTATION: "Force=true,Replace=true"}
    add(changed("Force=true,Replace=true: Job pod template", with_annotations(JOB, force_replace), new_image))
    add(
        changed(
            "Force=true,Replace=true: StatefulSet serviceName",
            with_annotations(STATEFULSET, force_replace),
            lambda d: d["spec"].update(serviceName="other"),
        )
    )
    add(
        changed(
            "Force=true,Replace=true: claim storageClassName",
            with_annotations(CLAIM, force_replace),
            lambda d: d["spec"].update(storageClassName="fast"),
            bound_claim=True,
        )
    )
    add(
        changed(
            "Replace=true: Job pod template",
            with_annotations(JOB, {SYNC_OPTIONS_ANNOTATION: "Replace=true"}),
            new_image,
        )
    )
    add(
        changed(
            "Replace=true: Deployment image",
            with_annotations(workload("Deployment"), {SYNC_OPTIONS_ANNOTATION: "Replace=true"}),
            new_image,
        )
    )
    return found


def _service_scenarios() -> list[Scenario]:
    pairs: list[tuple[str, Callable[[int], tuple[Doc, Doc]]]] = [
        ("clusterIP changed", lambda n: (service(clusterIP=f"10.0.{n}.10"), service(clusterIP=f"10.0.{n}.11"))),
        ("made headless", lambda n: (service(), service(clusterIP="None"))),
        ("headless, clusterIP left out", lambda n: (service(clusterIP="None"), service())),
        (
            "ipFamilies IPv4 to IPv6",
            lambda n: (
                service(ipFamilies=["IPv4"], ipFamilyPolicy="SingleStack"),
                service(ipFamilies=["IPv6"], ipFamilyPolicy="SingleStack"),
            ),
        ),
        (
            "secondary family dropped, PreferDualStack kept",
            lambda n: (
                service(ipFamilies=["IPv4", "IPv6"], ipFamilyPolicy="PreferDualStack"),
                service(ipFamilies=["IPv4"], ipFamilyPolicy="PreferDualStack"),
            ),
        ),
        (
            "loadBalancerClass changed",
            lambda n: (
                service(type="LoadBalancer", loadBalancerClass="a.example/lb"),
                service(type="LoadBalancer", loadBalancerClass="b.example/lb"),
            ),
        ),
        (
            "to ExternalName with a new clusterIP",
            lambda n: (
                service(clusterIP=f"10.0.{n}.10"),
                service(type="ExternalName", externalName="db.example.com", clusterIP=f"10.0.{n}.11"),
            ),
        ),
        ("port changed", lambda n: (service(), service(ports=[{"name": "http", "port": 8080, "targetPort": 8080}]))),
        ("headless, ports removed", lambda n: (service(clusterIP="None"), service(clusterIP="None", ports=[]))),
        ("to NodePort", lambda n: (service(), service(type="NodePort"))),
        ("to ExternalName", lambda n: (service(), service(type="ExternalName", externalName="db.example.com"))),
        (
            "headless to ExternalName, clusterIP None kept",
            lambda n: (
                service(clusterIP="None"),
                service(type="ExternalName", externalName="db.example.com", clusterIP="None"),
            ),
        ),
        (
            "from ExternalName to headless",
            lambda n: (service(type="ExternalName", externalName="db.example.com"), service(clusterIP="None")),
        ),
        (
            "secondary family added",
            lambda n: (
                service(ipFamilies=["IPv4"]),
                service(ipFamilies=["IPv4", "IPv6"], ipFamilyPolicy="PreferDualStack"),
            ),
        ),
        (
            "secondary family dropped as SingleStack",
            lambda n: (
                service(ipFamilies=["IPv4", "IPv6"], ipFamilyPolicy="PreferDualStack"),
                service(ipFamilies=["IPv4"], ipFamilyPolicy="SingleStack"),
            ),
        ),
    ]
    found = []
    for number, (what, make) in enumerate(pairs, start=1):
        old, new = make(number)
        found.append(Scenario(f"Service: {what}", old, new))
    return found
