"""Reusable cdk8s constructs. They know nothing of environments or of any one system.

The public API is listed here and loaded on first use, so that importing a light module such as
`constructs_lib.quantities` (used by the settings models) does not start the jsii runtime.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "AppService": "app_service",
    "AppServiceProps": "app_service",
    "Autoscaling": "app_service",
    "Metrics": "app_service",
    "ContainerImage": "container",
    "ContainerSpec": "container",
    "HttpProbe": "container",
    "PodSecurity": "container",
    "Resources": "container",
    "SecretKeyRef": "container",
    "VolumeMount": "container",
    "PropsError": "errors",
    "RecommendedLabels": "labels",
    "EgressRule": "network_policy",
    "NetworkAccess": "network_policy",
    "PodNetworkPolicy": "network_policy",
    "SyncHookJob": "sync_hook_job",
    "SyncHookJobProps": "sync_hook_job",
    "CorsPolicy": "web_ingress",
    "ProxyTimeouts": "web_ingress",
    "RateLimit": "web_ingress",
    "WebIngress": "web_ingress",
    "WebIngressProps": "web_ingress",
}

__all__ = [
    "AppService",
    "AppServiceProps",
    "Autoscaling",
    "ContainerImage",
    "ContainerSpec",
    "CorsPolicy",
    "EgressRule",
    "HttpProbe",
    "Metrics",
    "NetworkAccess",
    "PodNetworkPolicy",
    "PodSecurity",
    "PropsError",
    "ProxyTimeouts",
    "RateLimit",
    "RecommendedLabels",
    "Resources",
    "SecretKeyRef",
    "SyncHookJob",
    "SyncHookJobProps",
    "VolumeMount",
    "WebIngress",
    "WebIngressProps",
]

if TYPE_CHECKING:
    from constructs_lib.app_service import AppService, AppServiceProps, Autoscaling, Metrics
    from constructs_lib.container import (
        ContainerImage,
        ContainerSpec,
        HttpProbe,
        PodSecurity,
        Resources,
        SecretKeyRef,
        VolumeMount,
    )
    from constructs_lib.errors import PropsError
    from constructs_lib.labels import RecommendedLabels
    from constructs_lib.network_policy import EgressRule, NetworkAccess, PodNetworkPolicy
    from constructs_lib.sync_hook_job import SyncHookJob, SyncHookJobProps
    from constructs_lib.web_ingress import CorsPolicy, ProxyTimeouts, RateLimit, WebIngress, WebIngressProps


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'constructs_lib' has no attribute {name!r}")
    return getattr(importlib.import_module(f"constructs_lib.{module}"), name)
