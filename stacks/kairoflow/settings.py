"""Typed settings of the kairoflow stack (seed: kairoflow-k8s-story.md, story 1.2). Defaults are the seed's."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BeforeValidator, Field

from stacks.dashboards import DashboardSettings
from stacks.observability import CronJobAlertSettings
from value_types.images import ImageSettings
from value_types.model import StrictModel
from value_types.names import DnsLabel, HostName, Labels, StackNamespace
from value_types.quantities import MemoryQuantity, ResourceSettings
from value_types.rules import matching
from value_types.schedules import CronSchedule, TimeZone
from value_types.secrets import SecretSourceSettings
from value_types.web import RateLimitSettings, SecurityHeadersSettings


class KairoflowAlertSettings(CronJobAlertSettings):
    """Thresholds of kairoflow's alerts."""


# Seed "Deployment Strategy": requests 256Mi / 250m, limits 512Mi / 500m.
SEED_RESOURCES = ResourceSettings.of("250m", "256Mi", "500m", "512Mi")


PhpSize = Annotated[str, matching(r"^[0-9]+[KMG]$", "a PHP size: a whole number then K, M or G, such as 512M", 32)]


class ContainerSettings(StrictModel):
    image: ImageSettings = Field(description="Image from the registry (GHCR).")
    resources: ResourceSettings = Field(SEED_RESOURCES, description="Requests and limits.")


class PhpSettings(StrictModel):
    """PHP_* environment of the php-fpm container (seed "PHP Configuration")."""

    memory_limit: PhpSize = Field("512M", description="PHP_MEMORY_LIMIT.")
    max_execution_time: int = Field(600, ge=1, le=86400, description="PHP_MAX_EXECUTION_TIME (seconds).")
    post_max_size: PhpSize = Field("500M", description="PHP_POST_MAX_SIZE.")
    upload_max_filesize: PhpSize = Field("500M", description="PHP_UPLOAD_MAX_FILESIZE.")


class NginxSettings(StrictModel):
    """nginx.conf and default.conf (seed "Create nginx ConfigMap")."""

    client_max_body_size: Annotated[
        str,
        matching(r"^[0-9]+[kKmMgG]?$", "an nginx size: a whole number, optionally then k, m or g, such as 500M", 32),
    ] = Field("500M", description="client_max_body_size.")
    timeout_seconds: int = Field(600, ge=1, le=3600, description="Client, keepalive-free and FastCGI timeouts.")
    worker_processes: Annotated[str, matching(r"^(auto|[1-9][0-9]?)$", "auto, or a number of processes 1..99")] = Field(
        "auto", description="worker_processes."
    )
    worker_connections: int = Field(1024, ge=64, le=65535, description="worker_connections.")


class StorageSettings(StrictModel):
    """The four PersistentVolumeClaims (seed "Configure persistent volumes")."""

    storage_class: DnsLabel | None = Field(None, description="StorageClass; default: the cluster's default class.")
    access_mode: Literal["ReadWriteOnce", "ReadWriteMany"] = Field(
        "ReadWriteOnce",
        description="ReadWriteOnce: a claim attaches to one node, so the CronJob pods are placed on the web pod's node "
        "(required pod affinity) and the web Deployment is recreated rather than surged. ReadWriteMany: no placement "
        "rule (the storage class must offer it).",
    )
    uploads: MemoryQuantity = Field("5Gi")
    sessions: MemoryQuantity = Field("2Gi")
    recordings: MemoryQuantity = Field("10Gi")
    transcriptions: MemoryQuantity = Field("5Gi")


class SecretSettings(SecretSourceSettings):
    """Where the credentials come from. Values never enter this repository."""

    registry: DnsLabel = Field("ghcr-credentials", description="Image pull Secret (dockerconfigjson) for GHCR.")


class CronSettings(StrictModel):
    enabled: bool = Field(True)
    schedule: CronSchedule = Field(description="Five-field cron schedule.")
    active_deadline_seconds: int = Field(ge=10, le=86400, description="Longest one run may take.")


class CronJobsSettings(StrictModel):
    """The seed's console commands, as CronJobs (seed "Deployment Commands Reference")."""

    time_zone: TimeZone | None = Field("UTC", description="IANA time zone of every schedule.")
    email_processor: CronSettings = Field(CronSettings(schedule="*/1 * * * *", active_deadline_seconds=50))
    invoice_generation: CronSettings = Field(CronSettings(schedule="0 6 * * 1", active_deadline_seconds=1800))
    cleanup: CronSettings = Field(CronSettings(schedule="0 3 * * *", active_deadline_seconds=1800))
    schema_validation: CronSettings = Field(CronSettings(schedule="30 4 * * *", active_deadline_seconds=300))


