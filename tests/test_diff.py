"""The reviewer's diff: per resource, with field paths, renames and redaction; and the CLI's exit codes."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

import main
from delivery.diff import REDACTED, diff_trees, format_markdown, format_text
from delivery.output import read_tree

DEPLOYMENT = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "web", "labels": {"app": "web"}},
    "spec": {
        "replicas": 2,
        "template": {
            "spec": {
                "containers": [
                    {
                        "name": "web",
                        "image": "web:1",
                        "env": [{"name": "LOG_LEVEL", "value": "info"}, {"name": "API_TOKEN", "value": "old-token"}],
                    }
                ]
            }
        },
    },
}


def tree(**docs: object) -> dict[str, str]:
    return {path.replace("__", "/"): yaml.safe_dump(doc) for path, doc in docs.items()}


def test_changed_fields_with_paths_and_values() -> None:
    new = yaml.safe_load(yaml.safe_dump(DEPLOYMENT))
    new["spec"]["template"]["spec"]["containers"][0]["image"] = "web:2"
    new["spec"]["template"]["spec"]["containers"][0]["env"].insert(0, {"name": "NEW", "value": "x"})
    del new["spec"]["replicas"]
    report = diff_trees(tree(prod__web__d=DEPLOYMENT), tree(prod__web__d=new))
    (resource,) = report.resources
    assert (resource.status, resource.resource) == ("changed", "Deployment/web")
    changes = {c.path: (c.old, c.new) for c in resource.changes}
    assert changes["spec.template.spec.containers[web].image"] == ("web:1", "web:2")
    # Inserted by name: one addition, not every later item "changed".
    assert "spec.template.spec.containers[web].env[NEW].value" in changes
    assert "spec.template.spec.containers[web].env[LOG_LEVEL].value" not in changes
    assert "spec.replicas" in changes
    assert "web:2" in format_text(report)


def test_secret_like_values_are_redacted() -> None:
    new = yaml.safe_load(yaml.safe_dump(DEPLOYMENT))
    new["spec"]["template"]["spec"]["containers"][0]["env"][1]["value"] = "new-token"
    secret_old = {"kind": "Secret", "metadata": {"name": "s"}, "data": {"password": "aHVudGVyMg=="}}
    secret_new = {"kind": "Secret", "metadata": {"name": "s"}, "data": {"password": "c2VjcmV0"}}
    report = diff_trees(tree(a__d=DEPLOYMENT, a__s=secret_old), tree(a__d=new, a__s=secret_new))
    text = format_text(report) + format_markdown(report)
    for value in ("old-token", "new-token", "aHVudGVyMg==", "c2VjcmV0"):
        assert value not in text
    assert REDACTED in text


def test_added_removed_and_renamed() -> None:
    renamed = yaml.safe_load(yaml.safe_dump(DEPLOYMENT))
    renamed["metadata"]["name"] = "web-v2"
    service = {"kind": "Service", "metadata": {"name": "web"}, "spec": {"ports": [{"port": 80}]}}
    config = {"kind": "ConfigMap", "metadata": {"name": "cfg"}, "data": {"a": "1"}}
    report = diff_trees(
        tree(p__s__deployment_web=DEPLOYMENT, p__s__service=service),
        tree(p__s__deployment_web_v2=renamed, p__s__configmap=config),
    )
    statuses = {r.status: r for r in report.resources}
    assert statuses["renamed"].old_path == "p/s/deployment_web"
    assert statuses["renamed"].path == "p/s/deployment_web_v2"
    assert statuses["removed"].resource == "Service/web"
    assert statuses["added"].resource == "ConfigMap/cfg"
    markdown = format_markdown(report)
    assert "| renamed | `Deployment/web-v2` | `deployment_web → deployment_web_v2` |" in markdown
    assert "```diff" in markdown


def test_no_changes() -> None:
    report = diff_trees(tree(a__d=DEPLOYMENT), tree(a__d=DEPLOYMENT))
    assert not report.has_changes
    assert "No differences" in format_text(report)


def test_cli_diff_against_a_stale_copy(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """In this process, with the plain engine (tests/test_cli.py runs diff as a whole process)."""

    def run(*argv: str) -> subprocess.CompletedProcess[str]:
        code = main.main([argv[0], "--engine", "plain", *argv[1:]])
        captured = capsys.readouterr()
        return subprocess.CompletedProcess(argv, code, captured.out, captured.err)

    stale = tmp_path / "dist"
    shutil.copytree(Path(__file__).resolve().parent.parent / "dist", stale)
    same = run("diff", "--env", "staging", "--exit-code", "--dist", str(stale))  # every environment: test_cli
    assert same.returncode == 0, same.stderr
    assert "No differences" in same.stdout
    deployment = stale / "prod" / "core-pipeline" / "deployment-core-pipeline.yaml"
    deployment.write_text(deployment.read_text().replace("core-pipeline:1.3.2", "core-pipeline:1.3.1"))
    (stale / "prod" / "verta" / "service-verta-ml.yaml").unlink()
    before = read_tree(stale)
    result = run("diff", "--env", "prod", "--exit-code", "--dist", str(stale))
    assert result.returncode == 1
    assert "containers[core-pipeline].image: ghcr.io/example-org/core-pipeline:1.3.1 -> " in result.stdout
    assert "+ added    prod/verta/service-verta-ml.yaml" in result.stdout
    assert read_tree(stale) == before, "diff never writes"
    markdown = run("diff", "--env", "prod", "--stack", "verta", "--format", "markdown", "--dist", str(stale))
    assert markdown.returncode == 0, "without --exit-code, differences are not a failure"
    assert "| added | `Service/verta-ml` |" in markdown.stdout
    assert "core-pipeline" not in markdown.stdout, "--stack limits the comparison"
