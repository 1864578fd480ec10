"""A real policy scanner (checkov) over the committed dist/: every check passes except the few .checkov.yaml skips,
each with its reason there."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from environment_model.paths import ROOT

# checkov has a virtualenv of its own (`make test` makes it from requirements/checkov.txt): its dependencies stay out
# of the render environment. Run as a module, not through its launcher script, whose first line names the
# interpreter's path and breaks where that path has a space.
CHECKOV_PYTHON = ROOT / ".tools" / "checkov" / "bin" / "python"
pytestmark = pytest.mark.slow


def scan(folder: Path) -> dict[str, Any]:
    if not CHECKOV_PYTHON.exists():
        pytest.fail(f"{CHECKOV_PYTHON.relative_to(ROOT)} is missing: `make test` installs it")
    result = subprocess.run(
        [
            *(str(CHECKOV_PYTHON), "-m", "checkov.main"),
            "--config-file",
            str(ROOT / ".checkov.yaml"),
            "-d",
            str(folder),
            "--framework",
            "kubernetes",
            "-o",
            "json",
            "--quiet",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    report: dict[str, Any] = json.loads(result.stdout)
    if isinstance(report, list):
        report = report[0]
    return report


def test_rendered_manifests_pass_the_policy_scan_which_fails_a_bad_manifest(tmp_path: Path) -> None:
    """One scan (checkov takes seconds to start) of dist/ and, beside it, a privileged pod: every rendered object
    passes, and the bad one is reported, so a scan that checked nothing could not pass."""
    shutil.copytree(ROOT / "dist", tmp_path / "dist")
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "pod.yaml").write_text(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: bad\n  namespace: apps\nspec:\n  containers:\n"
        "  - name: c\n    image: nginx:1.27\n    securityContext:\n      privileged: true\n"
    )
    report = scan(tmp_path)
    failures = report.get("results", {}).get("failed_checks", [])
    failed = [f"{f['check_id']} {f['check_name']}: {f['file_path']}" for f in failures if "/bad/" not in f["file_path"]]
    assert not failed, "\n".join(failed)
    assert any(f["check_id"] == "CKV_K8S_16" for f in failures if "/bad/" in f["file_path"]), (
        "privileged containers must be reported"
    )
    rendered = len(list((tmp_path / "dist").rglob("*.yaml")))
    assert report["summary"]["resource_count"] >= rendered + 1, "every rendered object and the bad pod were scanned"
