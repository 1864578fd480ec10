"""What the cluster tests send to the server: the committed dist/ (what Argo CD deploys) and the vendored CRDs."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import yaml

from environment_model.paths import ROOT

DIST = ROOT / "dist"
CRDS = ROOT / "crds"
# Requests in flight at once: the server answers a dry-run in milliseconds, this keeps both cores busy.
PARALLEL_REQUESTS = 4
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True)
class RenderedObject:
    path: Path
    manifest: dict[str, Any]

    @property
    def where(self) -> str:
        return str(self.path.relative_to(ROOT))

    @property
    def kind(self) -> str:
        return str(self.manifest["kind"])

    @property
    def namespace(self) -> str | None:
        namespace = self.manifest.get("metadata", {}).get("namespace")
        return str(namespace) if namespace else None


def _documents(path: Path) -> Iterator[dict[str, Any]]:
    for document in yaml.load_all(path.read_text(encoding="utf-8"), Loader=_Loader):
        if document:
            yield document


def _committed(path: Path) -> bool:
    """Not a synth's staging or old folder (hidden, at any depth, git-ignored), which a synth running meanwhile has."""
    return not any(part.startswith(".") for part in path.relative_to(DIST).parts)


def folders(parent: Path) -> list[str]:
    return sorted(path.name for path in parent.iterdir() if path.is_dir() and _committed(path))


def environments() -> list[str]:
    """The environments rendered into dist/ (every folder but argocd/)."""
    return [name for name in folders(DIST) if name != "argocd"]


def scopes() -> list[str]:
    """Every folder of dist/ that Argo CD deploys from: dist/<env>/, dist/argocd/<env>/ and dist/argocd/fleet/."""
    return [*environments(), *(f"argocd/{name}" for name in folders(DIST / "argocd"))]


def objects(scope: str) -> list[RenderedObject]:
    """The objects under dist/<scope>/, in path order."""
    return [
        RenderedObject(path, manifest)
        for path in sorted((DIST / scope).rglob("*.yaml"))
        if _committed(path)
        for manifest in _documents(path)
    ]


def environment_objects(environment: str) -> list[RenderedObject]:
    """An environment's objects and the Argo CD objects that deploy them (its Applications and AppProject)."""
    return [*objects(environment), *objects(f"argocd/{environment}")]


def crd_documents() -> list[RenderedObject]:
    """Every CustomResourceDefinition in crds/ (every file; two Argo CD files define the same CRDs)."""
    return [
        RenderedObject(path, manifest)
        for path in sorted(CRDS.glob("*.yaml"))
        for manifest in _documents(path)
        if manifest.get("kind") == "CustomResourceDefinition"
    ]


def in_parallel(function: Callable[[T], R], items: Sequence[T]) -> list[R]:
    """`function` over `items`, PARALLEL_REQUESTS at a time, results in order."""
    with ThreadPoolExecutor(PARALLEL_REQUESTS) as pool:
        return list(pool.map(function, items))


def labels_of(manifest: Mapping[str, Any]) -> dict[str, str]:
    return dict(manifest.get("metadata", {}).get("labels") or {})
