"""verta against its seed (verta-helm-chart.md)."""

from __future__ import annotations

from typing import Any

import pytest

from delivery.checks import pod_templates
from delivery.pod_templates import selects
from engine import Manifest, RenderedEnvironment
from environment_model.settings import load_environment
from tests.conftest import find
from value_types.quantities import cpu_millis, memory_bytes

ENVS = ["dev", "staging", "prod"]
SERVICES = ("backend", "frontend", "ml")


def stack(rendered: dict[str, RenderedEnvironment], env: str) -> list[Manifest]:
    return rendered[env]["verta"]


def main_container(manifests: list[Manifest], service: str) -> dict[str, Any]:
    container: dict[str, Any] = find(manifests, "Deployment", f"verta-{service}")["spec"]["template"]["spec"][
        "containers"
    ][0]
    return container


@pytest.mark.parametrize("env", ENVS)
def test_three_services_with_seed_images_and_services(rendered: dict[str, RenderedEnvironment], env: str) -> None:
    manifests = stack(rendered, env)
    for service in SERVICES:
        container = main_container(manifests, service)
        # Seed 2.1: "Container from ghcr.io/niekcandaele/verta-backend" (and -frontend, -ml).
        assert container["image"].startswith(f"ghcr.io/niekcandaele/verta-{service}:")
        assert {"livenessProbe", "readinessProbe"} <= set(container)
        assert find(manifests, "Service", f"verta-{service}")["spec"]["ports"][0]["name"] == "http"
        # Seed 4.3: runAsNonRoot, readOnlyRootFilesystem, allowPrivilegeEscalation false.
        security = container["securityContext"]
        assert (security["runAsNonRoot"], security["readOnlyRootFilesystem"], security["allowPrivilegeEscalation"]) == (
            True,
            True,
            False,
        )
        assert container["envFrom"] == [{"configMapRef": {"name": "verta"}}]


@pytest.mark.parametrize("env", ENVS)
def test_shared_config_map_and_secret_references(rendered: dict[str, RenderedEnvironment], env: str) -> None:
    manifests = stack(rendered, env)
    assert find(manifests, "ConfigMap", "verta")["data"] == load_environment(env).verta.config
    backend = {e["name"]: e for e in main_container(manifests, "backend")["env"]}
    for variable, key in (
        ("ADMIN_API_KEY", "admin-api-key"),
        ("DATABASE_URL", "database-url"),
        ("DISCORD_TOKEN", "discord-token"),
    ):
        assert backend[variable]["valueFrom"]["secretKeyRef"] == {"name": "verta", "key": key}


@pytest.mark.parametrize("env", ENVS)
def test_ingress_routes_frontend_at_root_and_api_to_backend(rendered: dict[str, RenderedEnvironment], env: str) -> None:
    ingress = find(stack(rendered, env), "Ingress")["spec"]
    for rule in ingress["rules"]:
        paths = {p["path"]: p["backend"]["service"]["name"] for p in rule["http"]["paths"]}
        assert paths == {"/": "verta-frontend", "/api": "verta-backend"}
    assert ingress["tls"]


@pytest.mark.parametrize("env", ENVS)
def test_backend_runs_migrations_in_an_init_container(rendered: dict[str, RenderedEnvironment], env: str) -> None:
    pod = find(stack(rendered, env), "Deployment", "verta-backend")["spec"]["template"]["spec"]
    (init,) = pod["initContainers"]
    assert init["name"] == "migrate"
    assert init["command"] == load_environment(env).verta.migration_command
    assert init["image"] == pod["containers"][0]["image"]
    # Issue 15 item 10: the read-only root is not writable, so npm's cache and logs go to the container's own /tmp.
    (scratch,) = [m for m in init["volumeMounts"] if m["mountPath"] == "/tmp"]
    assert {"name": scratch["name"], "emptyDir": {}} in pod["volumes"]
    assert {"name": "NPM_CONFIG_CACHE", "value": "/tmp/.npm"} in init["env"]


