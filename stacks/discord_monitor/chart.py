"""The discord-monitor stack: the bot with Redis and its retention worker, and the pod template of an agent Job
carrying the watcher sidecar (seed: discord-monitor task 9)."""

from __future__ import annotations

from constructs import Construct

from constructs_lib import (
    BotEgress,
    BotStack,
    BotStackProps,
    ContainerSpec,
    EgressRule,
    JobPod,
    JobPodTemplate,
    JobPodTemplateProps,
    NetworkAccess,
    PeerSelector,
    RecommendedLabels,
    RetentionCron,
    RetentionCronProps,
    WatcherNetworkPolicy,
    WatcherSidecar,
    WatcherSidecarProps,
)
from constructs_lib.props import same_named
from stacks.discord_monitor.alerts import system_alerts, system_workloads
from stacks.discord_monitor.settings import DiscordMonitorSettings, WatcherSettings
from stacks.settings_to_props import http_probe, redis, secret_env
from stacks.system_chart import SystemChart

NAME = "discord-monitor"
BOT_NAME = "discord-bot"
HTTPS_PORT = 443


class DiscordMonitorChart(SystemChart):
    """Everything discord-monitor runs in one environment, in the namespace its settings name."""

    def __init__(self, scope: Construct, id: str, settings: DiscordMonitorSettings) -> None:
        alerts, workloads = system_alerts(settings), system_workloads(settings)
        version = settings.bot.image.tag
        super().__init__(scope, id, system=NAME, version=version, settings=settings, alerts=alerts, workloads=workloads)
        bot_settings = settings.bot
        bot_image = bot_settings.image
        bot_labels = RecommendedLabels(name=BOT_NAME, component="bot", part_of=NAME, version=bot_image.tag)

        watcher = None
        if settings.example_job.enabled:
            job = settings.example_job
            job_labels = RecommendedLabels(name=job.name, component="agent", part_of=NAME, version=job.image.tag)
            watcher = WatcherSidecar(self, "Watcher", watcher_props(settings.watcher, job_labels, bot_labels.selector))
            pod = watcher.attach(
                ContainerSpec(
                    name="agent",
                    image=job.image,
                    resources=job.resources,
                    command=job.command,
                    env={"WORKSPACE_PATH": settings.watcher.workspace_path},
                )
            )
            # A PodTemplate, not a Job: the orchestrator creates a Job from it per run. A Job kept here could not
            # take the next image bump (its pod template is immutable), and would run in every environment.
            JobPodTemplate(
                self,
                "AgentJob",
                JobPodTemplateProps(
                    name=job.name,
                    labels=job_labels,
                    pod=JobPod(
                        container=pod.container,
                        sidecars=pod.sidecars,
                        volumes=pod.volumes,
                        active_deadline_seconds=job.active_deadline_seconds,
                    ),
                ),
            )

        policy = settings.network_policy
        egress = None
        if policy.enabled:
            rules = [EgressRule(ports=[HTTPS_PORT], cidrs=policy.https_egress_cidrs)]
            if watcher is not None and settings.watcher.bridge.enabled:
                rules.append(watcher.bridge_egress())
            egress = BotEgress(rules=rules)
        self.bot = BotStack(
            self,
            "Bot",
            BotStackProps(
                name=BOT_NAME,
                part_of=NAME,
                image=bot_image,
                resources=bot_settings.resources,
                port=bot_settings.port,
                liveness_probe=http_probe(bot_settings.liveness_probe),
                readiness_probe=http_probe(bot_settings.readiness_probe),
                credentials=[secret_env("BOT_TOKEN", bot_settings.token)],
                env={
                    "HTTP_PORT": str(bot_settings.port),
                    "LOG_LEVEL": bot_settings.log_level,
                    "BRIDGE_PORT": str(settings.watcher.bridge.port),
                },
                replicas=bot_settings.replicas,
                service_port=bot_settings.port if bot_settings.service else None,
                redis=redis(settings.redis, name=f"{BOT_NAME}-redis", part_of=NAME),
                egress=egress,
                ingress_from=NetworkAccess(from_namespaces=policy.ingress_namespaces) if policy.enabled else None,
            ),
        )

        if settings.retention.enabled:
            self._retention(settings, bot_image.tag)

    def _retention(self, settings: DiscordMonitorSettings, version: str) -> None:
        retention = settings.retention
        endpoint = self.bot.redis_endpoint
        env = {"RETENTION_TTL_SECONDS": str(retention.ttl_hours * 3600), "LOG_LEVEL": settings.bot.log_level}
        if endpoint is not None:
            env.update(endpoint.env())
        labels = RecommendedLabels(name=BOT_NAME, component="retention", part_of=NAME, version=version)
        cron = RetentionCron(
            self,
            "Retention",
            RetentionCronProps(
                name=f"{BOT_NAME}-retention",
                labels=labels,
                schedule=retention.schedule,
                time_zone=retention.time_zone,
                pod=JobPod(
                    container=ContainerSpec(
                        name="retention",
                        image=settings.bot.image,
                        resources=retention.resources,
                        command=retention.command,
                        env=env,
                        # Redis only: the retention worker never sees the bot token.
                        secret_env=[endpoint.password_env()] if endpoint is not None else (),
                    ),
                    backoff_limit=retention.backoff_limit,
                    active_deadline_seconds=retention.active_deadline_seconds,
                ),
            ),
        )
        if self.bot.redis is not None:
            self.bot.redis.allow_from(cron)


def watcher_props(
    settings: WatcherSettings, workload: RecommendedLabels, bot_selector: dict[str, str]
) -> WatcherSidecarProps:
    policy = settings.network_policy
    return WatcherSidecarProps(
        # The image, resources, probes and the watcher's own variables: the settings' fields of the same names.
        **same_named(settings, WatcherSidecarProps, besides=("filters", "network_policy")),
        workload=workload,
        filters=settings.filters or None,
        bridge_enabled=settings.bridge.enabled,
        health_port=settings.bridge.port,
        network_policy=WatcherNetworkPolicy(
            allow_from_bot=PeerSelector(pod_labels=bot_selector) if policy.allow_from_bot else None,
            allowed_ingress_cidrs=policy.allowed_ingress_cidrs,
            restrict_ingress_to_cluster=policy.restrict_ingress_to_cluster,
            allowed_egress_cidrs=policy.allowed_egress_cidrs,
        )
        if policy.enabled
        else None,
    )
