"""Where each kind of rendered object keeps its pod template, and how selectors find what carries their labels:
the one place the checks, the sync waves and the tests look these up."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, Generic, TypeVar

Item = TypeVar("Item")

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


def selects(selector: Mapping[str, str], labels: Mapping[str, str]) -> bool:
    """Whether `labels` carry every pair of `selector` (matchLabels, as Kubernetes reads them)."""
    return all(labels.get(key) == value for key, value in selector.items())


class LabelIndex(Generic[Item]):
    """Items by namespace and by each (label, value) pair they carry, in the order added.

    A selector is tried only on the items that carry its rarest pair: every match carries every pair, so none is
    missed, and trying every selector of an environment stays linear in the number of objects (a selector holds a
    unique name, so its rarest pair is carried by its own objects alone), not objects times selectors."""

    def __init__(self) -> None:
        self._in_namespace: dict[str | None, list[tuple[Item, Mapping[str, str]]]] = {}
        self._by_label: dict[tuple[str | None, str, str], list[tuple[Item, Mapping[str, str]]]] = {}

    def add(self, item: Item, namespace: str | None, labels: Mapping[str, str]) -> None:
        entry = (item, labels)
        self._in_namespace.setdefault(namespace, []).append(entry)
        for label, value in labels.items():
            self._by_label.setdefault((namespace, label, value), []).append(entry)

    def select(self, namespace: str | None, selector: Mapping[str, str]) -> Iterator[Item]:
        """The items in `namespace` that `selector` selects (every one of them for an empty selector), in order."""
        candidates = min(
            (self._by_label.get((namespace, label, value), []) for label, value in selector.items()),
            key=len,
            default=self._in_namespace.get(namespace, []),
        )
        return (item for item, labels in candidates if selects(selector, labels))

    def selects_any(self, namespace: str | None, selector: Mapping[str, str]) -> bool:
        return next(self.select(namespace, selector), None) is not None
