"""Kubernetes names and the other text rules of its API: DNS labels and names, host names, label keys and values,
Secret keys, address ranges. Each rule is written once here (see value_types.rules) and each settings type next to
it is that rule with its field description."""

from __future__ import annotations

import ipaddress
from typing import Annotated

from pydantic import Field

from value_types.rules import ParsedRule, TextRule, matching

_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_NAME = r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?"


def _parts_are_labels(name: str) -> bool:
    return all(len(part) <= 63 for part in name.split("."))


def _network(cidr: str) -> bool:
    try:
        ipaddress.ip_network(cidr)
    except ValueError:
        return False
    return True


def _qualified_name(key: str) -> bool:
    prefix, _, name = key.rpartition("/")
    return len(name) <= 63 and (not prefix or (len(prefix) <= 253 and _parts_are_labels(prefix)))


DNS_LABEL = TextRule(
    allowed="a DNS label: 1-63 lowercase letters, digits and '-', starting and ending with a letter or digit",
    pattern=f"^{_LABEL}$",
    max_length=63,
)
DNS_SUBDOMAIN = TextRule(
    allowed="a DNS name: labels of lowercase letters, digits and '-' (each 1-63, starting and ending with a letter "
    "or digit) joined by '.', at most 253 characters",
    pattern=rf"^{_LABEL}(\.{_LABEL})*$",
    max_length=253,
    check=_parts_are_labels,
)
HOST_NAME = TextRule(
    allowed="a lowercase DNS host name such as app.example.com: labels of letters, digits and '-' joined by '.', "
    "ending in a top-level domain of letters, at most 253 characters",
    pattern=rf"^({_LABEL}\.)+[a-z]{{2,63}}$",
    max_length=253,
    check=_parts_are_labels,
)
WILDCARD_HOST_NAME = TextRule(
    allowed=f"{HOST_NAME.allowed}, or a wildcard such as *.example.com",
    pattern=rf"^(\*\.)?({_LABEL}\.)+[a-z]{{2,63}}$",
    max_length=253,
    check=_parts_are_labels,
)
LABEL_KEY = TextRule(
    allowed="a label or annotation key: a name of at most 63 letters, digits, '-', '_' and '.' starting and ending "
    "with a letter or digit, optionally after a DNS name prefix and '/' (e.g. app.kubernetes.io/name)",
    pattern=rf"^({_LABEL}(\.{_LABEL})*/)?{_NAME}$",
    max_length=253 + 1 + 63,
    check=_qualified_name,
)
LABEL_VALUE = TextRule(
    allowed="a label value: empty, or at most 63 letters, digits, '-', '_' and '.' starting and ending with a letter "
    "or digit",
    pattern=rf"^({_NAME})?$",
    max_length=63,
)
SECRET_KEY = TextRule(
    allowed="a Secret or ConfigMap key: letters, digits, '-', '_' and '.', at most 253 characters",
    pattern=r"^[-._a-zA-Z0-9]+$",
    max_length=253,
)
CIDR = TextRule(
    allowed="an address range in CIDR notation such as 10.0.0.0/8 or 2001:db8::/32 (no address bits after the prefix)",
    pattern=r"^[0-9A-Fa-f:.]+/[0-9]{1,3}$",
    max_length=64,
    check=_network,
)

DnsLabel = Annotated[str, DNS_LABEL, Field(description="A DNS label (a-z, 0-9, '-').")]
DnsName = Annotated[str, DNS_SUBDOMAIN, Field(description="A DNS name such as redis.data.svc.cluster.local or redis.")]
HostName = Annotated[str, HOST_NAME, Field(description="A lowercase DNS host name.")]
LabelKey = Annotated[str, LABEL_KEY]
LabelValue = Annotated[str, LABEL_VALUE]
Labels = dict[LabelKey, LabelValue]
SecretKeyName = Annotated[str, SECRET_KEY]
Cidr = Annotated[str, CIDR]

# Namespaces a stack must never own: the cluster's own and Argo CD's. A stack's Application prunes what it renders
# (and kairoflow renders its Namespace under the resources finalizer), so deleting the Application would delete
# what runs there.
RESERVED_NAMESPACES = ("argocd", "default", "kube-node-lease", "kube-public", "kube-system")
STACK_NAMESPACE = ParsedRule(
    allowed=f"a namespace of the stack's own, not one of {', '.join(RESERVED_NAMESPACES)} (the cluster's and Argo "
    "CD's): deleting the stack's Application would delete what it renders there",
    parses=lambda namespace: namespace not in RESERVED_NAMESPACES,
)
StackNamespace = Annotated[
    str,
    DNS_LABEL,
    STACK_NAMESPACE,
    Field(description="A DNS label (a-z, 0-9, '-'), not a namespace of the cluster's or Argo CD's."),
]
# A container's environment variable, as Kubernetes (and any shell) takes it.
ENV_VAR_NAME = TextRule(
    allowed="a variable name: ASCII letters, digits and '_', not starting with a digit",
    pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
)
# Flag names become variables FEATURE_<NAME>, config keys variables of their own: ASCII only (isalnum() would take
# any Unicode letter, which no shell or env file carries).
FeatureFlagName = Annotated[
    str,
    matching(
        r"^[A-Za-z][A-Za-z0-9_]*$",
        "a flag name: ASCII letters, digits and '_', starting with a letter (it becomes the variable FEATURE_<NAME>)",
        max_length=128,
    ),
]
EnvironmentVariableName = Annotated[
    str,
    matching(
        r"^[A-Z][A-Z0-9_]*$",
        "an UPPER_CASE variable name: ASCII capital letters, digits and '_', starting with a letter",
        max_length=256,
    ),
]
AbsolutePath = Annotated[str, matching(r"^/\S*$", "an absolute path: starting with '/', without spaces", 4096)]
