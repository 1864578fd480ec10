"""Reusable cdk8s constructs. They know nothing of environments or of any one system.

The public API is listed here and loaded on first use, so that importing a light module such as
`constructs_lib.quantities` (used by the settings models) does not start the jsii runtime.
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
    "Autoscaling": "app_service",
    "Metrics": "app_service",
    "BatchJob": "batch_job",
    "BatchJobProps": "batch_job",
    "JobPod": "batch_job",
    "JobPodTemplate": "job_pod_template",
    "JobPodTemplateProps": "job_pod_template",
    "BotEgress": "bot_stack",
    "BotStack": "bot_stack",
    "BotStackProps": "bot_stack",
    "LeaderElection": "bot_stack",
    "ConfigMapKeyRef": "container",
    "ContainerImage": "container",
    "ContainerSpec": "container",
    "ExecProbe": "container",
    "HttpProbe": "container",
    "PodSecurity": "container",
    "Resources": "container",
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
    "Redis": "redis",
    "RedisEndpoint": "redis",
    "RedisProps": "redis",
    "GrafanaDashboard": "grafana_dashboard",
    "GrafanaDashboardProps": "grafana_dashboard",
    "RetentionCron": "retention_cron",
    "RetentionCronProps": "retention_cron",
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
    "WatcherProbes": "watcher_sidecar",
    "WatcherSidecar": "watcher_sidecar",
    "WatcherSidecarProps": "watcher_sidecar",
    "WatcherStats": "watcher_sidecar",
    "WebhookSecret": "watcher_sidecar",
    "CorsPolicy": "web_ingress",
    "IngressPath": "web_ingress",
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
    "Autoscaling",
    "BatchJob",
    "BatchJobProps",
    "BotEgress",
    "BotStack",
    "BotStackProps",
    "ConfigMapKeyRef",
    "ContainerImage",
    "ContainerSpec",
    "CorsPolicy",
    "EgressRule",
    "ExecProbe",
    "GrafanaDashboard",
    "GrafanaDashboardProps",
    "HttpProbe",
    "IngressPath",
    "JobPod",
    "JobPodTemplate",
    "JobPodTemplateProps",
    "LeaderElection",
    "Metrics",
    "NetworkAccess",
    "PeerSelector",
    "PodNetworkPolicy",
    "PodSecurity",
    "PropsError",
    "ProxyTimeouts",
    "RateLimit",
    "RecommendedLabels",
    "Redis",
    "RedisEndpoint",
    "RedisProps",
    "RemoteKey",
    "Resources",
    "RetentionCron",
    "RetentionCronProps",
    "SecretKeyRef",
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
    "WatcherProbes",
    "WatcherSidecar",
    "WatcherSidecarProps",
    "WatcherStats",
    "WebIngress",
    "WebIngressProps",
    "WebhookSecret",
    "add_sync_options",
    "replace_on_sync",
]

if TYPE_CHECKING:
    from constructs_lib.alert import Alert
    from constructs_lib.alert_rules import AlertRules, AlertRulesProps
    from constructs_lib.app_service import AppService, AppServiceProps, Autoscaling, Metrics
    from constructs_lib.batch_job import BatchJob, BatchJobProps, JobPod
    from constructs_lib.bot_stack import BotEgress, BotStack, BotStackProps, LeaderElection
    from constructs_lib.container import (
        ConfigMapKeyRef,
        ContainerImage,
        ContainerSpec,
        ExecProbe,
        HttpProbe,
        PodSecurity,
        Resources,
        SecretKeyRef,
        TcpProbe,
        VolumeMount,
    )
    from constructs_lib.errors import PropsError
    from constructs_lib.external_secret import RemoteKey, SyncedSecret, SyncedSecretProps
    from constructs_lib.grafana_dashboard import GrafanaDashboard, GrafanaDashboardProps
    from constructs_lib.job_pod_template import JobPodTemplate, JobPodTemplateProps
    from constructs_lib.labels import RecommendedLabels
    from constructs_lib.network_policy import EgressRule, NetworkAccess, PeerSelector, PodNetworkPolicy
    from constructs_lib.redis import Redis, RedisEndpoint, RedisProps
    from constructs_lib.retention_cron import RetentionCron, RetentionCronProps
    from constructs_lib.sync_hook_job import SyncHookJob, SyncHookJobProps
    from constructs_lib.sync_options import add_sync_options, replace_on_sync
    from constructs_lib.traefik_route import TraefikWebRoute, TraefikWebRouteProps
    from constructs_lib.volume_claims import VolumeClaim, VolumeClaims, VolumeClaimsProps
    from constructs_lib.watcher_sidecar import (
        WatchedPod,
        WatcherNetworkPolicy,
        WatcherProbes,
        WatcherSidecar,
        WatcherSidecarProps,
        WatcherStats,
        WebhookSecret,
    )
    from constructs_lib.web_ingress import (
        CorsPolicy,
        IngressPath,
        ProxyTimeouts,
        RateLimit,
        WebIngress,
        WebIngressProps,
    )


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'constructs_lib' has no attribute {name!r}")
    return getattr(importlib.import_module(f"constructs_lib.{module}"), name)
