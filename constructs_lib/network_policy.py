"""PodNetworkPolicy: default-deny for a set of pods, plus exactly the traffic its props allow."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from cdk8s_plus_27 import k8s
from constructs import Construct

from constructs_lib.errors import PropsError
from constructs_lib.k8s_values import int_or_string
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


class PodNetworkPolicy(Construct):
    """One NetworkPolicy for the pods `pod_selector` selects, allowing `access` on `ports` and nothing else."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        name: str,
        labels: Mapping[str, str],
        pod_selector: Mapping[str, str],
        ports: Sequence[int],
        access: NetworkAccess,
    ) -> None:
        super().__init__(scope, id)
        self.resource = render_pod_network_policy(
            self, "Resource", name=name, labels=labels, pod_selector=pod_selector, ports=ports, access=access
        )


def render_pod_network_policy(
    scope: Construct,
    id: str,
    *,
    name: str,
    labels: Mapping[str, str],
    pod_selector: Mapping[str, str],
    ports: Sequence[int],
    access: NetworkAccess,
) -> k8s.KubeNetworkPolicy:
    """`PodNetworkPolicy`'s object, created directly in `scope`: constructs that own a policy (AppService, Redis)
    use this and save a wrapper construct, which is one more Node round-trip per policy."""
    _validate(access)
    peers = [
        *(
            k8s.NetworkPolicyPeer(namespace_selector=k8s.LabelSelector(match_labels={NAMESPACE_NAME_LABEL: namespace}))
            for namespace in access.from_namespaces
        ),
        *(k8s.NetworkPolicyPeer(pod_selector=k8s.LabelSelector(match_labels=dict(pods))) for pods in access.from_pods),
    ]
    if access.from_same_namespace:
        peers.append(k8s.NetworkPolicyPeer(pod_selector=k8s.LabelSelector()))
    peers.extend(selector.render() for selector in access.from_selectors)
    peers.extend(k8s.NetworkPolicyPeer(ip_block=k8s.IpBlock(cidr=cidr)) for cidr in access.from_cidrs)
    ingress_ports = [k8s.NetworkPolicyPort(port=int_or_string(port), protocol="TCP") for port in ports]
    policy_types = ["Ingress"]
    egress = None
    if access.egress is not None:
        policy_types.append("Egress")
        dns = k8s.NetworkPolicyEgressRule(
            ports=[
                k8s.NetworkPolicyPort(port=int_or_string(53), protocol="UDP"),
                k8s.NetworkPolicyPort(port=int_or_string(53), protocol="TCP"),
            ]
        )
        egress = [
            dns,
            *(
                k8s.NetworkPolicyEgressRule(
                    ports=[
                        k8s.NetworkPolicyPort(port=int_or_string(port), protocol=rule.protocol)
                        for port in sorted(set(rule.ports))
                    ],
                    to=[
                        *(k8s.NetworkPolicyPeer(ip_block=k8s.IpBlock(cidr=cidr)) for cidr in rule.cidrs),
                        *(peer.render() for peer in rule.to),
                    ]
                    or None,
                )
                for rule in access.egress
            ),
        ]
    return k8s.KubeNetworkPolicy(
        scope,
        id,
        metadata=k8s.ObjectMeta(name=name, labels=dict(labels)),
        spec=k8s.NetworkPolicySpec(
            pod_selector=k8s.LabelSelector(match_labels=dict(pod_selector)),
            policy_types=policy_types,
            ingress=[k8s.NetworkPolicyIngressRule(from_=peers or None, ports=ingress_ports)]
            if peers or access.from_anywhere
            else None,
            egress=egress,
        ),
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
