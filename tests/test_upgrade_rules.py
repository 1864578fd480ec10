"""What a sync does with each change: in place, refused by the API server, or destroying data; one test per rule,
with the field path and the advice, and the benign changes that must stay in place."""

from __future__ import annotations

import copy
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

import main
from constructs_lib.sync_options import SYNC_OPTIONS_ANNOTATION
from delivery.diff import REDACTED, diff_trees, format_markdown, format_text
from delivery.upgrade_rules import (
    RECREATE,
    RECREATE_CLAIM,
    RECREATE_JOB,
    RECREATE_SERVICE,
    RECREATE_STATEFULSET,
    RECREATE_WORKLOAD,
    Finding,
    Impact,
    classify_change,
    classify_removal,
    classify_rename,
)

DIST = Path(__file__).resolve().parent.parent / "dist"
SELECTOR: dict[str, Any] = {"matchLabels": {"app.kubernetes.io/name": "web", "app.kubernetes.io/instance": "web"}}
POD: dict[str, Any] = {
    "metadata": {"labels": {"app.kubernetes.io/name": "web", "app.kubernetes.io/instance": "web"}},
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


def workload(kind: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": kind,
        "metadata": {"name": "web", "namespace": "apps", "labels": {"app.kubernetes.io/version": "1.0.0"}},
        "spec": copy.deepcopy({"replicas": 2, "selector": SELECTOR, "template": POD, **spec}),
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
JOB: dict[str, Any] = {
    "apiVersion": "batch/v1",
    "kind": "Job",
    "metadata": {"name": "migrate", "namespace": "apps"},
    "spec": {"backoffLimit": 1, "activeDeadlineSeconds": 600, "template": copy.deepcopy(POD)},
}
CLAIM: dict[str, Any] = {
    "apiVersion": "v1",
    "kind": "PersistentVolumeClaim",
    "metadata": {"name": "uploads", "namespace": "apps"},
    "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "5Gi"}}},
}
BINDING: dict[str, Any] = {
    "apiVersion": "rbac.authorization.k8s.io/v1",
    "kind": "RoleBinding",
    "metadata": {"name": "leader-election", "namespace": "apps"},
    "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "leader-election"},
    "subjects": [{"kind": "ServiceAccount", "name": "web", "namespace": "apps"}],
}
SERVICE: dict[str, Any] = {
    "apiVersion": "v1",
    "kind": "Service",
    "metadata": {"name": "web", "namespace": "apps"},
    "spec": {"selector": dict(SELECTOR["matchLabels"]), "ports": [{"name": "http", "port": 80, "targetPort": 8080}]},
}
NAMESPACE: dict[str, Any] = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "apps"}}


def changed(old: dict[str, Any], edit: Callable[[dict[str, Any]], object]) -> list[Finding]:
    """The findings for `old` and a copy of it changed by `edit`."""
    new = copy.deepcopy(old)
    edit(new)
    return classify_change(old, new)


def only(findings: list[Finding]) -> Finding:
    assert len(findings) == 1, findings
    return findings[0]


def with_annotations(doc: dict[str, Any], annotations: dict[str, str]) -> dict[str, Any]:
    doc = copy.deepcopy(doc)
    doc["metadata"]["annotations"] = dict(annotations)
    return doc


def dist_object(path: str) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((DIST / path).read_text())
    return loaded


# --- benign changes stay in place ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "edit",
    [
        pytest.param(
            lambda d: d["spec"]["template"]["spec"]["containers"][0].update(image="ghcr.io/acme/web:1.1.0"),
            id="image tag",
        ),
        pytest.param(lambda d: d["metadata"]["labels"].update({"app.kubernetes.io/version": "1.1.0"}), id="label"),
        pytest.param(lambda d: d["spec"]["template"]["metadata"]["labels"].update(tier="web"), id="pod label"),
        pytest.param(lambda d: d["spec"].update(replicas=5), id="replicas"),
        pytest.param(
            lambda d: d["spec"]["template"]["spec"]["containers"][0]["resources"]["requests"].update(cpu="200m"),
            id="resources",
        ),
        pytest.param(
            lambda d: d["spec"]["template"]["spec"]["containers"][0]["env"].append({"name": "X", "value": "1"}),
            id="env",
        ),
    ],
)
@pytest.mark.parametrize("kind", ["Deployment", "StatefulSet", "DaemonSet", "ReplicaSet"])
def test_benign_workload_changes_apply_in_place(kind: str, edit: Callable[[dict[str, Any]], object]) -> None:
    old = STATEFULSET if kind == "StatefulSet" else workload(kind)
    assert changed(old, edit) == []


