"""Typed settings of the core-pipeline stack. Defaults are the seed's base values.yaml; environment files hold
only what differs, like values-<env>.yaml did."""

from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import Field, ValidationInfo, field_validator

from stacks.dashboards import DashboardSettings
from stacks.observability import AlertingSettings, PromMetricName
from value_types.credentials import FreeForm
from value_types.hosts import HeaderName, HostAndPort, HttpMethod, HttpsUrl, HttpUrl, Origin
from value_types.images import ImageSettings
from value_types.model import StrictModel
from value_types.monitoring import RelabelingSettings
from value_types.names import AbsolutePath, DnsLabel, DnsName, FeatureFlagName, HostName, Labels, StackNamespace
from value_types.ports import Port
from value_types.quantities import ResourceSettings
from value_types.schedules import Duration
from value_types.secrets import SecretSourceSettings
from value_types.web import RateLimitSettings
from value_types.workloads import AutoscalingSettings, SecretKey, no_fixed_replicas_with_hpa


class CorePipelineAlertSettings(AlertingSettings):
    """Thresholds of core-pipeline's alerts."""

    # The seed names no metric: NestJS' usual Prometheus middleware exports this histogram (labels status_code, le).
    request_duration_metric: PromMetricName = Field(
        "http_request_duration_seconds",
        description="The app's request duration histogram (seconds); _count gives traffic and errors, _bucket p95.",
    )
    status_code_label: PromMetricName = Field("status_code", description="Its label holding the HTTP status code.")
    max_error_ratio: float = Field(
        0.05, gt=0, lt=1, description="Share of 5xx responses over 5 minutes above which the API counts as down."
    )
    max_p95_latency_seconds: float = Field(
        1.0, gt=0, le=120, description="95th percentile request duration over 5 minutes that raises the alert."
    )
    latency_for: Duration = Field("10m", description="How long p95 latency must stay above the threshold.")
    hpa_at_max_for: Duration = Field("15m", description="How long the HPA may sit at max_replicas before alerting.")


class KafkaSettings(StrictModel):
    brokers: list[HostAndPort] = Field(
        min_length=1,
        description="Bootstrap brokers as host:port; rendered comma-separated into KAFKA_BROKERS.",
    )
    client_id: str = Field("core-pipeline", description="KAFKA_CLIENT_ID.")
    group_id: str = Field("core-pipeline-group", description="KAFKA_GROUP_ID.")


class PostgresSettings(StrictModel):
    host: DnsName = Field(description="POSTGRES_HOST.")
    port: Port = Field(5432, description="POSTGRES_PORT.")
    database: str = Field("core-pipeline", description="POSTGRES_DB.")
    user: SecretKey = Field(
        SecretKey(secret="core-pipeline-secrets", key="postgres-user"), description="POSTGRES_USER, from a Secret."
    )
    password: SecretKey = Field(
        SecretKey(secret="core-pipeline-secrets", key="postgres-password"),
        description="POSTGRES_PASSWORD, from a Secret.",
    )


class RedisSettings(StrictModel):
    host: DnsName = Field(description="REDIS_HOST.")
    port: Port = Field(6379, description="REDIS_PORT.")
    password: SecretKey = Field(
        SecretKey(secret="core-pipeline-secrets", key="redis-password"), description="REDIS_PASSWORD, from a Secret."
    )


class TelemetrySettings(StrictModel):
    metrics_enabled: bool = Field(True, description="METRICS_ENABLED; also the Prometheus scrape annotations.")
    tracing_enabled: bool = Field(True, description="TRACING_ENABLED.")
    otel_service_name: str = Field("core-pipeline", description="OTEL_SERVICE_NAME.")
    otel_exporter_otlp_endpoint: HttpUrl = Field(
        "http://tempo:4318", description="OTEL_EXPORTER_OTLP_ENDPOINT (Tempo)."
    )
    service_monitor: bool = Field(True, description="Render a Prometheus Operator ServiceMonitor.")
    scrape_interval: Duration = Field("30s", description="ServiceMonitor scrape interval.")
    service_monitor_labels: Labels = Field(
        default_factory=dict,
        description="Labels your Prometheus' serviceMonitorSelector matches: the environment's "
        "monitoring.prometheus_labels, copied here (not written in the files).",
    )
    relabelings: list[RelabelingSettings] = Field(
        default_factory=list,
        max_length=50,
        description="ServiceMonitor relabelings (before the scrape). Default: none.",
    )
    metric_relabelings: list[RelabelingSettings] = Field(
        default_factory=list,
        max_length=50,
        description="ServiceMonitor metric relabelings (on the scraped samples, e.g. drop a series). Default: none.",
    )


