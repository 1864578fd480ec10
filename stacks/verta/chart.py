"""The verta stack: backend, frontend and ML services, shared configuration, Redis, Ingress
(seed: verta-helm-chart.md)."""

from __future__ import annotations

from cdk8s_plus_27 import k8s
from constructs import Construct

from constructs_lib import (
    AppService,
    AppServiceProps,
    ContainerSpec,
    IngressOptions,
    IngressPath,
    NetworkAccess,
    RecommendedLabels,
    Redis,
    RedisEndpoint,
    RedisProps,
    SecretKeyRef,
)
from constructs_lib.app_service import config_checksum
from constructs_lib.errors import PropsError
from stacks.settings_to_props import http_probe, redis, secret_env
from stacks.system_chart import SystemChart
from stacks.verta import alerts
from stacks.verta.settings import VertaServiceSettings, VertaSettings

NAME = "verta"
SERVICE_PORT = 80


class VertaChart(SystemChart):
    """Everything Verta runs in one environment, in the namespace its settings name."""

    def __init__(self, scope: Construct, id: str, settings: VertaSettings) -> None:
        super().__init__(scope, id, system=NAME, version=settings.backend.image.tag, settings=settings, observed=alerts)
        shared = RecommendedLabels(name=NAME, component="config", version=settings.backend.image.tag)
        # Seed 3.2: one ConfigMap `verta` shared by the services; its checksum rolls all of them.
        k8s.KubeConfigMap(
            self,
            "Config",
            metadata=k8s.ObjectMeta(name=NAME, labels=shared.all),
            data=dict(sorted(settings.config.items())),
        )
        annotations = {"checksum/config": config_checksum(settings.config)}

        redis_settings = redis(settings.redis, name=f"{NAME}-redis", part_of=NAME)
        self.redis: Redis | None = None
        endpoint: RedisEndpoint
        if isinstance(redis_settings, RedisProps):
            self.redis = Redis(self, "Redis", redis_settings)
            endpoint = self.redis.endpoint
        else:
            endpoint = redis_settings
        urls = {
            service: f"http://{NAME}-{service}.{settings.namespace}.svc:{SERVICE_PORT}" for service in ("backend", "ml")
        }

        secrets = settings.secrets
        policy = settings.network_policy
        # The frontend and the backend take traffic from the ingress controller; who else may connect is added
        # below by reference (backend.allow_from(frontend), ml.allow_from(backend)).
        access = {
            "frontend": NetworkAccess(from_namespaces=policy.ingress_namespaces),
            "backend": NetworkAccess(from_namespaces=policy.ingress_namespaces),
            "ml": NetworkAccess(),
        }
        if not policy.enabled:
            access = {}
        self.ml = self._service(
            "ml",
            settings.ml,
            settings,
            annotations,
            env={**endpoint.env()},
            secret_env=[endpoint.password_env()],
            network_access=access.get("ml"),
        )
        self.backend = self._service(
            "backend",
            settings.backend,
            settings,
            annotations,
            env={**endpoint.env(), "ML_SERVICE_URL": urls["ml"]},
            secret_env=[
                secret_env("ADMIN_API_KEY", secrets.admin_api_key),
                secret_env("DATABASE_URL", secrets.database_url),
                secret_env("DISCORD_TOKEN", secrets.discord_token),
                endpoint.password_env(),
            ],
            network_access=access.get("backend"),
            # Seed 3.5 / REQ-006: migrations run as an init container before the backend starts.
            init_containers=[
                ContainerSpec(
                    name="migrate",
                    image=settings.backend.image,
                    resources=settings.backend.resources,
                    command=settings.migration_command,
                    # npm keeps its cache and logs under $HOME/.npm, and HOME is `/` for a UID without a passwd
                    # entry: on the read-only root that fails; /tmp is the container's writable scratch.
                    env={"NPM_CONFIG_CACHE": "/tmp/.npm"},
                    env_from_config_maps=[NAME],
                    secret_env=[secret_env("DATABASE_URL", secrets.database_url)],
                )
            ],
        )
        ingress = settings.ingress
        self.frontend = self._service(
            "frontend",
            settings.frontend,
            settings,
            annotations,
            env={"BACKEND_URL": urls["backend"]},
            secret_env=[],
            network_access=access.get("frontend"),
        )
        self.frontend.expose_via_ingress(
            IngressOptions(
                hosts=ingress.hosts,
                class_name="traefik" if ingress.class_name == "traefik" else "nginx",
                tls=ingress.tls,
                cluster_issuer=ingress.cluster_issuer,
                # Seed 3.4: frontend at /, the backend API under /api.
                extra_paths=[IngressPath(path="/api", service=self.backend)],
            )
        )
        self.backend.allow_from(self.frontend)
        self.ml.allow_from(self.backend)
        if self.redis is not None:
            self.redis.allow_from(self.backend)
            self.redis.allow_from(self.ml)

    def _service(
        self,
        component: str,
        service: VertaServiceSettings,
        settings: VertaSettings,
        annotations: dict[str, str],
        *,
        env: dict[str, str],
        secret_env: list[SecretKeyRef],
        init_containers: list[ContainerSpec] | None = None,
        network_access: NetworkAccess | None = None,
    ) -> AppService:
        scaling = service.autoscaling
        own = {"PORT", *env, *(ref.env_name for ref in secret_env)}
        for name, value in service.env.items():
            if name in own:  # the service's own env may add variables, never change what the stack wires up
                raise PropsError(
                    "VertaChart",
                    f"{component}.env.{name}",
                    value,
                    f"a variable the stack does not set ({', '.join(sorted(own))})",
                )
        return AppService(
            self,
            component.capitalize(),
            AppServiceProps(
                name=f"{NAME}-{component}",
                component=component,
                part_of=NAME,
                # One installation, as Helm's release: `kubectl get pods -l app.kubernetes.io/instance=verta` (the
                # seed's check) finds the three services; name and component still tell them apart in selectors.
                # It is in the immutable Deployment selectors: docs/gitops.md "Upgrade notes" says how it was rolled out.
                instance=NAME,
                image=service.image,
                port=service.port,
                service_port=SERVICE_PORT,
                resources=service.resources,
                liveness_probe=http_probe(service.liveness_probe),
                readiness_probe=http_probe(service.readiness_probe),
                replicas=None if scaling.enabled else (service.replicas or 1),
                autoscaling=scaling,
                max_unavailable=service.max_unavailable,
                env={**service.env, "PORT": str(service.port), **env},
                secret_env=secret_env,
                env_from_config_maps=[NAME],
                init_containers=init_containers or (),
                network_access=network_access,
                spread=settings.spread,
                pod_annotations=annotations,
            ),
        )
