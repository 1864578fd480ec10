"""Starting an engine by name: the fast one where it can run, else the plain one."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence

from engine import Engine, EngineName, Stack


def start_engine(
    name: EngineName,
    stacks: Sequence[Stack],
    jobs: int,
    *,
    settings_modules: Sequence[str] = (),
    note: Callable[[str], None],
) -> Engine:
    """An engine of kind `name`, ready for up to `jobs` jobs of `stacks` whose settings are instances of classes
    defined in `settings_modules` (or in the stacks' own modules). A `fast` engine that cannot run here
    (`fast_engine_problem`) is reported through `note`, in one line, and a plain engine is returned instead."""
    if name == "fast":
        problem = fast_engine_problem()
        if problem is None:
            from engine.fast import RenderPool

            # At most one worker per core: more is slower (see RenderPool).
            return RenderPool(min(jobs, os.cpu_count() or 1), stacks, settings_modules)
        note(f"the fast engine is off ({problem}): rendering with the plain engine, jsii as shipped")
    from engine.plain import PlainEngine

    return PlainEngine()


def fast_engine_problem() -> str | None:
    """Why the fast engine cannot run with the jsii and cdk8s installed here, if it cannot; None if it can."""
    from engine.fast_runtime import unsupported

    return unsupported()
