"""kairoflow against its seed (kairoflow-k8s-story.md, story 1.2). Expected values are transcribed from the seed."""

from __future__ import annotations

import re
from typing import Any

import cdk8s  # as a module: pytest would collect cdk8s.Testing as a test class
import pytest
from pydantic import ValidationError

from engine import Manifest, RenderedEnvironment
from environment_model.settings import load_environment
from stacks.kairoflow.chart import KairoflowChart
from stacks.kairoflow.settings import KairoflowSettings, RouteSettings
from tests.conftest import ENVIRONMENTS, find
from tests.test_rendered_output import crd_validator

ENVS = ["dev", "staging", "prod"]
# Seed "Configure persistent volumes": claim sizes and the paths mounted in both containers.
SEED_CLAIMS = {
    "uploads": ("5Gi", "/var/www/html/www/uploads"),
    "sessions": ("2Gi", "/var/www/html/var/tmp/session"),
    "recordings": ("10Gi", "/var/www/html/var/tmp/recordings"),
    "transcriptions": ("5Gi", "/var/www/html/var/tmp/transcriptions"),
}
# Seed "Deployment Strategy".
SEED_RESOURCES = {"requests": {"cpu": "250m", "memory": "256Mi"}, "limits": {"cpu": "500m", "memory": "512Mi"}}
# Seed "PHP Configuration (set in deployment)".
SEED_PHP_ENV = {
    "PHP_MAX_EXECUTION_TIME": "600",
    "PHP_MEMORY_LIMIT": "512M",
    "PHP_POST_MAX_SIZE": "500M",
    "PHP_UPLOAD_MAX_FILESIZE": "500M",
}
# Seed "Implement secrets management": every variable the php container needs from Secrets.
SEED_SECRET_VARIABLES = {
    "DATABASE_HOST", "DATABASE_USER", "DATABASE_PASSWORD", "DATABASE_NAME", "DATABASE_PORT",
    "REDIS_HOST", "REDIS_PORT", "REDIS_PASSWORD",
    "MINIO_ENDPOINT", "MINIO_ACCESS_KEY", "MINIO_SECRET_KEY",
    "OPENAI_API_KEY", "APP_SECRET", "JWT_SECRET",
}  # fmt: skip
SEED_MIGRATE = ["php", "bin/console", "migrations:migrate", "--no-interaction", "--allow-no-migration"]


def stack(rendered: dict[str, RenderedEnvironment], env: str) -> list[Manifest]:
    return rendered[env]["kairoflow"]


def pod(manifests: list[Manifest]) -> dict[str, Any]:
    spec: dict[str, Any] = find(manifests, "Deployment", "kairoflow-web")["spec"]["template"]["spec"]
    return spec


def containers(manifests: list[Manifest]) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in pod(manifests)["containers"]}


@pytest.mark.parametrize("env", ENVS)
def test_namespace_and_service(rendered: dict[str, RenderedEnvironment], env: str) -> None:
    manifests = stack(rendered, env)
    namespace = find(manifests, "Namespace", "kairoflow")
    assert "namespace" not in namespace["metadata"], "a Namespace is cluster-scoped"
    assert {m["metadata"].get("namespace") for m in manifests if m["kind"] != "Namespace"} == {"kairoflow"}
    service = find(manifests, "Service", "kairoflow-web")["spec"]
    assert service["type"] == "ClusterIP"
    assert service["ports"] == [{"name": "http", "port": 80, "targetPort": 80, "protocol": "TCP"}]


