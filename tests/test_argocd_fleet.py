"""The fleet form (dist/argocd/fleet/): ApplicationSets that generate, for every environment's cluster, the same
Applications as the app of apps, rolled out dev, then staging, then prod; valid against the upstream CRD; written
all or nothing, and only by a synth of every environment (tests/test_cli.py checks that a synth of one environment,
with --prune, neither changes nor prunes it)."""

from __future__ import annotations

import copy
import errno
import os
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

import main
from delivery import output
from delivery.argocd_fleet import ENVIRONMENT_LABEL, fleet_application_sets
from delivery.output import FLEET_FOLDER
from engine import RenderedEnvironment
from environment_model.paths import ENVIRONMENTS_DIR, ROOT
from environment_model.registry import STACKS
from environment_model.settings import load_environment
from tests.conftest import ENVIRONMENTS
from tests.test_bad_input import tree_digest
from tests.test_rendered_output import crd_validator

_PARAMETER = re.compile(r"\{\{\.([A-Za-z]+)\}\}")


@pytest.fixture(scope="module")
def fleet() -> list[dict[str, Any]]:
    return fleet_application_sets({env: load_environment(env) for env in ENVIRONMENTS})


def _generate(template: Any, element: dict[str, str]) -> Any:
    """What the ApplicationSet controller makes of the template for one list element (Go templates; every
    parameter must exist, as missingkey=error demands)."""
    if isinstance(template, dict):
        return {key: _generate(value, element) for key, value in template.items()}
    if isinstance(template, list):
        return [_generate(value, element) for value in template]
    if isinstance(template, str):
        return _PARAMETER.sub(lambda match: element[match[1]], template)
    return template


def test_every_application_set_is_valid_against_the_upstream_crd(fleet: list[dict[str, Any]]) -> None:
    validator = crd_validator("argoproj.io/v1alpha1", "ApplicationSet")
    assert [application_set["metadata"]["name"] for application_set in fleet] == [
        f"fleet-{stack.name}" for stack in STACKS
    ]
    for application_set in fleet:
        errors = [f"{e.message} at {list(e.absolute_path)}" for e in validator.iter_errors(application_set)]
        assert not errors, f"{application_set['metadata']['name']}: {errors}"
    misspelt = copy.deepcopy(fleet[0])
    misspelt["spec"]["strategy"]["rollingSync"]["steps"][0]["maxUpdates"] = 1
    assert not validator.is_valid(misspelt), "the strict CRD schema must refuse an unknown field"


def test_the_fleet_generates_the_applications_of_the_app_of_apps(
    fleet: list[dict[str, Any]], rendered: dict[str, RenderedEnvironment]
) -> None:
    """Each generated Application has the app of apps' name, project, source, destination, finalizer and namespace
    creation (with its Pod Security labels): the two forms deploy the same thing. Only the sync policy differs:
    RollingSync syncs, step by step."""
    generated = {}
    for application_set in fleet:
        for element in application_set["spec"]["generators"][0]["list"]["elements"]:
            application = _generate(application_set["spec"]["template"], element)
            generated[application["metadata"]["name"]] = application
    expected = {
        app["metadata"]["name"]: app
        for env in ENVIRONMENTS
        for app in rendered[env]["argocd"]
        if app["kind"] == "Application" and app["metadata"]["name"] != f"{env}-root"
    }
    assert sorted(generated) == sorted(expected)
    for name, application in generated.items():
        app = expected[name]
        assert application["metadata"]["finalizers"] == app["metadata"]["finalizers"]
        assert application["metadata"]["labels"][ENVIRONMENT_LABEL] == name.split("-", 1)[0]
        for field in ("project", "source", "destination"):
            assert application["spec"][field] == app["spec"][field], f"{name} {field}"
        policy = {key: value for key, value in app["spec"]["syncPolicy"].items() if key != "automated"}
        assert application["spec"]["syncPolicy"] == policy, name


def test_the_rollout_goes_dev_then_staging_then_prod_and_prod_waits_for_a_person(
    fleet: list[dict[str, Any]],
) -> None:
    for application_set in fleet:
        steps = application_set["spec"]["strategy"]["rollingSync"]["steps"]
        # The all-features test environment shares dev's step (environments/test.yaml argocd.rollout_step: 1).
        assert [step["matchExpressions"] for step in steps] == [
            [{"key": ENVIRONMENT_LABEL, "operator": "In", "values": envs}]
            for envs in (["dev", "test"], ["staging"], ["prod"])
        ]
        # prod syncs by hand (argocd.automated.enabled: false): the controller updates none of its Applications.
        assert [step.get("maxUpdate") for step in steps] == [None, None, 0]
        assert "automated" not in application_set["spec"]["template"]["spec"]["syncPolicy"]


def test_a_failed_fleet_swap_leaves_the_output_as_it_was(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The fleet's folder is swapped in with the environments, all or none: when its rename fails, the environment
    already swapped in is put back. With dev as the only environment, a synth of dev renders every environment and
    so writes the fleet."""
    environments = tmp_path / "environments"
    environments.mkdir()
    shutil.copy(ENVIRONMENTS_DIR / "dev.yaml", environments / "dev.yaml")
    monkeypatch.setenv("ENVIRONMENTS_DIR", str(environments))
    out = tmp_path / "dist"
    shutil.copytree(ROOT / "dist", out)
    rename = output._rename

    def broken(source: Path, target: Path) -> None:
        if source.name.startswith(f".{FLEET_FOLDER}-new-"):
            raise OSError(errno.EACCES, os.strerror(errno.EACCES), str(target))
        rename(source, target)

    monkeypatch.setattr(output, "_rename", broken)
    before = tree_digest(out)
    code = main.main(["synth", "--engine", "plain", "--env", "dev", "--stack", "hivemind-bot", "--out", str(out)])
    text = capsys.readouterr().err
    assert code == 1, text
    assert "Permission denied" in text and f"argocd/{FLEET_FOLDER}" in text and "nothing was written" in text
    assert tree_digest(out) == before


def test_diff_shows_a_change_to_the_fleet_when_it_renders_every_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """With dev as the only environment, a diff renders every environment, so it compares the fleet too: an
    ApplicationSet edited by hand in the output shows as a difference."""
    environments = tmp_path / "environments"
    environments.mkdir()
    shutil.copy(ENVIRONMENTS_DIR / "dev.yaml", environments / "dev.yaml")
    monkeypatch.setenv("ENVIRONMENTS_DIR", str(environments))
    out = tmp_path / "dist"
    assert main.main(["synth", "--engine", "plain", "--out", str(out)]) == 0
    assert main.main(["diff", "--engine", "plain", "--dist", str(out), "--exit-code"]) == 0
    edited = next((out / "argocd" / FLEET_FOLDER).glob("applicationset-*.yaml"))
    edited.write_text(edited.read_text().replace("RollingSync", "AllAtOnce"))
    capsys.readouterr()
    assert main.main(["diff", "--engine", "plain", "--dist", str(out), "--exit-code"]) == 1
    assert f"argocd/{FLEET_FOLDER}/{edited.name}" in capsys.readouterr().out
