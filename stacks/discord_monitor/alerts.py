"""discord-monitor's alerts: the bot, its Redis, and the retention CronJob."""

from __future__ import annotations

from typing import TYPE_CHECKING

from constructs_lib.alert import Alert
from stacks.dashboards import Workloads
from stacks.observability import NamespaceAlerts, WatchedCronJob

if TYPE_CHECKING:
    from stacks.discord_monitor.settings import DiscordMonitorSettings

BOT_NAME = "discord-bot"


def system_alerts(settings: DiscordMonitorSettings) -> list[Alert]:
    alerts = NamespaceAlerts(settings.namespace, settings.alerts)
    found = [alerts.workload_down("DiscordBotDown", "Deployment", [BOT_NAME])]
    found.append(alerts.container_restarts("DiscordMonitorRestarting"))
    if settings.redis.mode == "in_cluster":
        found.append(alerts.workload_down("DiscordBotRedisDown", "StatefulSet", [f"{BOT_NAME}-redis"]))
    if settings.retention.enabled:
        job = settings.retention
        retention = {
            f"{BOT_NAME}-retention": WatchedCronJob(
                active_deadline_seconds=job.active_deadline_seconds, schedule=job.schedule, time_zone=job.time_zone
            )
        }
        found += alerts.cronjobs("DiscordRetentionFailing", "DiscordRetentionNotScheduled", retention)
    return found


def system_workloads(settings: DiscordMonitorSettings) -> Workloads:
    return Workloads(
        namespace=settings.namespace,
        deployments=[BOT_NAME],
        statefulsets=[f"{BOT_NAME}-redis"] if settings.redis.mode == "in_cluster" else [],
        cronjobs=[f"{BOT_NAME}-retention"] if settings.retention.enabled else [],
    )
