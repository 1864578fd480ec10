"""Redis: an in-cluster, persistent, password-protected Redis (StatefulSet + headless Service), and the endpoint
clients use to reach it or an existing external one."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from cdk8s_plus_27 import k8s
from constructs import Construct

from constructs_lib.container import (
    ContainerSpec,
    ExecProbe,
    PodSecurity,
    SecretKeyRef,
    VolumeMount,
    render_pod,
)
from constructs_lib.errors import PropsError
from constructs_lib.k8s_values import int_or_string, quantity
from constructs_lib.labels import RecommendedLabels, Workload
from constructs_lib.network_policy import NetworkAccess, PodNetworkPolicy
from value_types.images import ImageSettings
from value_types.names import DNS_LABEL, DNS_SUBDOMAIN
from value_types.ports import PORT
from value_types.quantities import MEMORY, ResourceSettings, memory_bytes

# The official image's `redis` user; fsGroup makes the data volume writable for it.
REDIS_UID = 999
DATA_PATH = "/data"
# redis-cli reads the password from this variable, so it never appears on a command line.
_CLI_AUTH = "REDISCLI_AUTH"
_PING = ("sh", "-c", 'redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping | grep -q PONG')


@dataclass(frozen=True, kw_only=True)
class RedisEndpoint:
    """Where a client finds Redis and its password: an in-cluster `Redis`'s, or an existing external one.

    Attributes:
        host: host name, e.g. `redis.data.svc.cluster.local`.
        port: default 6379.
        password_secret: the existing Secret holding the password.
        password_key: its key. Default `redis-password`.
    """

    host: str
    password_secret: str
    port: int = 6379
    password_key: str = "redis-password"

    def env(self, prefix: str = "REDIS_") -> dict[str, str]:
        """`REDIS_HOST` and `REDIS_PORT` for a client container."""
        return {f"{prefix}HOST": self.host, f"{prefix}PORT": str(self.port)}

    def password_env(self, prefix: str = "REDIS_") -> SecretKeyRef:
        """`REDIS_PASSWORD`, read from the Secret."""
        return SecretKeyRef(env_name=f"{prefix}PASSWORD", secret_name=self.password_secret, key=self.password_key)

    def validate(self, construct: str, prop: str) -> None:
        DNS_SUBDOMAIN.require(construct, f"{prop}.host", self.host)
        PORT.require(construct, f"{prop}.port", self.port)
        DNS_LABEL.require(construct, f"{prop}.password_secret", self.password_secret)


@dataclass(frozen=True, kw_only=True)
class RedisProps:
    """Props of `Redis`. Only `name`, `part_of` and `password_secret` are required.

    Attributes:
        name: name of the StatefulSet, the headless Service (the host clients use) and the policy.
        part_of: the system it serves (`app.kubernetes.io/part-of`).
        password_secret: the existing Secret holding the password (`requirepass`).
        password_key: its key. Default `redis-password`.
        image: default `redis:7.2.5-alpine` (the official image, runs as UID 999).
        resources: default 50m/64Mi requests, 250m/256Mi limits.
        storage_size: the data volume (append-only file). Default `1Gi`.
        storage_class: the PersistentVolumeClaim's class. Default: the cluster's default class.
        max_memory_policy: what Redis does at `maxmemory`. Default `noeviction` (refuse writes, lose nothing).
        clients: the same-namespace workloads that may connect; everything else is denied.
            Add more later with `allow_from`. Default: none.
        port: default 6379.
    """

    name: str
    part_of: str
    password_secret: str
    password_key: str = "redis-password"
    image: ImageSettings = field(default_factory=lambda: ImageSettings(repository="redis", tag="7.2.5-alpine"))
    resources: ResourceSettings = field(default_factory=lambda: ResourceSettings.of("50m", "64Mi", "250m", "256Mi"))
    storage_size: str = "1Gi"
    storage_class: str | None = None
    max_memory_policy: str = "noeviction"
    clients: Sequence[Workload] = ()
    port: int = 6379


class Redis(Construct):
    """A single-replica Redis with persistence, a password from an existing Secret, a hardened pod, and a
    NetworkPolicy admitting only its clients. `endpoint` is what clients pass around."""

    def __init__(self, scope: Construct, id: str, props: RedisProps) -> None:
        super().__init__(scope, id)
        _validate(props)
        self.name = props.name
        self.labels = RecommendedLabels(
            name=props.name, component="cache", part_of=props.part_of, version=props.image.tag
        )
        #: Labels that select the Redis pod.
        self.selector_labels = self.labels.selector
        #: Host, port and password reference for clients.
        self.endpoint = RedisEndpoint(
            host=props.name, port=props.port, password_secret=props.password_secret, password_key=props.password_key
        )
        self._port = props.port
        labels = self.labels.all
        password = SecretKeyRef(env_name="REDIS_PASSWORD", secret_name=props.password_secret, key=props.password_key)
        # Stay under the container's memory limit, so Redis applies its policy before the kernel kills it.
        max_memory = memory_bytes(props.resources.limits.memory) * 3 // 4
        container = ContainerSpec(
            name="redis",
            image=props.image,
            resources=props.resources,
            command=["redis-server"],
            args=[
                "--port",
                str(props.port),
                "--dir",
                DATA_PATH,
                "--appendonly",
                "yes",
                "--maxmemory",
                str(max_memory),
                "--maxmemory-policy",
                props.max_memory_policy,
                "--requirepass",
                "$(REDIS_PASSWORD)",
            ],
            ports={"redis": props.port},
            env={"REDIS_PORT": str(props.port)},
            secret_env=[password, SecretKeyRef(env_name=_CLI_AUTH, secret_name=password.secret_name, key=password.key)],
            volume_mounts=[VolumeMount(volume="data", mount_path=DATA_PATH)],
            liveness_probe=ExecProbe(
                command=_PING, initial_delay_seconds=15, period_seconds=10, timeout_seconds=5, failure_threshold=3
            ),
            readiness_probe=ExecProbe(
                command=_PING, initial_delay_seconds=5, period_seconds=5, timeout_seconds=3, failure_threshold=3
            ),
            run_as_user=REDIS_UID,
            # Redis writes only into `--dir`, its data volume (RDB and AOF files, and their temporary files).
            writable_tmp=False,
        )
        container.validate("Redis", "")
        pod = render_pod([container])
        k8s.KubeService(
            self,
            "Service",
            metadata=k8s.ObjectMeta(name=props.name, labels=labels),
            spec=k8s.ServiceSpec(
                cluster_ip="None",
                selector=self.selector_labels,
                ports=[
                    k8s.ServicePort(name="redis", port=props.port, target_port=int_or_string("redis"), protocol="TCP")
                ],
            ),
        )
        self.resource = k8s.KubeStatefulSet(
            self,
            "Resource",
            metadata=k8s.ObjectMeta(name=props.name, labels=labels),
            spec=k8s.StatefulSetSpec(
                service_name=props.name,
                replicas=1,
                selector=k8s.LabelSelector(match_labels=self.selector_labels),
                template=k8s.PodTemplateSpec(
                    metadata=k8s.ObjectMeta(labels=labels, annotations=pod.annotations),
                    spec=k8s.PodSpec(
                        automount_service_account_token=False,
                        security_context=PodSecurity(run_as_user=REDIS_UID).render(),
                        containers=pod.containers,
                    ),
                ),
                volume_claim_templates=[
                    k8s.KubePersistentVolumeClaimProps(
                        # Claim templates cannot change: no version label, or every image bump would be refused.
                        metadata=k8s.ObjectMeta(name="data", labels=self.labels.unversioned),
                        spec=k8s.PersistentVolumeClaimSpec(
                            access_modes=["ReadWriteOnce"],
                            storage_class_name=props.storage_class,
                            resources=k8s.ResourceRequirements(requests={"storage": quantity(props.storage_size)}),
                        ),
                    )
                ],
            ),
        )
        #: The NetworkPolicy admitting `props.clients` (`allow_from` adds more).
        self.network_policy = PodNetworkPolicy.isolating(
            self,
            "NetworkPolicy",
            self,
            name=props.name,
            ports=[props.port],
            access=NetworkAccess(from_pods=[client.selector_labels for client in props.clients]),
        )

    def allow_from(self, client: Workload) -> None:
        """Admit `client`'s pods (same namespace), in a policy of their own named `<redis>-from-<component>`
        (NetworkPolicies add up)."""
        component = client.labels.component
        DNS_LABEL.require("Redis", "allow_from.component", component)
        PodNetworkPolicy.isolating(
            self,
            f"AllowFrom-{component}",
            self,
            name=f"{self.name}-from-{component}",
            ports=[self._port],
            access=NetworkAccess(from_pods=[client.selector_labels]),
        )


def _validate(props: RedisProps) -> None:
    construct = "Redis"
    DNS_LABEL.require(construct, "name", props.name)
    DNS_LABEL.require(construct, "password_secret", props.password_secret)
    PORT.require(construct, "port", props.port)
    MEMORY.require(construct, "storage_size", props.storage_size)
    policies = (
        "noeviction",
        "allkeys-lru",
        "allkeys-lfu",
        "allkeys-random",
        "volatile-lru",
        "volatile-lfu",
        "volatile-random",
        "volatile-ttl",
    )
    if props.max_memory_policy not in policies:
        raise PropsError(construct, "max_memory_policy", props.max_memory_policy, " | ".join(policies))
