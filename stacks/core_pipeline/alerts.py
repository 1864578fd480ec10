"""core-pipeline's alerts: the API's availability and latency (from its own /metrics), its pods and autoscaler."""

from __future__ import annotations

from typing import TYPE_CHECKING

from constructs_lib.alert import Alert
from stacks.dashboards import HttpMetrics, Workloads
from stacks.observability import NamespaceAlerts

if TYPE_CHECKING:
    from stacks.core_pipeline.settings import CorePipelineSettings

NAME = "core-pipeline"


def system_alerts(settings: CorePipelineSettings) -> list[Alert]:
    alerts = NamespaceAlerts(settings.namespace, settings.alerts)
    scraped = settings.telemetry.metrics_enabled and settings.telemetry.service_monitor
    return [
        alerts.workload_down("CorePipelineDown", "Deployment", [NAME]),
        alerts.replicas_unavailable("CorePipelineReplicasUnavailable", [NAME]),
        alerts.crash_looping("CorePipelineCrashLooping"),
        alerts.container_restarts("CorePipelineRestarting"),
        *(_http_alerts(settings) if scraped else []),
        *([_hpa_at_max(settings.namespace, settings.alerts.hpa_at_max_for)] if settings.autoscaling.enabled else []),
    ]


def _http_alerts(settings: CorePipelineSettings) -> list[Alert]:
    thresholds = settings.alerts
    namespace = settings.namespace
    # The ServiceMonitor's targets carry the Service's name as `job` (Prometheus Operator's default job label).
    target = f'namespace="{settings.namespace}", job="{NAME}"'
    count = f"{thresholds.request_duration_metric}_count"
    bucket = f"{thresholds.request_duration_metric}_bucket"
    status = thresholds.status_code_label
    percent = f"{thresholds.max_error_ratio:.0%}"
    return [
        Alert(
            name="CorePipelineTargetDown",
            expr=f"max by (namespace, job) (up{{{target}}}) < 1 or absent(up{{{target}}})",
            for_="5m",
            severity="critical",
            summary="Prometheus cannot scrape core-pipeline's /metrics",
            description="No core-pipeline target has answered Prometheus for 5 minutes: the pods are down, the "
            "ServiceMonitor is not selected, or a NetworkPolicy blocks the scrape. The other HTTP alerts are blind.",
            checks=(
                f"Prometheus' Targets page: is `serviceMonitor/{namespace}/core-pipeline` listed? If not, the "
                "ServiceMonitor's labels do not match the Prometheus' serviceMonitorSelector "
                "(`telemetry.service_monitor_labels`).",
                f"Listed but down: `kubectl -n {namespace} get endpoints core-pipeline`, and that the monitoring "
                "namespace is in `network_policy.monitoring_namespaces`.",
            ),
        ),
        Alert(
            name="CorePipelineHighErrorRate",
            expr=(
                f'sum by (namespace) (rate({count}{{{target}, {status}=~"5.."}}[5m])) '
                f"/ sum by (namespace) (rate({count}{{{target}}}[5m])) > {thresholds.max_error_ratio}"
            ),
            for_="5m",
            severity="critical",
            summary="core-pipeline answers {{ $value | humanizePercentage }} of requests with 5xx",
            description=f"More than {percent} of the API's responses over 5 minutes are server errors: users see "
            "failures.",
            checks=(
                f"`kubectl -n {namespace} logs -l app.kubernetes.io/name=core-pipeline --since=15m | grep -i error`.",
                "Dependencies: Kafka brokers, PostgreSQL and Redis reachable (see the external services section); a "
                "NetworkPolicy egress port missing after a settings change.",
                "A release just went out? Roll back (see Rollback).",
            ),
        ),
        Alert(
            name="CorePipelineHighLatency",
            expr=(
                f"histogram_quantile(0.95, sum by (namespace, le) (rate({bucket}{{{target}}}[5m]))) "
                f"> {thresholds.max_p95_latency_seconds}"
            ),
            for_=thresholds.latency_for,
            severity="warning",
            summary="core-pipeline p95 latency is {{ $value | humanizeDuration }}",
            description=f"The 95th percentile request duration has been above {thresholds.max_p95_latency_seconds} s "
            f"for {thresholds.latency_for}.",
            checks=(
                "CPU throttling or memory pressure: the dashboard's saturation panels; the HPA at its maximum.",
                "Slow dependencies: PostgreSQL queries, Kafka produce latency, Redis.",
            ),
        ),
    ]


def _hpa_at_max(namespace: str, for_: str) -> Alert:
    hpa = f'namespace="{namespace}", horizontalpodautoscaler="{NAME}"'
    return Alert(
        name="CorePipelineHpaAtMaximum",
        expr=(
            f"max by (namespace, horizontalpodautoscaler) (kube_horizontalpodautoscaler_status_current_replicas{{{hpa}}}) "
            f">= max by (namespace, horizontalpodautoscaler) (kube_horizontalpodautoscaler_spec_max_replicas{{{hpa}}})"
        ),
        for_=for_,
        severity="warning",
        summary="core-pipeline has run at its HPA maximum for " + for_,
        description="The autoscaler cannot add replicas: load beyond this point shows as latency and errors.",
        checks=(
            f"`kubectl -n {namespace} describe hpa core-pipeline`: current CPU/memory against the 80% targets.",
            "Raise `autoscaling.max_replicas` in the environment's settings if the cluster has room, or find what "
            "made each request more expensive.",
        ),
    )


def system_workloads(settings: CorePipelineSettings) -> Workloads:
    """What the dashboard shows: the API's Deployment and autoscaler, and its request histogram when scraped."""
    telemetry = settings.telemetry
    return Workloads(
        namespace=settings.namespace,
        deployments=[NAME],
        autoscalers=[NAME] if settings.autoscaling.enabled else [],
        http=HttpMetrics(
            histogram=settings.alerts.request_duration_metric,
            status_label=settings.alerts.status_code_label,
            job=NAME,
        )
        if telemetry.metrics_enabled and telemetry.service_monitor
        else None,
    )