@pytest.mark.parametrize("env", ENVS)
def test_two_container_pod(rendered: dict[str, RenderedEnvironment], env: str) -> None:
    manifests = stack(rendered, env)
    by_name = containers(manifests)
    assert list(by_name) == ["nginx", "php-fpm"]
    nginx, php = by_name["nginx"], by_name["php-fpm"]
    assert nginx["ports"] == [{"containerPort": 80, "name": "http", "protocol": "TCP"}]
    assert php["ports"] == [{"containerPort": 9000, "name": "fastcgi", "protocol": "TCP"}]
    for container in (nginx, php):
        assert container["resources"] == SEED_RESOURCES
    # Seed "Health Checks": /health on nginx, liveness 30 s / 10 s, readiness 5 s / 5 s.
    liveness, readiness = nginx["livenessProbe"], nginx["readinessProbe"]
    assert liveness["httpGet"]["path"] == readiness["httpGet"]["path"] == "/health"
    assert (liveness["initialDelaySeconds"], liveness["periodSeconds"]) == (30, 10)
    assert (readiness["initialDelaySeconds"], readiness["periodSeconds"]) == (5, 5)
    assert php["lifecycle"] == {"postStart": {"exec": {"command": SEED_MIGRATE}}}
    env_vars = {e["name"]: e.get("value") for e in php["env"]}
    assert {k: env_vars[k] for k in SEED_PHP_ENV} == SEED_PHP_ENV
    # Credentials come whole from Secrets (envFrom), never as values.
    secret_sources = [s["secretRef"]["name"] for s in php["envFrom"]]
    assert secret_sources == [f"kairoflow-{c}" for c in ("database", "redis", "minio", "openai", "app")]
    assert not SEED_SECRET_VARIABLES & set(env_vars)


@pytest.mark.parametrize("env", ENVS)
def test_claims_are_mounted_at_the_seed_paths_in_both_containers(
    rendered: dict[str, RenderedEnvironment], env: str
) -> None:
    manifests = stack(rendered, env)
    settings = load_environment(env).kairoflow
    volumes = {v["name"]: v for v in pod(manifests)["volumes"]}
    for role, (size, path) in SEED_CLAIMS.items():
        claim = find(manifests, "PersistentVolumeClaim", f"kairoflow-{role}")["spec"]
        assert claim["resources"]["requests"]["storage"] == size
        assert claim["accessModes"] == [settings.storage.access_mode]
        assert volumes[role]["persistentVolumeClaim"]["claimName"] == f"kairoflow-{role}"
        for name, container in containers(manifests).items():
            assert {"mountPath": path, "name": role} in container["volumeMounts"], (name, role)
    php = containers(manifests)["php-fpm"]
    assert {"mountPath": "/var/www/html/var/log", "name": "logs"} in php["volumeMounts"]
    assert volumes["logs"] == {"name": "logs", "emptyDir": {}}


@pytest.mark.parametrize("env", ENVS)
def test_nginx_config_carries_every_seed_setting(rendered: dict[str, RenderedEnvironment], env: str) -> None:
    manifests = stack(rendered, env)
    data = find(manifests, "ConfigMap", "kairoflow-nginx-config")["data"]
    assert set(data) == {"nginx.conf", "default.conf"}
    assert "client_max_body_size 500M;" in data["nginx.conf"]
    for directive in ("client_body_timeout 600s;", "send_timeout 600s;", "worker_processes", "worker_connections"):
        assert directive in data["nginx.conf"], directive
    site = data["default.conf"]
    assert "server 127.0.0.1:9000;" in site
    assert "root /var/www/html/www/;" in site
    assert "fastcgi_read_timeout 600s;" in site
    assert "expires 30d;" in site, "static file rule"
    mounts = {m["mountPath"]: m for m in containers(manifests)["nginx"]["volumeMounts"]}
    assert mounts["/etc/nginx/nginx.conf"]["subPath"] == "nginx.conf"
    assert mounts["/etc/nginx/conf.d/default.conf"]["subPath"] == "default.conf"
    annotations = find(manifests, "Deployment", "kairoflow-web")["spec"]["template"]["metadata"]["annotations"]
    assert "checksum/nginx-config" in annotations


