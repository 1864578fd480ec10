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
import yaml

import main
from delivery import output
from delivery.argocd_fleet import ENVIRONMENT_LABEL, FleetError, fleet_application_sets
from delivery.output import FLEET_FOLDER
from engine import RenderedEnvironment
from environment_model.paths import ENVIRONMENTS_DIR, ROOT
from environment_model.registry import STACKS
from environment_model.settings import load_environment
from stacks.argocd.settings import FINALIZER
from tests.conftest import ENVIRONMENTS
from tests.test_bad_input import tree_digest
from tests.test_rendered_output import crd_validator

_PARAMETER = re.compile(r"\{\{ ?\.([A-Za-z]+) ?\}\}")
_CONDITION = re.compile(r"\{\{- if \.([A-Za-z]+) \}\}(.*?)\{\{- end \}\}", re.DOTALL)


@pytest.fixture(scope="module")
def fleet() -> list[dict[str, Any]]:
    return fleet_application_sets({env: load_environment(env) for env in ENVIRONMENTS})


def _generate(template: Any, element: dict[str, Any]) -> Any:
    """What the ApplicationSet controller makes of the template for one list element (Go templates; every
    parameter must exist, as missingkey=error demands)."""
    if isinstance(template, dict):
        return {key: _generate(value, element) for key, value in template.items()}
    if isinstance(template, list):
        return [_generate(value, element) for value in template]
    if isinstance(template, str):
        return _PARAMETER.sub(lambda match: _go_text(element[match[1]]), template)
    return template


def _go_text(value: Any) -> str:
    """A parameter as Go's text/template prints it (booleans as true and false)."""
    return str(value).lower() if isinstance(value, bool) else str(value)


def _generate_application(application_set: dict[str, Any], element: dict[str, Any]) -> dict[str, Any]:
    """The Application generated for one element: the template, then its templatePatch (a Go template of YAML with
    `if` blocks and parameters) merged in, as Argo CD's ApplicationSet controller does."""
    application: dict[str, Any] = _generate(application_set["spec"]["template"], element)
    patch_text = _CONDITION.sub(
        lambda match: match[2] if element[match[1]] else "", application_set["spec"].get("templatePatch", "")
    )
    _merge(application, yaml.safe_load(_generate(patch_text, element)) or {})
    return application


def _merge(target: dict[str, Any], patch: dict[str, Any]) -> None:
    for key, value in patch.items():
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            _merge(target[key], value)
        else:
            target[key] = value


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
    """Each generated Application has the app of apps' name, project, source, destination namespace and whole sync
    policy, field by field: automated (prune, self-heal, or none where a person syncs), sync options, namespace
    creation with its Pod Security labels, retries and ignored differences (none on either). What differs, on
    purpose (docs/gitops.md): the destination names the environment's cluster as the fleet's Argo CD knows it, and
    no resources finalizer, so that leaving the fleet leaves the workloads running."""
    generated = {}
    for application_set in fleet:
        for element in application_set["spec"]["generators"][0]["list"]["elements"]:
            application = _generate_application(application_set, element)
            generated[application["metadata"]["name"]] = application
    expected = {
        app["metadata"]["name"]: app
        for env in ENVIRONMENTS
        for app in rendered[env]["argocd"]
        if app["kind"] == "Application" and app["metadata"]["name"] != f"{env}-root"
    }
    assert sorted(generated) == sorted(expected)
    automated = 0
    for name, application in generated.items():
        app = expected[name]
        env = name.split("-", 1)[0]
        assert "finalizers" not in application["metadata"] and app["metadata"]["finalizers"] == [FINALIZER]
        assert application["metadata"]["labels"][ENVIRONMENT_LABEL] == env
        for field in ("project", "source"):
            assert application["spec"][field] == app["spec"][field], f"{name} {field}"
        assert application["spec"]["destination"] == {
            "name": env,  # argocd.cluster is left to its default in every environment file
            "namespace": app["spec"]["destination"]["namespace"],
        }
        for field in ("automated", "syncOptions", "managedNamespaceMetadata", "retry"):
            assert application["spec"]["syncPolicy"].get(field) == app["spec"]["syncPolicy"].get(field), (name, field)
        assert application["spec"]["syncPolicy"] == app["spec"]["syncPolicy"], name
        assert application["spec"].get("ignoreDifferences") == app["spec"].get("ignoreDifferences"), name
        automated += "automated" in application["spec"]["syncPolicy"]
    assert 0 < automated < len(generated), "environments with and without automated sync were compared"


