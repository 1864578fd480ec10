"""SyncedSecret: an External Secrets Operator `ExternalSecret` that keeps a Kubernetes Secret in step with a secret
manager, so the Secret a workload references is declared in git without its values ever being there."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from constructs import Construct

from constructs_lib.errors import PropsError
from value_types.names import DNS_LABEL, SECRET_KEY
from value_types.schedules import REFRESH_INTERVAL

StoreKind = Literal["ClusterSecretStore", "SecretStore"]
SecretType = Literal["Opaque", "kubernetes.io/dockerconfigjson"]


@dataclass(frozen=True, kw_only=True)
class RemoteKey:
    """Where one value lives in the secret manager.

    Attributes:
        key: the remote secret's name or path, e.g. `kairoflow/prod/database`.
        property: a field inside it (JSON secrets). Default: the whole value.
    """

    key: str
    property: str | None = None


@dataclass(frozen=True, kw_only=True)
class SyncedSecretProps:
    """Props of `SyncedSecret`.

    Attributes:
        name: the Kubernetes Secret to create and keep current (also the ExternalSecret's name).
        labels: the recommended labels of the application.
        store: the (Cluster)SecretStore to read from.
        data: Secret key -> where its value lives, e.g. `DATABASE_PASSWORD -> RemoteKey(key="kairoflow/db",
            property="password")`.
        store_kind: `ClusterSecretStore` (default) or `SecretStore`.
        refresh_interval: how often values are re-read. Default `1h`.
        secret_type: `Opaque` (default) or `kubernetes.io/dockerconfigjson` (an image pull Secret; `data` then
            holds its `.dockerconfigjson` key).
        pre_sync_wave: make it an Argo CD PreSync hook in this wave (Argo CD runs a phase's hooks wave by wave),
            for a Secret that a PreSync hook such as a migration reads: on a first install the hooks run before
            anything else is applied. Give it a wave lower than its readers'. The hook is recreated at each sync
            (BeforeHookCreation), so the Secret is created without an owner (`creationPolicy: Orphan`) and outlives
            it, updated in place. Default None: an ordinary object, owning its Secret.
    """

    name: str
    labels: Mapping[str, str]
    store: str
    data: Mapping[str, RemoteKey]
    store_kind: StoreKind = "ClusterSecretStore"
    refresh_interval: str = "1h"
    secret_type: SecretType = "Opaque"
    pre_sync_wave: int | None = None


class SyncedSecret(Construct):
    """One ExternalSecret (external-secrets.io/v1) owning the Secret `name`."""

    def __init__(self, scope: Construct, id: str, props: SyncedSecretProps) -> None:
        super().__init__(scope, id)
        _validate(props)
        # Imported here: the generated External Secrets module is large, and most stacks never need it.
        from imports.io import external_secrets

        #: The Secret workloads reference.
        self.secret_name = props.name
        external_secrets.ExternalSecret(
            self,
            "Resource",
            metadata={
                "name": props.name,
                "labels": dict(props.labels),
                **({"annotations": _pre_sync_hook(props.pre_sync_wave)} if props.pre_sync_wave is not None else {}),
            },
            spec=external_secrets.ExternalSecretSpec(
                refresh_interval=props.refresh_interval,
                secret_store_ref=external_secrets.ExternalSecretSpecSecretStoreRef(
                    name=props.store,
                    kind=external_secrets.ExternalSecretSpecSecretStoreRefKind.CLUSTER_SECRET_STORE
                    if props.store_kind == "ClusterSecretStore"
                    else external_secrets.ExternalSecretSpecSecretStoreRefKind.SECRET_STORE,
                ),
                target=external_secrets.ExternalSecretSpecTarget(
                    name=props.name,
                    creation_policy=external_secrets.ExternalSecretSpecTargetCreationPolicy.ORPHAN
                    if props.pre_sync_wave is not None
                    else external_secrets.ExternalSecretSpecTargetCreationPolicy.OWNER,
                    template=external_secrets.ExternalSecretSpecTargetTemplate(type=props.secret_type)
                    if props.secret_type != "Opaque"
                    else None,
                ),
                data=[
                    external_secrets.ExternalSecretSpecData(
                        secret_key=secret_key,
                        remote_ref=external_secrets.ExternalSecretSpecDataRemoteRef(
                            key=remote.key, property=remote.property
                        ),
                    )
                    for secret_key, remote in sorted(props.data.items())
                ],
            ),
        )


def _pre_sync_hook(wave: int) -> dict[str, str]:
    return {
        "argocd.argoproj.io/hook": "PreSync",
        "argocd.argoproj.io/hook-delete-policy": "BeforeHookCreation",
        "argocd.argoproj.io/sync-wave": str(wave),
    }


def _validate(props: SyncedSecretProps) -> None:
    construct = "SyncedSecret"
    DNS_LABEL.require(construct, "name", props.name)
    DNS_LABEL.require(construct, "store", props.store)
    if props.store_kind not in ("ClusterSecretStore", "SecretStore"):
        raise PropsError(construct, "store_kind", props.store_kind, "ClusterSecretStore | SecretStore")
    if props.secret_type not in ("Opaque", "kubernetes.io/dockerconfigjson"):
        raise PropsError(construct, "secret_type", props.secret_type, "Opaque | kubernetes.io/dockerconfigjson")
    if not props.data:
        raise PropsError(construct, "data", {}, "at least one key")
    for secret_key, remote in props.data.items():
        SECRET_KEY.require(construct, "data", secret_key)
        if not remote.key:
            raise PropsError(construct, f"data.{secret_key}.key", remote.key, "a remote key")
    if props.secret_type == "kubernetes.io/dockerconfigjson" and set(props.data) != {".dockerconfigjson"}:
        raise PropsError(construct, "data", sorted(props.data), "exactly the key .dockerconfigjson for a pull Secret")
    REFRESH_INTERVAL.require(construct, "refresh_interval", props.refresh_interval)
