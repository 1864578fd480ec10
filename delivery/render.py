"""Synthesis: build each environment's charts and return their objects as plain dicts.

An environment renders in its own process when several are asked for: jsii round-trips dominate the cost
and a process has one Node runtime, so two cores render two environments at once.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any

from delivery.registry import StackDefinition
from delivery.runtime import use_bundled_node
from delivery.settings import EnvironmentSettings

Manifest = dict[str, Any]
RenderedEnvironment = dict[str, list[Manifest]]


def render_environment(settings: EnvironmentSettings, stacks: Sequence[StackDefinition]) -> RenderedEnvironment:
    """Every requested stack of one environment: stack name -> its Kubernetes objects, in cdk8s' order."""
    use_bundled_node()
    import cdk8s

    app = cdk8s.App()
    charts = [
        (stack.name, stack.chart_class()(app, stack.name, getattr(settings, stack.settings_field))) for stack in stacks
    ]
    # One to_json call per chart: the whole chart crosses from Node in a single round-trip.
    return {name: list(chart.to_json()) for name, chart in charts}


def _render_job(job: tuple[EnvironmentSettings, Sequence[StackDefinition]]) -> RenderedEnvironment:
    return render_environment(*job)


def render_environments(
    environments: dict[str, EnvironmentSettings], stacks: Sequence[StackDefinition]
) -> dict[str, RenderedEnvironment]:
    """Render several environments, in parallel processes when there is more than one and more than one core."""
    names = list(environments)
    workers = min(len(names), os.cpu_count() or 1)
    if workers <= 1:
        return {name: render_environment(environments[name], stacks) for name in names}
    with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        results = pool.map(_render_job, [(environments[name], stacks) for name in names])
        return dict(zip(names, results, strict=True))
