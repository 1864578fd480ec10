"""One snapshot per (environment, stack): the rendered YAML, pinned. `pytest --snapshot-update` regenerates."""

from __future__ import annotations

import pytest
from syrupy.assertion import SnapshotAssertion

from delivery.output import stack_yaml
from engine import RenderedEnvironment
from environment_model.registry import stack_names
from tests.conftest import ENVIRONMENTS


@pytest.mark.parametrize("stack", [*stack_names(), "argocd"])
@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_rendered_stack(
    env: str, stack: str, rendered: dict[str, RenderedEnvironment], yaml_snapshot: SnapshotAssertion
) -> None:
    assert stack_yaml(rendered[env][stack]) == yaml_snapshot
