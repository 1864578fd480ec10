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


def test_rollback_names_what_automated_sync_does(generated: list[Generated]) -> None:
    rollback = next(page for page in generated if page.system == "verta").blocks["rollback"]
    # dev, staging and test sync automatically, prod by hand (environments/*.yaml `argocd.automated.enabled`)
    assert re.search(r"Automated sync \(`dev-verta`, `staging-verta`, `test-verta`\)", rollback)
    assert "Manual sync (`prod-verta`)" in rollback


def test_readme_links_every_runbook() -> None:
    readme = (ROOT / "README.md").read_text()
    for stack in STACKS:
        assert f"(docs/runbooks/{stack.name}.md)" in readme
