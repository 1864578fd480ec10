"""The PrometheusRules: every expression parses, every alert carries what a person on call needs, its runbook link
lands on a heading, and its label matchers select objects the stack actually renders (a renamed Deployment or
CronJob would otherwise leave an alert that never fires)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cdk8s
import promql_parser
import pytest

from constructs_lib.alert import Alert
from constructs_lib.alert_rules import AlertRules, AlertRulesProps
from constructs_lib.errors import PropsError
from constructs_lib.labels import RecommendedLabels
from delivery.pod_templates import pod_template_of
from engine import Manifest, RenderedEnvironment
from environment_model.registry import STACKS
from environment_model.settings import load_environment, parse_environment
from stacks.observability import (
    CronJobAlertSettings,
    NamespaceAlerts,
    WatchedCronJob,
    kube_state_metrics_minimum,
    longest_schedule_gap_seconds,
    name_matcher,
)

RUNBOOKS = Path(__file__).resolve().parent.parent / "docs" / "runbooks"
# kube-state-metrics' object labels -> the kind whose name they carry.
OBJECT_LABELS = {
    "deployment": "Deployment",
    "statefulset": "StatefulSet",
    "cronjob": "CronJob",
    "horizontalpodautoscaler": "HorizontalPodAutoscaler",
}


def _rules(rendered: dict[str, RenderedEnvironment]) -> Iterator[tuple[str, str, Manifest, dict[str, Any]]]:
    """(environment, stack, PrometheusRule, rule) for every alerting rule rendered."""
    for env, stacks in rendered.items():
        for stack, objects in stacks.items():
            for manifest in objects:
                if manifest["kind"] == "PrometheusRule":
                    for group in manifest["spec"]["groups"]:
                        for rule in group["rules"]:
                            yield env, stack, manifest, rule


def _selectors(expr: Any) -> Iterator[Any]:
    """Every vector selector in a parsed PromQL expression."""
    if isinstance(expr, promql_parser.VectorSelector):
        yield expr
    for attribute in ("lhs", "rhs", "expr", "vector_selector", "param"):
        child = getattr(expr, attribute, None)
        if child is not None and not isinstance(child, (str, int, float)):
            yield from _selectors(child)
    for child in getattr(expr, "args", None) or []:
        yield from _selectors(child)


def _matchers(selector: Any) -> dict[str, tuple[str, str]]:
    return {m.name: (str(m.op), m.value) for m in selector.matchers.matchers}


def _names(op: str, value: str, candidates: set[str]) -> set[str]:
    """The candidate names a matcher selects (`=` exact, `=~` anchored regex)."""
    if op == "MatchOp.Equal":
        return {value} & candidates
    assert op == "MatchOp.Re", f"a negative matcher ({op}) cannot name the objects an alert is about"
    return {name for name in candidates if re.fullmatch(value, name)}


def test_every_stack_renders_one_prometheus_rule_in_every_environment(
    rendered: dict[str, RenderedEnvironment],
) -> None:
    for env, stacks in rendered.items():
        for stack in STACKS:
            rules = [m for m in stacks[stack.name] if m["kind"] == "PrometheusRule"]
            assert len(rules) == 1, f"{env}/{stack.name}: {len(rules)} PrometheusRules"
            assert "imports.com.coreos.monitoring" in stack.bindings


def test_every_expression_parses_and_every_alert_is_complete(rendered: dict[str, RenderedEnvironment]) -> None:
    count = 0
    for env, stack, _, rule in _rules(rendered):
        where = f"{env}/{stack} {rule['alert']}"
        promql_parser.parse(rule["expr"])  # raises on a syntax error
        assert rule["labels"]["severity"] in ("critical", "warning", "info"), where
        assert rule["annotations"]["summary"] and rule["annotations"]["description"], where
        assert re.fullmatch(r"[0-9]+(ms|s|m|h)", rule["for"]), where
        count += 1
    assert count >= 5 * 3 * 3


def test_promql_parser_rejects_a_broken_expression() -> None:
    with pytest.raises(ValueError):
        promql_parser.parse('sum(rate(up{job="x"}[5m])')


def test_the_seeds_alerts_are_there(rendered: dict[str, RenderedEnvironment]) -> None:
    """The issue's list, per system, in prod (every optional feature on there)."""
    prod = {
        stack: {rule["alert"] for e, stack_, _, rule in _rules(rendered) if e == "prod" and stack_ == stack}
        for stack in rendered["prod"]
    }
    assert {
        "CorePipelineHighErrorRate",
        "CorePipelineHighLatency",
        "CorePipelineCrashLooping",
        "CorePipelineHpaAtMaximum",
        "CorePipelineReplicasUnavailable",
    } <= prod["core-pipeline"]
    assert {"HivemindBotNoLeader", "HivemindBotRestarting"} <= prod["hivemind-bot"]
    assert {
        "DiscordBotDown",
        "DiscordBotRedisDown",
        "DiscordRetentionFailing",
        "DiscordRetentionNotScheduled",
    } <= prod["discord-monitor"]
    assert {"VertaServiceDown", "VertaRedisDown"} <= prod["verta"]
    assert {"KairoflowWebDown", "KairoflowCronJobFailing", "KairoflowCronJobNotScheduled"} <= prod["kairoflow"]


