"""The core-pipeline stack: the NestJS service, its migration hook, ingress, autoscaling and monitoring."""

from __future__ import annotations

from cdk8s import Chart
from constructs import Construct

from constructs_lib import (
    AppService,
    AppServiceProps,
    ClaimTarget,
    ContainerSpec,
    CorsPolicy,
    DatabaseConnection,
    EgressRule,
    HttpProbe,
    IngressOptions,
    Metrics,
    NetworkAccess,
    ObjectStoreTarget,
    PodNetworkPolicy,
    PodNetworkPolicyProps,
    PodSecurity,
    PostgresBackupJob,
    PostgresBackupJobProps,
    ProxyTimeouts,
    RateLimit,
    RecommendedLabels,
    RemoteKey,
    SecretKeyRef,
    ServiceCheckJob,
    ServiceCheckJobProps,
    SyncedSecret,
    SyncedSecretProps,
    SyncHookJob,
    SyncHookJobProps,
)
from stacks.core_pipeline.alerts import system_alerts, system_workloads
from stacks.core_pipeline.settings import BackupClaimSettings, CorePipelineSettings, HttpCheckSettings
from stacks.dashboard_model import add_dashboard
from stacks.observability import add_alert_rules
from stacks.settings_to_props import secret_env

NAME = "core-pipeline"
# The PreSync wave of the credentials' ExternalSecrets: before the hooks that read them (the backup at -1, the
# migration without a wave, 0).
SECRETS_WAVE = -2
# Fixed by the application (seed: "The NestJS application exposes port 3000"), not by an environment.
CONTAINER_PORT = 3000
SERVICE_PORT = 80
DEFAULT_REPLICAS = 2
# The image's user (seed: "Run as non-root user (UID 1000)"); fsGroup makes mounted volumes writable for it.
APP_UID = 1000
LIVENESS = HttpProbe(
    path="/health", port="http", initial_delay_seconds=30, period_seconds=10, timeout_seconds=5, failure_threshold=3
)
READINESS = HttpProbe(
    path="/ok", port="http", initial_delay_seconds=10, period_seconds=5, timeout_seconds=3, failure_threshold=3
)


