"""VolumeClaims, TraefikWebRoute and SyncedSecret: what they render, and a clear error for every bad prop."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from constructs_lib import (
    PropsError,
    RemoteKey,
    SyncedSecret,
    SyncedSecretProps,
    TraefikWebRoute,
    TraefikWebRouteProps,
    VolumeClaim,
    VolumeClaims,
    VolumeClaimsProps,
)
from tests.construct_helpers import only, synth

LABELS = {"app.kubernetes.io/name": "app"}
CLAIMS = VolumeClaimsProps(
    prefix="app",
    labels=LABELS,
    claims=[
        VolumeClaim(name="data", size="5Gi", mount_path="/data"),
        VolumeClaim(name="cache", size="1Gi", mount_path="/cache"),
    ],
)
ROUTE = TraefikWebRouteProps(name="app", labels=LABELS, hosts=["app.example.com"], service_name="app", service_port=80)
SECRET = SyncedSecretProps(
    name="app-db", labels=LABELS, store="vault", data={"PASSWORD": RemoteKey(key="app/db", property="password")}
)


def test_volume_claims_render_claims_volumes_and_mounts() -> None:
    captured: dict[str, Any] = {}

    def build(chart: Any) -> None:
        captured["claims"] = VolumeClaims(chart, "Claims", dataclasses.replace(CLAIMS, storage_class="fast"))

    manifests = synth(build)
    claims = {m["metadata"]["name"]: m["spec"] for m in manifests}
    assert claims["app-data"] == {
        "accessModes": ["ReadWriteOnce"],
        "storageClassName": "fast",
        "resources": {"requests": {"storage": "5Gi"}},
    }
    construct = captured["claims"]
    assert [m.mount_path for m in construct.mounts] == ["/data", "/cache"]
    assert [v.name for v in construct.volumes] == ["data", "cache"]


@pytest.mark.parametrize(
    ("overrides", "prop", "allowed"),
    [
        ({"claims": []}, "claims", "at least one"),
        ({"claims": [VolumeClaim(name="d", size="lots", mount_path="/d")]}, "claims[0].size", "Mi"),
        ({"claims": [VolumeClaim(name="d", size="1Gi", mount_path="d")]}, "claims[0].mount_path", "absolute"),
        (
            {
                "claims": [
                    VolumeClaim(name="d", size="1Gi", mount_path="/d"),
                    VolumeClaim(name="d", size="1Gi", mount_path="/e"),
                ]
            },
            "claims[1].name",
            "distinct",
        ),
        (
            {
                "claims": [
                    VolumeClaim(name="d", size="1Gi", mount_path="/d"),
                    VolumeClaim(name="e", size="1Gi", mount_path="/d"),
                ]
            },
            "claims[1].mount_path",
            "distinct",
        ),
        ({"access_mode": "ReadWriteSometimes"}, "access_mode", "ReadWriteOnce"),
    ],
)
def test_volume_claims_validation(overrides: dict[str, Any], prop: str, allowed: str) -> None:
    with pytest.raises(PropsError) as caught:
        synth(lambda chart: VolumeClaims(chart, "C", dataclasses.replace(CLAIMS, **overrides)))
    assert (caught.value.construct, caught.value.prop) == ("VolumeClaims", prop)
    assert allowed in caught.value.allowed


def test_traefik_route_renders_https_redirect_and_certificate() -> None:
    manifests = synth(lambda chart: TraefikWebRoute(chart, "R", ROUTE))
    kinds = sorted((m["kind"], m["metadata"]["name"]) for m in manifests)
    assert kinds == [
        ("Certificate", "app-tls"),
        ("IngressRoute", "app-http"),
        ("IngressRoute", "app-https"),
        ("Middleware", "app-redirect-https"),
    ]
    without_redirect = synth(lambda chart: TraefikWebRoute(chart, "R", dataclasses.replace(ROUTE, redirect_http=False)))
    assert sorted(m["kind"] for m in without_redirect) == ["Certificate", "IngressRoute"]


@pytest.mark.parametrize(
    ("overrides", "prop", "allowed"),
    [
        ({"hosts": []}, "hosts", "at least one"),
        ({"hosts": ["Not A Host"]}, "hosts", "DNS host name"),
        ({"hosts": ["a.example.com", "a.example.com"]}, "hosts", "distinct"),
        ({"service_port": 0}, "service_port", "1..65535"),
        ({"web_entry_point": "websecure"}, "web_entry_point", "other than the TLS one"),
        ({"cluster_issuer": "Lets Encrypt"}, "cluster_issuer", "DNS label"),
    ],
)
def test_traefik_route_validation(overrides: dict[str, Any], prop: str, allowed: str) -> None:
    with pytest.raises(PropsError) as caught:
        synth(lambda chart: TraefikWebRoute(chart, "R", dataclasses.replace(ROUTE, **overrides)))
    assert (caught.value.construct, caught.value.prop) == ("TraefikWebRoute", prop)
    assert allowed in caught.value.allowed


def test_synced_secret_renders_an_external_secret_owning_the_secret() -> None:
    spec = only(synth(lambda chart: SyncedSecret(chart, "S", SECRET)), "ExternalSecret")["spec"]
    assert spec["target"] == {"name": "app-db", "creationPolicy": "Owner"}
    assert spec["secretStoreRef"] == {"name": "vault", "kind": "ClusterSecretStore"}
    assert spec["data"] == [{"secretKey": "PASSWORD", "remoteRef": {"key": "app/db", "property": "password"}}]
    assert spec["refreshInterval"] == "1h"


@pytest.mark.parametrize(
    ("overrides", "prop", "allowed"),
    [
        ({"data": {}}, "data", "at least one key"),
        ({"data": {"bad key!": RemoteKey(key="k")}}, "data", "a Secret or ConfigMap key"),
        ({"data": {"K": RemoteKey(key="")}}, "data.K.key", "a remote key"),
        ({"secret_type": "kubernetes.io/dockerconfigjson"}, "data", ".dockerconfigjson"),
        ({"refresh_interval": "hourly"}, "refresh_interval", "duration"),
        ({"store_kind": "Vault"}, "store_kind", "ClusterSecretStore | SecretStore"),
    ],
)
def test_synced_secret_validation(overrides: dict[str, Any], prop: str, allowed: str) -> None:
    with pytest.raises(PropsError) as caught:
        synth(lambda chart: SyncedSecret(chart, "S", dataclasses.replace(SECRET, **overrides)))
    assert (caught.value.construct, caught.value.prop) == ("SyncedSecret", prop)
    assert allowed in caught.value.allowed