def test_benign_changes_keep_the_report_in_place() -> None:
    old = {"a/web.yaml": yaml.safe_dump(workload("Deployment"))}
    new_doc = workload("Deployment")
    new_doc["spec"]["template"]["spec"]["containers"][0]["image"] = "ghcr.io/acme/web:1.1.0"
    report = diff_trees(old, {"a/web.yaml": yaml.safe_dump(new_doc)})
    assert report.has_changes
    assert report.impact is Impact.IN_PLACE
    assert not report.not_in_place
    assert "cannot be applied in place" not in format_text(report) + format_markdown(report)


def test_a_mutable_configmap_changes_in_place() -> None:
    config = {"kind": "ConfigMap", "metadata": {"name": "cfg"}, "data": {"a": "1"}}
    assert changed(config, lambda d: d["data"].update(a="2")) == []
    # Made immutable in the same update as its data changes: the cluster's copy is still mutable.
    assert changed(config, lambda d: d.update(immutable=True, data={"a": "3"})) == []


def test_a_cronjobs_job_template_is_mutable() -> None:
    cron = {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {"name": "cleanup"},
        "spec": {"schedule": "0 3 * * *", "jobTemplate": {"spec": {"template": POD}}},
    }
    findings = changed(cron, lambda d: d["spec"]["jobTemplate"]["spec"]["template"]["spec"].update(containers=[]))
    assert findings == []
    assert changed(cron, lambda d: d["spec"].update(schedule="0 4 * * *")) == []


# --- selectors ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["Deployment", "DaemonSet", "ReplicaSet"])
def test_a_workload_selector_is_refused(kind: str) -> None:
    finding = only(changed(workload(kind), lambda d: d["spec"]["selector"]["matchLabels"].update(tier="web")))
    assert (finding.impact, finding.field) == (Impact.REFUSED, "spec.selector")
    assert finding.advice == RECREATE_WORKLOAD
    assert "strategy.go ValidateUpdate" in finding.source


# --- StatefulSet -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "edit"),
    [
        ("spec.selector", lambda d: d["spec"]["selector"]["matchLabels"].update(tier="web")),
        ("spec.serviceName", lambda d: d["spec"].update(serviceName="web-headless")),
        ("spec.podManagementPolicy", lambda d: d["spec"].update(podManagementPolicy="Parallel")),
        (
            "spec.volumeClaimTemplates",
            lambda d: d["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"].update(storage="20Gi"),
        ),
        (
            "spec.volumeClaimTemplates",
            lambda d: d["spec"]["volumeClaimTemplates"][0]["metadata"].update(labels={"version": "2"}),
        ),
    ],
)
def test_statefulset_spec_beyond_the_mutable_fields_is_refused(
    field: str, edit: Callable[[dict[str, Any]], object]
) -> None:
    finding = only(changed(STATEFULSET, edit))
    assert (finding.impact, finding.field) == (Impact.REFUSED, field)
    assert "other than replicas, ordinals, template, updateStrategy" in finding.reason
    assert finding.advice == RECREATE_STATEFULSET
    assert "ValidateStatefulSetUpdate" in finding.source


@pytest.mark.parametrize(
    "mutable",
    [
        {"replicas": 3},
        {"updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 1}}},
        {"minReadySeconds": 10},
        {"ordinals": {"start": 1}},
        {"revisionHistoryLimit": 3},
        {"persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Delete", "whenScaled": "Retain"}},
        {"podManagementPolicy": "OrderedReady"},  # the default, written out
    ],
)
def test_statefulset_fields_the_api_lets_change(mutable: dict[str, Any]) -> None:
    assert changed(STATEFULSET, lambda d: d["spec"].update(mutable)) == []


