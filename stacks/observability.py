"""What every stack's alerting shares: the settings each system's alert thresholds extend, and PromQL building
blocks over kube-state-metrics, so that the same rule (a workload with no ready replica, a crash-looping container,
a CronJob that stopped) is written once.

Metric names are kube-state-metrics v2's (`kube_deployment_status_replicas_available`, `kube_cronjob_*`,
`kube_lease_renew_time`, ...); the leases collector is among its default resources.
"""

from __future__ import annotations

import calendar
import functools
import importlib.resources
import itertools
import re
import zoneinfo
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Annotated

from pydantic import Field

from constructs_lib.alert import Alert, Severity
from constructs_lib.labels import RecommendedLabels
from value_types.errors import PropsError
from value_types.hosts import RunbookUrl
from value_types.model import StrictModel
from value_types.names import Labels
from value_types.rules import matching
from value_types.schedules import CronFields, Duration, cron_fields

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
    runbook_base_url: RunbookUrl = Field(
        DEFAULT_RUNBOOK_BASE_URL,
        description="Folder of the runbooks; each alert links to <base>/<system>.md#<alert name, lowercased>.",
    )
    rule_labels: Labels = Field(
        default_factory=dict,
        description="Labels your Prometheus' ruleSelector matches: the environment's monitoring.prometheus_labels, "
        "copied here (not written in the files).",
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


# The oldest kube-state-metrics whose series of a metric the alerts and dashboards can read as they do, for the
# metrics that need more than v2.0.0 (the v2 names): (version, why). An older one leaves what reads them silent:
# each expression is written so that a missing or differently labelled series pages nothing.
KUBE_STATE_METRICS_BASELINE = "2.0.0"
KUBE_STATE_METRICS_MINIMUM: Mapping[str, tuple[str, str]] = {
    "kube_cronjob_status_last_successful_time": (
        "2.5.0",
        "`kube_cronjob_status_last_successful_time` exists from 2.5.0 (kubernetes/kube-state-metrics#1732)",
    ),
    "kube_lease_owner": (
        "2.7.0",
        "`kube_lease_owner` covers the Leases of every namespace, with `lease_holder`, from 2.7.0 "
        "(kubernetes/kube-state-metrics#1845)",
    ),
    "kube_lease_renew_time": (
        "2.9.0",
        "`kube_lease_renew_time` carries the `namespace` label from 2.9.0 (kubernetes/kube-state-metrics#2073); "
        "its `leases` resource must be on (the default), the node Leases of kube-node-lease included",
    ),
}
_KUBE_METRIC = re.compile(r"\bkube_[a-z_]+\b")


def kube_state_metrics_minimum(expressions: Iterable[str]) -> tuple[str, list[str]]:
    """The oldest kube-state-metrics that serves every metric these PromQL expressions read, and the reasons (none:
    the v2 baseline)."""
    needs = sorted(
        {
            KUBE_STATE_METRICS_MINIMUM[name]
            for text in expressions
            for name in _KUBE_METRIC.findall(text)
            if name in KUBE_STATE_METRICS_MINIMUM
        }
    )
    version = max(
        [KUBE_STATE_METRICS_BASELINE, *(needed for needed, _ in needs)],
        key=lambda text: tuple(int(part) for part in text.split(".")),
    )
    return version, [why for _, why in needs]


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


@dataclass(frozen=True)
class WatchedCronJob:
    """What the CronJob alerts know of one CronJob.

    Attributes:
        active_deadline_seconds: the longest one run may take.
        schedule: its five-field cron schedule.
        time_zone: its `timeZone`; None: the controller's own (and kube-state-metrics' next schedule time is trusted).
    """

    active_deadline_seconds: int
    schedule: str
    time_zone: str | None = None


def cronjob_not_scheduled(alert_name: str, namespace: str, cronjobs: Iterable[str], grace_seconds: int) -> Alert:
    """A CronJob without a `timeZone` whose next run time passed without the controller starting it, or which is
    suspended (with a timeZone: cronjob_not_scheduled_in_time_zone)."""
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
        checks=_not_scheduled_checks(namespace),
    )


def _not_scheduled_checks(namespace: str) -> tuple[str, ...]:
    return (
        f"`kubectl -n {namespace} get cronjob <cronjob>`: SUSPEND, LAST SCHEDULE and ACTIVE. With "
        "concurrencyPolicy Forbid a run that never ends blocks every later one: delete the stuck Job.",
        "`kubectl -n kube-system logs` of the kube-controller-manager (cronjob controller) for schedule errors.",
    )


