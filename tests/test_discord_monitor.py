"""discord-monitor against its seed (discord-monitor-sidecar-and-bot.md, task 9) and the issue's guarantees."""

from __future__ import annotations

from typing import Any

import pytest

from constructs_lib.watcher_sidecar import ENV_MAPPING
from delivery.checks import pod_templates
from delivery.pod_templates import selects
from engine import Manifest, RenderedEnvironment
from environment_model.settings import load_environment
from tests.conftest import find

ENVS = ["dev", "staging", "prod"]


def stack(rendered: dict[str, RenderedEnvironment], env: str) -> list[Manifest]:
    return rendered[env]["discord-monitor"]


def containers_of(manifest: Manifest) -> dict[str, dict[str, Any]]:
    (template,) = pod_templates([manifest])
    return {c["name"]: c for c in [*template.spec.get("initContainers", []), *template.spec["containers"]]}


@pytest.mark.parametrize("env", ENVS)
def test_bot_token_comes_from_the_bot_token_secret(rendered: dict[str, RenderedEnvironment], env: str) -> None:
    bot = containers_of(find(stack(rendered, env), "Deployment", "discord-bot"))["discord-bot"]
    token = next(e for e in bot["env"] if e["name"] == "BOT_TOKEN")
    # Seed 9.6: "Secret: bot-token (stringData.BOT_TOKEN)", referenced, never rendered.
    assert token == {"name": "BOT_TOKEN", "valueFrom": {"secretKeyRef": {"name": "bot-token", "key": "BOT_TOKEN"}}}


@pytest.mark.parametrize("env", ENVS)
def test_example_job_carries_the_watcher_with_a_shared_workspace(
    rendered: dict[str, RenderedEnvironment], env: str
) -> None:
    manifests = stack(rendered, env)
    template = find(manifests, "PodTemplate", "agent-with-watcher")
    by_name = containers_of(template)
    assert set(by_name) == {"agent", "discord-watcher"}
    workspace = load_environment(env).discord_monitor.watcher.workspace_path
    for container in by_name.values():
        assert {"mountPath": workspace, "name": "workspace"} in container["volumeMounts"]
    watcher = by_name["discord-watcher"]
    env_names = {e["name"] for e in watcher["env"]}
    assert env_names <= set(ENV_MAPPING), "the watcher's env holds only the seed's mapping"
    assert "envFrom" not in watcher
    webhook = next(e for e in watcher["env"] if e["name"] == "DISCORD_WEBHOOK_URL")
    assert "secretKeyRef" in webhook["valueFrom"]


@pytest.mark.parametrize("env", ENVS)
def test_example_is_a_pod_template_not_a_live_job(rendered: dict[str, RenderedEnvironment], env: str) -> None:
    """A Job's pod template is immutable, so a Job in dist/ would fail the sync of the next image bump; the
    orchestrator gets a PodTemplate it can copy into each Job, bounded in time like the Job was."""
    manifests = stack(rendered, env)
    assert not [m for m in manifests if m["kind"] == "Job"]
    pod = find(manifests, "PodTemplate", "agent-with-watcher")["template"]["spec"]
    settings = load_environment(env).discord_monitor.example_job
    assert pod["activeDeadlineSeconds"] == settings.active_deadline_seconds
    assert pod["restartPolicy"] == "Never"


@pytest.mark.parametrize("env", ENVS)
def test_pinned_watcher_image_everywhere(rendered: dict[str, RenderedEnvironment], env: str) -> None:
    watcher = containers_of(find(stack(rendered, env), "PodTemplate", "agent-with-watcher"))["discord-watcher"]
    image = load_environment(env).discord_monitor.watcher.image
    assert watcher["image"] == f"{image.repository}:{image.tag}"
    assert image.tag not in ("latest", ""), env


