"""The alert rules as Prometheus itself reads them: `promtool check rules` on every rendered PrometheusRule, and
`promtool test rules` unit tests (tests/promtool/<system>.yaml) that feed series to prod's rules and assert which
alerts fire, and when. `make test` installs promtool into .tools/ (see the Makefile)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from environment_model.paths import ROOT
from environment_model.registry import STACKS

pytestmark = pytest.mark.slow  # whole processes
PROMTOOL = ROOT / ".tools" / "prometheus" / "usr" / "bin" / "promtool"
UNIT_TESTS = Path(__file__).parent / "promtool"


@pytest.fixture(scope="module")
def promtool() -> Path:
    if not PROMTOOL.exists():
        pytest.fail(
            f"{PROMTOOL.relative_to(ROOT)} is missing: `make test` installs it (make .tools/prometheus/usr/bin/promtool)"
        )
    return PROMTOOL


def rule_groups(environment: str, system: str) -> list[dict[str, Any]]:
    """The groups of a rendered PrometheusRule (dist/ is the render: tests/test_rendered_output.py keeps it current)."""
    document = yaml.safe_load((ROOT / "dist" / environment / system / f"prometheusrule-{system}.yaml").read_text())
    groups: list[dict[str, Any]] = document["spec"]["groups"]
    return groups


def run(promtool: Path, *arguments: str, cwd: Path) -> None:
    result = subprocess.run([str(promtool), *arguments], cwd=cwd, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("environment", ["dev", "staging", "prod"])
def test_every_rule_file_is_valid_for_prometheus(promtool: Path, environment: str, tmp_path: Path) -> None:
    """Expressions, durations and annotation templates, as Prometheus would load them."""
    files = []
    for stack in STACKS:
        path = tmp_path / f"{stack.name}.yaml"
        path.write_text(yaml.safe_dump({"groups": rule_groups(environment, stack.name)}))
        files.append(path.name)
    run(promtool, "check", "rules", *files, cwd=tmp_path)


@pytest.mark.parametrize("system", [stack.name for stack in STACKS])
def test_prod_alerts_fire_when_they_should(promtool: Path, system: str, tmp_path: Path) -> None:
    """The unit tests read prod's rules without their annotations (promtool would compare every annotation too;
    the annotations are checked above and by tests/test_alert_rules.py)."""
    groups = rule_groups("prod", system)
    for group in groups:
        for rule in group["rules"]:
            rule.pop("annotations", None)
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump({"groups": groups}))
    shutil.copy(UNIT_TESTS / f"{system}.yaml", tmp_path / "tests.yaml")
    run(promtool, "test", "rules", "tests.yaml", cwd=tmp_path)


def test_every_system_has_unit_tests_of_its_alerts() -> None:
    tested = {path.stem for path in UNIT_TESTS.glob("*.yaml")}
    assert tested == {stack.name for stack in STACKS}
