"""Settings of an environment's Argo CD delivery: where dist/ lives in git, which cluster, how to sync."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator

from value_types.hosts import GitRepositoryUrl, HttpsUrl
from value_types.model import StrictModel
from value_types.names import DnsLabel
from value_types.rules import matching
from value_types.schedules import CronSchedule, SyncWindowDuration, TimeZone


class AutomatedSyncSettings(StrictModel):
    enabled: bool = Field(True, description="Sync on every change of the revision; false: a person presses Sync.")
    prune: bool = Field(True, description="Delete objects that no longer render.")
    self_heal: bool = Field(True, description="Undo changes made in the cluster by hand.")


# Argo CD facts the app-of-apps chart (delivery/argocd.py) and the fleet (delivery/argocd_fleet.py) share; here
# because this module imports no cdk8s.
FINALIZER = "resources-finalizer.argocd.argoproj.io"


def about_annotations(about: Any) -> dict[str, str]:
    """A stack's descriptive metadata (environment_model.registry.StackAbout) as an Application's annotations: Argo
    CD shows each `link.argocd.argoproj.io/<title>` as a link on the Application."""
    if about is None:
        return {}
    links = {"link.argocd.argoproj.io/home": about.home}
    links |= {f"link.argocd.argoproj.io/source-{index}": url for index, url in enumerate(about.sources, start=1)}
    return links | {
        "k8s-workloads/keywords": ",".join(about.keywords),
        "k8s-workloads/maintainers": ",".join(about.maintainers),
    }


def fleet_cluster(environment: str, argocd: ArgoCdSettings) -> str:
    """The name the fleet's Argo CD knows the environment's cluster by: `argocd.cluster`, or the environment's."""
    return argocd.cluster or environment


def creates_namespace(stack: Any) -> bool:
    """Whether Argo CD creates the namespace of `stack` (an environment_model.registry.StackDefinition; this layer
    may not import it) with CreateNamespace=true: a stack that renders its own Namespace owns it."""
    return "Namespace" not in stack.cluster_kinds


PodSecurityLevel = Literal["privileged", "baseline", "restricted"]
# The Kubernetes release whose Pod Security Standards the labels pin; this project renders and validates against 1.27.
DEFAULT_POD_SECURITY_VERSION = "v1.27"


class PodSecuritySettings(StrictModel):
    """The Pod Security admission labels on every namespace this environment creates (the rendered Namespace objects
    and the namespaces Argo CD creates through `managedNamespaceMetadata`)."""

    level: PodSecurityLevel = Field(
        "restricted",
        description="Pod Security Standard the namespaces enforce, warn about and audit; every synth also refuses a "
        "pod that breaks it.",
    )
    version: Annotated[
        str,
        matching(r"^(latest|v1\.[0-9]{1,3})$", "a Kubernetes minor version such as v1.27, or latest", 16),
    ] = Field(
        DEFAULT_POD_SECURITY_VERSION,
        description="Kubernetes version of the standard's rules (pinned: a cluster upgrade does not tighten them).",
    )


# What a project role may do to the project's Applications (Argo CD's `applications` resource actions).
ApplicationAction = Literal["get", "sync", "create", "update", "delete", "override", "action/*"]


class ProjectRoleSettings(StrictModel):
    """An AppProject role: what its members may do to this environment's Applications."""

    name: DnsLabel = Field(description="Role name, e.g. read-only or deployer (a DNS label).")
    description: Annotated[str, matching(r"^[^\n]*$", "one line", 255)] = Field(
        "", description="Shown in Argo CD's UI."
    )
    groups: list[
        Annotated[
            str,
            matching(
                r"^[A-Za-z0-9][A-Za-z0-9 ._:@/-]*$",
                "an SSO group name: letters, digits, ' ', '.', '_', ':', '@', '/' and '-', starting with a letter or "
                "digit (no commas: Argo CD's policies are comma-separated)",
                255,
            ),
        ]
    ] = Field(min_length=1, description="SSO groups (the OIDC `groups` claim) whose members hold the role.")
    actions: list[ApplicationAction] = Field(
        min_length=1,
        description="What the role may do to the project's Applications: get (read), sync, create, update, delete, "
        "override (sync local manifests), action/* (resource actions such as a restart).",
    )
    logs: bool = Field(False, description="Whether the role may read the pods' logs in Argo CD.")

    @field_validator("groups", "actions")
    @classmethod
    def _unique(cls, values: list[str]) -> list[str]:
        repeated = sorted({value for value in values if values.count(value) > 1})
        if repeated:
            raise ValueError(f"lists {', '.join(repeated)} more than once")
        return values


