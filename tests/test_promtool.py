"""The alert rules as Prometheus itself reads them, in every environment (`test` included): `promtool check rules` on
every rendered PrometheusRule, and `promtool test rules` unit tests that feed series to the rules and assert which
alerts fire, and when. tests/promtool/<system>.yaml runs against every environment's rules (its tests of an alert an
environment does not render are left out there); tests/promtool/<env>/<system>.yaml against that environment's only
(a schedule or time zone of its own). `make test` installs promtool into .tools/ (see the Makefile)."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from environment_model.paths import ROOT, available_environments
from environment_model.registry import STACKS

pytestmark = pytest.mark.slow  # whole processes
PROMTOOL = ROOT / ".tools" / "prometheus" / "usr" / "bin" / "promtool"
UNIT_TESTS = Path(__file__).parent / "promtool"
ENVIRONMENTS = available_environments()
SYSTEMS = [stack.name for stack in STACKS]


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
    result = subprocess.run([str(promtool), *arguments], cwd=cwd, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def unit_tests(environment: str, system: str, rendered_alerts: set[str]) -> list[dict[str, Any]]:
    """The unit test files that apply to one environment's rules, as promtool documents: the shared file, without
    the checks of alerts the environment does not render (and a test left with none), then the environment's own."""
    shared = yaml.safe_load((UNIT_TESTS / f"{system}.yaml").read_text())
    kept_tests = []
    for test in shared["tests"]:
        kept = [check for check in test.get("alert_rule_test", []) if check["alertname"] in rendered_alerts]
        if kept or test.get("promql_expr_test"):
            kept_tests.append({**test, "alert_rule_test": kept})
    documents = [{**shared, "tests": kept_tests}] if kept_tests else []
    own = UNIT_TESTS / environment / f"{system}.yaml"
    if own.exists():
        documents.append(yaml.safe_load(own.read_text()))
    return documents


def test_every_environment_is_checked() -> None:
    """The parametrisations below take the environments from the settings files: a new one is checked too."""
    assert {"dev", "staging", "prod", "test"} <= set(ENVIRONMENTS)


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_every_rule_file_is_valid_for_prometheus(promtool: Path, environment: str, tmp_path: Path) -> None:
    """Expressions, durations and annotation templates, as Prometheus would load them."""
    files = []
    for system in SYSTEMS:
        path = tmp_path / f"{system}.yaml"
        path.write_text(yaml.safe_dump({"groups": rule_groups(environment, system)}))
        files.append(path.name)
    run(promtool, "check", "rules", *files, cwd=tmp_path)


@pytest.mark.parametrize("system", SYSTEMS)
@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_alerts_fire_when_they_should(promtool: Path, environment: str, system: str, tmp_path: Path) -> None:
    """The unit tests read the rules without their annotations (promtool would compare every annotation too; the
    annotations are checked above and by tests/test_alert_rules.py)."""
    groups = rule_groups(environment, system)
    for group in groups:
        for rule in group["rules"]:
            rule.pop("annotations", None)
    rendered = {rule["alert"] for group in groups for rule in group["rules"] if "alert" in rule}
    documents = unit_tests(environment, system, rendered)
    assert documents, f"no unit test applies to {environment}/{system}"
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump({"groups": groups}))
    names = []
    for index, document in enumerate(documents):
        names.append(f"tests-{index}.yaml")
        (tmp_path / names[-1]).write_text(yaml.safe_dump({**document, "rule_files": ["rules.yaml"]}, sort_keys=False))
    run(promtool, "test", "rules", *names, cwd=tmp_path)


def test_every_system_has_unit_tests_of_its_alerts() -> None:
    tested = {path.stem for path in UNIT_TESTS.glob("*.yaml")}
    assert tested == set(SYSTEMS)


def test_environment_unit_tests_name_an_environment_and_a_system() -> None:
    for path in UNIT_TESTS.glob("*/*.yaml"):
        assert path.parent.name in ENVIRONMENTS and path.stem in SYSTEMS, path.relative_to(UNIT_TESTS)


def test_a_test_of_an_alert_an_environment_does_not_render_is_left_out_there() -> None:
    """dev renders no HPA alert (no autoscaling): the shared file's HPA checks are not run against dev's rules."""
    (document,) = unit_tests("dev", "core-pipeline", {"CorePipelineDown"})
    checked = {check["alertname"] for test in document["tests"] for check in test["alert_rule_test"]}
    assert checked == {"CorePipelineDown"}
