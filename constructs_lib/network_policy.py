"""PodNetworkPolicy: default-deny for a set of pods, plus exactly the traffic its props allow."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from cdk8s import JsonPatch
from cdk8s_plus_27 import k8s
from constructs import Construct

from constructs_lib.errors import PropsError
from constructs_lib.k8s_values import int_or_string
from constructs_lib.labels import Workload
from value_types.names import CIDR
from value_types.ports import PORT

NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"


@dataclass(frozen=True, kw_only=True)
class PeerSelector:
    """Pods chosen by labels, in this namespace or in the namespaces a namespace selector picks.

    Attributes:
        pod_labels: labels of the pods. None: every pod (of the selected namespaces).
        namespace_labels: labels of their namespaces. None: this policy's own namespace only; `{}`: every
            namespace.
    """

    pod_labels: Mapping[str, str] | None = None
    namespace_labels: Mapping[str, str] | None = None

    def render(self) -> k8s.NetworkPolicyPeer:
        return k8s.NetworkPolicyPeer(
            pod_selector=k8s.LabelSelector(match_labels=dict(self.pod_labels) or None)
            if self.pod_labels is not None
            else None,
            namespace_selector=k8s.LabelSelector(match_labels=dict(self.namespace_labels) or None)
            if self.namespace_labels is not None
            else None,
        )


@dataclass(frozen=True, kw_only=True)
class EgressRule:
    """Outbound traffic allowed to some ports.

    Attributes:
        ports: destination ports.
        cidrs: destination address ranges.
        to: destination pods by labels.
            With neither `cidrs` nor `to`, any destination (in-cluster services included).
        protocol: default TCP.
    """

    ports: Sequence[int]
    cidrs: Sequence[str] = ()
    to: Sequence[PeerSelector] = ()
    protocol: Literal["TCP", "UDP"] = "TCP"


@dataclass(frozen=True, kw_only=True)
class NetworkAccess:
    """Who may reach the pods, and where the pods may go.

    Attributes:
        from_namespaces: namespaces whose pods may connect (e.g. the ingress controller's, the monitoring one).
        from_pods: label selectors of pods in the same namespace that may connect.
        from_same_namespace: any pod in the same namespace may connect. Default False.
        from_selectors: pods picked by pod and namespace labels (e.g. a bot in another namespace).
        from_cidrs: address ranges that may connect.
        from_anywhere: any source may connect to the ports. Default False.
        egress: outbound rules. Default None: outbound traffic is not restricted. With rules, DNS (53) is added
            and everything else is denied.
    """

    from_namespaces: Sequence[str] = ()
    from_pods: Sequence[Mapping[str, str]] = ()
    from_same_namespace: bool = False
    from_selectors: Sequence[PeerSelector] = ()
    from_cidrs: Sequence[str] = ()
    from_anywhere: bool = False
    egress: Sequence[EgressRule] | None = None


@dataclass(frozen=True, kw_only=True)
class PodNetworkPolicyProps:
    """Props of `PodNetworkPolicy`.

    Attributes:
        name: the NetworkPolicy's name.
        labels: its labels (the workload's recommended labels).
        pod_selector: the pods it isolates (the workload's `selector_labels`).
        ports: the ports `access` may reach. Default: none (all ingress denied).
        access: who may connect and where the pods may go. Default: nobody may connect, egress unrestricted.
    """

    name: str
    labels: Mapping[str, str]
    pod_selector: Mapping[str, str]
    ports: Sequence[int] = ()
    access: NetworkAccess = NetworkAccess()


class PodNetworkPolicy(Construct):
    """One NetworkPolicy for the pods `props.pod_selector` selects, allowing `props.access` on `props.ports` and
    nothing else. `allow_from(workload)` admits one more workload's pods later.

    Attributes:
        resource: the NetworkPolicy (the child `Resource`).
    """

    def __init__(self, scope: Construct, id: str, props: PodNetworkPolicyProps) -> None:
        super().__init__(scope, id)
        access = props.access
        _validate(access)
        self._ports = list(props.ports)
        self._admits_anyone = access.from_anywhere
        peers = [
            *(
                k8s.NetworkPolicyPeer(
                    namespace_selector=k8s.LabelSelector(match_labels={NAMESPACE_NAME_LABEL: namespace})
                )
                for namespace in access.from_namespaces
            ),
            *(
                k8s.NetworkPolicyPeer(pod_selector=k8s.LabelSelector(match_labels=dict(pods)))
                for pods in access.from_pods
            ),
        ]
        if access.from_same_namespace:
            peers.append(k8s.NetworkPolicyPeer(pod_selector=k8s.LabelSelector()))
        peers.extend(selector.render() for selector in access.from_selectors)
        peers.extend(k8s.NetworkPolicyPeer(ip_block=k8s.IpBlock(cidr=cidr)) for cidr in access.from_cidrs)
        self._has_ingress_rule = bool(peers) or access.from_anywhere
        ingress_ports = [k8s.NetworkPolicyPort(port=int_or_string(port), protocol="TCP") for port in self._ports]
        policy_types = ["Ingress"]
        egress = None
        if access.egress is not None:
            policy_types.append("Egress")
            egress = [_dns_egress(), *(_egress_rule(rule) for rule in access.egress)]
        self.resource = k8s.KubeNetworkPolicy(
            self,
            "Resource",
            metadata=k8s.ObjectMeta(name=props.name, labels=dict(props.labels)),
            spec=k8s.NetworkPolicySpec(
                pod_selector=k8s.LabelSelector(match_labels=dict(props.pod_selector)),
                policy_types=policy_types,
                ingress=[k8s.NetworkPolicyIngressRule(from_=peers or None, ports=ingress_ports)]
                if self._has_ingress_rule
                else None,
                egress=egress,
            ),
        )

    @classmethod
    def isolating(
        cls,
        scope: Construct,
        id: str,
        workload: Workload,
        *,
        name: str,
        ports: Sequence[int],
        access: NetworkAccess,
    ) -> PodNetworkPolicy:
        """A policy for `workload`'s pods, labelled like them, admitting `access` on `ports`."""
        return cls(
            scope,
            id,
            PodNetworkPolicyProps(
                name=name, labels=workload.labels.all, pod_selector=workload.selector_labels, ports=ports, access=access
            ),
        )

    def allow_from(self, workload: Workload) -> None:
        """Admit `workload`'s pods (same namespace) on the policy's ports. A no-op when anyone may already connect."""
        if self._admits_anyone:
            return
        # The policy exists already: the peer (and the rule, the first time) is added as a patch of typed
        # structs, which the NetworkPolicy renders like the ones given at construction.
        peer = k8s.NetworkPolicyPeer(pod_selector=k8s.LabelSelector(match_labels=dict(workload.selector_labels)))
        if self._has_ingress_rule:
            self.resource.add_json_patch(JsonPatch.add("/spec/ingress/0/from/-", peer))
            return
        rule = k8s.NetworkPolicyIngressRule(
            from_=[peer],
            ports=[k8s.NetworkPolicyPort(port=int_or_string(port), protocol="TCP") for port in self._ports],
        )
        self.resource.add_json_patch(JsonPatch.add("/spec/ingress", [rule]))
        self._has_ingress_rule = True


def _dns_egress() -> k8s.NetworkPolicyEgressRule:
    """Every policy with egress rules lets its pods resolve names."""
    return k8s.NetworkPolicyEgressRule(
        ports=[
            k8s.NetworkPolicyPort(port=int_or_string(53), protocol="UDP"),
            k8s.NetworkPolicyPort(port=int_or_string(53), protocol="TCP"),
        ]
    )


def _egress_rule(rule: EgressRule) -> k8s.NetworkPolicyEgressRule:
    return k8s.NetworkPolicyEgressRule(
        ports=[
            k8s.NetworkPolicyPort(port=int_or_string(port), protocol=rule.protocol) for port in sorted(set(rule.ports))
        ],
        to=[
            *(k8s.NetworkPolicyPeer(ip_block=k8s.IpBlock(cidr=cidr)) for cidr in rule.cidrs),
            *(peer.render() for peer in rule.to),
        ]
        or None,
    )


def _validate(access: NetworkAccess) -> None:
    construct = "PodNetworkPolicy"
    for cidr in access.from_cidrs:
        CIDR.require(construct, "from_cidrs", cidr)
    if access.from_anywhere and (access.from_namespaces or access.from_pods or access.from_selectors):
        raise PropsError(construct, "from_anywhere", True, "False when sources are listed (it would admit all)")
    for rule in access.egress or ():
        if not rule.ports:
            raise PropsError(construct, "egress.ports", list(rule.ports), "at least one port")
        for port in rule.ports:
            PORT.require(construct, "egress.ports", port)
        for cidr in rule.cidrs:
            CIDR.require(construct, "egress.cidrs", cidr)
