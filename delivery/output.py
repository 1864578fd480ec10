"""dist/ layout and writing: dist/<env>/<stack>/<kind>-<name>.yaml, one object per file, swapped in atomically.

A render first writes a complete copy of an environment's folder next to it, then swaps the two with renames,
so a failed or interrupted synth never leaves an environment's folder half-written. Files that did not change are
not written again but linked into the copy (keep_or_write).
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NamedTuple

import yaml

from delivery.interrupts import interrupts_deferred
from engine import Manifest, RenderedEnvironment
from environment_model.paths import display_path
from environment_model.registry import stack_names

# dist/argocd/<FLEET_FOLDER>/: a folder beside the environments' Argo CD folders, never an environment itself.
FLEET_FOLDER = "fleet"

# What marks a source tree rather than an output folder: a synth there would mix environments into it.
PROJECT_MARKERS = (".git", "pyproject.toml")


def output_folder_problem(out: Path, option: str = "--out", environments: Path | None = None) -> str | None:
    """Why `out` cannot be an output folder (or, with `option` --dist, the rendered tree compared with), if it cannot:
    a file, or a folder that holds something else a synth would mix environments into, named for what it holds: a
    project, Python source, or, when it is `environments` (the environments folder), the environment settings files.
    Only its top level is looked at, so a folder of any size is answered at once."""
    if out.exists() and not out.is_dir():
        return f"{option} {display_path(out)} is a file; it must name a folder"
    if not out.is_dir():
        return None
    instead = "name a folder of its own, such as dist/" if option == "--out" else "name a rendered tree, such as dist/"
    if any((out / marker).exists() for marker in PROJECT_MARKERS):
        return (
            f"{option} {display_path(out)} holds a project ({' or '.join(PROJECT_MARKERS)}), not rendered output; "
            f"{instead}"
        )
    if environments is not None and out.resolve() == environments.resolve():
        return (
            f"{option} {display_path(out)} is the environments folder: it holds the environment settings files, not "
            f"rendered output; {instead}"
        )
    source = sorted(path.name for path in out.glob("*.py"))
    if source:
        shown = ", ".join(source[:3]) + (f" and {len(source) - 3} more" if len(source) > 3 else "")
        return f"{option} {display_path(out)} holds Python source ({shown}), not rendered output; {instead}"
    return None


class OutputError(Exception):
    """The rendered objects cannot be laid out as files (two objects would share one file)."""


# libyaml's emitter when PyYAML has it (its wheels do): some ten times faster than the pure-Python one.
_BaseDumper: type[yaml.SafeDumper] = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


class _Dumper(_BaseDumper):  # type: ignore[misc,valid-type]
    """Block style everywhere, literal blocks for multi-line strings (config files stay readable in a diff)."""


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    if "\n" in value:
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|")
    return dumper.represent_scalar("tag:yaml.org,2002:str", value)


_Dumper.add_representer(str, _represent_str)


def to_yaml(manifest: Manifest) -> str:
    """One object as YAML: keys sorted (the same object is always the same bytes), block style, literal blocks for
    multi-line strings, no line folding. PyYAML's bytes, laid out by `_block_yaml` where it can."""
    laid_out = _block_yaml(manifest)
    return laid_out if laid_out is not None else _pyyaml(manifest)


def _pyyaml(document: object) -> str:
    text: str = yaml.dump(
        document, Dumper=_Dumper, sort_keys=True, default_flow_style=False, allow_unicode=True, width=4096
    )
    return text


# PyYAML's Python representer (a node object per value, two resolver calls per scalar) was a quarter of a large
# synth's CPU (1.0 s of 3.7 s at 256 services in 3 environments). The block layout it gives an object is fixed;
# what takes judgement is how each scalar is written (plain or quoted, escapes), and that is asked of PyYAML
# itself, once per distinct scalar. Anything the layout below does not cover makes `_block_yaml` return None, and
# PyYAML writes the whole object: multi-line or long scalars, keys PyYAML writes as complex keys, lists of lists,
# floats (0.0 and -0.0 would share a memo entry), types other than dict, list, str, int, bool and None. Lines stay
# far below PyYAML's width (4,096: at most 1,000 each of indent, key and value), so it never folds one.
# tests/test_output.py compares the two on every object of dist/ and on generated ones.
_LONGEST_SCALAR = 1000
_DEEPEST_INDENT = 1000
_SCALAR_TYPES = (str, int, bool, type(None))


