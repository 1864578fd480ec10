"""Pod Security admission: every namespace the project creates enforces the configured standard, and a synth refuses
a pod that the standard refuses, before the API server would."""

from __future__ import annotations

import copy
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

import main
from delivery.checks import RenderCheckError, check_stacks, find_problems
from delivery.pod_security import violations
from engine import Manifest, RenderedEnvironment
from environment_model.paths import ROOT
from environment_model.settings import load_environment
from tests.conftest import ENVIRONMENTS
from tests.test_bad_input import tree_digest

MODES = ("enforce", "warn", "audit")


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_every_namespace_the_environment_creates_enforces_the_configured_standard(
    rendered: dict[str, RenderedEnvironment], env: str
) -> None:
    """A namespace is created either as a rendered Namespace object or by Argo CD (CreateNamespace=true, with
    managedNamespaceMetadata); each must carry all six labels, with the settings' level and version."""
    pod_security = load_environment(env).argocd.pod_security
    expected: dict[str, str] = {}
    for mode in MODES:
        expected[f"pod-security.kubernetes.io/{mode}"] = pod_security.level
        expected[f"pod-security.kubernetes.io/{mode}-version"] = pod_security.version
    created: dict[str, dict[str, str]] = {}
    for manifests in rendered[env].values():
        for manifest in manifests:
            if manifest["kind"] == "Namespace":
                created[manifest["metadata"]["name"]] = manifest["metadata"]["labels"]
            sync_policy = manifest.get("spec", {}).get("syncPolicy", {})
            if manifest["kind"] == "Application" and "CreateNamespace=true" in sync_policy.get("syncOptions", []):
                namespace = manifest["spec"]["destination"]["namespace"]
                created[namespace] = sync_policy["managedNamespaceMetadata"]["labels"]
    # Every stack's namespace is created one way or the other (kairoflow renders its own Namespace).
    stack_namespaces = {
        m["metadata"]["namespace"]
        for stack, manifests in rendered[env].items()
        if stack != "argocd"
        for m in manifests
        if "namespace" in m["metadata"]
    }
    assert stack_namespaces <= set(created)
    for namespace, labels in created.items():
        assert {key: labels.get(key) for key in expected} == expected, namespace
    assert pod_security.level == "restricted" and pod_security.version == "v1.27", "the documented default"


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_every_rendered_pod_passes_restricted(rendered: dict[str, RenderedEnvironment], env: str) -> None:
    from delivery.pod_templates import pod_template_of

    pods = [
        (m["kind"], m["metadata"]["name"], template)
        for manifests in rendered[env].values()
        for m in manifests
        if (template := pod_template_of(m)) is not None
    ]
    assert len(pods) >= 10
    assert {kind for kind, _, _ in pods} >= {"Deployment", "StatefulSet", "CronJob", "Job", "PodTemplate"}
    for kind, name, template in pods:
        assert list(violations("restricted", template)) == [], f"{kind}/{name}"


def _namespace(level: str | None) -> Manifest:
    labels = {} if level is None else {"pod-security.kubernetes.io/enforce": level}
    for mode in MODES:
        if level is not None:
            labels[f"pod-security.kubernetes.io/{mode}"] = level
            labels[f"pod-security.kubernetes.io/{mode}-version"] = "v1.27"
    return {"kind": "Namespace", "metadata": {"name": "apps", "labels": labels}}


HARDENED_CONTAINER: dict[str, Any] = {
    "name": "web",
    "image": "web:1.0.0",
    "securityContext": {
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "runAsNonRoot": True,
        "seccompProfile": {"type": "RuntimeDefault"},
    },
}


def _workload(kind: str, pod_spec: dict[str, Any], annotations: dict[str, str] | None = None) -> Manifest:
    template = {"metadata": {"labels": {"app": "web"}, "annotations": annotations or {}}, "spec": pod_spec}
    metadata = {"name": "web", "namespace": "apps"}
    if kind == "PodTemplate":
        return {"kind": kind, "metadata": metadata, "template": template}
    if kind == "CronJob":
        return {"kind": kind, "metadata": metadata, "spec": {"jobTemplate": {"spec": {"template": template}}}}
    return {"kind": kind, "metadata": metadata, "spec": {"template": template}}


def _pod(**changes: Any) -> dict[str, Any]:
    """A hardened pod spec, with `container` merged into the container's securityContext and the rest into the
    pod spec."""
    container = copy.deepcopy(HARDENED_CONTAINER)
    container["securityContext"].update(changes.pop("container", {}))
    container.update(changes.pop("container_fields", {}))
    return {"automountServiceAccountToken": False, "containers": [container], **changes}


