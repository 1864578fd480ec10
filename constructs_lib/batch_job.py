"""BatchJob: a hardened run-to-completion Job; also the pod shape RetentionCron and SyncHookJob schedule."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from cdk8s_plus_27 import k8s
from constructs import Construct

from constructs_lib.container import ContainerSpec, PodSecurity, render_pod, writable_scratch
from constructs_lib.errors import PropsError
from constructs_lib.labels import RecommendedLabels, Workload
from value_types.names import DNS_LABEL

RestartPolicy = Literal["Never", "OnFailure"]


@dataclass(frozen=True, kw_only=True)
class JobPod:
    """What one run of a Job is: its containers, volumes, identity and limits.

    Attributes:
        container: the main container; the run ends when it exits.
        sidecars: more containers next to it (hardened the same way), e.g. a `WatcherSidecar`'s.
        volumes: pod volumes the containers mount (e.g. a shared workspace, PersistentVolumeClaims).
        backoff_limit: retries before the Job fails. Default 1 (maintenance work rarely improves on a retry).
        active_deadline_seconds: the longest one run may take. Default 600.
        restart_policy: `Never` (default: a failed run is a new pod, so its logs stay) or `OnFailure`.
        security: UID, GID and fsGroup. Default: UID/GID 65532.
        writable_paths: emptyDir mounts in the main container, since its root filesystem is read-only. Default `/tmp`.
        service_account_name: run as this ServiceAccount. Default: the namespace's `default`, with no API token.
        node_selector: schedule only on nodes with these labels. Default: any node.
        colocate_with: the workload (in the same namespace) whose pods this run must share a node with, e.g. a
            Deployment whose ReadWriteOnce claims it mounts: such a claim attaches to one node at a time.
            Rendered as required pod affinity on `kubernetes.io/hostname`. Default: none.
    """

    container: ContainerSpec
    sidecars: Sequence[ContainerSpec] = ()
    volumes: Sequence[k8s.Volume] = ()
    backoff_limit: int = 1
    active_deadline_seconds: int = 600
    restart_policy: RestartPolicy = "Never"
    security: PodSecurity = field(default_factory=PodSecurity)
    writable_paths: Sequence[str] = ("/tmp",)
    service_account_name: str | None = None
    node_selector: Mapping[str, str] = field(default_factory=dict)
    colocate_with: Workload | None = None

    def validate(self, construct: str) -> None:
        if self.backoff_limit < 0:
            raise PropsError(construct, "backoff_limit", self.backoff_limit, "an integer >= 0")
        if self.active_deadline_seconds < 1:
            raise PropsError(construct, "active_deadline_seconds", self.active_deadline_seconds, "an integer >= 1")
        if self.restart_policy not in ("Never", "OnFailure"):
            raise PropsError(construct, "restart_policy", self.restart_policy, "Never | OnFailure")
        for path in self.writable_paths:
            if not path.startswith("/"):
                raise PropsError(construct, "writable_paths", path, "absolute paths")
        self.container.validate(construct, "container")
        for index, sidecar in enumerate(self.sidecars):
            sidecar.validate(construct, f"sidecars[{index}]")
        names = [self.container.name, *(sidecar.name for sidecar in self.sidecars)]
        if len(set(names)) != len(names):
            raise PropsError(construct, "sidecars", names, "distinct container names")
        self.security.validate(construct, "security")

    def render(self, labels: Mapping[str, str]) -> k8s.JobSpec:
        """The spec of a Job that runs this pod."""
        return k8s.JobSpec(
            backoff_limit=self.backoff_limit,
            active_deadline_seconds=self.active_deadline_seconds,
            template=self.pod_template(labels),
        )

    def pod_template(self, labels: Mapping[str, str], *, pod_deadline: bool = False) -> k8s.PodTemplateSpec:
        """The pod of one run. With `pod_deadline`, `active_deadline_seconds` bounds the pod itself (for a template
        that something else turns into Jobs); otherwise the Job carries it."""
        volumes, scratch_mounts = writable_scratch(self.writable_paths)
        main = ContainerSpec(
            **{**self.container.__dict__, "volume_mounts": (*scratch_mounts, *self.container.volume_mounts)}
        )
        pod = render_pod([main, *self.sidecars], volumes=[*volumes, *self.volumes])
        return k8s.PodTemplateSpec(
            metadata=k8s.ObjectMeta(labels=dict(labels), annotations=pod.annotations or None),
            spec=k8s.PodSpec(
                restart_policy=self.restart_policy,
                service_account_name=self.service_account_name,
                automount_service_account_token=False,
                security_context=self.security.render(),
                containers=pod.containers,
                volumes=pod.volumes or None,
                node_selector=dict(self.node_selector) or None,
                affinity=_same_node_as(self.colocate_with.selector_labels) if self.colocate_with else None,
                active_deadline_seconds=self.active_deadline_seconds if pod_deadline else None,
            ),
        )


def _same_node_as(selector: Mapping[str, str]) -> k8s.Affinity:
    return k8s.Affinity(
        pod_affinity=k8s.PodAffinity(
            required_during_scheduling_ignored_during_execution=[
                k8s.PodAffinityTerm(
                    label_selector=k8s.LabelSelector(match_labels=dict(selector)),
                    topology_key="kubernetes.io/hostname",
                )
            ]
        )
    )


@dataclass(frozen=True, kw_only=True)
class PodWorkloadProps:
    """What the props of every `PodWorkload` (BatchJob, JobPodTemplate, RetentionCron) hold.

    Attributes:
        name: the object's name (a DNS label).
        labels: the recommended labels of the application the runs belong to; the pods carry them too.
        pod: what one run is (containers, volumes, limits).
        annotations: annotations on the object. Default: none.
    """

    name: str
    labels: RecommendedLabels
    pod: JobPod
    annotations: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class BatchJobProps(PodWorkloadProps):
    """Props of `BatchJob`: its `PodWorkloadProps` (the Job's name, labels, pod and annotations)."""


class PodWorkload(Construct):
    """What BatchJob, JobPodTemplate and RetentionCron share: a name, recommended labels and a `JobPod`, checked
    once here. A `Workload`: other constructs name it by reference (`redis.allow_from(job)`).

    Attributes:
        name: the object's name.
        labels: its recommended labels.
        selector_labels: the stable labels selecting its pods.
    """

    def __init__(
        self, scope: Construct, id: str, *, kind: str, name: str, labels: RecommendedLabels, pod: JobPod
    ) -> None:
        super().__init__(scope, id)
        DNS_LABEL.require(kind, "name", name)
        pod.validate(kind)
        self.name = name
        self.labels = labels
        self.selector_labels = labels.selector

    def object_meta(self, annotations: Mapping[str, str]) -> k8s.ObjectMeta:
        """The metadata of the object this workload renders: its name, its labels and these annotations."""
        return k8s.ObjectMeta(name=self.name, labels=self.labels.all, annotations=dict(annotations) or None)


class BatchJob(PodWorkload):
    """A hardened Job: non-root, read-only root filesystem, no API token, bounded in time and retries."""

    def __init__(self, scope: Construct, id: str, props: BatchJobProps) -> None:
        super().__init__(scope, id, kind="BatchJob", name=props.name, labels=props.labels, pod=props.pod)
        self.resource = k8s.KubeJob(
            self, "Resource", metadata=self.object_meta(props.annotations), spec=props.pod.render(props.labels.all)
        )