@functools.lru_cache(maxsize=1 << 16, typed=True)
def _value_text(value: object) -> str | None:
    """How PyYAML writes `value` as a block mapping's value or a block sequence's item (the same choice), or None."""
    if type(value) not in _SCALAR_TYPES:
        return None
    text = _pyyaml({"k": value})
    scalar = text[3:-1]
    return scalar if text.startswith("k: ") and _one_short_line(scalar) else None


@functools.lru_cache(maxsize=1 << 16)
def _key_text(key: str) -> str | None:
    """How PyYAML writes `key` as a simple key, or None."""
    text = _pyyaml({key: 0})
    scalar = text[:-4]
    return scalar if text.endswith(": 0\n") and _one_short_line(scalar) else None


def _one_short_line(scalar: str) -> bool:
    """Whether PyYAML wrote `scalar` on one line (Python's line boundaries include YAML's: \\x85, \\u2028, ...) and
    short enough that its place on a line cannot matter."""
    return scalar.splitlines() == [scalar] and len(scalar) <= _LONGEST_SCALAR


def _block_yaml(manifest: Manifest) -> str | None:
    """`manifest` as PyYAML writes it, or None where PyYAML has to write it."""
    lines: list[str] = []
    if type(manifest) is not dict or not manifest or not _mapping_lines(lines, manifest, 0, ""):
        return None
    return "".join(lines)


def _mapping_lines(lines: list[str], mapping: dict[Any, Any], indent: int, first: str) -> bool:
    """`mapping`'s lines, keys sorted; the first begins with `first` (a sequence item's dash), the others are
    indented by `indent`. False where PyYAML is needed."""
    if indent > _DEEPEST_INDENT or not all(type(key) is str for key in mapping):
        return False
    pad = " " * indent
    start = first
    for key in sorted(mapping):
        key_text = _key_text(key)
        if key_text is None:
            return False
        value = mapping[key]
        kind = type(value)
        if kind is dict and value:
            lines.append(f"{start}{key_text}:\n")
            if not _mapping_lines(lines, value, indent + 2, pad + "  "):
                return False
        elif kind is list and value:
            lines.append(f"{start}{key_text}:\n")  # PyYAML does not indent a mapping's sequence
            if not _sequence_lines(lines, value, indent):
                return False
        else:
            text = _leaf_text(value)
            if text is None:
                return False
            lines.append(f"{start}{key_text}: {text}\n")
        start = pad
    return True


def _sequence_lines(lines: list[str], items: list[Any], indent: int) -> bool:
    pad = " " * indent
    for item in items:
        kind = type(item)
        if kind is dict and item:
            if not _mapping_lines(lines, item, indent + 2, pad + "- "):
                return False
        elif kind is list and item:
            return False
        else:
            text = _leaf_text(item)
            if text is None:
                return False
            lines.append(f"{pad}- {text}\n")
    return True


def _leaf_text(value: object) -> str | None:
    """An empty mapping or list, or a scalar, as PyYAML writes it after `key: ` or `- `; None where PyYAML is needed."""
    kind = type(value)
    return "{}" if kind is dict else "[]" if kind is list else _value_text(value)


def stack_yaml(manifests: Iterable[Manifest]) -> str:
    """Objects as one multi-document YAML stream, in file-name order (what the construct snapshots pin)."""
    files = manifest_files(list(manifests))
    return "".join(f"---\n# {name}\n{files[name]}" for name in sorted(files))


def manifest_file_name(manifest: Manifest) -> str:
    kind = str(manifest.get("kind", "object")).lower()
    name = str(manifest.get("metadata", {}).get("name", "unnamed"))
    return f"{kind}-{name}.yaml"