class KairoflowSecurityHeadersSettings(SecurityHeadersSettings):
    """The headers Middleware kairoflow-security-headers: HSTS one year with subdomains, X-Frame-Options DENY,
    X-Content-Type-Options nosniff, Referrer-Policy strict-origin-when-cross-origin; no CSP (the application's)."""

    enabled: bool = Field(
        True,
        description="Render the Middleware kairoflow-security-headers and reference it from the HTTPS route; false: "
        "neither (the other keys are then ignored).",
    )


class KairoflowRateLimitSettings(RateLimitSettings):
    """The rateLimit Middleware kairoflow-ratelimit: per client IP as Traefik sees it, 50 requests per second on
    average with bursts of 5x (250), enough for a page and its static files."""

    enabled: bool = Field(
        True,
        description="Render the Middleware kairoflow-ratelimit and reference it from the HTTPS route; false: neither "
        "(the other keys are then ignored).",
    )
    requests_per_second: int = Field(50, ge=1, le=100000, description="Average per client IP (Traefik `average`).")


def _refuse_null(value: object) -> object:
    if value is None:
        raise ValueError("null is not accepted: write `enabled: false` to turn the Middleware off")
    return value


class RouteSettings(StrictModel):
    """Traefik Middlewares on the HTTPS IngressRoute (seed "Network Security": security headers, rate limiting). Both
    are on in every environment; a block names only what it tunes, and `enabled: false` turns one off."""

    security_headers: Annotated[KairoflowSecurityHeadersSettings, BeforeValidator(_refuse_null)] = Field(
        default_factory=KairoflowSecurityHeadersSettings,
        description="The headers Middleware kairoflow-security-headers. Default: on, with the values below.",
    )
    rate_limit: Annotated[KairoflowRateLimitSettings, BeforeValidator(_refuse_null)] = Field(
        default_factory=KairoflowRateLimitSettings,
        description="The rateLimit Middleware kairoflow-ratelimit, per client IP. Default: on, 50/s, bursts of 250.",
    )


class KairoflowNetworkPolicySettings(StrictModel):
    enabled: bool = Field(True, description="Deny ingress to the web pod but from Traefik.")
    ingress_namespaces: list[DnsLabel] = Field(["traefik"], description="Traefik's namespace.")


class KairoflowSettings(StrictModel):
    """KairoFlow: nginx + php-fpm in one pod, external PostgreSQL/Redis/MinIO, Traefik with cert-manager TLS."""

    namespace: StackNamespace = Field("kairoflow", description="The Namespace this stack renders and uses.")
    alerts: KairoflowAlertSettings = Field(default_factory=KairoflowAlertSettings)
    dashboard: DashboardSettings = Field(default_factory=DashboardSettings)
    hosts: list[HostName] = Field(min_length=1, description="Host names of the IngressRoutes and the certificate.")
    cluster_issuer: DnsLabel = Field("letsencrypt-prod", description="cert-manager ClusterIssuer.")
    route: RouteSettings = Field(default_factory=RouteSettings)
    replicas: int = Field(1, ge=1, le=2, description="Seed: 1 initially (can scale to 2 later).")
    nginx: ContainerSettings
    php: ContainerSettings
    php_limits: PhpSettings = Field(default_factory=PhpSettings)
    nginx_config: NginxSettings = Field(default_factory=NginxSettings)
    nette_env: Literal["dev", "prod"] = Field("prod", description="NETTE_ENV.")
    nette_debug: bool = Field(False, description="NETTE_DEBUG (rendered 1 or 0).")
    minio_use_ssl: bool = Field(True, description="MINIO_USE_SSL.")
    migrate_on_start: bool = Field(True, description="postStart hook running the Doctrine migrations.")
    storage: StorageSettings = Field(default_factory=StorageSettings)
    node_selector: Labels = Field(
        default_factory=dict,
        description="e.g. {kubernetes.io/hostname: node-1}; also applied to the CronJobs. Not needed for the claims: "
        "the CronJobs follow the web pod.",
    )
    secrets: SecretSettings = Field(default_factory=SecretSettings)
    network_policy: KairoflowNetworkPolicySettings = Field(default_factory=KairoflowNetworkPolicySettings)
    cron_jobs: CronJobsSettings = Field(default_factory=CronJobsSettings)
    cron_resources: ResourceSettings = Field(
        ResourceSettings.of("100m", "128Mi", "500m", "256Mi"),
        description="CronJob containers (seed: 128Mi request, 256Mi limit).",
    )
