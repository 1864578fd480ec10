"""The all-features `test` environment (the core-pipeline seed's values-test.yaml: minimal resources, all features
enabled, mock external endpoints): every optional feature of every stack is switched on, and so every optional
kind is rendered into dist/test/."""

from __future__ import annotations

import types
import typing
from collections.abc import Iterator
from typing import Any

import yaml
from pydantic import BaseModel

from engine import RenderedEnvironment
from environment_model.paths import ROOT
from environment_model.settings import EnvironmentSettings, load_environment
from value_types.quantities import cpu_millis, memory_bytes

TEST = "test"
DIST_TEST = ROOT / "dist" / TEST

# Every kind a stack renders only when an optional feature is on (issue 15 item 5), and the hook phases.
OPTIONAL_KINDS = {
    "HorizontalPodAutoscaler",
    "PodDisruptionBudget",
    "NetworkPolicy",
    "ServiceMonitor",
    "PrometheusRule",
    "Ingress",
    "IngressRoute",
    "ExternalSecret",
    "CronJob",
    "StatefulSet",
}
HOOK_PHASES = {"PreSync", "PostSync"}


def _dist_objects() -> list[dict[str, Any]]:
    return [yaml.safe_load(path.read_text(encoding="utf-8")) for path in sorted(DIST_TEST.glob("*/*.yaml"))]


def test_dist_test_holds_every_optional_kind_and_the_hook_phases() -> None:
    objects = _dist_objects()
    kinds = {manifest["kind"] for manifest in objects}
    assert kinds >= OPTIONAL_KINDS, f"missing from dist/test: {sorted(OPTIONAL_KINDS - kinds)}"
    phases = {
        manifest["metadata"]["annotations"]["argocd.argoproj.io/hook"]
        for manifest in objects
        if manifest["kind"] == "Job"
    }
    assert phases >= HOOK_PHASES, f"hook Jobs in dist/test: {sorted(phases)}"


def test_the_test_environment_has_its_argo_cd_objects() -> None:
    names = sorted(path.name for path in (ROOT / "dist" / "argocd" / TEST).glob("*.yaml"))
    assert "appproject-test.yaml" in names
    assert "application-test-root.yaml" in names
    stacks = sorted(path.name for path in DIST_TEST.iterdir())
    assert names.count("application-test-root.yaml") == 1
    assert [f"application-test-{stack}.yaml" for stack in stacks] == [
        name for name in names if name.startswith("application-test-") and name != "application-test-root.yaml"
    ]