@pytest.mark.parametrize(
    ("kind", "field", "new_type"),
    [("Deployment", "strategy", "Recreate"), ("StatefulSet", "updateStrategy", "OnDelete")],
)
def test_a_strategy_changed_away_from_a_defaulted_rolling_update_is_refused(
    kind: str, field: str, new_type: str
) -> None:
    """Found against a real API server (tests/cluster/test_upgrade_differential.py): an old manifest without the
    rollingUpdate block let the server default it, nobody owns it, and the apply of the new type keeps it and is
    refused. Written out before, or set to null now, the change applies in place."""
    old = STATEFULSET if kind == "StatefulSet" else workload(kind)
    assert "rollingUpdate" not in (old["spec"].get(field) or {})
    finding = only(changed(old, lambda d: d["spec"].update({field: {"type": new_type}})))
    assert (finding.impact, finding.field) == (Impact.REFUSED, f"spec.{field}.type")
    assert "filled in" in finding.reason and "ValidateDeploymentStrategy" in finding.source

    written_out = copy.deepcopy(old)
    written_out["spec"][field] = {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1}}
    assert changed(written_out, lambda d: d["spec"].update({field: {"type": new_type}})) == []
    assert changed(old, lambda d: d["spec"].update({field: {"type": new_type, "rollingUpdate": None}})) == []


def test_an_image_bump_of_the_rendered_redis_applies_in_place() -> None:
    """The rendered Redis StatefulSets keep the version label out of their (immutable) claim template, so an image
    bump changes only the pod template; a version label put back into the claim template is refused."""
    old = dist_object("prod/discord-monitor/statefulset-discord-bot-redis.yaml")
    version = old["metadata"]["labels"]["app.kubernetes.io/version"]
    assert "app.kubernetes.io/version" not in old["spec"]["volumeClaimTemplates"][0]["metadata"]["labels"]
    new = yaml.safe_load(yaml.safe_dump(old).replace(version, "7.2.6-alpine"))
    assert new != old
    assert [f for f in classify_change(old, new) if f.impact is not Impact.IN_PLACE] == []
    relabelled = yaml.safe_load(yaml.safe_dump(old))
    relabelled["spec"]["volumeClaimTemplates"][0]["metadata"]["labels"]["app.kubernetes.io/version"] = version
    (finding,) = classify_change(old, relabelled)
    assert (finding.impact, finding.field) == (Impact.REFUSED, "spec.volumeClaimTemplates")


# --- Job ------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "edit"),
    [
        ("spec.template", lambda d: d["spec"]["template"]["spec"]["containers"][0].update(image="ghcr.io/acme/web:2")),
        ("spec.template", lambda d: d["spec"]["template"]["metadata"]["labels"].update(version="2")),
        ("spec.selector", lambda d: d["spec"].update(selector={"matchLabels": {"job": "x"}})),
        ("spec.completions", lambda d: d["spec"].update(completions=3)),
        ("spec.completionMode", lambda d: d["spec"].update(completionMode="Indexed")),
        ("spec.podFailurePolicy", lambda d: d["spec"].update(podFailurePolicy={"rules": []})),
    ],
)
def test_a_job_template_selector_and_completions_are_refused(
    field: str, edit: Callable[[dict[str, Any]], object]
) -> None:
    findings = changed(JOB, edit)
    finding = next(f for f in findings if f.field == field)
    assert finding.impact is Impact.REFUSED
    assert finding.advice == RECREATE_JOB
    assert "ValidateJobSpecUpdate" in finding.source


def test_job_fields_that_change_in_place() -> None:
    assert changed(JOB, lambda d: d["spec"].update(backoffLimit=3, activeDeadlineSeconds=900)) == []
    indexed = copy.deepcopy(JOB)
    indexed["spec"].update(completionMode="Indexed", completions=2, parallelism=2)
    assert changed(indexed, lambda d: d["spec"].update(completions=4, parallelism=4)) == [], "elastic Indexed Job"


