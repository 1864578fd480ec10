"""hivemind-bot's alerts: leader election (the member sync runs only on the leader) and restarts."""

from __future__ import annotations

from typing import TYPE_CHECKING

from constructs_lib.alert import Alert
from stacks.dashboards import Workloads
from stacks.observability import NamespaceAlerts

if TYPE_CHECKING:
    from stacks.hivemind_bot.settings import HivemindBotSettings

NAME = "hivemind-bot"


def system_alerts(settings: HivemindBotSettings) -> list[Alert]:
    alerts = NamespaceAlerts(settings.namespace, settings.alerts)
    found = [
        alerts.workload_down("HivemindBotDown", "Deployment", [NAME]),
        alerts.container_restarts("HivemindBotRestarting"),
    ]
    if settings.leader_election.enabled:
        thresholds = settings.alerts
        namespace = settings.namespace
        lease = f'namespace="{namespace}", lease="{settings.leader_election.lease_name}"'
        found.append(
            Alert(
                name="HivemindBotNoLeader",
                expr=(
                    f"(time() - max by (namespace, lease) (kube_lease_renew_time{{{lease}}}) "
                    f"> {thresholds.lease_stale_seconds}) or absent(kube_lease_renew_time{{{lease}}})"
                ),
                for_="5m",
                severity="critical",
                summary=f"hivemind-bot has no sync leader (Lease {settings.leader_election.lease_name})",
                description=f"No replica has renewed the Lease for more than {thresholds.lease_stale_seconds} s, or "
                "the Lease does not exist: the periodic guild member sync is not running on any replica.",
                checks=(
                    f"`kubectl -n {namespace} get lease {settings.leader_election.lease_name} -o yaml`: holderIdentity "
                    "and renewTime.",
                    f"`kubectl auth can-i update leases --as=system:serviceaccount:{namespace}:{NAME} -n {namespace}` "
                    "(the Role and RoleBinding are part of this stack: is the Argo CD app in sync?).",
                    f"`kubectl -n {namespace} logs -l app.kubernetes.io/name={NAME} | grep -i 'leader\\|election'`: "
                    "'detected standalone environment' means the service account token is not mounted.",
                ),
            )
        )
    return found


def system_workloads(settings: HivemindBotSettings) -> Workloads:
    return Workloads(namespace=settings.namespace, deployments=[NAME])