class CorsSettings(StrictModel):
    allow_origins: list[Origin] = Field(min_length=1, description="Allowed origins, e.g. https://app.example.com.")
    allow_methods: list[HttpMethod] = Field(["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"])
    allow_headers: list[HeaderName] = Field(["Authorization", "Content-Type"])
    allow_credentials: bool = False
    max_age_seconds: int = Field(600, ge=0, le=86400)


class TimeoutSettings(StrictModel):
    connect_seconds: int = Field(5, ge=1, le=3600)
    read_seconds: int = Field(60, ge=1, le=3600)
    send_seconds: int = Field(60, ge=1, le=3600)


class IngressSettings(StrictModel):
    enabled: bool = Field(True, description="Render an Ingress.")
    class_name: Literal["nginx", "traefik"] = Field("nginx", description="Ingress controller class.")
    hosts: list[HostName] = Field(default_factory=list, description="Host names routed to the service.")
    tls: bool = Field(False, description="TLS with a cert-manager certificate.")
    cluster_issuer: DnsLabel = Field("letsencrypt-prod", description="cert-manager ClusterIssuer for TLS.")
    rate_limit: RateLimitSettings | None = Field(None, description="Per-client rate limit (production).")
    cors: CorsSettings | None = Field(None, description="CORS answered by the ingress controller.")
    max_body_megabytes: int | None = Field(None, ge=1, le=10240, description="Largest request body.")
    timeouts: TimeoutSettings | None = Field(None, description="Proxy timeouts (nginx only).")

    @field_validator("hosts")
    @classmethod
    def _hosts_when_enabled(cls, hosts: list[str], info: ValidationInfo) -> list[str]:
        if info.data.get("enabled") and not hosts:
            raise ValueError("at least one host is required when the ingress is enabled")
        if len(set(hosts)) != len(hosts):
            raise ValueError("host names must be distinct")
        return hosts

    @field_validator("timeouts")
    @classmethod
    def _timeouts_need_nginx(cls, timeouts: TimeoutSettings | None, info: ValidationInfo) -> TimeoutSettings | None:
        if timeouts is not None and info.data.get("class_name") == "traefik":
            raise ValueError("timeouts are set per Traefik entry point, not per Ingress; allowed with class nginx")
        return timeouts


class NetworkPolicySettings(StrictModel):
    enabled: bool = Field(True, description="Render a NetworkPolicy (default deny, then what is listed).")
    ingress_namespaces: list[DnsLabel] = Field(
        ["ingress-nginx"], description="Namespaces whose pods may reach port 3000 (the ingress controller)."
    )
    monitoring_namespaces: list[DnsLabel] = Field(["monitoring"], description="Namespaces that scrape /metrics.")
    restrict_egress: bool = Field(
        True, description="Allow egress only to DNS, Kafka, PostgreSQL, Redis and the OTLP endpoint ports."
    )


class MigrationSettings(StrictModel):
    enabled: bool = Field(True, description="Run the database migration as an Argo CD PreSync hook Job.")
    command: Annotated[list[str], FreeForm] = Field(
        ["npm", "run", "migration:run"], min_length=1, description="Migration command."
    )
    active_deadline_seconds: int = Field(600, ge=30, le=7200, description="Longest a migration may run.")
    backoff_limit: int = Field(1, ge=0, le=10, description="Retries before the sync fails.")


# A pinned curl image for the PostSync checks (Alpine based: they need /bin/sh); mutable tags are refused.
CHECK_IMAGE = ImageSettings(repository="curlimages/curl", tag="8.11.1", pull_policy="IfNotPresent")


