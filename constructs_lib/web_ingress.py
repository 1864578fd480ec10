"""WebIngress: an Ingress for one Service, for the nginx or Traefik ingress controller, with cert-manager TLS."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from dataclasses import fields as dataclass_fields
from typing import Literal, Protocol

from cdk8s import Chart
from cdk8s_plus_27 import k8s
from constructs import Construct

from constructs_lib.errors import PropsError
from value_types.names import WILDCARD_HOST_NAME

IngressClass = Literal["nginx", "traefik"]
INGRESS_CLASSES: tuple[IngressClass, ...] = ("nginx", "traefik")


@dataclass(frozen=True, kw_only=True)
class RateLimit:
    """Per-client request rate limit.

    Attributes:
        requests_per_second: sustained rate per client IP.
        burst_multiplier: how many times the rate a burst may reach. Default 5 (ingress-nginx's default).
    """

    requests_per_second: int
    burst_multiplier: int = 5


@dataclass(frozen=True, kw_only=True)
class CorsPolicy:
    """Cross-origin resource sharing answered by the ingress controller.

    Attributes:
        allow_origins: origins allowed, e.g. `https://app.example.com`. Required: no wildcard default.
        allow_methods: default GET, POST, PUT, PATCH, DELETE, OPTIONS.
        allow_headers: default Authorization, Content-Type.
        allow_credentials: default False.
        max_age_seconds: how long a browser caches the pre-flight answer. Default 600.
    """

    allow_origins: Sequence[str]
    allow_methods: Sequence[str] = ("GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
    allow_headers: Sequence[str] = ("Authorization", "Content-Type")
    allow_credentials: bool = False
    max_age_seconds: int = 600


@dataclass(frozen=True, kw_only=True)
class ProxyTimeouts:
    """Timeouts between the ingress controller and the pods (nginx class only).

    Attributes:
        connect_seconds: default 5.
        read_seconds: default 60.
        send_seconds: default 60.
    """

    connect_seconds: int = 5
    read_seconds: int = 60
    send_seconds: int = 60


class ServiceTarget(Protocol):
    """What an Ingress routes to: a construct with a Service (AppService)."""

    @property
    def service_name(self) -> str:
        """The Service's name."""
        ...

    @property
    def service_port_name(self) -> str:
        """The name of the Service's port."""
        ...


@dataclass(frozen=True, kw_only=True)
class IngressPath:
    """One more URL path prefix, routed to another service (e.g. `/api` to a backend).

    Attributes:
        path: the prefix, e.g. `/api`.
        service: the service it routes to (an AppService).
    """

    path: str
    service: ServiceTarget


@dataclass(frozen=True, kw_only=True)
class IngressOptions:
    """What an Ingress offers, whatever it routes to: `AppService.expose_via_ingress(options)` takes these.

    Attributes:
        hosts: the host names routed to the Service (at least one).
        class_name: `nginx` (default) or `traefik`.
        path: URL path prefix routed. Default `/`.
        tls: terminate TLS with a certificate from cert-manager. Default True.
        cluster_issuer: the cert-manager ClusterIssuer that signs the certificate. Default `letsencrypt-prod`.
        rate_limit: per-client rate limit. Default: none.
        cors: CORS policy. Default: none (the application answers CORS itself, if at all).
        max_body_megabytes: largest request body accepted. Default: the controller's (nginx: 1 MB).
        timeouts: proxy timeouts (nginx only; Traefik sets them per entry point). Default: the controller's.
        annotations: extra annotations, merged last.
        extra_paths: more path prefixes on the same hosts, each to its own Service (the longest prefix wins).
    """

    hosts: Sequence[str]
    class_name: IngressClass = "nginx"
    path: str = "/"
    tls: bool = True
    cluster_issuer: str = "letsencrypt-prod"
    rate_limit: RateLimit | None = None
    cors: CorsPolicy | None = None
    max_body_megabytes: int | None = None
    timeouts: ProxyTimeouts | None = None
    annotations: Mapping[str, str] = field(default_factory=dict)
    extra_paths: Sequence[IngressPath] = ()


@dataclass(frozen=True, kw_only=True)
class WebIngressProps(IngressOptions):
    """Props of `WebIngress`: the `IngressOptions`, and what the Ingress is and routes to.

    Attributes:
        name: the Ingress's name; the TLS Secret is `<name>-tls`.
        labels: its labels.
        service: the service `path` routes to.
    """

    name: str
    labels: Mapping[str, str]
    service: ServiceTarget

    @classmethod
    def for_service(
        cls, service: ServiceTarget, options: IngressOptions, *, name: str, labels: Mapping[str, str]
    ) -> WebIngressProps:
        """`options` routed to `service`."""
        fields = {option.name: getattr(options, option.name) for option in dataclass_fields(IngressOptions)}
        return cls(name=name, labels=labels, service=service, **fields)


def _backend(service: ServiceTarget) -> k8s.IngressBackend:
    return k8s.IngressBackend(
        service=k8s.IngressServiceBackend(
            name=service.service_name, port=k8s.ServiceBackendPort(name=service.service_port_name)
        )
    )


class WebIngress(Construct):
    """An Ingress routing `props.hosts` to one service, with the controller-specific annotations.

    For Traefik, rate limiting, CORS and body size become Middleware objects (traefik.io/v1alpha1) that the
    Ingress references through `router.middlewares`.

    Attributes:
        resource: the Ingress (the child `Resource`).
        name, hosts: the Ingress's name and hosts.
        tls_secret_name: the Secret cert-manager writes the certificate to, when `props.tls`.
    """

    def __init__(self, scope: Construct, id: str, props: WebIngressProps) -> None:
        super().__init__(scope, id)
        _validate(props)
        self.name = props.name
        self.hosts = tuple(props.hosts)
        self.tls_secret_name = f"{props.name}-tls" if props.tls else None
        annotations: dict[str, str] = {}
        if props.tls:
            annotations["cert-manager.io/cluster-issuer"] = props.cluster_issuer
        if props.class_name == "nginx":
            annotations.update(_nginx_annotations(props))
        else:
            annotations.update(_traefik_annotations(self, props))
        annotations.update(props.annotations)
        paths = [
            k8s.HttpIngressPath(path=route.path, path_type="Prefix", backend=_backend(route.service))
            for route in (IngressPath(path=props.path, service=props.service), *props.extra_paths)
        ]
        self.resource = k8s.KubeIngress(
            self,
            "Resource",
            metadata=k8s.ObjectMeta(name=props.name, labels=dict(props.labels), annotations=annotations or None),
            spec=k8s.IngressSpec(
                ingress_class_name=props.class_name,
                rules=[k8s.IngressRule(host=host, http=k8s.HttpIngressRuleValue(paths=paths)) for host in props.hosts],
                tls=[k8s.IngressTls(hosts=list(props.hosts), secret_name=self.tls_secret_name)] if props.tls else None,
            ),
        )


def _traefik_annotations(scope: Construct, props: WebIngressProps) -> dict[str, str]:
    # Imported here: the generated Traefik module is large, and only stacks using Traefik pay for it.
    from imports.io.traefik import (
        Middleware,
        MiddlewareSpec,
        MiddlewareSpecBuffering,
        MiddlewareSpecHeaders,
        MiddlewareSpecRateLimit,
    )

    specs: dict[str, MiddlewareSpec] = {}
    if props.rate_limit:
        specs["ratelimit"] = MiddlewareSpec(
            rate_limit=MiddlewareSpecRateLimit(
                average=props.rate_limit.requests_per_second,
                burst=props.rate_limit.requests_per_second * props.rate_limit.burst_multiplier,
            )
        )
    if props.cors:
        specs["cors"] = MiddlewareSpec(
            headers=MiddlewareSpecHeaders(
                access_control_allow_origin_list=list(props.cors.allow_origins),
                access_control_allow_methods=list(props.cors.allow_methods),
                access_control_allow_headers=list(props.cors.allow_headers),
                access_control_allow_credentials=props.cors.allow_credentials,
                access_control_max_age=props.cors.max_age_seconds,
                add_vary_header=True,
            )
        )
    if props.max_body_megabytes is not None:
        specs["body-size"] = MiddlewareSpec(
            buffering=MiddlewareSpecBuffering(max_request_body_bytes=props.max_body_megabytes * 1024 * 1024)
        )
    # Asked of the tree only here: two Node round-trips that nginx ingresses do not need.
    namespace = Chart.of(scope).namespace or "default"
    references = []
    for suffix, spec in specs.items():
        middleware_name = f"{props.name}-{suffix}"
        Middleware(
            scope, f"Middleware-{suffix}", metadata={"name": middleware_name, "labels": dict(props.labels)}, spec=spec
        )
        # Traefik names a Kubernetes CRD middleware <namespace>-<name>@kubernetescrd.
        references.append(f"{namespace}-{middleware_name}@kubernetescrd")
    annotations = {
        "traefik.ingress.kubernetes.io/router.entrypoints": "websecure" if props.tls else "web",
    }
    if props.tls:
        annotations["traefik.ingress.kubernetes.io/router.tls"] = "true"
    if references:
        annotations["traefik.ingress.kubernetes.io/router.middlewares"] = ",".join(references)
    return annotations


def _nginx_annotations(props: WebIngressProps) -> dict[str, str]:
    prefix = "nginx.ingress.kubernetes.io"
    annotations: dict[str, str] = {}
    if props.tls:
        annotations[f"{prefix}/ssl-redirect"] = "true"
    if props.rate_limit:
        annotations[f"{prefix}/limit-rps"] = str(props.rate_limit.requests_per_second)
        annotations[f"{prefix}/limit-burst-multiplier"] = str(props.rate_limit.burst_multiplier)
    if props.cors:
        annotations[f"{prefix}/enable-cors"] = "true"
        annotations[f"{prefix}/cors-allow-origin"] = ", ".join(props.cors.allow_origins)
        annotations[f"{prefix}/cors-allow-methods"] = ", ".join(props.cors.allow_methods)
        annotations[f"{prefix}/cors-allow-headers"] = ", ".join(props.cors.allow_headers)
        annotations[f"{prefix}/cors-allow-credentials"] = str(props.cors.allow_credentials).lower()
        annotations[f"{prefix}/cors-max-age"] = str(props.cors.max_age_seconds)
    if props.max_body_megabytes is not None:
        annotations[f"{prefix}/proxy-body-size"] = f"{props.max_body_megabytes}m"
    if props.timeouts:
        annotations[f"{prefix}/proxy-connect-timeout"] = str(props.timeouts.connect_seconds)
        annotations[f"{prefix}/proxy-read-timeout"] = str(props.timeouts.read_seconds)
        annotations[f"{prefix}/proxy-send-timeout"] = str(props.timeouts.send_seconds)
    return annotations


def _validate(props: WebIngressProps) -> None:
    construct = "WebIngress"
    if props.class_name not in INGRESS_CLASSES:
        raise PropsError(construct, "class_name", props.class_name, " | ".join(INGRESS_CLASSES))
    if not props.hosts:
        raise PropsError(construct, "hosts", list(props.hosts), "at least one host name")
    for host in props.hosts:
        WILDCARD_HOST_NAME.require(construct, "hosts", host)
    if len(set(props.hosts)) != len(props.hosts):
        raise PropsError(construct, "hosts", list(props.hosts), "distinct host names")
    if not props.path.startswith("/"):
        raise PropsError(construct, "path", props.path, "a URL path starting with '/'")
    seen = [props.path]
    for index, extra in enumerate(props.extra_paths):
        if not extra.path.startswith("/"):
            raise PropsError(construct, f"extra_paths[{index}].path", extra.path, "a URL path starting with '/'")
        if extra.path in seen:
            raise PropsError(construct, f"extra_paths[{index}].path", extra.path, f"a path not already routed {seen}")
        seen.append(extra.path)
    if props.rate_limit is not None:
        if props.rate_limit.requests_per_second < 1:
            raise PropsError(
                construct, "rate_limit.requests_per_second", props.rate_limit.requests_per_second, "an integer >= 1"
            )
        if props.rate_limit.burst_multiplier < 1:
            raise PropsError(
                construct, "rate_limit.burst_multiplier", props.rate_limit.burst_multiplier, "an integer >= 1"
            )
    if props.cors is not None:
        if not props.cors.allow_origins:
            raise PropsError(construct, "cors.allow_origins", [], "at least one origin such as https://example.com")
        for origin in props.cors.allow_origins:
            if origin == "*" and props.cors.allow_credentials:
                raise PropsError(
                    construct, "cors.allow_origins", origin, "explicit origins when credentials are allowed"
                )
    if props.max_body_megabytes is not None and not 1 <= props.max_body_megabytes <= 10240:
        raise PropsError(construct, "max_body_megabytes", props.max_body_megabytes, "an integer 1..10240")
    if props.timeouts is not None:
        if props.class_name == "traefik":
            raise PropsError(
                construct,
                "timeouts",
                props.timeouts,
                "None with class_name 'traefik' (Traefik sets timeouts on its entry points, not per Ingress)",
            )
        for name in ("connect_seconds", "read_seconds", "send_seconds"):
            value = getattr(props.timeouts, name)
            if not 1 <= value <= 3600:
                raise PropsError(construct, f"timeouts.{name}", value, "an integer 1..3600")


__all__ = [
    "CorsPolicy",
    "IngressClass",
    "IngressOptions",
    "IngressPath",
    "ProxyTimeouts",
    "RateLimit",
    "ServiceTarget",
    "WebIngress",
    "WebIngressProps",
]
