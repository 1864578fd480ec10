"""The Pod Security admission labels of a namespace: one rule, used by the Argo CD chart (managedNamespaceMetadata),
the pipeline (rendered Namespaces) and the whole-output check (delivery/pod_security.py)."""

from __future__ import annotations

from collections.abc import Mapping

LABEL_PREFIX = "pod-security.kubernetes.io/"
MODES = ("enforce", "warn", "audit")


def namespace_labels(level: str, version: str) -> dict[str, str]:
    """The admission labels that enforce `level` and also warn about and audit it, all pinned to `version` (so a
    cluster upgrade does not tighten the rules under running workloads)."""
    labels = {}
    for mode in MODES:
        labels[f"{LABEL_PREFIX}{mode}"] = level
        labels[f"{LABEL_PREFIX}{mode}-version"] = version
    return labels


def missing_labels(labels: Mapping[str, str]) -> list[str]:
    """The admission labels (each mode and its version) absent from a namespace's labels."""
    return [
        key for mode in MODES for key in (f"{LABEL_PREFIX}{mode}", f"{LABEL_PREFIX}{mode}-version") if key not in labels
    ]
