"""The use cases: one function for each command of main.py, which only parses the command line, calls one of these
and prints what it returns.

A user's mistake (bad settings, a failed check, a folder that cannot be written) is raised as CommandError, whose
message is the whole report and whose code is the exit code; notes that are not errors go to the `note` callback
as they happen. Ctrl-C and SIGTERM (delivery.interrupts.Terminated) are raised as KeyboardInterrupt, after every
file was written whole or not at all.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from environment_model.paths import ROOT, SCHEMA_PATH, available_environments, display_path, not_set_up
from environment_model.registry import ARGOCD, STACKS, StackDefinition, get_stack, rendered_with

if TYPE_CHECKING:
    from delivery.promote import SettingsEdit
    from delivery.render_cache import CachedRenders
    from engine import Engine, EngineName, Manifest, RenderedEnvironment
    from environment_model.settings import EnvironmentSettings

Note = Callable[[str], None]
REFERENCE_PATH = ROOT / "docs" / "settings.md"


class CommandError(Exception):
    """What a command reports instead of its result: `message` (one or more lines), and the exit `code`."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Selection:
    """What a command renders, and from where.

    Attributes:
        environments: their names, in order; each is `<folder>/<name>.yaml`.
        stacks: the stacks asked for (the Argo CD stack is rendered with them).
        folder: the environments folder.
        engine: `fast` or `plain` (engine/__init__.py); both give the same bytes.
        use_cache: read and fill the render cache (delivery/render_cache.py); without it nothing is read from it.
    """

    environments: list[str]
    stacks: list[StackDefinition]
    folder: Path
    engine: EngineName = "fast"
    use_cache: bool = True
    available: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.available:
            object.__setattr__(self, "available", available_environments(self.folder))


def synth(selection: Selection, out: Path, *, prune: bool, note: Note, mirror_into: Path | None = None) -> list[str]:
    """Render the selection into `out`, every environment swapped in whole or none; the summary lines. With the
    cache on, pairs whose key is in the cache are not rendered again. `mirror_into`: a folder (the cdk8s CLI's,
    which it lists) that gets hard links to `out`'s files afterwards."""
    lines = _synth(selection, out, prune=prune, note=note)
    if mirror_into is not None:
        from delivery.output import mirror_tree

        mirror_tree(out, mirror_into)
    return lines


def _synth(selection: Selection, out: Path, *, prune: bool, note: Note) -> list[str]:
    from delivery.output import output_folder_problem

    started = time.perf_counter()
    if problem := output_folder_problem(out, environments=selection.folder):
        raise CommandError(problem)
    texts = _settings_texts(selection)
    cached = _look_up(selection, texts)
    # The engine first: its workers' start-up (importing cdk8s) overlaps loading the settings.
    renderer = _start_engine(selection, cached, note)
    stop = True  # unless the render goes through: a failed or interrupted one ends the engine's workers at once
    try:
        from delivery.synth import SynthError, write

        settings = _load_settings(selection, texts)
        try:
            written = write(
                renderer,
                settings,
                selection.stacks,
                out,
                whole_environments=len(selection.stacks) == len(STACKS),
                prune=prune,
                note=note,
                cached=cached,
                available=selection.available,
                environments_folder=selection.folder,
            )
        except SynthError as error:
            raise CommandError(str(error)) from None
        stop = False
    finally:
        if renderer is not None:
            renderer.close(stop=stop)
    summary = [
        f"{env}: {', '.join(f'{stack} {len(manifests)}' for stack, manifests in by_stack.items())} objects -> "
        f"{display_path(out / env)}"
        for env, by_stack in written.rendered.items()
    ]
    if cached is not None:
        cached.finish()
    pairs = sum(len(by_stack) for by_stack in written.rendered.values())
    from_cache = f", {len(cached.found)} of {pairs} stacks from the cache" if cached is not None else ""
    elapsed = time.perf_counter() - started
    return [*summary, *written.stale, f"rendered {len(written.rendered)} environment(s) in {elapsed:.2f}s{from_cache}"]


def validate(selection: Selection, note: Note) -> str:
    """Everything a synth checks (settings, constructs, the whole-output checks), with nothing written."""
    rendered, fleet = render(selection, note)
    objects = sum(len(manifests) for by_stack in [*rendered.values(), fleet] for manifests in by_stack.values())
    return f"valid: {', '.join(selection.environments)} ({objects} objects rendered and checked; nothing written)"


