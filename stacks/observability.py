"""What every stack's alerting shares: the settings each system's alert thresholds extend, and PromQL building
blocks over kube-state-metrics, so that the same rule (a workload with no ready replica, a crash-looping container,
a CronJob that stopped) is written once.

Metric names are kube-state-metrics v2's (`kube_deployment_status_replicas_available`, `kube_cronjob_*`,
`kube_lease_renew_time`, ...); the leases collector is among its default resources.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated

from pydantic import Field

from constructs_lib.alert import Alert, Severity
from constructs_lib.labels import RecommendedLabels
from value_types.hosts import HttpsUrl
from value_types.model import StrictModel
from value_types.names import Labels
from value_types.rules import matching
from value_types.schedules import Duration

if TYPE_CHECKING:  # settings modules import this one: constructs would start the jsii runtime
    from constructs import Construct

    from constructs_lib.alert_rules import AlertRules

# The repository's docs folder (the Argo CD source repository of the environments).
DEFAULT_RUNBOOK_BASE_URL = "https://github.com/example-org/platform-deploy/blob/main/docs/runbooks"


PromMetricName = Annotated[
    str,
    matching(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$", "a Prometheus metric or label name: letters, digits, '_' and ':'", 200),
]


class AlertingSettings(StrictModel):
    """Alerting of one system: on/off, where the runbooks are, and the labels Prometheus selects rules by.
    Each system's settings extend this with its own thresholds."""

    enabled: bool = Field(True, description="Render a PrometheusRule with the system's alerts.")
    runbook_base_url: HttpsUrl = Field(
        DEFAULT_RUNBOOK_BASE_URL,
        description="Folder of the runbooks; each alert links to <base>/<system>.md#<alert name, lowercased>.",
    )
    rule_labels: Labels = Field(
        default_factory=dict,
        description="Labels your Prometheus' ruleSelector matches, e.g. {release: kube-prometheus-stack}.",
    )
    restarts_per_hour: int = Field(
        3, ge=1, le=1000, description="Container restarts within an hour that raise the restarts alert."
    )
    unavailable_for: Duration = Field("10m", description="How long a workload may lack replicas before alerting.")


class CronJobAlertSettings(AlertingSettings):
    """Alerting of a system with CronJobs: when a run counts as failed, and a start as overdue."""

    cronjob_failing_grace_seconds: int = Field(
        300,
        ge=0,
        le=86400,
        description="A CronJob counts as failing when its last scheduled run has not succeeded within its "
        "active_deadline_seconds plus this grace (kairoflow's email processor: 50 s + 5 min, about 6 missed runs).",
    )
    cronjob_schedule_grace_seconds: int = Field(
        300, ge=60, le=86400, description="How late a run may start before its CronJob counts as not scheduled."
    )

    def failing_for(self, active_deadline_seconds: int) -> str:
        """The `for` of a CronJob's failing rule: a run may take up to its deadline before it counts as failed."""
        return f"{active_deadline_seconds + self.cronjob_failing_grace_seconds}s"


def add_alert_rules(
    scope: Construct, system: str, version: str, settings: AlertingSettings, alerts: Iterable[Alert]
) -> AlertRules | None:
    """The system's PrometheusRule, or none when its alerting is switched off."""
    if not settings.enabled:
        return None
    from constructs_lib.alert_rules import AlertRules, AlertRulesProps

    return AlertRules(
        scope,
        "Alerts",
        AlertRulesProps(
            name=system,
            labels=RecommendedLabels(name=system, component="alerts", version=version),
            alerts=list(alerts),
            runbook_url=runbook_url(settings, system),
            rule_labels=settings.rule_labels,
        ),
    )


def runbook_url(settings: AlertingSettings, system: str) -> str:
    return f"{settings.runbook_base_url.rstrip('/')}/{system}.md"


_PROMQL_ESCAPED_DOT = "\\\\."


def name_matcher(label: str, names: Iterable[str]) -> str:
    """A label matcher selecting exactly these Kubernetes objects: `label="a"`, or `label=~"a|b"` (Prometheus
    anchors the regex; object names hold no regex metacharacter but '.', escaped)."""
    chosen = sorted(set(names))
    for name in chosen:
        if not re.fullmatch(r"[a-z0-9]([-a-z0-9.]*[a-z0-9])?", name):
            raise ValueError(f"{name!r} is not a Kubernetes object name")
    if len(chosen) == 1:
        return f'{label}="{chosen[0]}"'
    # A '.' in a regex is any character: escape it as \\. inside the PromQL string.
    alternatives = "|".join(name.replace(".", _PROMQL_ESCAPED_DOT) for name in chosen)
    return f'{label}=~"{alternatives}"'


