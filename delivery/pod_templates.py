"""Where each kind of rendered object keeps its pod template: the one place the checks, the sync waves and the
tests look this up."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# Kinds whose spec.template is a pod template; a CronJob keeps it one level down, a PodTemplate at the top.
_SPEC_TEMPLATE_KINDS = frozenset({"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"})
POD_TEMPLATE_KINDS = frozenset({*_SPEC_TEMPLATE_KINDS, "CronJob", "PodTemplate"})


def pod_template_of(manifest: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The pod template (metadata and spec) of a workload, a CronJob or a PodTemplate; None for other kinds."""
    kind = manifest.get("kind")
    if kind == "PodTemplate":
        template: Mapping[str, Any] = manifest.get("template", {})
        return template
    spec = manifest.get("spec", {})
    if kind == "CronJob":
        spec = spec.get("jobTemplate", {}).get("spec", {})
    elif kind not in _SPEC_TEMPLATE_KINDS:
        return None
    template = spec.get("template", {})
    return template
