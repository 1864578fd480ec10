"""docs/runbooks/<system>.md: the generated blocks match what the stacks render (so the Secrets, prerequisites,
alert sections and rollback notes cannot drift), every Secret a pod reads is documented with a create command, and
the README links every runbook."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from delivery.runbooks import (
    Generated,
    apply_blocks,
    generate,
    secret_uses,
    stale_runbooks,
    system_alerts,
)
from engine import RenderedEnvironment
from environment_model.registry import STACKS
from environment_model.settings import load_environment
from tests.conftest import ENVIRONMENTS

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def generated(rendered: dict[str, RenderedEnvironment]) -> list[Generated]:
    return generate(rendered, system_alerts(ENVIRONMENTS))


def test_committed_runbooks_match_the_generated_blocks(generated: list[Generated]) -> None:
    stale = [page.system for page in stale_runbooks(generated)]
    assert not stale, f"run `python -m delivery.runbooks` and commit: stale {stale}"


def test_a_changed_block_is_detected_and_a_missing_block_refused(generated: list[Generated]) -> None:
    page = generated[0]
    text = page.path.read_text()
    edited = text.replace("| Secret | Keys |", "| Secret | Key |")
    assert edited != text
    assert apply_blocks(edited, page.blocks) == text
    with pytest.raises(ValueError, match="secrets"):
        apply_blocks("# no blocks\n", {"secrets": "x"})


def test_every_secret_a_pod_reads_has_its_keys_and_a_create_command(
    rendered: dict[str, RenderedEnvironment], generated: list[Generated]
) -> None:
    for page in generated:
        text = page.path.read_text()
        for use in secret_uses(rendered, page.system):
            assert use.keys or use.pull, f"{page.system}: no keys known for Secret {use.name}"
            assert f"| `{use.name}` |" in text
            unsynced = {env for envs in use.namespaces.values() for env in envs} - use.synced_in
            if unsynced:
                kind = "docker-registry" if use.pull else "generic"
                assert f"kubectl create secret {kind} {use.name} " in text, f"{page.system}: {use.name}"
            for key in use.keys:
                assert f"`{key}`" in text


def test_the_documented_secrets_are_the_ones_the_seeds_name(rendered: dict[str, RenderedEnvironment]) -> None:
    """Checked against the seeds, not the output: hivemind's `kubectl create secret` keys, kairoflow's pull Secret."""
    hivemind = {use.name: use.keys for use in secret_uses(rendered, "hivemind-bot")}
    assert hivemind == {"hivemind-bot-secrets": {"discord-token", "application-id", "service-token"}}
    kairoflow = {use.name: use for use in secret_uses(rendered, "kairoflow")}
    assert kairoflow["ghcr-credentials"].pull
    assert {"DATABASE_HOST", "DATABASE_USER", "DATABASE_PASSWORD", "DATABASE_NAME", "DATABASE_PORT"} <= kairoflow[
        "kairoflow-database"
    ].keys
    assert {"MINIO_ENDPOINT", "MINIO_ACCESS_KEY", "MINIO_SECRET_KEY"} <= kairoflow["kairoflow-minio"].keys
    assert kairoflow["kairoflow-openai"].keys == {"OPENAI_API_KEY"}


@pytest.mark.parametrize("stack", [stack.name for stack in STACKS])
def test_each_runbook_has_the_sections_the_issue_asks_for(stack: str) -> None:
    text = (ROOT / "docs" / "runbooks" / f"{stack}.md").read_text()
    headings = {line.lstrip("#").strip().split(":")[0] for line in text.splitlines() if line.startswith("## ")}
    assert {"Cluster prerequisites", "External services", "Secrets", "Rollback"} <= headings, headings
    assert headings & {"Verify a deploy", "After a deploy (NOTES.txt)"}
    assert "Troubleshooting" in headings
    assert "read:packages" in text
    assert "Argo CD" in text and "git revert" in text and "argocd app rollback" in text


def test_prerequisites_follow_the_rendered_kinds(generated: list[Generated]) -> None:
    blocks = {page.system: page.blocks["prerequisites"] for page in generated}
    assert "Traefik" in blocks["kairoflow"] and "Traefik" not in blocks["core-pipeline"]
    assert "External Secrets" in blocks["kairoflow"]
    assert "StorageClass" in blocks["kairoflow"] and "StorageClass" in blocks["verta"]
    assert "`letsencrypt-prod`" in blocks["core-pipeline"]
    assert all("prometheus-operator" in block for block in blocks.values())


def test_prerequisites_name_what_each_system_needs_and_nothing_else(generated: list[Generated]) -> None:
    """metrics-server where an HPA has resource targets, a custom or external metrics adapter where an HPA reads
    such metrics (autoscaling.custom_metrics), the Grafana sidecar watching the system's namespace, and the oldest
    kube-state-metrics its rules and dashboards can read."""
    blocks = {page.system: page.blocks["prerequisites"] for page in generated}
    with_hpa = {"core-pipeline", "verta"}
    for system, block in blocks.items():
        assert ("metrics-server" in block) == (system in with_hpa), system
        assert ("custom.metrics.k8s.io" in block) == (system in with_hpa), system  # the test environment's
        assert ("external.metrics.k8s.io" in block) == (system == "core-pipeline"), system
        namespace = getattr(load_environment("prod"), system.replace("-", "_")).namespace
        assert f"`searchNamespace` listing `{namespace}` (or `ALL`)" in block, system
        assert 'labelled `grafana_dashboard: "1"`' in block and "`folderAnnotation: grafana_folder`" in block
    assert "`kafka_consumergroup_lag` (External) for `core-pipeline` (test)" in blocks["core-pipeline"]
    minimum = {
        system: re.search(r"kube-state-metrics v([0-9.]+) or later", block)[1]  # type: ignore[index]
        for system, block in blocks.items()
    }
    # leases: namespace label from 2.9.0; CronJobs' last success from 2.5.0; the rest the v2 names
    assert minimum == {
        "core-pipeline": "2.0.0",
        "discord-monitor": "2.5.0",
        "hivemind-bot": "2.9.0",
        "kairoflow": "2.5.0",
        "verta": "2.0.0",
    }
    assert "kubernetes/kube-state-metrics#2073" in blocks["hivemind-bot"]


def test_the_sidecar_label_is_the_dashboards_own() -> None:
    from constructs_lib import grafana_dashboard
    from delivery import runbooks

    assert runbooks.SIDECAR_LABEL == grafana_dashboard.SIDECAR_LABEL
    assert runbooks.FOLDER_ANNOTATION == grafana_dashboard.FOLDER_ANNOTATION


def test_a_runbook_names_only_pull_secrets_its_system_uses(rendered: dict[str, RenderedEnvironment]) -> None:
    """A `kubectl create secret docker-registry <name>` in a runbook (prose or generated) names a pull Secret the
    system's pods or ServiceAccounts reference: a Secret nothing references pulls nothing."""
    for stack in STACKS:
        text = (ROOT / "docs" / "runbooks" / f"{stack.name}.md").read_text()
        pulls = {use.name for use in secret_uses(rendered, stack.name) if use.pull}
        for name in re.findall(r"kubectl create secret docker-registry (\S+)", text):
            assert name in pulls, f"{stack.name}: the runbook has a pull Secret {name!r}; the system uses {pulls}"


def test_no_role_is_said_to_roll_back_where_automated_sync_refuses_it(
    rendered: dict[str, RenderedEnvironment],
) -> None:
    """Argo CD refuses `argocd app rollback` on an Application with automated sync: in such an environment no
    AppProject role's description may promise a rollback."""
    for env in rendered:
        settings = load_environment(env).argocd
        if not settings.automated.enabled:
            continue
        for role in settings.roles:
            promises = re.search(r"(?i)\broll(s|ing)? ?back\b", role.description) and "refuses" not in role.description
            assert not promises, f"{env}: role {role.name}: {role.description!r}"
