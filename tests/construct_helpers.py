"""Helpers for construct unit tests: a chart to put constructs in, and its synthesized objects."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import cdk8s  # as a module: pytest would collect cdk8s.Testing as a test class

from constructs_lib import HttpProbe
from value_types.images import ImageSettings
from value_types.quantities import ResourceSettings

IMAGE = ImageSettings(repository="ghcr.io/acme/web", tag="1.2.3")
RESOURCES = ResourceSettings.of("100m", "128Mi", "200m", "256Mi")
PROBE = HttpProbe(path="/healthz")


def synth(build: Callable[[cdk8s.Chart], Any], namespace: str | None = "apps") -> list[dict[str, Any]]:
    app = cdk8s.Testing.app()
    chart = cdk8s.Chart(app, "test", namespace=namespace)
    build(chart)
    return list(cdk8s.Testing.synth(chart))


def only(manifests: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    matches = [m for m in manifests if m["kind"] == kind]
    assert len(matches) == 1, f"{len(matches)} {kind}"
    return matches[0]