def _security_problems(manifests: list[Manifest]) -> list[str]:
    return [p for p in find_problems(manifests) if "Pod Security" in p]


# (id, pod spec, the field the message must name, the lowest level that refuses it)
BROKEN = [
    ("privileged", _pod(container={"privileged": True}), "securityContext.privileged", "baseline"),
    ("host-network", _pod(hostNetwork=True), "spec.hostNetwork", "baseline"),
    ("host-pid", _pod(hostPID=True), "spec.hostPID", "baseline"),
    ("host-ipc", _pod(hostIPC=True), "spec.hostIPC", "baseline"),
    (
        "host-path",
        _pod(volumes=[{"name": "root", "hostPath": {"path": "/"}}]),
        "spec.volumes[root].hostPath",
        "baseline",
    ),
    (
        "host-port",
        _pod(container_fields={"ports": [{"containerPort": 80, "hostPort": 80}]}),
        "ports.hostPort",
        "baseline",
    ),
    (
        "sys-admin",
        _pod(container={"capabilities": {"drop": ["ALL"], "add": ["SYS_ADMIN"]}}),
        "capabilities.add",
        "baseline",
    ),
    ("proc-mount", _pod(container={"procMount": "Unmasked"}), "securityContext.procMount", "baseline"),
    (
        "unsafe-sysctl",
        _pod(securityContext={"sysctls": [{"name": "kernel.msgmax", "value": "1"}]}),
        "spec.securityContext.sysctls",
        "baseline",
    ),
    (
        "seccomp-unconfined",
        _pod(container={"seccompProfile": {"type": "Unconfined"}}),
        "seccompProfile.type",
        "baseline",
    ),
    ("selinux-user", _pod(container={"seLinuxOptions": {"user": "root"}}), "seLinuxOptions.user", "baseline"),
    (
        "host-process",
        _pod(container={"windowsOptions": {"hostProcess": True}}),
        "windowsOptions.hostProcess",
        "baseline",
    ),
    ("root-user", _pod(container={"runAsUser": 0}), "securityContext.runAsUser", "restricted"),
    ("root-pod-user", _pod(securityContext={"runAsUser": 0}), "spec.securityContext.runAsUser", "restricted"),
    ("may-run-as-root", _pod(container={"runAsNonRoot": False}), "securityContext.runAsNonRoot", "restricted"),
    ("escalation", _pod(container={"allowPrivilegeEscalation": True}), "allowPrivilegeEscalation", "restricted"),
    ("no-seccomp", _pod(container={"seccompProfile": {}}), "seccompProfile.type", "restricted"),
    ("keeps-capabilities", _pod(container={"capabilities": {}}), "capabilities.drop", "restricted"),
    (
        "chown",
        _pod(container={"capabilities": {"drop": ["ALL"], "add": ["CHOWN"]}}),
        "capabilities.add",
        "restricted",
    ),
    (
        "nfs-volume",
        _pod(volumes=[{"name": "share", "nfs": {"server": "nfs", "path": "/"}}]),
        "spec.volumes[share]",
        "restricted",
    ),
]


@pytest.mark.parametrize(("pod", "field", "lowest"), [case[1:] for case in BROKEN], ids=[c[0] for c in BROKEN])
def test_each_control_refuses_at_its_level_and_above(pod: dict[str, Any], field: str, lowest: str) -> None:
    for level in ("privileged", "baseline", "restricted"):
        problems = _security_problems([_namespace(level), _workload("Deployment", pod)])
        if level == "privileged" or (level == "baseline" and lowest == "restricted"):
            assert problems == [], level
        else:
            assert len(problems) == 1, problems
            assert "Deployment/web:" in problems[0] and field in problems[0]
            assert f"enforces Pod Security {level}" in problems[0]


