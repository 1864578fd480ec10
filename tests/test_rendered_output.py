"""Guarantees over every environment's rendered output, whatever the stack: schema validity, labels, selectors,
hardening, and no Secret values."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from delivery.checks import RECOMMENDED_LABELS, check_environment, pod_templates
from engine import Manifest, RenderedEnvironment
from environment_model.paths import ROOT
from tests.conftest import containers
from value_types.credentials import looks_secret

CRD_DIR = ROOT / "crds"
KUBERNETES_VERSION = "1.27.0"
BUILT_IN_GROUPS = {"", "apps", "batch", "autoscaling", "policy", "networking.k8s.io", "rbac.authorization.k8s.io"}


@cache
def crd_validator(api_version: str, kind: str) -> jsonschema.protocols.Validator:
    """A strict validator for one custom resource kind, from its upstream CRD in crds/<group>.yaml (vendored).

    Strict like `kubectl --validate=strict`: an object schema that lists properties rejects unknown ones
    (the API server would silently prune them), unless it says x-kubernetes-preserve-unknown-fields.
    """
    group, _, version = api_version.rpartition("/")
    path = CRD_DIR / f"{group}.yaml"
    assert path.exists(), f"no CRD file for group {group} in {CRD_DIR}"
    for crd in yaml.load_all(path.read_text(encoding="utf-8"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
        if not crd or crd["spec"]["names"]["kind"] != kind:
            continue
        for served in crd["spec"]["versions"]:
            if served["name"] == version and served.get("served", True):
                schema = _strict(served["schema"]["openAPIV3Schema"])
                return jsonschema.Draft4Validator(schema)
    raise AssertionError(f"no served CRD version for {api_version} {kind}")


def _strict(schema: Any) -> Any:
    if isinstance(schema, list):
        return [_strict(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    # `properties` maps names to schemas (it is no schema itself): converted below, once (converting it here too
    # doubled the work at every level, minutes for the deeply nested ApplicationSet).
    strict = {key: _strict(value) for key, value in schema.items() if key != "properties"}
    preserves_unknown = schema.get("x-kubernetes-preserve-unknown-fields")
    if "properties" in schema and "additionalProperties" not in schema and not preserves_unknown:
        strict["additionalProperties"] = False
    if "properties" in schema:
        strict["properties"] = {name: _strict(sub) for name, sub in schema["properties"].items()}
    return strict


def _group(manifest: Manifest) -> str:
    api_version: str = manifest["apiVersion"]
    return api_version.rpartition("/")[0]


def test_built_in_objects_are_valid_kubernetes_1_27_strict(
    all_manifests: list[tuple[str, Manifest]], monkeypatch: pytest.MonkeyPatch
) -> None:
    # kubernetes-validate reads and parses its schema files (the definitions are megabytes of JSON) for every object
    # it validates; read once, they serve every object (the validation itself is the tool's own, unchanged).
    monkeypatch.setattr(kubernetes_validate.utils, "schema_contents", cache(kubernetes_validate.utils.schema_contents))
    built_in = [(env, m) for env, m in all_manifests if _group(m) in BUILT_IN_GROUPS]
    assert built_in
    for env, manifest in built_in:
        try:
            kubernetes_validate.validate(manifest, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as error:
            pytest.fail(f"{env} {manifest['kind']}/{manifest['metadata']['name']}: {error.message} at {error.path}")


def test_custom_resources_are_valid_against_their_crd(all_manifests: list[tuple[str, Manifest]]) -> None:
    custom = [(env, m) for env, m in all_manifests if _group(m) not in BUILT_IN_GROUPS]
    assert custom, "expected at least the ServiceMonitors"
    for env, manifest in custom:
        errors = list(crd_validator(manifest["apiVersion"], manifest["kind"]).iter_errors(manifest))
        where = f"{env} {manifest['kind']}/{manifest['metadata']['name']}"
        assert not errors, f"{where}: " + "; ".join(f"{e.message} at {list(e.absolute_path)}" for e in errors)


def test_strict_crd_validation_rejects_an_unknown_field() -> None:
    monitor: dict[str, Any] = {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "ServiceMonitor",
        "metadata": {"name": "x"},
        "spec": {"selector": {}, "endpoints": [{"port": "http", "pathh": "/metrics"}]},
    }
    validator = crd_validator("monitoring.coreos.com/v1", "ServiceMonitor")
    assert validator.is_valid({**monitor, "spec": {**monitor["spec"], "endpoints": [{"port": "http", "path": "/m"}]}})
    assert not validator.is_valid(monitor), "the misspelt 'pathh' must be rejected"


def test_strict_kubernetes_validation_rejects_an_unknown_field() -> None:
    service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "x"}, "spec": {"portz": []}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(service, KUBERNETES_VERSION, strict=True)


def test_every_object_has_the_recommended_labels(all_manifests: list[tuple[str, Manifest]]) -> None:
    for env, manifest in all_manifests:
        labels = manifest["metadata"].get("labels", {})
        assert set(RECOMMENDED_LABELS) <= set(labels), f"{env} {manifest['kind']}/{manifest['metadata']['name']}"
        assert labels["app.kubernetes.io/managed-by"] == "cdk8s"


def test_no_selector_or_label_uses_the_construct_path(all_manifests: list[tuple[str, Manifest]]) -> None:
    for _, manifest in all_manifests:
        assert "cdk8s.io/metadata.addr" not in yaml.safe_dump(manifest)


def test_environment_checks_pass(rendered: dict[str, RenderedEnvironment]) -> None:
    for by_stack in rendered.values():
        check_environment([m for objs in by_stack.values() for m in objs])


def test_every_container_is_sized_hardened_and_pinned(all_manifests: list[tuple[str, Manifest]]) -> None:
    workloads = [(env, m) for env, m in all_manifests if m["kind"] in ("Deployment", "StatefulSet", "Job", "CronJob")]
    assert workloads
    for env, manifest in workloads:
        where = f"{env} {manifest['kind']}/{manifest['metadata']['name']}"
        for container in containers(manifest):
            resources = container["resources"]
            assert {"cpu", "memory"} <= set(resources["requests"]), where
            assert {"cpu", "memory"} <= set(resources["limits"]), where
            security = container["securityContext"]
            assert security["runAsNonRoot"] is True, where
            assert security["readOnlyRootFilesystem"] is True, where
            assert security["allowPrivilegeEscalation"] is False, where
            assert security["capabilities"]["drop"] == ["ALL"], where
            assert security["seccompProfile"]["type"] == "RuntimeDefault", where
            assert container["imagePullPolicy"] in ("Always", "IfNotPresent"), where
        if manifest["kind"] in ("Deployment", "StatefulSet"):
            # Long-running: every container (not init containers) is probed.
            for container in manifest["spec"]["template"]["spec"]["containers"]:
                assert "livenessProbe" in container and "readinessProbe" in container, where


def test_only_pods_with_granted_permissions_mount_an_api_token(all_manifests: list[tuple[str, Manifest]]) -> None:
    bound = {
        (env, m["metadata"].get("namespace"), subject["name"])
        for env, m in all_manifests
        if m["kind"] == "RoleBinding"
        for subject in m.get("subjects", [])
        if subject["kind"] == "ServiceAccount"
    }
    mounting = 0
    for env, manifest in all_manifests:
        for template in pod_templates([manifest]):
            if template.spec.get("automountServiceAccountToken") is False:
                continue
            mounting += 1
            account = template.spec.get("serviceAccountName")
            assert account, f"{env} {template.owner}: an API token for the namespace's default ServiceAccount"
            assert (env, template.namespace, account) in bound, f"{env} {template.owner}: token without a RoleBinding"
    assert mounting, "expected the leader-election bot to mount its token"


def test_bot_token_stays_in_the_bot_pods(rendered: dict[str, RenderedEnvironment]) -> None:
    """In every stack that runs a bot, no container outside the bot's own pods references the bot's token Secret or
    any variable named like a token (the watcher sidecar and the retention worker above all)."""
    checked = 0
    for env, stacks in rendered.items():
        for stack, manifests in stacks.items():
            templates = pod_templates(manifests)
            bots = [t for t in templates if t.labels.get("app.kubernetes.io/component") == "bot"]
            if not bots:
                continue
            checked += 1
            token_secrets = {
                variable["valueFrom"]["secretKeyRef"]["name"]
                for template in bots
                for container in template.spec["containers"]
                for variable in container.get("env", [])
                if _is_token(variable["name"])
            }
            assert token_secrets, f"{env} {stack}: the bot reads no token from a Secret"
            for template in templates:
                if template in bots:
                    continue
                for container in [*template.spec.get("initContainers", []), *template.spec["containers"]]:
                    where = f"{env} {stack} {template.owner} {container['name']}"
                    for variable in container.get("env", []):
                        assert not _is_token(variable["name"]), where
                        ref = variable.get("valueFrom", {}).get("secretKeyRef")
                        assert not ref or ref["name"] not in token_secrets, where
                    for source in container.get("envFrom", []):
                        assert source.get("secretRef", {}).get("name") not in token_secrets, where
                for volume in template.spec.get("volumes", []):
                    assert volume.get("secret", {}).get("secretName") not in token_secrets, template.owner
    assert checked >= 6, "expected discord-monitor and hivemind-bot in every environment"


def _is_token(name: str) -> bool:
    return looks_secret(name) and "TOKEN" in name.upper()


def test_no_secret_values_in_output(all_manifests: list[tuple[str, Manifest]]) -> None:
    for env, manifest in all_manifests:
        assert manifest["kind"] != "Secret", f"{env}: Secrets must be referenced, not rendered"
        for template in pod_templates([manifest]):
            for container in [*template.spec.get("containers", []), *template.spec.get("initContainers", [])]:
                for variable in container.get("env", []):
                    if looks_secret(variable["name"]):
                        assert "value" not in variable, f"{env} {template.owner}: {variable['name']} has a value"


def test_committed_snapshots_and_dist_have_no_secret_material() -> None:
    for path in [*Path(ROOT / "dist").rglob("*.yaml"), *Path(ROOT / "tests").rglob("*.yaml")]:
        text = path.read_text(encoding="utf-8")
        assert "kind: Secret\n" not in text, path
        assert "BEGIN PRIVATE KEY" not in text, path
