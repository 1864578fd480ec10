"""Prometheus alerting rules of one system, rendered as one Prometheus Operator `PrometheusRule`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from constructs import Construct

from constructs_lib.alert import ALERT_NAME, Alert
from constructs_lib.errors import PropsError
from constructs_lib.labels import RecommendedLabels
from value_types.hosts import RUNBOOK_URL
from value_types.schedules import PROMETHEUS_DURATION


@dataclass(frozen=True, kw_only=True)
class AlertRulesProps:
    """Props of `AlertRules`.

    Attributes:
        name: the PrometheusRule's name and its rule group's, normally the system's name.
        labels: the system's recommended labels, put on the PrometheusRule.
        alerts: the alerting rules. Several rules may share an alert name (one alert, thresholds per object); they
            then share a runbook section. An empty list renders no object.
        runbook_url: the runbook page of the system; each alert links to `<runbook_url>#<its anchor>`.
        rule_labels: extra labels on the PrometheusRule that your Prometheus' `ruleSelector` matches (for example
            `release: kube-prometheus-stack`). Default: none.
        evaluation_interval: how often the group is evaluated. Default: Prometheus' global interval.
    """

    name: str
    labels: RecommendedLabels
    alerts: Sequence[Alert]
    runbook_url: str
    rule_labels: Mapping[str, str] = field(default_factory=dict)
    evaluation_interval: str | None = None


class AlertRules(Construct):
    """A PrometheusRule holding one rule group with the system's alerts.

    Every alert gets its `severity` label, the `summary`, `description` and `runbook_url` annotations, and the
    system's name as the `system` label, so one Alertmanager route can send a system's alerts to its team.
    """

    def __init__(self, scope: Construct, id: str, props: AlertRulesProps) -> None:
        super().__init__(scope, id)
        _validate(props)
        self.alerts: tuple[Alert, ...] = tuple(props.alerts)
        if not self.alerts:
            return
        # Imported here so that stacks without Prometheus Operator objects never load the generated module.
        from imports.com.coreos.monitoring import (
            PrometheusRule,
            PrometheusRuleSpec,
            PrometheusRuleSpecGroups,
            PrometheusRuleSpecGroupsRules,
            PrometheusRuleSpecGroupsRulesExpr,
        )

        rules = [
            PrometheusRuleSpecGroupsRules(
                alert=alert.name,
                expr=PrometheusRuleSpecGroupsRulesExpr.from_string(alert.expr),
                for_=alert.for_,
                labels={"severity": alert.severity, "system": props.labels.part_of or props.labels.name},
                annotations={
                    "summary": alert.summary,
                    "description": alert.description,
                    "runbook_url": f"{props.runbook_url}#{alert.anchor}",
                },
            )
            for alert in self.alerts
        ]
        PrometheusRule(
            self,
            "Resource",
            metadata={"name": props.name, "labels": {**props.labels.all, **props.rule_labels}},
            spec=PrometheusRuleSpec(
                groups=[PrometheusRuleSpecGroups(name=props.name, interval=props.evaluation_interval, rules=rules)]
            ),
        )


def _validate(props: AlertRulesProps) -> None:
    for alert in props.alerts:
        if not ALERT_NAME.match(alert.name):
            raise PropsError(
                "AlertRules", "alerts[].name", alert.name, "CamelCase: a capital letter, then letters/digits"
            )
        PROMETHEUS_DURATION.require("AlertRules", f"alerts[{alert.name}].for_", alert.for_)
        if not alert.expr.strip():
            raise PropsError("AlertRules", f"alerts[{alert.name}].expr", alert.expr, "a PromQL expression")
    RUNBOOK_URL.require("AlertRules", "runbook_url", props.runbook_url)
    if props.evaluation_interval is not None:
        PROMETHEUS_DURATION.require("AlertRules", "evaluation_interval", props.evaluation_interval)