def test_a_hook_job_recreated_at_every_sync_has_no_finding() -> None:
    hook = with_annotations(
        JOB, {"argocd.argoproj.io/hook": "PreSync", "argocd.argoproj.io/hook-delete-policy": "BeforeHookCreation"}
    )
    edit = lambda d: d["spec"]["template"]["spec"]["containers"][0].update(image="ghcr.io/acme/web:2")  # noqa: E731
    assert changed(hook, edit) == []
    # Without BeforeHookCreation a named hook is not re-created: the usual rule applies.
    hook["metadata"]["annotations"]["argocd.argoproj.io/hook-delete-policy"] = "HookSucceeded"
    assert only(changed(hook, edit)).impact is Impact.REFUSED


def test_the_rendered_migration_hook_changes_without_finding() -> None:
    old = dist_object("prod/core-pipeline/job-core-pipeline-migrate.yaml")
    version = old["metadata"]["labels"]["app.kubernetes.io/version"]
    new = yaml.safe_load(yaml.safe_dump(old).replace(version, "9.9.9"))
    assert old != new
    assert classify_change(old, new) == []


@pytest.mark.parametrize("job", ["core-pipeline-backup", "core-pipeline-smoke-test", "core-pipeline-verify"])
def test_the_rendered_backup_and_check_hooks_change_without_finding(job: str) -> None:
    """Hook Jobs are deleted and created again at every sync: a new image, command or env is no refused change."""
    old = dist_object(f"test/core-pipeline/job-{job}.yaml")
    version = old["metadata"]["labels"]["app.kubernetes.io/version"]
    new = yaml.safe_load(yaml.safe_dump(old).replace(version, "9.9.9"))
    new["spec"]["template"]["spec"]["containers"][0]["command"][-1] += "\nexit 0\n"
    new["spec"]["backoffLimit"] = 0
    assert old != new
    assert classify_change(old, new) == []


# --- PersistentVolumeClaim --------------------------------------------------------------------------------------------


def test_a_claim_can_grow_in_place() -> None:
    assert changed(CLAIM, lambda d: d["spec"]["resources"]["requests"].update(storage="10Gi")) == []
    assert changed(CLAIM, lambda d: d["spec"]["resources"]["requests"].update(storage="6000Mi")) == []
    assert changed(CLAIM, lambda d: d["spec"].update(volumeAttributesClassName="fast")) == []


def test_shrinking_a_claim_is_refused() -> None:
    finding = only(changed(CLAIM, lambda d: d["spec"]["resources"]["requests"].update(storage="4Gi")))
    assert (finding.impact, finding.field) == (Impact.REFUSED, "spec.resources.requests.storage")
    assert "never shrink" in finding.reason
    assert finding.advice == RECREATE_CLAIM
    assert "ValidatePersistentVolumeClaimUpdate" in finding.source


@pytest.mark.parametrize(
    ("field", "edit"),
    [
        ("spec.storageClassName", lambda d: d["spec"].update(storageClassName="fast")),
        ("spec.accessModes", lambda d: d["spec"].update(accessModes=["ReadWriteMany"])),
        ("spec.volumeMode", lambda d: d["spec"].update(volumeMode="Block")),
        ("spec.resources.limits.storage", lambda d: d["spec"]["resources"].update(limits={"storage": "8Gi"})),
    ],
)
def test_the_rest_of_a_claims_spec_is_refused(field: str, edit: Callable[[dict[str, Any]], object]) -> None:
    finding = only(changed(CLAIM, edit))
    assert (finding.impact, finding.field) == (Impact.REFUSED, field)
    assert finding.advice == RECREATE_CLAIM


def test_writing_out_the_default_volume_mode_is_not_a_change() -> None:
    assert changed(CLAIM, lambda d: d["spec"].update(volumeMode="Filesystem")) == []


# --- RBAC -------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["RoleBinding", "ClusterRoleBinding"])
def test_a_bindings_role_ref_is_refused(kind: str) -> None:
    binding = {**copy.deepcopy(BINDING), "kind": kind}
    finding = only(changed(binding, lambda d: d["roleRef"].update(name="admin")))
    assert (finding.impact, finding.field, finding.reason) == (Impact.REFUSED, "roleRef", "cannot change roleRef")
    assert finding.advice == RECREATE
    assert "ValidateRoleBindingUpdate" in finding.source
    assert changed(binding, lambda d: d["subjects"].append({"kind": "User", "name": "ops"})) == []