class CorePipelineChart(Chart):
    """Everything core-pipeline runs in one environment, in the namespace its settings name."""

    def __init__(self, scope: Construct, id: str, settings: CorePipelineSettings) -> None:
        super().__init__(scope, id, namespace=settings.namespace, disable_resource_name_hashes=True)
        self.settings = settings
        add_alert_rules(self, NAME, settings.image.tag, settings.alerts, system_alerts(settings))
        add_dashboard(self, NAME, settings.image.tag, settings.dashboard, system_workloads(settings))
        image = settings.image
        resources = settings.resources
        security = PodSecurity(run_as_user=APP_UID, run_as_group=APP_UID, fs_group=APP_UID)
        config = runtime_config(settings)
        secret_env = credentials(settings)
        self._synced_secrets(settings, secret_env)
        autoscaling = settings.autoscaling
        min_replicas = (
            autoscaling.min_replicas
            if autoscaling.enabled
            else (settings.replicas if settings.replicas is not None else DEFAULT_REPLICAS)
        )

        self.service = AppService(
            self,
            "Api",
            AppServiceProps(
                name=NAME,
                component="api",
                part_of=NAME,
                image=image,
                port=CONTAINER_PORT,
                service_port=SERVICE_PORT,
                headless=settings.service.headless,
                resources=resources,
                liveness_probe=LIVENESS,
                readiness_probe=READINESS,
                replicas=None if autoscaling.enabled else min_replicas,
                autoscaling=autoscaling,
                # A budget on a single replica would block every node drain.
                max_unavailable=settings.max_unavailable if min_replicas > 1 else None,
                config=config,
                secret_env=secret_env,
                security=security,
                metrics=Metrics(
                    path="/metrics",
                    service_monitor=settings.telemetry.service_monitor,
                    interval=settings.telemetry.scrape_interval,
                    service_monitor_labels=settings.telemetry.service_monitor_labels,
                    relabelings=settings.telemetry.relabelings,
                    metric_relabelings=settings.telemetry.metric_relabelings,
                )
                if settings.telemetry.metrics_enabled
                else None,
                network_access=network_access(settings) if settings.network_policy.enabled else None,
            ),
        )
        if settings.ingress.enabled:
            self.service.expose_via_ingress(ingress_options(settings))

        if settings.migration.enabled:
            migration_labels = self.service.labels.for_component("migration")
            if settings.network_policy.enabled:
                # Nothing connects to a migration run: deny all ingress to its pods.
                PodNetworkPolicy(
                    self,
                    "MigrationNetworkPolicy",
                    PodNetworkPolicyProps(
                        name=f"{NAME}-migrate", labels=migration_labels.all, pod_selector=migration_labels.selector
                    ),
                )
            SyncHookJob(
                self,
                "Migration",
                SyncHookJobProps(
                    name=f"{NAME}-migrate",
                    labels=migration_labels,
                    # Inline env, not the ConfigMap: a PreSync hook runs before this sync creates or updates it.
                    container=ContainerSpec(
                        name="migrate",
                        image=image,
                        resources=resources,
                        command=settings.migration.command,
                        env=config,
                        secret_env=[ref for ref in secret_env if ref.env_name.startswith("POSTGRES_")],
                    ),
                    phase="PreSync",
                    delete_policy="BeforeHookCreation",
                    backoff_limit=settings.migration.backoff_limit,
                    active_deadline_seconds=settings.migration.active_deadline_seconds,
                    security=security,
                ),
            )

        if settings.backup.enabled:
            self._backup(settings, secret_env)
        if settings.smoke_test.enabled:
            smoke = settings.smoke_test
            self._check("SmokeTest", "smoke-test", smoke, smoke.path, samples=1)
        if settings.verification.enabled:
            verify = settings.verification
            # The seed: "App version should match the Docker image version". The seed defines no version endpoint:
            # verification.path and the answer's form are this repository's contract with the app (its description).
            self._check("Verification", "verify", verify, verify.path, verify.samples, expected_version=image.tag)

    def _synced_secrets(self, settings: CorePipelineSettings, references: list[SecretKeyRef]) -> None:
        """With External Secrets, one ExternalSecret per Secret the credentials name, with the keys they read
        (remote key `<prefix>/<secret>`, one property per key). While a PreSync hook (the migration, the backup)
        reads them, they are PreSync hooks in an earlier wave: on a first install nothing else exists yet when
        those run."""
        external = settings.secrets.external_secrets
        if settings.secrets.source != "external_secrets" or external is None:
            return
        keys_by_secret: dict[str, set[str]] = {}
        for reference in references:
            keys_by_secret.setdefault(reference.secret_name, set()).add(reference.key)
        labels = RecommendedLabels(name=NAME, component="secrets", part_of=NAME, version=settings.image.tag)
        for secret, keys in sorted(keys_by_secret.items()):
            SyncedSecret(
                self,
                f"Secret-{secret}",
                SyncedSecretProps(
                    name=secret,
                    labels=labels.all,
                    store=external.store,
                    store_kind=external.store_kind,
                    refresh_interval=external.refresh_interval,
                    data={key: RemoteKey(key=f"{external.remote_prefix}/{secret}", property=key) for key in keys},
                    pre_sync_wave=SECRETS_WAVE if settings.migration.enabled or settings.backup.enabled else None,
                ),
            )

    def _backup(self, settings: CorePipelineSettings, credentials: list[SecretKeyRef]) -> PostgresBackupJob:
        """pg_dump before the other PreSync hooks (the migration), with the API's own database credentials."""
        backup = settings.backup
        by_name = {ref.env_name: ref for ref in credentials}
        target = backup.target
        return PostgresBackupJob(
            self,
            "Backup",
            PostgresBackupJobProps(
                name=f"{NAME}-backup",
                labels=self.service.labels.for_component("backup"),
                image=backup.image,
                database=DatabaseConnection(
                    host=settings.postgres.host,
                    port=settings.postgres.port,
                    database=settings.postgres.database,
                    user=by_name["POSTGRES_USER"],
                    password=by_name["POSTGRES_PASSWORD"],
                ),
                target=ClaimTarget(claim=target.claim, keep=target.keep)
                if isinstance(target, BackupClaimSettings)
                else ObjectStoreTarget(
                    endpoint=target.endpoint,
                    bucket=target.bucket,
                    prefix=target.prefix,
                    region=target.region,
                    access_key_id=secret_env("AWS_ACCESS_KEY_ID", target.access_key_id),
                    secret_access_key=secret_env("AWS_SECRET_ACCESS_KEY", target.secret_access_key),
                    uploader_image=target.uploader_image,
                ),
                resources=backup.resources,
                backoff_limit=backup.backoff_limit,
                active_deadline_seconds=backup.active_deadline_seconds,
                isolated=settings.network_policy.enabled,
            ),
        )

    def _check(
        self,
        id: str,
        component: str,
        check: HttpCheckSettings,
        path: str,
        samples: int,
        expected_version: str | None = None,
    ) -> ServiceCheckJob:
        """A PostSync hook Job calling the API's Service; isolated like the API when network policies are on."""
        return ServiceCheckJob(
            self,
            id,
            ServiceCheckJobProps(
                name=f"{NAME}-{component}",
                labels=self.service.labels.for_component(component),
                service=self.service,
                path=path,
                image=check.image,
                expected_version=expected_version,
                requests=samples,
                retries=check.retries,
                retry_delay_seconds=check.retry_delay_seconds,
                timeout_seconds=check.timeout_seconds,
                backoff_limit=check.backoff_limit,
                active_deadline_seconds=check.active_deadline_seconds,
                isolated=self.settings.network_policy.enabled,
            ),
        )


