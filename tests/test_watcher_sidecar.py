"""WatcherSidecar against its seed (discord-monitor task 9, subtasks 9.1 to 9.5): defaults, env mapping, probes,
shared workspace, NetworkPolicy, and a clear error for every bad prop."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest

from constructs_lib import (
    ContainerSpec,
    JobPod,
    JobPodTemplate,
    JobPodTemplateProps,
    PeerSelector,
    PropsError,
    RecommendedLabels,
    WatcherNetworkPolicy,
    WatcherSidecar,
    WatcherSidecarProps,
)
from constructs_lib.watcher_sidecar import ENV_MAPPING
from delivery.checks import find_problems
from delivery.pod_templates import pod_template_of
from tests.construct_helpers import IMAGE, RESOURCES, only, synth
from value_types.images import ImageSettings
from value_types.workloads import SecretKey

WORKLOAD = RecommendedLabels(name="agent", component="worker", version="1.0.0")
BOT = {"app.kubernetes.io/name": "bot", "app.kubernetes.io/instance": "bot", "app.kubernetes.io/component": "bot"}
SECRET = SecretKey(secret="watcher-webhook", key="webhook-url")
# The seed's image name; its `latest` tag could never roll the pods, so the image has no default.
WATCHER_IMAGE = ImageSettings(repository="discord-monitor", tag="1.0.0")


def props(**overrides: Any) -> WatcherSidecarProps:
    return dataclasses.replace(
        WatcherSidecarProps(workload=WORKLOAD, image=WATCHER_IMAGE, webhook_secret=SECRET), **overrides
    )


def job_with_watcher(watcher_props: WatcherSidecarProps) -> list[dict[str, Any]]:
    """The seed's `_job-with-watcher.tpl`: an app container and the watcher sharing the workspace."""

    def build(chart: Any) -> None:
        watcher = WatcherSidecar(chart, "Watcher", watcher_props)
        pod = watcher.attach(ContainerSpec(name="agent", image=IMAGE, resources=RESOURCES, command=["run"]))
        JobPodTemplate(
            chart,
            "Job",
            JobPodTemplateProps(
                name="agent",
                labels=WORKLOAD,
                pod=JobPod(container=pod.container, sidecars=pod.sidecars, volumes=pod.volumes),
            ),
        )

    return synth(build)


