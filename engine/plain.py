"""The plain engine: every job rendered in this process, jsii exactly as shipped. The reference for the others."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from engine import EngineName, Finished, Job, Manifest, RenderedEnvironment, in_job_order, use_bundled_node


class PlainEngine:
    """Renders in the calling process, one environment after another, with jsii's own kernel start and run-time
    type checks; nothing to start beforehand or to stop."""

    name: EngineName = "plain"

    def render(
        self, jobs: Sequence[Job], finished: Finished | None = None, meanwhile: Callable[[], None] | None = None
    ) -> dict[str, RenderedEnvironment]:
        if meanwhile is not None:  # this engine renders in the calling thread: nothing runs beside it
            meanwhile()
        objects = {}
        for job, manifests in render_jobs(jobs):
            if finished is not None:
                finished(job, manifests)
            objects[job.environment, job.stack.name] = manifests
        return in_job_order(jobs, objects)

    def close(self, stop: bool = False) -> None:
        pass


def render_jobs(jobs: Sequence[Job]) -> Iterator[tuple[Job, list[Manifest]]]:
    """Each job with its objects, one environment at a time: its charts are built in one cdk8s App, then each is
    serialised with one `to_json` call (the whole chart crosses from Node in a single round-trip). What the fast
    engine's workers run too."""
    use_bundled_node()
    import cdk8s

    by_environment: dict[str, list[Job]] = {}
    for job in jobs:
        by_environment.setdefault(job.environment, []).append(job)
    for environment_jobs in by_environment.values():
        app = cdk8s.App()
        # What a chart may know of its environment beyond its settings: the name, for titles and ids (dashboards).
        app.node.set_context("environment", environment_jobs[0].environment)
        charts = [(job, _chart_class(job.stack.chart)(app, job.stack.name, job.settings)) for job in environment_jobs]
        for job, chart in charts:
            companions = getattr(chart, "companion_charts", ())
            yield job, [*chart.to_json(), *(manifest for companion in companions for manifest in companion.to_json())]


def _chart_class(reference: str) -> Any:
    module, _, attribute = reference.partition(":")
    return getattr(importlib.import_module(module), attribute)
