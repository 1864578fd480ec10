"""The Argo CD objects of one environment: an AppProject, one Application per stack, and the root app of apps.

They come from the same settings as the stacks: each Application points at dist/<env>/<stack>, its destination is
the namespace the stack's settings name, and the AppProject allows exactly those namespaces and the cluster-scoped
kinds the stacks declare (`StackDefinition.cluster_kinds`, checked against the output by a test).
"""

from __future__ import annotations

from fnmatch import fnmatchcase

from cdk8s import Chart
from constructs import Construct

from constructs_lib.errors import PropsError
from constructs_lib.labels import RecommendedLabels
from stacks.argocd.settings import (
    FINALIZER,
    ArgoCdInputs,
    ProjectRoleSettings,
    SyncWindowSettings,
    about_annotations,
    creates_namespace,
    fleet_cluster,
)

# API group of each cluster-scoped kind a stack may declare.
CLUSTER_KIND_GROUPS = {
    "Namespace": "",
    "ClusterRole": "rbac.authorization.k8s.io",
    "ClusterRoleBinding": "rbac.authorization.k8s.io",
}


def project_role_policies(project: str, role: ProjectRoleSettings) -> list[str]:
    """The role's Casbin policy lines in Argo CD's project form: `p, proj:<project>:<role>, <resource>, <action>,
    <project>/*, allow`, limited to this project's Applications."""
    subject = f"proj:{project}:{role.name}"
    lines = [f"p, {subject}, applications, {action}, {project}/*, allow" for action in role.actions]
    if role.logs:
        lines.append(f"p, {subject}, logs, get, {project}/*, allow")
    return lines


def _refuse_windows_matching_nothing(windows: list[SyncWindowSettings], applications: list[str]) -> None:
    """A sync window whose patterns match none of the project's Applications protects nothing (a freeze on `prd-*`
    in prod): Argo CD matches each pattern as a glob against the Application's name."""
    for index, window in enumerate(windows):
        if not any(fnmatchcase(name, pattern) for pattern in window.applications for name in applications):
            raise PropsError(
                "ArgoCdChart",
                f"argocd.sync_windows[{index}].applications",
                list(window.applications),
                f"patterns ('*' wildcards) matching at least one of the project's Applications: {', '.join(applications)}",
            )