def runtime_config(settings: CorePipelineSettings) -> dict[str, str]:
    """The non-sensitive environment of the seed's `env:` block, rendered into the ConfigMap."""
    telemetry = settings.telemetry
    config = {
        "NODE_ENV": settings.node_env,
        "PORT": str(CONTAINER_PORT),
        "LOG_LEVEL": settings.log_level,
        "METRICS_ENABLED": str(telemetry.metrics_enabled).lower(),
        "TRACING_ENABLED": str(telemetry.tracing_enabled).lower(),
        "OTEL_SERVICE_NAME": telemetry.otel_service_name,
        "OTEL_EXPORTER_OTLP_ENDPOINT": telemetry.otel_exporter_otlp_endpoint,
        "KAFKA_BROKERS": ",".join(settings.kafka.brokers),
        "KAFKA_CLIENT_ID": settings.kafka.client_id,
        "KAFKA_GROUP_ID": settings.kafka.group_id,
        "POSTGRES_HOST": settings.postgres.host,
        "POSTGRES_PORT": str(settings.postgres.port),
        "POSTGRES_DB": settings.postgres.database,
        "REDIS_HOST": settings.redis.host,
        "REDIS_PORT": str(settings.redis.port),
    }
    for flag, enabled in settings.feature_flags.items():
        config[f"FEATURE_{flag.upper()}"] = str(enabled).lower()
    return config


def credentials(settings: CorePipelineSettings) -> list[SecretKeyRef]:
    """POSTGRES_USER, POSTGRES_PASSWORD and REDIS_PASSWORD, referenced from existing Secrets only."""
    return [
        secret_env("POSTGRES_USER", settings.postgres.user),
        secret_env("POSTGRES_PASSWORD", settings.postgres.password),
        secret_env("REDIS_PASSWORD", settings.redis.password),
    ]


def ingress_options(settings: CorePipelineSettings) -> IngressOptions:
    ingress = settings.ingress
    return IngressOptions(
        hosts=ingress.hosts,
        class_name=ingress.class_name,
        tls=ingress.tls,
        cluster_issuer=ingress.cluster_issuer,
        rate_limit=RateLimit(
            requests_per_second=ingress.rate_limit.requests_per_second,
            burst_multiplier=ingress.rate_limit.burst_multiplier,
        )
        if ingress.rate_limit
        else None,
        cors=CorsPolicy(**ingress.cors.model_dump()) if ingress.cors else None,
        max_body_megabytes=ingress.max_body_megabytes,
        timeouts=ProxyTimeouts(**ingress.timeouts.model_dump()) if ingress.timeouts else None,
    )


def network_access(settings: CorePipelineSettings) -> NetworkAccess:
    """Ingress from the ingress controller and Prometheus; egress to exactly the ports of the services it uses."""
    policy = settings.network_policy
    egress = None
    if policy.restrict_egress:
        ports = sorted(
            {
                *(int(broker.rpartition(":")[2]) for broker in settings.kafka.brokers),
                settings.postgres.port,
                settings.redis.port,
                _url_port(settings.telemetry.otel_exporter_otlp_endpoint),
            }
        )
        egress = [EgressRule(ports=ports)]
    return NetworkAccess(
        from_namespaces=[*policy.ingress_namespaces, *policy.monitoring_namespaces],
        egress=egress,
    )


def _url_port(url: str) -> int:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return parts.port or (443 if parts.scheme == "https" else 80)
