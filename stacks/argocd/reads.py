"""What the Argo CD chart reads of an environment's settings, as the file gives it (no pydantic: the render cache
reads this before anything is validated or an engine started).

The chart takes the whole environment (ArgoCdInputs) but reads only its own section and each stack's `namespace`.
The render cache keys the Argo CD stack on these alone, so that a change to one stack's other values renders that
stack alone. tests/test_cached_synth.py renders the chart over settings that record every read and fails on any
other: a chart that starts reading more must say so here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol


class _Stack(Protocol):
    @property
    def settings_field(self) -> str: ...


def settings_read(data: Mapping[str, Any], stacks: Sequence[_Stack]) -> dict[str, Any]:
    """The parts of an environment file's data the chart reads: the `argocd` section and each stack's namespace
    (a section that is not a mapping counts whole: validation refuses it anyway)."""
    namespaces = {}
    for stack in stacks:
        section = data.get(stack.settings_field)
        namespaces[stack.settings_field] = (
            {"namespace": section.get("namespace")} if isinstance(section, Mapping) else {"section": section}
        )
    return {"argocd": data.get("argocd"), "namespaces": namespaces}