def test_runbook_urls_point_at_existing_headings(rendered: dict[str, RenderedEnvironment]) -> None:
    headings: dict[str, set[str]] = {}
    for env, stack, _, rule in _rules(rendered):
        url = rule["annotations"]["runbook_url"]
        page, _, anchor = url.rpartition("#")
        assert page.endswith(f"/docs/runbooks/{stack}.md"), f"{env}/{stack} {rule['alert']}: {url}"
        if stack not in headings:
            text = (RUNBOOKS / f"{stack}.md").read_text()
            headings[stack] = {line[4:].strip().lower() for line in text.splitlines() if line.startswith("### ")}
        assert anchor in headings[stack], f"{env}/{stack}: {url} has no heading '### {rule['alert']}'"


def test_label_matchers_select_rendered_objects(rendered: dict[str, RenderedEnvironment]) -> None:
    """Each selector's namespace is the rule's own; each object label names objects rendered there; `job` names a
    Service a ServiceMonitor scrapes; `lease` the Lease the Role lets the pods renew."""
    checked = 0
    for env, stack, rule_object, rule in _rules(rendered):
        objects = rendered[env][stack]
        namespace = rule_object["metadata"]["namespace"]
        where = f"{env}/{stack} {rule['alert']}"
        for selector in _selectors(promql_parser.parse(rule["expr"])):
            matchers = _matchers(selector)
            if _is_capability_probe(selector):
                continue
            assert matchers.get("namespace") == ("MatchOp.Equal", namespace), f"{where}: {selector}"
            assert any(pod_template_of(m) is not None for m in objects), where
            for label, kind in OBJECT_LABELS.items():
                if label in matchers:
                    candidates = {m["metadata"]["name"] for m in objects if m["kind"] == kind}
                    op, value = matchers[label]
                    chosen = _names(op, value, candidates)
                    assert chosen, f"{where}: {label}{op}{value!r} selects no rendered {kind} ({sorted(candidates)})"
                    if op.endswith("Re"):
                        # every alternative of the regex is a rendered object: none silently selects nothing
                        assert len(chosen) == len(value.split("|")), f"{where}: {value!r} vs {sorted(chosen)}"
                    checked += 1
            if "job" in matchers:
                monitored = _monitored_services(objects)
                assert matchers["job"][1] in monitored, f"{where}: job {matchers['job'][1]!r} not in {monitored}"
                checked += 1
            if "lease" in matchers:
                leases = {
                    name
                    for m in objects
                    if m["kind"] == "Role"
                    for rule_ in m["rules"]
                    for name in rule_.get("resourceNames", [])
                }
                assert matchers["lease"][1] in leases, f"{where}: lease {matchers['lease'][1]!r} not in {leases}"
                checked += 1
    assert checked > 30


