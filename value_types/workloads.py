"""Settings blocks several stacks share: autoscaling, Secret keys, Redis, HTTP probes."""

from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import Field, ValidationInfo, field_validator

from value_types.images import ImageSettings
from value_types.model import StrictModel
from value_types.names import AbsolutePath, DnsLabel, DnsName, Labels, SecretKeyName
from value_types.ports import Port
from value_types.quantities import MemoryQuantity, ResourceSettings
from value_types.rules import TextRule, matching

# A metric as the custom and external metrics APIs name it (Prometheus Adapter, KEDA, a cloud's adapter).
MetricName = Annotated[
    str,
    matching(
        r"^[A-Za-z_][A-Za-z0-9_:.-]*$",
        "a metric name: letters, digits, '_', ':', '.' and '-', starting with a letter or '_'",
        253,
    ),
]
# A Kubernetes quantity as a metric target: a plain number, milli-units, or a decimal or binary multiple. The API
# server refuses a target that is not positive (autoscaling validation: "must be positive"); any non-zero digit
# makes one, as Kubernetes rounds a tiny value up to 1n rather than down to 0.
METRIC_TARGET = TextRule(
    allowed="a positive quantity such as 100, 500m, 1.5k or 2Gi (Kubernetes refuses a target of 0)",
    pattern=r"^[0-9]+(\.[0-9]+)?(m|k|M|G|T|Ki|Mi|Gi|Ti)?$",
    max_length=64,
    check=lambda quantity: any(digit in "123456789" for digit in quantity),
)
MetricQuantity = Annotated[str, METRIC_TARGET]


class MetricTargetSettings(StrictModel):
    """What the autoscaler holds a metric at (autoscaling/v2 MetricTarget)."""

    type: Literal["Value", "AverageValue"] = Field(
        "AverageValue", description="AverageValue: the metric divided by the pod count; Value: the metric itself."
    )
    value: MetricQuantity = Field(description="The target, e.g. 100 or 500m.")


class PodsMetricSettings(StrictModel):
    """A metric of the pods themselves (custom.metrics.k8s.io), averaged over them, e.g. requests per second."""

    type: Literal["Pods"] = Field(description="Selects this block.")
    name: MetricName = Field(description="The metric's name, e.g. http_requests_per_second.")
    selector: Labels = Field(default_factory=dict, description="Metric labels to narrow it to. Default: none.")
    target_average_value: MetricQuantity = Field(description="Average value per pod to hold, e.g. 100.")


class DescribedObjectSettings(StrictModel):
    """The object an Object metric describes (an Ingress, a Service, ...) in the workload's namespace."""

    api_version: Annotated[
        str, matching(r"^([a-z0-9.-]+/)?v[0-9]+((alpha|beta)[0-9]+)?$", "an apiVersion such as networking.k8s.io/v1")
    ] = Field(description="Its apiVersion, e.g. networking.k8s.io/v1.")
    kind: Annotated[str, matching(r"^[A-Z][A-Za-z0-9]*$", "a kind such as Ingress", 63)] = Field(
        description="Its kind, e.g. Ingress."
    )
    name: DnsName = Field(description="Its name.")


class ObjectMetricSettings(StrictModel):
    """A metric describing another object (custom.metrics.k8s.io), e.g. an Ingress's requests per second."""

    type: Literal["Object"] = Field(description="Selects this block.")
    name: MetricName = Field(description="The metric's name.")
    described_object: DescribedObjectSettings
    selector: Labels = Field(default_factory=dict, description="Metric labels to narrow it to. Default: none.")
    target: MetricTargetSettings


class ExternalMetricSettings(StrictModel):
    """A metric from outside the cluster (external.metrics.k8s.io), e.g. a queue's depth or a Kafka consumer lag."""

    type: Literal["External"] = Field(description="Selects this block.")
    name: MetricName = Field(description="The metric's name, e.g. kafka_consumergroup_lag.")
    selector: Labels = Field(default_factory=dict, description="Metric labels to narrow it to. Default: none.")
    target: MetricTargetSettings


CustomMetricSettings = Annotated[
    Union[PodsMetricSettings, ObjectMetricSettings, ExternalMetricSettings],  # noqa: UP007 - pydantic's form
    Field(discriminator="type", description="An autoscaling/v2 metric: `type: Pods`, `Object` or `External`."),
]


class AutoscalingSettings(StrictModel):
    """HorizontalPodAutoscaler. When enabled, the Deployment has no fixed replica count."""

    enabled: bool = Field(False, description="Render an HPA.")
    min_replicas: int = Field(2, ge=1, le=100, description="HPA floor.")
    max_replicas: int = Field(10, ge=1, le=500, description="HPA ceiling; at least min_replicas.")
    target_cpu_utilization_percentage: int = Field(80, ge=1, le=100, description="Average CPU target.")
    target_memory_utilization_percentage: int = Field(80, ge=1, le=100, description="Average memory target.")
    custom_metrics: list[CustomMetricSettings] = Field(
        default_factory=list,
        max_length=20,
        description="Custom (Pods, Object) and external metrics, besides CPU and memory; the HPA scales to the "
        "highest replica count any metric asks for. Needs a metrics adapter serving them. Default: none.",
    )

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