# --- immutable ConfigMaps and Secrets ---------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["ConfigMap", "Secret"])
@pytest.mark.parametrize(
    ("field", "edit"),
    [
        ("data", lambda d: d["data"].update(a="Mg==")),
        ("immutable", lambda d: d.update(immutable=False)),
        ("immutable", lambda d: d.pop("immutable")),
    ],
)
def test_an_immutable_configmap_or_secret_is_refused(
    kind: str, field: str, edit: Callable[[dict[str, Any]], object]
) -> None:
    config = {"kind": kind, "metadata": {"name": "cfg"}, "immutable": True, "data": {"a": "MQ=="}}
    finding = only(changed(config, edit))
    assert (finding.impact, finding.field) == (Impact.REFUSED, field)
    assert "immutable when `immutable` is set" in finding.reason
    assert "new name" in finding.advice
    assert "ValidateConfigMapUpdate" in finding.source


def test_an_immutable_configmaps_binary_data_is_refused() -> None:
    config = {"kind": "ConfigMap", "metadata": {"name": "cfg"}, "immutable": True, "binaryData": {"a": "MQ=="}}
    assert only(changed(config, lambda d: d["binaryData"].update(a="Mg=="))).field == "binaryData"


def test_a_secrets_type_is_refused() -> None:
    secret = {"kind": "Secret", "metadata": {"name": "tls"}, "data": {"a": "MQ=="}}
    finding = only(changed(secret, lambda d: d.update(type="kubernetes.io/tls")))
    assert (finding.impact, finding.field) == (Impact.REFUSED, "type")
    assert changed(secret, lambda d: d.update(type="Opaque")) == [], "Opaque is the default"


def test_the_warning_about_an_immutable_secret_shows_no_values() -> None:
    old = {"kind": "Secret", "metadata": {"name": "db"}, "immutable": True, "data": {"password": "aHVudGVyMg=="}}
    new = {"kind": "Secret", "metadata": {"name": "db"}, "immutable": True, "data": {"password": "c2VjcmV0"}}
    report = diff_trees({"a/s.yaml": yaml.safe_dump(old)}, {"a/s.yaml": yaml.safe_dump(new)})
    assert report.impact is Impact.REFUSED
    text = format_text(report) + format_markdown(report)
    assert "aHVudGVyMg==" not in text
    assert "c2VjcmV0" not in text
    assert f"data.password: {REDACTED} -> {REDACTED}" in format_text(report)


# --- Service ------------------------------------------------------------------------------------------------------------


def service(**spec: Any) -> dict[str, Any]:
    doc = copy.deepcopy(SERVICE)
    doc["spec"].update(spec)
    return doc


@pytest.mark.parametrize(
    ("old", "new", "field", "reason"),
    [
        (service(clusterIP="10.0.0.10"), service(clusterIP="10.0.0.11"), "spec.clusterIP", "may not change once set"),
        (service(), service(clusterIP="None"), "spec.clusterIP", "may not change once set"),
        (service(clusterIP="None"), service(), "spec.clusterIP", "keeps the clusterIP"),
        (
            service(ipFamilies=["IPv4"], ipFamilyPolicy="SingleStack"),
            service(ipFamilies=["IPv6"], ipFamilyPolicy="SingleStack"),
            "spec.ipFamilies",
            "may not change once set",
        ),
        (
            service(ipFamilies=["IPv4", "IPv6"], ipFamilyPolicy="PreferDualStack"),
            service(ipFamilies=["IPv4"], ipFamilyPolicy="PreferDualStack"),
            "spec.ipFamilyPolicy",
            "must be set to 'SingleStack'",
        ),
        (
            service(type="LoadBalancer", loadBalancerClass="a.example/lb"),
            service(type="LoadBalancer", loadBalancerClass="b.example/lb"),
            "spec.loadBalancerClass",
            "may not change once set",
        ),
        (
            service(clusterIP="10.0.0.10"),
            service(type="ExternalName", externalName="db.example.com", clusterIP="10.0.0.11"),
            "spec.clusterIP",
            "may not be set for ExternalName services",
        ),
    ],
)
def test_service_changes_that_need_a_new_service(
    old: dict[str, Any], new: dict[str, Any], field: str, reason: str
) -> None:
    finding = only(classify_change(old, new))
    assert (finding.impact, finding.field) == (Impact.REFUSED, field)
    assert reason in finding.reason
    assert finding.advice == RECREATE_SERVICE
    assert "ValidateServiceUpdate" in finding.source


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (service(), service(ports=[{"name": "http", "port": 8080, "targetPort": 8080}])),
        (service(clusterIP="None"), service(clusterIP="None", ports=[])),
        (service(), service(type="NodePort")),
        # To ExternalName: an unchanged (or dropped) clusterIP is cleared by the API server.
        (service(), service(type="ExternalName", externalName="db.example.com")),
        (service(clusterIP="None"), service(type="ExternalName", externalName="db.example.com", clusterIP="None")),
        # From ExternalName: a clusterIP is allocated, or taken as given.
        (service(type="ExternalName", externalName="db.example.com"), service(clusterIP="None")),
        # Adding a second family, and dropping it as SingleStack.
        (service(ipFamilies=["IPv4"]), service(ipFamilies=["IPv4", "IPv6"], ipFamilyPolicy="PreferDualStack")),
        (service(ipFamilies=["IPv4", "IPv6"]), service(ipFamilies=["IPv4"], ipFamilyPolicy="SingleStack")),
    ],
)
def test_service_changes_in_place(old: dict[str, Any], new: dict[str, Any]) -> None:
    assert classify_change(old, new) == []


