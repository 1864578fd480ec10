"""The one pipeline: settings through the engine, the sync waves and the whole-output checks, to objects.

`synth` writes what it returns (delivery/synth.py), `diff` compares it with a rendered folder, `validate` reports
it; the bench and the tests render through it too. Every synth renders the Argo CD stack of each environment it
renders, with the stacks asked for.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from delivery.pod_security import label_namespaces
from delivery.sync_waves import assign_sync_waves
from engine import Engine, EngineName, Job, Manifest, RenderedEnvironment
from engine.start import start_engine as start_engine_of_kind
from environment_model.registry import SETTINGS_MODULE, StackDefinition, rendered_with

if TYPE_CHECKING:
    from delivery.render_cache import CachedRenders
    from environment_model.settings import EnvironmentSettings

# Called with (environment, stack, objects) as each stack is rendered, waves assigned (see Engine.render).
StackRendered = Callable[[str, str, list[Manifest]], None]


def start_engine(
    kind: EngineName,
    environments: Sequence[str],
    stacks: Sequence[StackDefinition],
    note: Callable[[str], None],
    *,
    cached: CachedRenders | None = None,
) -> Engine | None:
    """An engine for the pairs of these environments and stacks that are not in the cache (`cached`), started now:
    its start-up (workers importing cdk8s) overlaps the loading of the settings. None when every pair is in the
    cache: then neither Node nor cdk8s is loaded."""
    found = cached.found if cached is not None else {}
    missing = [
        stack
        for stack in rendered_with(stacks)
        if any((environment, stack.name) not in found for environment in environments)
    ]
    jobs = sum((environment, stack.name) not in found for environment in environments for stack in missing)
    if not jobs:
        return None
    # A stack's settings are classes its chart module imports; the Argo CD stack's hold the whole environment's
    # model, which imports every stack's settings (a fifth of a second a worker spends only when it is rendered).
    whole_environment = any(stack.covers_environment for stack in missing)
    return start_engine_of_kind(
        kind, missing, jobs, settings_modules=(SETTINGS_MODULE,) if whole_environment else (), note=note
    )


def render(
    renderer: Engine | None,
    settings: Mapping[str, EnvironmentSettings | Any],
    stacks: Sequence[StackDefinition],
    *,
    stack_rendered: StackRendered | None = None,
    kept: Mapping[str, Mapping[str, list[Manifest]]] | None = None,
    argocd: bool = True,
    cached: CachedRenders | None = None,
) -> dict[str, RenderedEnvironment]:
    """Every stack of `stacks` (and, with `argocd`, the Argo CD stack) in every environment of `settings`:
    environment -> stack -> objects, with their sync waves, each environment checked whole together with its `kept`
    stacks (those not rendered, as they stand in the output). The pairs found in `cached` are taken from it as
    stored (after their waves, before the namespaces' Pod Security labels, which come from the environment's
    argocd section and are put on every time), the others rendered by `renderer` and stored; the whole-environment
    checks run over all of them every time. `stack_rendered` is called with each stack as soon as it is rendered or found (see
    Engine.render). Raises PropsError or RenderCheckError for the user's mistakes."""
    # Here, not at the top: the checks import the settings rules (pydantic), and a synth starts its engine first.
    from delivery.checks import RenderCheckError, check_stacks

    found = cached.found if cached is not None else {}
    pairs = [
        (environment, stack) for stack in (rendered_with(stacks) if argocd else stacks) for environment in settings
    ]
    jobs = [
        Job(environment, stack, stack.settings_for(environment, settings[environment]))
        for environment, stack in pairs
        if (environment, stack.name) not in found
    ]

    def finished(job: Job, manifests: list[Manifest]) -> None:
        assign_sync_waves(manifests)  # each stack is one Argo CD Application: its waves order its own objects
        if cached is not None:  # before the namespaces' labels: they follow another section (argocd.pod_security)
            cached.store(job.environment, job.stack.name, manifests)
        label_namespaces(manifests, settings[job.environment])
        if stack_rendered is not None:
            stack_rendered(job.environment, job.stack.name, manifests)

    def take_found() -> None:
        for environment, stack in pairs:
            if (environment, stack.name) in found:
                label_namespaces(found[environment, stack.name], settings[environment])
                if stack_rendered is not None:
                    stack_rendered(environment, stack.name, found[environment, stack.name])

    if jobs and renderer is None:
        raise ValueError("pairs outside the cache need an engine")
    if jobs and renderer is not None:  # the stacks found in the cache are written while the others render
        fresh = renderer.render(jobs, finished, meanwhile=take_found)
    else:
        take_found()
        fresh = {}
    rendered: dict[str, RenderedEnvironment] = {}
    for environment in settings:  # in the order the engine gives: environments, then stacks, as asked
        for stack in rendered_with(stacks) if argocd else stacks:
            pair = (environment, stack.name)
            objects = found[pair] if pair in found else fresh[environment][stack.name]
            if not objects:  # every stack renders objects in every environment: none would prune a whole system
                raise RenderCheckError(f"{environment}/{stack.name}: rendered no objects; refusing to write it empty")
            rendered.setdefault(environment, {})[stack.name] = objects
    for environment, by_stack in rendered.items():
        try:
            check_stacks({**(kept or {}).get(environment, {}), **by_stack})
        except RenderCheckError as error:
            raise RenderCheckError(f"{environment}:\n{error}") from None
    return rendered
