"""Synthesis: build each environment's charts and return their objects as plain dicts.

(Environment, stack) pairs render in worker processes, one per core, forked from one
`python -O -m delivery.render_worker` process after it has imported everything (see there):
- jsii round-trips dominate the cost and a process has one Node runtime, so processes use both cores;
- under -O, jsii skips its run-time type checks of every struct (typeguard), which cost more than the Node
  round-trips themselves. The same structs are type-checked by mypy, and by the test suite, which renders
  in-process without -O.
The parent process never imports cdk8s, so settings errors are reported before any of that starts.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from delivery.registry import StackDefinition
from delivery.runtime import use_bundled_node
from delivery.sync_waves import assign_sync_waves

Manifest = dict[str, Any]
RenderedEnvironment = dict[str, list[Manifest]]


class RenderError(Exception):
    """A worker process failed for a reason that is not a props or settings error."""


def render_environment(settings: Any, stacks: Sequence[StackDefinition], environment: str) -> RenderedEnvironment:
    """Every requested stack of one environment, in this process: stack name -> its Kubernetes objects.

    A stack reads its own section of the settings; the Argo CD stack (no section) gets the whole environment.
    """
    use_bundled_node()
    import cdk8s

    from delivery.argocd import ArgoCdInputs

    app = cdk8s.App()
    charts = [
        (
            stack.name,
            stack.chart_class()(
                app,
                stack.name,
                getattr(settings, stack.settings_field)
                if stack.settings_field
                else ArgoCdInputs(environment=environment, settings=settings),
            ),
        )
        for stack in stacks
    ]
    # One to_json call per chart: the whole chart crosses from Node in a single round-trip. A stack keeps its
    # cluster-scoped objects (a Namespace) in `companion_charts` without a namespace, since a Chart's namespace is
    # stamped on every object in it.
    rendered = {
        name: [
            *chart.to_json(),
            *(manifest for companion in getattr(chart, "companion_charts", ()) for manifest in companion.to_json()),
        ]
        for name, chart in charts
    }
    # Each stack is one Argo CD Application: its waves order its own objects.
    for manifests in rendered.values():
        assign_sync_waves(manifests)
    return rendered


class RenderPool:
    """`python -O` render workers, one per core, started before they are needed.

    Starting them first lets their imports (cdk8s, the constructs, the settings models: most of a worker's life)
    overlap with the parent's own work of loading and validating settings. One process imports, then forks the
    workers (delivery/render_worker.py); each reads its jobs from one pipe and writes its result to another.
    `close()` stops workers never used.
    """

    def __init__(self, workers: int | None = None, stacks: Sequence[StackDefinition] = ()) -> None:
        """`stacks`: what will be rendered, so the workers can import those stacks' modules before they fork."""
        count = max(1, workers if workers is not None else (os.cpu_count() or 1))
        preload = dict.fromkeys(module for stack in stacks for module in stack.modules())
        job_pipes = [os.pipe() for _ in range(count)]
        result_pipes = [os.pipe() for _ in range(count)]
        worker_ends = [(jobs[0], results[1]) for jobs, results in zip(job_pipes, result_pipes, strict=True)]
        self._starter = subprocess.Popen(
            [
                *(sys.executable, "-O", "-m", "delivery.render_worker"),
                *(f"{job}:{result}" for job, result in worker_ends),
                *preload,
            ],
            pass_fds=[fd for pair in worker_ends for fd in pair],
            stdin=subprocess.DEVNULL,
            cwd=_project_root(),
        )
        for pair in worker_ends:
            for fd in pair:
                os.close(fd)
        self._rendered = False
        self._jobs = [os.fdopen(jobs[1], "wb") for jobs in job_pipes]
        self._results = [os.fdopen(results[0], "rb") for results in result_pipes]

    def render(
        self,
        environments: dict[str, Any],
        stacks: Sequence[StackDefinition],
        outputs: Mapping[tuple[str, str], Path] | None = None,
    ) -> dict[str, RenderedEnvironment]:
        """Every (environment, stack) pair, shared out among the workers in turn; environment -> stack -> objects.

        Pairs rather than whole environments, so that three environments on two cores do not leave one core
        idle for a third of the time. With `outputs` ((environment, stack) -> folder), the workers also write each
        stack's files there, so YAML emitting and file writing run in parallel too.
        """
        self._rendered = True
        pairs = [(env, stack) for stack in stacks for env in environments]
        count = len(self._jobs)
        shares = [pairs[index::count] for index in range(count)]
        busy = []
        for index, (share, job_pipe) in enumerate(zip(shares, self._jobs, strict=True)):
            jobs: dict[str, list[StackDefinition]] = {}
            for env, stack in share:
                jobs.setdefault(env, []).append(stack)
            if jobs:
                busy.append(index)
            try:
                if jobs:
                    job_pipe.write(
                        pickle.dumps(
                            [
                                (
                                    env,
                                    environments[env],
                                    jobs[env],
                                    {stack.name: outputs[env, stack.name] for stack in jobs[env]} if outputs else None,
                                )
                                for env in jobs
                            ]
                        )
                    )
                job_pipe.close()
            except BrokenPipeError:  # the worker is gone; its result pipe says so below
                pass
        results: dict[str, RenderedEnvironment] = {env: {} for env in environments}
        failure: BaseException | None = None
        for index, result_pipe in enumerate(self._results):
            payload = result_pipe.read()
            result_pipe.close()
            if index not in busy:
                continue
            try:
                status, value = pickle.loads(payload)
            except Exception:
                status, value = "crash", "a render worker exited with no result (see the messages above)"
            if status == "ok":
                for env, by_stack in value.items():
                    results[env].update(by_stack)
            elif failure is None:
                failure = value if isinstance(value, BaseException) else RenderError(str(value))
        if failure is not None:
            raise failure
        # The registry's stack order, whatever order the workers finished in.
        return {env: {stack.name: results[env][stack.name] for stack in stacks} for env in environments}

    def close(self) -> None:
        """Wait until the workers and their Node processes have exited, and stop workers that were started but not
        used (e.g. settings were invalid): closing a job pipe unread tells its worker to exit. The process that
        forked the workers waits for them all, so waiting for it leaves no process behind."""
        for stream in (*self._jobs, *self._results):
            if not stream.closed:
                with contextlib.suppress(BrokenPipeError):
                    stream.close()
        if not self._rendered:  # still importing, perhaps: nothing to wait for
            self._starter.kill()
        self._starter.wait()


def render_environments(
    environments: dict[str, Any],
    stacks: Sequence[StackDefinition],
    pool: RenderPool | None = None,
    outputs: Mapping[tuple[str, str], Path] | None = None,
) -> dict[str, RenderedEnvironment]:
    """Render in `python -O` worker processes, at most one per core; a `pool` given is the caller's to close.

    More workers than cores is slower, not faster: every jsii call is a synchronous Python<->Node exchange, and
    with more such pairs than cores each exchange waits for the scheduler.
    """
    use_bundled_node()
    if pool is not None:
        return pool.render(environments, stacks, outputs)
    pool = RenderPool(min(len(environments) * len(stacks), os.cpu_count() or 1), stacks)
    try:
        return pool.render(environments, stacks, outputs)
    finally:
        pool.close()


def _project_root() -> str:
    from delivery.paths import ROOT

    return str(ROOT)
