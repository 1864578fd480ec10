"""A chart that renders one ConfigMap or fails in a chosen way, for the render pool's failure tests
(tests/test_render_workers.py). Render workers import it by name, so it lives in a module of its own."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Literal

from cdk8s import Chart
from cdk8s_plus_27 import k8s
from constructs import Construct

from constructs_lib.errors import PropsError
from environment_model.registry import StackDefinition

Outcome = Literal["renders", "props error", "raises", "worker dies", "hangs"]


@dataclass(frozen=True)
class FailingEnvironment:
    """Stands in for EnvironmentSettings: the stack's section is `failing`."""

    failing: Outcome


class FailingChart(Chart):
    def __init__(self, scope: Construct, id: str, outcome: Outcome) -> None:
        super().__init__(scope, id, namespace="failing", disable_resource_name_hashes=True)
        if outcome == "props error":
            raise PropsError("FailingChart", "outcome", outcome, "renders")
        if outcome == "raises":
            raise RuntimeError("the chart broke")
        if outcome == "worker dies":
            os._exit(3)  # as if killed: no result, no traceback
        while outcome == "hangs":
            time.sleep(60)
        k8s.KubeConfigMap(self, "Config", metadata=k8s.ObjectMeta(name="failing"), data={"a": "1"})


FAILING = StackDefinition(
    name="failing", settings_field="failing", chart="tests.failing_chart:FailingChart", description="tests only"
)
