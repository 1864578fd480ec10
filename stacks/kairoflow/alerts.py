"""kairoflow's alerts: the web pod, and each CronJob failing or not being scheduled."""

from __future__ import annotations

from typing import TYPE_CHECKING

from constructs_lib.alert import Alert
from stacks.dashboards import Workloads
from stacks.observability import NamespaceAlerts

if TYPE_CHECKING:
    from stacks.kairoflow.settings import KairoflowSettings

NAME = "kairoflow"
WEB = "kairoflow-web"
CRON_TASKS = ("email_processor", "invoice_generation", "cleanup", "schema_validation")


def cron_jobs(settings: KairoflowSettings) -> dict[str, int]:
    """The rendered CronJobs (`kairoflow-<task>` for each enabled task) and their active_deadline_seconds."""
    jobs = settings.cron_jobs
    found = {f"{NAME}-{task.replace('_', '-')}": getattr(jobs, task) for task in CRON_TASKS}
    return {name: cron.active_deadline_seconds for name, cron in found.items() if cron.enabled}


def system_alerts(settings: KairoflowSettings) -> list[Alert]:
    alerts = NamespaceAlerts(settings.namespace, settings.alerts)
    return [
        alerts.workload_down("KairoflowWebDown", "Deployment", [WEB]),
        alerts.container_restarts("KairoflowRestarting"),
        *alerts.cronjobs("KairoflowCronJobFailing", "KairoflowCronJobNotScheduled", cron_jobs(settings)),
    ]


def system_workloads(settings: KairoflowSettings) -> Workloads:
    return Workloads(namespace=settings.namespace, deployments=[WEB], cronjobs=list(cron_jobs(settings)))