def workload_down(
    alert_name: str, namespace: str, kind: str, names: Iterable[str], severity: Severity = "critical"
) -> Alert:
    """No ready replica of a Deployment or StatefulSet: nothing serves."""
    label = kind.lower()
    metric = (
        "kube_deployment_status_replicas_available"
        if kind == "Deployment"
        else "kube_statefulset_status_replicas_ready"
    )
    return Alert(
        name=alert_name,
        expr=f'max by (namespace, {label}) ({metric}{{namespace="{namespace}", {name_matcher(label, names)}}}) < 1',
        for_="5m",
        severity=severity,
        summary=f"{kind} {{{{ $labels.{label} }}}} in {{{{ $labels.namespace }}}} has no ready replica",
        description=f"No pod of {kind} {{{{ $labels.{label} }}}} has been ready for 5 minutes: it serves nothing.",
        checks=(
            f"`kubectl -n {namespace} get pods -l app.kubernetes.io/instance` and `kubectl -n {namespace} describe "
            f"{label} <name>`: pending (resources, node selector, claims), failing probes, or image pull errors.",
            f"`kubectl -n {namespace} logs <pod> --previous` for the last crash.",
            f"`kubectl -n {namespace} get events --sort-by=.lastTimestamp` for scheduling and mount errors.",
        ),
    )


def replicas_unavailable(alert_name: str, namespace: str, deployments: Iterable[str], for_: str) -> Alert:
    """Some replicas of a Deployment missing for a while: reduced capacity, or a rollout stuck."""
    return Alert(
        name=alert_name,
        expr=(
            f'max by (namespace, deployment) (kube_deployment_status_replicas_unavailable{{namespace="{namespace}", '
            f"{name_matcher('deployment', deployments)}}}) > 0"
        ),
        for_=for_,
        severity="warning",
        summary="Deployment {{ $labels.deployment }} has {{ $value }} unavailable replicas",
        description=f"Replicas of {{{{ $labels.deployment }}}} have been unavailable for {for_}: capacity is reduced "
        "or a rollout is stuck.",
        checks=(
            f"`kubectl -n {namespace} rollout status deployment/<name>`: a stuck rollout (new pods not ready).",
            f"`kubectl -n {namespace} get pods -o wide`: pending pods (no node fits) or failing readiness probes.",
        ),
    )


def container_restarts(alert_name: str, namespace: str, per_hour: int) -> Alert:
    """Containers restarting more than the setting allows within an hour."""
    return Alert(
        name=alert_name,
        expr=(
            f'sum by (namespace, pod, container) (increase(kube_pod_container_status_restarts_total{{namespace="{namespace}"}}[1h])) '
            f">= {per_hour}"
        ),
        for_="1m",
        severity="warning",
        summary="Container {{ $labels.container }} of {{ $labels.pod }} restarted {{ $value }} times in an hour",
        description=f"The container restarted at least {per_hour} times within an hour: it crashes, is OOM-killed or "
        "fails its liveness probe.",
        checks=(
            f"`kubectl -n {namespace} describe pod <pod>`: the last state's reason (OOMKilled, Error) and exit code.",
            f"`kubectl -n {namespace} logs <pod> -c <container> --previous`: the crash's own log.",
            "OOMKilled: raise the memory limit in the environment's settings file.",
        ),
    )


def crash_looping(alert_name: str, namespace: str) -> Alert:
    """A container in CrashLoopBackOff."""
    return Alert(
        name=alert_name,
        expr=(
            f'max by (namespace, pod, container) (max_over_time(kube_pod_container_status_waiting_reason{{namespace="{namespace}", '
            'reason="CrashLoopBackOff"}[5m])) >= 1'
        ),
        for_="10m",
        severity="critical",
        summary="Container {{ $labels.container }} of {{ $labels.pod }} is crash-looping",
        description="The container has been in CrashLoopBackOff for 10 minutes: it starts and dies repeatedly.",
        checks=(
            f"`kubectl -n {namespace} logs <pod> -c <container> --previous`: the error it dies with.",
            "A missing Secret key or ConfigMap value shows as CreateContainerConfigError instead; a failed database "
            "migration or unreachable dependency shows in the log.",
        ),
    )


def _per_cronjob(namespace: str, cronjobs: Iterable[str], *metrics: str) -> list[str]:
    """Each kube-state-metrics CronJob metric, one series per CronJob of these names in the namespace."""
    matcher = f'namespace="{namespace}", {name_matcher("cronjob", cronjobs)}'
    return [f"max by (namespace, cronjob) ({metric}{{{matcher}}})" for metric in metrics]


