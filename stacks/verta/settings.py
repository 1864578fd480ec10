"""Typed settings of the verta stack (seed: verta-helm-chart.md). Environment files hold what differs."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, ValidationInfo, field_validator

from stacks.dashboards import DashboardSettings
from stacks.observability import AlertingSettings
from value_types.credentials import FreeForm
from value_types.images import ImageSettings
from value_types.model import StrictModel
from value_types.names import DnsLabel, EnvironmentVariableName, HostName, StackNamespace
from value_types.ports import Port
from value_types.quantities import ResourceSettings
from value_types.workloads import (
    AutoscalingSettings,
    HttpProbeSettings,
    InClusterRedisSettings,
    RedisSettings,
    SecretKey,
    no_fixed_replicas_with_hpa,
)


class VertaAlertSettings(AlertingSettings):
    """Thresholds of verta's alerts."""


class VertaServiceSettings(StrictModel):
    """One of Verta's services (backend, frontend, ml)."""

    image: ImageSettings = Field(description="ghcr.io/niekcandaele/verta-<service> and the environment's tag.")
    port: Port = Field(description="Container port (named http) behind Service port 80.")
    replicas: int | None = Field(None, ge=1, le=50, description="Fixed replicas (default 1); unset with autoscaling.")
    autoscaling: AutoscalingSettings = Field(default_factory=AutoscalingSettings)
    resources: ResourceSettings
    liveness_probe: HttpProbeSettings
    readiness_probe: HttpProbeSettings
    max_unavailable: int | None = Field(
        None, ge=1, le=10, description="PodDisruptionBudget (HA environments); needs more than one replica."
    )
    env: Annotated[dict[EnvironmentVariableName, str], FreeForm] = Field(
        default_factory=dict,
        description="Environment variables of this service alone (seed task 2.4: env vars for each service), e.g. "
        "the frontend's NEXT_PUBLIC_* or the ML service's model settings; plain values only (credentials come from "
        "`secrets`), and none of the variables the stack sets itself. The shared `config` reaches every service.",
    )

    _no_fixed_replicas_with_hpa = field_validator("replicas")(no_fixed_replicas_with_hpa)

    @field_validator("max_unavailable")
    @classmethod
    def _budget_needs_replicas(cls, budget: int | None, info: ValidationInfo) -> int | None:
        autoscaling = info.data.get("autoscaling")
        floor = (
            autoscaling.min_replicas
            if autoscaling is not None and autoscaling.enabled
            else info.data.get("replicas") or 1
        )
        if budget is not None and budget >= floor:
            raise ValueError(f"must be below the replica floor ({floor}), or every node drain would be blocked")
        return budget


class VertaSecretSettings(StrictModel):
    """Existing Secret keys (seed 3.3: API keys, database URL, Discord token); values never enter git."""

    admin_api_key: SecretKey = Field(SecretKey(secret="verta", key="admin-api-key"), description="ADMIN_API_KEY.")
    database_url: SecretKey = Field(SecretKey(secret="verta", key="database-url"), description="DATABASE_URL.")
    discord_token: SecretKey = Field(SecretKey(secret="verta", key="discord-token"), description="DISCORD_TOKEN.")


class VertaIngressSettings(StrictModel):
    hosts: list[HostName] = Field(min_length=1, description="Host names; frontend at /, backend API under /api.")
    class_name: Literal["nginx", "traefik"] = Field("nginx", description="Ingress class.")
    tls: bool = Field(True, description="cert-manager TLS.")
    cluster_issuer: DnsLabel = Field("letsencrypt-prod")


class VertaNetworkPolicySettings(StrictModel):
    enabled: bool = Field(True, description="Per service: deny ingress but from the callers listed below.")
    ingress_namespaces: list[DnsLabel] = Field(
        ["ingress-nginx"], description="The ingress controller's namespace (reaches frontend and backend)."
    )


class VertaSettings(StrictModel):
    """Verta, the tenant static archive: backend API (with its migration init container), Next.js frontend and ML
    service, a shared ConfigMap, Redis and a path-routed Ingress."""

    namespace: StackNamespace = Field("verta", description="Namespace of every object.")
    alerts: VertaAlertSettings = Field(default_factory=VertaAlertSettings)
    dashboard: DashboardSettings = Field(default_factory=DashboardSettings)
    backend: VertaServiceSettings
    frontend: VertaServiceSettings
    ml: VertaServiceSettings
    migration_command: Annotated[list[str], FreeForm] = Field(
        ["npm", "run", "migrate"], min_length=1, description="The backend's migration init container command."
    )
    config: Annotated[dict[EnvironmentVariableName, str], FreeForm] = Field(
        default_factory=dict,
        description="Shared ConfigMap `verta` (ML settings, feature flags, thresholds), env of every service.",
    )
    secrets: VertaSecretSettings = Field(default_factory=VertaSecretSettings)
    redis: RedisSettings = Field(
        InClusterRedisSettings(password=SecretKey(secret="verta-redis", key="redis-password")),
        description="Redis for the backend and ML service.",
    )
    ingress: VertaIngressSettings
    spread: bool = Field(True, description="Anti-affinity and zone spread (HA).")
    network_policy: VertaNetworkPolicySettings = Field(
        default_factory=VertaNetworkPolicySettings,
        description="frontend <- ingress controller; backend <- ingress controller and frontend; ml <- backend.",
    )
