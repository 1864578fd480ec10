"""Argo CD sync options on one object: the `argocd.argoproj.io/sync-options` annotation, written and read in one place.

Argo CD reads per-object sync options from that annotation, comma-separated `Key=value` pairs (Argo CD user guide,
"Sync Options", argoproj/argo-cd docs/user-guide/sync-options.md). The diff (`delivery/upgrade_rules.py`) reads
them back with `sync_options`, so what a construct asks for and what the reviewer's diff expects cannot drift apart.

No cdk8s import at run time: the diff uses the parsing without starting the jsii runtime.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from constructs_lib.errors import PropsError

if TYPE_CHECKING:
    from cdk8s import ApiObject

SYNC_OPTIONS_ANNOTATION = "argocd.argoproj.io/sync-options"
# `Replace=true` alone makes Argo CD run `kubectl replace` (or `create`), an update like any other: the API server
# refuses a changed immutable field the same way. `Force=true,Replace=true` makes it delete and re-create the object
# ("Force Sync" in the user guide: "the resources will be synchronized using the 'kubectl delete/create' command").
REPLACE_ON_SYNC = {"Force": "true", "Replace": "true"}


def replace_on_sync(api_object: ApiObject) -> None:
    """Let Argo CD delete and re-create `api_object` when it syncs it (`Force=true,Replace=true`), for an object
    whose intended upgrade changes a field the API server does not let change in place (a Job's pod template, a
    binding's roleRef, a Deployment's selector).

    Merged into the object's existing sync options (a `Force` or `Replace` already there is overridden). The
    object is deleted and re-created each time Argo CD applies it, not only when an immutable field changes: while
    it is gone, nothing it provides exists (a Deployment's pods, a binding's permissions). Never for data (a
    PersistentVolumeClaim, a Namespace, a StatefulSet whose claims are deleted with it): the diff reports a
    replacement of those as destroying data.

    For a cdk8s-plus construct, pass its `api_object`.
    """
    add_sync_options(api_object, REPLACE_ON_SYNC)


def add_sync_options(api_object: ApiObject, options: Mapping[str, str]) -> None:
    """Merge `options` ({"Prune": "false"}) into `api_object`'s sync-options annotation; a key already there takes
    the new value, keeping its place."""
    for key, value in options.items():
        if not key or not value or any(char in key + value for char in ",= "):
            raise PropsError("add_sync_options", "options", {key: value}, "Argo CD sync options as {'Key': 'value'}")
    annotations = (api_object.metadata.to_json() or {}).get("annotations") or {}
    merged = {**sync_options(annotations), **options}
    api_object.metadata.add_annotation(SYNC_OPTIONS_ANNOTATION, ",".join(f"{k}={v}" for k, v in merged.items()))


def sync_options(annotations: Mapping[str, Any] | None) -> dict[str, str]:
    """The sync options in an object's annotations, {"Force": "true", "Replace": "true"}; whitespace around each
    option is trimmed, as Argo CD does."""
    text = (annotations or {}).get(SYNC_OPTIONS_ANNOTATION)
    if not isinstance(text, str):
        return {}
    options = {}
    for option in text.split(","):
        key, _, value = option.strip().partition("=")
        if key:
            options[key.strip()] = value.strip()
    return options


def replaces_on_sync(annotations: Mapping[str, Any] | None) -> bool:
    """Whether Argo CD deletes and re-creates the object when it syncs it (`Force=true` and `Replace=true`)."""
    options = sync_options(annotations)
    return all(options.get(key, "").lower() == value for key, value in REPLACE_ON_SYNC.items())
