"""verta's alerts: each service's availability, and Redis."""

from __future__ import annotations

from typing import TYPE_CHECKING

from constructs_lib.alert import Alert
from stacks.dashboards import Workloads
from stacks.observability import (
    container_restarts,
    replicas_unavailable,
    workload_down,
)

if TYPE_CHECKING:
    from stacks.verta.settings import VertaSettings

NAME = "verta"
SERVICES = ("backend", "frontend", "ml")


def system_alerts(settings: VertaSettings) -> list[Alert]:
    thresholds = settings.alerts
    namespace = settings.namespace
    # The services export no request metrics the seed names: availability is "a ready replica serves", per service
    # (each series of the rule is one Deployment).
    deployments = [f"{NAME}-{service}" for service in SERVICES]
    found = [
        workload_down("VertaServiceDown", namespace, "Deployment", deployments),
        replicas_unavailable("VertaReplicasUnavailable", namespace, deployments, thresholds.unavailable_for),
        container_restarts("VertaRestarting", namespace, thresholds.restarts_per_hour),
    ]
    if settings.redis.mode == "in_cluster":
        found.append(workload_down("VertaRedisDown", namespace, "StatefulSet", [f"{NAME}-redis"]))
    return found


def system_workloads(settings: VertaSettings) -> Workloads:
    return Workloads(
        namespace=settings.namespace,
        deployments=[f"{NAME}-{service}" for service in SERVICES],
        statefulsets=[f"{NAME}-redis"] if settings.redis.mode == "in_cluster" else [],
        autoscalers=[f"{NAME}-{service}" for service in SERVICES if getattr(settings, service).autoscaling.enabled],
    )