# --- removals and renames ---------------------------------------------------------------------------------------------


def test_removing_a_claim_destroys_its_data() -> None:
    finding = only(classify_removal(CLAIM))
    assert (finding.impact, finding.field) == (Impact.DESTROYS_DATA, "")
    assert "reclaim policy is Delete" in finding.reason
    assert "Prune=false" in finding.advice
    assert "persistent-volumes" in finding.source


def test_removing_a_statefulset_keeps_its_claims_by_default() -> None:
    finding = only(classify_removal(STATEFULSET))
    assert (finding.impact, finding.field) == (Impact.DESTROYS_DATA, "spec.volumeClaimTemplates")
    assert "its claims (data-web-<ordinal>) are kept" in finding.reason
    assert "orphaned" in finding.reason
    assert "persistentVolumeClaimRetentionPolicy" in finding.source


def test_removing_a_statefulset_whose_claims_go_with_it() -> None:
    deleting = copy.deepcopy(STATEFULSET)
    deleting["spec"]["persistentVolumeClaimRetentionPolicy"] = {"whenDeleted": "Delete", "whenScaled": "Retain"}
    finding = only(classify_removal(deleting))
    assert finding.field == "spec.persistentVolumeClaimRetentionPolicy.whenDeleted"
    assert "data-web-<ordinal>" in finding.reason
    assert "and their volumes' data" in finding.reason


def test_removing_a_namespace_deletes_everything_in_it() -> None:
    finding = only(classify_removal(NAMESPACE))
    assert finding.impact is Impact.DESTROYS_DATA
    assert "everything in it" in finding.reason
    assert "namespaces" in finding.source


def test_removing_an_application_with_the_resources_finalizer() -> None:
    app = dist_object("argocd/prod/application-prod-kairoflow.yaml")
    finding = only(classify_removal(app))
    assert (finding.impact, finding.field) == (Impact.DESTROYS_DATA, "metadata.finalizers")
    assert "every resource it manages" in finding.reason


@pytest.mark.parametrize(
    "doc",
    [
        workload("Deployment"),
        workload("StatefulSet"),  # no claim templates
        SERVICE,
        with_annotations(CLAIM, {SYNC_OPTIONS_ANNOTATION: "Prune=false"}),
    ],
    ids=["deployment", "statefulset without claims", "service", "claim with Prune=false"],
)
def test_removals_that_take_no_data(doc: dict[str, Any]) -> None:
    assert classify_removal(doc) == []


@pytest.mark.parametrize(
    ("doc", "expected"),
    [
        (CLAIM, "deletes the claim"),
        (STATEFULSET, "are kept"),
        (NAMESPACE, "everything in it"),
    ],
)
def test_a_rename_of_data_prunes_the_old_object(doc: dict[str, Any], expected: str) -> None:
    renamed = copy.deepcopy(doc)
    renamed["metadata"]["name"] += "-v2"
    finding = only(classify_rename(doc, renamed))
    assert finding.impact is Impact.DESTROYS_DATA
    assert "A rename creates" in finding.reason
    assert expected in finding.reason
    assert "Keep the old name" in finding.advice