@pytest.mark.parametrize("env", ENVS)
def test_traefik_https_route_redirect_and_certificate(rendered: dict[str, RenderedEnvironment], env: str) -> None:
    manifests = stack(rendered, env)
    hosts = load_environment(env).kairoflow.hosts
    https = find(manifests, "IngressRoute", "kairoflow-https")["spec"]
    assert https["entryPoints"] == ["websecure"]
    assert https["tls"] == {"secretName": "kairoflow-tls"}
    (route,) = https["routes"]
    assert route["match"] == " || ".join(f"Host(`{host}`)" for host in hosts)
    assert route["services"] == [{"name": "kairoflow-web", "port": 80}]
    http = find(manifests, "IngressRoute", "kairoflow-http")["spec"]
    assert http["entryPoints"] == ["web"]
    assert http["routes"][0]["middlewares"] == [{"name": "kairoflow-redirect-https"}]
    redirect = find(manifests, "Middleware", "kairoflow-redirect-https")["spec"]
    assert redirect == {"redirectScheme": {"scheme": "https", "permanent": True}}
    certificate = find(manifests, "Certificate", "kairoflow-tls")["spec"]
    assert certificate["issuerRef"] == {"name": "letsencrypt-prod", "kind": "ClusterIssuer"}
    assert certificate["secretName"] == "kairoflow-tls"
    assert certificate["dnsNames"] == hosts


@pytest.mark.parametrize("env", ENVS)
def test_cron_jobs_of_the_seed(rendered: dict[str, RenderedEnvironment], env: str) -> None:
    manifests = stack(rendered, env)
    email = find(manifests, "CronJob", "kairoflow-email-processor")["spec"]
    assert email["schedule"] == "*/1 * * * *"
    assert email["concurrencyPolicy"] == "Forbid"
    job = email["jobTemplate"]["spec"]
    assert job["activeDeadlineSeconds"] == 50
    (container,) = job["template"]["spec"]["containers"]
    assert container["command"] == ["php", "bin/console", "app:email:process"]
    assert container["resources"]["requests"]["memory"] == "128Mi"
    assert container["resources"]["limits"]["memory"] == "256Mi"
    commands = {
        m["metadata"]["name"]: m["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["command"]
        for m in manifests
        if m["kind"] == "CronJob"
    }
    assert commands["kairoflow-invoice-generation"][-1] == "app:invoice:generate"
    assert commands["kairoflow-cleanup"][-1] == "app:cleanup"
    assert commands["kairoflow-schema-validation"][-1] == "orm:schema:validate"
    # Weekly invoices (day-of-week set, every day of month), daily cleanup and schema validation.
    schedules = {m["metadata"]["name"]: m["spec"]["schedule"].split() for m in manifests if m["kind"] == "CronJob"}
    assert schedules["kairoflow-invoice-generation"][2:] == ["*", "*", "1"]
    assert schedules["kairoflow-cleanup"][2:] == ["*", "*", "*"]
    assert schedules["kairoflow-schema-validation"][2:] == ["*", "*", "*"]


@pytest.mark.parametrize("env", ENVS)
def test_registry_credential_and_secrets_are_references(rendered: dict[str, RenderedEnvironment], env: str) -> None:
    manifests = stack(rendered, env)
    settings = load_environment(env).kairoflow
    account = find(manifests, "ServiceAccount", "kairoflow-web")
    assert account["imagePullSecrets"] == [{"name": settings.secrets.registry}]
    assert pod(manifests)["serviceAccountName"] == "kairoflow-web"
    external = {m["metadata"]["name"] for m in manifests if m["kind"] == "ExternalSecret"}
    if settings.secrets.source == "external_secrets":
        expected = {f"kairoflow-{c}" for c in ("database", "redis", "minio", "openai", "app")}
        assert external == expected | {settings.secrets.registry}
        pull = find(manifests, "ExternalSecret", settings.secrets.registry)["spec"]
        assert pull["target"]["template"]["type"] == "kubernetes.io/dockerconfigjson"
    else:
        assert external == set()
    assert not [m for m in manifests if m["kind"] == "Secret"]


@pytest.mark.parametrize("env", ENVS)
def test_cron_jobs_run_on_the_web_pods_node(rendered: dict[str, RenderedEnvironment], env: str) -> None:
    """The four ReadWriteOnce claims attach to one node at a time, so every CronJob pod that mounts them requires
    the web pod's node, in every environment (with or without a node selector)."""
    manifests = stack(rendered, env)
    assert {claim["spec"]["accessModes"][0] for claim in manifests if claim["kind"] == "PersistentVolumeClaim"} == {
        "ReadWriteOnce"
    }
    web = find(manifests, "Deployment", "kairoflow-web")["spec"]
    assert web["strategy"]["type"] == "Recreate"
    crons = [m for m in manifests if m["kind"] == "CronJob"]
    assert len(crons) == 4
    for cron in crons:
        affinity = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]["affinity"]
        (term,) = affinity["podAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
        assert term == {"labelSelector": web["selector"], "topologyKey": "kubernetes.io/hostname"}


def test_node_selector_where_set(rendered: dict[str, RenderedEnvironment]) -> None:
    for env in ENVS:
        selector = load_environment(env).kairoflow.node_selector
        manifests = stack(rendered, env)
        assert pod(manifests).get("nodeSelector", {}) == selector
        for cron in (m for m in manifests if m["kind"] == "CronJob"):
            assert cron["spec"]["jobTemplate"]["spec"]["template"]["spec"].get("nodeSelector", {}) == selector
    assert any(load_environment(env).kairoflow.node_selector for env in ENVS)


@pytest.mark.parametrize("env", ENVS)
def test_only_traefik_reaches_the_web_pod(rendered: dict[str, RenderedEnvironment], env: str) -> None:
    spec = find(stack(rendered, env), "NetworkPolicy", "kairoflow-web")["spec"]
    (rule,) = spec["ingress"]
    assert rule["ports"] == [{"port": 80, "protocol": "TCP"}]
    assert rule["from"] == [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "traefik"}}}]


