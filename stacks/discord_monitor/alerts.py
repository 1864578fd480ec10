"""discord-monitor's alerts: the bot, its Redis, and the retention CronJob."""

from __future__ import annotations

from typing import TYPE_CHECKING

from constructs_lib.alert import Alert
from stacks.dashboards import Workloads
from stacks.observability import (
    container_restarts,
    cronjob_failing,
    cronjob_not_scheduled,
    workload_down,
)

if TYPE_CHECKING:
    from stacks.discord_monitor.settings import DiscordMonitorSettings

BOT_NAME = "discord-bot"


def system_alerts(settings: DiscordMonitorSettings) -> list[Alert]:
    thresholds = settings.alerts
    namespace = settings.namespace
    found = [
        workload_down("DiscordBotDown", namespace, "Deployment", [BOT_NAME]),
        container_restarts("DiscordMonitorRestarting", namespace, thresholds.restarts_per_hour),
    ]
    if settings.redis.mode == "in_cluster":
        found.append(workload_down("DiscordBotRedisDown", namespace, "StatefulSet", [f"{BOT_NAME}-redis"]))
    if settings.retention.enabled:
        retention = [f"{BOT_NAME}-retention"]
        found += [
            cronjob_failing(
                "DiscordRetentionFailing",
                namespace,
                retention,
                thresholds.failing_for(settings.retention.active_deadline_seconds),
            ),
            cronjob_not_scheduled(
                "DiscordRetentionNotScheduled", namespace, retention, thresholds.cronjob_schedule_grace_seconds
            ),
        ]
    return found


def system_workloads(settings: DiscordMonitorSettings) -> Workloads:
    return Workloads(
        namespace=settings.namespace,
        deployments=[BOT_NAME],
        statefulsets=[f"{BOT_NAME}-redis"] if settings.redis.mode == "in_cluster" else [],
        cronjobs=[f"{BOT_NAME}-retention"] if settings.retention.enabled else [],
    )
