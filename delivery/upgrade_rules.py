"""What a change to a rendered object does when Argo CD syncs it: applied in place, refused by the API server
(an immutable field), or destroying data (a claim, a StatefulSet's claims, a Namespace going away).

The rules follow the Kubernetes API server's own update validation; each names the upstream code it follows
(k8s.io/kubernetes at release 1.35, paths relative to that repository) or the API reference. Argo CD applies a
change with `kubectl apply` (or `kubectl replace` with `Replace=true`): both are updates, which the same validation
refuses. Only `Force=true,Replace=true` deletes and re-creates the object (Argo CD user guide, "Sync Options",
"Force Sync"); `constructs_lib.sync_options.replace_on_sync` is how a construct opts into that.

Changes that apply in place need no rule: anything no rule names (an image tag, labels, replicas, resources, env,
a ConfigMap's data without `immutable`, a CronJob's `spec.jobTemplate`) is "in place".
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from constructs_lib.sync_options import replaces_on_sync, sync_options
from value_types.quantities import memory_bytes

Manifest = Mapping[str, Any]


class Impact(enum.IntEnum):
    """How a change lands, from harmless to worst; a resource's impact is its worst finding's."""

    IN_PLACE = 0
    REPLACED_ON_SYNC = 1  # refused as an update, but the object opts into delete and re-create
    REFUSED = 2
    DESTROYS_DATA = 3

    @property
    def label(self) -> str:
        return _LABELS[self]

    @property
    def blocks(self) -> bool:
        """Needs a person: the sync fails, or data goes."""
        return self >= Impact.REFUSED


_LABELS = {
    Impact.IN_PLACE: "in place",
    Impact.REPLACED_ON_SYNC: "replaced on sync",
    Impact.REFUSED: "refused in place",
    Impact.DESTROYS_DATA: "destroys data",
}


@dataclass(frozen=True)
class Finding:
    impact: Impact
    field: str  # the field path the rule is about (its changed leaves are listed under it); "" for the whole object
    reason: str  # what the API server (or Argo CD) does with the change
    advice: str  # what to do instead
    source: str  # where the rule comes from


@dataclass(frozen=True)
class Violation:
    field: str
    reason: str


Check = Callable[[Manifest, Manifest], list[Violation]]


@dataclass(frozen=True)
class Rule:
    """Changes of `kinds` that the API server refuses as an update."""

    kinds: frozenset[str]
    check: Check
    advice: str
    source: str


# --- what to do, by case ---------------------------------------------------------------------------------------

RECREATE = (
    "Rename the object (Argo CD creates the new one and prunes the old), or delete it before the sync so that Argo CD "
    "creates it again, or let Argo CD delete and re-create it on sync with the sync option `Force=true,Replace=true` "
    "(`constructs_lib.replace_on_sync`). `Replace=true` alone does not help: `kubectl replace` is refused the same way."
)
RECREATE_WORKLOAD = (
    "Delete it without its pods before the sync (`kubectl delete deployment NAME --cascade=orphan`; daemonset or "
    "replicaset likewise): Argo CD creates it again with the new selector, whose pods start while the old ones keep "
    "running; once the new ones are ready, delete what the old selector still matches and nothing owns any more (a "
    "Deployment's old ReplicaSet: `kubectl delete replicaset -l <the old selector>`; otherwise the old pods). Or rename the workload (the new one starts beside the old one, which "
    "Argo CD prunes), or opt it into `Force=true,Replace=true` (`constructs_lib.replace_on_sync`; it is then deleted, "
    "its pods with it, and re-created on every sync). `Replace=true` alone is refused the same way."
)
RECREATE_JOB = (
    "Run it as an Argo CD hook with `hook-delete-policy: BeforeHookCreation` (`constructs_lib.SyncHookJob`), which Argo "
    "CD deletes and creates again at every sync; or rename it (e.g. with the version in its name); or opt it into "
    "`Force=true,Replace=true` (`constructs_lib.replace_on_sync`). `Replace=true` alone is refused the same way."
)
RECREATE_STATEFULSET = (
    "Delete the StatefulSet without its pods (`kubectl delete statefulset NAME --cascade=orphan`) before the sync; Argo "
    "CD creates it again and it adopts the running pods and, by name, the existing claims (which keep their old spec: "
    "grow a claim by editing the PersistentVolumeClaim itself). Renaming it instead starts it with new, empty claims."
)
RECREATE_CLAIM = (
    "Keep the claim as it is and make a new claim under a new name, copying the data over; deleting and re-creating "
    "the claim (or `Force=true,Replace=true`) deletes its volume when the reclaim policy is Delete. To grow a claim, "
    "only raise spec.resources.requests.storage (its StorageClass must have allowVolumeExpansion: true)."
)
RECREATE_SERVICE = (
    "Rename the Service, or delete it before the sync so that Argo CD creates it again (clients see no Service, and a "
    "new clusterIP, in between), or opt it into `Force=true,Replace=true` (`constructs_lib.replace_on_sync`)."
)
NEW_CONFIG_NAME = (
    "Immutable ConfigMaps and Secrets are replaced, not edited: give the new content a new name (e.g. a content hash "
    "suffix) and point the pods at it; Argo CD prunes the old one. Or delete it before the sync."
)
DROP_DEFAULTED_ROLLING_UPDATE = (
    "Remove the defaulted block before the sync: `kubectl patch <kind> NAME --type=json -p "
    '\'[{"op": "remove", "path": "/spec/strategy/rollingUpdate"}, {"op": "replace", "path": '
    '"/spec/strategy/type", "value": "Recreate"}]\'` (StatefulSet: /spec/updateStrategy, OnDelete); the sync '
    "then applies in place. The pods are not restarted by the patch itself."
)
KEEP_DATA = (
    "Back up the data first, or keep the object: leave it in the rendered output, or annotate it with "
    "`argocd.argoproj.io/sync-options: Prune=false` so that Argo CD leaves it in the cluster when it is removed."
)


# --- reading manifests ---------------------------------------------------------------------------------------------


def _get(doc: Manifest, path: str) -> Any:
    value: Any = doc
    for key in path.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def _annotations(doc: Manifest) -> Mapping[str, Any]:
    return _get(doc, "metadata.annotations") or {}


def _kind(doc: Manifest) -> str:
    return str(doc.get("kind"))


# --- checks ----------------------------------------------------------------------------------------------------------


def immutable(*paths: str, reason: str = "may not change once the object exists (field is immutable)") -> Check:
    """Each of `paths` may not change, whatever its value."""

    def check(old: Manifest, new: Manifest) -> list[Violation]:
        return [Violation(path, reason) for path in paths if _get(old, path) != _get(new, path)]

    return check


# ValidateStatefulSetUpdate lets these spec fields change and forbids every other (in its message's order).
STATEFULSET_MUTABLE = (
    "replicas",
    "ordinals",
    "template",
    "updateStrategy",
    "revisionHistoryLimit",
    "persistentVolumeClaimRetentionPolicy",
    "minReadySeconds",
)
# What the API server fills in when a manifest leaves it out, so that writing the default out is not a change.
_STATEFULSET_DEFAULTS = {"podManagementPolicy": "OrderedReady"}


def _statefulset_spec(old: Manifest, new: Manifest) -> list[Violation]:
    old_spec, new_spec = old.get("spec") or {}, new.get("spec") or {}
    violations = []
    for key in sorted((old_spec.keys() | new_spec.keys()) - set(STATEFULSET_MUTABLE)):
        default = _STATEFULSET_DEFAULTS.get(key)
        if old_spec.get(key, default) != new_spec.get(key, default):
            violations.append(
                Violation(
                    f"spec.{key}",
                    "updates to a StatefulSet's spec for fields other than "
                    + ", ".join(STATEFULSET_MUTABLE)
                    + " are forbidden",
                )
            )
    return violations


def _job_spec(old: Manifest, new: Manifest) -> list[Violation]:
    violations = immutable(
        "spec.selector",
        "spec.template",
        "spec.completionMode",
        "spec.podFailurePolicy",
        "spec.backoffLimitPerIndex",
        "spec.managedBy",
        "spec.successPolicy",
    )(old, new)
    # validateCompletions: an Indexed Job may change completions together with parallelism (elastic Indexed Jobs);
    # any other Job may not change it.
    if _get(old, "spec.completions") != _get(new, "spec.completions"):
        indexed = _get(new, "spec.completionMode") == "Indexed"
        if not (indexed and _get(new, "spec.completions") == _get(new, "spec.parallelism")):
            violations.append(Violation("spec.completions", "may not change (except in tandem with parallelism)"))
    return violations


# A bound claim may change resources.requests.storage (up) and volumeAttributesClassName; nothing else.
_CLAIM_DEFAULTS = {"volumeMode": "Filesystem"}


def _claim_spec(old: Manifest, new: Manifest) -> list[Violation]:
    old_spec, new_spec = dict(old.get("spec") or {}), dict(new.get("spec") or {})
    violations = []
    for key in sorted((old_spec.keys() | new_spec.keys()) - {"resources", "volumeAttributesClassName"}):
        default = _CLAIM_DEFAULTS.get(key)
        if old_spec.get(key, default) != new_spec.get(key, default):
            violations.append(Violation(f"spec.{key}", "spec is immutable after creation except resources.requests"))
    old_resources, new_resources = _without_storage(old_spec), _without_storage(new_spec)
    for key in sorted(old_resources.keys() | new_resources.keys()):
        if old_resources.get(key) != new_resources.get(key):
            violations.append(
                Violation(f"spec.resources.{key}", "spec is immutable after creation except resources.requests.storage")
            )
    old_size, new_size = _get(old, "spec.resources.requests.storage"), _get(new, "spec.resources.requests.storage")
    if old_size != new_size and not _grows(old_size, new_size):
        violations.append(
            Violation(
                "spec.resources.requests.storage",
                "a claim can grow but never shrink (field can not be less than previous value)"
                if new_size is not None
                else "the requested storage may not be removed",
            )
        )
    return violations


def _without_storage(spec: Mapping[str, Any]) -> dict[str, Any]:
    """spec.resources with requests.storage left out, flattened to {"requests.cpu": ..., "limits.storage": ...}."""
    flat = {}
    for group, values in (spec.get("resources") or {}).items():
        if not isinstance(values, Mapping):
            flat[group] = values
            continue
        for name, value in values.items():
            if (group, name) != ("requests", "storage"):
                flat[f"{group}.{name}"] = value
    return flat


def _grows(old: Any, new: Any) -> bool:
    try:
        return memory_bytes(str(new)) > memory_bytes(str(old))
    except ValueError:
        return False  # a size we cannot compare: say refused rather than guess


def _immutable_config(old: Manifest, new: Manifest) -> list[Violation]:
    # Only the object as it is in the cluster counts: a mutable ConfigMap may change its data and become immutable
    # in the same update.
    if old.get("immutable") is not True:
        return []
    fields = ("data", "binaryData", "stringData", "immutable")
    return [
        Violation(key, "field is immutable when `immutable` is set") for key in fields if old.get(key) != new.get(key)
    ]


def _secret_type(old: Manifest, new: Manifest) -> list[Violation]:
    if (old.get("type") or "Opaque") != (new.get("type") or "Opaque"):  # Opaque is the default
        return [Violation("type", "a Secret's type may not change (field is immutable)")]
    return []


def _service(old: Manifest, new: Manifest) -> list[Violation]:
    old_type, new_type = _get(old, "spec.type") or "ClusterIP", _get(new, "spec.type") or "ClusterIP"
    old_ips, new_ips = _cluster_ips(old), _cluster_ips(new)
    if "ExternalName" in (old_type, new_type):
        # validateUpgradeDowngradeClusterIPs bails out when either side is ExternalName. Switching to ExternalName,
        # dropTypeDependentFields clears a clusterIP the update left as it was; one it changes stays, and
        # ValidateService refuses a clusterIP on an ExternalName Service. ExternalName to another type allocates
        # (or takes) a new clusterIP: allowed.
        if new_type == "ExternalName" and old_type != "ExternalName" and new_ips and new_ips != old_ips:
            return [Violation("spec.clusterIP", "may not be set for ExternalName services")]
        return []
    violations = []
    headless = old_ips == ["None"] and new_ips == ["None"]
    if old_ips != new_ips and not headless:
        if not new_ips:
            # patchAllocatedValues copies the clusterIP the Service has into an update that leaves it out.
            violations.append(
                Violation(
                    "spec.clusterIP",
                    "not applied: the API server keeps the clusterIP the Service has when the manifest leaves it out "
                    "(a headless Service stays headless)",
                )
            )
        elif not old_ips or old_ips[0] != new_ips[0]:
            # With no clusterIP in the old manifest, the Service has an allocated one; a new value differs from it.
            violations.append(Violation("spec.clusterIP", "may not change once set (the primary clusterIP)"))
        elif len(new_ips) < len(old_ips) and _get(new, "spec.ipFamilyPolicy") != "SingleStack":
            violations.append(
                Violation("spec.ipFamilyPolicy", "must be set to 'SingleStack' when releasing the secondary clusterIP")
            )
    old_families, new_families = _get(old, "spec.ipFamilies") or [], _get(new, "spec.ipFamilies") or []
    # validateUpgradeDowngradeIPFamilies: a headless Service (or one becoming or ceasing to be headless) may change
    # its families; any other keeps its primary family, and drops the secondary only as SingleStack.
    if old_families and new_families and not (old_ips == ["None"] or new_ips == ["None"]):
        if old_families[0] != new_families[0]:
            violations.append(Violation("spec.ipFamilies", "may not change once set (the primary ipFamily)"))
        elif len(new_families) < len(old_families) and _get(new, "spec.ipFamilyPolicy") != "SingleStack":
            violations.append(
                Violation("spec.ipFamilyPolicy", "must be set to 'SingleStack' when releasing the secondary ipFamily")
            )
    # validateLoadBalancerClassField: fixed while the Service stays a LoadBalancer.
    if old_type == new_type == "LoadBalancer" and _get(old, "spec.loadBalancerClass") != _get(
        new, "spec.loadBalancerClass"
    ):
        violations.append(Violation("spec.loadBalancerClass", "may not change once set"))
    return violations


def _strategy_off_a_defaulted_rolling_update(old: Manifest, new: Manifest) -> list[Violation]:
    """A Deployment's strategy (StatefulSet: updateStrategy) changed from RollingUpdate to Recreate (OnDelete) when
    the old manifest left the rollingUpdate block out: the API server filled it in by default, no manifest owns it,
    so the apply keeps it beside the new type and is refused."""
    field, new_type = (
        ("spec.strategy", "Recreate") if _kind(new) == "Deployment" else ("spec.updateStrategy", "OnDelete")
    )
    before, after = _get(old, field) or {}, _get(new, field) or {}
    if (
        before.get("type", "RollingUpdate") == "RollingUpdate"
        and "rollingUpdate" not in before
        and after.get("type") == new_type
        and not ("rollingUpdate" in after and after["rollingUpdate"] is None)
    ):
        return [
            Violation(
                f"{field}.type",
                f"RollingUpdate to {new_type}: the API server filled in {field}.rollingUpdate by default, which no "
                f"manifest owns, so the apply keeps it and is refused ({field}.rollingUpdate may not be set for "
                f"{new_type})",
            )
        ]
    return []


def _cluster_ips(doc: Manifest) -> list[str]:
    ips = _get(doc, "spec.clusterIPs")
    if ips:
        return [str(ip) for ip in ips]
    ip = _get(doc, "spec.clusterIP")
    return [str(ip)] if ip else []


# --- the rules -------------------------------------------------------------------------------------------------------

RULES: tuple[Rule, ...] = (
    # A workload's selector. k8s.io/kubernetes pkg/registry/apps/deployment/strategy.go, .../daemonset/strategy.go and
    # .../replicaset/strategy.go, ValidateUpdate: "disallow mutation of selector",
    # apivalidation.ValidateImmutableField(new.Spec.Selector, old.Spec.Selector, "spec.selector") for every API
    # version but the long-removed extensions/v1beta1 and apps/v1beta1. (StatefulSet: its own rule below.)
    Rule(
        frozenset({"Deployment", "DaemonSet", "ReplicaSet"}),
        immutable("spec.selector", reason="field is immutable (apps/v1)"),
        RECREATE_WORKLOAD,
        "k8s.io/kubernetes pkg/registry/apps/{deployment,daemonset,replicaset}/strategy.go ValidateUpdate",
    ),
    # Everything in a StatefulSet's spec but replicas, ordinals, template, updateStrategy, revisionHistoryLimit,
    # persistentVolumeClaimRetentionPolicy and minReadySeconds: selector, serviceName, volumeClaimTemplates (even a
    # label in a claim template), podManagementPolicy. k8s.io/kubernetes pkg/apis/apps/validation/validation.go
    # ValidateStatefulSetUpdate: "updates to statefulset spec for fields other than 'replicas', 'ordinals',
    # 'template', 'updateStrategy', 'revisionHistoryLimit', 'persistentVolumeClaimRetentionPolicy' and
    # 'minReadySeconds' are forbidden".
    Rule(
        frozenset({"StatefulSet"}),
        _statefulset_spec,
        RECREATE_STATEFULSET,
        "k8s.io/kubernetes pkg/apis/apps/validation/validation.go ValidateStatefulSetUpdate",
    ),
    # A strategy changed away from a RollingUpdate whose rollingUpdate block the API server defaulted
    # (k8s.io/kubernetes pkg/apis/apps/v1/defaults.go SetDefaults_Deployment and SetDefaults_StatefulSet fill it in;
    # pkg/apis/apps/validation/validation.go ValidateDeploymentStrategy: "may not be specified when strategy `type`
    # is 'Recreate'", ValidateStatefulSetUpdateStrategy: "only allowed for updateStrategy 'RollingUpdate'"). Found
    # against a real API server (tests/cluster/test_upgrade_differential.py).
    Rule(
        frozenset({"Deployment", "StatefulSet"}),
        _strategy_off_a_defaulted_rolling_update,
        DROP_DEFAULTED_ROLLING_UPDATE,
        "k8s.io/kubernetes pkg/apis/apps/v1/defaults.go SetDefaults_Deployment, SetDefaults_StatefulSet; "
        "pkg/apis/apps/validation/validation.go ValidateDeploymentStrategy, ValidateStatefulSetUpdateStrategy",
    ),
    # A Job's selector, pod template, completionMode, podFailurePolicy, backoffLimitPerIndex, managedBy, successPolicy
    # and (but for elastic Indexed Jobs) completions. k8s.io/kubernetes pkg/apis/batch/validation/validation.go
    # ValidateJobSpecUpdate and validatePodTemplateUpdate (the template's scheduling directives may change only while
    # a Job is suspended and has never started, which a rendered Job is not).
    # A CronJob has no such rule: ValidateCronJobUpdate checks the new spec alone, so spec.jobTemplate (and the
    # schedule) change in place and apply to the Jobs created after; a CronJob has no selector of its own
    # (ValidateJobTemplateSpec refuses one in the template: "`selector` will be auto-generated").
    Rule(
        frozenset({"Job"}),
        _job_spec,
        RECREATE_JOB,
        "k8s.io/kubernetes pkg/apis/batch/validation/validation.go ValidateJobSpecUpdate",
    ),
    # A claim's spec, but for raising resources.requests.storage (lowering it is refused: "field can not be less
    # than previous value"; with RecoverVolumeExpansionFailure only a failed expansion can be taken back, never below
    # status.capacity) and volumeAttributesClassName. k8s.io/kubernetes pkg/apis/core/validation/validation.go
    # ValidatePersistentVolumeClaimUpdate: "spec is immutable after creation except resources.requests and
    # volumeAttributesClassName for bound claims".
    Rule(
        frozenset({"PersistentVolumeClaim"}),
        _claim_spec,
        RECREATE_CLAIM,
        "k8s.io/kubernetes pkg/apis/core/validation/validation.go ValidatePersistentVolumeClaimUpdate",
    ),
    # roleRef. k8s.io/kubernetes pkg/apis/rbac/validation/validation.go ValidateRoleBindingUpdate and
    # ValidateClusterRoleBindingUpdate: "cannot change roleRef".
    Rule(
        frozenset({"RoleBinding", "ClusterRoleBinding"}),
        immutable("roleRef", reason="cannot change roleRef"),
        RECREATE,
        "k8s.io/kubernetes pkg/apis/rbac/validation/validation.go ValidateRoleBindingUpdate, "
        "ValidateClusterRoleBindingUpdate",
    ),
    # Once `immutable: true`, data, binaryData and immutable itself. k8s.io/kubernetes
    # pkg/apis/core/validation/validation.go ValidateConfigMapUpdate and ValidateSecretUpdate: "field is immutable
    # when `immutable` is set" (stringData is written into data, so it counts as data).
    Rule(
        frozenset({"ConfigMap", "Secret"}),
        _immutable_config,
        NEW_CONFIG_NAME,
        "k8s.io/kubernetes pkg/apis/core/validation/validation.go ValidateConfigMapUpdate, ValidateSecretUpdate",
    ),
    # A Secret's type, always. ValidateSecretUpdate: ValidateImmutableField(newSecret.Type, oldSecret.Type, "type").
    Rule(
        frozenset({"Secret"}),
        _secret_type,
        RECREATE,
        "k8s.io/kubernetes pkg/apis/core/validation/validation.go ValidateSecretUpdate",
    ),
    # A Service's clusterIP(s), ipFamilies and loadBalancerClass. k8s.io/kubernetes
    # pkg/apis/core/validation/validation.go ValidateServiceUpdate (validateUpgradeDowngradeClusterIPs: "may not
    # change once set"; validateUpgradeDowngradeIPFamilies; validateLoadBalancerClassField) and ValidateService
    # (ExternalName: "may not be set for ExternalName services"); pkg/registry/core/service/storage/storage.go
    # patchAllocatedValues and dropTypeDependentFields for what the API server fills in or clears on update.
    Rule(
        frozenset({"Service"}),
        _service,
        RECREATE_SERVICE,
        "k8s.io/kubernetes pkg/apis/core/validation/validation.go ValidateServiceUpdate, ValidateService; "
        "pkg/registry/core/service/storage/storage.go patchAllocatedValues, dropTypeDependentFields",
    ),
)

# --- deleting: what goes with the object -----------------------------------------------------------------------------

# Kubernetes documentation, "Persistent Volumes", Reclaiming: a dynamically provisioned volume inherits its
# StorageClass's reclaimPolicy, which defaults to Delete.
CLAIM_SOURCE = "kubernetes.io/docs/concepts/storage/persistent-volumes/#reclaiming"
# API reference, StatefulSetPersistentVolumeClaimRetentionPolicy (apps/v1): "whenDeleted ... The default policy of
# Retain causes PVCs to not be affected by StatefulSet deletion. The Delete policy causes those PVCs to be deleted."
# GA in 1.32 (StatefulSetAutoDeletePVC); claims are named <template>-<statefulset>-<ordinal>.
STATEFULSET_SOURCE = (
    "kubernetes.io/docs/reference/kubernetes-api/workload-resources/stateful-set-v1/ "
    "persistentVolumeClaimRetentionPolicy; kubernetes.io/docs/concepts/workloads/controllers/statefulset/"
    "#persistentvolumeclaim-retention"
)
# Kubernetes documentation, "Namespaces": deleting a namespace deletes everything in it (the namespace controller,
# pkg/controller/namespace/deletion, deletes every namespaced resource before removing the Namespace).
NAMESPACE_SOURCE = "kubernetes.io/docs/concepts/overview/working-with-objects/namespaces/"
# Argo CD user guide, "App Deletion": with the resources-finalizer.argocd.argoproj.io finalizer, deleting the
# Application deletes all its resources (cascading delete).
APPLICATION_SOURCE = "argo-cd docs/user-guide/app_deletion.md"
APPLICATION_FINALIZER = "resources-finalizer.argocd.argoproj.io"
# Argo CD operator manual, ApplicationSet "Application Deletion Behavior": the Applications an ApplicationSet no
# longer generates (or all of them, when it is deleted) are deleted, and with them what they deployed, unless
# `syncPolicy.preserveResourcesOnDeletion` is true (the controller then adds no resources finalizer to them).
APPLICATION_SET_SOURCE = "argo-cd docs/operator-manual/applicationset/Application-Deletion.md"


def classify_change(old: Manifest, new: Manifest) -> list[Finding]:
    """The changes from `old` to `new` (the same object) that the API server refuses as an update; an object that
    opts into delete and re-create on sync is replaced instead, which for data means the data goes."""
    if _rebuilt_every_sync(new):
        return []
    kind = _kind(new)
    findings = [
        Finding(Impact.REFUSED, violation.field, violation.reason, rule.advice, rule.source)
        for rule in RULES
        if kind in rule.kinds
        for violation in rule.check(old, new)
    ]
    if findings and replaces_on_sync(_annotations(new)):
        return [_replaced(finding, new) for finding in findings]
    return findings + _environments_leaving_the_fleet(old, new)


def _environments_leaving_the_fleet(old: Manifest, new: Manifest) -> list[Finding]:
    """An ApplicationSet whose list generator no longer names an environment deletes that environment's
    Application, and (unprotected) everything the Application deployed."""
    if _kind(new) != "ApplicationSet" or _fleet_protected(new):
        return []
    gone = sorted(_generated_environments(old) - _generated_environments(new))
    if not gone:
        return []
    return [
        Finding(
            Impact.DESTROYS_DATA,
            "spec.generators",
            f"Removing {', '.join(gone)} from the ApplicationSet deletes the Applications it generated for them and, "
            "without spec.syncPolicy.preserveResourcesOnDeletion: true (and no resources finalizer in the "
            "template), every resource they deployed (claims and Namespaces included)",
            "Set spec.syncPolicy.preserveResourcesOnDeletion: true first (the fleet renders it), so that the "
            "workloads keep running when an environment leaves the fleet.",
            APPLICATION_SET_SOURCE,
        )
    ]


def _fleet_protected(application_set: Manifest) -> bool:
    """Whether the Applications an ApplicationSet deletes leave their resources running: preserveResourcesOnDeletion,
    and no resources finalizer written into the template by hand."""
    finalizers = _get(application_set, "spec.template.metadata.finalizers") or []
    preserved = _get(application_set, "spec.syncPolicy.preserveResourcesOnDeletion") is True
    return preserved and APPLICATION_FINALIZER not in finalizers


def _generated_environments(application_set: Manifest) -> set[str]:
    return {
        str(element.get("environment"))
        for generator in _get(application_set, "spec.generators") or []
        for element in ((generator or {}).get("list") or {}).get("elements") or []
        if isinstance(element, Mapping)
    }


def classify_removal(old: Manifest) -> list[Finding]:
    """What deleting `old` (Argo CD pruning it) destroys."""
    consequence = _pruning(old)
    if consequence is None:
        return []
    reason = f"Removing it {consequence.what}"
    return [Finding(Impact.DESTROYS_DATA, consequence.field, reason, KEEP_DATA, consequence.source)]


def classify_rename(old: Manifest, new: Manifest) -> list[Finding]:
    """A rename is a new object and the old one pruned: what goes with the old one."""
    consequence = _pruning(old)
    if consequence is None:
        return []
    fresh = "; the new one starts with new, empty claims" if _kind(new) == "StatefulSet" else ""
    return [
        Finding(
            Impact.DESTROYS_DATA,
            consequence.field,
            f"A rename creates {_name(new)} anew and prunes {_name(old)}: that {consequence.what}{fresh}",
            "Keep the old name, or move the data to the new object before the old one is pruned. " + KEEP_DATA,
            consequence.source,
        )
    ]


@dataclass(frozen=True)
class Consequence:
    """What deleting an object takes with it."""

    field: str  # the field that decides it, or "" for the object itself
    what: str  # "deletes the claim: ...", to follow "Removing it"
    source: str


def _pruning(old: Manifest) -> Consequence | None:
    """What Argo CD pruning `old` destroys; nothing when `Prune=false` keeps it in the cluster (user guide, "Sync
    Options", No Prune Resources)."""
    if sync_options(_annotations(old)).get("Prune") == "false":
        return None
    return _deleting(old)


def _deleting(old: Manifest) -> Consequence | None:
    """What deleting `old` takes with it, when that is data."""
    kind = _kind(old)
    if kind == "PersistentVolumeClaim":
        return Consequence(
            "",
            "deletes the claim: its volume and the data on it are deleted too when the volume's reclaim policy is "
            "Delete (the default for a dynamically provisioned volume); with Retain the volume is left Released and "
            "no new claim binds it by itself",
            CLAIM_SOURCE,
        )
    if kind == "StatefulSet" and _get(old, "spec.volumeClaimTemplates"):
        templates = ", ".join(str(_get(t, "metadata.name")) for t in _get(old, "spec.volumeClaimTemplates"))
        claims = f"its claims ({templates}-{_get(old, 'metadata.name')}-<ordinal>)"
        if _get(old, "spec.persistentVolumeClaimRetentionPolicy.whenDeleted") == "Delete":
            return Consequence(
                "spec.persistentVolumeClaimRetentionPolicy.whenDeleted",
                f"deletes the StatefulSet and, as its retention policy whenDeleted is Delete, {claims} and their "
                "volumes' data",
                STATEFULSET_SOURCE,
            )
        return Consequence(
            "spec.volumeClaimTemplates",
            f"deletes the StatefulSet; {claims} are kept (retention policy whenDeleted: Retain, the default) but "
            "orphaned: nothing uses them until a StatefulSet of the same name and claim templates comes back",
            STATEFULSET_SOURCE,
        )
    if kind == "Namespace":
        return Consequence(
            "",
            "deletes the Namespace and everything in it: every claim (and its volume's data), Secret, ConfigMap and "
            "workload, including objects no Application manages",
            NAMESPACE_SOURCE,
        )
    if kind == "ApplicationSet" and not _fleet_protected(old):
        return Consequence(
            "spec.syncPolicy.preserveResourcesOnDeletion",
            "deletes the ApplicationSet, the Applications it generated and, without preserveResourcesOnDeletion: "
            "true (and no resources finalizer in the template), every resource they deployed in every environment "
            "(claims and Namespaces included)",
            APPLICATION_SET_SOURCE,
        )
    if kind == "Application" and APPLICATION_FINALIZER in (_get(old, "metadata.finalizers") or []):
        return Consequence(
            "metadata.finalizers",
            f"deletes the Argo CD Application and, through its {APPLICATION_FINALIZER} finalizer, every resource it "
            "manages (its claims and Namespaces included)",
            APPLICATION_SOURCE,
        )
    return None


def _replaced(finding: Finding, new: Manifest) -> Finding:
    """`finding` on an object that Argo CD deletes and re-creates on sync (Force=true,Replace=true)."""
    consequence = _deleting(new)
    source = finding.source + "; argo-cd docs/user-guide/sync-options.md (Force=true,Replace=true: delete/create)"
    kept_claims = consequence is not None and consequence.field == "spec.volumeClaimTemplates"
    if consequence is not None and not kept_claims:
        return Finding(
            Impact.DESTROYS_DATA,
            finding.field,
            f"{finding.reason}; the object asks to be replaced on sync (Force=true,Replace=true), and deleting it "
            + consequence.what,
            KEEP_DATA,
            source,
        )
    note = " (its claims are kept and adopted again by name)" if kept_claims else ""
    return Finding(
        Impact.REPLACED_ON_SYNC,
        finding.field,
        f"{finding.reason}; Argo CD deletes and re-creates the object on sync (Force=true,Replace=true){note}",
        "Nothing to do if a delete and re-create is the intended upgrade: while it is gone, what it provides is gone.",
        source,
    )


def _rebuilt_every_sync(doc: Manifest) -> bool:
    """An Argo CD hook with hook-delete-policy BeforeHookCreation is deleted and created again at every sync, never
    updated (Argo CD user guide, "Resource Hooks", Hook Deletion Policies)."""
    annotations = _annotations(doc)
    policies = str(annotations.get("argocd.argoproj.io/hook-delete-policy", "")).split(",")
    return "argocd.argoproj.io/hook" in annotations and "BeforeHookCreation" in (p.strip() for p in policies)


def _name(doc: Manifest) -> str:
    return f"{_kind(doc)}/{_get(doc, 'metadata.name')}"
