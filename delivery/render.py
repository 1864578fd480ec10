"""Synthesis: build each environment's charts and return their objects as plain dicts.

Every environment renders in its own worker process, started as `python -O -m delivery.render_worker`:
- jsii round-trips dominate the cost and a process has one Node runtime, so processes use both cores;
- under -O, jsii skips its run-time type checks of every struct (typeguard), which cost more than the Node
  round-trips themselves. The same structs are type-checked by mypy, and by the test suite, which renders
  in-process without -O.
The parent process never imports cdk8s, so settings errors are reported before any of that starts.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
from collections.abc import Sequence
from typing import Any

from delivery.registry import StackDefinition
from delivery.runtime import use_bundled_node

Manifest = dict[str, Any]
RenderedEnvironment = dict[str, list[Manifest]]


class RenderError(Exception):
    """A worker process failed for a reason that is not a props or settings error."""


def render_environment(settings: Any, stacks: Sequence[StackDefinition]) -> RenderedEnvironment:
    """Every requested stack of one environment, in this process: stack name -> its Kubernetes objects."""
    use_bundled_node()
    import cdk8s

    app = cdk8s.App()
    charts = [
        (stack.name, stack.chart_class()(app, stack.name, getattr(settings, stack.settings_field))) for stack in stacks
    ]
    # One to_json call per chart: the whole chart crosses from Node in a single round-trip. A stack keeps its
    # cluster-scoped objects (a Namespace) in `companion_charts` without a namespace, since a Chart's namespace is
    # stamped on every object in it.
    return {
        name: [
            *chart.to_json(),
            *(manifest for companion in getattr(chart, "companion_charts", ()) for manifest in companion.to_json()),
        ]
        for name, chart in charts
    }


def render_environments(
    environments: dict[str, Any], stacks: Sequence[StackDefinition]
) -> dict[str, RenderedEnvironment]:
    """Render environments in `python -O` worker processes, one per core, each taking its share in turn.

    More workers than cores is slower, not faster: every jsii call is a synchronous Python<->Node exchange, and
    with more such pairs than cores each exchange waits for the scheduler.
    """
    use_bundled_node()
    names = list(environments)
    count = max(1, min(len(names), os.cpu_count() or 1))
    shares = [names[index::count] for index in range(count)]
    workers = [
        subprocess.Popen(
            [sys.executable, "-O", "-m", "delivery.render_worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            cwd=_project_root(),
        )
        for share in shares
        if share
    ]
    for share, worker in zip(shares, workers, strict=False):
        assert worker.stdin is not None
        worker.stdin.write(pickle.dumps(([(name, environments[name]) for name in share], list(stacks))))
        worker.stdin.close()
    results: dict[str, RenderedEnvironment] = {}
    failure: BaseException | None = None
    for worker in workers:
        assert worker.stdout is not None
        payload = worker.stdout.read()
        worker.wait()
        try:
            status, value = pickle.loads(payload)
        except Exception:
            status, value = "crash", f"a render worker exited with code {worker.returncode} and no result"
        if status == "ok":
            results.update(value)
        elif failure is None:
            failure = value if isinstance(value, BaseException) else RenderError(str(value))
    if failure is not None:
        raise failure
    return {name: results[name] for name in names}


def _project_root() -> str:
    from delivery.settings import ROOT

    return str(ROOT)
