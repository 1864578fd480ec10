"""WebIngress for nginx and Traefik: hosts, cert-manager TLS, rate limit, CORS, body size and timeouts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from constructs_lib import (
    CorsPolicy,
    IngressOptions,
    IngressPath,
    PropsError,
    ProxyTimeouts,
    RateLimit,
    WebIngress,
    WebIngressProps,
)
from tests.construct_helpers import only, synth

LABELS = {"app.kubernetes.io/name": "web"}


@dataclass(frozen=True)
class Backend:
    """A service the Ingress routes to (an AppService in the stacks)."""

    service_name: str
    service_port_name: str = "http"


def render(options: IngressOptions) -> list[dict[str, Any]]:
    props = WebIngressProps.for_service(Backend("web"), options, name="web", labels=LABELS)
    return synth(lambda chart: WebIngress(chart, "Ingress", props))


def test_extra_paths_route_to_the_service_they_reference() -> None:
    options = IngressOptions(hosts=["web.example.com"], extra_paths=[IngressPath(path="/api", service=Backend("api"))])
    paths = only(render(options), "Ingress")["spec"]["rules"][0]["http"]["paths"]
    assert [(path["path"], path["backend"]["service"]) for path in paths] == [
        ("/", {"name": "web", "port": {"name": "http"}}),
        ("/api", {"name": "api", "port": {"name": "http"}}),
    ]


FULL = IngressOptions(
    hosts=["web.example.com", "www.example.com"],
    rate_limit=RateLimit(requests_per_second=20),
    cors=CorsPolicy(allow_origins=["https://app.example.com"]),
    max_body_megabytes=8,
)


def test_nginx_several_hosts_tls_and_annotations() -> None:
    props = IngressOptions(**{**FULL.__dict__, "timeouts": ProxyTimeouts(read_seconds=120)})
    ingress = only(render(props), "Ingress")
    annotations = ingress["metadata"]["annotations"]
    assert ingress["spec"]["ingressClassName"] == "nginx"
    assert [rule["host"] for rule in ingress["spec"]["rules"]] == ["web.example.com", "www.example.com"]
    assert ingress["spec"]["tls"] == [{"hosts": ["web.example.com", "www.example.com"], "secretName": "web-tls"}]
    assert annotations["cert-manager.io/cluster-issuer"] == "letsencrypt-prod"
    assert annotations["nginx.ingress.kubernetes.io/limit-rps"] == "20"
    assert annotations["nginx.ingress.kubernetes.io/limit-burst-multiplier"] == "5"
    assert annotations["nginx.ingress.kubernetes.io/enable-cors"] == "true"
    assert annotations["nginx.ingress.kubernetes.io/cors-allow-origin"] == "https://app.example.com"
    assert annotations["nginx.ingress.kubernetes.io/proxy-body-size"] == "8m"
    assert annotations["nginx.ingress.kubernetes.io/proxy-read-timeout"] == "120"
    assert annotations["nginx.ingress.kubernetes.io/proxy-connect-timeout"] == "5"


def test_traefik_uses_middlewares_for_rate_limit_cors_and_body_size() -> None:
    manifests = render(IngressOptions(**{**FULL.__dict__, "class_name": "traefik"}))
    ingress = only(manifests, "Ingress")
    annotations = ingress["metadata"]["annotations"]
    assert ingress["spec"]["ingressClassName"] == "traefik"
    assert annotations["traefik.ingress.kubernetes.io/router.entrypoints"] == "websecure"
    assert annotations["traefik.ingress.kubernetes.io/router.tls"] == "true"
    middlewares = {m["metadata"]["name"]: m["spec"] for m in manifests if m["kind"] == "Middleware"}
    assert middlewares == {
        "web-ratelimit": {"rateLimit": {"average": 20, "burst": 100}},
        "web-cors": {
            "headers": {
                "accessControlAllowOriginList": ["https://app.example.com"],
                "accessControlAllowMethods": ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
                "accessControlAllowHeaders": ["Authorization", "Content-Type"],
                "accessControlAllowCredentials": False,
                "accessControlMaxAge": 600,
                "addVaryHeader": True,
            }
        },
        "web-body-size": {"buffering": {"maxRequestBodyBytes": 8 * 1024 * 1024}},
    }
    assert annotations["traefik.ingress.kubernetes.io/router.middlewares"] == (
        "apps-web-ratelimit@kubernetescrd,apps-web-cors@kubernetescrd,apps-web-body-size@kubernetescrd"
    )


def test_plain_http_has_no_tls_and_no_issuer() -> None:
    ingress = only(render(IngressOptions(hosts=["web.example.com"], tls=False)), "Ingress")
    assert "tls" not in ingress["spec"]
    assert "annotations" not in ingress["metadata"]


@pytest.mark.parametrize(
    ("props", "prop", "allowed"),
    [
        (IngressOptions(hosts=[]), "hosts", "at least one"),
        (IngressOptions(hosts=["Web.Example.com"]), "hosts", "lowercase DNS host name"),
        (IngressOptions(hosts=["a.example.com", "a.example.com"]), "hosts", "distinct"),
        (IngressOptions(hosts=["a.example.com"], class_name="haproxy"), "class_name", "nginx | traefik"),  # type: ignore[arg-type]
        (IngressOptions(hosts=["a.example.com"], path="api"), "path", "starting with '/'"),
        (
            IngressOptions(hosts=["a.example.com"], rate_limit=RateLimit(requests_per_second=0)),
            "rate_limit.requests_per_second",
            ">= 1",
        ),
        (
            IngressOptions(hosts=["a.example.com"], cors=CorsPolicy(allow_origins=["*"], allow_credentials=True)),
            "cors.allow_origins",
            "explicit origins",
        ),
        (IngressOptions(hosts=["a.example.com"], max_body_megabytes=0), "max_body_megabytes", "1..10240"),
        (
            IngressOptions(hosts=["a.example.com"], class_name="traefik", timeouts=ProxyTimeouts()),
            "timeouts",
            "entry points",
        ),
    ],
)
def test_bad_props(props: IngressOptions, prop: str, allowed: str) -> None:
    with pytest.raises(PropsError) as caught:
        render(props)
    assert caught.value.prop == prop
    assert allowed in caught.value.allowed