def manifest_files(manifests: list[Manifest]) -> dict[str, str]:
    """File name -> YAML for one stack; OutputError if two objects would share a file."""
    files: dict[str, str] = {}
    for manifest in manifests:
        name = manifest_file_name(manifest)
        if name in files:
            raise OutputError(
                f"two objects render to the same file {name}: give each {manifest.get('kind')} a distinct name"
            )
        if not re.match(r"^[a-z0-9][-a-z0-9.]*\.yaml$", name):
            raise OutputError(f"object name gives an unsafe file name {name!r}")
        files[name] = to_yaml(manifest)
    return files


# What a synth makes beside dist/<env>/ while it runs; a run killed with SIGKILL (or a power cut) leaves them.
_LEFTOVER = re.compile(r"^\.(?P<target>.+)-(?P<stage>new|old)-[a-z0-9_]{8}$")


@contextmanager
def output_lock(dist: Path, *, create: bool = True) -> Iterator[None]:
    """Exclusive use of `dist` for one synth: a second synth at the same time is told so and writes nothing (two
    renders swapping the same folders would each throw the other's work away). `create`: make `dist` if it is not
    there (else FileNotFoundError)."""
    import fcntl

    if create:
        dist.mkdir(parents=True, exist_ok=True)
    folder = os.open(dist, os.O_RDONLY | os.O_DIRECTORY)  # the folder itself: no lock file is left in dist/
    try:
        try:
            fcntl.flock(folder, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise OutputError(f"another synth is writing {dist} right now; run this one when it has finished") from None
        yield
    finally:
        os.close(folder)  # ends the lock


def recover_leftovers(dist: Path) -> list[str]:
    """Put dist/ back in order after a synth that was killed outright (call it holding `output_lock`). A staging
    folder is removed. An old folder is removed if its environment's folder is there, and put back if not (the run
    was killed between the two renames of a swap). Returns what was done, one line each."""
    done = []
    for entry in leftovers(dist):
        match = _LEFTOVER.match(entry.name)
        assert match is not None
        target = entry.parent / match["target"]
        if match["stage"] == "old" and not target.exists() and not target.is_symlink():
            os.replace(entry, target)
            done.append(f"restored {target} from an interrupted swap")
        else:
            _remove(entry)
            done.append(f"removed {entry}, left by an interrupted synth")
    return done


def leftovers(dist: Path) -> list[Path]:
    """The staging and old folders a killed synth left in dist/ and dist/argocd/ (recover_leftovers puts them right)."""
    return [
        entry
        for folder in (dist, dist / "argocd")
        if folder.is_dir()
        for entry in sorted(folder.iterdir())
        if _LEFTOVER.match(entry.name)
    ]


def stage_environments(dist: Path, environments: Iterable[str]) -> dict[str, Path]:
    """An empty staging folder per environment, inside `dist` (so the final swap is a rename). If it fails or is
    interrupted part-way, it removes the folders it made."""
    dist.mkdir(parents=True, exist_ok=True)
    staged: dict[str, Path] = {}
    try:
        for env in environments:
            staged[env] = Path(tempfile.mkdtemp(prefix=f".{env}-new-", dir=dist))
    except BaseException:
        discard_staging(staged)
        raise
    return staged


class StackFolders(NamedTuple):
    """Where a synth writes one stack's files (`staging`, inside an environment's staging folder), and where that
    stack's files are now (`current`, in dist/; it need not exist)."""

    staging: Path
    current: Path


def stack_folders(dist: Path, staged: Mapping[str, Path], stacks: Sequence[str]) -> dict[tuple[str, str], StackFolders]:
    """(environment, stack) -> its folders, for environments staged by `stage_environments(dist, ...)`: each stack's
    folder inside its environment's staging folder, and dist/<env>/<stack>."""
    return {
        (env, stack): StackFolders(staging / stack, dist / env / stack)
        for env, staging in staged.items()
        for stack in stacks
    }


def write_stack(folders: StackFolders, manifests: list[Manifest]) -> None:
    """One stack's files into `folders.staging`; a file that is unchanged is linked from `folders.current` rather
    than written again (see `keep_or_write`). synth (delivery/synth.py, as each stack is rendered) and
    `write_environments` call this."""
    files = manifest_files(manifests)
    folders.staging.mkdir(exist_ok=True)
    for file_name, text in files.items():
        keep_or_write(folders.staging / file_name, text.encode("utf-8"), folders.current / file_name)


def keep_or_write(target: Path, content: bytes, current: Path) -> None:
    """`content` into the new file `target`: a hard link to `current` when that file holds exactly `content`, else
    a file of its own.

    Most of a synth's files are unchanged, and a link creates no file: the swap that follows then deletes no file
    either, only a name. That matters on ext4 without a journal (as on our VMs), where creating a file steps one by
    one past every file deleted in the last minutes: a synth that rewrote and so deleted every file made the next
    synth's file creation up to twenty times slower. An unchanged file also keeps its modification time. Where
    links are not possible, the file is written.
    """
    try:
        if current.read_bytes() == content:
            os.link(current, target)
            return
    except OSError:  # no such file yet, or a file system without hard links
        pass
    target.write_bytes(content)


def _link_or_copy(source: str, target: str) -> None:
    """copytree's copy function: a kept stack's files are linked, not copied (see keep_or_write)."""
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def discard_staging(staged: Mapping[str, Path]) -> None:
    for staging in staged.values():
        shutil.rmtree(staging, ignore_errors=True)


class Swap(NamedTuple):
    """One folder of dist/ (`target`) to be replaced by a complete staged copy (`staging`)."""

    staging: Path
    target: Path


def prepare_swaps(dist: Path, staged: Mapping[str, Path], *, replace_whole_environment: bool) -> list[Swap]:
    """The swaps that put each staged environment into dist/<env>/.

    With `replace_whole_environment`, dist/<env>/ becomes exactly the staged stacks (a stack or file that no longer
    renders disappears). Without it (one stack re-rendered), the other stacks' current folders are linked into the
    staging folder first, so they are kept as they are."""
    swaps = []
    for env, staging in staged.items():
        target = dist / env
        if not replace_whole_environment and target.is_dir():
            rendered = {p.name for p in staging.iterdir()}
            for kept in sorted(p for p in target.iterdir() if p.is_dir() and p.name not in rendered):
                shutil.copytree(kept, staging / kept.name, copy_function=_link_or_copy)
        swaps.append(Swap(staging, target))
    return swaps


def commit_swaps(swaps: Sequence[Swap]) -> None:
    """Every swap, or none: each target is renamed aside and its staging folder renamed into its place; if any
    rename fails, those already made are undone in reverse order (each new folder goes back to its staging name,
    for the caller to discard), and the error is raised. The old folders are deleted only once all swaps are made.
    Ctrl-C and SIGTERM wait until the swaps are made or undone."""
    done: list[tuple[Swap, Path | None]] = []
    with interrupts_deferred():
        try:
            for swap in swaps:
                swap.staging.chmod(0o755)
                old = None
                if swap.target.exists():
                    old = _reserve(swap.target)
                    _rename(swap.target, old)
                try:
                    _rename(swap.staging, swap.target)
                except BaseException:
                    if old is not None:
                        _rename(old, swap.target)
                    raise
                done.append((swap, old))
        except BaseException:
            for swap, old in reversed(done):
                _rename(swap.target, swap.staging)
                if old is not None:
                    _rename(old, swap.target)
            raise
        for _, old in done:
            if old is not None:
                _remove(old)  # best effort: the swaps are made; what is left here the next synth removes


def commit_environments(dist: Path, staged: Mapping[str, Path], *, replace_whole_environment: bool) -> list[Path]:
    """Swap each staged environment into dist/<env>/, all or none (see `prepare_swaps`, `commit_swaps`); the
    staging folders are removed on failure. Returns the folders written."""
    try:
        swaps = prepare_swaps(dist, staged, replace_whole_environment=replace_whole_environment)
        commit_swaps(swaps)
    except BaseException:
        discard_staging(staged)
        raise
    return [swap.target for swap in swaps]


def stale_environments(
    dist: Path, known_environments: Iterable[str], rendered_by_synth: Callable[[Path], bool]
) -> list[Path]:
    """Folders of dist/ that belong to no known environment (its settings file is gone) and hold what a synth
    renders (`rendered_by_synth`); anything else in the folder is not ours to list or remove."""
    keep = set(known_environments)
    if not dist.is_dir():
        return []
    return [
        folder
        for folder in sorted(dist.iterdir())
        if folder.is_dir()
        and not folder.is_symlink()
        and not folder.name.startswith(".")
        and folder.name not in keep
        and rendered_by_synth(folder)
    ]


def write_environments(
    dist: Path, rendered: Mapping[str, RenderedEnvironment], *, replace_whole_environment: bool
) -> list[Path]:
    """Write already-rendered environments: stage every file, then swap the environments in, all or none (see
    `commit_environments`). synth writes each stack as the engine renders it instead (delivery/synth.py)."""
    staged = stage_environments(dist, rendered)
    try:
        for env, stacks in rendered.items():
            for stack, manifests in stacks.items():
                write_stack(StackFolders(staged[env] / stack, dist / env / stack), manifests)
    except BaseException:
        discard_staging(staged)
        raise
    return commit_environments(dist, staged, replace_whole_environment=replace_whole_environment)


def _remove(path: Path) -> None:
    """A folder, file or link, whichever it is (a dist/<env> replaced by a synth may have been any of them)."""
    try:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()
    except OSError:
        pass


def _reserve(target: Path) -> Path:
    """A free name beside `target` for its old folder, matching what `recover_leftovers` restores."""
    old = Path(tempfile.mkdtemp(prefix=f".{target.name}-old-", dir=target.parent))
    old.rmdir()
    return old


def _rename(source: Path, target: Path) -> None:
    """One step of a swap (tests replace it to make a step fail)."""
    os.replace(source, target)


def read_tree(folder: Path) -> dict[str, Any]:
    """Relative path -> text of every YAML file under `folder` (for comparisons and tests); hidden folders (a synth's
    staging or old folders) are not part of the tree."""
    tree = {}
    for path in sorted(folder.rglob("*.yaml")):
        relative = path.relative_to(folder)
        if not any(part.startswith(".") for part in relative.parts):
            tree[str(relative)] = path.read_text(encoding="utf-8")
    return tree


# The Argo CD stack's files, in <out>/argocd/<env>/.
_ARGOCD_FILE = re.compile(r"^(application|appproject)-[a-z0-9][-a-z0-9.]*\.yaml$")


def stale_environment_folders(out: Path, *, prune: bool, known: Sequence[str]) -> list[str]:
    """The folders of environments whose settings file is gone: removed with --prune, else kept and named. One
    line each for the summary. Only folders holding exactly what a synth renders count: whatever else is in the
    output folder is never listed or removed. `known`: the environments that have a settings file."""
    stacks = set(stack_names())

    def holds_only(entry_is_rendered: Callable[[Path], bool]) -> Callable[[Path], bool]:
        def check(folder: Path) -> bool:  # something, and only what a synth renders there (hidden leftovers aside)
            entries = [entry for entry in folder.iterdir() if not entry.name.startswith(".")]
            return bool(entries) and all(entry_is_rendered(entry) for entry in entries)

        return check

    # <out>/<env>/: a folder per stack; <out>/argocd/<env>/: the Argo CD stack's files.
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
                lines.append(f"could not prune {display_path(folder)}: {error.strerror or error}")
                continue
            lines.append(f"pruned {display_path(folder)}: no settings file for it")
        else:
            lines.append(f"kept {display_path(folder)}: no settings file for it (`synth --prune` removes it)")
    return lines


def mirror_tree(source: Path, target: Path) -> None:
    """`target` made anew with hard links to every file of `source` (copies across file systems), hidden entries
    left out: for the cdk8s CLI, which lists the manifests of its own output folder. A synth replaces files by
    renaming new ones into place, so a link never shows a later synth's bytes."""

    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(source, target, copy_function=_link_or_copy, ignore=shutil.ignore_patterns(".*"))
