"""Reusable cdk8s constructs. They know nothing of environments or of any one system.

The public API is listed here and loaded on first use, so that importing one construct does not load them all.
The rules for values (names, ports, quantities, images, schedules) and `PropsError` live one layer below, in
`value_types`; constructs check their props with those rules (`PORT.require("Redis", "port", port)`).

The surface every construct shares:
- `Foo(scope, id, props: FooProps)`: one typed, documented props dataclass; optional props say their default.
- The main object is the child `Resource`, exposed as `foo.resource` (AppService: `deployment`).
- Settings blocks and props are one type where they describe the same thing: `ResourceSettings`,
  `AutoscalingSettings`, `ImageSettings`, `WatcherProbeSettings` (value_types).
- Workloads (AppService, BotStack, Redis, BatchJob, JobPodTemplate, RetentionCron) expose `name`, `labels` and
  `selector_labels` (the `Workload` protocol); relations take them by reference, never label dicts or names:
  `app.allow_from(other)`, `redis.allow_from(worker)`, `app.expose_via_ingress(IngressOptions(...))`,
  `IngressPath(path="/api", service=backend)`, `JobPod(colocate_with=web)`, `RedisProps(clients=[bot])`,
  `PodNetworkPolicy.isolating(scope, id, workload, ...)`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "Alert": "alert",
    "AlertRules": "alert_rules",
    "AlertRulesProps": "alert_rules",
    "AppService": "app_service",
    "AppServiceProps": "app_service",
    "Metrics": "app_service",
    "BatchJob": "batch_job",
    "BatchJobProps": "batch_job",
    "JobPod": "batch_job",
    "PodWorkload": "batch_job",
    "PodWorkloadProps": "batch_job",
    "JobPodTemplate": "job_pod_template",
    "JobPodTemplateProps": "job_pod_template",
    "BotEgress": "bot_stack",
    "BotStack": "bot_stack",
    "BotStackProps": "bot_stack",
    "LeaderElection": "bot_stack",
    "ConfigMapKeyRef": "container",
    "ContainerSpec": "container",
    "ExecProbe": "container",
    "HttpProbe": "container",
    "PodSecurity": "container",
    "SecretKeyRef": "container",
    "TcpProbe": "container",
    "VolumeMount": "container",
    "PropsError": "errors",
    "RemoteKey": "external_secret",
    "SyncedSecret": "external_secret",
    "SyncedSecretProps": "external_secret",
    "RecommendedLabels": "labels",
    "EgressRule": "network_policy",
    "NetworkAccess": "network_policy",
    "PeerSelector": "network_policy",
    "PodNetworkPolicy": "network_policy",
    "PodNetworkPolicyProps": "network_policy",
    "Workload": "labels",
    "Redis": "redis",
    "RedisEndpoint": "redis",
    "RedisProps": "redis",
    "GrafanaDashboard": "grafana_dashboard",
    "GrafanaDashboardProps": "grafana_dashboard",
    "RetentionCron": "retention_cron",
    "RetentionCronProps": "retention_cron",
    "ClaimTarget": "postgres_backup_job",
    "DatabaseConnection": "postgres_backup_job",
    "ObjectStoreTarget": "postgres_backup_job",
    "PostgresBackupJob": "postgres_backup_job",
    "PostgresBackupJobProps": "postgres_backup_job",
    "ServiceCheckJob": "service_check_job",
    "ServiceCheckJobProps": "service_check_job",
    "SyncHookJob": "sync_hook_job",
    "SyncHookJobProps": "sync_hook_job",
    "add_sync_options": "sync_options",
    "replace_on_sync": "sync_options",
    "TraefikWebRoute": "traefik_route",
    "TraefikWebRouteProps": "traefik_route",
    "VolumeClaim": "volume_claims",
    "VolumeClaims": "volume_claims",
    "VolumeClaimsProps": "volume_claims",
    "WatchedPod": "watcher_sidecar",
    "WatcherNetworkPolicy": "watcher_sidecar",
    "WatcherSidecar": "watcher_sidecar",
    "WatcherSidecarProps": "watcher_sidecar",
    "CorsPolicy": "web_ingress",
    "IngressOptions": "web_ingress",
    "IngressPath": "web_ingress",
    "ServiceTarget": "web_ingress",
    "ProxyTimeouts": "web_ingress",
    "RateLimit": "web_ingress",
    "WebIngress": "web_ingress",
    "WebIngressProps": "web_ingress",
}

__all__ = [
    "Alert",
    "AlertRules",
    "AlertRulesProps",
    "AppService",
    "AppServiceProps",
    "BatchJob",
    "BatchJobProps",
    "BotEgress",
    "BotStack",
    "BotStackProps",
    "ClaimTarget",
    "ConfigMapKeyRef",
    "ContainerSpec",
    "CorsPolicy",
    "DatabaseConnection",
    "EgressRule",
    "ExecProbe",
    "GrafanaDashboard",
    "GrafanaDashboardProps",
    "HttpProbe",
    "IngressOptions",
    "IngressPath",
    "JobPod",
    "JobPodTemplate",
    "JobPodTemplateProps",
    "LeaderElection",
    "Metrics",
    "NetworkAccess",
    "ObjectStoreTarget",
    "PeerSelector",
    "PodNetworkPolicy",
    "PodNetworkPolicyProps",
    "PodSecurity",
    "PodWorkload",
    "PodWorkloadProps",
    "PostgresBackupJob",
    "PostgresBackupJobProps",
    "PropsError",
    "ProxyTimeouts",
    "RateLimit",
    "RecommendedLabels",
    "Redis",
    "RedisEndpoint",
    "RedisProps",
    "RemoteKey",
    "RetentionCron",
    "RetentionCronProps",
    "SecretKeyRef",
    "ServiceCheckJob",
    "ServiceCheckJobProps",
    "ServiceTarget",
    "SyncHookJob",
    "SyncHookJobProps",
    "SyncedSecret",
    "SyncedSecretProps",
    "TcpProbe",
    "TraefikWebRoute",
    "TraefikWebRouteProps",
    "VolumeClaim",
    "VolumeClaims",
    "VolumeClaimsProps",
    "VolumeMount",
    "WatchedPod",
    "WatcherNetworkPolicy",
    "WatcherSidecar",
    "WatcherSidecarProps",
    "WebIngress",
    "WebIngressProps",
    "Workload",
    "add_sync_options",
    "replace_on_sync",
]

if TYPE_CHECKING:
    from constructs_lib.alert import Alert
    from constructs_lib.alert_rules import AlertRules, AlertRulesProps
    from constructs_lib.app_service import AppService, AppServiceProps, Metrics
    from constructs_lib.batch_job import BatchJob, BatchJobProps, JobPod, PodWorkload, PodWorkloadProps
    from constructs_lib.bot_stack import BotEgress, BotStack, BotStackProps, LeaderElection
    from constructs_lib.container import (
        ConfigMapKeyRef,
        ContainerSpec,
        ExecProbe,
        HttpProbe,
        PodSecurity,
        SecretKeyRef,
        TcpProbe,
        VolumeMount,
    )
    from constructs_lib.errors import PropsError
    from constructs_lib.external_secret import RemoteKey, SyncedSecret, SyncedSecretProps
    from constructs_lib.grafana_dashboard import GrafanaDashboard, GrafanaDashboardProps
    from constructs_lib.job_pod_template import JobPodTemplate, JobPodTemplateProps
    from constructs_lib.labels import RecommendedLabels, Workload
    from constructs_lib.network_policy import (
        EgressRule,
        NetworkAccess,
        PeerSelector,
        PodNetworkPolicy,
        PodNetworkPolicyProps,
    )
    from constructs_lib.postgres_backup_job import (
        ClaimTarget,
        DatabaseConnection,
        ObjectStoreTarget,
        PostgresBackupJob,
        PostgresBackupJobProps,
    )
    from constructs_lib.redis import Redis, RedisEndpoint, RedisProps
    from constructs_lib.retention_cron import RetentionCron, RetentionCronProps
    from constructs_lib.service_check_job import ServiceCheckJob, ServiceCheckJobProps
    from constructs_lib.sync_hook_job import SyncHookJob, SyncHookJobProps
    from constructs_lib.sync_options import add_sync_options, replace_on_sync
    from constructs_lib.traefik_route import TraefikWebRoute, TraefikWebRouteProps
    from constructs_lib.volume_claims import VolumeClaim, VolumeClaims, VolumeClaimsProps
    from constructs_lib.watcher_sidecar import WatchedPod, WatcherNetworkPolicy, WatcherSidecar, WatcherSidecarProps
    from constructs_lib.web_ingress import (
        CorsPolicy,
        IngressOptions,
        IngressPath,
        ProxyTimeouts,
        RateLimit,
        ServiceTarget,
        WebIngress,
        WebIngressProps,
    )


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'constructs_lib' has no attribute {name!r}")
    return getattr(importlib.import_module(f"constructs_lib.{module}"), name)
