"""The kairoflow stack: the nginx + php-fpm pod, its claims, CronJobs, Traefik routes and secrets
(seed: kairoflow-k8s-story.md, story 1.2)."""

from __future__ import annotations

from cdk8s import Chart
from cdk8s_plus_27 import k8s
from constructs import Construct

from constructs_lib import (
    AppService,
    AppServiceProps,
    ContainerSpec,
    HttpProbe,
    JobPod,
    NetworkAccess,
    PodSecurity,
    RateLimit,
    RecommendedLabels,
    RemoteKey,
    RetentionCron,
    RetentionCronProps,
    SyncedSecret,
    SyncedSecretProps,
    TcpProbe,
    TraefikWebRoute,
    TraefikWebRouteProps,
    VolumeClaim,
    VolumeClaims,
    VolumeClaimsProps,
    VolumeMount,
)
from constructs_lib.app_service import config_checksum
from constructs_lib.container import writable_scratch
from stacks.kairoflow import alerts
from stacks.kairoflow.nginx_config import default_conf, nginx_conf
from stacks.kairoflow.settings import CronSettings, KairoflowSettings
from stacks.system_chart import SystemChart

NAME = "kairoflow"
WEB = "kairoflow-web"
HTTP_PORT = 80
FASTCGI_PORT = 9000
# The images' www-data user (seed: "Run as www-data user (UID/GID 1000)"); fsGroup makes the claims writable.
APP_UID = 1000
APP_ROOT = "/var/www/html"
# Seed "Configure persistent volumes": the claim of each role and where both containers see it.
CLAIM_PATHS = {
    "uploads": f"{APP_ROOT}/www/uploads",
    "sessions": f"{APP_ROOT}/var/tmp/session",
    "recordings": f"{APP_ROOT}/var/tmp/recordings",
    "transcriptions": f"{APP_ROOT}/var/tmp/transcriptions",
}
LOG_PATH = f"{APP_ROOT}/var/log"
# Seed "Implement secrets management": one Secret per concern, every key becomes a variable of php-fpm.
SECRET_KEYS = {
    "database": ("DATABASE_HOST", "DATABASE_USER", "DATABASE_PASSWORD", "DATABASE_NAME", "DATABASE_PORT"),
    "redis": ("REDIS_HOST", "REDIS_PORT", "REDIS_PASSWORD"),
    "minio": ("MINIO_ENDPOINT", "MINIO_ACCESS_KEY", "MINIO_SECRET_KEY"),
    "openai": ("OPENAI_API_KEY",),
    "app": ("APP_SECRET", "JWT_SECRET"),
}
# Story 1.1: the application reads DATABASE_DSN next to DATABASE_USER and DATABASE_PASSWORD. Nette passes it to
# PDO, whose DSN names no credentials (the user and password are separate arguments), so the DSN is built from the
# kairoflow-database Secret's host, port and name by Kubernetes' dependent variable expansion: `$(NAME)` in a
# variable's value is replaced by the kubelet with the variable of that name defined before it (every `envFrom`
# Secret key is). No value of the Secret appears in dist/, and the password is in no DSN at all.
DATABASE_DSN = "pgsql:host=$(DATABASE_HOST);port=$(DATABASE_PORT);dbname=$(DATABASE_NAME)"
MIGRATE = ["php", "bin/console", "migrations:migrate", "--no-interaction", "--allow-no-migration"]
# Seed "Deployment Commands Reference".
CONSOLE_COMMANDS = {
    "email-processor": ["php", "bin/console", "app:email:process"],
    "invoice-generation": ["php", "bin/console", "app:invoice:generate"],
    "cleanup": ["php", "bin/console", "app:cleanup"],
    "schema-validation": ["php", "bin/console", "orm:schema:validate"],
}