def test_a_renamed_statefulset_starts_with_empty_claims() -> None:
    renamed = copy.deepcopy(STATEFULSET)
    renamed["metadata"]["name"] = "web-v2"
    finding = only(classify_rename(STATEFULSET, renamed))
    assert "A rename creates StatefulSet/web-v2 anew and prunes StatefulSet/web" in finding.reason
    assert "its claims (data-web-<ordinal>) are kept" in finding.reason
    assert finding.reason.endswith("the new one starts with new, empty claims")


def test_the_diff_finds_a_renamed_claim() -> None:
    renamed = copy.deepcopy(CLAIM)
    renamed["metadata"]["name"] = "uploads-v2"
    report = diff_trees(
        {"p/s/pvc-uploads.yaml": yaml.safe_dump(CLAIM)}, {"p/s/pvc-uploads-v2.yaml": yaml.safe_dump(renamed)}
    )
    (resource,) = report.resources
    assert (resource.status, resource.impact) == ("renamed", Impact.DESTROYS_DATA)
    assert report.impact.blocks


# --- opting into replacement --------------------------------------------------------------------------------------


def replaced(doc: dict[str, Any], options: str = "Force=true,Replace=true") -> dict[str, Any]:
    return with_annotations(doc, {SYNC_OPTIONS_ANNOTATION: options})


def test_an_object_that_opts_into_replacement_is_replaced_on_sync() -> None:
    job = replaced(JOB)
    finding = only(changed(job, lambda d: d["spec"]["template"]["spec"]["containers"][0].update(image="x:2")))
    assert (finding.impact, finding.field) == (Impact.REPLACED_ON_SYNC, "spec.template")
    assert "deletes and re-creates" in finding.reason
    assert "sync-options.md" in finding.source
    assert not finding.impact.blocks


def test_replace_alone_is_still_refused() -> None:
    job = replaced(JOB, "Replace=true")
    finding = only(changed(job, lambda d: d["spec"]["template"]["spec"]["containers"][0].update(image="x:2")))
    assert finding.impact is Impact.REFUSED


def test_replacing_a_claim_destroys_its_data() -> None:
    finding = only(changed(replaced(CLAIM), lambda d: d["spec"].update(storageClassName="fast")))
    assert (finding.impact, finding.field) == (Impact.DESTROYS_DATA, "spec.storageClassName")
    assert "deleting it deletes the claim" in finding.reason


def test_replacing_a_statefulset_keeps_or_deletes_its_claims() -> None:
    edit = lambda d: d["spec"].update(serviceName="other")  # noqa: E731
    kept = only(changed(replaced(STATEFULSET), edit))
    assert kept.impact is Impact.REPLACED_ON_SYNC
    assert "claims are kept" in kept.reason
    deleting = replaced(STATEFULSET)
    deleting["spec"]["persistentVolumeClaimRetentionPolicy"] = {"whenDeleted": "Delete"}
    assert only(changed(deleting, edit)).impact is Impact.DESTROYS_DATA


# --- the report and the command line ----------------------------------------------------------------------------------