def diff(selection: Selection, dist: Path, *, markdown: bool, exit_code: bool, note: Note) -> tuple[str, int]:
    """What rendering the selection would change in `dist`, as text or Markdown, and the exit code: 0 (or, with
    `exit_code`, 1 for changes applied in place, 3 for changes that are refused or destroy data). CommandError
    with code 2 when nothing could be compared."""
    import yaml

    from delivery.diff import diff_documents, format_markdown, format_text
    from delivery.output import manifest_files, output_folder_problem
    from delivery.synth import read_rendered_tree
    from environment_model.settings_file import SettingsFileError

    if problem := output_folder_problem(dist, "--dist", selection.folder):
        raise CommandError(problem, 2)
    if not dist.is_dir():
        raise CommandError(
            f"--dist {display_path(dist)}: no such folder; it must be a rendered dist/ to compare with", 2
        )
    scope = [
        *(f"{env}/{stack.name}/" for env in selection.environments for stack in selection.stacks),
        *(f"argocd/{env}/" for env in selection.environments),
    ]
    try:  # before rendering: an unreadable folder to compare with fails at once
        old = read_rendered_tree(dist, scope)
    except SettingsFileError as error:
        raise CommandError(f"cannot compare with {display_path(dist)}: {error}", 2) from None
    try:
        rendered, fleet = render(selection, note)
    except CommandError as error:  # the render failed: neither "same" nor "different"
        raise CommandError(str(error), 2) from None
    try:  # the fleet, compared only when rendered: a diff of some environments leaves it, as synth does
        old.update(read_rendered_tree(dist, [f"argocd/{folder}/" for folder in fleet]) if fleet else {})
    except SettingsFileError as error:
        raise CommandError(f"cannot compare with {display_path(dist)}: {error}", 2) from None
    new = {
        (f"argocd/{env}/{name}" if stack == ARGOCD.name else f"{env}/{stack}/{name}"): yaml.safe_load(text)
        for env, by_stack in rendered.items()
        for stack, manifests in by_stack.items()
        for name, text in manifest_files(manifests).items()
    }
    for folder, manifests in fleet.items():
        new.update(
            {f"argocd/{folder}/{name}": yaml.safe_load(text) for name, text in manifest_files(manifests).items()}
        )
    report = diff_documents(old, new)
    text = format_markdown(report) if markdown else format_text(report)
    if not exit_code or not report.has_changes:
        return text, 0
    return text, 3 if report.impact.blocks else 1


def render(selection: Selection, note: Note) -> tuple[dict[str, RenderedEnvironment], dict[str, list[Manifest]]]:
    """What diff and validate render: the pipeline's objects and the fleet's (folder under argocd/ -> objects; none
    unless every environment is rendered). Pairs in the render cache are taken from it; the settings are validated
    and the whole-output checks run every time."""
    from constructs_lib.errors import PropsError
    from delivery.argocd_fleet import FleetError
    from delivery.checks import RenderCheckError
    from delivery.output import OutputError, manifest_files
    from delivery.pipeline import render as render_pipeline
    from delivery.synth import fleet_objects

    texts = _settings_texts(selection)
    cached = _look_up(selection, texts)
    renderer = _start_engine(selection, cached, note)
    try:
        settings = _load_settings(selection, texts)
        fleet = fleet_objects(
            settings, selection.available, selection.folder
        )  # settings the fleet cannot serve fail here, as in synth
        rendered = render_pipeline(renderer, settings, selection.stacks, cached=cached)
        for by_stack in rendered.values():
            for manifests in by_stack.values():
                manifest_files(manifests)  # the file layout: two objects may not share a file
    except (PropsError, RenderCheckError, OutputError, FleetError) as error:
        raise CommandError(str(error)) from None
    finally:
        if renderer is not None:
            renderer.close(stop=True)
    if cached is not None:
        cached.finish()
    return rendered, fleet


def promote(stack: str, source: str, target: str, *, dry_run: bool, note: Note) -> list[str]:
    """Copy every image tag of `stack` from environment `source`'s settings file to `target`'s (see _edit_image)."""
    from delivery.promote import plan_promotion

    return _edit_image(lambda: plan_promotion(stack, source, target), dry_run=dry_run, note=note)


def set_image(stack: str, tag: str, env: str, image: str | None, *, dry_run: bool, note: Note) -> list[str]:
    """Set the tag of `stack`'s image (the only one, or the one named `image`) in `env`'s settings file (see
    _edit_image)."""
    from delivery.promote import plan_set_image

    return _edit_image(lambda: plan_set_image(stack, tag, env, image), dry_run=dry_run, note=note)


def _edit_image(plan: Callable[[], SettingsEdit], *, dry_run: bool, note: Note) -> list[str]:
    """Plan an image edit (delivery/promote.py), render it from a staged copy of the settings and show the diff
    against dist/, then write the file (unless `dry_run`). The lines to print: the changes, the diff, what was
    written. Bad input, or an edit that does not render, writes nothing: CommandError with code 2."""
    from delivery.promote import PromoteError

    try:
        edit = plan()
    except PromoteError as error:
        raise CommandError(str(error), 2) from None
    lines = edit.describe()
    if not edit.changes:
        return lines
    if not dry_run and (problem := edit.write_problem()):  # before the render: it would be shown for nothing
        raise CommandError(problem, 2)
    with edit.staged() as folder:
        # Only the edited environment is rendered, from a folder holding its file alone; `available` still names
        # every environment, so the fleet (made of all of them) is neither rendered nor compared, and the diff shows
        # this environment's folders only.
        every = available_environments()
        selection = Selection([edit.env], [get_stack(edit.stack)], folder, available=every or [edit.env])
        try:
            text, _ = diff(selection, ROOT / "dist", markdown=False, exit_code=False, note=note)
        except CommandError as error:
            raise CommandError(
                f"{error}\nthe edited settings do not render; nothing was written to {display_path(edit.path)}", 2
            ) from None
    lines.append(text.rstrip("\n"))
    if dry_run:
        return [*lines, f"dry run: nothing was written to {display_path(edit.path)}"]
    try:
        edit.write()
    except PromoteError as error:
        raise CommandError(str(error), 2) from None
    return [*lines, f"wrote {display_path(edit.path)}; run `make synth` to render it into dist/"]


