"""A real policy scanner (checkov) over the committed dist/: every check passes except the few .checkov.yaml skips,
each with its reason there."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from delivery.paths import ROOT

CHECKOV = Path(sys.executable).parent / "checkov"


def scan(folder: Path) -> dict[str, Any]:
    result = subprocess.run(
        [
            str(CHECKOV),
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
    report = json.loads(result.stdout)
    if isinstance(report, list):
        report = report[0]
    results: dict[str, Any] = report.get("results", {})
    return results


def test_rendered_manifests_pass_the_policy_scan() -> None:
    results = scan(ROOT / "dist")
    failed = [f"{f['check_id']} {f['check_name']}: {f['file_path']}" for f in results.get("failed_checks", [])]
    assert not failed, "\n".join(failed)


def test_the_scan_fails_a_bad_manifest(tmp_path: Path) -> None:
    (tmp_path / "pod.yaml").write_text(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: bad\n  namespace: apps\nspec:\n  containers:\n"
        "  - name: c\n    image: nginx:1.27\n    securityContext:\n      privileged: true\n"
    )
    failed = {f["check_id"] for f in scan(tmp_path).get("failed_checks", [])}
    assert "CKV_K8S_16" in failed, "privileged containers must be reported"
