"""Typed settings of the discord-monitor stack. Defaults are the seed's (discord-monitor task 9: the sidecar's
`discord.monitoring.sidecar.*` values and the bot chart's `discord.bot.*`); environment files hold what differs."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, ValidationInfo, field_validator

from stacks.bot_settings import BotNetworkPolicyBase
from stacks.dashboards import DashboardSettings
from stacks.observability import CronJobAlertSettings
from value_types.credentials import FreeForm
from value_types.images import ImageSettings
from value_types.model import StrictModel
from value_types.names import AbsolutePath, Cidr, DnsLabel, StackNamespace
from value_types.ports import Port
from value_types.quantities import ResourceSettings
from value_types.schedules import CronSchedule, TimeZone
from value_types.watcher import WatcherProbeSettings, WatcherStatsSettings
from value_types.workloads import HttpProbeSettings, InClusterRedisSettings, RedisSettings, SecretKey


class DiscordMonitorAlertSettings(CronJobAlertSettings):
    """Thresholds of discord-monitor's alerts."""


class WatcherBridgeSettings(StrictModel):
    enabled: bool = Field(False, description="Set BRIDGE_PORT and let the bot connect to the watcher.")
    port: Port = Field(8088, description="Bridge and health port (named `health`, always exposed for probes).")


class WatcherNetworkPolicySettings(StrictModel):
    enabled: bool = Field(False, description="Confine the bridge port (needs bridge.enabled).")
    allow_from_bot: bool = Field(True, description="Admit the bot's pods to the bridge port.")
    allowed_ingress_cidrs: list[Cidr] = Field(default_factory=list, description="Address ranges also admitted.")
    restrict_ingress_to_cluster: bool = Field(
        True, description="With no bot and no CIDRs admitted, admit only this namespace's pods."
    )
    allowed_egress_cidrs: list[Cidr] = Field(
        default_factory=list,
        description="Restrict egress to these ranges on 443 (and DNS). Empty: egress not restricted at all.",
    )


class WatcherSettings(StrictModel):
    """The watcher sidecar (`discord.monitoring.sidecar.*`). It takes a webhook URL, never a bot token."""

    image: ImageSettings = Field(
        description="The discord-monitor image. Required: the seed's default discord-monitor:latest is a mutable "
        "tag, which never rolls the pods in GitOps."
    )
    webhook_secret: SecretKey = Field(
        SecretKey(secret="discord-watcher-webhook", key="webhook-url"),
        description="Existing Secret key with DISCORD_WEBHOOK_URL (written by the orchestrator).",
    )
    workspace_path: AbsolutePath = Field("/workspace", description="WORKSPACE_PATH and mount path.")
    poll_interval_ms: int = Field(100, ge=50, le=60000, description="POLL_INTERVAL_MS (at least 50).")
    batch_size: int = Field(10, ge=1, le=50, description="BATCH_SIZE (1..50).")
    parity_mode: Literal["full", "parity"] = Field("full", description="PARITY_MODE.")
    filters: Annotated[dict[str, Any], FreeForm] = Field(
        default_factory=dict, description="FILTERS, rendered as JSON into a ConfigMap. Empty: FILTERS is not set."
    )
    stats: WatcherStatsSettings = Field(default_factory=WatcherStatsSettings)
    agent_input_fifo: AbsolutePath | None = Field(None, description="AGENT_INPUT_FIFO, under the workspace.")
    bridge: WatcherBridgeSettings = Field(default_factory=WatcherBridgeSettings)
    resources: ResourceSettings = Field(
        ResourceSettings.of("10m", "32Mi", "100m", "64Mi"), description="Sidecar resources."
    )
    probes: WatcherProbeSettings = Field(default_factory=WatcherProbeSettings)
    network_policy: WatcherNetworkPolicySettings = Field(default_factory=WatcherNetworkPolicySettings)

    @field_validator("network_policy")
    @classmethod
    def _policy_needs_bridge(
        cls, policy: WatcherNetworkPolicySettings, info: ValidationInfo
    ) -> WatcherNetworkPolicySettings:
        bridge = info.data.get("bridge")
        if policy.enabled and bridge is not None and not bridge.enabled:
            raise ValueError("enabled needs bridge.enabled: true (the policy confines the bridge port)")
        return policy

    @field_validator("webhook_secret")
    @classmethod
    def _not_a_token(cls, secret: SecretKey) -> SecretKey:
        if "token" in secret.secret.lower() or "token" in secret.key.lower():
            raise ValueError("must name the webhook URL's Secret key; the watcher never receives a bot token")
        return secret


