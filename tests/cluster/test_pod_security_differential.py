"""delivery/pod_security.py against the API server's own Pod Security admission, control by control.

Every pod template of the `test` environment (every feature on) is mutated to break each control of the Pod
Security Standards and to satisfy it; the project's verdict (`violations(level, pod)`: any violation refuses) must
be the server's (a dry-run create of the Pod in a namespace that enforces the level) for every case, at `baseline`
and `restricted`, at the policy version the project's namespaces pin (their `enforce-version` label).

A case the server refuses for another reason than Pod Security (an invalid pod) fails the test: it would prove
nothing. Known disagreements are listed in KNOWN_DISAGREEMENTS, each with the upstream code that decides it; the
test fails when one appears or one goes away.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from delivery.pod_security import violations
from tests.cluster import report
from tests.cluster.control_plane import Client
from tests.cluster.pods import (
    VERSION_LABEL,
    Template,
    pod,
    refused_by_pod_security,
    rendered_namespace_labels,
    templates,
)
from tests.cluster.rendered import environment_objects, environments, in_parallel

Spec = dict[str, Any]
Pod = dict[str, Any]  # {"metadata": ..., "spec": ...}
LEVELS = ("baseline", "restricted")


@dataclass(frozen=True)
class Case:
    control: str
    name: str
    mutate: Callable[[Pod], None]


def _containers(pod: Pod) -> Iterator[dict[str, Any]]:
    yield from pod["spec"].get("initContainers", [])
    yield from pod["spec"]["containers"]


def _first(pod: Pod) -> dict[str, Any]:
    container: dict[str, Any] = pod["spec"]["containers"][0]
    return container


def _context(container: dict[str, Any]) -> dict[str, Any]:
    context: dict[str, Any] = container.setdefault("securityContext", {})
    return context


def _pod_context(pod: Pod) -> dict[str, Any]:
    context: dict[str, Any] = pod["spec"].setdefault("securityContext", {})
    return context


def on_first(**fields: Any) -> Callable[[Pod], None]:
    """Set securityContext fields on the first container."""
    return lambda pod: _context(_first(pod)).update(copy.deepcopy(fields))


def on_every(**fields: Any) -> Callable[[Pod], None]:
    def mutate(pod: Pod) -> None:
        for container in _containers(pod):
            _context(container).update(copy.deepcopy(fields))

    return mutate


def on_pod(**fields: Any) -> Callable[[Pod], None]:
    return lambda pod: _pod_context(pod).update(copy.deepcopy(fields))


def spec_fields(**fields: Any) -> Callable[[Pod], None]:
    return lambda pod: pod["spec"].update(copy.deepcopy(fields))


def both(*mutations: Callable[[Pod], None]) -> Callable[[Pod], None]:
    def mutate(pod: Pod) -> None:
        for mutation in mutations:
            mutation(pod)

    return mutate


def without(*fields: str, level: str = "every") -> Callable[[Pod], None]:
    """Remove securityContext fields from every container (`every`) or from the pod's context (`pod`)."""

    def mutate(pod: Pod) -> None:
        contexts = [_pod_context(pod)] if level == "pod" else [_context(c) for c in _containers(pod)]
        for context in contexts:
            for field in fields:
                context.pop(field, None)

    return mutate


def volume(**source: Any) -> Callable[[Pod], None]:
    return lambda pod: pod["spec"].setdefault("volumes", []).append({"name": "extra", **copy.deepcopy(source)})


def host_port(port: int) -> Callable[[Pod], None]:
    def mutate(pod: Pod) -> None:
        _first(pod).setdefault("ports", []).append({"name": "extra", "containerPort": 9999, "hostPort": port})

    return mutate


def apparmor_annotation(value: str) -> Callable[[Pod], None]:
    def mutate(pod: Pod) -> None:
        key = f"container.apparmor.security.beta.kubernetes.io/{_first(pod)['name']}"
        pod["metadata"].setdefault("annotations", {})[key] = value

    return mutate


def sysctl(name: str, value: str) -> Callable[[Pod], None]:
    def mutate(pod: Pod) -> None:
        context = _pod_context(pod)
        context["sysctls"] = [
            *(s for s in context.get("sysctls", []) if s["name"] != name),
            {"name": name, "value": value},
        ]

    return mutate


def without_net_sysctls(pod: Pod) -> None:
    """A pod in the host's network namespace may not set network sysctls (the API refuses it as invalid)."""
    context = _pod_context(pod)
    context["sysctls"] = [s for s in context.get("sysctls", []) if not s["name"].startswith("net.")]


