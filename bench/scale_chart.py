"""A synthetic stack for the scale benchmark: N fully featured AppServices in one chart."""

from __future__ import annotations

from cdk8s import Chart
from constructs import Construct

from bench.scale_settings import ScaleSettings
from constructs_lib import (
    AppService,
    AppServiceProps,
    EgressRule,
    HttpProbe,
    IngressOptions,
    Metrics,
    NetworkAccess,
    RateLimit,
    SecretKeyRef,
)
from value_types.images import ImageSettings
from value_types.quantities import ResourceSettings
from value_types.workloads import AutoscalingSettings


class ScaleChart(Chart):
    def __init__(self, scope: Construct, id: str, settings: ScaleSettings) -> None:
        super().__init__(scope, id, namespace=f"scale-{settings.environment}", disable_resource_name_hashes=True)
        resources = ResourceSettings.of("100m", "128Mi", "200m", "256Mi")
        for index in range(settings.first, settings.first + settings.services):
            name = f"svc-{index:03d}"
            AppService(
                self,
                name,
                AppServiceProps(
                    name=name,
                    component="api",
                    image=ImageSettings(repository=f"ghcr.io/acme/{name}", tag="1.0.0"),
                    port=8080,
                    resources=resources,
                    liveness_probe=HttpProbe(path="/health", initial_delay_seconds=10),
                    readiness_probe=HttpProbe(path="/ready"),
                    autoscaling=AutoscalingSettings(enabled=True, min_replicas=2, max_replicas=10),
                    max_unavailable=1,
                    config={"LOG_LEVEL": "info", "SERVICE_INDEX": str(index)},
                    secret_env=[SecretKeyRef(env_name="DB_PASSWORD", secret_name=f"{name}-db", key="password")],
                    metrics=Metrics(),
                    network_access=NetworkAccess(from_namespaces=["ingress-nginx"], egress=[EgressRule(ports=[5432])]),
                ),
            ).expose_via_ingress(
                IngressOptions(
                    hosts=[f"{name}.{settings.environment}.example.com"],
                    rate_limit=RateLimit(requests_per_second=50),
                )
            )