def expand_like_the_kubelet(container: dict[str, Any], secrets: dict[str, dict[str, str]]) -> dict[str, str]:
    """The container's environment as the kubelet builds it: `envFrom` first, then each `env` entry in order, its
    `$(NAME)` references replaced by variables defined before it (an undefined one stays as written)."""
    environment: dict[str, str] = {}
    for source in container.get("envFrom", []):
        environment.update(secrets[source["secretRef"]["name"]])
    for variable in container.get("env", []):
        if "value" in variable:
            environment[variable["name"]] = re.sub(
                r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)", lambda m: environment.get(m[1], m[0]), variable["value"]
            )
    return environment


@pytest.mark.parametrize("env", ENVS)
def test_database_dsn_is_built_from_the_secret_without_a_password(
    rendered: dict[str, RenderedEnvironment], env: str
) -> None:
    """Story 1.1: the application reads DATABASE_DSN next to DATABASE_USER and DATABASE_PASSWORD. It is a PDO DSN
    (no credentials in it) that the kubelet expands from the kairoflow-database Secret's keys; dist/ holds only the
    references, in the web pod and in every CronJob that runs the same application."""
    manifests = stack(rendered, env)
    secret = {
        "DATABASE_HOST": "db.internal",
        "DATABASE_PORT": "5433",
        "DATABASE_NAME": "kairoflow",
        "DATABASE_USER": "app",
        "DATABASE_PASSWORD": "s3cr3t-pw",
    }
    secrets: dict[str, dict[str, str]] = {
        name: {} for name in ("kairoflow-redis", "kairoflow-minio", "kairoflow-openai", "kairoflow-app")
    }
    secrets["kairoflow-database"] = secret
    runners = [containers(manifests)["php-fpm"]] + [
        c
        for m in manifests
        if m["kind"] == "CronJob"
        for c in m["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
    ]
    assert len(runners) == 5
    for container in runners:
        literal = {e["name"]: e["value"] for e in container["env"] if "value" in e}
        assert "s3cr3t" not in literal["DATABASE_DSN"]
        assert re.findall(r"\$\((\w+)\)", literal["DATABASE_DSN"]) == [
            "DATABASE_HOST",
            "DATABASE_PORT",
            "DATABASE_NAME",
        ]
        environment = expand_like_the_kubelet(container, secrets)
        assert environment["DATABASE_DSN"] == "pgsql:host=db.internal;port=5433;dbname=kairoflow"
        assert (environment["DATABASE_USER"], environment["DATABASE_PASSWORD"]) == ("app", "s3cr3t-pw")


# Seed "Network Security" (kairoflow-k8s-story.md lines 362-366): "HTTPS termination at Ingress", "Security headers
# via Ingress annotations", "Rate limiting configuration". The seed fixes that both exist, not their numbers (it names
# no header value and no rate), so every environment renders both Middlewares on the HTTPS route; the numbers below
# are this project's defaults (settings `kairoflow.route`), not the seed's.
SECURITY_HEADERS = "kairoflow-security-headers"
RATE_LIMIT = "kairoflow-ratelimit"
DEFAULT_SECURITY_HEADERS = {
    "stsSeconds": 31536000,  # HSTS one year, the preload lists' minimum
    "stsIncludeSubdomains": True,
    "frameDeny": True,  # X-Frame-Options: DENY
    "contentTypeNosniff": True,  # X-Content-Type-Options: nosniff
    "referrerPolicy": "strict-origin-when-cross-origin",
}
DEFAULT_RATE_LIMIT = {"average": 50, "burst": 250}  # 50 requests per second per client IP, bursts of 5x


def synth(settings: KairoflowSettings) -> list[Manifest]:
    return list(cdk8s.Testing.synth(KairoflowChart(cdk8s.Testing.app(), "kairoflow", settings)))


def with_route(settings: KairoflowSettings, route: dict[str, Any]) -> KairoflowSettings:
    return settings.model_copy(update={"route": RouteSettings.model_validate(route)})


def https_middlewares(manifests: list[Manifest]) -> list[str]:
    (rule,) = find(manifests, "IngressRoute", "kairoflow-https")["spec"]["routes"]
    return [m["name"] for m in rule.get("middlewares", [])]


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_every_environment_passes_https_through_security_headers_and_rate_limit(
    rendered: dict[str, RenderedEnvironment], env: str
) -> None:
    """Seed "Network Security" (lines 364-365): security headers and rate limiting, in every environment, with each
    environment's tuning (test: a CSP and a lower rate). The HTTP route still only redirects."""
    manifests = stack(rendered, env)
    route = load_environment(env).kairoflow.route
    middlewares = {m["metadata"]["name"]: m for m in manifests if m["kind"] == "Middleware"}
    assert set(middlewares) == {"kairoflow-redirect-https", SECURITY_HEADERS, RATE_LIMIT}
    for middleware in middlewares.values():
        assert list(crd_validator(middleware["apiVersion"], "Middleware").iter_errors(middleware)) == []
    assert https_middlewares(manifests) == [RATE_LIMIT, SECURITY_HEADERS]
    limit = route.rate_limit
    assert middlewares[RATE_LIMIT]["spec"] == {
        "rateLimit": {"average": limit.requests_per_second, "burst": limit.requests_per_second * limit.burst_multiplier}
    }
    headers = middlewares[SECURITY_HEADERS]["spec"]["headers"]
    # HSTS, X-Frame-Options, X-Content-Type-Options and Referrer-Policy everywhere (values: the defaults test below).
    assert headers["stsSeconds"] > 0
    assert {"frameDeny", "contentTypeNosniff", "referrerPolicy"} <= set(headers)
    assert headers.get("contentSecurityPolicy") == route.security_headers.content_security_policy
    (plain,) = find(manifests, "IngressRoute", "kairoflow-http")["spec"]["routes"]
    assert plain["middlewares"] == [{"name": "kairoflow-redirect-https"}]


def test_both_are_on_by_default_with_these_values() -> None:
    defaults = RouteSettings()
    assert defaults.security_headers.enabled and defaults.rate_limit.enabled
    assert (defaults.rate_limit.requests_per_second, defaults.rate_limit.burst_multiplier) == (50, 5)
    assert defaults.security_headers.content_security_policy is None, "the application's own"
    manifests = synth(with_route(load_environment("prod").kairoflow, {}))
    assert find(manifests, "Middleware", SECURITY_HEADERS)["spec"] == {"headers": DEFAULT_SECURITY_HEADERS}
    assert find(manifests, "Middleware", RATE_LIMIT)["spec"] == {"rateLimit": DEFAULT_RATE_LIMIT}


@pytest.mark.parametrize(("field", "name"), [("security_headers", SECURITY_HEADERS), ("rate_limit", RATE_LIMIT)])
def test_turning_one_off_removes_exactly_that_middleware_and_its_reference(field: str, name: str) -> None:
    settings = load_environment("prod").kairoflow
    before = synth(with_route(settings, {}))
    after = synth(with_route(settings, {field: {"enabled": False}}))

    def key(m: Manifest) -> tuple[str, str]:
        return m["kind"], m["metadata"]["name"]

    assert sorted(map(key, before)) == sorted([*map(key, after), ("Middleware", name)])
    assert https_middlewares(after) == [m for m in https_middlewares(before) if m != name]
    # Nothing else changes: every other object is the same, and the HTTPS route differs only in that reference.
    unchanged = {key(m): m for m in after if key(m) != ("IngressRoute", "kairoflow-https")}
    assert unchanged == {
        key(m): m for m in before if key(m) not in {("IngressRoute", "kairoflow-https"), ("Middleware", name)}
    }
    route_before = find(before, "IngressRoute", "kairoflow-https")
    route_after = find(after, "IngressRoute", "kairoflow-https")
    route_before["spec"]["routes"][0]["middlewares"].remove({"name": name})
    assert route_after == route_before


def test_both_off_leaves_the_https_route_without_middlewares() -> None:
    settings = load_environment("prod").kairoflow
    manifests = synth(with_route(settings, {"security_headers": {"enabled": False}, "rate_limit": {"enabled": False}}))
    assert [m["metadata"]["name"] for m in manifests if m["kind"] == "Middleware"] == ["kairoflow-redirect-https"]
    assert "middlewares" not in find(manifests, "IngressRoute", "kairoflow-https")["spec"]["routes"][0]


def test_tuning_keeps_the_other_defaults() -> None:
    """A partial block tunes what it names; the rest keeps the defaults."""
    manifests = synth(
        with_route(
            load_environment("prod").kairoflow,
            {
                "security_headers": {"content_security_policy": "default-src 'self'"},
                "rate_limit": {"requests_per_second": 20},
            },
        )
    )
    assert find(manifests, "Middleware", RATE_LIMIT)["spec"] == {"rateLimit": {"average": 20, "burst": 100}}
    assert find(manifests, "Middleware", SECURITY_HEADERS)["spec"] == {
        "headers": {**DEFAULT_SECURITY_HEADERS, "contentSecurityPolicy": "default-src 'self'"}
    }


@pytest.mark.parametrize("field", ["security_headers", "rate_limit"])
def test_null_is_refused_with_the_way_to_turn_off(field: str) -> None:
    with pytest.raises(ValidationError, match="enabled: false"):
        RouteSettings.model_validate({field: None})


@pytest.mark.parametrize("env", ENVS)
def test_the_project_admits_the_middlewares(rendered: dict[str, RenderedEnvironment], env: str) -> None:
    # The AppProject filters cluster-scoped kinds only: no namespaced allow-list that would refuse a Middleware.
    project = find(rendered[env]["argocd"], "AppProject")
    assert "namespaceResourceWhitelist" not in project["spec"]
    assert "namespaceResourceBlacklist" not in project["spec"]


def test_external_secrets_without_a_store_is_refused_even_when_the_block_is_left_out() -> None:
    """`secrets.source: external_secrets` with no `external_secrets` block rendered no ExternalSecret at all, and the
    pods waited for Secrets nothing creates; the shared rule (value_types.secrets.SecretSourceSettings) refuses it."""
    from environment_model.settings import SettingsError, parse_environment

    data = load_environment("dev").model_dump(mode="json")
    data["kairoflow"]["secrets"] = {"source": "external_secrets"}
    with pytest.raises(SettingsError, match=r"kairoflow\.secrets\.external_secrets: required when source is"):
        parse_environment("dev", data)