@pytest.mark.parametrize("env", ENVS)
def test_retention_worker_prunes_redis_on_schedule(rendered: dict[str, RenderedEnvironment], env: str) -> None:
    settings = load_environment(env).discord_monitor.retention
    cron = find(stack(rendered, env), "CronJob", "discord-bot-retention")
    assert cron["spec"]["schedule"] == settings.schedule
    assert cron["spec"]["concurrencyPolicy"] == "Forbid"
    container = containers_of(cron)["retention"]
    env_vars = {e["name"]: e for e in container["env"]}
    assert env_vars["RETENTION_TTL_SECONDS"]["value"] == str(settings.ttl_hours * 3600)
    assert {"REDIS_HOST", "REDIS_PORT", "REDIS_PASSWORD"} <= set(env_vars)
    assert "BOT_TOKEN" not in env_vars


@pytest.mark.parametrize("env", ENVS)
def test_bridge_policies_meet(rendered: dict[str, RenderedEnvironment], env: str) -> None:
    """The watcher admits the bot on the bridge port, and the bot's egress allows exactly that port to it."""
    manifests = stack(rendered, env)
    bridge = find(manifests, "NetworkPolicy", "agent-with-watcher-watcher-bridge")["spec"]
    bot_policy = find(manifests, "NetworkPolicy", "discord-bot")["spec"]
    bot_labels = find(manifests, "Deployment", "discord-bot")["spec"]["template"]["metadata"]["labels"]
    job_labels = find(manifests, "PodTemplate", "agent-with-watcher")["template"]["metadata"]["labels"]
    port = load_environment(env).discord_monitor.watcher.bridge.port
    (rule,) = bridge["ingress"]
    assert rule["ports"] == [{"port": port, "protocol": "TCP"}]
    assert any(selects(peer["podSelector"]["matchLabels"], bot_labels) for peer in rule["from"])
    assert any(
        [p["port"] for p in egress["ports"]] == [port]
        and any(selects(peer["podSelector"]["matchLabels"], job_labels) for peer in egress.get("to", []))
        for egress in bot_policy["egress"]
    )


def _rendered_with_retention(enabled: bool) -> dict[tuple[str, str], Manifest]:
    import cdk8s

    from environment_model.settings import parse_environment
    from stacks.discord_monitor.chart import DiscordMonitorChart

    data = load_environment("prod").model_dump(mode="json")
    data["discord_monitor"]["retention"]["enabled"] = enabled
    settings = parse_environment("prod", data).discord_monitor
    chart = DiscordMonitorChart(cdk8s.Testing.app(), "discord-monitor", settings)
    return {(m["kind"], m["metadata"]["name"]): m for m in cdk8s.Testing.synth(chart)}


def test_retention_switched_off_removes_the_worker_its_access_alerts_and_panel_and_nothing_else() -> None:
    """`discord_monitor.retention.enabled: false` (seed: the retention worker is optional): its CronJob, the
    NetworkPolicy that lets it reach Redis, its two alerts and its dashboard panel go; every other object is as
    rendered with it."""
    import json

    on, off = _rendered_with_retention(True), _rendered_with_retention(False)
    assert sorted(set(on) - set(off)) == [
        ("CronJob", "discord-bot-retention"),
        ("NetworkPolicy", "discord-bot-redis-from-retention"),
    ]
    assert set(off) <= set(on)

    def alerts(rule: Manifest) -> set[str]:
        return {r["alert"] for group in rule["spec"]["groups"] for r in group["rules"] if "alert" in r}

    rule = ("PrometheusRule", "discord-monitor")
    assert alerts(on[rule]) - alerts(off[rule]) == {"DiscordRetentionFailing", "DiscordRetentionNotScheduled"}
    assert alerts(off[rule]) < alerts(on[rule])

    def panels(config_map: Manifest) -> list[str]:
        (dashboard,) = config_map["data"].values()
        return [str(panel.get("title")) for panel in json.loads(dashboard)["panels"]]

    board = ("ConfigMap", "discord-monitor-dashboard")
    assert [p for p in panels(on[board]) if p not in panels(off[board])] == [
        "CronJobs: seconds since last success / last schedule"
    ]
    unchanged = set(off) - {rule, board}
    assert all(off[key] == on[key] for key in unchanged), "nothing else changes"
    # The Redis that the retention worker pruned no longer lets any CronJob in.
    assert not any(m["kind"] == "CronJob" for m in off.values())