class ExampleJobSettings(StrictModel):
    """The seed's "Job with watcher" example: an agent sharing its workspace with the watcher, rendered as a
    PodTemplate that the orchestrator turns into a Job per run (a Job's pod template cannot change on upgrade)."""

    enabled: bool = Field(True, description="Render the example PodTemplate.")
    name: DnsLabel = Field("agent-with-watcher", description="The PodTemplate's name (and its pods' app name).")
    image: ImageSettings = Field(description="The agent's image.")
    command: Annotated[list[str], FreeForm] = Field(
        min_length=1, description="The agent's command; it writes transcripts to the workspace."
    )
    resources: ResourceSettings = Field(
        ResourceSettings.of("50m", "64Mi", "250m", "256Mi"), description="Agent resources."
    )
    active_deadline_seconds: int = Field(
        3600, ge=60, le=86400, description="Longest a pod made from the template may run (pod activeDeadlineSeconds)."
    )


class BotSettings(StrictModel):
    """The bot service (`discord.bot.*`): Deployment, Service, BOT_TOKEN from a Secret."""

    image: ImageSettings = Field(description="The bot's image.")
    replicas: int = Field(1, ge=1, le=20, description="Replicas; more than one adds a PodDisruptionBudget.")
    resources: ResourceSettings = Field(
        ResourceSettings.of("50m", "128Mi", "250m", "256Mi"), description="Bot resources."
    )
    token: SecretKey = Field(
        SecretKey(secret="bot-token", key="BOT_TOKEN"), description="BOT_TOKEN, from the existing bot-token Secret."
    )
    port: Port = Field(8080, description="HTTP port for diagnostics and probes (HTTP_PORT), behind the Service.")
    service: bool = Field(True, description="Render a ClusterIP Service (internal diagnostics).")
    liveness_probe: HttpProbeSettings = Field(
        HttpProbeSettings(path="/healthz", initial_delay_seconds=10, period_seconds=10, timeout_seconds=2)
    )
    readiness_probe: HttpProbeSettings = Field(
        HttpProbeSettings(path="/healthz", initial_delay_seconds=5, period_seconds=5, timeout_seconds=2)
    )
    log_level: Literal["debug", "info", "warn", "error"] = Field("info", description="LOG_LEVEL.")


class RetentionSettings(StrictModel):
    """The retention worker: a CronJob pruning Redis keys older than the TTL."""

    enabled: bool = Field(True, description="Render the CronJob.")
    schedule: CronSchedule = Field("0 3 * * *", description="Five-field cron schedule.")
    time_zone: TimeZone | None = Field("UTC", description="IANA time zone of the schedule.")
    ttl_hours: int = Field(168, ge=1, le=87600, description="Keys older than this are pruned (RETENTION_TTL_SECONDS).")
    command: Annotated[list[str], FreeForm] = Field(
        ["node", "dist/retention.js"], min_length=1, description="The bot image's retention command."
    )
    active_deadline_seconds: int = Field(600, ge=10, le=86400, description="Longest one run may take.")
    backoff_limit: int = Field(1, ge=0, le=10)
    resources: ResourceSettings = Field(ResourceSettings.of("10m", "64Mi", "100m", "128Mi"))


class BotNetworkPolicySettings(BotNetworkPolicyBase):
    enabled: bool = Field(True, description="Restrict the bot's egress to DNS, Redis, watcher bridges and HTTPS.")
    ingress_namespaces: list[DnsLabel] = Field(
        default_factory=list, description="Namespaces whose pods may reach the bot's port (e.g. monitoring)."
    )


class DiscordMonitorSettings(StrictModel):
    """The Discord monitor: the bot with Redis and its retention worker, and the watcher sidecar for workloads."""

    namespace: StackNamespace = Field("discord-monitor", description="Namespace of every object.")
    alerts: DiscordMonitorAlertSettings = Field(default_factory=DiscordMonitorAlertSettings)
    dashboard: DashboardSettings = Field(default_factory=DashboardSettings)
    bot: BotSettings
    redis: RedisSettings = Field(
        InClusterRedisSettings(password=SecretKey(secret="discord-bot-redis", key="redis-password")),
        description="The bot's Redis.",
    )
    retention: RetentionSettings = Field(default_factory=RetentionSettings)
    watcher: WatcherSettings = Field(
        description="The watcher sidecar of the example pod template (its image is required)."
    )
    example_job: ExampleJobSettings
    network_policy: BotNetworkPolicySettings = Field(default_factory=BotNetworkPolicySettings)
