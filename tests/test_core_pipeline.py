"""core-pipeline against its seed (core-pipeline-helm.md): every value the seed fixes, per environment.

Expected values are transcribed from the seed, not from the output; each block cites the seed section.
"""

from __future__ import annotations

from typing import Any

import cdk8s  # as a module: pytest would collect cdk8s.Testing as a test class
import pytest

from engine import Manifest, RenderedEnvironment
from environment_model.paths import ROOT
from environment_model.settings import SettingsError, load_environment, parse_environment
from stacks.core_pipeline.chart import CorePipelineChart
from tests.conftest import containers, find
from tests.test_rendered_output import crd_validator

# Seed "Resource Limits".
SEED_RESOURCES = {
    "dev": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"cpu": "200m", "memory": "256Mi"}},
    "staging": {"requests": {"cpu": "250m", "memory": "256Mi"}, "limits": {"cpu": "500m", "memory": "512Mi"}},
    "prod": {"requests": {"cpu": "500m", "memory": "512Mi"}, "limits": {"cpu": "1000m", "memory": "1Gi"}},
}
# Seed "Image Configuration": IfNotPresent for production, Always for dev.
SEED_PULL_POLICY = {"dev": "Always", "staging": "IfNotPresent", "prod": "IfNotPresent"}
# Seed "HPA" and values-<env>.yaml: disabled in dev (replicaCount 1), staging 2-10, prod 3-20.
SEED_SCALING = {"dev": None, "staging": (2, 10), "prod": (3, 20)}
# Seed values-<env>.yaml env blocks and the LOG_LEVEL comment.
SEED_NODE_ENV = {"dev": "development", "staging": "staging", "prod": "production"}
SEED_LOG_LEVEL = {"dev": "debug", "staging": "info", "prod": "warn"}
# Seed values-<env>.yaml ingress hostnames; TLS in staging and prod.
SEED_HOST = {
    "dev": "core-pipeline-dev.example.com",
    "staging": "core-pipeline-staging.example.com",
    "prod": "core-pipeline.example.com",
}
SEED_TLS = {"dev": False, "staging": True, "prod": True}
ENVS = ["dev", "staging", "prod"]


def stack(rendered: dict[str, RenderedEnvironment], env: str) -> list[Manifest]:
    return rendered[env]["core-pipeline"]


def app_container(manifests: list[Manifest]) -> dict[str, Any]:
    container: dict[str, Any] = find(manifests, "Deployment", "core-pipeline")["spec"]["template"]["spec"][
        "containers"
    ][0]
    return container


@pytest.mark.parametrize("env", ENVS)
def test_port_3000_behind_service_port_80_named_http(rendered: dict[str, RenderedEnvironment], env: str) -> None:
    manifests = stack(rendered, env)
    assert app_container(manifests)["ports"] == [{"containerPort": 3000, "name": "http", "protocol": "TCP"}]
    service = find(manifests, "Service", "core-pipeline")["spec"]
    assert service["type"] == "ClusterIP"
    assert service["ports"] == [{"name": "http", "port": 80, "targetPort": 3000, "protocol": "TCP"}]


@pytest.mark.parametrize("env", ENVS)
def test_probes_match_seed(rendered: dict[str, RenderedEnvironment], env: str) -> None:
    container = app_container(stack(rendered, env))
    liveness, readiness = container["livenessProbe"], container["readinessProbe"]
    assert liveness["httpGet"] == {"path": "/health", "port": "http"}
    assert (
        liveness["initialDelaySeconds"],
        liveness["periodSeconds"],
        liveness["timeoutSeconds"],
        liveness["failureThreshold"],
    ) == (30, 10, 5, 3)
    assert readiness["httpGet"] == {"path": "/ok", "port": "http"}
    assert (
        readiness["initialDelaySeconds"],
        readiness["periodSeconds"],
        readiness["timeoutSeconds"],
        readiness["failureThreshold"],
    ) == (10, 5, 3, 3)
    # cdk8s-plus adds a TCP startup probe by default; the seed has none.
    assert "startupProbe" not in container