@pytest.mark.parametrize("env", ENVS)
def test_autoscaling_budgets_and_ha(rendered: dict[str, RenderedEnvironment], env: str) -> None:
    manifests = stack(rendered, env)
    settings = load_environment(env).verta
    scaled = {m["spec"]["scaleTargetRef"]["name"] for m in manifests if m["kind"] == "HorizontalPodAutoscaler"}
    budgets = {m["metadata"]["name"] for m in manifests if m["kind"] == "PodDisruptionBudget"}
    if env == "dev":
        assert scaled == set() and budgets == set()
        assert "affinity" not in find(manifests, "Deployment", "verta-backend")["spec"]["template"]["spec"]
    else:
        # Seed 4.1: HPAs for backend and frontend; 4.2: PDBs; 5.1: prod HA with anti-affinity.
        assert scaled == {"verta-backend", "verta-frontend"}
        assert budgets == {"verta-backend", "verta-frontend", "verta-ml"}
        assert (
            "podAntiAffinity" in find(manifests, "Deployment", "verta-backend")["spec"]["template"]["spec"]["affinity"]
        )
    assert settings.backend.autoscaling.enabled == (env != "dev")


@pytest.mark.parametrize("env", ENVS)
def test_ml_gets_more_resources(rendered: dict[str, RenderedEnvironment], env: str) -> None:
    manifests = stack(rendered, env)
    ml = main_container(manifests, "ml")["resources"]
    for service in ("backend", "frontend"):
        other = main_container(manifests, service)["resources"]
        assert cpu_millis(ml["limits"]["cpu"]) > cpu_millis(other["limits"]["cpu"])
        assert memory_bytes(ml["limits"]["memory"]) > memory_bytes(other["limits"]["memory"])


def test_dev_is_minimal_and_prod_is_larger(rendered: dict[str, RenderedEnvironment]) -> None:
    dev = main_container(stack(rendered, "dev"), "backend")["resources"]["requests"]
    prod = main_container(stack(rendered, "prod"), "backend")["resources"]["requests"]
    assert cpu_millis(dev["cpu"]) < cpu_millis(prod["cpu"])
    assert memory_bytes(dev["memory"]) < memory_bytes(prod["memory"])


@pytest.mark.parametrize("env", ENVS)
def test_redis_reaches_only_backend_and_ml(rendered: dict[str, RenderedEnvironment], env: str) -> None:
    manifests = stack(rendered, env)
    find(manifests, "StatefulSet", "verta-redis")
    policies = {
        m["metadata"]["name"] for m in manifests if m["kind"] == "NetworkPolicy" and "redis" in m["metadata"]["name"]
    }
    assert policies == {"verta-redis", "verta-redis-from-backend", "verta-redis-from-ml"}
    frontend_env = {e["name"] for e in main_container(manifests, "frontend").get("env", [])}
    assert "REDIS_PASSWORD" not in frontend_env


@pytest.mark.parametrize("env", ENVS)
def test_each_service_admits_only_its_callers(rendered: dict[str, RenderedEnvironment], env: str) -> None:
    manifests = stack(rendered, env)

    def sources(service: str) -> list[dict[str, Any]]:
        spec = find(manifests, "NetworkPolicy", f"verta-{service}")["spec"]
        (rule,) = spec["ingress"]
        peers: list[dict[str, Any]] = rule["from"]
        return peers

    ingress_controller = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}}}
    assert sources("frontend") == [ingress_controller]
    backend = sources("backend")
    assert ingress_controller in backend
    assert any(
        p.get("podSelector", {}).get("matchLabels", {}).get("app.kubernetes.io/component") == "frontend"
        for p in backend
    )
    (ml,) = sources("ml")
    assert ml["podSelector"]["matchLabels"]["app.kubernetes.io/component"] == "backend"