def cronjob_not_scheduled_in_time_zone(
    alert_name: str, namespace: str, cronjob: str, schedule: str, time_zone: str, grace_seconds: int
) -> Alert:
    """A CronJob with a `timeZone` whose last scheduled run lies further back than its schedule's longest gap
    allows, which never ran although it was created longer ago than that, or which is suspended.

    kube_cronjob_next_schedule_time is not read: kube-state-metrics before the fix of kubernetes/kube-state-metrics#2206
    computes it in its own time zone, not the CronJob's, so after each run it lies in the past by the zone's offset
    and a rule on it pages every day. lastScheduleTime is the controller's own (the nominal time of the run it
    started), right on every version."""
    try:
        bound = longest_schedule_gap_seconds(schedule, time_zone) + grace_seconds
    except ValueError as never:  # refused in one line: no bound, so no rule that could tell a stopped CronJob
        raise PropsError(
            alert_name, f"{cronjob}.schedule", schedule, f"a schedule that runs ({never}): no alert can watch it"
        ) from None
    last, created, suspended = _per_cronjob(
        namespace,
        [cronjob],
        "kube_cronjob_status_last_schedule_time",
        "kube_cronjob_created",
        "kube_cronjob_spec_suspend",
    )
    return Alert(
        name=alert_name,
        expr=(
            f"(time() - {last} > {bound})"
            f" or ((time() - {created} > {bound}) unless on (namespace, cronjob) {last})"
            f" or ({suspended} == 1)"
        ),
        for_="5m",
        severity="warning",
        summary=f"CronJob {cronjob} has started no run for over {_span(bound)} (schedule '{schedule}' in {time_zone})",
        description="No run of {{ $labels.cronjob }} has been scheduled for longer than its schedule's longest gap in "
        "its time zone plus the grace (alerts.cronjob_schedule_grace_seconds), it never ran although it was created "
        "longer ago than that, or it is suspended: its work is not being done. The gap is computed from the cron "
        "fields and the zone (plus its largest clock change, and twice the gap where a run falls in time the clock "
        "skips), not read from kube_cronjob_next_schedule_time, which kube-state-metrics before the fix of its "
        "issue #2206 computes ignoring the CronJob's timeZone.",
        checks=(
            *_not_scheduled_checks(namespace),
            f"`kubectl -n {namespace} get cronjob <cronjob> -o jsonpath='{{.spec.schedule}} {{.spec.timeZone}} "
            "{.status.lastScheduleTime}'`: the schedule, its zone and the last run the controller started.",
        ),
    )


def _span(seconds: int) -> str:
    """Seconds as days, hours, minutes and seconds: 90300 -> '1d 1h 5m'."""
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, rest = divmod(rest, 60)
    parts = [f"{value}{unit}" for value, unit in ((days, "d"), (hours, "h"), (minutes, "m"), (rest, "s")) if value]
    return " ".join(parts) or "0s"


# The 400-year Gregorian cycle from 2000 (146,097 days, a whole number of weeks): every calendar pattern of a cron
# schedule, leap days and weekdays included, recurs within it.
_CALENDAR_CYCLE_DAYS = 146_097
# The span in which a zone's changes of UTC offset (daylight saving, a new standard time) are looked for.
_ZONE_YEARS = (2000, 2100)
_MINUTES_PER_DAY = 1440


def _expanded(schedule: str) -> CronFields:
    fields = cron_fields(schedule)
    if fields is None:  # the settings refuse such a schedule before a chart is built
        raise ValueError(f"{schedule!r} is not a five-field cron schedule")
    return fields


def _running_days(fields: CronFields) -> Iterator[int]:
    """The days of the 400-year cycle (0 is 1 January 2000, a Saturday) on which the schedule runs, in order."""
    day = 0
    weekday = 6  # 1 January 2000; 0 is Sunday
    for year in range(2000, 2400):
        for month in range(1, 13):
            length = calendar.monthrange(year, month)[1]
            if month in fields.months:
                for day_of_month in range(1, length + 1):
                    by_date = day_of_month in fields.days
                    by_weekday = (weekday + day_of_month - 1) % 7 in fields.weekdays
                    if (by_date or by_weekday) if fields.either_day else (by_date and by_weekday):
                        yield day + day_of_month - 1
            day += length
            weekday = (weekday + length) % 7