def _block_models(annotation: Any) -> list[type[BaseModel]]:
    """The settings models an annotation may hold (through Optional, unions, Annotated)."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _block_models(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        return [model for arg in typing.get_args(annotation) for model in _block_models(arg)]
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return []


def features_left_off(model: BaseModel, path: str) -> Iterator[str]:
    """Settings paths of switches (`enabled: bool`) that are off, optional feature blocks (a settings model whose
    default is None) that are unset and lists of feature blocks left empty, anywhere under `model`."""
    for name, field in type(model).model_fields.items():
        value = getattr(model, name)
        where = f"{path}.{name}"
        switched_off = name == "enabled" and field.annotation is bool and value is not True
        block_unset = field.default is None and bool(_block_models(field.annotation)) and value is None
        # A list of feature blocks empty by default (Argo CD roles, sync windows) is a feature too.
        list_empty = (
            (field.default == [] or field.default_factory is list)
            and typing.get_origin(field.annotation) is list
            and bool(_block_models(typing.get_args(field.annotation)[0]))
            and not value
        )
        if switched_off or block_unset or list_empty:
            yield where
        for item in value if isinstance(value, list) else value.values() if isinstance(value, dict) else [value]:
            if isinstance(item, BaseModel):
                yield from features_left_off(item, where)


def test_every_optional_feature_of_every_stack_is_on() -> None:
    settings = load_environment(TEST)
    assert list(features_left_off(settings, TEST)) == []


def test_the_walk_finds_a_feature_left_off() -> None:
    """The check above can fail: a switch off, or a block unset, is named by its settings path."""
    settings = load_environment(TEST)
    data = settings.model_dump(mode="json", exclude_none=True)
    data["core_pipeline"]["migration"]["enabled"] = False
    del data["core_pipeline"]["ingress"]["cors"]
    data["kairoflow"]["cron_jobs"]["cleanup"]["enabled"] = False
    data["argocd"]["sync_windows"] = []
    changed = EnvironmentSettings.model_validate(data)
    assert sorted(features_left_off(changed, TEST)) == [
        "test.argocd.sync_windows",
        "test.core_pipeline.ingress.cors",
        "test.core_pipeline.migration.enabled",
        "test.kairoflow.cron_jobs.cleanup.enabled",
    ]


def test_minimal_resources_and_mock_endpoints(rendered: dict[str, RenderedEnvironment]) -> None:
    """No container of the test environment asks for more than a quarter CPU or 256Mi; every host it routes or
    calls is a mock (*.example.test, or a cluster-local Service name)."""
    for stack, manifests in rendered[TEST].items():
        for manifest in manifests:
            template = manifest.get("spec", {}).get("template") or manifest.get("template")
            if manifest["kind"] == "CronJob":
                template = manifest["spec"]["jobTemplate"]["spec"]["template"]
            if not template:
                continue
            pod = template["spec"]
            for container in [*pod.get("initContainers", []), *pod["containers"]]:
                requests = container["resources"]["requests"]
                where = f"{stack} {manifest['kind']}/{manifest['metadata']['name']} {container['name']}"
                assert cpu_millis(requests["cpu"]) <= cpu_millis("250m"), where
                assert memory_bytes(requests["memory"]) <= memory_bytes("256Mi"), where
    settings = load_environment(TEST)
    hosts = [
        *settings.core_pipeline.ingress.hosts,
        settings.core_pipeline.postgres.host,
        settings.core_pipeline.redis.host,
        *(broker.rpartition(":")[0] for broker in settings.core_pipeline.kafka.brokers),
        *settings.kairoflow.hosts,
        *settings.verta.ingress.hosts,
        settings.hivemind_bot.backend_grpc_host,
    ]
    for host in hosts:
        assert host.endswith((".example.test", ".svc.cluster.local")), host


def test_the_backup_to_an_existing_claim_renders_in_the_test_environment() -> None:
    """core-pipeline's backup to a claim that exists before the first sync (`backup.target.kind: claim`, the
    documented case; the runbook says to create it first) passes every whole-output check: the Job names the claim in
    its EXISTING_CLAIMS_ANNOTATION, and a claim no object names is still refused. The test environment keeps its
    object-store backup; here its settings file is copied with the claim target instead."""
    from constructs_lib.existing_objects import EXISTING_CLAIMS_ANNOTATION
    from delivery.checks import RenderCheckError, check_stacks
    from delivery.pipeline import render
    from engine.plain import PlainEngine
    from environment_model.registry import get_stack
    from environment_model.settings import parse_environment
    from environment_model.settings_file import read_settings_text

    text = (ROOT / "environments" / "test.yaml").read_text(encoding="utf-8")
    object_store = (
        "    target:\n      kind: object_store\n      endpoint: https://minio.test-data.svc.cluster.local:9000\n"
        "      bucket: core-pipeline-backups\n"
    )
    assert object_store in text
    claim_text = text.replace(object_store, "    target:\n      kind: claim\n      claim: core-pipeline-backups\n")
    source = read_settings_text(claim_text, "test.yaml")
    settings = parse_environment(TEST, source.data, source)
    stack = get_stack("core-pipeline")
    rendered = render(PlainEngine(), {TEST: settings}, [stack])  # runs every whole-output check
    objects = rendered[TEST][stack.name]
    (backup,) = [m for m in objects if m["kind"] == "Job" and m["metadata"]["name"] == "core-pipeline-backup"]
    assert backup["metadata"]["annotations"][EXISTING_CLAIMS_ANNOTATION] == "core-pipeline-backups"
    volumes = backup["spec"]["template"]["spec"]["volumes"]
    assert {"name": "dumps", "persistentVolumeClaim": {"claimName": "core-pipeline-backups"}} in volumes
    assert not any(m["kind"] == "PersistentVolumeClaim" for m in objects), "the claim is not rendered: it exists"

    del backup["metadata"]["annotations"][EXISTING_CLAIMS_ANNOTATION]
    try:
        check_stacks({stack.name: objects})
    except RenderCheckError as error:
        assert "claims PersistentVolumeClaim core-pipeline-backups, which is not rendered" in str(error)
    else:
        raise AssertionError("a claim that is neither rendered nor named as existing must be refused")