class ArgoCdChart(Chart):
    """AppProject `<project>`, Applications `<env>-<stack>` and the root Application `<env>-root`, all in the Argo CD
    namespace. Applying the root Application is the whole bootstrap of a cluster."""

    def __init__(self, scope: Construct, id: str, inputs: ArgoCdInputs) -> None:
        argocd = inputs.settings.argocd
        super().__init__(scope, id, namespace=argocd.namespace, disable_resource_name_hashes=True)
        from constructs_lib.pod_security_labels import namespace_labels
        from imports.io.argoproj import (
            Application,
            ApplicationSpec,
            ApplicationSpecDestination,
            ApplicationSpecSource,
            ApplicationSpecSyncPolicy,
            ApplicationSpecSyncPolicyAutomated,
            ApplicationSpecSyncPolicyManagedNamespaceMetadata,
            AppProject,
            AppProjectSpec,
            AppProjectSpecClusterResourceWhitelist,
            AppProjectSpecDestinations,
            AppProjectSpecRoles,
            AppProjectSpecSyncWindows,
        )

        env = inputs.environment
        part_of = f"argocd-{env}"
        automated = argocd.automated
        sync_policy_automated = (
            ApplicationSpecSyncPolicyAutomated(prune=automated.prune, self_heal=automated.self_heal)
            if automated.enabled
            else None
        )
        namespaces = {stack.name: getattr(inputs.settings, stack.settings_field).namespace for stack in inputs.stacks}
        _refuse_windows_matching_nothing(argocd.sync_windows, [f"{env}-{stack.name}" for stack in inputs.stacks])
        cluster_kinds = sorted({kind for stack in inputs.stacks for kind in stack.cluster_kinds})

        AppProject(
            self,
            "Project",
            metadata={
                "name": argocd.project,
                "labels": RecommendedLabels(
                    name=argocd.project, component="project", part_of=part_of, version=argocd.target_revision
                ).all,
            },
            spec=AppProjectSpec(
                description=f"Every stack of the {env} environment, rendered by this repository",
                source_repos=[argocd.repo_url],
                # Its own Argo CD reaches the cluster by address; the fleet's (dist/argocd/fleet/) by name.
                destinations=[
                    destination
                    for namespace in sorted(set(namespaces.values()))
                    for destination in (
                        AppProjectSpecDestinations(server=argocd.destination_server, namespace=namespace),
                        AppProjectSpecDestinations(name=fleet_cluster(env, argocd), namespace=namespace),
                    )
                ],
                cluster_resource_whitelist=[
                    AppProjectSpecClusterResourceWhitelist(group=CLUSTER_KIND_GROUPS[kind], kind=kind)
                    for kind in cluster_kinds
                ],
                roles=[
                    AppProjectSpecRoles(
                        name=role.name,
                        description=role.description or None,
                        groups=list(role.groups),
                        policies=project_role_policies(argocd.project, role),
                    )
                    for role in argocd.roles
                ]
                or None,
                sync_windows=[
                    AppProjectSpecSyncWindows(
                        kind=window.kind,
                        schedule=window.schedule,
                        duration=window.duration,
                        applications=list(window.applications),
                        manual_sync=window.manual_sync,
                        time_zone=window.time_zone,
                    )
                    for window in argocd.sync_windows
                ]
                or None,
            ),
        )
        for stack in inputs.stacks:
            creates_own_namespace = creates_namespace(stack)
            Application(
                self,
                f"App-{stack.name}",
                metadata={
                    "name": f"{env}-{stack.name}",
                    **({"annotations": annotations} if (annotations := about_annotations(stack.about)) else {}),
                    "labels": RecommendedLabels(
                        name=stack.name,
                        instance=f"{env}-{stack.name}",
                        component="application",
                        part_of=part_of,
                        version=argocd.target_revision,
                    ).all,
                    # Deleting the Application deletes what it deployed, instead of orphaning it.
                    "finalizers": [FINALIZER],
                },
                spec=ApplicationSpec(
                    project=argocd.project,
                    source=ApplicationSpecSource(
                        repo_url=argocd.repo_url,
                        target_revision=argocd.target_revision,
                        path=f"dist/{env}/{stack.name}",
                    ),
                    destination=ApplicationSpecDestination(
                        server=argocd.destination_server, namespace=namespaces[stack.name]
                    ),
                    sync_policy=ApplicationSpecSyncPolicy(
                        automated=sync_policy_automated,
                        # A stack that renders its own Namespace owns it; the others need Argo CD to create theirs.
                        sync_options=["CreateNamespace=true"] if creates_own_namespace else None,
                        # The namespace Argo CD creates enforces the same Pod Security level as the ones we render.
                        managed_namespace_metadata=ApplicationSpecSyncPolicyManagedNamespaceMetadata(
                            labels=namespace_labels(argocd.pod_security.level, argocd.pod_security.version)
                        )
                        if creates_own_namespace
                        else None,
                    ),
                ),
            )
        Application(
            self,
            "Root",
            metadata={
                "name": f"{env}-root",
                "labels": RecommendedLabels(
                    name="root",
                    instance=f"{env}-root",
                    component="app-of-apps",
                    part_of=part_of,
                    version=argocd.target_revision,
                ).all,
            },
            spec=ApplicationSpec(
                # The built-in project: it exists before anything of ours, so one `kubectl apply` bootstraps.
                project="default",
                source=ApplicationSpecSource(
                    repo_url=argocd.repo_url, target_revision=argocd.target_revision, path=f"dist/argocd/{env}"
                ),
                destination=ApplicationSpecDestination(
                    server="https://kubernetes.default.svc", namespace=argocd.namespace
                ),
                sync_policy=ApplicationSpecSyncPolicy(automated=sync_policy_automated),
            ),
        )