def containers_by_name(manifests: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    template = pod_template_of(only(manifests, "PodTemplate"))
    assert template is not None
    pod = template["spec"]
    return {c["name"]: c for c in pod["containers"]}


def env_of(container: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container["env"]}


def test_defaults_are_the_seeds() -> None:
    manifests = job_with_watcher(props())
    watcher = containers_by_name(manifests)["discord-watcher"]
    # 9.1 image discord-monitor, split into repository and tag (a pinned tag: see WATCHER_IMAGE).
    assert watcher["image"] == "discord-monitor:1.0.0"
    # 9.1 resources.
    assert watcher["resources"] == {
        "requests": {"cpu": "10m", "memory": "32Mi"},
        "limits": {"cpu": "100m", "memory": "64Mi"},
    }
    # 9.1 securityContext defaults.
    security = watcher["securityContext"]
    assert security["runAsNonRoot"] is True
    assert security["runAsUser"] == 65532
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"] == {"drop": ["ALL"]}
    # 9.2 name and terminationMessagePolicy.
    assert watcher["terminationMessagePolicy"] == "FallbackToLogsOnError"
    # 9.2/9.3 the health port is exposed although the bridge is off.
    assert watcher["ports"] == [{"containerPort": 8088, "name": "health", "protocol": "TCP"}]
    env = env_of(watcher)
    assert env["WORKSPACE_PATH"] == "/workspace"
    assert env["POLL_INTERVAL_MS"] == "100"
    assert env["BATCH_SIZE"] == "10"
    assert env["PARITY_MODE"] == "full"
    assert "BRIDGE_PORT" not in env
    assert "AGENT_INPUT_FIFO" not in env
    assert list(find_problems(manifests)) == []


def test_probes_are_the_seeds() -> None:
    watcher = containers_by_name(job_with_watcher(props()))["discord-watcher"]
    # 9.1 probes: /healthz on 8088, initialDelaySeconds 5, periodSeconds 10, timeoutSeconds 2, failureThreshold 3.
    readiness = watcher["readinessProbe"]
    assert readiness["httpGet"] == {"path": "/healthz", "port": "health"}
    assert (readiness["initialDelaySeconds"], readiness["periodSeconds"]) == (5, 10)
    assert (readiness["timeoutSeconds"], readiness["failureThreshold"]) == (2, 3)
    # 9.3 liveness on the same path and port, slightly later.
    liveness = watcher["livenessProbe"]
    assert liveness["httpGet"] == readiness["httpGet"]
    assert liveness["initialDelaySeconds"] > readiness["initialDelaySeconds"]
    # 9.1 startupProbe enabled by default: failureThreshold 30, periodSeconds 5.
    startup = watcher["startupProbe"]
    assert startup["httpGet"] == readiness["httpGet"]
    assert (startup["failureThreshold"], startup["periodSeconds"]) == (30, 5)


def test_probes_can_be_turned_off() -> None:
    from value_types.watcher import WatcherProbeSettings, WatcherStartupProbeSettings

    watcher = containers_by_name(
        job_with_watcher(props(probes=WatcherProbeSettings(startup_probe=WatcherStartupProbeSettings(enabled=False))))
    )["discord-watcher"]
    assert "startupProbe" not in watcher and "livenessProbe" in watcher
    watcher = containers_by_name(job_with_watcher(props(probes=WatcherProbeSettings(enabled=False))))["discord-watcher"]
    assert not {"startupProbe", "livenessProbe", "readinessProbe"} & set(watcher)


def test_full_env_mapping() -> None:
    from value_types.watcher import WatcherStatsSettings

    manifests = job_with_watcher(
        props(
            workspace_path="/work",
            poll_interval_ms=250,
            batch_size=50,
            parity_mode="parity",
            filters={"include_tools": True},
            stats=WatcherStatsSettings(enabled=True, tokens=True, costs=False),
            agent_input_fifo="/work/in.fifo",
            bridge_enabled=True,
            health_port=9000,
        )
    )
    watcher = containers_by_name(manifests)["discord-watcher"]
    env = env_of(watcher)
    assert set(env) <= set(ENV_MAPPING)
    assert env == {
        "DISCORD_WEBHOOK_URL": {"secretKeyRef": {"name": "watcher-webhook", "key": "webhook-url"}},
        "WORKSPACE_PATH": "/work",
        "POLL_INTERVAL_MS": "250",
        "BATCH_SIZE": "50",
        "PARITY_MODE": "parity",
        "FILTERS": {"configMapKeyRef": {"name": "agent-watcher", "key": "filters.json"}},
        "STATS_ENABLED": "true",
        "STATS_TOKENS": "true",
        "STATS_COSTS": "false",
        "AGENT_INPUT_FIFO": "/work/in.fifo",
        "BRIDGE_PORT": "9000",
    }
    config_map = only(manifests, "ConfigMap")
    assert json.loads(config_map["data"]["filters.json"]) == {"include_tools": True}
    assert watcher["ports"][0]["containerPort"] == 9000


def test_direct_webhook_url_for_an_orchestrator() -> None:
    url = "https://discord.com/api/webhooks/123/abc"
    watcher = containers_by_name(job_with_watcher(props(webhook_secret=None, webhook_url=url)))["discord-watcher"]
    assert env_of(watcher)["DISCORD_WEBHOOK_URL"] == url


def test_workspace_is_shared_with_the_main_container() -> None:
    manifests = job_with_watcher(props(workspace_path="/work"))
    by_name = containers_by_name(manifests)
    for name in ("agent", "discord-watcher"):
        assert {"mountPath": "/work", "name": "workspace"} in by_name[name]["volumeMounts"], name
    template = pod_template_of(only(manifests, "PodTemplate"))
    assert template is not None
    pod = template["spec"]
    assert {"name": "workspace", "emptyDir": {}} in pod["volumes"]
    # Only the webhook Secret reaches the watcher; no credential volume is mounted: the workspace and its own
    # scratch /tmp (its root filesystem is read-only).
    assert by_name["discord-watcher"]["volumeMounts"] == [
        {"mountPath": "/work", "name": "workspace"},
        {"mountPath": "/tmp", "name": "discord-watcher-tmp"},
    ]
    assert {"name": "discord-watcher-tmp", "emptyDir": {}} in pod["volumes"]


def test_network_policy_confines_the_bridge_to_the_bot() -> None:
    policy = WatcherNetworkPolicy(allow_from_bot=PeerSelector(pod_labels=BOT, namespace_labels={"team": "bots"}))
    manifests = job_with_watcher(props(bridge_enabled=True, network_policy=policy))
    spec = only(manifests, "NetworkPolicy")["spec"]
    assert spec["podSelector"]["matchLabels"] == WORKLOAD.selector
    assert spec["policyTypes"] == ["Ingress"], "no egress rules unless egress CIDRs are given"
    (rule,) = spec["ingress"]
    assert rule["ports"] == [{"port": 8088, "protocol": "TCP"}]
    assert rule["from"] == [
        {"podSelector": {"matchLabels": BOT}, "namespaceSelector": {"matchLabels": {"team": "bots"}}}
    ]


def test_network_policy_defaults_to_same_namespace_and_adds_cidrs_and_egress() -> None:
    manifests = job_with_watcher(props(bridge_enabled=True, network_policy=WatcherNetworkPolicy()))
    assert only(manifests, "NetworkPolicy")["spec"]["ingress"][0]["from"] == [{"podSelector": {}}]
    policy = WatcherNetworkPolicy(allowed_ingress_cidrs=["10.0.0.0/8"], allowed_egress_cidrs=["162.159.0.0/16"])
    spec = only(job_with_watcher(props(bridge_enabled=True, network_policy=policy)), "NetworkPolicy")["spec"]
    assert spec["ingress"][0]["from"] == [{"ipBlock": {"cidr": "10.0.0.0/8"}}]
    assert spec["policyTypes"] == ["Ingress", "Egress"]
    assert {"ports": [{"port": 443, "protocol": "TCP"}], "to": [{"ipBlock": {"cidr": "162.159.0.0/16"}}]} in spec[
        "egress"
    ]
    open_policy = WatcherNetworkPolicy(restrict_ingress_to_cluster=False)
    spec = only(job_with_watcher(props(bridge_enabled=True, network_policy=open_policy)), "NetworkPolicy")["spec"]
    assert spec["ingress"] == [{"ports": [{"port": 8088, "protocol": "TCP"}]}]


def test_bridge_egress_rule_for_the_bot() -> None:
    captured: dict[str, Any] = {}

    def build(chart: Any) -> None:
        captured["rule"] = WatcherSidecar(chart, "W", props(bridge_enabled=True)).bridge_egress()

    synth(build)
    rule = captured["rule"]
    assert list(rule.ports) == [8088]
    assert rule.to[0].pod_labels == WORKLOAD.selector


@pytest.mark.parametrize(
    ("overrides", "prop", "allowed"),
    [
        ({"webhook_secret": None}, "webhook_url/webhook_secret", "exactly one of"),
        ({"webhook_url": "https://discord.com/api/webhooks/1/a"}, "webhook_url/webhook_secret", "exactly one of"),
        ({"webhook_secret": None, "webhook_url": "MTk4NjIyNDgzNDcxOTI1MjQ4.Cl2FMQ"}, "webhook_url", "webhook URL"),
        (
            {"webhook_secret": SecretKey(secret="bot-token", key="webhook-url")},
            "webhook_secret.secret",
            "never a bot token",
        ),
        (
            {"webhook_secret": SecretKey(secret="w", key="BOT_TOKEN")},
            "webhook_secret.key",
            "never a bot token",
        ),
        ({"poll_interval_ms": 49}, "poll_interval_ms", ">= 50"),
        ({"batch_size": 0}, "batch_size", "1..50"),
        ({"batch_size": 51}, "batch_size", "1..50"),
        ({"parity_mode": "half"}, "parity_mode", "full | parity"),
        ({"filters": {"auth": {"bot_token": "x"}}}, "filters.auth.bot_token", "credentials never go to the watcher"),
        ({"filters": {"a": 1}, "filters_config_map": "f"}, "filters_config_map", "None when filters are given"),
        ({"agent_input_fifo": "/tmp/in"}, "agent_input_fifo", "under the workspace"),
        ({"workspace_path": "work"}, "workspace_path", "absolute"),
        ({"health_port": 0}, "health_port", "1..65535"),
        ({"network_policy": WatcherNetworkPolicy()}, "network_policy", "bridge_enabled"),
        (
            {"bridge_enabled": True, "network_policy": WatcherNetworkPolicy(allowed_egress_cidrs=["nope"])},
            "network_policy.allowed_egress_cidrs",
            "CIDR",
        ),
    ],
)
def test_validation_errors_name_prop_value_and_allowed(overrides: dict[str, Any], prop: str, allowed: str) -> None:
    with pytest.raises(PropsError) as caught:
        synth(lambda chart: WatcherSidecar(chart, "W", props(**overrides)))
    assert caught.value.construct == "WatcherSidecar"
    assert caught.value.prop == prop
    assert allowed in caught.value.allowed


def test_a_rejected_token_is_not_echoed() -> None:
    with pytest.raises(PropsError) as caught:
        synth(lambda chart: WatcherSidecar(chart, "W", props(webhook_secret=None, webhook_url="MTk4.secret")))
    assert "MTk4" not in str(caught.value)


def test_attaches_to_a_deployment_too() -> None:
    """The seed's other pattern: a long-running workload (here an AppService) carrying the watcher."""
    from constructs_lib import AppService, AppServiceProps
    from tests.construct_helpers import PROBE

    def build(chart: Any) -> None:
        labels = RecommendedLabels(name="web", component="server", version="1.2.3")
        watcher = WatcherSidecar(chart, "Watcher", props(workload=labels))
        AppService(
            chart,
            "Web",
            AppServiceProps(
                name="web",
                image=IMAGE,
                port=8080,
                resources=RESOURCES,
                liveness_probe=PROBE,
                readiness_probe=PROBE,
                sidecars=[watcher.container],
                volumes=[watcher.volume],
                volume_mounts=[watcher.workspace_mount],
            ),
        )

    manifests = synth(build)
    pod = only(manifests, "Deployment")["spec"]["template"]["spec"]
    names = [c["name"] for c in pod["containers"]]
    assert names == ["web", "discord-watcher"]
    for container in pod["containers"]:
        assert {"mountPath": "/workspace", "name": "workspace"} in container["volumeMounts"]
    assert list(find_problems(manifests)) == []
