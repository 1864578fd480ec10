"""Kubernetes Pod Security admission: the namespace labels that make the cluster enforce a Pod Security Standard,
and the standard's controls, so that a synth refuses a pod the cluster would refuse (or, at `warn`, complain about).

The controls follow the Pod Security Standards page of the Kubernetes documentation (kubernetes.io/docs/concepts/
security/pod-security-standards) at the version this project renders for (1.27): `baseline` forbids the known
privilege escalations, `restricted` adds the hardening best practices on top.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from constructs_lib.pod_security_labels import LABEL_PREFIX, namespace_labels

ENFORCE_LABEL = f"{LABEL_PREFIX}enforce"
LEVELS = ("privileged", "baseline", "restricted")
# A namespace this project deploys into without creating it (so without labels of ours) is held to the strictest
# level: the check must not pass a pod because it cannot see the namespace.
DEFAULT_LEVEL = "restricted"

_BASELINE_CAPABILITIES = frozenset(
    {
        "AUDIT_WRITE",
        "CHOWN",
        "DAC_OVERRIDE",
        "FOWNER",
        "FSETID",
        "KILL",
        "MKNOD",
        "NET_BIND_SERVICE",
        "SETFCAP",
        "SETGID",
        "SETPCAP",
        "SETUID",
        "SYS_CHROOT",
    }
)
_SAFE_SYSCTLS = frozenset(
    {
        "kernel.shm_rmid_forced",
        "net.ipv4.ip_local_port_range",
        "net.ipv4.ip_unprivileged_port_start",
        "net.ipv4.tcp_syncookies",
        "net.ipv4.ping_group_range",
        "net.ipv4.ip_local_reserved_ports",
    }
)
_SELINUX_TYPES = frozenset({"", "container_t", "container_init_t", "container_kvm_t"})
# k8s.io/pod-security-admission policy/check_restrictedVolumes.go restrictedVolumes_1_0, which applies at every policy
# version (an `image` volume, KEP-4639, is in it; checked against a real API server in tests/cluster/).
_RESTRICTED_VOLUMES = (
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "image",
    "persistentVolumeClaim",
    "projected",
    "secret",
)
_APPARMOR_ANNOTATION = "container.apparmor.security.beta.kubernetes.io/"


@dataclass(frozen=True)
class Violation:
    """One field of a pod that the level refuses: `container` is None for a pod-level field."""

    container: str | None
    field: str
    problem: str


def violations(level: str, pod: Mapping[str, Any]) -> Iterator[Violation]:
    """What in pod template `pod` (its metadata and spec) the Pod Security Standard `level` refuses."""
    if level not in ("baseline", "restricted"):
        return
    spec: Mapping[str, Any] = pod.get("spec", {})
    yield from _baseline(pod.get("metadata", {}), spec)
    if level == "restricted":
        yield from _restricted(spec)


def _containers(spec: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [*spec.get("initContainers", []), *spec.get("containers", []), *spec.get("ephemeralContainers", [])]


def _baseline(metadata: Mapping[str, Any], spec: Mapping[str, Any]) -> Iterator[Violation]:
    for field in ("hostNetwork", "hostPID", "hostIPC"):
        if spec.get(field):
            yield Violation(None, f"spec.{field}", "is true (host namespaces are refused)")
    pod_context = spec.get("securityContext", {})
    yield from _context_baseline(None, "spec.securityContext", pod_context)
    for sysctl in pod_context.get("sysctls", []):
        if sysctl.get("name") not in _SAFE_SYSCTLS:
            yield Violation(
                None,
                "spec.securityContext.sysctls",
                f"sets {sysctl.get('name')} (allowed: {', '.join(sorted(_SAFE_SYSCTLS))})",
            )
    for volume in spec.get("volumes", []):
        if "hostPath" in volume:
            yield Violation(
                None, f"spec.volumes[{volume.get('name')}].hostPath", "is set (hostPath volumes are refused)"
            )
    for key, value in sorted(metadata.get("annotations", {}).items()):
        # An empty value is allowed (policy/check_appArmorProfile.go allowedAnnotationValue: len(profile) == 0).
        allowed = value in ("", "runtime/default") or value.startswith("localhost/")
        if key.startswith(_APPARMOR_ANNOTATION) and not allowed:
            yield Violation(
                key.removeprefix(_APPARMOR_ANNOTATION),
                f"metadata.annotations[{key}]",
                f"is {value} (allowed: runtime/default, localhost/<profile> or empty)",
            )
    for container in _containers(spec):
        name = container.get("name")
        context = container.get("securityContext", {})
        yield from _context_baseline(name, "securityContext", context)
        if context.get("privileged"):
            yield Violation(name, "securityContext.privileged", "is true (privileged containers are refused)")
        added = [cap for cap in context.get("capabilities", {}).get("add", []) if cap not in _BASELINE_CAPABILITIES]
        if added:
            yield Violation(name, "securityContext.capabilities.add", f"adds {', '.join(added)}")
        if context.get("procMount", "Default") != "Default":
            yield Violation(name, "securityContext.procMount", f"is {context['procMount']} (allowed: Default)")
        for port in container.get("ports", []):
            if port.get("hostPort"):
                yield Violation(name, "ports.hostPort", f"is {port['hostPort']} (host ports are refused)")


def _context_baseline(container: str | None, where: str, context: Mapping[str, Any]) -> Iterator[Violation]:
    """The rules a pod's and a container's securityContext share at baseline."""
    if context.get("windowsOptions", {}).get("hostProcess"):
        yield Violation(container, f"{where}.windowsOptions.hostProcess", "is true (host processes are refused)")
    if context.get("seccompProfile", {}).get("type") == "Unconfined":
        yield Violation(container, f"{where}.seccompProfile.type", "is Unconfined")
    if context.get("appArmorProfile", {}).get("type") == "Unconfined":
        yield Violation(container, f"{where}.appArmorProfile.type", "is Unconfined")
    selinux = context.get("seLinuxOptions", {})
    if selinux.get("type", "") not in _SELINUX_TYPES:
        yield Violation(container, f"{where}.seLinuxOptions.type", f"is {selinux['type']}")
    for field in ("user", "role"):
        if selinux.get(field):
            yield Violation(container, f"{where}.seLinuxOptions.{field}", "is set (must be left unset)")


def _restricted(spec: Mapping[str, Any]) -> Iterator[Violation]:
    for volume in spec.get("volumes", []):
        kinds = [key for key in volume if key != "name"]
        refused = [kind for kind in kinds if kind not in _RESTRICTED_VOLUMES and kind != "hostPath"]
        if refused:
            yield Violation(
                None,
                f"spec.volumes[{volume.get('name')}]",
                f"is a {refused[0]} volume (allowed: {', '.join(_RESTRICTED_VOLUMES)})",
            )
    pod_context = spec.get("securityContext", {})
    if pod_context.get("runAsUser") == 0:
        yield Violation(None, "spec.securityContext.runAsUser", "is 0 (root)")
    if pod_context.get("runAsNonRoot") is False:
        yield Violation(None, "spec.securityContext.runAsNonRoot", "is false")
    for container in _containers(spec):
        name = container.get("name")
        context = container.get("securityContext", {})
        if context.get("allowPrivilegeEscalation") is not False:
            yield Violation(name, "securityContext.allowPrivilegeEscalation", "is not false")
        non_root = context.get("runAsNonRoot", pod_context.get("runAsNonRoot"))
        if non_root is not True:
            yield Violation(name, "securityContext.runAsNonRoot", "is not true (here or in the pod's securityContext)")
        if context.get("runAsUser") == 0:
            yield Violation(name, "securityContext.runAsUser", "is 0 (root)")
        seccomp = context.get("seccompProfile", pod_context.get("seccompProfile", {})).get("type")
        if seccomp not in ("RuntimeDefault", "Localhost", "Unconfined"):  # Unconfined: the baseline rule's
            yield Violation(
                name,
                "securityContext.seccompProfile.type",
                f"is {seccomp or 'unset'} here and in the pod's securityContext (allowed: RuntimeDefault, Localhost)",
            )
        capabilities = context.get("capabilities", {})
        if "ALL" not in capabilities.get("drop", []):
            yield Violation(name, "securityContext.capabilities.drop", "does not drop ALL")
        # Capabilities outside the baseline set are reported by the baseline rule already.
        added = [cap for cap in capabilities.get("add", []) if cap in _BASELINE_CAPABILITIES - {"NET_BIND_SERVICE"}]
        if added:
            yield Violation(
                name, "securityContext.capabilities.add", f"adds {', '.join(added)} (allowed: NET_BIND_SERVICE)"
            )


def enforced_levels(manifests: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    """The level each namespace enforces, as far as the rendered objects say: a Namespace's own label, or the
    label Argo CD puts on a namespace it creates (an Application's `managedNamespaceMetadata`)."""
    levels: dict[str, str] = {}
    for manifest in manifests:
        if manifest.get("kind") == "Namespace":
            labels = manifest.get("metadata", {}).get("labels", {})
            levels[manifest["metadata"]["name"]] = labels.get(ENFORCE_LABEL, "privileged")
        elif manifest.get("kind") == "Application":
            spec = manifest.get("spec", {})
            managed = spec.get("syncPolicy", {}).get("managedNamespaceMetadata")
            namespace = spec.get("destination", {}).get("namespace")
            if managed is not None and namespace:
                levels.setdefault(namespace, managed.get("labels", {}).get(ENFORCE_LABEL, "privileged"))
    return levels


def label_namespaces(manifests: Sequence[dict[str, Any]], settings: Any) -> None:
    """Put the admission labels of the environment's `argocd.pod_security` settings on every Namespace among
    `manifests` (any stack's), in place: applied here once, so a stack that renders a Namespace cannot forget them
    (and the whole-output check refuses a Namespace without them)."""
    for manifest in manifests:
        if manifest.get("kind") == "Namespace":
            pod_security = settings.argocd.pod_security
            metadata = manifest.setdefault("metadata", {})
            labels = {**metadata.get("labels", {}), **namespace_labels(pod_security.level, pod_security.version)}
            metadata["labels"] = dict(sorted(labels.items()))