def test_changes_that_cannot_be_applied_in_place_come_first() -> None:
    new_deployment = workload("Deployment")
    new_deployment["spec"]["selector"]["matchLabels"]["tier"] = "web"
    report = diff_trees(
        {
            "p/s/a-config.yaml": yaml.safe_dump({"kind": "ConfigMap", "metadata": {"name": "a"}, "data": {"x": "1"}}),
            "p/s/deployment.yaml": yaml.safe_dump(workload("Deployment")),
            "p/s/pvc.yaml": yaml.safe_dump(CLAIM),
        },
        {
            "p/s/a-config.yaml": yaml.safe_dump({"kind": "ConfigMap", "metadata": {"name": "a"}, "data": {"x": "2"}}),
            "p/s/deployment.yaml": yaml.safe_dump(new_deployment),
        },
    )
    assert report.impact is Impact.DESTROYS_DATA
    assert [r.resource for r in report.not_in_place] == ["PersistentVolumeClaim/uploads", "Deployment/web"]
    text = format_text(report)
    assert text.startswith("⚠️ Changes that cannot be applied in place\n")
    assert text.index("DESTROYS DATA: PersistentVolumeClaim/uploads") < text.index("REFUSED IN PLACE: Deployment/web")
    assert "    spec.selector: field is immutable (apps/v1) [refused in place]\n" in text
    assert "        spec.selector.matchLabels.tier: (none) -> web\n" in text
    assert f"      what to do: {RECREATE_WORKLOAD}\n" in text
    assert "Not in place: 1 destroys data, 1 refused in place." in text
    assert text.index("Not in place") < text.index("~ changed  p/s/a-config.yaml")
    markdown = format_markdown(report)
    assert markdown.startswith("### ⚠️ Changes that cannot be applied in place\n")
    assert markdown.index("cannot be applied in place") < markdown.index("### Rendered manifests")
    assert "**refused in place**: `Deployment/web` in `p/s/deployment.yaml` (changed)" in markdown
    assert "  spec.selector.matchLabels.tier: (none) → web" in markdown
    assert "| changed ⚠️ refused in place | `Deployment/web` |" in markdown
    assert "| changed | `ConfigMap/a` |" in markdown


@pytest.fixture
def stale_dist(tmp_path: Path) -> Path:
    """A copy of dist/ to edit into an older state."""
    stale = tmp_path / "dist"
    shutil.copytree(DIST, stale)
    return stale


def edit_yaml(path: Path, edit: Callable[[dict[str, Any]], object]) -> None:
    doc = yaml.safe_load(path.read_text())
    edit(doc)
    path.write_text(yaml.safe_dump(doc, sort_keys=False))


def diff_exit_code(dist: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, str]:
    status = main.main(
        ["diff", "--engine", "plain", "--env", "prod", "--stack", "core-pipeline", "--dist", str(dist), *extra]
    )
    return status, capsys.readouterr().out


def test_cli_exit_codes_0_1_3(stale_dist: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert diff_exit_code(stale_dist, capsys, "--exit-code")[0] == 0

    deployment = stale_dist / "prod" / "core-pipeline" / "deployment-core-pipeline.yaml"
    edit_yaml(deployment, lambda d: d["spec"]["template"]["spec"]["containers"][0].update(image="old:1"))
    status, out = diff_exit_code(stale_dist, capsys, "--exit-code")
    assert status == 1, "an image tag applies in place"
    assert "cannot be applied in place" not in out

    edit_yaml(deployment, lambda d: d["spec"]["selector"]["matchLabels"].update({"app.kubernetes.io/instance": "old"}))
    status, out = diff_exit_code(stale_dist, capsys, "--exit-code")
    assert status == 3, "a selector change is refused by the API server"
    assert out.startswith("⚠️ Changes that cannot be applied in place\n\nREFUSED IN PLACE: Deployment/core-pipeline")
    assert "spec.selector.matchLabels.app.kubernetes.io/instance: old -> core-pipeline" in out

    status, out = diff_exit_code(stale_dist, capsys, "--format", "markdown")
    assert status == 0, "without --exit-code, differences are not a failure"
    assert out.startswith("### ⚠️ Changes that cannot be applied in place")


def test_the_verta_instance_migration_is_refused_in_place_with_the_orphan_delete() -> None:
    """Issue 15 item 7: verta's instance label moved from `verta-<service>` to `verta`; it is in the Deployment's
    selector, so the diff must refuse the change in place and say how to roll it out without downtime."""
    old = workload("Deployment")
    old["spec"]["selector"]["matchLabels"] = {
        "app.kubernetes.io/name": "verta-backend",
        "app.kubernetes.io/instance": "verta-backend",
        "app.kubernetes.io/component": "backend",
    }
    finding = only(
        changed(old, lambda d: d["spec"]["selector"]["matchLabels"].update({"app.kubernetes.io/instance": "verta"}))
    )
    assert (finding.impact, finding.field) == (Impact.REFUSED, "spec.selector")
    assert "kubectl delete deployment NAME --cascade=orphan" in finding.advice
    assert "kubectl delete replicaset -l <the old selector>" in finding.advice
