"""The fleet form of the Argo CD objects: one ApplicationSet per stack, in dist/argocd/fleet/, that generates the
same Applications as dist/argocd/<env>/ for every environment's cluster, rolled out progressively (RollingSync):
the environments of `argocd.rollout_step` 1 first, then 2, and so on, each step once the previous one is healthy.

It is the alternative bootstrap for many clusters (one Argo CD, one object per stack); the app of apps in
dist/argocd/<env>/ stays the bootstrap of one cluster. Both generate Applications named `<env>-<stack>`: use one.

Each environment goes to its own cluster, by the name the fleet's Argo CD knows it by (`argocd.cluster`, default the
environment's name), and no two environments may send a stack to one namespace of one cluster: their Applications
would fight over the same objects. The generated Applications carry the app of apps' sync policy field for field
(the automated policy through a `templatePatch`, as it differs between environments); RollingSync then turns their
automated sync off and syncs each step itself, pruning where the policy prunes (Argo CD's Progressive Syncs). Removing
an environment or an ApplicationSet leaves the workloads running (`preserveResourcesOnDeletion`, and no resources
finalizer on the generated Applications, as on the root app).

Built as plain dicts, without cdk8s: the generated ApplicationSet binding is a 1.4 MB module, slow to import, and
these objects need nothing from a construct tree. tests/test_argocd_fleet.py validates them against the upstream CRD.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from itertools import groupby
from pathlib import Path
from typing import Any

from constructs_lib.labels import VERSION_LABEL, RecommendedLabels
from constructs_lib.pod_security_labels import namespace_labels
from delivery.output import FLEET_FOLDER
from environment_model.paths import environments_dir
from environment_model.registry import STACKS, StackDefinition
from environment_model.settings_file import display_name
from stacks.argocd.settings import about_annotations, creates_namespace, fleet_cluster

# The label of each generated Application that the rollout steps select.
ENVIRONMENT_LABEL = "environment"
# Merged into each generated Application: the environment's automated sync policy, as the app of apps has it.
AUTOMATED_PATCH = """{{- if .automated }}
spec:
  syncPolicy:
    automated:
      prune: {{ .prune }}
      selfHeal: {{ .selfHeal }}
{{- end }}
"""


class FleetError(Exception):
    """The environments' settings cannot be served by one fleet; the message says which and why."""


def fleet_application_sets(
    environments: Mapping[str, Any], stacks: Sequence[StackDefinition] = STACKS, *, folder: Path | None = None
) -> list[dict[str, Any]]:
    """One ApplicationSet per stack for the environments `environments` (name -> EnvironmentSettings, read from
    `folder`, default environments_dir(): the files the messages name); FleetError when they cannot share one Argo CD
    or two of them would deploy a stack to one namespace of one cluster."""

    def settings_file(env: str) -> str:
        return display_name((folder or environments_dir()) / f"{env}.yaml")

    _refuse_shared_names(environments, stacks, settings_file)
    _refuse_shared_destinations(environments, stacks, settings_file)
    namespaces = {settings.argocd.namespace for settings in environments.values()}
    if len(namespaces) != 1:
        listed = ", ".join(f"{env}: {settings.argocd.namespace}" for env, settings in sorted(environments.items()))
        raise FleetError(
            f"dist/argocd/{FLEET_FOLDER}/: the environments name different Argo CD namespaces ({listed}); the "
            f"fleet's ApplicationSets run in one Argo CD, so every argocd.namespace must be the same"
        )
    (argocd_namespace,) = namespaces
    return [_application_set(stack, environments, argocd_namespace) for stack in stacks]


def _refuse_shared_names(
    environments: Mapping[str, Any], stacks: Sequence[StackDefinition], settings_file: Callable[[str], str]
) -> None:
    """Two environments that render an AppProject or an Argo CD Application of one name: in one Argo CD (the fleet)
    the second overwrites the first. Applications are `<env>-<stack>` and `<env>-root`, so `dev` with stack
    `discord-monitor` and an environment `dev-discord` with a stack `monitor` would meet."""
    owners: dict[tuple[str, str], str] = {}
    for env in sorted(environments):
        names = [("AppProject", environments[env].argocd.project), ("Application", f"{env}-root")]
        names += [("Application", f"{env}-{stack.name}") for stack in stacks]
        for kind, name in names:
            other = owners.setdefault((kind, name), env)
            if other != env:
                raise FleetError(
                    f"{settings_file(other)} and {settings_file(env)} both render the Argo CD {kind} {name!r}: "
                    f"in one Argo CD the second would replace the first; "
                    + ("give each environment its own argocd.project" if kind == "AppProject" else "rename one")
                )


