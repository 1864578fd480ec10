"""hivemind-bot's alerts: leader election (the member sync runs only on the leader) and restarts."""

from __future__ import annotations

from typing import TYPE_CHECKING

from constructs_lib.alert import Alert
from stacks.dashboards import Workloads
from stacks.observability import NamespaceAlerts

if TYPE_CHECKING:
    from stacks.hivemind_bot.settings import HivemindBotSettings

NAME = "hivemind-bot"
# Whether kube-state-metrics exports Lease renewals with their namespace, as 2.9.0 and later do. Node heartbeats are
# Leases in kube-node-lease on every cluster, so a new enough kube-state-metrics always has such a series; an older
# one has none: its series carry no namespace label or, scraped with honorLabels (kube-prometheus-stack), the
# namespace of its own target, which is never kube-node-lease. `count(...{namespace!=""})` would be fooled by the
# latter. Only when this holds does the absence of the Lease's own series mean the Lease is missing.
NAMESPACED_LEASES = 'count(kube_lease_renew_time{namespace="kube-node-lease"}) > 0'


def system_alerts(settings: HivemindBotSettings) -> list[Alert]:
    alerts = NamespaceAlerts(settings.namespace, settings.alerts)
    found = [
        alerts.workload_down("HivemindBotDown", "Deployment", [NAME]),
        alerts.container_restarts("HivemindBotRestarting"),
    ]
    if settings.leader_election.enabled:
        found += [no_leader(settings), leader_changing(settings)]
    return found


def _lease_matcher(settings: HivemindBotSettings) -> str:
    return f'namespace="{settings.namespace}", lease="{settings.leader_election.lease_name}"'


def no_leader(settings: HivemindBotSettings) -> Alert:
    """The Lease not renewed for longer than a leader renews it, or missing, on a kube-state-metrics that exports
    Leases with their namespace (on an older one the Lease's own series never exists: no false page)."""
    thresholds = settings.alerts
    namespace = settings.namespace
    lease_name = settings.leader_election.lease_name
    lease = _lease_matcher(settings)
    return Alert(
        name="HivemindBotNoLeader",
        expr=(
            f"(time() - max by (namespace, lease) (kube_lease_renew_time{{{lease}}}) > {thresholds.lease_stale_seconds})"
            f" or (absent(kube_lease_renew_time{{{lease}}}) and on () ({NAMESPACED_LEASES}))"
        ),
        for_="5m",
        severity="critical",
        summary=f"hivemind-bot has no sync leader (Lease {lease_name})",
        description=f"No replica has renewed the Lease for more than {thresholds.lease_stale_seconds} s, or "
        "the Lease does not exist: the periodic guild member sync is not running on any replica. (The missing-Lease "
        "case is only told on kube-state-metrics 2.9.0 or later, whose lease series carry their namespace.)",
        checks=(
            f"`kubectl -n {namespace} get lease {lease_name} -o yaml`: holderIdentity and renewTime.",
            f"`kubectl auth can-i update leases/{lease_name} --as=system:serviceaccount:{namespace}:{NAME} "
            f"-n {namespace}` must answer yes (the Role grants get and update on this one Lease only, so `can-i "
            "update leases` without the name answers no by design); the Role and RoleBinding are part of this stack: "
            "is the Argo CD app in sync?",
            f"`kubectl -n {namespace} logs -l app.kubernetes.io/name={NAME} | grep -i 'leader\\|election'`: "
            "'detected standalone environment' means the service account token is not mounted.",
        ),
    )


def leader_changing(settings: HivemindBotSettings) -> Alert:
    """The Lease's holder changing more often than the setting allows within an hour.

    kube-state-metrics (2.7.0 and later) exports one `kube_lease_owner` series per holder (`lease_holder`); a change
    of holder ends one series and starts another. Each minute of the last hour counts the holders present then and
    not a minute before: a handover back to an earlier holder counts too, which counting distinct holders would
    miss. An empty holder (a released Lease) is not a holder."""
    threshold = settings.alerts.leader_changes_per_hour
    lease_name = settings.leader_election.lease_name
    namespace = settings.namespace
    holders = f'kube_lease_owner{{{_lease_matcher(settings)}, lease_holder!=""}}'
    by_holder = "max by (namespace, lease, lease_holder)"
    new_holders = f"count by (namespace, lease) ({by_holder} ({holders}) unless {by_holder} ({holders} offset 1m))"
    return Alert(
        name="HivemindBotLeaderChanging",
        expr=f"sum_over_time(({new_holders})[1h:1m]) > {threshold}",
        for_="5m",
        severity="warning",
        summary=f"The sync Lease {lease_name} changed holder {{{{ $value }}}} times in an hour",
        description=f"The Lease changed holder more than {threshold} times within an hour "
        "(alerts.leader_changes_per_hour): replicas keep losing the leadership, and each change restarts the member "
        "sync.",
        checks=(
            f"`kubectl -n {namespace} get lease {lease_name} -o yaml`: holderIdentity, leaseTransitions and renewTime; "
            "the dashboard's Lease panel shows each holder and the seconds since its last renewal.",
            f"`kubectl -n {namespace} get pods -l app.kubernetes.io/name={NAME}`: restarts (the restarts alert), "
            "evictions or a rollout that moves the Lease with each replaced pod.",
            f"`kubectl -n {namespace} logs -l app.kubernetes.io/name={NAME} | grep -i 'leader\\|election'`: renewals "
            "failing (API server latency, CPU throttling past the 10 s renew deadline).",
        ),
    )


def system_workloads(settings: HivemindBotSettings) -> Workloads:
    return Workloads(
        namespace=settings.namespace,
        deployments=[NAME],
        leases=[settings.leader_election.lease_name] if settings.leader_election.enabled else [],
    )