class HttpCheckSettings(StrictModel):
    """A hook Job calling the API's Service in the cluster; a failed check fails the sync."""

    enabled: bool = Field(False, description="Render the check as an Argo CD PostSync hook Job.")
    image: ImageSettings = Field(CHECK_IMAGE, description="A pinned image with curl and /bin/sh.")
    retries: int = Field(5, ge=0, le=20, description="Retries of each request (refused connections, any error).")
    retry_delay_seconds: int = Field(5, ge=1, le=300, description="Pause between retries.")
    timeout_seconds: int = Field(5, ge=1, le=300, description="Longest one attempt may take.")
    backoff_limit: int = Field(1, ge=0, le=5, description="New pods after a failed run before the sync fails.")
    active_deadline_seconds: int = Field(
        300, ge=30, le=3600, description="Longest the Job may run, retries included (at least what the retries take)."
    )


class SmokeTestSettings(HttpCheckSettings):
    """PostSync smoke test (seed "Helm Hooks": post-install smoke tests): the Service's health endpoint must answer."""

    path: AbsolutePath = Field("/health", description="Health endpoint called through the Service (liveness path).")


class VerificationSettings(HttpCheckSettings):
    """PostSync verification (seed "Helm Hooks": post-upgrade verification; "App version should match the Docker
    image version"): every sampled answer of the version endpoint names exactly the image tag this sync deployed, so
    no replica of the previous version still serves behind the Service."""

    path: AbsolutePath = Field(
        "/version",
        # The contract's words are the check's own (constructs_lib.service_check_job.VERSION_CONTRACT; a test keeps
        # them equal): a settings model does not import constructs.
        description="The app's version endpoint. The seed defines none (only /health, /ok and /metrics): this is the "
        "contract the app must keep before the check is enabled: GET answers 2xx with a JSON body whose first string "
        'field "version" is the version (`{"version":"1.4.1"}`), or a plain-text body that is the version (white '
        "space around it ignored), equal to the image tag exactly (1.4.1 does not pass for 1.4.10).",
    )
    samples: int = Field(
        5, ge=1, le=50, description="Requests through the Service that must all name the tag (reach several replicas)."
    )


class BackupClaimSettings(StrictModel):
    """Dumps kept on an existing PersistentVolumeClaim in the stack's namespace."""

    kind: Literal["claim"] = Field("claim", description="Selects this block.")
    claim: DnsLabel = Field(
        "core-pipeline-backup",
        description="An existing claim (create it before the first sync: a PreSync hook runs before the sync "
        "creates anything).",
    )
    keep: int = Field(7, ge=0, le=1000, description="Dumps kept on the claim after a successful dump (0: all).")


class BackupObjectStoreSettings(StrictModel):
    """Dumps uploaded to an S3-compatible bucket; its credentials are Secret keys, never values."""

    kind: Literal["object_store"] = Field(description="Selects this block.")
    endpoint: HttpsUrl = Field(description="The store's URL, e.g. https://s3.eu-west-1.amazonaws.com or MinIO's.")
    bucket: DnsName = Field(description="The bucket.")
    prefix: DnsLabel = Field("core-pipeline", description="Key prefix of the dumps.")
    region: DnsLabel = Field("us-east-1", description="The signing region.")
    access_key_id: SecretKey = Field(
        SecretKey(secret="core-pipeline-backup-store", key="access-key-id"), description="Existing Secret key."
    )
    secret_access_key: SecretKey = Field(
        SecretKey(secret="core-pipeline-backup-store", key="secret-access-key"), description="Existing Secret key."
    )
    uploader_image: ImageSettings = Field(
        ImageSettings(repository="amazon/aws-cli", tag="2.15.0", pull_policy="IfNotPresent"),
        description="A pinned image with the aws CLI and /bin/sh.",
    )


