"""synth: the pipeline's objects written into an output folder (dist/), every environment swapped in whole or not
at all, under the output lock, after putting right what a killed synth left."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from constructs_lib.errors import PropsError
from delivery import pipeline
from delivery.argocd_fleet import FleetError, fleet_application_sets
from delivery.checks import RenderCheckError
from delivery.interrupts import interrupts_deferred
from delivery.output import (
    FLEET_FOLDER,
    OutputError,
    StackFolders,
    commit_swaps,
    discard_staging,
    output_lock,
    prepare_swaps,
    recover_leftovers,
    stack_folders,
    stage_environments,
    stale_environment_folders,
    write_stack,
)
from engine import Engine, Manifest, RenderedEnvironment
from environment_model.paths import available_environments, display_path
from environment_model.registry import ARGOCD, StackDefinition, stack_names
from environment_model.settings_file import RENDERED, SettingsFileError, display_name, read_settings_file

if TYPE_CHECKING:
    from delivery.render_cache import CachedRenders
    from environment_model.settings import EnvironmentSettings


class SynthError(Exception):
    """The user's mistake or the disk's: the message says what, and that nothing was written."""


@dataclass(frozen=True)
class Written:
    rendered: dict[str, RenderedEnvironment]
    stale: list[str]  # one line per environment folder without a settings file: kept, or pruned


def write(
    renderer: Engine | None,
    settings: Mapping[str, EnvironmentSettings],
    stacks: Sequence[StackDefinition],
    out: Path,
    *,
    whole_environments: bool,
    prune: bool,
    note: Callable[[str], None],
    cached: CachedRenders | None = None,
    available: Sequence[str] | None = None,
    environments_folder: Path | None = None,
) -> Written:
    """Render `stacks` of every environment of `settings` into `out`/<env>/<stack>/ (Argo CD's into
    `out`/argocd/<env>/), each environment swapped in whole or not at all; with `whole_environments` false, the
    stacks not rendered are kept as they are (and checked with the rendered ones). SynthError for a mistake, with
    `out` as it was; a failed synth leaves no trace, not even the output folder, or its argocd/ folder, if it made
    them. The pairs found in `cached` are written from it (see pipeline.render). `available`: every environment there
    is (default: those in `environments_folder`, default environments_dir()): the fleet is written when all are
    rendered, and the folders of the others are stale."""
    environments = list(settings)
    available = available_environments(environments_folder) if available is None else available
    staged: dict[str, Path] = {}
    staged_argocd: dict[str, Path] = {}
    staged_fleet: dict[str, Path] = {}
    created = [folder for folder in (out, out / "argocd") if not folder.exists()]
    try:
        fleet = fleet_objects(settings, available, environments_folder)
        with output_lock(out):
            for line in recover_leftovers(out):
                note(line)
            # Each stack's files are written into a staging folder per environment; nothing in `out` changes until
            # every object is rendered and checked, and then every environment is swapped in, or none.
            try:
                with interrupts_deferred():  # a Ctrl-C now would leave folders not yet recorded here
                    staged = stage_environments(out, environments)
                    staged_argocd = stage_environments(out / "argocd", environments)
                    staged_fleet = stage_environments(out / "argocd", fleet)
                for folder, manifests in fleet.items():
                    write_stack(StackFolders(staged_fleet[folder], out / "argocd" / folder), manifests)
                outputs = {
                    **stack_folders(out, staged, [stack.name for stack in stacks]),
                    **{
                        (env, ARGOCD.name): StackFolders(staged_argocd[env], out / "argocd" / env)
                        for env in environments
                    },
                }

                def stack_rendered(env: str, stack: str, manifests: list[Manifest]) -> None:
                    write_stack(outputs[env, stack], manifests)

                # One stack re-rendered joins the others as they are: the checks across stacks see them too.
                kept = None if whole_environments else _kept_stacks(out, environments, stacks)
                rendered = pipeline.render(
                    renderer, settings, stacks, stack_rendered=stack_rendered, kept=kept, cached=cached
                )
                commit_swaps(
                    [
                        *prepare_swaps(out, staged, replace_whole_environment=whole_environments),
                        *prepare_swaps(out / "argocd", staged_argocd, replace_whole_environment=True),
                        *prepare_swaps(out / "argocd", staged_fleet, replace_whole_environment=True),
                    ]
                )
            finally:
                discard_staging(staged)  # what is left of them: nothing, once committed
                discard_staging(staged_argocd)
                discard_staging(staged_fleet)
            stale = stale_environment_folders(out, prune=prune, known=available)
    except (PropsError, RenderCheckError, OutputError, FleetError) as error:
        _remove_empty(created)
        raise SynthError(f"{error}\nnothing was written to {display_path(out)}") from None
    except OSError as error:
        _remove_empty(created)
        where = display_path(Path(error.filename)) if error.filename else display_path(out)
        raise SynthError(
            f"cannot write {where}: {error.strerror or error}\nnothing was written to {display_path(out)}"
        ) from None
    except BaseException:
        _remove_empty(created)
        raise
    return Written(rendered, stale)


def fleet_objects(
    settings: Mapping[str, EnvironmentSettings], available: Sequence[str], folder: Path | None = None
) -> dict[str, list[Manifest]]:
    """<out>/argocd/fleet/'s objects when `settings` holds every environment of `available`, else nothing: the fleet
    is made of all environments' settings, and a synth of some of them has not loaded (nor validated) the others',
    so it leaves the folder as it is (CI's check that dist/ is current catches a fleet left behind). `folder`: where
    the settings files are (default environments_dir()), for the messages."""
    if set(settings) != set(available):
        return {}
    return {FLEET_FOLDER: fleet_application_sets(settings, folder=folder)}


def read_rendered_tree(folder: Path, scope: Sequence[str]) -> dict[str, Any]:
    """Relative path -> object of each YAML file in `folder` within `scope` (hidden entries left out), read with the
    settings files' bounds (size, aliases, nesting, encoding): a rendered tree is edited by hand too, and in CI diff
    compares with another branch's dist/, which anyone can edit. A symbolic link is followed only while it stays
    inside `folder` (one that leaves it would show what lies elsewhere): SettingsFileError, in one line, otherwise.
    Only the folders the scope reaches are walked, however large `folder` is."""
    root = folder.resolve()
    prefixes = tuple(scope)
    objects: dict[str, Any] = {}
    # The real folders on the way to each folder walked: a link back to one of them would lead round in circles.
    chains = {os.fspath(folder): {root}}
    for parent, folders, files in os.walk(folder, followlinks=True, onerror=_unreadable):
        here, chain = Path(parent), chains.pop(parent)
        for name in list(folders):
            relative = f"{(here / name).relative_to(folder)}/"
            reached = not name.startswith(".") and any(
                p.startswith(relative) or relative.startswith(p) for p in prefixes
            )
            target = _inside(here / name, root, folder) if reached else None
            if target is None or target in chain:
                folders.remove(name)
            else:
                chains[os.path.join(parent, name)] = chain | {target}
        for name in files:
            relative = str((here / name).relative_to(folder))
            if name.endswith(".yaml") and not name.startswith(".") and relative.startswith(prefixes):
                _inside(here / name, root, folder)
                objects[relative] = read_settings_file(here / name, RENDERED).data
    return dict(sorted(objects.items()))


def _inside(path: Path, root: Path, folder: Path) -> Path:
    """Where `path` leads, refused (SettingsFileError) if a symbolic link takes it out of `root`, the resolved
    `folder` being read."""
    target = path.resolve()
    if path.is_symlink() and target != root and root not in target.parents:
        raise SettingsFileError(
            f"{display_name(path)}: a symbolic link to {os.readlink(path)}, which leads out of {display_name(folder)}; "
            "a rendered tree compared with must hold its own files"
        )
    return target


def _unreadable(error: OSError) -> None:
    """os.walk's errors, which it would otherwise skip in silence (an unreadable folder's files would look removed)."""
    where = display_name(Path(error.filename)) if error.filename else "a folder"
    raise SettingsFileError(f"{where}: cannot be read: {error.strerror or error}")


def _kept_stacks(
    out: Path, environments: list[str], rendered: Sequence[StackDefinition]
) -> dict[str, dict[str, list[dict[str, Any]]]]:
    """environment -> stack -> objects of the stacks a `--stack` synth keeps as they are in the output folder (the
    folder is edited by hand too, so it is read like any other rendered tree)."""
    names = {stack.name for stack in rendered}
    scope = [f"{env}/{stack}/" for env in environments for stack in stack_names() if stack not in names]
    try:
        objects = read_rendered_tree(out, scope)
    except SettingsFileError as error:
        raise OutputError(f"cannot check against the stacks kept as they are: {error}") from None
    kept: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for path, manifest in objects.items():
        env, stack, _ = path.split("/", 2)
        kept.setdefault(env, {}).setdefault(stack, []).append(manifest)
    return kept


def _remove_empty(folders: list[Path]) -> None:
    for folder in reversed(folders):  # argocd/ before the output folder that holds it
        with contextlib.suppress(OSError):
            folder.rmdir()  # only if empty: never what another process put there meanwhile