def listing() -> list[str]:
    """What `list` shows: the environments and the stacks."""
    width = max(len(stack.name) for stack in STACKS)
    return [
        "Environments (environments/<name>.yaml):",
        *(f"  {env}" for env in available_environments()),
        "Stacks (dist/<env>/<stack>/):",
        *(f"  {stack.name:<{width}}  {stack.description}" for stack in STACKS),
    ]


def redacted(text: str) -> str:
    """`text` as a command prints it: every credential-shaped part hidden (value_types/credentials.py), whatever
    produced it: a diff, the preview of an edit, an error or a note that echoes a value."""
    from value_types.credentials import redact_credentials  # no pydantic: notes and early errors print before it

    return redact_credentials(text)


def unexpected_error(error: Exception) -> str:
    """One line for an error nobody planned for: what failed and on what, without a traceback."""
    if isinstance(error, ModuleNotFoundError):
        return not_set_up(error.name)
    if isinstance(error, OSError) and error.filename:
        return f"{display_path(Path(error.filename))}: {error.strerror or error}"
    lines = str(error).strip().splitlines()
    # A render worker's unexpected failure carries its traceback: its last line says what went wrong.
    return f"{type(error).__name__}: {lines[-1] if lines else ''}"


def schema(*, check: bool) -> list[str]:
    """Write the settings JSON Schema and the settings reference where they are out of date (the lines saying
    which); with `check`, write nothing and raise CommandError naming those out of date."""
    from environment_model.reference import settings_reference
    from environment_model.settings import settings_schema

    expected = {SCHEMA_PATH: settings_schema(), REFERENCE_PATH: settings_reference()}
    stale = [path for path, text in expected.items() if not path.exists() or path.read_text(encoding="utf-8") != text]
    if check:
        if stale:
            raise CommandError(
                "\n".join(f"out of date: {display_path(path)} (run `python main.py schema`)" for path in stale)
            )
        return []
    for path in stale:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(expected[path], encoding="utf-8")
    return [f"wrote {display_path(path)}" for path in stale]


def _settings_texts(selection: Selection) -> dict[str, str | None]:
    """Each environment's settings file's text, read once: the cache's keys and the settings are made from the same
    read, so an edit during the command can never store objects under the key of other text. None where it cannot
    be read (loading the settings says why)."""
    from environment_model.settings_file import SettingsFileError, settings_text

    texts: dict[str, str | None] = {}
    for env in selection.environments:
        try:
            texts[env] = settings_text(selection.folder / f"{env}.yaml")
        except (SettingsFileError, OSError):
            texts[env] = None
    return texts


def _load_settings(selection: Selection, texts: Mapping[str, str | None]) -> dict[str, EnvironmentSettings]:
    """Each environment's settings, validated from `texts`; CommandError listing every environment's problems."""
    from delivery.interrupts import import_pydantic

    import_pydantic()
    from environment_model.settings import SettingsError, load_environment
    from environment_model.settings_file import SettingsFileError, display_name, read_settings_text

    loaded, problems = {}, []
    for env in selection.environments:
        text = texts.get(env)
        try:
            source = None
            if text is not None:
                try:
                    source = read_settings_text(text, display_name(selection.folder / f"{env}.yaml"))
                except SettingsFileError as error:
                    raise SettingsError(str(error)) from None
            loaded[env] = load_environment(env, source, selection.folder)
        except SettingsError as error:
            problems.append(str(error))
    if problems:
        raise CommandError("invalid settings:\n" + "\n".join(problems))
    return loaded


def _look_up(selection: Selection, texts: Mapping[str, str | None]) -> CachedRenders | None:
    """The pairs the render cache holds for the selection, keyed on `texts`; None without the cache (--no-cache,
    or RENDER_CACHE=off)."""
    from delivery.render_cache import cache_folder, code_version, look_up

    folder = cache_folder() if selection.use_cache else None
    if folder is None:
        return None
    return look_up(texts, rendered_with(selection.stacks), folder, code=code_version(), engine=selection.engine)


def _start_engine(selection: Selection, cached: CachedRenders | None, note: Note) -> Engine | None:
    from delivery.pipeline import start_engine

    return start_engine(selection.engine, selection.environments, selection.stacks, note=note, cached=cached)