def _is_capability_probe(selector: Any) -> bool:
    """The one selector outside a rule's namespace: whether kube-state-metrics exports namespaced Lease renewals
    (the node Leases of kube-node-lease; stacks/hivemind_bot/alerts.py NAMESPACED_LEASES)."""
    return str(selector.name) == "kube_lease_renew_time" and _matchers(selector) == {
        "namespace": ("MatchOp.Equal", "kube-node-lease")
    }


def _monitored_services(objects: list[Manifest]) -> set[str]:
    """Services a ServiceMonitor of the same namespace selects (their name is the target's `job` label)."""
    found = set()
    for monitor in (m for m in objects if m["kind"] == "ServiceMonitor"):
        selector = monitor["spec"]["selector"]["matchLabels"]
        for service in (m for m in objects if m["kind"] == "Service"):
            labels = service["metadata"].get("labels", {})
            if all(labels.get(key) == value for key, value in selector.items()):
                found.add(service["metadata"]["name"])
    return found


def test_rules_follow_the_settings(rendered: dict[str, RenderedEnvironment]) -> None:
    """The HPA alert exists only where autoscaling does (dev has none); thresholds come from the settings."""
    by_env = {
        env: {rule["alert"]: rule for e, stack, _, rule in _rules(rendered) if e == env and stack == "core-pipeline"}
        for env in rendered
    }
    assert "CorePipelineHpaAtMaximum" not in by_env["dev"]
    assert "CorePipelineHpaAtMaximum" in by_env["prod"]
    assert by_env["prod"]["CorePipelineHighErrorRate"]["expr"].endswith("> 0.05")
    email = [
        rule
        for e, stack, _, rule in _rules(rendered)
        if e == "prod" and rule["alert"] == "KairoflowCronJobFailing" and "email-processor" in rule["expr"]
    ]
    # the seed's activeDeadlineSeconds (50) plus the default grace (300 s)
    assert [rule["for"] for rule in email] == ["350s"]


def test_alert_thresholds_are_validated_with_the_field_path() -> None:
    from environment_model.settings import SettingsError, load_environment

    data = load_environment("prod").model_dump(mode="json")
    data["core_pipeline"]["alerts"] = {"max_error_ratio": 1.5, "latency_for": "ten minutes"}
    with pytest.raises(SettingsError) as error:
        parse_environment("prod", data)
    message = str(error.value)
    assert "core_pipeline.alerts.max_error_ratio" in message
    assert "core_pipeline.alerts.latency_for" in message


def test_alerting_can_be_switched_off() -> None:
    from delivery.pipeline import render
    from engine.plain import PlainEngine
    from environment_model.settings import load_environment

    data = load_environment("dev").model_dump(mode="json")
    data["hivemind_bot"]["alerts"] = {"enabled": False, "rule_labels": {"release": "kube-prometheus-stack"}}
    settings = parse_environment("dev", data)
    hivemind = [s for s in STACKS if s.name == "hivemind-bot"]
    objects = render(PlainEngine(), {"dev": settings}, hivemind, argocd=False)["dev"]["hivemind-bot"]
    assert "PrometheusRule" not in {m["kind"] for m in objects}


def _alert(**overrides: Any) -> Alert:
    values: dict[str, Any] = {
        "name": "SomethingDown",
        "expr": "up == 0",
        "for_": "5m",
        "severity": "critical",
        "summary": "s",
        "description": "d",
    }
    return Alert(**{**values, **overrides})


LABELS = RecommendedLabels(name="demo", component="alerts", version="1.0.0")


