"""WatcherSidecar: the discord-monitor watcher container, carried next to the main container of any Pod, Job or
Deployment, sharing its workspace volume (seed: discord-monitor task 9, subtasks 9.1 to 9.5)."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from cdk8s_plus_27 import k8s
from constructs import Construct

from constructs_lib.container import ConfigMapKeyRef, ContainerSpec, HttpProbe, SecretKeyRef, VolumeMount
from constructs_lib.errors import PropsError
from constructs_lib.labels import RecommendedLabels
from constructs_lib.network_policy import (
    EgressRule,
    NetworkAccess,
    PeerSelector,
    PodNetworkPolicy,
    PodNetworkPolicyProps,
)
from value_types.credentials import secret_like_paths
from value_types.images import ImageSettings
from value_types.names import CIDR, DNS_LABEL
from value_types.ports import PORT
from value_types.quantities import ResourceSettings
from value_types.watcher import WatcherProbeSettings, WatcherStatsSettings
from value_types.workloads import SecretKey

CONTAINER_NAME = "discord-watcher"
HEALTH_PORT_NAME = "health"
FILTERS_KEY = "filters.json"
# UID of the image's non-root user (seed 9.1: runAsUser=65532).
WATCHER_UID = 65532
ParityMode = Literal["full", "parity"]
PARITY_MODES: tuple[ParityMode, ...] = ("full", "parity")
# Every variable the watcher may receive; the seed's value-to-env mapping (docs/architecture.md: "WatcherSidecar env mapping").
ENV_MAPPING = (
    "DISCORD_WEBHOOK_URL",
    "WORKSPACE_PATH",
    "POLL_INTERVAL_MS",
    "BATCH_SIZE",
    "PARITY_MODE",
    "FILTERS",
    "STATS_ENABLED",
    "STATS_TOKENS",
    "STATS_COSTS",
    "AGENT_INPUT_FIFO",
    "BRIDGE_PORT",
)
# Liveness waits this much longer than readiness, so a slow first answer fails readiness before it restarts anything.
LIVENESS_EXTRA_DELAY_SECONDS = 5
_WEBHOOK_URL = re.compile(r"^https://[^\s/]+/api/webhooks/[^\s]+$")


@dataclass(frozen=True, kw_only=True)
class WatcherNetworkPolicy:
    """Confines the bridge/health port (seed 9.5). Rendered only with the bridge enabled.

    Attributes:
        allow_from_bot: the bot's pods (pod labels, and namespace labels when it runs elsewhere).
        allowed_ingress_cidrs: address ranges that may also connect.
        restrict_ingress_to_cluster: with no bot selector and no CIDRs, admit only this namespace's pods
            (default True); False admits any source to the port.
        allowed_egress_cidrs: when given, the pod may reach only these ranges (on `egress_ports`) and DNS. Default:
            none, and then egress is not restricted at all, so webhooks are never cut off by accident.
        egress_ports: ports of the allowed egress. Default 443 (Discord webhooks are HTTPS).
    """

    allow_from_bot: PeerSelector | None = None
    allowed_ingress_cidrs: Sequence[str] = ()
    restrict_ingress_to_cluster: bool = True
    allowed_egress_cidrs: Sequence[str] = ()
    egress_ports: Sequence[int] = (443,)


@dataclass(frozen=True, kw_only=True)
class WatcherSidecarProps:
    """Props of `WatcherSidecar`. Exactly one of `webhook_url` and `webhook_secret` is required.

    There is deliberately no way to pass a bot token: the watcher posts through a webhook URL only.

    Attributes:
        workload: the recommended labels of the workload carrying the sidecar (its pods are what the
            NetworkPolicy selects; its name prefixes the ConfigMap and the policy).
        webhook_url: DISCORD_WEBHOOK_URL as a direct value, for an orchestrator that builds the pod at run time.
            Never use it in a stack rendered to git: use `webhook_secret`.
        webhook_secret: DISCORD_WEBHOOK_URL from an existing Secret key (the settings' `SecretKey`).
        image: the watcher image, e.g. `discord-monitor` (the seed's name) with a tag that names one build.
            Required: the seed's `discord-monitor:latest` would never roll the pods under GitOps.
        workspace_path: WORKSPACE_PATH and the shared volume's mount path. Default `/workspace`.
        poll_interval_ms: POLL_INTERVAL_MS, at least 50. Default 100.
        batch_size: BATCH_SIZE, 1..50. Default 10.
        parity_mode: PARITY_MODE, `full` (default) or `parity`.
        filters: FILTERS as JSON, rendered into a ConfigMap `<workload>-watcher` and read from its key. Default: none.
        filters_config_map: FILTERS from an existing ConfigMap's `filters.json` key instead. Default: none.
        stats: STATS_ENABLED, STATS_TOKENS, STATS_COSTS. Default: all false.
        agent_input_fifo: AGENT_INPUT_FIFO, a path under the workspace. Default: not set.
        bridge_enabled: BRIDGE_PORT is set and the bot may connect. Default False.
        health_port: the port named `health`, served for probes whether or not the bridge is on. Default 8088.
        resources: default 10m/32Mi requests, 100m/64Mi limits.
        probes: default: the seed's `/healthz` probes, startup probe on.
        network_policy: confine the bridge port. Default: none.
        workspace_volume: the shared emptyDir's name. Default `workspace`.
    """

    workload: RecommendedLabels
    image: ImageSettings
    webhook_url: str | None = None
    webhook_secret: SecretKey | None = None
    workspace_path: str = "/workspace"
    poll_interval_ms: int = 100
    batch_size: int = 10
    parity_mode: ParityMode = "full"
    filters: Mapping[str, Any] | None = None
    filters_config_map: str | None = None
    stats: WatcherStatsSettings = field(default_factory=WatcherStatsSettings)
    agent_input_fifo: str | None = None
    bridge_enabled: bool = False
    health_port: int = 8088
    resources: ResourceSettings = field(default_factory=lambda: ResourceSettings.of("10m", "32Mi", "100m", "64Mi"))
    probes: WatcherProbeSettings = field(default_factory=WatcherProbeSettings)
    network_policy: WatcherNetworkPolicy | None = None
    workspace_volume: str = "workspace"


@dataclass(frozen=True)
class WatchedPod:
    """The parts of a pod carrying the watcher: the main container (with the workspace mounted), the sidecars and
    the volumes. Spread them into `JobPod`, `AppServiceProps` or your own pod spec."""

    container: ContainerSpec
    sidecars: list[ContainerSpec]
    volumes: list[k8s.Volume]


class WatcherSidecar(Construct):
    """The watcher container and what it needs (a filters ConfigMap, an optional NetworkPolicy).

    Attach it with `attach(main)`, which mounts the shared workspace into the main container too. Bots reach the
    bridge through `bridge_egress()` in their own egress policy.
    """

    def __init__(self, scope: Construct, id: str, props: WatcherSidecarProps) -> None:
        super().__init__(scope, id)
        _validate(props)
        self.props = props
        workload = props.workload
        base_name = workload.instance or workload.name
        #: Labels selecting the pods that carry this sidecar.
        self.pod_selector = workload.selector
        self.health_port = props.health_port
        self.workspace_mount = VolumeMount(volume=props.workspace_volume, mount_path=props.workspace_path)
        self.volume = k8s.Volume(name=props.workspace_volume, empty_dir=k8s.EmptyDirVolumeSource())
        labels = workload.all

        filters_map = props.filters_config_map
        if props.filters is not None:
            filters_map = f"{base_name}-watcher"
            k8s.KubeConfigMap(
                self,
                "Filters",
                metadata=k8s.ObjectMeta(name=filters_map, labels=labels),
                data={FILTERS_KEY: json.dumps(props.filters, sort_keys=True, separators=(",", ":"))},
            )
        env = {
            "WORKSPACE_PATH": props.workspace_path,
            "POLL_INTERVAL_MS": str(props.poll_interval_ms),
            "BATCH_SIZE": str(props.batch_size),
            "PARITY_MODE": props.parity_mode,
            "STATS_ENABLED": _flag(props.stats.enabled),
            "STATS_TOKENS": _flag(props.stats.tokens),
            "STATS_COSTS": _flag(props.stats.costs),
        }
        if props.webhook_url is not None:
            env["DISCORD_WEBHOOK_URL"] = props.webhook_url
        if props.agent_input_fifo is not None:
            env["AGENT_INPUT_FIFO"] = props.agent_input_fifo
        if props.bridge_enabled:
            env["BRIDGE_PORT"] = str(props.health_port)
        probes = props.probes
        startup = probes.startup_probe
        readiness = HttpProbe.from_settings(probes, port=HEALTH_PORT_NAME)
        #: The watcher container, hardened, with exactly the seed's env mapping.
        self.container = ContainerSpec(
            name=CONTAINER_NAME,
            image=props.image,
            resources=props.resources,
            ports={HEALTH_PORT_NAME: props.health_port},
            env=env,
            secret_env=[
                SecretKeyRef(
                    env_name="DISCORD_WEBHOOK_URL",
                    secret_name=props.webhook_secret.secret,
                    key=props.webhook_secret.key,
                )
            ]
            if props.webhook_secret
            else (),
            config_env=[ConfigMapKeyRef(env_name="FILTERS", config_map=filters_map, key=FILTERS_KEY)]
            if filters_map
            else (),
            volume_mounts=[self.workspace_mount],
            readiness_probe=readiness if probes.enabled else None,
            liveness_probe=replace(
                readiness, initial_delay_seconds=probes.initial_delay_seconds + LIVENESS_EXTRA_DELAY_SECONDS
            )
            if probes.enabled
            else None,
            startup_probe=replace(
                readiness,
                initial_delay_seconds=0,
                period_seconds=startup.period_seconds,
                failure_threshold=startup.failure_threshold,
            )
            if probes.enabled and startup.enabled
            else None,
            termination_message_policy="FallbackToLogsOnError",
            run_as_user=WATCHER_UID,
        )
        self.container.validate("WatcherSidecar", "")

        if props.network_policy is not None:
            self._network_policy(f"{base_name}-watcher-bridge", labels, props.network_policy)

    def attach(self, main: ContainerSpec) -> WatchedPod:
        """`main` with the workspace mounted at the same path, next to the watcher, with the shared volume."""
        mounted = replace(main, volume_mounts=(*main.volume_mounts, self.workspace_mount))
        return WatchedPod(container=mounted, sidecars=[self.container], volumes=[self.volume])

    def bridge_egress(self, namespace_labels: Mapping[str, str] | None = None) -> EgressRule:
        """The egress rule a bot needs to reach this bridge (pass `namespace_labels` from another namespace)."""
        return EgressRule(
            ports=[self.health_port],
            to=[PeerSelector(pod_labels=self.pod_selector, namespace_labels=namespace_labels)],
        )

    def _network_policy(self, name: str, labels: Mapping[str, str], policy: WatcherNetworkPolicy) -> None:
        has_sources = policy.allow_from_bot is not None or bool(policy.allowed_ingress_cidrs)
        PodNetworkPolicy(
            self,
            "NetworkPolicy",
            PodNetworkPolicyProps(
                name=name,
                labels=labels,
                pod_selector=self.pod_selector,
                ports=[self.health_port],
                access=NetworkAccess(
                    from_selectors=[policy.allow_from_bot] if policy.allow_from_bot else (),
                    from_cidrs=policy.allowed_ingress_cidrs,
                    from_same_namespace=not has_sources and policy.restrict_ingress_to_cluster,
                    from_anywhere=not has_sources and not policy.restrict_ingress_to_cluster,
                    egress=[EgressRule(ports=policy.egress_ports, cidrs=policy.allowed_egress_cidrs)]
                    if policy.allowed_egress_cidrs
                    else None,
                ),
            ),
        )


def _flag(value: bool) -> str:
    return "true" if value else "false"


def _validate(props: WatcherSidecarProps) -> None:
    construct = "WatcherSidecar"
    if (props.webhook_url is None) == (props.webhook_secret is None):
        raise PropsError(
            construct,
            "webhook_url/webhook_secret",
            "both" if props.webhook_url is not None else "neither",
            "exactly one of webhook_url (a direct value) or webhook_secret (a Secret reference)",
        )
    if props.webhook_url is not None and not _WEBHOOK_URL.match(props.webhook_url):
        # Anything but a webhook URL here (a bot token, say) would be handed to every watched pod.
        raise PropsError(
            construct, "webhook_url", "<redacted>", "a Discord webhook URL https://<host>/api/webhooks/..."
        )
    if props.webhook_secret is not None:
        for prop, value in (
            ("webhook_secret.secret", props.webhook_secret.secret),
            ("webhook_secret.key", props.webhook_secret.key),
        ):
            if "token" in value.lower():
                raise PropsError(construct, prop, value, "a Secret (key) holding the webhook URL, never a bot token")
    if not props.workspace_path.startswith("/"):
        raise PropsError(construct, "workspace_path", props.workspace_path, "an absolute path")
    if props.poll_interval_ms < 50:
        raise PropsError(construct, "poll_interval_ms", props.poll_interval_ms, "an integer >= 50")
    if not 1 <= props.batch_size <= 50:
        raise PropsError(construct, "batch_size", props.batch_size, "an integer 1..50")
    if props.parity_mode not in PARITY_MODES:
        raise PropsError(construct, "parity_mode", props.parity_mode, " | ".join(PARITY_MODES))
    if props.filters is not None and props.filters_config_map is not None:
        raise PropsError(construct, "filters_config_map", props.filters_config_map, "None when filters are given")
    if props.filters is not None:
        for path in secret_like_paths(props.filters, "filters"):
            raise PropsError(construct, path, "<redacted>", "filter settings only; credentials never go to the watcher")
    if props.agent_input_fifo is not None and not props.agent_input_fifo.startswith(props.workspace_path + "/"):
        raise PropsError(
            construct, "agent_input_fifo", props.agent_input_fifo, f"a path under the workspace {props.workspace_path}/"
        )
    PORT.require(construct, "health_port", props.health_port)
    DNS_LABEL.require(construct, "workspace_volume", props.workspace_volume)
    policy = props.network_policy
    if policy is not None:
        if not props.bridge_enabled:
            raise PropsError(construct, "network_policy", "set", "None unless bridge_enabled (seed 9.5)")
        for prop, cidrs in (
            ("network_policy.allowed_ingress_cidrs", policy.allowed_ingress_cidrs),
            ("network_policy.allowed_egress_cidrs", policy.allowed_egress_cidrs),
        ):
            for cidr in cidrs:
                CIDR.require(construct, prop, cidr)