# A privileged container, or one adding CAP_SYS_ADMIN, may not also say allowPrivilegeEscalation: false (the API
# refuses the pod as invalid), so those cases let it escalate.
ESCALATING = on_first(allowPrivilegeEscalation=True)
CASES = [
    # privileged
    Case("privileged", "privileged container", both(on_first(privileged=True), ESCALATING)),
    Case("privileged", "privileged: false everywhere", on_every(privileged=False)),
    Case("privileged", "privileged unset", without("privileged")),
    # host namespaces and ports
    Case("host namespaces", "hostNetwork", both(spec_fields(hostNetwork=True), without_net_sysctls)),
    Case("host namespaces", "hostPID", spec_fields(hostPID=True)),
    Case("host namespaces", "hostIPC", spec_fields(hostIPC=True)),
    Case("host namespaces", "all false", spec_fields(hostNetwork=False, hostPID=False, hostIPC=False)),
    Case("host ports", "hostPort 8080", host_port(8080)),
    Case("host ports", "a port without hostPort", host_port(0)),
    # volumes
    Case("hostPath", "hostPath volume", volume(hostPath={"path": "/var/log", "type": "Directory"})),
    Case("volume types", "nfs", volume(nfs={"server": "nfs.example.test", "path": "/exports"})),
    Case(
        "volume types", "iscsi", volume(iscsi={"targetPortal": "10.0.0.1:3260", "iqn": "iqn.2001-04.test:x", "lun": 0})
    ),
    Case("volume types", "cephfs", volume(cephfs={"monitors": ["10.0.0.1:6789"]})),
    Case("volume types", "rbd", volume(rbd={"monitors": ["10.0.0.1:6789"], "image": "disk"})),
    Case("volume types", "flexVolume", volume(flexVolume={"driver": "example.test/flex"})),
    Case("volume types", "fc", volume(fc={"wwids": ["3600508b400105e210000900000490000"]})),
    Case("volume types", "azureFile", volume(azureFile={"secretName": "azure", "shareName": "share"})),
    Case("volume types", "gitRepo", volume(gitRepo={"repository": "https://example.test/repo.git"})),
    Case("volume types", "configMap", volume(configMap={"name": "settings"})),
    Case("volume types", "secret", volume(secret={"secretName": "credentials"})),
    Case("volume types", "emptyDir", volume(emptyDir={"sizeLimit": "64Mi"})),
    Case(
        "volume types", "projected token", volume(projected={"sources": [{"serviceAccountToken": {"path": "token"}}]})
    ),
    Case(
        "volume types",
        "downwardAPI",
        volume(downwardAPI={"items": [{"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}}]}),
    ),
    Case("volume types", "persistentVolumeClaim", volume(persistentVolumeClaim={"claimName": "data"})),
    Case("volume types", "csi", volume(csi={"driver": "inline.example.test"})),
    Case(
        "volume types",
        "ephemeral",
        volume(
            ephemeral={
                "volumeClaimTemplate": {
                    "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}
                }
            }
        ),
    ),
    Case(
        "volume types", "image", volume(image={"reference": "ghcr.io/example/data:1.0.0", "pullPolicy": "IfNotPresent"})
    ),
    # capabilities
    Case("capabilities", "add NET_ADMIN", on_first(capabilities={"drop": ["ALL"], "add": ["NET_ADMIN"]})),
    Case(
        "capabilities",
        "add SYS_ADMIN",
        both(on_first(capabilities={"drop": ["ALL"], "add": ["SYS_ADMIN"]}), ESCALATING),
    ),
    Case("capabilities", "add CHOWN (a baseline one)", on_first(capabilities={"drop": ["ALL"], "add": ["CHOWN"]})),
    Case("capabilities", "add NET_BIND_SERVICE", on_first(capabilities={"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]})),
    Case("capabilities", "drop only NET_RAW", on_first(capabilities={"drop": ["NET_RAW"]})),
    Case("capabilities", "drop lower-case all", on_first(capabilities={"drop": ["all"]})),
    Case("capabilities", "no capabilities", without("capabilities")),
    # allowPrivilegeEscalation
    Case("allowPrivilegeEscalation", "true", on_first(allowPrivilegeEscalation=True)),
    Case("allowPrivilegeEscalation", "unset", without("allowPrivilegeEscalation")),
    Case("allowPrivilegeEscalation", "false everywhere", on_every(allowPrivilegeEscalation=False)),
    # runAsNonRoot and runAsUser
    Case("runAsNonRoot", "unset everywhere", both(without("runAsNonRoot"), without("runAsNonRoot", level="pod"))),
    Case("runAsNonRoot", "pod only", both(without("runAsNonRoot"), on_pod(runAsNonRoot=True))),
    Case(
        "runAsNonRoot", "every container only", both(without("runAsNonRoot", level="pod"), on_every(runAsNonRoot=True))
    ),
    Case("runAsNonRoot", "a container false", on_first(runAsNonRoot=False)),
    Case("runAsNonRoot", "pod false, containers true", both(on_pod(runAsNonRoot=False), on_every(runAsNonRoot=True))),
    Case("runAsUser", "pod runAsUser 0", on_pod(runAsUser=0)),
    Case("runAsUser", "container runAsUser 0", on_first(runAsUser=0)),
    Case("runAsUser", "container runAsUser 1000", on_first(runAsUser=1000)),
    # seccomp
    Case("seccomp", "unset everywhere", both(without("seccompProfile"), without("seccompProfile", level="pod"))),
    Case(
        "seccomp",
        "pod RuntimeDefault only",
        both(without("seccompProfile"), on_pod(seccompProfile={"type": "RuntimeDefault"})),
    ),
    Case(
        "seccomp",
        "container Localhost",
        on_first(seccompProfile={"type": "Localhost", "localhostProfile": "profiles/app.json"}),
    ),
    Case("seccomp", "pod Unconfined", on_pod(seccompProfile={"type": "Unconfined"})),
    Case("seccomp", "container Unconfined", on_first(seccompProfile={"type": "Unconfined"})),
    # AppArmor
    Case("AppArmor", "annotation runtime/default", apparmor_annotation("runtime/default")),
    Case("AppArmor", "annotation localhost/", apparmor_annotation("localhost/app")),
    Case("AppArmor", "annotation unconfined", apparmor_annotation("unconfined")),
    Case("AppArmor", "annotation empty", apparmor_annotation("")),
    Case("AppArmor", "pod field Unconfined", on_pod(appArmorProfile={"type": "Unconfined"})),
    Case("AppArmor", "container field Unconfined", on_first(appArmorProfile={"type": "Unconfined"})),
    Case("AppArmor", "container field RuntimeDefault", on_first(appArmorProfile={"type": "RuntimeDefault"})),
    Case("AppArmor", "pod field Localhost", on_pod(appArmorProfile={"type": "Localhost", "localhostProfile": "app"})),
    # SELinux
    Case("SELinux", "pod type container_t", on_pod(seLinuxOptions={"type": "container_t"})),
    Case("SELinux", "container type container_init_t", on_first(seLinuxOptions={"type": "container_init_t"})),
    Case("SELinux", "container type spc_t", on_first(seLinuxOptions={"type": "spc_t"})),
    Case("SELinux", "pod type container_engine_t", on_pod(seLinuxOptions={"type": "container_engine_t"})),
    Case("SELinux", "container user", on_first(seLinuxOptions={"user": "system_u"})),
    Case("SELinux", "pod role", on_pod(seLinuxOptions={"role": "system_r"})),
    Case("SELinux", "pod level only", on_pod(seLinuxOptions={"level": "s0:c123,c456"})),
    # procMount (Unmasked needs a user namespace: hostUsers false, which the 1.27 policy does not relax for)
    Case("procMount", "Unmasked", both(on_first(procMount="Unmasked"), spec_fields(hostUsers=False))),
    Case("procMount", "Default", on_first(procMount="Default")),
    # sysctls
    Case("sysctls", "kernel.shm_rmid_forced", sysctl("kernel.shm_rmid_forced", "0")),
    Case("sysctls", "net.ipv4.ip_unprivileged_port_start", sysctl("net.ipv4.ip_unprivileged_port_start", "1024")),
    Case("sysctls", "net.ipv4.tcp_keepalive_time (safe from 1.29)", sysctl("net.ipv4.tcp_keepalive_time", "600")),
    Case("sysctls", "kernel.msgmax", sysctl("kernel.msgmax", "65536")),
    Case("sysctls", "net.core.somaxconn", sysctl("net.core.somaxconn", "1024")),
]
CONTROLS = sorted({case.control for case in CASES}, key=[case.control for case in CASES].index)

# (control, case, level) -> why the project and the server differ. Each entry is a finding about
# delivery/pod_security.py, left here (not fixed in the test) so that it stays visible until delivery/ changes.
KNOWN_DISAGREEMENTS: dict[tuple[str, str, str], str] = {
    # None: the two found first (an `image` volume under restricted, an empty AppArmor annotation) were fixed in
    # delivery/pod_security.py. A new one fails the test until the project agrees with the server again.
}


def _policy_versions() -> list[str]:
    """The policy versions the project's namespaces pin (their enforce-version labels), in every environment."""
    versions = {
        labels.labels.get(VERSION_LABEL, "latest")
        for environment in environments()
        for labels in rendered_namespace_labels(environment_objects(environment)).values()
    }
    return sorted(versions)


@pytest.fixture(scope="module")
def base_templates() -> list[Template]:
    found = templates(environment_objects("test"))
    assert found, "the test environment renders no pod template"
    return found


@pytest.fixture(scope="module")
def enforcing_namespaces(client: Client) -> dict[tuple[str, str], str]:
    """(level, version) -> a namespace that enforces it (and has its default ServiceAccount and the accounts the
    templates name)."""
    namespaces = {}
    accounts = {obj.manifest["metadata"]["name"] for obj in environment_objects("test") if obj.kind == "ServiceAccount"}
    for level in LEVELS:
        for version in _policy_versions():
            name = f"psa-{level}-{version.replace('.', '-')}"
            client.ensure_namespace(
                name,
                {"pod-security.kubernetes.io/enforce": level, "pod-security.kubernetes.io/enforce-version": version},
            )
            for account in sorted(accounts):
                manifest = {
                    "apiVersion": "v1",
                    "kind": "ServiceAccount",
                    "metadata": {"name": account, "namespace": name},
                }
                assert client.apply(manifest, manager="cluster-tests").ok
            namespaces[(level, version)] = name
    return namespaces


@pytest.mark.parametrize("control", CONTROLS)
def test_the_project_refuses_exactly_what_the_server_refuses(
    control: str, client: Client, base_templates: list[Template], enforcing_namespaces: dict[tuple[str, str], str]
) -> None:
    runs = []
    for case in (c for c in CASES if c.control == control):
        for template in base_templates:
            mutated: Pod = {
                "metadata": copy.deepcopy(dict(template.template.get("metadata", {}))),
                "spec": copy.deepcopy(dict(template.template["spec"])),
            }
            case.mutate(mutated)
            for (level, version), namespace in enforcing_namespaces.items():
                runs.append((case, template, level, version, namespace, mutated))

    def server_verdict(run: tuple[Case, Template, str, str, str, Pod]) -> tuple[bool | None, str]:
        _, template, _, _, namespace, mutated = run
        manifest = pod(template, namespace, spec=mutated["spec"])
        manifest["metadata"]["annotations"] = mutated["metadata"].get("annotations", {})
        answer = client.create(manifest, dry_run=True)
        if answer.status == 201:
            return False, ""
        if refused_by_pod_security(answer):
            return True, answer.message
        return None, f"{answer.status} {answer.message}"

    verdicts = in_parallel(server_verdict, runs)
    invalid: list[str] = []
    disagreements: dict[tuple[str, str, str], list[str]] = {}
    for (case, template, level, version, _, mutated), (refused, message) in zip(runs, verdicts, strict=True):
        where = f"{case.name} on {template.name} at {level}:{version}"
        if refused is None:
            invalid.append(f"{where}: not a valid pod, so no Pod Security verdict: {message}")
            continue
        ours = [f"{v.field} {v.problem}" for v in violations(level, mutated)]
        if bool(ours) != refused:
            key = (control, case.name, level)
            server = f"refuses: {message}" if refused else "admits it"
            project = f"refuses: {ours}" if ours else "admits it"
            disagreements.setdefault(key, []).append(
                f"{where}: the server {server}; delivery/pod_security.py {project}"
            )
    assert not invalid, "\n".join(invalid)
    expected = {key: why for key, why in KNOWN_DISAGREEMENTS.items() if key[0] == control}
    unexplained = {key: cases for key, cases in disagreements.items() if key not in expected}
    assert not unexplained, "delivery/pod_security.py and the API server disagree:\n" + "\n".join(
        line for cases in unexplained.values() for line in cases
    )
    gone = sorted(set(expected) - set(disagreements))
    assert not gone, f"no longer a disagreement (remove from KNOWN_DISAGREEMENTS): {gone}"
    cases = sorted({run[0].name for run in runs})
    agreed = len(runs) - sum(len(found) for found in disagreements.values())
    report.add(
        f"pod security differential: {control}: {len(cases)} cases x {len(base_templates)} templates x "
        f"{len(enforcing_namespaces)} levels = {len(runs)} pods, {agreed} verdicts agree"
        + (f", {len(runs) - agreed} known disagreements" if disagreements else "")
    )
