"""SystemChart: a system's namespace on every object, and its alerts and dashboard as its settings switch them."""

from __future__ import annotations

from dataclasses import dataclass, field

import cdk8s
import pytest

from constructs_lib.alert import Alert
from stacks.dashboards import DashboardSettings, Workloads
from stacks.observability import AlertingSettings
from stacks.system_chart import SystemChart

DOWN = Alert(name="ExampleDown", expr="up == 0", for_="5m", severity="critical", summary="down", description="down")


@dataclass(frozen=True)
class ExampleSettings:
    namespace: str = "example"
    alerts: AlertingSettings = field(default_factory=AlertingSettings)
    dashboard: DashboardSettings = field(default_factory=DashboardSettings)


def render(settings: ExampleSettings) -> list[dict[str, object]]:
    chart = SystemChart(
        cdk8s.Testing.app(),
        "Example",
        system="example",
        version="1.2.3",
        settings=settings,
        alerts=[DOWN],
        workloads=Workloads(namespace=settings.namespace, deployments=["example"]),
    )
    return list(cdk8s.Testing.synth(chart))


def test_alerts_and_dashboard_in_the_systems_namespace() -> None:
    objects = render(ExampleSettings())
    kinds = {(o["kind"], o["metadata"]["name"]) for o in objects}  # type: ignore[index]
    assert kinds == {("PrometheusRule", "example"), ("ConfigMap", "example-dashboard")}
    assert {o["metadata"]["namespace"] for o in objects} == {"example"}  # type: ignore[index]
    rule = next(o for o in objects if o["kind"] == "PrometheusRule")
    assert rule["metadata"]["labels"]["app.kubernetes.io/version"] == "1.2.3"  # type: ignore[index]


@pytest.mark.parametrize(
    ("settings", "kind_left"),
    [
        (ExampleSettings(alerts=AlertingSettings(enabled=False)), "ConfigMap"),
        (ExampleSettings(dashboard=DashboardSettings(enabled=False)), "PrometheusRule"),
    ],
)
def test_settings_switch_alerts_and_dashboard_off(settings: ExampleSettings, kind_left: str) -> None:
    assert [o["kind"] for o in render(settings)] == [kind_left]
