"""Typed settings of the hivemind-bot stack (seed: hivemind-bot-k8s.md). Defaults are the seed's values."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from stacks.bot_settings import BotNetworkPolicyBase
from stacks.dashboards import DashboardSettings
from stacks.observability import AlertingSettings
from value_types.hosts import HttpUrl
from value_types.images import ImageSettings
from value_types.model import StrictModel
from value_types.names import DnsLabel, DnsName, StackNamespace
from value_types.ports import Port
from value_types.quantities import ResourceSettings
from value_types.secrets import RemoteRefSettings, SecretSourceSettings
from value_types.workloads import HttpProbeSettings

# The keys of the bot's Secret (seed "Create Secrets": `kubectl create secret generic hivemind-bot-secrets
# --from-literal=discord-token=... --from-literal=application-id=... --from-literal=service-token=...`).
HivemindSecretKey = Literal["discord-token", "application-id", "service-token"]
# Seed "Environment Variables": which variable reads which key.
SECRET_KEYS: dict[str, HivemindSecretKey] = {
    "DISCORD_BOT_TOKEN": "discord-token",
    "DISCORD_APPLICATION_ID": "application-id",
    "BACKEND_SERVICE_TOKEN": "service-token",
}


class HivemindBotAlertSettings(AlertingSettings):
    """Thresholds of hivemind-bot's alerts."""

    lease_stale_seconds: int = Field(
        60,
        ge=20,
        le=3600,
        description="Seconds since the leader last renewed its Lease after which there is no leader (the seed's "
        "lease lasts 15 s and is renewed within 10 s).",
    )
    leader_changes_per_hour: int = Field(
        5,
        ge=1,
        le=1000,
        description="Changes of the Lease's holder within an hour above which leadership counts as flapping (each "
        "change restarts the member sync; a rollout of the seed's 3 replicas moves it at most 3 times).",
    )


class LeaderElectionSettings(StrictModel):
    enabled: bool = Field(True, description="Role on the sync Lease, bound to the bot's ServiceAccount.")
    lease_name: DnsLabel = Field("hivemind-bot-sync-leader", description="The Lease the replicas compete for.")


class HivemindNetworkPolicySettings(BotNetworkPolicyBase):
    enabled: bool = Field(True, description="Deny ingress; allow egress to DNS, the backend, the API server, HTTPS.")


class HivemindBotSecretSettings(SecretSourceSettings):
    """Where the bot's Secret (`secret_name`) comes from. Source external_secrets follows the seed's "Use a secrets
    manager": an ExternalSecret creates the Secret from the store, each key from <remote_prefix>/<secret_name> with
    the key as property, unless `remote_keys` says otherwise."""

    remote_keys: dict[HivemindSecretKey, RemoteRefSettings] = Field(
        default_factory=dict,
        description="With source external_secrets: where a key's value lives when not at the default remote key, "
        "e.g. discord-token: {key: discord/hivemind-bot, property: token}. Default: none.",
    )


class HivemindBotSettings(StrictModel):
    """The Hivemind Discord bot: replicas sharing slash commands, one leader running member syncs."""

    namespace: StackNamespace = Field("hivemind", description="Namespace of every object.")
    alerts: HivemindBotAlertSettings = Field(default_factory=HivemindBotAlertSettings)
    dashboard: DashboardSettings = Field(default_factory=DashboardSettings)
    image: ImageSettings = Field(description="The bot's image.")
    replicas: int = Field(3, ge=1, le=50, description="Replicas (seed: 3); more than one adds a PodDisruptionBudget.")
    max_unavailable: int = Field(1, ge=1, le=49, description="PodDisruptionBudget: replicas that may be down at once.")
    resources: ResourceSettings = Field(
        ResourceSettings.of("100m", "128Mi", "500m", "256Mi"),
        description="Bot container requests and limits.",
    )
    secret_name: DnsLabel = Field(
        "hivemind-bot-secrets",
        description="The Secret with keys discord-token, application-id and service-token that the bot reads: "
        "existing, or created by an ExternalSecret of the same name (secrets.source).",
    )
    secrets: HivemindBotSecretSettings = Field(default_factory=HivemindBotSecretSettings)
    backend_grpc_host: DnsName = Field("hivemind-server", description="BACKEND_GRPC_HOST: the backend Service.")
    backend_grpc_port: Port = Field(50051, description="BACKEND_GRPC_PORT.")
    web_base_url: HttpUrl = Field(description="WEB_BASE_URL: links in bot replies.")
    log_level: Literal["debug", "info", "warn", "error"] = Field("info", description="LOG_LEVEL.")
    log_format: Literal["json", "text"] = Field("json", description="LOG_FORMAT.")
    health_port: Port = Field(8080, description="Port of the bot's health endpoint (probes).")
    liveness_probe: HttpProbeSettings = Field(
        HttpProbeSettings(path="/healthz", initial_delay_seconds=10, period_seconds=10, timeout_seconds=2)
    )
    readiness_probe: HttpProbeSettings = Field(
        HttpProbeSettings(path="/healthz", initial_delay_seconds=5, period_seconds=5, timeout_seconds=2)
    )
    leader_election: LeaderElectionSettings = Field(default_factory=LeaderElectionSettings)
    network_policy: HivemindNetworkPolicySettings = Field(default_factory=HivemindNetworkPolicySettings)
