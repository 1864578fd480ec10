"""Pods made from the rendered pod templates, and the namespaces the project's Pod Security labels put them in."""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from constructs_lib.pod_security_labels import LABEL_PREFIX
from delivery.pod_security import ENFORCE_LABEL
from delivery.pod_templates import pod_template_of
from tests.cluster.control_plane import Response
from tests.cluster.rendered import RenderedObject

VERSION_LABEL = f"{ENFORCE_LABEL}-version"


@dataclass(frozen=True)
class Template:
    """A rendered object's pod template."""

    owner: RenderedObject
    template: Mapping[str, Any]

    @property
    def name(self) -> str:
        return f"{self.owner.kind}/{self.owner.manifest['metadata']['name']}"

    @property
    def namespace(self) -> str | None:
        return self.owner.namespace


def templates(rendered: Sequence[RenderedObject]) -> list[Template]:
    return [Template(obj, template) for obj in rendered if (template := pod_template_of(obj.manifest)) is not None]


def pod(template: Template, namespace: str, spec: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The Pod a controller would create from `template` (its labels, annotations and spec, or `spec` instead) in
    `namespace`. A StatefulSet's controller also adds a volume per claim template, bound to that pod's claim."""
    metadata = template.template.get("metadata", {})
    pod_spec = copy.deepcopy(dict(spec if spec is not None else template.template["spec"]))
    owner = template.owner.manifest
    if template.owner.kind == "StatefulSet":
        volumes = pod_spec.setdefault("volumes", [])
        for claim in owner["spec"].get("volumeClaimTemplates", []):
            claim_name = claim["metadata"]["name"]
            if all(volume["name"] != claim_name for volume in volumes):
                volumes.append(
                    {
                        "name": claim_name,
                        "persistentVolumeClaim": {"claimName": f"{claim_name}-{owner['metadata']['name']}-0"},
                    }
                )
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": re.sub(r"[^a-z0-9-]+", "-", template.name.lower())[:63].strip("-"),
            "namespace": namespace,
            "labels": dict(metadata.get("labels") or {}),
            "annotations": dict(metadata.get("annotations") or {}),
        },
        "spec": pod_spec,
    }


@dataclass(frozen=True)
class NamespaceLabels:
    """A namespace's labels as the project renders them, and what renders them."""

    source: str
    labels: dict[str, str]

    @property
    def pod_security(self) -> dict[str, str]:
        return {key: value for key, value in self.labels.items() if key.startswith(LABEL_PREFIX)}


def rendered_namespace_labels(rendered: Sequence[RenderedObject]) -> dict[str, NamespaceLabels]:
    """namespace -> its labels: a rendered Namespace's own, or those Argo CD puts on a namespace it creates for an
    Application (`CreateNamespace=true` with `managedNamespaceMetadata`), as delivery/pod_security.py reads them."""
    found: dict[str, NamespaceLabels] = {}
    for obj in rendered:
        manifest = obj.manifest
        if obj.kind == "Namespace":
            found[manifest["metadata"]["name"]] = NamespaceLabels(
                obj.where, dict(manifest["metadata"].get("labels") or {})
            )
    for obj in rendered:
        spec = obj.manifest.get("spec", {})
        sync = spec.get("syncPolicy") or {}
        namespace = spec.get("destination", {}).get("namespace")
        if obj.kind == "Application" and namespace and "CreateNamespace=true" in (sync.get("syncOptions") or []):
            labels = (sync.get("managedNamespaceMetadata") or {}).get("labels") or {}
            found.setdefault(namespace, NamespaceLabels(f"{obj.where} managedNamespaceMetadata", dict(labels)))
    return found


def refused_by_pod_security(response: Response) -> bool:
    """The server refused the pod for Pod Security (403, `violates PodSecurity "<level>:<version>"`)."""
    return response.status == 403 and 'violates PodSecurity "' in response.message