class KairoflowChart(SystemChart):
    """Everything KairoFlow runs in one environment. Its Namespace is cluster-scoped, so it lives in a companion
    chart without a namespace (`companion_charts`)."""

    def __init__(self, scope: Construct, id: str, settings: KairoflowSettings) -> None:
        super().__init__(scope, id, system=NAME, version=settings.php.image.tag, settings=settings, observed=alerts)
        php_image = settings.php.image
        labels = RecommendedLabels(name=NAME, component="web", version=php_image.tag)
        self.companion_charts = [self._namespace(scope, f"{id}-namespace", settings, labels)]
        secret_names = self._secrets(settings, labels)

        claims = VolumeClaims(
            self,
            "Claims",
            VolumeClaimsProps(
                prefix=NAME,
                labels=labels.all,
                claims=[
                    VolumeClaim(name=role, size=getattr(settings.storage, role), mount_path=path)
                    for role, path in CLAIM_PATHS.items()
                ],
                storage_class=settings.storage.storage_class,
                access_mode=settings.storage.access_mode,
            ),
        )
        log_volume = k8s.Volume(name="logs", empty_dir=k8s.EmptyDirVolumeSource())
        log_mount = VolumeMount(volume="logs", mount_path=LOG_PATH)
        php_scratch, php_scratch_mounts = writable_scratch(["/tmp", f"{APP_ROOT}/var/tmp"], prefix="php-writable")
        nginx_files = {
            "nginx.conf": nginx_conf(settings.nginx_config),
            "default.conf": default_conf(settings.nginx_config),
        }
        nginx_config = f"{NAME}-nginx-config"
        k8s.KubeConfigMap(
            self, "NginxConfig", metadata=k8s.ObjectMeta(name=nginx_config, labels=labels.all), data=nginx_files
        )
        php = ContainerSpec(
            name="php-fpm",
            image=php_image,
            resources=settings.php.resources,
            ports={"fastcgi": FASTCGI_PORT},
            env=php_env(settings),
            env_from_secrets=[secret_names[concern] for concern in SECRET_KEYS],
            # Scratch first: the claims under var/tmp are mounted inside the writable var/tmp.
            volume_mounts=[*php_scratch_mounts, *claims.mounts, log_mount],
            liveness_probe=TcpProbe(port="fastcgi", initial_delay_seconds=30, period_seconds=10),
            readiness_probe=TcpProbe(port="fastcgi", initial_delay_seconds=5, period_seconds=5),
            post_start_command=MIGRATE if settings.migrate_on_start else None,
        )
        security = PodSecurity(
            run_as_user=APP_UID,
            # Lets the unprivileged nginx bind port 80 with every capability dropped.
            sysctls={"net.ipv4.ip_unprivileged_port_start": "0"},
        )
        self.web = AppService(
            self,
            "Web",
            AppServiceProps(
                name=WEB,
                container_name="nginx",
                component="web",
                part_of=NAME,
                instance=NAME,
                image=settings.nginx.image,
                port=HTTP_PORT,
                service_port=HTTP_PORT,
                resources=settings.nginx.resources,
                # Seed "Health Checks": /health on the nginx container.
                liveness_probe=HttpProbe(path="/health", initial_delay_seconds=30, period_seconds=10),
                readiness_probe=HttpProbe(path="/health", initial_delay_seconds=5, period_seconds=5),
                replicas=settings.replicas,
                # ReadWriteOnce claims cannot follow a surge pod to another node.
                strategy="Recreate" if settings.storage.access_mode == "ReadWriteOnce" else "RollingUpdate",
                writable_paths=["/tmp", "/var/cache/nginx"],
                volumes=[*claims.volumes, log_volume, *php_scratch, nginx_config_volume(nginx_config)],
                volume_mounts=[
                    *claims.mounts,
                    VolumeMount(
                        volume="nginx-config", mount_path="/etc/nginx/nginx.conf", sub_path="nginx.conf", read_only=True
                    ),
                    VolumeMount(
                        volume="nginx-config",
                        mount_path="/etc/nginx/conf.d/default.conf",
                        sub_path="default.conf",
                        read_only=True,
                    ),
                ],
                sidecars=[php],
                security=security,
                image_pull_secrets=[settings.secrets.registry],
                node_selector=settings.node_selector,
                spread=False,
                network_access=NetworkAccess(from_namespaces=settings.network_policy.ingress_namespaces)
                if settings.network_policy.enabled
                else None,
                pod_annotations={"checksum/nginx-config": config_checksum(nginx_files)},
            ),
        )
        # Seed "Network Security": security headers and rate limiting on the HTTPS route, each on unless turned off.
        headers, rate_limit = settings.route.security_headers, settings.route.rate_limit
        TraefikWebRoute(
            self,
            "Route",
            TraefikWebRouteProps(
                name=NAME,
                labels=labels.all,
                hosts=settings.hosts,
                service_name=self.web.service_name,
                service_port=self.web.service_port,
                cluster_issuer=settings.cluster_issuer,
                security_headers=headers if headers.enabled else None,
                rate_limit=RateLimit(
                    requests_per_second=rate_limit.requests_per_second, burst_multiplier=rate_limit.burst_multiplier
                )
                if rate_limit.enabled
                else None,
            ),
        )
        jobs = settings.cron_jobs
        for task, cron in (
            ("email-processor", jobs.email_processor),
            ("invoice-generation", jobs.invoice_generation),
            ("cleanup", jobs.cleanup),
            ("schema-validation", jobs.schema_validation),
        ):
            if cron.enabled:
                self._cron_job(task, cron, settings, labels, php, claims, php_scratch, log_volume)

    def _cron_job(
        self,
        task: str,
        cron: CronSettings,
        settings: KairoflowSettings,
        labels: RecommendedLabels,
        php: ContainerSpec,
        claims: VolumeClaims,
        php_scratch: list[k8s.Volume],
        log_volume: k8s.Volume,
    ) -> None:
        RetentionCron(
            self,
            f"Cron-{task}",
            RetentionCronProps(
                name=f"{NAME}-{task}",
                labels=labels.for_component(task),
                schedule=cron.schedule,
                time_zone=settings.cron_jobs.time_zone,
                concurrency_policy="Forbid",
                pod=JobPod(
                    # The php-fpm container's image, env and mounts, running one console command.
                    container=ContainerSpec(
                        name=task,
                        image=php.image,
                        resources=settings.cron_resources,
                        command=CONSOLE_COMMANDS[task],
                        env=php.env,
                        env_from_secrets=php.env_from_secrets,
                        volume_mounts=php.volume_mounts,
                    ),
                    volumes=[*claims.volumes, log_volume, *php_scratch],
                    writable_paths=(),
                    active_deadline_seconds=cron.active_deadline_seconds,
                    security=PodSecurity(run_as_user=APP_UID),
                    service_account_name=self.web.service_account_name,
                    node_selector=settings.node_selector,
                    # A ReadWriteOnce claim attaches to one node: each run goes to the node the web pod is on.
                    colocate_with=self.web if settings.storage.access_mode == "ReadWriteOnce" else None,
                ),
            ),
        )

    def _namespace(self, scope: Construct, id: str, settings: KairoflowSettings, labels: RecommendedLabels) -> Chart:
        chart = Chart(scope, id, disable_resource_name_hashes=True)
        k8s.KubeNamespace(
            chart,
            "Namespace",
            metadata=k8s.ObjectMeta(name=settings.namespace, labels=labels.for_component("namespace").all),
        )
        return chart

    def _secrets(self, settings: KairoflowSettings, labels: RecommendedLabels) -> dict[str, str]:
        """The Secret name of each concern; with External Secrets, the ExternalSecrets that create them."""
        names = {concern: f"{NAME}-{concern}" for concern in SECRET_KEYS}
        external = settings.secrets.external_secrets
        if settings.secrets.source != "external_secrets" or external is None:
            return names
        secret_labels = labels.for_component("secrets").all
        for concern, keys in SECRET_KEYS.items():
            SyncedSecret(
                self,
                f"Secret-{concern}",
                SyncedSecretProps(
                    name=names[concern],
                    labels=secret_labels,
                    store=external.store,
                    store_kind=external.store_kind,
                    refresh_interval=external.refresh_interval,
                    data={key: RemoteKey(key=f"{external.remote_prefix}/{concern}", property=key) for key in keys},
                ),
            )
        SyncedSecret(
            self,
            "Secret-registry",
            SyncedSecretProps(
                name=settings.secrets.registry,
                labels=secret_labels,
                store=external.store,
                store_kind=external.store_kind,
                refresh_interval=external.refresh_interval,
                secret_type="kubernetes.io/dockerconfigjson",
                data={
                    ".dockerconfigjson": RemoteKey(
                        key=f"{external.remote_prefix}/registry", property="dockerconfigjson"
                    )
                },
            ),
        )
        return names


def php_env(settings: KairoflowSettings) -> dict[str, str]:
    limits = settings.php_limits
    return {
        "PHP_MAX_EXECUTION_TIME": str(limits.max_execution_time),
        "PHP_MEMORY_LIMIT": limits.memory_limit,
        "PHP_POST_MAX_SIZE": limits.post_max_size,
        "PHP_UPLOAD_MAX_FILESIZE": limits.upload_max_filesize,
        "NETTE_ENV": settings.nette_env,
        "NETTE_DEBUG": "1" if settings.nette_debug else "0",
        "MINIO_USE_SSL": "true" if settings.minio_use_ssl else "false",
        "DATABASE_DSN": DATABASE_DSN,
    }


def nginx_config_volume(name: str) -> k8s.Volume:
    return k8s.Volume(name="nginx-config", config_map=k8s.ConfigMapVolumeSource(name=name))