def test_construct_renders_labels_annotations_and_rule_selector_labels() -> None:
    chart = cdk8s.Chart(cdk8s.Testing.app(), "Demo", namespace="demo")
    AlertRules(
        chart,
        "Alerts",
        AlertRulesProps(
            name="demo",
            labels=LABELS,
            alerts=[_alert()],
            runbook_url="https://example.com/docs/runbooks/demo.md",
            rule_labels={"release": "kube-prometheus-stack"},
        ),
    )
    (rule_object,) = cdk8s.Testing.synth(chart)
    assert rule_object["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    (rule,) = rule_object["spec"]["groups"][0]["rules"]
    assert rule == {
        "alert": "SomethingDown",
        "expr": "up == 0",
        "for": "5m",
        "labels": {"severity": "critical", "system": "demo"},
        "annotations": {
            "summary": "s",
            "description": "d",
            "runbook_url": "https://example.com/docs/runbooks/demo.md#somethingdown",
        },
    }


@pytest.mark.parametrize(
    ("alert", "url", "prop"),
    [
        (_alert(name="something-down"), "https://example.com/r.md", "alerts[].name"),
        (_alert(for_="five minutes"), "https://example.com/r.md", "alerts[SomethingDown].for_"),
        (_alert(expr=" "), "https://example.com/r.md", "alerts[SomethingDown].expr"),
        (_alert(), "https://example.com/r.md#x", "runbook_url"),
    ],
)
def test_construct_rejects_bad_props(alert: Alert, url: str, prop: str) -> None:
    chart = cdk8s.Chart(cdk8s.Testing.app(), "Demo")
    with pytest.raises(PropsError) as error:
        AlertRules(chart, "Alerts", AlertRulesProps(name="demo", labels=LABELS, alerts=[alert], runbook_url=url))
    assert error.value.prop == prop


def test_name_matcher_is_exact() -> None:
    assert name_matcher("cronjob", ["b", "a"]) == 'cronjob=~"a|b"'
    assert name_matcher("deployment", ["web"]) == 'deployment="web"'
    with pytest.raises(ValueError):
        name_matcher("deployment", ["web.*"])


def test_every_monitor_and_rule_carries_the_labels_the_environment_prometheus_selects(
    rendered: dict[str, RenderedEnvironment],
) -> None:
    """One setting (monitoring.prometheus_labels) for every ServiceMonitor and PrometheusRule: a Prometheus whose
    selector finds one finds them all, in every environment."""
    for env, by_stack in rendered.items():
        selected = load_environment(env).monitoring.prometheus_labels
        assert selected, env
        monitors = [
            manifest
            for manifests in by_stack.values()
            for manifest in manifests
            if manifest["kind"] in ("ServiceMonitor", "PrometheusRule")
        ]
        assert {manifest["kind"] for manifest in monitors} == {"ServiceMonitor", "PrometheusRule"}, env
        for manifest in monitors:
            labels = manifest["metadata"]["labels"]
            assert selected.items() <= labels.items(), (env, manifest["kind"], manifest["metadata"]["name"])


# --- CronJobs with a time zone: the not-scheduled rule against the schedule's longest gap --------------------------


@pytest.mark.parametrize(
    ("schedule", "time_zone", "hours"),
    [
        ("*/1 * * * *", "UTC", 1 / 60),
        ("0 * * * *", "UTC", 1),
        ("0 3 * * *", "UTC", 24),
        ("0 6 * * 1", "UTC", 7 * 24),
        ("0 6 * * 1-5", "UTC", 3 * 24),  # Friday to Monday
        ("0 0 13 * 5", "UTC", 7 * 24),  # day 13 or a Friday (robfig/cron: either, both being restricted)
        ("0 0 29 2 *", "UTC", (365 * 8 + 1) * 24),  # 2096 to 2104: 2100 is no leap year
        ("30 3 * * *", "Europe/Amsterdam", 25),  # a day, and the hour the clock goes back
        ("30 2 * * *", "Europe/Amsterdam", 49),  # 02:30 does not exist the day the clock goes forward: not run
        ("*/15 * * * *", "Australia/Lord_Howe", 1),  # 15 min twice across a skipped half hour, plus the half hour
    ],
)
def test_longest_schedule_gap(schedule: str, time_zone: str, hours: float) -> None:
    assert longest_schedule_gap_seconds(schedule, time_zone) == round(hours * 3600)


def test_a_schedule_that_never_runs_is_refused_in_one_line() -> None:
    with pytest.raises(ValueError, match=r"^schedule '0 0 30 2 \*' never runs: [^\n]*$"):
        longest_schedule_gap_seconds("0 0 30 2 *", "UTC")
    never = {"leap": WatchedCronJob(active_deadline_seconds=60, schedule="0 0 30 2 *", time_zone="UTC")}
    with pytest.raises(PropsError) as error:
        NamespaceAlerts("demo", CronJobAlertSettings()).cronjobs("Failing", "NotScheduled", never)
    assert error.value.prop == "leap.schedule" and "\n" not in str(error.value)


def test_a_cronjob_with_a_time_zone_is_not_judged_by_kube_state_metrics_next_schedule_time(
    rendered: dict[str, RenderedEnvironment],
) -> None:
    """kube-state-metrics before the fix of its issue #2206 computes kube_cronjob_next_schedule_time ignoring the
    CronJob's timeZone: no rule reads it for a CronJob that has one; each such CronJob gets the bound of its own
    schedule and zone (prod's retention: 25 h plus the 300 s grace)."""
    zoned = 0
    for env, stack, _, rule in _rules(rendered):
        cron_jobs = {m["metadata"]["name"]: m for m in rendered[env][stack] if m["kind"] == "CronJob"}
        for selector in _selectors(promql_parser.parse(rule["expr"])):
            named = _matchers(selector).get("cronjob")
            if named is None:
                continue
            chosen = _names(*named, set(cron_jobs))
            if any("timeZone" in cron_jobs[name]["spec"] for name in chosen):
                assert str(selector.name) != "kube_cronjob_next_schedule_time", f"{env}/{stack} {rule['alert']}"
                zoned += 1
    assert zoned
    (retention,) = [
        rule
        for e, stack, _, rule in _rules(rendered)
        if e == "prod" and rule["alert"] == "DiscordRetentionNotScheduled"
    ]
    assert "kube_cronjob_status_last_schedule_time" in retention["expr"] and "> 90300)" in retention["expr"]


def test_a_cronjob_without_a_time_zone_keeps_the_next_schedule_time_rule() -> None:
    alerts = NamespaceAlerts("demo", CronJobAlertSettings()).cronjobs(
        "Failing",
        "NotScheduled",
        {
            "local": WatchedCronJob(active_deadline_seconds=60, schedule="0 3 * * *"),
            "zoned": WatchedCronJob(active_deadline_seconds=60, schedule="0 3 * * *", time_zone="Europe/Amsterdam"),
        },
    )
    not_scheduled = [alert.expr for alert in alerts if alert.name == "NotScheduled"]
    assert len(not_scheduled) == 2
    assert any('kube_cronjob_next_schedule_time{namespace="demo", cronjob="local"}' in expr for expr in not_scheduled)
    (zoned,) = [expr for expr in not_scheduled if 'cronjob="zoned"' in expr]
    assert "next_schedule_time" not in zoned and "> 90300)" in zoned


def test_the_oldest_kube_state_metrics_the_expressions_need() -> None:
    assert kube_state_metrics_minimum(["up", "kube_deployment_status_replicas_available"]) == ("2.0.0", [])
    version, reasons = kube_state_metrics_minimum(
        ["kube_cronjob_status_last_successful_time > 0", "time() - kube_lease_renew_time{namespace='a'}"]
    )
    assert version == "2.9.0" and len(reasons) == 2 and "#2073" in reasons[1]
