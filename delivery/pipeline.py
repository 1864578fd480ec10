"""The one pipeline: settings through the engine, the sync waves and the whole-output checks, to objects.

`synth` writes what it returns (delivery/synth.py), `diff` compares it with a rendered folder, `validate` reports
it; the bench and the tests render through it too. Every synth renders the Argo CD stack of each environment it
renders, with the stacks asked for.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from delivery.checks import RenderCheckError, check_stacks
from delivery.pod_security import label_namespaces
from delivery.sync_waves import assign_sync_waves
from engine import Engine, EngineName, Job, Manifest, RenderedEnvironment
from engine.start import start_engine as start_engine_of_kind
from environment_model.registry import SETTINGS_MODULE, StackDefinition, rendered_with

if TYPE_CHECKING:
    from environment_model.settings import EnvironmentSettings

# Called with (environment, stack, objects) as each stack is rendered, waves assigned (see Engine.render).
StackRendered = Callable[[str, str, list[Manifest]], None]


def start_engine(
    kind: EngineName, environments: Sequence[str], stacks: Sequence[StackDefinition], note: Callable[[str], None]
) -> Engine:
    """An engine for these environments and stacks, started now: its start-up (workers importing cdk8s) overlaps
    the loading of the settings."""
    return start_engine_of_kind(
        kind,
        rendered_with(stacks),
        len(environments) * len(stacks),
        settings_modules=(SETTINGS_MODULE,),
        note=note,
    )


def render(
    renderer: Engine,
    settings: Mapping[str, EnvironmentSettings | Any],
    stacks: Sequence[StackDefinition],
    *,
    stack_rendered: StackRendered | None = None,
    kept: Mapping[str, Mapping[str, list[Manifest]]] | None = None,
    argocd: bool = True,
) -> dict[str, RenderedEnvironment]:
    """Every stack of `stacks` (and, with `argocd`, the Argo CD stack) in every environment of `settings`:
    environment -> stack -> objects, with their sync waves, each environment checked whole together with its `kept`
    stacks (those not rendered, as they stand in the output). `stack_rendered` is called with each stack as soon as
    it is rendered (see Engine.render). Raises PropsError or RenderCheckError for the user's mistakes."""
    jobs = [
        Job(environment, stack, stack.settings_for(environment, settings[environment]))
        for stack in (rendered_with(stacks) if argocd else stacks)
        for environment in settings
    ]

    def finished(job: Job, manifests: list[Manifest]) -> None:
        assign_sync_waves(manifests)  # each stack is one Argo CD Application: its waves order its own objects
        label_namespaces(manifests, settings[job.environment])
        if stack_rendered is not None:
            stack_rendered(job.environment, job.stack.name, manifests)

    rendered = renderer.render(jobs, finished)
    for environment, by_stack in rendered.items():
        try:
            check_stacks({**(kept or {}).get(environment, {}), **by_stack})
        except RenderCheckError as error:
            raise RenderCheckError(f"{environment}:\n{error}") from None
    return rendered