def test_leaving_the_fleet_leaves_the_workloads_running(fleet: list[dict[str, Any]]) -> None:
    """preserveResourcesOnDeletion, and no resources finalizer, as on the root app; the diff calls removing an
    environment or an ApplicationSet data-destroying exactly when that protection is missing."""
    from delivery.upgrade_rules import Impact, classify_change, classify_removal

    for application_set in fleet:
        assert application_set["spec"]["syncPolicy"] == {"preserveResourcesOnDeletion": True}
        assert "finalizers" not in application_set["spec"]["template"]["metadata"]
    protected = fleet[0]
    without_prod = copy.deepcopy(protected)
    elements = without_prod["spec"]["generators"][0]["list"]["elements"]
    elements[:] = [element for element in elements if element["environment"] != "prod"]
    assert classify_removal(protected) == [] and classify_change(protected, without_prod) == []

    unprotected, finalized = copy.deepcopy(protected), copy.deepcopy(protected)
    del unprotected["spec"]["syncPolicy"]
    finalized["spec"]["template"]["metadata"]["finalizers"] = [FINALIZER]
    for bare in (unprotected, finalized):
        (removal,) = classify_removal(bare)
        assert removal.impact is Impact.DESTROYS_DATA and "preserveResourcesOnDeletion" in removal.reason
        bare_without_prod = copy.deepcopy(bare)
        bare_without_prod["spec"]["generators"] = without_prod["spec"]["generators"]
        (change,) = classify_change(bare, bare_without_prod)
        assert change.impact is Impact.DESTROYS_DATA and "Removing prod" in change.reason


def test_two_environments_in_one_namespace_of_one_cluster_are_refused_in_one_line() -> None:
    """Applied, their Applications would fight over the same objects: refused naming both files, whether the
    cluster is named (argocd.cluster) or left to its default, the environment's name."""
    settings = {env: load_environment(env) for env in ENVIRONMENTS}
    staging = settings["staging"]
    settings["staging"] = staging.model_copy(update={"argocd": staging.argocd.model_copy(update={"cluster": "dev"})})
    with pytest.raises(FleetError) as refused:
        fleet_application_sets(settings)
    message = str(refused.value)
    assert "\n" not in message
    assert "environments/dev.yaml and environments/staging.yaml" in message and "cluster 'dev'" in message
    settings["staging"] = staging  # back to its own cluster: accepted
    assert fleet_application_sets(settings)


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


@pytest.mark.parametrize(
    ("env", "change", "said"),
    [
        # prod's AppProject named like staging's: in the fleet's one Argo CD the second replaces the first.
        ("prod", {"project": "staging"}, "both render the Argo CD AppProject 'staging'"),
        # A change freeze on a misspelt pattern would protect nothing.
        (
            "prod",
            {
                "sync_windows": [
                    {"kind": "deny", "schedule": "0 16 * * 5", "duration": "64h", "applications": ["prd-*"]}
                ]
            },
            "argocd.sync_windows[0].applications",
        ),
    ],
    ids=["shared-appproject", "window-matching-nothing"],
)
def test_argo_cd_objects_that_would_collide_or_do_nothing_are_refused(
    env: str,
    change: dict[str, Any],
    said: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    environments = tmp_path / "environments"
    shutil.copytree(ENVIRONMENTS_DIR, environments)
    path = environments / f"{env}.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["argocd"].update(change)
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    monkeypatch.setenv("ENVIRONMENTS_DIR", str(environments))
    out = tmp_path / "dist"
    shutil.copytree(ROOT / "dist", out)
    before = tree_digest(out)
    assert main.main(["synth", "--engine", "plain", "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert said in err and "Traceback" not in err, err
    assert tree_digest(out) == before
