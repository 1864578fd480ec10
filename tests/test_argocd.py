"""The Argo CD objects of every environment, checked against the stacks' own rendered output."""

from __future__ import annotations

import fnmatch
from pathlib import Path

import pytest

from engine import Manifest, RenderedEnvironment
from environment_model.paths import ROOT
from environment_model.registry import STACKS
from environment_model.settings import load_environment
from tests.conftest import ENVIRONMENTS, find


def argocd(rendered: dict[str, RenderedEnvironment], env: str) -> list[Manifest]:
    return rendered[env]["argocd"]


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_one_application_per_stack_pointing_at_its_dist_folder(
    rendered: dict[str, RenderedEnvironment], env: str
) -> None:
    settings = load_environment(env).argocd
    for stack in STACKS:
        app = find(argocd(rendered, env), "Application", f"{env}-{stack.name}")
        spec = app["spec"]
        assert spec["source"] == {
            "repoURL": settings.repo_url,
            "targetRevision": settings.target_revision,
            "path": f"dist/{env}/{stack.name}",
        }
        assert (ROOT / spec["source"]["path"]).is_dir(), "the Application's path must exist in the repository"
        assert app["metadata"]["finalizers"] == ["resources-finalizer.argocd.argoproj.io"]
        assert app["metadata"]["namespace"] == settings.namespace
        assert spec["project"] == settings.project
        # The destination namespace is where the stack's namespaced objects actually are.
        namespaces = {m["metadata"].get("namespace") for m in rendered[env][stack.name]} - {None}
        assert namespaces == {spec["destination"]["namespace"]}
        assert spec["destination"]["server"] == settings.destination_server
        renders_namespace = any(m["kind"] == "Namespace" for m in rendered[env][stack.name])
        options = spec["syncPolicy"].get("syncOptions", [])
        assert ("CreateNamespace=true" in options) == (not renders_namespace)
        automated = spec["syncPolicy"].get("automated")
        if settings.automated.enabled:
            assert automated == {"prune": settings.automated.prune, "selfHeal": settings.automated.self_heal}
        else:
            assert automated is None


def test_prod_syncs_by_hand_and_the_others_automatically() -> None:
    assert not load_environment("prod").argocd.automated.enabled
    assert load_environment("dev").argocd.automated.enabled


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_project_allows_exactly_what_the_stacks_render(rendered: dict[str, RenderedEnvironment], env: str) -> None:
    settings = load_environment(env).argocd
    project = find(argocd(rendered, env), "AppProject", settings.project)["spec"]
    stacks = [m for stack in STACKS for m in rendered[env][stack.name]]
    assert project["sourceRepos"] == [settings.repo_url]
    namespaces = {m["metadata"]["namespace"] for m in stacks if "namespace" in m["metadata"]}
    # Each namespace on the cluster as the environment's own Argo CD reaches it (its address) and as the fleet's
    # names it (argocd.cluster, default the environment's name): exactly those, no wildcard.
    cluster = settings.cluster or env
    destinations = [(d.get("server", ""), d.get("name", ""), d["namespace"]) for d in project["destinations"]]
    assert sorted(destinations) == sorted(
        [(settings.destination_server, "", namespace) for namespace in namespaces]
        + [("", cluster, namespace) for namespace in namespaces]
    )
    cluster_scoped = {
        (m["apiVersion"].rpartition("/")[0], m["kind"]) for m in stacks if "namespace" not in m["metadata"]
    }
    assert {(w["group"], w["kind"]) for w in project.get("clusterResourceWhitelist", [])} == cluster_scoped


def test_declared_cluster_kinds_match_the_output(rendered: dict[str, RenderedEnvironment]) -> None:
    for stack in STACKS:
        kinds = {
            m["kind"] for env in ENVIRONMENTS for m in rendered[env][stack.name] if "namespace" not in m["metadata"]
        }
        assert kinds == set(stack.cluster_kinds), f"{stack.name}: update StackDefinition.cluster_kinds"


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_root_app_of_apps_bootstraps_the_environment(rendered: dict[str, RenderedEnvironment], env: str) -> None:
    settings = load_environment(env).argocd
    root = find(argocd(rendered, env), "Application", f"{env}-root")["spec"]
    assert root["source"]["path"] == f"dist/argocd/{env}"
    assert root["project"] == "default", "the built-in project exists before the first sync"
    folder = ROOT / "dist" / "argocd" / env
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        f"{m['kind'].lower()}-{m['metadata']['name']}.yaml" for m in argocd(rendered, env)
    )
    assert root["destination"]["namespace"] == settings.namespace


def test_dist_layout_has_one_argocd_folder_per_environment_and_the_fleet() -> None:
    from delivery.output import FLEET_FOLDER

    assert sorted(p.name for p in Path(ROOT / "dist" / "argocd").iterdir()) == sorted([*ENVIRONMENTS, FLEET_FOLDER])


def test_prod_roles_bind_sso_groups_to_project_scoped_policies(rendered: dict[str, RenderedEnvironment]) -> None:
    """Argo CD's project role form: `p, proj:<project>:<role>, <resource>, <action>, <project>/*, allow`; a role
    can reach only its own project's Applications."""
    project = find(argocd(rendered, "prod"), "AppProject")
    assert project["spec"]["roles"] == [
        {
            "name": "read-only",
            "description": "See the prod Applications",
            "groups": ["example-org:developers"],
            "policies": ["p, proj:prod:read-only, applications, get, prod/*, allow"],
        },
        {
            "name": "deployer",
            "description": "Sync the prod Applications (the release managers press Sync)",
            "groups": ["example-org:release-managers"],
            "policies": [
                "p, proj:prod:deployer, applications, get, prod/*, allow",
                "p, proj:prod:deployer, applications, sync, prod/*, allow",
                "p, proj:prod:deployer, logs, get, prod/*, allow",
            ],
        },
    ]


def test_prod_has_a_weekend_change_freeze(rendered: dict[str, RenderedEnvironment]) -> None:
    project = find(argocd(rendered, "prod"), "AppProject")
    assert project["spec"]["syncWindows"] == [
        {
            "kind": "deny",
            "schedule": "0 16 * * 5",
            "duration": "64h",
            "applications": ["prod-*"],
            "manualSync": False,
            "timeZone": "Europe/Amsterdam",
        }
    ]
    # The window's pattern covers every Application of the project (the root app is in the default project).
    in_project = [
        m["metadata"]["name"]
        for m in argocd(rendered, "prod")
        if m["kind"] == "Application" and m["spec"]["project"] == "prod"
    ]
    assert len(in_project) == len(STACKS)
    assert all(fnmatch.fnmatchcase(name, "prod-*") for name in in_project)


def test_roles_and_sync_windows_default_to_none() -> None:
    """No role unless configured: a role grants rights to whoever is in its groups, so a guessed default group could
    grant them to the wrong people. No window: syncs at any time, as Argo CD does without one."""
    from stacks.argocd.settings import ArgoCdSettings

    settings = ArgoCdSettings.model_validate(
        {"repo_url": "https://github.com/example-org/x.git", "target_revision": "main", "project": "p"}
    )
    assert settings.roles == [] and settings.sync_windows == []
    assert (settings.pod_security.level, settings.pod_security.version) == ("restricted", "v1.27")
