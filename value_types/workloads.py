"""Settings blocks several stacks share: autoscaling, Secret keys, Redis, HTTP probes."""

from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import Field, ValidationInfo, field_validator

from value_types.images import ImageSettings
from value_types.model import StrictModel
from value_types.names import AbsolutePath, DnsLabel, DnsName, SecretKeyName
from value_types.ports import Port
from value_types.quantities import MemoryQuantity, ResourceSettings


class AutoscalingSettings(StrictModel):
    """HorizontalPodAutoscaler. When enabled, the Deployment has no fixed replica count."""

    enabled: bool = Field(False, description="Render an HPA.")
    min_replicas: int = Field(2, ge=1, le=100, description="HPA floor.")
    max_replicas: int = Field(10, ge=1, le=500, description="HPA ceiling; at least min_replicas.")
    target_cpu_utilization_percentage: int = Field(80, ge=1, le=100, description="Average CPU target.")
    target_memory_utilization_percentage: int = Field(80, ge=1, le=100, description="Average memory target.")

    @field_validator("max_replicas")
    @classmethod
    def _max_not_below_min(cls, max_replicas: int, info: ValidationInfo) -> int:
        min_replicas = info.data.get("min_replicas")
        if min_replicas is not None and max_replicas < min_replicas:
            raise ValueError(f"must be >= min_replicas ({min_replicas})")
        return max_replicas


def no_fixed_replicas_with_hpa(replicas: int | None, info: ValidationInfo) -> int | None:
    """Field validator for a `replicas` declared after an `autoscaling: AutoscalingSettings` field: the HPA owns
    the replica count, so a fixed one is refused."""
    autoscaling = info.data.get("autoscaling")
    if replicas is not None and autoscaling is not None and autoscaling.enabled:
        raise ValueError(
            f"must be unset when autoscaling.enabled is true (the HPA's min_replicas, {autoscaling.min_replicas},"
            " is the floor)"
        )
    return replicas


class SecretKey(StrictModel):
    """A key of an existing Kubernetes Secret (the value itself is never in this repository)."""

    secret: DnsLabel = Field(description="Name of the existing Secret.")
    key: SecretKeyName = Field(description="Key inside the Secret.")


class InClusterRedisSettings(StrictModel):
    """A Redis StatefulSet in the stack's namespace, with a persistent volume and a password from a Secret."""

    mode: Literal["in_cluster"] = Field("in_cluster", description="Selects this block.")
    image: ImageSettings = Field(
        ImageSettings(repository="redis", tag="7.2.5-alpine"), description="The official Redis image."
    )
    password: SecretKey = Field(description="Existing Secret key holding the password (requirepass).")
    storage_size: MemoryQuantity = Field("1Gi", description="Size of the data volume (append-only file).")
    storage_class: DnsLabel | None = Field(None, description="StorageClass of the volume; default: the cluster's.")
    resources: ResourceSettings = Field(
        ResourceSettings.of("50m", "64Mi", "250m", "256Mi"), description="Redis container requests and limits."
    )


class ExternalRedisSettings(StrictModel):
    """An existing Redis outside the stack."""

    mode: Literal["external"] = Field(description="Selects this block.")
    host: DnsName = Field(description="Host name, e.g. redis.data.svc.cluster.local.")
    port: Port = Field(6379, description="Port.")
    password: SecretKey = Field(description="Existing Secret key holding the password.")


RedisSettings = Annotated[
    Union[InClusterRedisSettings, ExternalRedisSettings],  # noqa: UP007 - pydantic's discriminated union form
    Field(discriminator="mode", description="Redis: `mode: in_cluster` (a StatefulSet here) or `mode: external`."),
]


class HttpProbeSettings(StrictModel):
    """An HTTP probe's path and timings."""

    path: AbsolutePath = Field(description="URL path.")
    initial_delay_seconds: int = Field(0, ge=0, le=600)
    period_seconds: int = Field(10, ge=1, le=300)
    timeout_seconds: int = Field(1, ge=1, le=60)
    failure_threshold: int = Field(3, ge=1, le=100)