@pytest.mark.parametrize("env", ENVS)
def test_the_seeds_instance_selector_finds_exactly_the_three_service_pods(
    rendered: dict[str, RenderedEnvironment], env: str
) -> None:
    """Seed Phase 2 checkpoint: `kubectl get pods -l app.kubernetes.io/instance=verta` shows the three services
    (Redis is a separate instance, `verta-redis`, as the seed's subchart pod is its own). Each Deployment's selector
    (name, instance, component) still selects its own pods alone."""
    everything = [m for objs in rendered[env].values() for m in objs]
    namespace = load_environment(env).verta.namespace
    templates = [t for t in pod_templates(everything) if t.namespace == namespace]
    matched = sorted(t.owner for t in templates if selects({"app.kubernetes.io/instance": "verta"}, t.labels))
    assert matched == [f"Deployment/verta-{service}" for service in SERVICES]
    for service in SERVICES:
        selector = find(stack(rendered, env), "Deployment", f"verta-{service}")["spec"]["selector"]["matchLabels"]
        assert selector == {
            "app.kubernetes.io/name": f"verta-{service}",
            "app.kubernetes.io/instance": "verta",
            "app.kubernetes.io/component": service,
        }
        assert [t.owner for t in templates if selects(selector, t.labels)] == [f"Deployment/verta-{service}"]


def test_each_service_takes_its_own_environment_variables(rendered: dict[str, RenderedEnvironment]) -> None:
    """verta.<service>.env (seed task 2.4: env vars for each service): the test environment gives the frontend and
    the ML service their own variables, each on its own container only, beside the shared ConfigMap."""
    settings = load_environment("test").verta
    assert settings.frontend.env and settings.ml.env
    env_of = {}
    for manifest in rendered["test"]["verta"]:
        if manifest["kind"] == "Deployment":
            (container,) = manifest["spec"]["template"]["spec"]["containers"]
            env_of[manifest["metadata"]["name"]] = {e["name"]: e.get("value") for e in container["env"]}
    for component in ("backend", "frontend", "ml"):
        own = getattr(settings, component).env
        others = {
            name
            for other in ("backend", "frontend", "ml")
            if other != component
            for name in getattr(settings, other).env
        }
        env = env_of[f"verta-{component}"]
        assert {name: env[name] for name in own} == own
        assert not others & set(env), f"{component} gets another service's variables"


def test_a_service_variable_may_not_replace_what_the_stack_wires_up() -> None:
    import cdk8s

    from constructs_lib.errors import PropsError
    from environment_model.settings import parse_environment
    from stacks.verta.chart import VertaChart

    data = load_environment("test").model_dump(mode="json")
    data["verta"]["frontend"]["env"] = {"BACKEND_URL": "http://elsewhere"}
    settings = parse_environment("test", data).verta
    with pytest.raises(PropsError, match=r"prop 'frontend.env.BACKEND_URL'.*a variable the stack does not set"):
        VertaChart(cdk8s.Testing.app(), "verta", settings)


def test_the_charts_metadata_is_on_its_argo_cd_applications(rendered: dict[str, RenderedEnvironment]) -> None:
    """The seed's Chart.yaml metadata (keywords, home, sources, maintainers: verta-helm-chart.md task 1.2), kept in
    the stack's registry entry and shown where an Argo CD user looks: links and annotations on its Application."""
    for env, by_stack in rendered.items():
        (application,) = [m for m in by_stack["argocd"] if m["metadata"]["name"] == f"{env}-verta"]
        annotations = application["metadata"]["annotations"]
        assert annotations["link.argocd.argoproj.io/home"] == "https://github.com/niekcandaele/verta"
        assert annotations["link.argocd.argoproj.io/source-1"] == "https://github.com/niekcandaele/verta"
        assert annotations["k8s-workloads/maintainers"] == "niekcandaele"
        assert "archive" in annotations["k8s-workloads/keywords"].split(",")
