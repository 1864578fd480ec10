"""The example pull-request workflow (.github/workflows/pull-request.yaml): its image scan reads off dist/ exactly
the images the environments render, and says so where it cannot scan instead of passing silently."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import yaml

from delivery.pod_templates import pod_template_of
from engine import RenderedEnvironment
from environment_model.paths import ROOT

WORKFLOW: dict[str, Any] = yaml.safe_load((ROOT / ".github" / "workflows" / "pull-request.yaml").read_text())


def _step(job: str, step_id: str) -> dict[str, Any]:
    (step,) = [step for step in WORKFLOW["jobs"][job]["steps"] if step.get("id") == step_id]
    found: dict[str, Any] = step
    return found


def test_the_image_scan_lists_exactly_the_images_the_environments_render(
    rendered: dict[str, RenderedEnvironment], tmp_path: Path
) -> None:
    """The step's own shell lines, run over the committed dist/ (kept current by tests/test_cli.py), against every
    container and init container of every rendered pod template."""
    script = _step("image-scan", "images")["run"].replace('>> "$GITHUB_OUTPUT"', "> /dev/null")
    (tmp_path / "dist").symlink_to(ROOT / "dist")  # the job's checkout, without writing into the project
    result = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    listed = (tmp_path / "images.txt").read_text().split()
    expected = set()
    for by_stack in rendered.values():
        for manifests in by_stack.values():
            for manifest in manifests:
                template = pod_template_of(manifest)
                if template is not None:
                    pod = template["spec"]
                    expected |= {c["image"] for c in [*pod.get("initContainers", []), *pod["containers"]]}
    assert listed == sorted(expected)
    assert any("ghcr.io/niekcandaele/verta-" in image for image in listed)


def test_the_image_scan_says_when_it_cannot_run() -> None:
    reach = _step("image-scan", "reach")["run"]
    assert "::notice::Image scan skipped: the repository variable IMAGE_SCAN is off" in reach
    assert "::notice::Image scan skipped: this runner cannot reach the image registries" in reach
    scans = [step for step in WORKFLOW["jobs"]["image-scan"]["steps"] if "trivy image" in step.get("run", "")]
    (scan,) = scans
    assert scan["if"] == "steps.reach.outputs.scan == 'true'" and "--exit-code 1" in scan["run"]
