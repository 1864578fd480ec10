"""Starting an engine by name."""

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
    defined in `settings_modules` (or in the stacks' own modules). Where the fast engine's jsii speed-ups cannot run
    (`fast_engine_problem`: a jsii or cdk8s it was not written against), that is said through `note`, in one line,
    and its workers render with jsii as shipped: still in parallel."""
    if name == "fast":
        from engine.fast import RenderPool

        problem = fast_engine_problem()
        if problem is not None:
            note(f"the fast engine's jsii speed-ups are off ({problem}): its workers render with jsii as shipped")
        # At most one worker per core: more is slower (see RenderPool).
        return RenderPool(min(jobs, os.cpu_count() or 1), stacks, settings_modules, public_jsii=problem is not None)
    from engine.plain import PlainEngine

    return PlainEngine()


def fast_engine_problem() -> str | None:
    """Why the fast engine cannot run with the jsii and cdk8s installed here, if it cannot; None if it can."""
    from engine.fast_runtime import unsupported

    return unsupported()
