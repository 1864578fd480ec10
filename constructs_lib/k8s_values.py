"""Cached jsii wrapper values.

`k8s.Quantity.from_string` and `k8s.IntOrString.from_*` are static calls that cross to the Node process. Every
workload uses the same few values ("100m", "http", 80), so one call per distinct value is enough.
"""

from __future__ import annotations

from functools import cache

from cdk8s_plus_27 import k8s


@cache
def quantity(value: str) -> k8s.Quantity:
    """A Kubernetes resource quantity such as `250m` or `512Mi`."""
    return k8s.Quantity.from_string(value)


@cache
def int_or_string(value: int | str) -> k8s.IntOrString:
    """A port number, port name or percentage, as the IntOrString fields of the Kubernetes API take it."""
    if isinstance(value, int):
        return k8s.IntOrString.from_number(value)
    return k8s.IntOrString.from_string(value)
