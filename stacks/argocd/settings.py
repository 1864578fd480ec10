"""Settings of an environment's Argo CD delivery: where dist/ lives in git, which cluster, how to sync."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import Field, field_validator

from value_types.hosts import GitRepositoryUrl, HttpsUrl
from value_types.model import StrictModel
from value_types.names import DnsLabel
from value_types.rules import matching


class AutomatedSyncSettings(StrictModel):
    enabled: bool = Field(True, description="Sync on every change of the revision; false: a person presses Sync.")
    prune: bool = Field(True, description="Delete objects that no longer render.")
    self_heal: bool = Field(True, description="Undo changes made in the cluster by hand.")


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
        description="API server URL of the environment's cluster (as registered in Argo CD).",
    )
    namespace: DnsLabel = Field("argocd", description="Namespace Argo CD runs in (Applications live there).")
    project: DnsLabel = Field(description="The AppProject of this environment's Applications.")
    automated: AutomatedSyncSettings = Field(default_factory=AutomatedSyncSettings)

    @field_validator("target_revision")
    @classmethod
    def _pinned(cls, revision: str) -> str:
        if revision.upper() == "HEAD":
            raise ValueError("must name a branch, tag or commit, not HEAD")
        return revision


@dataclass(frozen=True)
class ArgoCdInputs:
    """What the Argo CD chart takes: the environment's name, all its settings (its own section is `argocd`) and the
    stacks it delivers. Built by the environment model (StackDefinition.settings_for), the layer above."""

    environment: str
    settings: Any  # environment_model.settings.EnvironmentSettings
    stacks: tuple[Any, ...]  # environment_model.registry.StackDefinition: name, settings_field, cluster_kinds
