"""kairoflow's alerts: the web pod, and each CronJob failing or not being scheduled."""

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
    thresholds = settings.alerts
    namespace = settings.namespace
    found = [
        workload_down("KairoflowWebDown", namespace, "Deployment", [WEB]),
        container_restarts("KairoflowRestarting", namespace, thresholds.restarts_per_hour),
    ]
    deadlines = cron_jobs(settings)
    # One rule per CronJob under one alert name: a run may take up to its own deadline before it counts as failed.
    for cron_job, deadline in deadlines.items():
        found.append(
            cronjob_failing("KairoflowCronJobFailing", namespace, [cron_job], thresholds.failing_for(deadline))
        )
    if deadlines:
        found.append(
            cronjob_not_scheduled(
                "KairoflowCronJobNotScheduled", namespace, deadlines, thresholds.cronjob_schedule_grace_seconds
            )
        )
    return found


def system_workloads(settings: KairoflowSettings) -> Workloads:
    return Workloads(namespace=settings.namespace, deployments=[WEB], cronjobs=list(cron_jobs(settings)))