def _refuse_shared_destinations(
    environments: Mapping[str, Any], stacks: Sequence[StackDefinition], settings_file: Callable[[str], str]
) -> None:
    """Two environments whose stacks land in one namespace of one cluster: their Applications, fleet or app of apps,
    would fight over the same objects (each pruning what the other applies)."""
    first: dict[tuple[str, str], tuple[str, str]] = {}
    for env in sorted(environments):
        for stack in stacks:
            destination = (
                fleet_cluster(env, environments[env].argocd),
                getattr(environments[env], stack.settings_field).namespace,
            )
            if destination in first:
                other_env, other_stack = first[destination]
                raise FleetError(
                    f"{settings_file(other_env)} and {settings_file(env)}: {other_stack} of {other_env} and "
                    f"{stack.name} of {env} would both deploy to namespace {destination[1]!r} of cluster "
                    f"{destination[0]!r}; give each environment its own cluster (argocd.cluster, default the "
                    f"environment's name) or the stacks their own namespaces"
                )
            first[destination] = (env, stack.name)


def rollout_steps(environments: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The RollingSync steps: the environments grouped by `argocd.rollout_step`, lowest first. A step whose
    environments sync by hand (`argocd.automated.enabled: false`) has maxUpdate 0: the controller updates none of
    them, a person syncs them, as in the app-of-apps form."""

    def order(env: str) -> tuple[int, bool]:
        argocd = environments[env].argocd
        return (argocd.rollout_step, not argocd.automated.enabled)

    steps = []
    for (_, manual), group in groupby(sorted(environments, key=order), key=order):
        step: dict[str, Any] = {
            "matchExpressions": [{"key": ENVIRONMENT_LABEL, "operator": "In", "values": sorted(group)}]
        }
        if manual:
            step["maxUpdate"] = 0
        steps.append(step)
    return steps


def _application_set(stack: StackDefinition, environments: Mapping[str, Any], namespace: str) -> dict[str, Any]:
    elements = []
    # In rollout order, so the file reads as the rollout goes.
    for env, settings in sorted(environments.items(), key=lambda item: (item[1].argocd.rollout_step, item[0])):
        argocd = settings.argocd
        elements.append(
            {
                "environment": env,
                "project": argocd.project,
                "repoURL": argocd.repo_url,
                "targetRevision": argocd.target_revision,
                "cluster": fleet_cluster(env, argocd),
                "namespace": getattr(settings, stack.settings_field).namespace,
                "podSecurityLevel": argocd.pod_security.level,
                "podSecurityVersion": argocd.pod_security.version,
                "automated": argocd.automated.enabled,
                "prune": argocd.automated.prune,
                "selfHeal": argocd.automated.self_heal,
            }
        )
    sync_policy: dict[str, Any] = {}
    if creates_namespace(stack):
        pod_security = namespace_labels("{{.podSecurityLevel}}", "{{.podSecurityVersion}}")
        sync_policy = {"syncOptions": ["CreateNamespace=true"], "managedNamespaceMetadata": {"labels": pod_security}}
    labels = RecommendedLabels(
        name=stack.name,
        instance="{{.environment}}-" + stack.name,
        component="application",
        part_of="argocd-fleet",
        version="fleet",
    ).all
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "ApplicationSet",
        "metadata": {
            "name": f"fleet-{stack.name}",
            "namespace": namespace,
            "labels": RecommendedLabels(
                name=stack.name,
                instance=f"fleet-{stack.name}",
                component="applicationset",
                part_of="argocd-fleet",
                version="fleet",
            ).all,
        },
        "spec": {
            # Go templates with missingkey=error: a misspelt parameter fails the generation instead of rendering "".
            "goTemplate": True,
            "goTemplateOptions": ["missingkey=error"],
            "generators": [{"list": {"elements": elements}}],
            "strategy": {"type": "RollingSync", "rollingSync": {"steps": rollout_steps(environments)}},
            # An environment removed from the list, or the ApplicationSet deleted, takes its Applications away but
            # leaves what they deployed running (Argo CD's ApplicationSet "Application Deletion Behavior").
            "syncPolicy": {"preserveResourcesOnDeletion": True},
            # The app of apps' automated policy, where the environment has one (a boolean cannot come from a string
            # template: the patch is YAML made by a Go template). RollingSync reads its prune, then turns it off.
            "templatePatch": AUTOMATED_PATCH,
            "template": {
                "metadata": {
                    "name": "{{.environment}}-" + stack.name,
                    # The version is the revision each environment follows (set here: RecommendedLabels would
                    # reduce the template expression to a label value).
                    "labels": {**labels, VERSION_LABEL: "{{.targetRevision}}", ENVIRONMENT_LABEL: "{{.environment}}"},
                    **({"annotations": about} if (about := about_annotations(stack.about)) else {}),
                    # No resources finalizer, as on the root app: deleting a generated Application orphans its objects.
                },
                "spec": {
                    "project": "{{.project}}",
                    "source": {
                        "repoURL": "{{.repoURL}}",
                        "targetRevision": "{{.targetRevision}}",
                        "path": "dist/{{.environment}}/" + stack.name,
                    },
                    "destination": {"name": "{{.cluster}}", "namespace": "{{.namespace}}"},
                    "syncPolicy": sync_policy,
                },
            },
        },
    }
