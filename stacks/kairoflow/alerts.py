"""kairoflow's alerts: the web pod, and each CronJob failing or not being scheduled."""

from __future__ import annotations

from typing import TYPE_CHECKING

from constructs_lib.alert import Alert
from stacks.dashboards import Workloads
from stacks.observability import NamespaceAlerts, WatchedCronJob

if TYPE_CHECKING:
    from stacks.kairoflow.settings import KairoflowSettings

NAME = "kairoflow"
WEB = "kairoflow-web"
CRON_TASKS = ("email_processor", "invoice_generation", "cleanup", "schema_validation")


def cron_jobs(settings: KairoflowSettings) -> dict[str, WatchedCronJob]:
    """The rendered CronJobs (`kairoflow-<task>` for each enabled task): deadline, schedule and time zone."""
    jobs = settings.cron_jobs
    found = {f"{NAME}-{task.replace('_', '-')}": getattr(jobs, task) for task in CRON_TASKS}
    return {
        name: WatchedCronJob(
            active_deadline_seconds=cron.active_deadline_seconds, schedule=cron.schedule, time_zone=jobs.time_zone
        )
        for name, cron in found.items()
        if cron.enabled
    }


def system_alerts(settings: KairoflowSettings) -> list[Alert]:
    alerts = NamespaceAlerts(settings.namespace, settings.alerts)
    return [
        alerts.workload_down("KairoflowWebDown", "Deployment", [WEB]),
        alerts.container_restarts("KairoflowRestarting"),
        *alerts.cronjobs("KairoflowCronJobFailing", "KairoflowCronJobNotScheduled", cron_jobs(settings)),
    ]


def system_workloads(settings: KairoflowSettings) -> Workloads:
    return Workloads(namespace=settings.namespace, deployments=[WEB], cronjobs=list(cron_jobs(settings)))
