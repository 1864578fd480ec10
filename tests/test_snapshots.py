"""Snapshots pin constructs rendered alone with representative props; dist/ (kept current by tests/test_cli.py) pins
every environment.

One snapshot per construct of constructs_lib (two for WebIngress: nginx and Traefik render different objects), in
tests/__snapshots__/test_snapshots/<test>.yaml, each built in a fresh chart rather than through a system stack:
what a stack renders is in dist/ already, and a second copy of it here would show every change twice in a pull
request. `pytest --snapshot-update` regenerates them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import cdk8s  # as a module: pytest would collect cdk8s.Testing as a test class
from cdk8s_plus_27 import k8s
from syrupy.assertion import SnapshotAssertion

from constructs_lib import (
    Alert,
    AlertRules,
    AlertRulesProps,
    AppService,
    AppServiceProps,
    BatchJob,
    BatchJobProps,
    BotEgress,
    BotStack,
    BotStackProps,
    ContainerSpec,
    CorsPolicy,
    DatabaseConnection,
    EgressRule,
    GrafanaDashboard,
    GrafanaDashboardProps,
    HttpProbe,
    IngressOptions,
    IngressPath,
    JobPod,
    JobPodTemplate,
    JobPodTemplateProps,
    LeaderElection,
    Metrics,
    NetworkAccess,
    ObjectStoreTarget,
    PeerSelector,
    PodNetworkPolicy,
    PodNetworkPolicyProps,
    PostgresBackupJob,
    PostgresBackupJobProps,
    ProxyTimeouts,
    RateLimit,
    RecommendedLabels,
    Redis,
    RedisProps,
    RemoteKey,
    RetentionCron,
    RetentionCronProps,
    SecretKeyRef,
    ServiceCheckJob,
    ServiceCheckJobProps,
    SyncedSecret,
    SyncedSecretProps,
    SyncHookJob,
    SyncHookJobProps,
    TraefikWebRoute,
    TraefikWebRouteProps,
    VolumeClaim,
    VolumeClaims,
    VolumeClaimsProps,
    WatcherNetworkPolicy,
    WatcherSidecar,
    WatcherSidecarProps,
    WebIngress,
    WebIngressProps,
)
from delivery.output import stack_yaml
from tests.construct_helpers import IMAGE, PROBE, RESOURCES, synth
from value_types.images import ImageSettings
from value_types.watcher import WatcherStatsSettings
from value_types.web import SecurityHeadersSettings
from value_types.workloads import AutoscalingSettings, SecretKey

# The application most snapshots belong to, and a sibling workload of it for the relations (`allow_from`,
# `colocate_with`) that need one.
WEB_LABELS = RecommendedLabels(name="web", component="server", version="1.2.3")


@dataclass(frozen=True)
class SiblingWorkload:
    """A `Workload` of the same application that renders nothing itself, so a snapshot shows only what the
    construct under test renders for the relation."""

    labels: RecommendedLabels

    @property
    def selector_labels(self) -> dict[str, str]:
        return self.labels.selector


WORKER = SiblingWorkload(WEB_LABELS.for_component("worker"))


def rendered_alone(build: Callable[[cdk8s.Chart], Any]) -> str:
    """What `build` renders in a fresh chart (namespace `apps`), as the YAML stream dist/ files are made of."""
    return stack_yaml(synth(build))


def test_app_service_with_autoscaling_ingress_and_metrics(yaml_snapshot: SnapshotAssertion) -> None:
    def build(chart: cdk8s.Chart) -> None:
        web = AppService(
            chart,
            "Web",
            AppServiceProps(
                name="web",
                image=IMAGE,
                port=8080,
                resources=RESOURCES,
                liveness_probe=PROBE,
                readiness_probe=HttpProbe(path="/ready"),
                config={"LOG_LEVEL": "info"},
                secret_env=[SecretKeyRef(env_name="DATABASE_URL", secret_name="web-db", key="url")],
                autoscaling=AutoscalingSettings(enabled=True, min_replicas=2, max_replicas=5),
                max_unavailable=1,
                metrics=Metrics(service_monitor_labels={"release": "kube-prometheus-stack"}),
                network_access=NetworkAccess(from_namespaces=["ingress-nginx"], egress=[EgressRule(ports=[5432])]),
            ),
        )
        web.expose_via_ingress(IngressOptions(hosts=["web.example.com"]))

    assert rendered_alone(build) == yaml_snapshot


def test_bot_stack_with_redis_leader_election_and_egress(yaml_snapshot: SnapshotAssertion) -> None:
    def build(chart: cdk8s.Chart) -> None:
        BotStack(
            chart,
            "Bot",
            BotStackProps(
                name="bot",
                image=IMAGE,
                resources=RESOURCES,
                port=8080,
                liveness_probe=PROBE,
                readiness_probe=PROBE,
                credentials=[SecretKeyRef(env_name="BOT_TOKEN", secret_name="bot-token", key="BOT_TOKEN")],
                replicas=3,
                redis=RedisProps(name="bot-redis", part_of="bot", password_secret="redis-auth"),
                leader_election=LeaderElection(lease_name="bot-leader"),
                egress=BotEgress(rules=[EgressRule(ports=[443])]),
            ),
        )

    assert rendered_alone(build) == yaml_snapshot


def test_redis_with_storage_class_eviction_and_clients(yaml_snapshot: SnapshotAssertion) -> None:
    def build(chart: cdk8s.Chart) -> None:
        redis = Redis(
            chart,
            "Redis",
            RedisProps(
                name="web-cache",
                part_of="web",
                password_secret="web-cache-auth",
                storage_size="2Gi",
                storage_class="fast",
                max_memory_policy="allkeys-lru",
                clients=[SiblingWorkload(WEB_LABELS)],
            ),
        )
        redis.allow_from(WORKER)

    assert rendered_alone(build) == yaml_snapshot


def test_watcher_sidecar_with_bridge_and_filters_in_a_job_pod_template(yaml_snapshot: SnapshotAssertion) -> None:
    agent = RecommendedLabels(name="agent", component="worker", version="1.0.0")

    def build(chart: cdk8s.Chart) -> None:
        watcher = WatcherSidecar(
            chart,
            "Watcher",
            WatcherSidecarProps(
                workload=agent,
                image=ImageSettings(repository="discord-monitor", tag="1.0.0"),
                webhook_secret=SecretKey(secret="watcher-webhook", key="webhook-url"),
                filters={"include_tools": True},
                stats=WatcherStatsSettings(enabled=True, tokens=True),
                agent_input_fifo="/workspace/in.fifo",
                bridge_enabled=True,
                network_policy=WatcherNetworkPolicy(
                    allow_from_bot=PeerSelector(pod_labels={"app.kubernetes.io/name": "bot"})
                ),
            ),
        )
        pod = watcher.attach(ContainerSpec(name="agent", image=IMAGE, resources=RESOURCES, command=["run"]))
        JobPodTemplate(
            chart,
            "Job",
            JobPodTemplateProps(
                name="agent",
                labels=agent,
                pod=JobPod(container=pod.container, sidecars=pod.sidecars, volumes=pod.volumes),
            ),
        )

    assert rendered_alone(build) == yaml_snapshot


def test_batch_job_on_a_claim_beside_its_workload(yaml_snapshot: SnapshotAssertion) -> None:
    def build(chart: cdk8s.Chart) -> None:
        BatchJob(
            chart,
            "Reindex",
            BatchJobProps(
                name="web-reindex",
                labels=WEB_LABELS.for_component("reindex"),
                pod=JobPod(
                    container=ContainerSpec(name="reindex", image=IMAGE, resources=RESOURCES, command=["reindex"]),
                    volumes=[
                        k8s.Volume(
                            name="data",
                            persistent_volume_claim=k8s.PersistentVolumeClaimVolumeSource(claim_name="web-data"),
                        )
                    ],
                    backoff_limit=3,
                    active_deadline_seconds=1800,
                    colocate_with=WORKER,
                ),
                annotations={"argocd.argoproj.io/sync-wave": "1"},
            ),
        )

    assert rendered_alone(build) == yaml_snapshot


def test_retention_cron_in_a_time_zone_with_a_starting_deadline(yaml_snapshot: SnapshotAssertion) -> None:
    def build(chart: cdk8s.Chart) -> None:
        RetentionCron(
            chart,
            "Retention",
            RetentionCronProps(
                name="web-retention",
                labels=WEB_LABELS.for_component("retention"),
                schedule="0 3 * * *",
                time_zone="Europe/Amsterdam",
                starting_deadline_seconds=300,
                pod=JobPod(
                    container=ContainerSpec(
                        name="prune", image=IMAGE, resources=RESOURCES, command=["prune"], env={"KEEP_DAYS": "30"}
                    )
                ),
            ),
        )

    assert rendered_alone(build) == yaml_snapshot


def test_sync_hook_job_migrating_before_the_sync(yaml_snapshot: SnapshotAssertion) -> None:
    def build(chart: cdk8s.Chart) -> None:
        SyncHookJob(
            chart,
            "Migrate",
            SyncHookJobProps(
                name="web-migrate",
                labels=WEB_LABELS.for_component("migration"),
                container=ContainerSpec(
                    name="migrate",
                    image=IMAGE,
                    resources=RESOURCES,
                    command=["migrate", "up"],
                    secret_env=[SecretKeyRef(env_name="DATABASE_URL", secret_name="web-db", key="url")],
                ),
            ),
        )

    assert rendered_alone(build) == yaml_snapshot


def test_postgres_backup_job_to_an_object_store(yaml_snapshot: SnapshotAssertion) -> None:
    def build(chart: cdk8s.Chart) -> None:
        PostgresBackupJob(
            chart,
            "Backup",
            PostgresBackupJobProps(
                name="web-backup",
                labels=WEB_LABELS.for_component("backup"),
                image=ImageSettings(repository="postgres", tag="16.4-alpine"),
                database=DatabaseConnection(
                    host="postgres.data.svc.cluster.local",
                    port=5432,
                    database="web",
                    user=SecretKeyRef(env_name="POSTGRES_USER", secret_name="web-db", key="user"),
                    password=SecretKeyRef(env_name="POSTGRES_PASSWORD", secret_name="web-db", key="password"),
                ),
                target=ObjectStoreTarget(
                    endpoint="https://minio.data.svc.cluster.local:9000",
                    bucket="backups",
                    prefix="web",
                    access_key_id=SecretKeyRef(env_name="AWS_ACCESS_KEY_ID", secret_name="store", key="id"),
                    secret_access_key=SecretKeyRef(env_name="AWS_SECRET_ACCESS_KEY", secret_name="store", key="secret"),
                    uploader_image=ImageSettings(repository="amazon/aws-cli", tag="2.15.0"),
                ),
            ),
        )

    assert rendered_alone(build) == yaml_snapshot


def test_service_check_job_admitted_by_the_service_it_calls(yaml_snapshot: SnapshotAssertion) -> None:
    def build(chart: cdk8s.Chart) -> None:
        api = AppService(
            chart,
            "Api",
            AppServiceProps(
                name="api",
                image=IMAGE,
                port=3000,
                resources=RESOURCES,
                liveness_probe=PROBE,
                readiness_probe=PROBE,
                network_access=NetworkAccess(),
            ),
        )
        ServiceCheckJob(
            chart,
            "Smoke",
            ServiceCheckJobProps(
                name="api-smoke-test",
                labels=api.labels.for_component("smoke-test"),
                service=api,
                path="/health",
                image=ImageSettings(repository="curlimages/curl", tag="8.11.1"),
                expected_text='"status":"ok"',
                requests=3,
            ),
        )

    # The service it calls is there for the reference; of its objects only the NetworkPolicy, which the check
    # amends to admit its pods, is the check's doing (the rest is the AppService snapshot's to pin).
    service_kinds_left_out = {"Deployment", "Service", "ServiceAccount"}
    objects = [m for m in synth(build) if not (m["metadata"]["name"] == "api" and m["kind"] in service_kinds_left_out)]
    assert stack_yaml(objects) == yaml_snapshot


def test_synced_secret_from_a_cluster_store(yaml_snapshot: SnapshotAssertion) -> None:
    def build(chart: cdk8s.Chart) -> None:
        SyncedSecret(
            chart,
            "Secret",
            SyncedSecretProps(
                name="web-db",
                labels=WEB_LABELS.all,
                store="vault",
                data={
                    "url": RemoteKey(key="web/db", property="url"),
                    "password": RemoteKey(key="web/db", property="password"),
                },
            ),
        )

    assert rendered_alone(build) == yaml_snapshot


def test_pod_network_policy_with_every_kind_of_peer_and_egress(yaml_snapshot: SnapshotAssertion) -> None:
    def build(chart: cdk8s.Chart) -> None:
        policy = PodNetworkPolicy(
            chart,
            "Policy",
            PodNetworkPolicyProps(
                name="web",
                labels=WEB_LABELS.all,
                pod_selector=WEB_LABELS.selector,
                ports=[8080, 9090],
                access=NetworkAccess(
                    from_namespaces=["ingress-nginx"],
                    from_selectors=[
                        PeerSelector(pod_labels={"app.kubernetes.io/name": "prometheus"}, namespace_labels={})
                    ],
                    from_cidrs=["10.0.0.0/8"],
                    egress=[
                        EgressRule(ports=[5432], cidrs=["10.20.0.0/16"]),
                        EgressRule(ports=[6379], to=[PeerSelector(pod_labels={"app.kubernetes.io/name": "redis"})]),
                    ],
                ),
            ),
        )
        policy.allow_from(WORKER)

    assert rendered_alone(build) == yaml_snapshot


@dataclass(frozen=True)
class ServiceName:
    """What an Ingress routes to, without rendering the service behind it."""

    service_name: str
    service_port_name: str = "http"


def web_ingress_alone(options: IngressOptions) -> str:
    """The Ingress the web service gets for `options`, rendered alone."""

    def build(chart: cdk8s.Chart) -> None:
        WebIngress(
            chart,
            "Ingress",
            WebIngressProps.for_service(ServiceName("web"), options, name="web", labels=WEB_LABELS.all),
        )

    return rendered_alone(build)


def test_web_ingress_nginx_with_rate_limit_cors_body_size_and_timeouts(yaml_snapshot: SnapshotAssertion) -> None:
    options = IngressOptions(
        hosts=["web.example.com", "www.example.com"],
        rate_limit=RateLimit(requests_per_second=20),
        cors=CorsPolicy(allow_origins=["https://app.example.com"]),
        max_body_megabytes=8,
        timeouts=ProxyTimeouts(read_seconds=120),
        extra_paths=[IngressPath(path="/api", service=ServiceName("api"))],
    )
    assert web_ingress_alone(options) == yaml_snapshot


def test_web_ingress_traefik_with_middlewares(yaml_snapshot: SnapshotAssertion) -> None:
    options = IngressOptions(
        hosts=["web.example.com"],
        class_name="traefik",
        rate_limit=RateLimit(requests_per_second=20),
        cors=CorsPolicy(allow_origins=["https://app.example.com"]),
        max_body_megabytes=8,
    )
    assert web_ingress_alone(options) == yaml_snapshot


def test_traefik_web_route_with_security_headers_rate_limit_and_redirect(yaml_snapshot: SnapshotAssertion) -> None:
    def build(chart: cdk8s.Chart) -> None:
        TraefikWebRoute(
            chart,
            "Route",
            TraefikWebRouteProps(
                name="web",
                labels=WEB_LABELS.all,
                hosts=["web.example.com"],
                service_name="web",
                service_port=80,
                security_headers=SecurityHeadersSettings(content_security_policy="default-src 'self'"),
                rate_limit=RateLimit(requests_per_second=20),
            ),
        )

    assert rendered_alone(build) == yaml_snapshot


def test_volume_claims_with_a_storage_class(yaml_snapshot: SnapshotAssertion) -> None:
    def build(chart: cdk8s.Chart) -> None:
        VolumeClaims(
            chart,
            "Claims",
            VolumeClaimsProps(
                prefix="web",
                labels=WEB_LABELS.all,
                claims=[
                    VolumeClaim(name="data", size="5Gi", mount_path="/data"),
                    VolumeClaim(name="cache", size="1Gi", mount_path="/cache"),
                ],
                storage_class="fast",
            ),
        )

    assert rendered_alone(build) == yaml_snapshot


def test_grafana_dashboard_in_a_folder(yaml_snapshot: SnapshotAssertion) -> None:
    dashboard = {
        "uid": "web-dev",
        "title": "web (dev)",
        "panels": [
            {
                "type": "timeseries",
                "title": "Restarts",
                "targets": [{"expr": 'sum(increase(kube_pod_container_status_restarts_total{namespace="apps"}[5m]))'}],
            }
        ],
    }

    def build(chart: cdk8s.Chart) -> None:
        GrafanaDashboard(
            chart,
            "Dashboard",
            GrafanaDashboardProps(
                name="web-dashboard", labels=WEB_LABELS.for_component("dashboard"), dashboard=dashboard, folder="Web"
            ),
        )

    assert rendered_alone(build) == yaml_snapshot


def test_alert_rules_with_rule_labels_and_an_evaluation_interval(yaml_snapshot: SnapshotAssertion) -> None:
    alerts = [
        Alert(
            name="WebDown",
            expr='up{job="web"} == 0',
            for_="5m",
            severity="critical",
            summary="web is down",
            description="No web target answers its scrape.",
        ),
        Alert(
            name="WebRestarting",
            expr='increase(kube_pod_container_status_restarts_total{container="web"}[15m]) > 3',
            for_="10m",
            severity="warning",
            summary="web restarts ({{ $value }} in 15m)",
            description="A web container keeps restarting.",
        ),
    ]

    def build(chart: cdk8s.Chart) -> None:
        AlertRules(
            chart,
            "Alerts",
            AlertRulesProps(
                name="web",
                labels=WEB_LABELS.for_component("alerts"),
                alerts=alerts,
                runbook_url="https://example.com/docs/runbooks/web.md",
                rule_labels={"release": "kube-prometheus-stack"},
                evaluation_interval="1m",
            ),
        )

    assert rendered_alone(build) == yaml_snapshot