class BackupSettings(StrictModel):
    """PreSync backup (seed "Helm Hooks": pre-upgrade backup): pg_dump of POSTGRES_DB before the migration, with
    the stack's database credentials (postgres.user, postgres.password); a failed dump fails the sync."""

    enabled: bool = Field(False, description="Render the backup as an Argo CD PreSync hook Job run before the others.")
    image: ImageSettings = Field(
        ImageSettings(repository="postgres", tag="16.4-alpine", pull_policy="IfNotPresent"),
        description="A pinned PostgreSQL image; its pg_dump must be at least the server's major version.",
    )
    target: Annotated[
        Union[BackupClaimSettings, BackupObjectStoreSettings],  # noqa: UP007 - pydantic's discriminated union form
        Field(discriminator="kind"),
    ] = Field(default_factory=BackupClaimSettings, description="`kind: claim` or `kind: object_store`.")
    resources: ResourceSettings = Field(ResourceSettings.of("50m", "64Mi", "500m", "256Mi"))
    backoff_limit: int = Field(1, ge=0, le=5, description="New pods after a failed dump before the sync fails.")
    active_deadline_seconds: int = Field(1800, ge=60, le=21600, description="Longest the backup may take.")


class ServiceSettings(StrictModel):
    """The Service in front of the pods (seed "service.yaml": port 80 to 3000, "support for headless service")."""

    headless: bool = Field(
        False,
        description="clusterIP None: the Service name resolves to the ready pods' addresses. Switching an existing "
        "Service is refused in place (main.py diff shows it): delete the Service before the sync.",
    )


class CorePipelineSecretSettings(SecretSourceSettings):
    """Where the credentials (postgres.user, postgres.password, redis.password) come from. Values never enter this
    repository."""


class CorePipelineSettings(StrictModel):
    """The core-pipeline NestJS service: port 3000 behind Service port 80, Kafka, PostgreSQL and Redis clients."""

    namespace: StackNamespace = Field("core-pipeline", description="Namespace of every object.")
    image: ImageSettings = Field(description="Image repository, tag and pull policy.")
    autoscaling: AutoscalingSettings = Field(default_factory=AutoscalingSettings)
    replicas: int | None = Field(
        None, ge=0, le=100, description="Fixed replica count (default 2). Leave unset when autoscaling is enabled."
    )
    resources: ResourceSettings = Field(description="Container requests and limits.")
    node_env: Literal["development", "staging", "production", "test"] = Field("production", description="NODE_ENV.")
    log_level: Literal["debug", "info", "warn", "error"] = Field("info", description="LOG_LEVEL.")
    feature_flags: dict[FeatureFlagName, bool] = Field(
        default_factory=dict, description="Rendered into the ConfigMap as FEATURE_<NAME>=true|false."
    )
    kafka: KafkaSettings
    postgres: PostgresSettings
    redis: RedisSettings
    telemetry: TelemetrySettings = Field(default_factory=TelemetrySettings)
    service: ServiceSettings = Field(default_factory=ServiceSettings)
    ingress: IngressSettings = Field(default_factory=IngressSettings)
    network_policy: NetworkPolicySettings = Field(default_factory=NetworkPolicySettings)
    max_unavailable: int = Field(
        1, ge=1, le=100, description="PodDisruptionBudget, rendered whenever more than one replica runs."
    )
    migration: MigrationSettings = Field(default_factory=MigrationSettings)
    backup: BackupSettings = Field(default_factory=BackupSettings)
    smoke_test: SmokeTestSettings = Field(default_factory=SmokeTestSettings)
    verification: VerificationSettings = Field(default_factory=VerificationSettings)
    secrets: CorePipelineSecretSettings = Field(default_factory=CorePipelineSecretSettings)
    alerts: CorePipelineAlertSettings = Field(default_factory=CorePipelineAlertSettings)
    dashboard: DashboardSettings = Field(default_factory=DashboardSettings)

    _no_fixed_replicas_with_hpa = field_validator("replicas")(no_fixed_replicas_with_hpa)

    @field_validator("feature_flags")
    @classmethod
    def _one_flag_per_variable(cls, flags: dict[str, bool]) -> dict[str, bool]:
        by_variable: dict[str, str] = {}
        for name in flags:
            other = by_variable.setdefault(name.upper(), name)
            if other != name:
                raise ValueError(
                    f"flags {other!r} and {name!r} both become the variable FEATURE_{name.upper()}: keep one"
                )
        return flags
