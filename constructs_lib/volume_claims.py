"""VolumeClaims: a set of PersistentVolumeClaims, each with the path it is mounted at, and the pod volumes and
mounts to put them in every container that shares them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from cdk8s_plus_27 import k8s
from constructs import Construct

from constructs_lib.container import VolumeMount
from constructs_lib.errors import PropsError
from constructs_lib.k8s_values import quantity
from value_types.names import DNS_LABEL
from value_types.quantities import MEMORY, memory_bytes

AccessMode = Literal["ReadWriteOnce", "ReadWriteMany", "ReadWriteOncePod", "ReadOnlyMany"]
ACCESS_MODES: tuple[AccessMode, ...] = ("ReadWriteOnce", "ReadWriteMany", "ReadWriteOncePod", "ReadOnlyMany")


@dataclass(frozen=True, kw_only=True)
class VolumeClaim:
    """One claim and where it is mounted.

    Attributes:
        name: the claim's role, e.g. `uploads`; the PVC is `<prefix>-<name>` and the pod volume `<name>`.
        size: the requested storage, e.g. `5Gi`.
        mount_path: where every sharing container sees it.
    """

    name: str
    size: str
    mount_path: str


@dataclass(frozen=True, kw_only=True)
class VolumeClaimsProps:
    """Props of `VolumeClaims`.

    Attributes:
        prefix: PVC name prefix, e.g. `kairoflow` gives `kairoflow-uploads`.
        labels: the recommended labels of the owning application.
        claims: the claims (distinct names and mount paths).
        storage_class: the claims' StorageClass. Default: the cluster's default class.
        access_mode: default `ReadWriteOnce` (one node; pods sharing it must run on that node).
    """

    prefix: str
    labels: Mapping[str, str]
    claims: Sequence[VolumeClaim]
    storage_class: str | None = None
    access_mode: AccessMode = "ReadWriteOnce"


class VolumeClaims(Construct):
    """The PVCs; `volumes` and `mounts` attach them to a pod and its containers."""

    def __init__(self, scope: Construct, id: str, props: VolumeClaimsProps) -> None:
        super().__init__(scope, id)
        _validate(props)
        self.claim_names: dict[str, str] = {}
        for claim in props.claims:
            claim_name = f"{props.prefix}-{claim.name}"
            self.claim_names[claim.name] = claim_name
            k8s.KubePersistentVolumeClaim(
                self,
                claim.name,
                metadata=k8s.ObjectMeta(name=claim_name, labels=dict(props.labels)),
                spec=k8s.PersistentVolumeClaimSpec(
                    access_modes=[props.access_mode],
                    storage_class_name=props.storage_class,
                    resources=k8s.ResourceRequirements(requests={"storage": quantity(claim.size)}),
                ),
            )
        #: Pod volumes, one per claim, named after the claim's role.
        self.volumes = [
            k8s.Volume(
                name=claim.name,
                persistent_volume_claim=k8s.PersistentVolumeClaimVolumeSource(claim_name=self.claim_names[claim.name]),
            )
            for claim in props.claims
        ]
        #: Mounts of every claim at its path, for each container that shares them.
        self.mounts = [VolumeMount(volume=claim.name, mount_path=claim.mount_path) for claim in props.claims]


def _validate(props: VolumeClaimsProps) -> None:
    construct = "VolumeClaims"
    DNS_LABEL.require(construct, "prefix", props.prefix)
    if not props.claims:
        raise PropsError(construct, "claims", [], "at least one claim")
    if props.access_mode not in ACCESS_MODES:
        raise PropsError(construct, "access_mode", props.access_mode, " | ".join(ACCESS_MODES))
    names: set[str] = set()
    paths: set[str] = set()
    for index, claim in enumerate(props.claims):
        DNS_LABEL.require(construct, f"claims[{index}].name", claim.name)
        DNS_LABEL.require(construct, f"claims[{index}].name", f"{props.prefix}-{claim.name}")
        MEMORY.require(construct, f"claims[{index}].size", claim.size)
        if memory_bytes(claim.size) <= 0:
            raise PropsError(construct, f"claims[{index}].size", claim.size, "a size above zero")
        if not claim.mount_path.startswith("/"):
            raise PropsError(construct, f"claims[{index}].mount_path", claim.mount_path, "an absolute path")
        if claim.name in names:
            raise PropsError(construct, f"claims[{index}].name", claim.name, "distinct claim names")
        if claim.mount_path in paths:
            raise PropsError(construct, f"claims[{index}].mount_path", claim.mount_path, "distinct mount paths")
        names.add(claim.name)
        paths.add(claim.mount_path)