@functools.cache
def _longest_wall_clock_gap_minutes(schedule: str) -> int:
    """The longest time between two consecutive runs on the wall clock (no change of UTC offset)."""
    fields = _expanded(schedule)
    times = fields.minutes_of_day
    first: int | None = None
    last: int | None = None
    longest_days = 0
    all_dates, all_weekdays = fields.days >= frozenset(range(1, 32)), fields.weekdays >= frozenset(range(7))
    every_day = fields.months >= frozenset(range(1, 13)) and (
        (all_dates or all_weekdays) if fields.either_day else (all_dates and all_weekdays)
    )
    if every_day:  # the common case, without walking the calendar
        first, last, longest_days = 0, _CALENDAR_CYCLE_DAYS - 1, 1
    else:
        for day in _running_days(fields):
            if last is None:
                first = day
            else:
                longest_days = max(longest_days, day - last)
            last = day
    if first is None or last is None:
        raise ValueError(f"schedule {schedule!r} never runs: no day matches its day, month and weekday fields")
    longest_days = max(longest_days, first + _CALENDAR_CYCLE_DAYS - last)  # into the next cycle
    within_a_day = max((later - earlier for earlier, later in itertools.pairwise(times)), default=0)
    return max(within_a_day, longest_days * _MINUTES_PER_DAY - times[-1] + times[0])


def _zone(name: str) -> zoneinfo.ZoneInfo:
    """The zone as the pinned tzdata package has it, not the machine's zoneinfo: the same rules on every machine."""
    resource = importlib.resources.files("tzdata.zoneinfo").joinpath(*name.split("/"))
    with resource.open("rb") as data:
        return zoneinfo.ZoneInfo.from_file(data, key=name)


@functools.cache
def _offset_changes(time_zone: str) -> tuple[tuple[int, int, int], ...]:
    """Each change of the zone's UTC offset in _ZONE_YEARS: (the minute of the local day it happens at, on the clock
    before it; the offset before; the offset after), offsets in minutes east of UTC."""
    zone = _zone(time_zone)

    def offset(moment: datetime) -> int:
        delta = moment.astimezone(zone).utcoffset()
        return int(delta.total_seconds()) // 60 if delta is not None else 0

    changes: list[tuple[int, int, int]] = []
    day = datetime(_ZONE_YEARS[0], 1, 1, tzinfo=UTC)
    before = offset(day)
    while day.year < _ZONE_YEARS[1]:
        following = day + timedelta(days=1)
        after = offset(following)
        if after != before:
            low, high = 0, _MINUTES_PER_DAY  # minutes after `day`: the old offset at low, the new one at high
            while high - low > 1:
                middle = (low + high) // 2
                if offset(day + timedelta(minutes=middle)) == before:
                    low = middle
                else:
                    high = middle
            changes.append(((high + before) % _MINUTES_PER_DAY, before, after))
        before = after
        day = following
    return tuple(changes)


@functools.cache
def longest_schedule_gap_seconds(schedule: str, time_zone: str) -> int:
    """An upper bound of the time between two consecutive runs the CronJob controller starts for `schedule` in
    `time_zone`: the longest gap on the wall clock (over a 400-year calendar cycle); in a zone whose UTC offset
    changes, plus the largest change (a run after the clock goes back comes that much later), and twice the wall-clock
    gap when a run falls in a span the clock skips (robfig/cron does not run it). Raises ValueError for a schedule
    that never runs."""
    wall = _longest_wall_clock_gap_minutes(schedule)
    changes = _offset_changes(time_zone)
    if not changes:
        return wall * 60
    shift = max(abs(after - before) for _, before, after in changes)
    runs = _expanded(schedule).minutes_of_day
    skipped = any(
        (run - start) % _MINUTES_PER_DAY < after - before
        for start, before, after in set(changes)
        if after > before
        for run in runs
    )
    return ((2 * wall if skipped else wall) + shift) * 60


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

    def cronjobs(self, failing: str, not_scheduled: str, cron_jobs: Mapping[str, WatchedCronJob]) -> list[Alert]:
        """Per CronJob a failing rule, all under the alert name `failing` (a run may take up to its own deadline
        before it counts as failed); under `not_scheduled`, one rule per CronJob with a time zone (against its
        schedule's longest gap) and one for those without (against kube_cronjob_next_schedule_time). None without
        CronJobs."""
        thresholds = self.thresholds
        if not cron_jobs:
            return []
        if not isinstance(thresholds, CronJobAlertSettings):
            raise TypeError("CronJob alerts need CronJobAlertSettings thresholds")
        grace = thresholds.cronjob_schedule_grace_seconds
        without_zone = [name for name, cron_job in cron_jobs.items() if cron_job.time_zone is None]
        return [
            *(
                cronjob_failing(
                    failing, self.namespace, [name], thresholds.failing_for(cron_job.active_deadline_seconds)
                )
                for name, cron_job in cron_jobs.items()
            ),
            *(
                cronjob_not_scheduled_in_time_zone(
                    not_scheduled, self.namespace, name, cron_job.schedule, cron_job.time_zone, grace
                )
                for name, cron_job in cron_jobs.items()
                if cron_job.time_zone is not None
            ),
            *([cronjob_not_scheduled(not_scheduled, self.namespace, without_zone, grace)] if without_zone else []),
        ]
