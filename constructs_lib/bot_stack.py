"""BotStack: a chat bot service (Deployment, optional Service), its credentials by reference only, optional Redis,
leader-election RBAC, an egress policy and a disruption budget."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from cdk8s_plus_27 import k8s
from constructs import Construct

from constructs_lib.app_service import AppService, AppServiceProps
from constructs_lib.container import HttpProbe, PodSecurity, SecretKeyRef
from constructs_lib.errors import PropsError
from constructs_lib.network_policy import EgressRule, NetworkAccess, PeerSelector
from constructs_lib.props import same_named
from constructs_lib.redis import Redis, RedisEndpoint, RedisProps
from value_types.images import ImageSettings
from value_types.names import DNS_LABEL
from value_types.ports import PORT
from value_types.quantities import ResourceSettings

LEASE_GROUP = "coordination.k8s.io"
# The AppServiceProps BotStack derives from its own props; every other prop of the same name it passes on as it is.
_DERIVED_SERVICE_PROPS = ("max_unavailable", "service_port", "env")


@dataclass(frozen=True, kw_only=True)
class LeaderElection:
    """RBAC for client-go style leader election on one Lease, and what the pod needs to use it.

    Attributes:
        lease_name: the Lease the replicas compete for, e.g. `hivemind-bot-sync-leader`.
        role_name: the Role's and RoleBinding's name. Default `<bot>-leader-election`.
        api_server_ports: ports of the Kubernetes API the egress policy allows (the `kubernetes` Service's 443 and
            the usual endpoint port 6443, since policies see the translated address). Default (443, 6443).
    """

    lease_name: str
    role_name: str | None = None
    api_server_ports: Sequence[int] = (443, 6443)


@dataclass(frozen=True, kw_only=True)
class BotEgress:
    """Where the bot's pods may connect; everything else (but DNS) is denied.

    Attributes:
        rules: destinations besides Redis, e.g. Discord's API on 443, a backend's gRPC port, a watcher bridge
            (`WatcherSidecar.bridge_egress()`). Redis and, with leader election, the API server are added.
    """

    rules: Sequence[EgressRule] = ()


@dataclass(frozen=True, kw_only=True)
class BotStackProps:
    """Props of `BotStack`. Bot tokens and other credentials come only from Secret references (`credentials`);
    a literal env var named like a credential is refused.

    Attributes:
        name: name of the Deployment, its ServiceAccount and the other objects, e.g. `hivemind-bot`.
        image: image, tag and pull policy.
        resources: the bot container's requests and limits.
        port: the container port (named `http`) serving the probes, and the Service when `service_port` is set.
        liveness_probe, readiness_probe: HTTP probes on `port`.
        credentials: variables from existing Secret keys (bot token, application id, service tokens). Only this
            bot's pods reference these Secrets.
        env: literal, non-secret variables.
        part_of: `app.kubernetes.io/part-of`. Default: `name`.
        component: `app.kubernetes.io/component`. Default `bot`.
        replicas: default 1. With more than one, a PodDisruptionBudget keeps all but `max_unavailable` running.
        max_unavailable: default 1.
        service_port: render a ClusterIP Service on this port. Default: none (nothing connects to the bot).
        redis: an in-cluster `Redis` (its props) or an existing one (`RedisEndpoint`). Clients get REDIS_HOST,
            REDIS_PORT and REDIS_PASSWORD. Default: none.
        leader_election: a Role on one Lease, bound to the bot's ServiceAccount, the API token mounted, and
            POD_NAMESPACE from the downward API. Default: none (no API access at all).
        egress: restrict outbound traffic. Default: none (not restricted).
        ingress_from: who may reach `port` when `egress` or `service_port` renders a NetworkPolicy. Default: nobody
            (probes come from the kubelet, which policies do not block).
        security: UID, GID and fsGroup. Default: UID/GID 65532.
        writable_paths: emptyDir mounts, since the root filesystem is read-only. Default `/tmp`.
        termination_grace_period_seconds: time to close the gateway connection. Default: Kubernetes' 30.
        pod_labels: extra labels on the pods only (never in the selector), e.g. a seed's `app: <name>`. Default:
            none.
    """

    name: str
    image: ImageSettings
    resources: ResourceSettings
    port: int
    liveness_probe: HttpProbe
    readiness_probe: HttpProbe
    credentials: Sequence[SecretKeyRef] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    part_of: str | None = None
    component: str = "bot"
    replicas: int = 1
    max_unavailable: int = 1
    service_port: int | None = None
    redis: RedisProps | RedisEndpoint | None = None
    leader_election: LeaderElection | None = None
    egress: BotEgress | None = None
    ingress_from: NetworkAccess | None = None
    security: PodSecurity = field(default_factory=PodSecurity)
    writable_paths: Sequence[str] = ("/tmp",)
    termination_grace_period_seconds: int | None = None
    pod_labels: Mapping[str, str] = field(default_factory=dict)


class BotStack(Construct):
    """A hardened bot Deployment and what it needs. Public: `service` (the AppService), `redis` (the in-cluster
    Redis, if any), `redis_endpoint`, `selector_labels`."""

    def __init__(self, scope: Construct, id: str, props: BotStackProps) -> None:
        super().__init__(scope, id)
        _validate(props)
        self.redis: Redis | None = None
        self.redis_endpoint: RedisEndpoint | None = None
        if isinstance(props.redis, RedisProps):
            self.redis = Redis(self, "Redis", props.redis)
            self.redis_endpoint = self.redis.endpoint
        elif isinstance(props.redis, RedisEndpoint):
            props.redis.validate("BotStack", "redis")
            self.redis_endpoint = props.redis

        env = dict(props.env)
        secret_env = list(props.credentials)
        if self.redis_endpoint is not None:
            env.update(self.redis_endpoint.env())
            secret_env.append(self.redis_endpoint.password_env())
        field_env = {"POD_NAMESPACE": "metadata.namespace"} if props.leader_election else {}

        self.service = AppService(
            self,
            "Bot",
            AppServiceProps(
                # The name, labels, image, port, probes, replicas and pod settings, as they are.
                **same_named(props, AppServiceProps, besides=_DERIVED_SERVICE_PROPS),
                max_unavailable=props.max_unavailable if props.replicas > 1 else None,
                expose=props.service_port is not None,
                service_port=props.service_port or 80,
                env=env,
                secret_env=secret_env,
                field_env=field_env,
                api_access=props.leader_election is not None,
                network_access=self._network_access(props),
            ),
        )
        #: The bot's recommended labels, and those selecting its pods (a `Workload`, for `allow_from`).
        self.labels = self.service.labels
        self.selector_labels = self.service.selector_labels
        if self.redis is not None:
            # The bot is the Redis' own client: admitted by its main policy.
            self.redis.network_policy.allow_from(self.service)
        if props.leader_election is not None:
            self._leader_election_rbac(props.leader_election)

    def _network_access(self, props: BotStackProps) -> NetworkAccess | None:
        if props.egress is None and props.ingress_from is None:
            return None
        access = props.ingress_from or NetworkAccess()
        if props.egress is None:
            return access
        rules = list(props.egress.rules)
        if self.redis is not None:
            rules.append(
                EgressRule(ports=[self.redis.endpoint.port], to=[PeerSelector(pod_labels=self.redis.selector_labels)])
            )
        elif self.redis_endpoint is not None:
            rules.append(EgressRule(ports=[self.redis_endpoint.port]))
        if props.leader_election is not None:
            rules.append(EgressRule(ports=props.leader_election.api_server_ports))
        return replace(access, egress=rules)

    def _leader_election_rbac(self, election: LeaderElection) -> None:
        name = self.service.name
        role_name = election.role_name or f"{name}-leader-election"
        labels = self.service.labels.all
        k8s.KubeRole(
            self,
            "LeaderElectionRole",
            metadata=k8s.ObjectMeta(name=role_name, labels=labels),
            rules=[
                # `create` cannot be limited to a name (the object does not exist yet); the rest is limited to the
                # one Lease. get/create/update is all client-go's LeaseLock calls.
                k8s.PolicyRule(api_groups=[LEASE_GROUP], resources=["leases"], verbs=["create"]),
                k8s.PolicyRule(
                    api_groups=[LEASE_GROUP],
                    resources=["leases"],
                    resource_names=[election.lease_name],
                    verbs=["get", "update"],
                ),
            ],
        )
        k8s.KubeRoleBinding(
            self,
            "LeaderElectionBinding",
            metadata=k8s.ObjectMeta(name=role_name, labels=labels),
            role_ref=k8s.RoleRef(api_group="rbac.authorization.k8s.io", kind="Role", name=role_name),
            subjects=[k8s.Subject(kind="ServiceAccount", name=self.service.service_account_name)],
        )


def _validate(props: BotStackProps) -> None:
    construct = "BotStack"
    DNS_LABEL.require(construct, "name", props.name)
    if props.replicas < 1:
        raise PropsError(construct, "replicas", props.replicas, "an integer >= 1")
    if props.max_unavailable < 1 or props.max_unavailable >= max(props.replicas, 2):
        raise PropsError(
            construct,
            "max_unavailable",
            props.max_unavailable,
            f"an integer 1..{max(props.replicas - 1, 1)} (fewer than replicas, so some keep serving)",
        )
    if props.leader_election is not None:
        DNS_LABEL.require(construct, "leader_election.lease_name", props.leader_election.lease_name)
        for port in props.leader_election.api_server_ports:
            PORT.require(construct, "leader_election.api_server_ports", port)
    names = [ref.env_name for ref in props.credentials]
    if len(set(names)) != len(names):
        raise PropsError(construct, "credentials", names, "distinct variable names")
