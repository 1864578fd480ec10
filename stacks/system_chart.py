"""SystemChart: the Chart of one system, with what every system's chart has: every object in the namespace its
settings name, and the system's alerts and dashboard as its settings switch them."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from cdk8s import Chart
from constructs import Construct

from constructs_lib.alert import Alert
from stacks.dashboard_model import add_dashboard
from stacks.dashboards import DashboardSettings, Workloads
from stacks.observability import AlertingSettings, add_alert_rules


class SystemSettings(Protocol):
    """What every system's settings hold besides its own (read-only: settings models are frozen)."""

    @property
    def namespace(self) -> str:
        """The namespace of every object of the system."""

    @property
    def alerts(self) -> AlertingSettings:
        """The system's alerting, extended with its own thresholds."""

    @property
    def dashboard(self) -> DashboardSettings:
        """The system's Grafana dashboard."""


class SystemChart(Chart):
    """One system in one environment. Object names are the constructs' own (no cdk8s hash suffix), so that they
    stay stable across refactors; the PrometheusRule and the Grafana dashboard are named after `system` and carry
    `version` (the system's main image tag)."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        system: str,
        version: str,
        settings: SystemSettings,
        alerts: Iterable[Alert],
        workloads: Workloads,
    ) -> None:
        super().__init__(scope, id, namespace=settings.namespace, disable_resource_name_hashes=True)
        add_alert_rules(self, system, version, settings.alerts, alerts)
        add_dashboard(self, system, version, settings.dashboard, workloads)
