"""verta's alerts: each service's availability, and Redis."""

from __future__ import annotations

from typing import TYPE_CHECKING

from constructs_lib.alert import Alert
from stacks.dashboards import Workloads
from stacks.observability import NamespaceAlerts

if TYPE_CHECKING:
    from stacks.verta.settings import VertaSettings

NAME = "verta"
SERVICES = ("backend", "frontend", "ml")


def system_alerts(settings: VertaSettings) -> list[Alert]:
    alerts = NamespaceAlerts(settings.namespace, settings.alerts)
    # The services export no request metrics the seed names: availability is "a ready replica serves", per service
    # (each series of the rule is one Deployment).
    deployments = [f"{NAME}-{service}" for service in SERVICES]
    found = [
        alerts.workload_down("VertaServiceDown", "Deployment", deployments),
        alerts.replicas_unavailable("VertaReplicasUnavailable", deployments),
        alerts.container_restarts("VertaRestarting"),
    ]
    if settings.redis.mode == "in_cluster":
        found.append(alerts.workload_down("VertaRedisDown", "StatefulSet", [f"{NAME}-redis"]))
    return found


def system_workloads(settings: VertaSettings) -> Workloads:
    return Workloads(
        namespace=settings.namespace,
        deployments=[f"{NAME}-{service}" for service in SERVICES],
        statefulsets=[f"{NAME}-redis"] if settings.redis.mode == "in_cluster" else [],
        autoscalers=[f"{NAME}-{service}" for service in SERVICES if getattr(settings, service).autoscaling.enabled],
    )
