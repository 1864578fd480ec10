"""SyncHookJob: a Job that Argo CD runs at a sync phase, such as a database migration before every sync."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from cdk8s_plus_27 import k8s
from constructs import Construct

from constructs_lib.batch_job import JobPod, PodWorkload
from constructs_lib.container import ContainerSpec, PodSecurity
from constructs_lib.errors import PropsError
from constructs_lib.labels import RecommendedLabels
from constructs_lib.network_policy import EgressRule, NetworkAccess, PodNetworkPolicy

HookPhase = Literal["PreSync", "Sync", "PostSync", "SyncFail"]
HookDeletePolicy = Literal["BeforeHookCreation", "HookSucceeded", "HookFailed"]


@dataclass(frozen=True, kw_only=True)
class SyncHookJobProps:
    """Props of `SyncHookJob`.

    Attributes:
        name: the Job's name.
        labels: the recommended labels of the application the hook belongs to (its component names the hook).
        container: the hook's container. Its env must not rely on objects of the same sync: a PreSync hook runs
            before them, so pass configuration inline and credentials as Secret references.
        phase: the Argo CD hook phase. Default `PreSync`.
        delete_policy: when Argo CD deletes the previous run. Default `BeforeHookCreation` (keep the last run's
            logs until the next sync).
        backoff_limit: retries before the sync fails. Default 1.
        active_deadline_seconds: the longest a run may take. Default 600.
        security: UID, GID and fsGroup. Default: UID/GID 65532.
        writable_paths: emptyDir mounts for a read-only root filesystem. Default `/tmp`.
        annotations: extra annotations on the Job.
        sidecars: more containers next to the main one, hardened the same way (each must exit for the Job to end).
            Default: none.
        volumes: pod volumes the containers mount (claims, a shared emptyDir). Default: none.
    """

    name: str
    labels: RecommendedLabels
    container: ContainerSpec
    phase: HookPhase = "PreSync"
    delete_policy: HookDeletePolicy = "BeforeHookCreation"
    backoff_limit: int = 1
    active_deadline_seconds: int = 600
    security: PodSecurity = field(default_factory=PodSecurity)
    writable_paths: tuple[str, ...] = ("/tmp",)
    annotations: Mapping[str, str] = field(default_factory=dict)
    sidecars: Sequence[ContainerSpec] = ()
    volumes: Sequence[k8s.Volume] = ()


class SyncHookJob(PodWorkload):
    """A hardened Job carrying the Argo CD hook annotations (`argocd.argoproj.io/hook`, `hook-delete-policy`).
    A `Workload`: policies admit or isolate its pods by reference (`api.allow_from(hook)`)."""

    def __init__(self, scope: Construct, id: str, props: SyncHookJobProps) -> None:
        construct = "SyncHookJob"
        if props.phase not in ("PreSync", "Sync", "PostSync", "SyncFail"):
            raise PropsError(construct, "phase", props.phase, "PreSync | Sync | PostSync | SyncFail")
        pod = JobPod(
            container=props.container,
            sidecars=props.sidecars,
            volumes=props.volumes,
            backoff_limit=props.backoff_limit,
            active_deadline_seconds=props.active_deadline_seconds,
            security=props.security,
            writable_paths=props.writable_paths,
        )
        super().__init__(scope, id, kind=construct, name=props.name, labels=props.labels, pod=pod)
        labels = props.labels.all
        self.resource = k8s.KubeJob(
            self,
            "Resource",
            metadata=k8s.ObjectMeta(
                name=props.name,
                labels=labels,
                annotations={
                    "argocd.argoproj.io/hook": props.phase,
                    "argocd.argoproj.io/hook-delete-policy": props.delete_policy,
                    **props.annotations,
                },
            ),
            spec=pod.render(labels),
        )

    def isolate(self, egress: Sequence[EgressRule]) -> PodNetworkPolicy:
        """A NetworkPolicy for this hook's pods, named like the Job: nothing may connect to them, and they may
        reach only DNS and `egress` (what the hook calls)."""
        return PodNetworkPolicy.isolating(
            self, "NetworkPolicy", self, name=self.name, ports=[], access=NetworkAccess(egress=list(egress))
        )


class HookJobConstruct(Construct):
    """A construct built around one hook Job (a backup, a check).

    Attributes:
        job: the hook Job (a `Workload`).
        network_policy: its pods' NetworkPolicy, when isolated.
    """

    job: SyncHookJob
    network_policy: PodNetworkPolicy | None

    def _add_job(self, props: SyncHookJobProps, isolated_egress: Sequence[EgressRule] | None) -> SyncHookJob:
        """The Job; with `isolated_egress`, its pods isolated: no ingress, only DNS and that egress out."""
        self.job = SyncHookJob(self, "Job", props)
        self.network_policy = self.job.isolate(isolated_egress) if isolated_egress is not None else None
        return self.job