@pytest.mark.parametrize("env", ENVS)
def test_prometheus_scrape_annotations(rendered: dict[str, RenderedEnvironment], env: str) -> None:
    annotations = find(stack(rendered, env), "Deployment")["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert annotations["prometheus.io/path"] == "/metrics"
    assert annotations["prometheus.io/port"] == "3000"


@pytest.mark.parametrize("env", ENVS)
def test_security_context_uid_1000_fsgroup_readonly_drop_all(
    rendered: dict[str, RenderedEnvironment], env: str
) -> None:
    pod = find(stack(rendered, env), "Deployment")["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == 1000
    assert pod["securityContext"]["fsGroup"] == 1000
    container = pod["containers"][0]["securityContext"]
    assert container["readOnlyRootFilesystem"] is True
    assert container["capabilities"] == {"drop": ["ALL"]}
    assert container["allowPrivilegeEscalation"] is False
    # Read-only root: the seed's "volume mounts for temporary files" is a writable emptyDir at /tmp.
    mounts = {m["mountPath"]: m["name"] for m in pod["containers"][0]["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert "emptyDir" in volumes[mounts["/tmp"]]


@pytest.mark.parametrize("env", ENVS)
def test_resources_and_pull_policy_per_environment(rendered: dict[str, RenderedEnvironment], env: str) -> None:
    container = app_container(stack(rendered, env))
    assert container["resources"] == SEED_RESOURCES[env]
    assert container["imagePullPolicy"] == SEED_PULL_POLICY[env]


@pytest.mark.parametrize("env", ENVS)
def test_replicas_and_autoscaling_per_environment(rendered: dict[str, RenderedEnvironment], env: str) -> None:
    manifests = stack(rendered, env)
    deployment = find(manifests, "Deployment")["spec"]
    assert deployment["strategy"]["type"] == "RollingUpdate"
    hpas = [m for m in manifests if m["kind"] == "HorizontalPodAutoscaler"]
    if SEED_SCALING[env] is None:
        assert deployment["replicas"] == 1
        assert hpas == []
        return
    assert "replicas" not in deployment, "an HPA-scaled Deployment must not fix replicas"
    (hpa,) = hpas
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == SEED_SCALING[env]
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "core-pipeline"}
    targets = {m["resource"]["name"]: m["resource"]["target"] for m in hpa["spec"]["metrics"]}
    assert targets == {
        "cpu": {"type": "Utilization", "averageUtilization": 80},
        "memory": {"type": "Utilization", "averageUtilization": 80},
    }


@pytest.mark.parametrize("env", ENVS)
def test_environment_variables(rendered: dict[str, RenderedEnvironment], env: str) -> None:
    manifests = stack(rendered, env)
    container = app_container(manifests)
    config_name = container["envFrom"][0]["configMapRef"]["name"]
    config = find(manifests, "ConfigMap", config_name)["data"]
    # Seed "Environment Variables", with the per-environment values of values-<env>.yaml.
    assert config["NODE_ENV"] == SEED_NODE_ENV[env]
    assert config["LOG_LEVEL"] == SEED_LOG_LEVEL[env]
    assert config["PORT"] == "3000"
    assert config["METRICS_ENABLED"] == "true"
    assert config["TRACING_ENABLED"] == "true"
    assert config["OTEL_SERVICE_NAME"] == "core-pipeline"
    assert config["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://tempo:4318"
    assert config["KAFKA_CLIENT_ID"] == "core-pipeline"
    assert config["KAFKA_GROUP_ID"] == "core-pipeline-group"
    assert config["KAFKA_BROKERS"].split(",") == load_environment(env).core_pipeline.kafka.brokers
    assert config["POSTGRES_PORT"] == "5432"
    assert config["POSTGRES_DB"] == "core-pipeline"
    assert config["POSTGRES_HOST"]
    assert config["REDIS_PORT"] == "6379"
    assert config["REDIS_HOST"]
    # Credentials only as Secret references, never as values anywhere.
    secret_env = {e["name"]: e["valueFrom"]["secretKeyRef"] for e in container["env"] if "valueFrom" in e}
    assert set(secret_env) == {"POSTGRES_USER", "POSTGRES_PASSWORD", "REDIS_PASSWORD"}
    assert all(ref["name"] and ref["key"] for ref in secret_env.values())
    for forbidden in ("POSTGRES_USER", "POSTGRES_PASSWORD", "REDIS_PASSWORD"):
        assert forbidden not in config
        assert not any(e["name"] == forbidden and "value" in e for e in container.get("env", []))


@pytest.mark.parametrize("env", ENVS)
def test_config_change_rolls_pods(rendered: dict[str, RenderedEnvironment], env: str) -> None:
    from constructs_lib.app_service import config_checksum

    manifests = stack(rendered, env)
    config = find(manifests, "ConfigMap", "core-pipeline-config")["data"]
    annotations = find(manifests, "Deployment")["spec"]["template"]["metadata"]["annotations"]
    assert annotations["checksum/config"] == config_checksum(config)


@pytest.mark.parametrize("env", ENVS)
def test_ingress_hosts_tls_and_rate_limit(rendered: dict[str, RenderedEnvironment], env: str) -> None:
    ingress = find(stack(rendered, env), "Ingress", "core-pipeline")
    annotations = ingress["metadata"].get("annotations", {})
    assert [rule["host"] for rule in ingress["spec"]["rules"]] == [SEED_HOST[env]]
    backend = ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    assert backend == {"name": "core-pipeline", "port": {"name": "http"}}
    if SEED_TLS[env]:
        assert ingress["spec"]["tls"] == [{"hosts": [SEED_HOST[env]], "secretName": "core-pipeline-tls"}]
        assert annotations["cert-manager.io/cluster-issuer"] == "letsencrypt-prod"
    else:
        assert "tls" not in ingress["spec"]
        assert "cert-manager.io/cluster-issuer" not in annotations
    # Seed: "Rate limiting annotations for production".
    rate_limited = "nginx.ingress.kubernetes.io/limit-rps" in annotations
    assert rate_limited == (env == "prod")


@pytest.mark.parametrize("env", ENVS)
def test_service_monitor_scrapes_metrics_on_http(rendered: dict[str, RenderedEnvironment], env: str) -> None:
    manifests = stack(rendered, env)
    monitor = find(manifests, "ServiceMonitor", "core-pipeline")
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    endpoint = monitor["spec"]["endpoints"][0]
    assert endpoint["port"] == "http"
    assert endpoint["path"] == "/metrics"
    service = find(manifests, "Service", "core-pipeline")
    selector = monitor["spec"]["selector"]["matchLabels"]
    assert all(service["metadata"]["labels"].get(k) == v for k, v in selector.items())


@pytest.mark.parametrize("env", ENVS)
def test_network_policy_allows_ingress_controller_and_restricts_egress(
    rendered: dict[str, RenderedEnvironment], env: str
) -> None:
    policy = find(stack(rendered, env), "NetworkPolicy", "core-pipeline")["spec"]
    assert policy["policyTypes"] == ["Ingress", "Egress"]
    namespaces = {
        p["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"] for p in policy["ingress"][0]["from"]
    }
    assert namespaces == {"ingress-nginx", "monitoring"}
    assert policy["ingress"][0]["ports"] == [{"port": 3000, "protocol": "TCP"}]
    egress_ports = {p["port"] for rule in policy["egress"] for p in rule["ports"]}
    # DNS, OTLP (Tempo 4318), PostgreSQL 5432, Redis 6379, Kafka 9092.
    assert egress_ports == {53, 4318, 5432, 6379, 9092}


@pytest.mark.parametrize("env", ENVS)
def test_pod_disruption_budget_only_with_several_replicas(rendered: dict[str, RenderedEnvironment], env: str) -> None:
    budgets = [m for m in stack(rendered, env) if m["kind"] == "PodDisruptionBudget"]
    if SEED_SCALING[env] is None:
        assert budgets == []  # one replica: a budget would block node drains
    else:
        (budget,) = budgets
        assert budget["spec"]["maxUnavailable"] == 1


@pytest.mark.parametrize("env", ENVS)
def test_migration_is_an_argocd_presync_hook(rendered: dict[str, RenderedEnvironment], env: str) -> None:
    manifests = stack(rendered, env)
    job = find(manifests, "Job", "core-pipeline-migrate")
    annotations = job["metadata"]["annotations"]
    assert annotations["argocd.argoproj.io/hook"] == "PreSync"
    assert annotations["argocd.argoproj.io/hook-delete-policy"] == "BeforeHookCreation"
    (container,) = containers(job)
    assert container["image"] == app_container(manifests)["image"]
    # PreSync runs before this sync's ConfigMap exists: configuration inline, no envFrom.
    assert "envFrom" not in container
    env_names = {e["name"] for e in container["env"]}
    assert {"POSTGRES_HOST", "POSTGRES_DB", "POSTGRES_USER", "POSTGRES_PASSWORD"} <= env_names
    assert job["spec"]["template"]["spec"]["restartPolicy"] == "Never"


def test_every_object_in_the_settings_namespace(rendered: dict[str, RenderedEnvironment]) -> None:
    for env in ENVS:
        assert {m["metadata"].get("namespace") for m in stack(rendered, env)} == {"core-pipeline"}


def test_image_tag_is_the_version_label(rendered: dict[str, RenderedEnvironment]) -> None:
    for env in ENVS:
        deployment = find(stack(rendered, env), "Deployment")
        tag = app_container(stack(rendered, env))["image"].rsplit(":", 1)[1]
        assert deployment["metadata"]["labels"]["app.kubernetes.io/version"] == tag


# --- hooks (seed "Helm Hooks"), all switched on in the test environment ---------------------------------------------


def test_post_sync_smoke_test_calls_the_health_endpoint_through_the_service(
    rendered: dict[str, RenderedEnvironment],
) -> None:
    manifests = stack(rendered, "test")
    job = find(manifests, "Job", "core-pipeline-smoke-test")
    assert job["metadata"]["annotations"] == {
        "argocd.argoproj.io/hook": "PostSync",
        "argocd.argoproj.io/hook-delete-policy": "BeforeHookCreation",
    }
    (container,) = containers(job)
    env = {item["name"]: item["value"] for item in container["env"]}
    # The Service in the stack's namespace (headless in test: the pods' port 3000); the liveness path /health.
    assert env["URL"] == "http://core-pipeline.core-pipeline.svc:3000/health"
    assert (env["RETRIES"], env["RETRY_DELAY_SECONDS"]) == ("3", "2")
    assert job["spec"]["activeDeadlineSeconds"] == 300
    assert container["image"].startswith("curlimages/curl:")


def test_post_sync_verification_expects_the_deployed_version(rendered: dict[str, RenderedEnvironment]) -> None:
    """The seed: the app version matches the Docker image version; every sampled answer must name the tag exactly
    (tests/test_service_check_job.py runs the script: 1.4.1 does not pass for 1.4.10)."""
    manifests = stack(rendered, "test")
    (container,) = containers(find(manifests, "Job", "core-pipeline-verify"))
    env = {item["name"]: item["value"] for item in container["env"]}
    tag = load_environment("test").core_pipeline.image.tag
    assert env["EXPECTED_VERSION"] == tag
    assert app_container(manifests)["image"].endswith(f":{tag}")
    assert env["EXPECTED_TEXT"] == ""  # no substring match
    assert env["REQUESTS"] == "3"
    assert env["URL"] == "http://core-pipeline.core-pipeline.svc:3000/version"


def test_the_version_endpoint_is_documented_as_the_apps_contract() -> None:
    """The seed defines no /version: the setting and the runbook say it is this repository's contract, in the
    check's own words."""
    from constructs_lib.service_check_job import VERSION_CONTRACT
    from stacks.core_pipeline.settings import VerificationSettings

    description = VerificationSettings.model_fields["path"].description or ""
    assert "The seed defines none" in description and VERSION_CONTRACT in description
    assert "exactly" in description
    runbook = (ROOT / "docs" / "runbooks" / "core-pipeline.md").read_text()
    assert "The seed defines no `/version`" in runbook and "1.4.1 does not pass for 1.4.10" in runbook


def test_checks_reach_the_api_port_and_nothing_else(rendered: dict[str, RenderedEnvironment]) -> None:
    manifests = stack(rendered, "test")
    api_policy = find(manifests, "NetworkPolicy", "core-pipeline")["spec"]
    admitted = [
        peer["podSelector"]["matchLabels"] for peer in api_policy["ingress"][0]["from"] if "podSelector" in peer
    ]
    for name in ("core-pipeline-smoke-test", "core-pipeline-verify"):
        own = find(manifests, "NetworkPolicy", name)["spec"]
        assert own["podSelector"]["matchLabels"] in admitted
        assert "ingress" not in own
        ports = [port["port"] for rule in own["egress"] for port in rule["ports"]]
        assert sorted(ports) == [53, 53, 3000]


@pytest.mark.parametrize("env", ENVS)
def test_checks_are_off_by_default(rendered: dict[str, RenderedEnvironment], env: str) -> None:
    jobs = [m["metadata"]["name"] for m in stack(rendered, env) if m["kind"] == "Job"]
    assert jobs == ["core-pipeline-migrate"]


def test_pre_sync_backup_dumps_the_database_before_the_migration(rendered: dict[str, RenderedEnvironment]) -> None:
    """Seed "Helm Hooks": a backup Job before the upgrade; it runs before the migration (an earlier wave of the
    PreSync phase) with the API's own database credentials, by Secret reference."""
    manifests = stack(rendered, "test")
    backup = find(manifests, "Job", "core-pipeline-backup")
    annotations = backup["metadata"]["annotations"]
    assert annotations["argocd.argoproj.io/hook"] == "PreSync"
    migration = find(manifests, "Job", "core-pipeline-migrate")["metadata"]["annotations"]
    assert int(annotations["argocd.argoproj.io/sync-wave"]) < int(migration.get("argocd.argoproj.io/sync-wave", "0"))
    by_name = {container["name"]: container for container in containers(backup)}
    dump = by_name["pg-dump"]
    env = {item["name"]: item for item in dump["env"]}
    settings = load_environment("test").core_pipeline
    assert env["PGHOST"]["value"] == settings.postgres.host
    assert env["PGPORT"]["value"] == "5432"
    assert env["PGDATABASE"]["value"] == "core-pipeline"
    api_env = {item["name"]: item for item in app_container(manifests)["env"]}
    assert env["PGUSER"]["valueFrom"] == api_env["POSTGRES_USER"]["valueFrom"]
    assert env["PGPASSWORD"]["valueFrom"] == api_env["POSTGRES_PASSWORD"]["valueFrom"]
    assert dump["image"] == "postgres:16.4-alpine"
    # The object store of the test environment: credentials by Secret reference only.
    upload = by_name["upload"]
    upload_env = {item["name"]: item for item in upload["env"]}
    assert upload_env["S3_ENDPOINT"]["value"].endswith(".svc.cluster.local:9000")
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        assert set(upload_env[name]) == {"name", "valueFrom"}
    policy = find(manifests, "NetworkPolicy", "core-pipeline-backup")["spec"]
    assert "ingress" not in policy
    assert sorted(port["port"] for rule in policy["egress"] for port in rule["ports"]) == [53, 53, 5432, 9000]


def test_the_headless_setting_renders_a_headless_service() -> None:
    """Setting core_pipeline.service.headless (default false: today's Service, unchanged)."""
    settings = load_environment("dev").core_pipeline
    assert settings.service.headless is False
    headless = settings.model_copy(update={"service": settings.service.model_copy(update={"headless": True})})
    app = cdk8s.Testing.app()
    chart = CorePipelineChart(app, "core-pipeline", headless)
    (service,) = [m for m in cdk8s.Testing.synth(chart) if m["kind"] == "Service"]
    assert service["spec"]["clusterIP"] == "None"
    assert service["spec"]["ports"] == [{"name": "http", "port": 80, "targetPort": 3000, "protocol": "TCP"}]


def _with_external_secrets(migration: bool) -> list[Manifest]:
    data = load_environment("prod").model_dump(mode="json")
    core = data["core_pipeline"]
    core["secrets"] = {
        "source": "external_secrets",
        "external_secrets": {"store": "vault", "remote_prefix": "core-pipeline/prod"},
    }
    core["migration"]["enabled"] = migration
    core["backup"] = {"enabled": migration, "target": {"kind": "claim", "claim": "core-pipeline-backup"}}
    settings = parse_environment("prod", data).core_pipeline
    return list(cdk8s.Testing.synth(CorePipelineChart(cdk8s.Testing.app(), "core-pipeline", settings)))


def test_external_secrets_create_the_credentials_before_the_presync_migration() -> None:
    """core_pipeline.secrets.source: external_secrets renders one ExternalSecret per Secret the credentials name
    (the seed's keys), valid against the vendored CRD. A PreSync migration reads them, and on a first install the
    hooks run before anything else: so they are PreSync hooks with a lower weight than the migration, whose Secret
    outlives each sync's recreation of the hook (creationPolicy Orphan)."""
    manifests = _with_external_secrets(migration=True)
    (external,) = [m for m in manifests if m["kind"] == "ExternalSecret"]
    assert not list(crd_validator(external["apiVersion"], "ExternalSecret").iter_errors(external))
    assert external["metadata"]["name"] == "core-pipeline-secrets"
    assert {item["secretKey"]: item["remoteRef"] for item in external["spec"]["data"]} == {
        key: {"key": "core-pipeline/prod/core-pipeline-secrets", "property": key}
        for key in ("postgres-password", "postgres-user", "redis-password")
    }
    assert external["spec"]["target"] == {"name": "core-pipeline-secrets", "creationPolicy": "Orphan"}
    hook = external["metadata"]["annotations"]
    assert hook["argocd.argoproj.io/hook-delete-policy"] == "BeforeHookCreation"
    # Argo CD runs a phase's hooks wave by wave: the Secret's comes before every PreSync hook that reads it.
    readers = [m for m in manifests if m["kind"] == "Job" and m is not external]
    pre_sync = [m for m in readers if m["metadata"]["annotations"].get("argocd.argoproj.io/hook") == "PreSync"]
    assert {m["metadata"]["name"] for m in pre_sync} == {"core-pipeline-migrate", "core-pipeline-backup"}
    assert hook["argocd.argoproj.io/hook"] == "PreSync"
    for reader in pre_sync:
        wave = int(reader["metadata"]["annotations"].get("argocd.argoproj.io/sync-wave", "0"))
        assert int(hook["argocd.argoproj.io/sync-wave"]) < wave, reader["metadata"]["name"]
    secrets = {
        ref["secretKeyRef"]["name"]
        for container in containers(find(manifests, "Deployment", "core-pipeline"))
        for ref in (entry.get("valueFrom") or {} for entry in container.get("env", []))
        if "secretKeyRef" in ref
    }
    assert secrets == {"core-pipeline-secrets"}


def test_without_a_presync_reader_the_external_secret_is_an_ordinary_object_owning_its_secret() -> None:
    (external,) = [m for m in _with_external_secrets(migration=False) if m["kind"] == "ExternalSecret"]
    assert "annotations" not in external["metadata"]
    assert external["spec"]["target"]["creationPolicy"] == "Owner"


def test_external_secrets_need_a_store() -> None:
    data = load_environment("prod").model_dump(mode="json")
    data["core_pipeline"]["secrets"] = {"source": "external_secrets"}
    with pytest.raises(SettingsError) as error:
        parse_environment("prod", data)
    assert "prod.core_pipeline.secrets" in str(error.value) and "required when source is external_secrets" in str(
        error.value
    )
