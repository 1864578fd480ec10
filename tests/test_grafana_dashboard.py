"""The Grafana dashboards: one ConfigMap per stack the sidecar picks up, valid and deterministic JSON with a uid
stable per system and environment, the golden signals and replica state, and queries that parse and select what
the stack renders."""

from __future__ import annotations

import json
import re
from typing import Any

import cdk8s
import promql_parser
import pytest

from constructs_lib.errors import PropsError
from constructs_lib.grafana_dashboard import GrafanaDashboard, GrafanaDashboardProps
from constructs_lib.labels import RecommendedLabels
from engine import Manifest, RenderedEnvironment
from environment_model.registry import STACKS
from environment_model.settings import load_environment
from stacks.dashboard_model import dashboard_model
from stacks.dashboards import Workloads, dashboard_uid
from tests.test_alert_rules import OBJECT_LABELS, _matchers, _names, _selectors


def _dashboards(rendered: dict[str, RenderedEnvironment]) -> list[tuple[str, str, Manifest, dict[str, Any]]]:
    found = []
    for env, stacks in rendered.items():
        for stack in STACKS:
            maps = [
                m
                for m in stacks[stack.name]
                if m["kind"] == "ConfigMap" and m["metadata"].get("labels", {}).get("grafana_dashboard") == "1"
            ]
            assert len(maps) == 1, f"{env}/{stack.name}: {len(maps)} dashboard ConfigMaps"
            (text,) = maps[0]["data"].values()
            found.append((env, stack.name, maps[0], json.loads(text)))
    return found


def _panels(model: dict[str, Any]) -> list[dict[str, Any]]:
    return [panel for panel in model["panels"] if panel["type"] != "row"]


def test_one_sidecar_configmap_per_stack_with_its_folder(rendered: dict[str, RenderedEnvironment]) -> None:
    dashboards = _dashboards(rendered)
    assert len(dashboards) == len(rendered) * len(STACKS)
    for env, stack, config_map, _ in dashboards:
        section = getattr(load_environment(env), next(s.settings_field for s in STACKS if s.name == stack))
        assert config_map["metadata"]["annotations"]["grafana_folder"] == section.dashboard.grafana_folder
        assert list(config_map["data"]) == [f"{stack}-dashboard.json"]


def test_json_is_sorted_deterministic_and_uid_stable(rendered: dict[str, RenderedEnvironment]) -> None:
    uids = set()
    for env, stack, config_map, model in _dashboards(rendered):
        (text,) = config_map["data"].values()
        assert text == json.dumps(model, sort_keys=True, indent=1, ensure_ascii=False), f"{env}/{stack}: not canonical"
        assert model["uid"] == dashboard_uid(stack, env) and len(model["uid"]) <= 40
        assert env in model["title"] and stack in model["title"]
        uids.add(model["uid"])
        # no timestamps: nothing that looks like a date or an epoch in milliseconds
        assert not re.search(r"\d{4}-\d{2}-\d{2}T|\b1[6-9]\d{11}\b", text), f"{env}/{stack}"
        ids = [panel["id"] for panel in model["panels"]]
        assert len(ids) == len(set(ids)), f"{env}/{stack}: panel ids repeat"
    assert len(uids) == len(rendered) * len(STACKS), "a uid repeats across systems or environments"


def test_the_model_is_the_same_on_every_build() -> None:
    workloads = Workloads(namespace="demo", deployments=["web"], cronjobs=["nightly"], autoscalers=["web"])
    first = json.dumps(dashboard_model("demo", "dev", workloads), sort_keys=True)
    assert first == json.dumps(dashboard_model("demo", "dev", workloads), sort_keys=True)
    assert dashboard_uid("demo", "dev") != dashboard_uid("demo", "prod")


def test_golden_signals_and_replica_state(rendered: dict[str, RenderedEnvironment]) -> None:
    titles = {(env, stack): {p["title"] for p in _panels(model)} for env, stack, _, model in _dashboards(rendered)}
    for (env, stack), panels in titles.items():
        assert any("CPU" in t for t in panels) and any("Memory" in t for t in panels), f"{env}/{stack}"
        assert any("restarts" in t for t in panels) and any("Network" in t for t in panels), f"{env}/{stack}"
        assert any("replicas" in t for t in panels), f"{env}/{stack}"
    core = titles[("prod", "core-pipeline")]
    assert {"Requests per second by status", "Share of 5xx responses", "Request duration"} <= core
    assert any(t.startswith("Autoscaler") for t in core)
    assert not any(t.startswith("Autoscaler") for t in titles[("dev", "core-pipeline")]), "dev has no HPA"
    assert any(t.startswith("CronJobs") for t in titles[("prod", "kairoflow")])


def test_queries_parse_and_select_rendered_objects(rendered: dict[str, RenderedEnvironment]) -> None:
    checked = 0
    for env, stack, config_map, model in _dashboards(rendered):
        objects = rendered[env][stack]
        namespace = config_map["metadata"]["namespace"]
        for panel in _panels(model):
            assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
            for target in panel["targets"]:
                for selector in _selectors(promql_parser.parse(target["expr"])):
                    matchers = _matchers(selector)
                    assert matchers.get("namespace") == ("MatchOp.Equal", namespace), target["expr"]
                    for label, kind in OBJECT_LABELS.items():
                        if label in matchers:
                            candidates = {m["metadata"]["name"] for m in objects if m["kind"] == kind}
                            op, value = matchers[label]
                            assert len(_names(op, value, candidates)) == len(value.split("|")), (
                                f"{env}/{stack}: {label} {value!r} vs {sorted(candidates)}"
                            )
                            checked += 1
    assert checked > 20


def test_construct_rejects_a_bad_uid() -> None:
    chart = cdk8s.Chart(cdk8s.Testing.app(), "Demo")
    labels = RecommendedLabels(name="demo", component="dashboard", version="1")
    with pytest.raises(PropsError) as error:
        GrafanaDashboard(
            chart,
            "Dashboard",
            GrafanaDashboardProps(name="demo", labels=labels, dashboard={"uid": "a/b", "title": "t"}, folder="F"),
        )
    assert error.value.prop == "dashboard.uid"