def cronjob_failing(alert_name: str, namespace: str, cronjobs: Iterable[str], for_: str) -> Alert:
    """A CronJob's last scheduled run has not succeeded for longer than a run may take."""
    scheduled, succeeded = _per_cronjob(
        namespace, cronjobs, "kube_cronjob_status_last_schedule_time", "kube_cronjob_status_last_successful_time"
    )
    return Alert(
        name=alert_name,
        expr=f"{scheduled} > {succeeded}",
        for_=for_,
        severity="warning",
        summary="CronJob {{ $labels.cronjob }} has not succeeded since its last scheduled run",
        description="The last scheduled run of {{ $labels.cronjob }} has not succeeded although it is past its "
        "activeDeadlineSeconds plus the grace (alerts.cronjob_failing_grace_seconds): it failed or hit its deadline.",
        checks=(
            f"`kubectl -n {namespace} get jobs --sort-by=.status.startTime`: the latest Job of the CronJob and its "
            "status.",
            f"`kubectl -n {namespace} logs job/<job>`: the run's output; `DeadlineExceeded` means it ran past "
            "activeDeadlineSeconds.",
            f"Re-run by hand once fixed: `kubectl -n {namespace} create job --from=cronjob/<cronjob> <cronjob>-manual`.",
        ),
    )


def cronjob_not_scheduled(alert_name: str, namespace: str, cronjobs: Iterable[str], grace_seconds: int) -> Alert:
    """A CronJob whose next run time passed without the controller starting it, or which is suspended."""
    next_run, suspended = _per_cronjob(
        namespace, cronjobs, "kube_cronjob_next_schedule_time", "kube_cronjob_spec_suspend"
    )
    return Alert(
        name=alert_name,
        expr=f"(time() - {next_run} > {grace_seconds}) or ({suspended} == 1)",
        for_="5m",
        severity="warning",
        summary="CronJob {{ $labels.cronjob }} is not being scheduled",
        description=f"The next run of {{{{ $labels.cronjob }}}} is more than {grace_seconds} s overdue, or the "
        "CronJob is suspended: its work is not being done.",
        checks=(
            f"`kubectl -n {namespace} get cronjob <cronjob>`: SUSPEND, LAST SCHEDULE and ACTIVE. With "
            "concurrencyPolicy Forbid a run that never ends blocks every later one: delete the stuck Job.",
            "`kubectl -n kube-system logs` of the kube-controller-manager (cronjob controller) for schedule errors.",
        ),
    )


@dataclass(frozen=True)
class NamespaceAlerts:
    """The building blocks above, bound to one system's namespace and alerting settings: each alert takes its
    threshold from the setting that governs it, so a system names only its alerts and the objects they watch.

    Attributes:
        namespace: the system's namespace.
        thresholds: the system's alerting settings (`CronJobAlertSettings` for the CronJob alerts).
    """

    namespace: str
    thresholds: AlertingSettings

    def workload_down(self, alert_name: str, kind: str, names: Iterable[str]) -> Alert:
        return workload_down(alert_name, self.namespace, kind, names)

    def replicas_unavailable(self, alert_name: str, deployments: Iterable[str]) -> Alert:
        return replicas_unavailable(alert_name, self.namespace, deployments, self.thresholds.unavailable_for)

    def container_restarts(self, alert_name: str) -> Alert:
        return container_restarts(alert_name, self.namespace, self.thresholds.restarts_per_hour)

    def crash_looping(self, alert_name: str) -> Alert:
        return crash_looping(alert_name, self.namespace)

    def cronjobs(self, failing: str, not_scheduled: str, deadlines: Mapping[str, int]) -> list[Alert]:
        """Per CronJob (name -> its active_deadline_seconds) a failing rule, all under the alert name `failing` (a
        run may take up to its own deadline before it counts as failed), and one not-scheduled rule for them all.
        None without CronJobs."""
        thresholds = self.thresholds
        if not deadlines:
            return []
        if not isinstance(thresholds, CronJobAlertSettings):
            raise TypeError("CronJob alerts need CronJobAlertSettings thresholds")
        return [
            *(
                cronjob_failing(failing, self.namespace, [cron_job], thresholds.failing_for(deadline))
                for cron_job, deadline in deadlines.items()
            ),
            cronjob_not_scheduled(not_scheduled, self.namespace, deadlines, thresholds.cronjob_schedule_grace_seconds),
        ]