def test_the_hardened_pod_passes_and_allowed_exceptions_pass() -> None:
    allowed = _pod(
        container={"capabilities": {"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]}},
        securityContext={"sysctls": [{"name": "net.ipv4.ip_unprivileged_port_start", "value": "0"}]},
        # An image volume (restricted allows it at every policy version) beside the usual ones: found allowed by a
        # real API server (tests/cluster/test_pod_security_differential.py).
        volumes=[
            {"name": "scratch", "emptyDir": {}},
            {"name": "data", "persistentVolumeClaim": {"claimName": "d"}},
            {"name": "model", "image": {"reference": "ghcr.io/example-org/model:1.0.0"}},
        ],
    )
    assert _security_problems([_namespace("restricted"), _workload("Deployment", allowed)]) == []
    # An empty AppArmor annotation is as good as none (the server admits it at baseline and restricted).
    assert (
        list(
            violations(
                "restricted",
                {
                    "metadata": {"annotations": {"container.apparmor.security.beta.kubernetes.io/app": ""}},
                    "spec": allowed,
                },
            )
        )
        == []
    )
    # runAsNonRoot and the seccomp profile may come from the pod's securityContext instead of each container's.
    inherited = _pod(securityContext={"runAsNonRoot": True, "seccompProfile": {"type": "Localhost"}})
    del inherited["containers"][0]["securityContext"]["runAsNonRoot"]
    del inherited["containers"][0]["securityContext"]["seccompProfile"]
    assert _security_problems([_namespace("restricted"), _workload("Deployment", inherited)]) == []


@pytest.mark.parametrize("kind", ["Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob", "PodTemplate"])
def test_every_workload_kind_is_checked_and_init_containers_too(kind: str) -> None:
    pod = _pod()
    pod["initContainers"] = [{**copy.deepcopy(HARDENED_CONTAINER), "name": "init"}]
    pod["initContainers"][0]["securityContext"]["privileged"] = True
    problems = _security_problems([_namespace("restricted"), _workload(kind, pod)])
    assert problems == [
        f"{kind}/web: container init: securityContext.privileged is true (privileged containers are refused); "
        "namespace apps enforces Pod Security restricted, so the API server would refuse the pod"
    ]


def test_an_unconfined_apparmor_annotation_is_refused() -> None:
    annotations = {"container.apparmor.security.beta.kubernetes.io/web": "unconfined"}
    problems = _security_problems([_namespace("baseline"), _workload("Deployment", _pod(), annotations)])
    assert len(problems) == 1 and "container web: metadata.annotations" in problems[0]


def test_a_namespace_we_do_not_create_is_held_to_restricted_and_one_without_labels_is_refused() -> None:
    root = _workload("Deployment", _pod(container={"runAsUser": 0}))
    assert len(_security_problems([root])) == 1, "no Namespace rendered: restricted is assumed"
    problems = _security_problems([_namespace(None), _workload("Deployment", _pod())])
    assert problems == [
        "Namespace/apps: creates a namespace without the Pod Security labels ['pod-security.kubernetes.io/enforce', "
        "'pod-security.kubernetes.io/enforce-version', 'pod-security.kubernetes.io/warn', "
        "'pod-security.kubernetes.io/warn-version', 'pod-security.kubernetes.io/audit', "
        "'pod-security.kubernetes.io/audit-version'] in its labels"
    ]


def test_an_application_that_creates_its_namespace_without_the_labels_is_refused(
    rendered: dict[str, RenderedEnvironment],
) -> None:
    by_stack = copy.deepcopy(rendered["dev"])
    app = next(m for m in by_stack["argocd"] if m["metadata"]["name"] == "dev-verta")
    del app["spec"]["syncPolicy"]["managedNamespaceMetadata"]
    with pytest.raises(RenderCheckError) as refused:
        check_stacks(by_stack)
    assert str(refused.value) == (
        "Application/dev-verta: creates a namespace without the Pod Security labels "
        "['pod-security.kubernetes.io/enforce', 'pod-security.kubernetes.io/enforce-version', "
        "'pod-security.kubernetes.io/warn', 'pod-security.kubernetes.io/warn-version', "
        "'pod-security.kubernetes.io/audit', 'pod-security.kubernetes.io/audit-version'] in "
        "spec.syncPolicy.managedNamespaceMetadata.labels"
    )


def test_a_synth_refuses_a_privileged_root_pod_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A hostile file in the output folder: a `--stack` synth checks the stack it renders together with the other
    stacks as they are there, so a privileged root pod beside it fails the synth, which then writes nothing."""
    out = tmp_path / "dist"
    shutil.copytree(ROOT / "dist", out)
    path = out / "dev" / "hivemind-bot" / "deployment-hivemind-bot.yaml"
    deployment = yaml.safe_load(path.read_text())
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    container["securityContext"].update(privileged=True, runAsUser=0)
    path.write_text(yaml.safe_dump(deployment))
    before = tree_digest(out)

    code = main.main(["synth", "--engine", "plain", "--env", "dev", "--stack", "core-pipeline", "--out", str(out)])

    text = capsys.readouterr().err
    assert code == 1, text
    assert "Traceback" not in text
    namespace = deployment["metadata"]["namespace"]
    for field, problem in (("privileged", "is true (privileged containers are refused)"), ("runAsUser", "is 0 (root)")):
        assert (
            f"Deployment/hivemind-bot: container {container['name']}: securityContext.{field} {problem}; namespace "
            f"{namespace} enforces Pod Security restricted, so the API server would refuse the pod"
        ) in text
    assert "nothing was written" in text
    assert tree_digest(out) == before
