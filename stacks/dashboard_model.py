"""Each system's Grafana dashboard, built with Grafana's own grafana-foundation-sdk: the golden signals of its
workloads (traffic, errors, latency where the app exports it, saturation as CPU and memory against requests and
limits) and their replica and autoscaler state, from cAdvisor, kube-state-metrics and the app's own metrics.

Imported by the charts (so the render workers load the SDK once, before they fork), never by settings models.
"""

from __future__ import annotations

import json
from typing import Any

from constructs import Construct
from grafana_foundation_sdk.builders import dashboard, prometheus, timeseries
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.dashboard import DataSourceRef

from constructs_lib.grafana_dashboard import GrafanaDashboard, GrafanaDashboardProps
from constructs_lib.labels import RecommendedLabels
from stacks.dashboards import ENVIRONMENT_CONTEXT, DashboardSettings, Workloads, dashboard_uid
from stacks.observability import name_matcher


def dashboard_model(system: str, environment: str, workloads: Workloads) -> dict[str, Any]:
    """The dashboard as Grafana's JSON model (a dict; the construct serialises it with sorted keys)."""
    datasource = DataSourceRef(type_val="prometheus", uid="${datasource}")
    ns = f'namespace="{workloads.namespace}"'
    panel_id = 0

    def panel(title: str, unit: str, *queries: tuple[str, str], width: int = 12) -> timeseries.Panel:
        nonlocal panel_id
        panel_id += 1
        built = timeseries.Panel().id(panel_id).title(title).datasource(datasource).unit(unit).span(width).height(8)
        for ref, (expr, legend) in zip("ABCDEFGH", queries, strict=False):
            built = built.with_target(prometheus.Dataquery().ref_id(ref).expr(expr).legend_format(legend))
        return built

    board = (
        dashboard.Dashboard(f"{system} ({environment})")
        .uid(dashboard_uid(system, environment))
        .tags(["cdk8s", system, environment])
        .time("now-6h", "now")
        .refresh("1m")
        .timezone("utc")
        .with_variable(dashboard.DatasourceVariable("datasource").label("Prometheus").type("prometheus"))
    )
    rows: list[tuple[str, list[timeseries.Panel]]] = []
    http = workloads.http
    if http:
        target = f'{ns}, job="{http.job}"'
        count, bucket = f"{http.histogram}_count", f"{http.histogram}_bucket"
        rows.append(
            (
                "Traffic, errors, latency",
                [
                    panel(
                        "Requests per second by status",
                        "reqps",
                        (
                            f"sum by ({http.status_label}) (rate({count}{{{target}}}[5m]))",
                            f"{{{{{http.status_label}}}}}",
                        ),
                    ),
                    panel(
                        "Share of 5xx responses",
                        "percentunit",
                        (
                            f'sum(rate({count}{{{target}, {http.status_label}=~"5.."}}[5m])) '
                            f"/ sum(rate({count}{{{target}}}[5m]))",
                            "5xx",
                        ),
                    ),
                    panel(
                        "Request duration",
                        "s",
                        *(
                            (
                                f"histogram_quantile({q}, sum by (le) (rate({bucket}{{{target}}}[5m])))",
                                f"p{int(q * 100)}",
                            )
                            for q in (0.5, 0.95, 0.99)
                        ),
                        width=24,
                    ),
                ],
            )
        )
    pods = f'{ns}, container!="", container!="POD"'
    rows.append(
        (
            "Traffic and errors (pods)",
            [
                panel(
                    "Network received / sent per pod",
                    "Bps",
                    (f"sum by (pod) (rate(container_network_receive_bytes_total{{{ns}}}[5m]))", "{{pod}} in"),
                    (f"-sum by (pod) (rate(container_network_transmit_bytes_total{{{ns}}}[5m]))", "{{pod}} out"),
                ),
                panel(
                    "Container restarts (1h)",
                    "short",
                    (
                        f"sum by (pod, container) (increase(kube_pod_container_status_restarts_total{{{ns}}}[1h]))",
                        "{{pod}}/{{container}}",
                    ),
                ),
            ],
        )
    )
    rows.append(
        (
            "Saturation",
            [
                panel(
                    "CPU per container (cores) against requests and limits",
                    "short",
                    (
                        f"sum by (pod, container) (rate(container_cpu_usage_seconds_total{{{pods}}}[5m]))",
                        "{{pod}}/{{container}}",
                    ),
                    (
                        f'sum by (container) (kube_pod_container_resource_requests{{{ns}, resource="cpu"}}) / count by (container) (kube_pod_container_resource_requests{{{ns}, resource="cpu"}})',
                        "request {{container}}",
                    ),
                    (
                        f'sum by (container) (kube_pod_container_resource_limits{{{ns}, resource="cpu"}}) / count by (container) (kube_pod_container_resource_limits{{{ns}, resource="cpu"}})',
                        "limit {{container}}",
                    ),
                ),
                panel(
                    "Memory working set per container against limits",
                    "bytes",
                    (
                        f"sum by (pod, container) (container_memory_working_set_bytes{{{pods}}})",
                        "{{pod}}/{{container}}",
                    ),
                    (
                        f'sum by (container) (kube_pod_container_resource_limits{{{ns}, resource="memory"}}) / count by (container) (kube_pod_container_resource_limits{{{ns}, resource="memory"}})',
                        "limit {{container}}",
                    ),
                ),
            ],
        )
    )
    state: list[timeseries.Panel] = []
    # One panel per kind present: (title, unit, kube-state-metrics label, names, [(metric, legend prefix)]).
    kinds = [
        (
            "Deployment replicas: available / desired",
            "short",
            "deployment",
            workloads.deployments,
            [("kube_deployment_status_replicas_available", "available"), ("kube_deployment_spec_replicas", "desired")],
        ),
        (
            "StatefulSet replicas: ready / desired",
            "short",
            "statefulset",
            workloads.statefulsets,
            [("kube_statefulset_status_replicas_ready", "ready"), ("kube_statefulset_replicas", "desired")],
        ),
        (
            "Autoscaler: current / desired / min / max replicas",
            "short",
            "horizontalpodautoscaler",
            workloads.autoscalers,
            [
                (f"kube_horizontalpodautoscaler_{field}_replicas", legend)
                for field, legend in (
                    ("status_current", "current"),
                    ("status_desired", "desired"),
                    ("spec_min", "min"),
                    ("spec_max", "max"),
                )
            ],
        ),
        (
            "CronJobs: seconds since last success / last schedule",
            "s",
            "cronjob",
            workloads.cronjobs,
            [
                ("time() - kube_cronjob_status_last_successful_time", "since success"),
                ("time() - kube_cronjob_status_last_schedule_time", "since schedule"),
            ],
        ),
    ]
    for title, unit, label, names, series in kinds:
        if names:
            selector = f"{ns}, {name_matcher(label, names)}"
            queries = [(f"{metric}{{{selector}}}", f"{legend} {{{{{label}}}}}") for metric, legend in series]
            state.append(panel(title, unit, *queries))
    if workloads.leases:
        selector = f"{ns}, {name_matcher('lease', workloads.leases)}"
        # One series per holder: the seconds since the Lease's last renewal, named by who held it then (topk keeps
        # one holder per Lease in the minute two overlap, where a many-to-one match would fail the query).
        holder = (
            f"topk by (namespace, lease) (1, max by (namespace, lease, lease_holder) (kube_lease_owner{{{selector}}}))"
        )
        state.append(
            panel(
                "Lease: seconds since renewal, by holder",
                "s",
                (
                    f"(time() - max by (namespace, lease) (kube_lease_renew_time{{{selector}}})) "
                    f"* on (namespace, lease) group_left (lease_holder) {holder}",
                    "{{lease}} held by {{lease_holder}}",
                ),
            )
        )
    rows.append(("Replicas and schedules", state))
    for title, panels in rows:
        panel_id += 1  # rows are panels too: every id distinct
        board = board.with_row(dashboard.Row(title).id(panel_id))
        for built in panels:
            board = board.with_panel(built)
    model: dict[str, Any] = json.loads(json.dumps(board.build(), cls=JSONEncoder, sort_keys=True))
    return model


def add_dashboard(
    scope: Construct, system: str, version: str, settings: DashboardSettings, workloads: Workloads
) -> GrafanaDashboard | None:
    """The system's dashboard ConfigMap, or none when switched off. The environment's name (for the title and the
    uid) is the app's `environment` context, set by the renderer."""
    if not settings.enabled:
        return None
    environment = str(scope.node.try_get_context(ENVIRONMENT_CONTEXT) or "default")
    return GrafanaDashboard(
        scope,
        "Dashboard",
        GrafanaDashboardProps(
            name=f"{system}-dashboard",
            labels=RecommendedLabels(name=system, component="dashboard", version=version),
            dashboard=dashboard_model(system, environment, workloads),
            folder=settings.grafana_folder,
        ),
    )
