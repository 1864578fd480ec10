"""TraefikWebRoute: HTTPS for a Service through Traefik IngressRoutes, with a cert-manager Certificate and an HTTP
route that only redirects to HTTPS (for clusters that use Traefik's CRDs rather than Ingress objects)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from constructs import Construct

from constructs_lib.errors import PropsError
from constructs_lib.web_ingress import RateLimit
from value_types.names import DNS_LABEL, HOST_NAME
from value_types.ports import PORT
from value_types.web import SecurityHeadersSettings


@dataclass(frozen=True, kw_only=True)
class TraefikWebRouteProps:
    """Props of `TraefikWebRoute`.

    Attributes:
        name: prefix of every object: `<name>-https` and `<name>-http` IngressRoutes, `<name>-redirect-https`
            Middleware, and `<name>-tls` Certificate and Secret.
        labels: the recommended labels of the application.
        hosts: host names routed (each a `Host(...)` match, and a DNS name on the certificate).
        service_name: the Service the routes send traffic to.
        service_port: its port number.
        cluster_issuer: the cert-manager ClusterIssuer. Default `letsencrypt-prod`.
        secure_entry_point: Traefik's TLS entry point. Default `websecure` (443).
        web_entry_point: Traefik's plain HTTP entry point. Default `web` (80).
        redirect_http: route `web` to a permanent redirect to HTTPS. Default True.
        security_headers: a `headers` Middleware `<name>-security-headers` on the HTTPS route (value_types'
            SecurityHeadersSettings, validated when made). Default: none.
        rate_limit: a `rateLimit` Middleware `<name>-ratelimit` (per client IP) on the HTTPS route. Default: none.
    """

    name: str
    labels: Mapping[str, str]
    hosts: Sequence[str]
    service_name: str
    service_port: int
    cluster_issuer: str = "letsencrypt-prod"
    secure_entry_point: str = "websecure"
    web_entry_point: str = "web"
    redirect_http: bool = True
    security_headers: SecurityHeadersSettings | None = None
    rate_limit: RateLimit | None = None


class TraefikWebRoute(Construct):
    """A Certificate, an IngressRoute on the TLS entry point, and (by default) an HTTP IngressRoute whose only job is
    a redirect to HTTPS through a `redirectScheme` Middleware."""

    def __init__(self, scope: Construct, id: str, props: TraefikWebRouteProps) -> None:
        super().__init__(scope, id)
        _validate(props)
        # Imported here so that stacks without Traefik or cert-manager objects never load the generated modules.
        from imports.io.cert_manager import Certificate, CertificateSpec, CertificateSpecIssuerRef
        from imports.io.traefik import (
            IngressRoute,
            IngressRouteSpec,
            IngressRouteSpecRoutes,
            IngressRouteSpecRoutesKind,
            IngressRouteSpecRoutesMiddlewares,
            IngressRouteSpecRoutesServices,
            IngressRouteSpecRoutesServicesPort,
            IngressRouteSpecTls,
            Middleware,
            MiddlewareSpec,
            MiddlewareSpecHeaders,
            MiddlewareSpecRateLimit,
            MiddlewareSpecRedirectScheme,
        )

        labels = dict(props.labels)
        #: The Secret cert-manager writes the certificate to.
        self.tls_secret_name = f"{props.name}-tls"
        match = " || ".join(f"Host(`{host}`)" for host in props.hosts)
        services = [
            IngressRouteSpecRoutesServices(
                name=props.service_name, port=IngressRouteSpecRoutesServicesPort.from_number(props.service_port)
            )
        ]
        Certificate(
            self,
            "Certificate",
            metadata={"name": self.tls_secret_name, "labels": labels},
            spec=CertificateSpec(
                secret_name=self.tls_secret_name,
                issuer_ref=CertificateSpecIssuerRef(name=props.cluster_issuer, kind="ClusterIssuer"),
                dns_names=list(props.hosts),
            ),
        )
        # The HTTPS route's Middlewares (construct id, name suffix, spec), in the order Traefik applies them.
        https_specs: list[tuple[str, str, MiddlewareSpec]] = []
        if props.rate_limit is not None:
            limit = props.rate_limit
            https_specs.append(
                (
                    "RateLimit",
                    "ratelimit",
                    MiddlewareSpec(
                        rate_limit=MiddlewareSpecRateLimit(
                            average=limit.requests_per_second, burst=limit.requests_per_second * limit.burst_multiplier
                        )
                    ),
                )
            )
        if props.security_headers is not None:
            headers = props.security_headers
            https_specs.append(
                (
                    "SecurityHeaders",
                    "security-headers",
                    MiddlewareSpec(
                        headers=MiddlewareSpecHeaders(
                            sts_seconds=headers.hsts_seconds or None,
                            sts_include_subdomains=headers.hsts_include_subdomains if headers.hsts_seconds else None,
                            frame_deny=headers.frame_deny or None,
                            content_type_nosniff=headers.content_type_nosniff or None,
                            referrer_policy=headers.referrer_policy,
                            content_security_policy=headers.content_security_policy,
                        )
                    ),
                )
            )
        # Referenced from the route by the objects themselves.
        https_middlewares = [
            Middleware(self, construct_id, metadata={"name": f"{props.name}-{suffix}", "labels": labels}, spec=spec)
            for construct_id, suffix, spec in https_specs
        ]
        IngressRoute(
            self,
            "Https",
            metadata={"name": f"{props.name}-https", "labels": labels},
            spec=IngressRouteSpec(
                entry_points=[props.secure_entry_point],
                routes=[
                    IngressRouteSpecRoutes(
                        match=match,
                        kind=IngressRouteSpecRoutesKind.RULE,
                        middlewares=[IngressRouteSpecRoutesMiddlewares(name=m.name) for m in https_middlewares] or None,
                        services=services,
                    )
                ],
                tls=IngressRouteSpecTls(secret_name=self.tls_secret_name),
            ),
        )
        if props.redirect_http:
            redirect = f"{props.name}-redirect-https"
            Middleware(
                self,
                "RedirectHttps",
                metadata={"name": redirect, "labels": labels},
                spec=MiddlewareSpec(redirect_scheme=MiddlewareSpecRedirectScheme(scheme="https", permanent=True)),
            )
            IngressRoute(
                self,
                "Http",
                metadata={"name": f"{props.name}-http", "labels": labels},
                spec=IngressRouteSpec(
                    entry_points=[props.web_entry_point],
                    routes=[
                        IngressRouteSpecRoutes(
                            match=match,
                            kind=IngressRouteSpecRoutesKind.RULE,
                            # The redirect answers before the request reaches the service.
                            middlewares=[IngressRouteSpecRoutesMiddlewares(name=redirect)],
                            services=services,
                        )
                    ],
                ),
            )


def _validate(props: TraefikWebRouteProps) -> None:
    construct = "TraefikWebRoute"
    DNS_LABEL.require(construct, "name", props.name)
    DNS_LABEL.require(construct, "service_name", props.service_name)
    DNS_LABEL.require(construct, "cluster_issuer", props.cluster_issuer)
    if not props.hosts:
        raise PropsError(construct, "hosts", [], "at least one host name")
    for host in props.hosts:
        HOST_NAME.require(construct, "hosts", host)
    if len(set(props.hosts)) != len(props.hosts):
        raise PropsError(construct, "hosts", list(props.hosts), "distinct host names")
    PORT.require(construct, "service_port", props.service_port)
    if props.rate_limit is not None and not (
        props.rate_limit.requests_per_second >= 1 and props.rate_limit.burst_multiplier >= 1
    ):
        raise PropsError(
            construct,
            "rate_limit",
            (props.rate_limit.requests_per_second, props.rate_limit.burst_multiplier),
            "requests_per_second >= 1 and burst_multiplier >= 1",
        )
    if props.secure_entry_point == props.web_entry_point:
        raise PropsError(construct, "web_entry_point", props.web_entry_point, "an entry point other than the TLS one")