class SyncWindowSettings(StrictModel):
    """A time when the project's Applications may (allow) or may not (deny) sync."""

    kind: Literal["allow", "deny"] = Field(description="allow: syncs only inside allow windows; deny: none inside.")
    schedule: CronSchedule = Field(description="When the window opens (cron, in time_zone).")
    duration: SyncWindowDuration = Field(description="How long the window stays open.")
    applications: list[
        Annotated[
            str, matching(r"^[a-z0-9*]([a-z0-9*.-]*[a-z0-9*])?$", "an Application name, '*' wildcards allowed", 253)
        ]
    ] = Field(["*"], min_length=1, description="Applications it applies to (default: all of the project's).")
    manual_sync: bool = Field(False, description="Whether a person may still sync by hand while a deny window is open.")
    time_zone: TimeZone = Field("UTC", description="IANA time zone of the schedule.")


class ArgoCdSettings(StrictModel):
    """The Applications and AppProject rendered into dist/argocd/<env>/."""

    repo_url: GitRepositoryUrl = Field(description="The git repository holding dist/ (Argo CD's source).")
    target_revision: Annotated[
        str,
        matching(
            r"^[A-Za-z0-9][A-Za-z0-9._/-]*$",
            "a branch, tag or commit: letters, digits, '.', '_', '/' and '-', starting with a letter or digit",
            max_length=255,
        ),
    ] = Field(description="Branch, tag or commit Argo CD follows for this environment (pinned: never HEAD).")
    destination_server: HttpsUrl = Field(
        "https://kubernetes.default.svc",
        description="API server URL of the environment's cluster, as this environment's own Argo CD reaches it "
        "(dist/argocd/<env>/; the in-cluster address when that Argo CD runs in the same cluster).",
    )
    cluster: (
        Annotated[
            str,
            matching(
                r"^[A-Za-z0-9]([A-Za-z0-9._:-]*[A-Za-z0-9])?$",
                "an Argo CD cluster name: letters, digits, '.', '_', ':' and '-'",
                253,
            ),
        ]
        | None
    ) = Field(
        None,
        description="The environment's cluster as the fleet's one Argo CD names it (dist/argocd/fleet/; "
        "`argocd cluster add CONTEXT --name NAME`): `in-cluster` for the cluster that Argo CD runs in. Default: the "
        "environment's name. Two environments may not send a stack to one namespace of one cluster.",
    )
    namespace: DnsLabel = Field("argocd", description="Namespace Argo CD runs in (Applications live there).")
    project: DnsLabel = Field(description="The AppProject of this environment's Applications.")
    automated: AutomatedSyncSettings = Field(default_factory=AutomatedSyncSettings)
    roles: list[ProjectRoleSettings] = Field(
        [],
        description="AppProject roles bound to SSO groups. Default none: a role grants its groups rights, and a "
        "guessed group name could grant them to the wrong people; Argo CD's global RBAC applies meanwhile.",
    )
    sync_windows: list[SyncWindowSettings] = Field(
        [], description="When the project's Applications may sync. Default none: syncs are allowed at any time."
    )
    pod_security: PodSecuritySettings = Field(default_factory=PodSecuritySettings)
    rollout_step: int = Field(
        1,
        ge=1,
        le=99,
        description="The fleet's RollingSync step (dist/argocd/fleet/): step 1's environments sync first, the next "
        "step's once they are healthy.",
    )

    @field_validator("target_revision")
    @classmethod
    def _pinned(cls, revision: str) -> str:
        if revision.upper() == "HEAD":
            raise ValueError("must name a branch, tag or commit, not HEAD")
        return revision

    @field_validator("roles")
    @classmethod
    def _distinct_roles(cls, roles: list[ProjectRoleSettings]) -> list[ProjectRoleSettings]:
        names = [role.name for role in roles]
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise ValueError(f"role {', '.join(repeated)} is defined more than once")
        return roles


@dataclass(frozen=True)
class ArgoCdInputs:
    """What the Argo CD chart takes: the environment's name, all its settings (its own section is `argocd`) and the
    stacks it delivers. Built by the environment model (StackDefinition.settings_for), the layer above."""

    environment: str
    settings: Any  # environment_model.settings.EnvironmentSettings
    stacks: tuple[Any, ...]  # environment_model.registry.StackDefinition: name, settings_field, cluster_kinds
