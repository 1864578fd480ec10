"""Kubernetes recommended labels, computed in one place and applied to every object.

Selectors use only the stable subset (name, instance, component): a Deployment's selector is immutable, so a
label that changes with a release (version) or with a refactor (cdk8s' construct-path hash) must never be in it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Protocol

MANAGED_BY = "cdk8s"
VERSION_LABEL = "app.kubernetes.io/version"


@dataclass(frozen=True, kw_only=True)
class RecommendedLabels:
    """The `app.kubernetes.io/*` labels of one workload.

    Attributes:
        name: what the application is (`app.kubernetes.io/name`), e.g. `core-pipeline`.
        instance: which installation of it (`app.kubernetes.io/instance`). Default: same as `name`.
        component: its role in the system (`app.kubernetes.io/component`), e.g. `api`, `migration`.
        part_of: the system it belongs to (`app.kubernetes.io/part-of`). Default: same as `name`.
        version: the application's version, normally the image tag (`app.kubernetes.io/version`).
    """

    name: str
    instance: str | None = None
    component: str
    part_of: str | None = None
    version: str

    @property
    def selector(self) -> dict[str, str]:
        """The stable labels that select this workload's pods."""
        return {
            "app.kubernetes.io/name": self.name,
            "app.kubernetes.io/instance": self.instance or self.name,
            "app.kubernetes.io/component": self.component,
        }

    @property
    def all(self) -> dict[str, str]:
        """Every recommended label: what goes on each object's metadata and on pod templates."""
        return {
            **self.selector,
            "app.kubernetes.io/part-of": self.part_of or self.name,
            VERSION_LABEL: _label_value(self.version),
            "app.kubernetes.io/managed-by": MANAGED_BY,
        }

    @property
    def unversioned(self) -> dict[str, str]:
        """Every recommended label but the version: for what must not change with an image tag, such as a
        StatefulSet's claim templates (immutable: a changed label there makes the API server refuse the update)."""
        return {key: value for key, value in self.all.items() if key != VERSION_LABEL}

    def for_component(self, component: str) -> RecommendedLabels:
        """The labels of a sibling workload of the same application (e.g. its migration Job)."""
        return replace(self, component=component)


def _label_value(value: str) -> str:
    # A label value (naming.LABEL_VALUE) is at most 63 characters of [A-Za-z0-9._-] starting and ending with a
    # letter or digit; an image tag may start with '_', end with '.' or '-' and run to 128 characters.
    return re.sub(r"[^A-Za-z0-9._-]", "_", value)[:63].strip("._-")


class Workload(Protocol):
    """A construct whose pods other constructs name by reference (`redis.allow_from(bot)`, `colocate_with(web)`):
    AppService, BotStack, Redis, RetentionCron, BatchJob, JobPodTemplate."""

    @property
    def labels(self) -> RecommendedLabels:
        """Its recommended labels."""
        ...

    @property
    def selector_labels(self) -> Mapping[str, str]:
        """The stable labels that select its pods."""
        ...
