"""What the render cache's tests edit, and how they run a synth: damaged cache entries, random edits of settings
files and of a copy of the project's sources, in-process synths. Shared by test_render_cache.py and
test_cached_synth.py."""

from __future__ import annotations

import contextlib
import copy
import io
import json
import os
import random
import re
import shutil
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

import main
from delivery.render_cache import FORMAT
from environment_model.paths import ROOT, available_environments

# The project's Python packages: what a source edit may touch in a copy of the project.
PACKAGES = ("constructs_lib", "delivery", "engine", "environment_model", "stacks", "value_types")
ENVIRONMENTS = available_environments(ROOT / "environments")
# The random edits of test_cached_synth.py: how many (CI runs the default), and the seed that replays them.
COUNT_VARIABLE = "CACHE_EDITS"
SEED_VARIABLE = "CACHE_EDITS_SEED"
DEFAULT_COUNT = 200
DEFAULT_SEED = 21
# The one line of a synth's report that differs between two runs of the same synth.
_TIMING_LINE = re.compile(r"^rendered \d+ environment\(s\) in \d+\.\d+s")


def edits_count() -> int:
    return int(os.environ.get(COUNT_VARIABLE, DEFAULT_COUNT))


def edits_seed() -> int:
    return int(os.environ.get(SEED_VARIABLE, DEFAULT_SEED))


# --- synths ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SynthOutcome:
    """What one synth did: its exit code, its report without the timing line (the output folder's path written
    `<out>`), and every entry it left in the output folder (a file's bytes, None for a folder)."""

    code: int
    report: str
    files: dict[str, bytes | None]


def run_synth(out: Path, *options: str) -> SynthOutcome:
    """`python main.py synth --engine plain --out OUT OPTIONS`, in this process (cdk8s is loaded once for all)."""
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed), contextlib.redirect_stderr(printed):
        code = main.main(["synth", "--engine", "plain", "--out", str(out), *options])
    lines = printed.getvalue().splitlines()
    report = "\n".join(line for line in lines if not _TIMING_LINE.match(line)).replace(str(out), "<out>")
    return SynthOutcome(code, report, tree(out))


def tree(out: Path) -> dict[str, bytes | None]:
    """Every entry under `out`: a file's bytes, None for a folder."""
    return {
        str(path.relative_to(out)): path.read_bytes() if path.is_file() else None for path in sorted(out.rglob("*"))
    }


def part(entries: dict[str, bytes | None], environments: Sequence[str]) -> dict[str, bytes | None]:
    """The entries of a tree() a synth of `environments` replaces: what is inside <env>/ and argocd/<env>/, and
    inside argocd/fleet/ when every environment is rendered."""
    folders = [*environments, *(f"argocd/{env}" for env in environments)]
    if set(environments) == set(ENVIRONMENTS):
        folders.append("argocd/fleet")
    return {name: content for name, content in entries.items() if any(name.startswith(f"{f}/") for f in folders)}


def copy_environments(target: Path) -> Path:
    """The project's settings files copied into `target`, for a test to edit (never the real ones)."""
    target.mkdir(parents=True)
    for env in ENVIRONMENTS:
        shutil.copy(ROOT / "environments" / f"{env}.yaml", target / f"{env}.yaml")
    return target


def copy_project(target: Path) -> Path:
    """The project's sources as the render cache hashes them, copied (not linked: an edit must never reach the real
    tree) into `target`: the packages, the generated bindings, main.py and pyproject.toml."""
    for folder in (*PACKAGES, "imports"):
        shutil.copytree(ROOT / folder, target / folder, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("main.py", "pyproject.toml"):
        shutil.copy2(ROOT / name, target / name)
    return target


# --- damaged cache entries ------------------------------------------------------------------------------------


def _rewritten(change: Callable[[dict[str, Any]], object]) -> Callable[[Path], None]:
    """A damage that rewrites the entry's JSON (its mode kept: this user's alone, so only the content is wrong)."""

    def damage(entry: Path) -> None:
        data = json.loads(entry.read_text())
        replaced = change(data)
        entry.write_text(json.dumps(data if replaced is None else replaced))

    return damage


def _first_object(change: Callable[[dict[str, Any]], None]) -> Callable[[Path], None]:
    return _rewritten(lambda data: change(data["manifests"][0]))


def _truncated(entry: Path) -> None:
    content = entry.read_bytes()
    entry.write_bytes(content[: len(content) // 2])


def _linked(entry: Path) -> None:
    """The entry moved aside and linked to: a link is refused, whoever owns what it points to."""
    aside = entry.with_name(f"aside-{entry.name}")
    entry.rename(aside)
    entry.symlink_to(aside)


# How an entry can be damaged; each must be a miss. Every entry the cache writes is well-formed, so each of these
# is what a disk, an editor, an older version or another user could leave.
DAMAGES: dict[str, Callable[[Path], object]] = {
    "no objects": _rewritten(lambda data: data.update(manifests=[])),
    "numbers for objects": _rewritten(lambda data: data.update(manifests=[1, 2])),
    "empty objects": _rewritten(lambda data: data.update(manifests=[{}])),
    "objects not a list": _rewritten(lambda data: data.update(manifests={"kind": "ConfigMap"})),
    "no metadata": _first_object(lambda manifest: manifest.pop("metadata")),
    "no name": _first_object(lambda manifest: manifest["metadata"].pop("name")),
    "empty name": _first_object(lambda manifest: manifest["metadata"].update(name="")),
    "kind not a string": _first_object(lambda manifest: manifest.update(kind=5)),
    "no apiVersion": _first_object(lambda manifest: manifest.pop("apiVersion")),
    "namespace not a string": _first_object(lambda manifest: manifest["metadata"].update(namespace=["a"])),
    "truncated": _truncated,
    "empty file": lambda entry: entry.write_bytes(b""),
    "another key": _rewritten(lambda data: data.update(key="0" * 64)),
    "another format": _rewritten(lambda data: data.update(format=FORMAT + 1)),
    "not an object": _rewritten(lambda data: [data]),
    "group may write it": lambda entry: entry.chmod(0o664),
    "a link": _linked,
}


@dataclass(frozen=True)
class SavedEntry:
    """An entry as it was before a damage, to put it back."""

    path: Path
    content: bytes

    def restore(self) -> None:
        aside = self.path.with_name(f"aside-{self.path.name}")
        self.path.unlink()
        aside.unlink(missing_ok=True)
        self.path.write_bytes(self.content)
        self.path.chmod(0o600)


def damage_entry(entry: Path, damage: str) -> SavedEntry:
    saved = SavedEntry(entry, entry.read_bytes())
    DAMAGES[damage](entry)
    return saved


# --- settings edits -------------------------------------------------------------------------------------------


class _PlainDumper(yaml.CSafeDumper):
    """Every value written out in full: the settings reader may refuse YAML aliases."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def dump(data: Any) -> str:
    return yaml.dump(data, Dumper=_PlainDumper, sort_keys=False, allow_unicode=True)


def load(text: str) -> Any:
    return yaml.load(text, Loader=yaml.CSafeLoader)


def node_paths(data: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """The path of every value under `data` (sections, lists and scalars alike), `data` itself left out."""
    if path:
        yield path
    if isinstance(data, dict):
        for key, item in data.items():
            yield from node_paths(item, (*path, key))
    elif isinstance(data, list):
        for index, item in enumerate(data):
            yield from node_paths(item, (*path, index))


def _holder(data: Any, path: tuple[Any, ...]) -> Any:
    for part in path[:-1]:
        data = data[part]
    return data


def new_value(value: Any, rng: random.Random) -> Any:
    """Another value of a plausible type for where `value` is (valid or not: an invalid one must fail alike with and
    without the cache)."""
    for _ in range(20):
        candidate = _candidate(value, rng)
        if candidate != value or type(candidate) is not type(value):
            return candidate
    return [value]


def _candidate(value: Any, rng: random.Random) -> Any:
    if isinstance(value, bool):
        return rng.choice([not value, not value, "yes", None])
    if isinstance(value, int):
        return rng.choice([value + 1, value + rng.randint(2, 40), max(value - 1, 0), 0, -1, value * 2, str(value)])
    if isinstance(value, float):
        return rng.choice([value * 2, value + 0.5, int(value)])
    if isinstance(value, str):
        return rng.choice(
            [value + "x", value + "-2", value.upper(), "", "9.9.9", value[: len(value) // 2], "250m", "1Gi", 3]
        )
    if isinstance(value, list):
        options: list[Any] = [[], list(reversed(value)), value[:-1]]
        if value:
            options.append([*value, copy.deepcopy(rng.choice(value))])
        return rng.choice(options)
    if isinstance(value, dict):
        options = [{}, {**value, "replicaz": 2}]
        if value:
            dropped = rng.choice(list(value))
            options.append({key: item for key, item in value.items() if key != dropped})
        return rng.choice(options)
    if value is None:
        return rng.choice(["x", 1, True])
    return str(value)


# A `key: value` line whose value is a plain or quoted scalar: what a text edit replaces, comments kept.
_SCALAR_LINE = re.compile(
    r"^(?P<head>\s*(?:-\s+)?[A-Za-z0-9_./-]+:[ \t]+)(?P<value>[^\s#{}\[\]|>&*!][^#\n]*?)(?P<tail>\s*(?:#.*)?)$"
)
_TOKENS = ("x", "0", "-1", "3", "2.5", "yes", "~", "'9.9.9'", '"a b"', "[]", "{}", "1Gi", "true", "null", ": :")


@dataclass(frozen=True)
class SettingsEdit:
    text: str
    description: str


def edit_settings(text: str, kind: str, rng: random.Random, step: int) -> SettingsEdit:
    """`text` (an environment's settings file) edited: `kind` is one of SETTINGS_EDITS. The text always changes."""
    data = load(text)
    if kind == "value":
        path = rng.choice(list(node_paths(data)))
        holder = _holder(data, path)
        old, holder[path[-1]] = holder[path[-1]], new_value(holder[path[-1]], rng)
        return SettingsEdit(dump(data), f"{'.'.join(map(str, path))}: {old!r} -> {holder[path[-1]]!r}")
    if kind == "image tag":
        paths = [path for path in node_paths(data) if path[-1] == "tag" and "image" in str(path[-2])]
        path = rng.choice(paths)
        tag = f"{rng.randint(1, 9)}.{rng.randint(0, 20)}.{step}"
        _holder(data, path)[path[-1]] = tag
        return SettingsEdit(dump(data), f"{'.'.join(map(str, path))} = {tag!r} (every stack's output changes)")
    if kind == "prometheus labels":
        labels = data.setdefault("monitoring", {}).setdefault("prometheus_labels", {})
        label = rng.choice([*labels, "team"])
        labels[label] = f"kube-prometheus-stack-{step}"
        return SettingsEdit(dump(data), f"monitoring.prometheus_labels.{label} = {labels[label]!r}")
    if kind == "unknown key":
        section = rng.choice([key for key, value in data.items() if isinstance(value, dict)])
        data[section]["replicaz"] = 2
        return SettingsEdit(dump(data), f"{section}.replicaz: 2 (no such setting)")
    if kind == "reorder":
        sections = list(data.items())
        rng.shuffle(sections)
        if [key for key, _ in sections] == list(data):
            sections.reverse()
        return SettingsEdit(dump(dict(sections)), "sections reordered (the same settings)")
    lines = text.splitlines(keepends=True)
    if kind == "comment":
        at = rng.randint(0, len(lines))
        lines.insert(at, f"# cache edit {step}\n")
        return SettingsEdit("".join(lines), f"a comment at line {at + 1}")
    if kind == "text":
        candidates = [index for index, line in enumerate(lines) if _SCALAR_LINE.match(line.rstrip("\n"))]
        index = rng.choice(candidates)
        match = _SCALAR_LINE.match(lines[index].rstrip("\n"))
        assert match is not None
        token = rng.choice([token for token in _TOKENS if token != match["value"]])
        lines[index] = f"{match['head']}{token}{match['tail']}\n"
        return SettingsEdit("".join(lines), f"line {index + 1}: {match['value']} -> {token}")
    raise ValueError(f"no settings edit {kind!r}")


SETTINGS_EDITS = ("value", "text", "comment", "reorder", "image tag", "prometheus labels", "unknown key")


# --- source edits ---------------------------------------------------------------------------------------------


@dataclass
class SourceEdit:
    """An edit of the copy of the project, and how to take it back: every file as it was (its bytes; not its times,
    which a fingerprint must not depend on)."""

    description: str
    before: dict[Path, bytes | None]

    def undo(self) -> None:
        for path, content in self.before.items():
            if content is None:
                path.unlink()
            else:
                path.write_bytes(content)


def _python_files(root: Path) -> list[Path]:
    return [*sorted(path for package in PACKAGES for path in (root / package).rglob("*.py")), root / "main.py"]


def _module_name(root: Path, path: Path) -> str:
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _same_size_change(content: bytes, rng: random.Random) -> tuple[bytes, int]:
    """`content` with one letter or digit (any byte, in a binary file) replaced by another: the same size."""
    positions = [index for index, byte in enumerate(content) if chr(byte).isalnum()] or list(range(len(content)))
    at = rng.choice(positions)
    old = content[at]
    if chr(old).isdigit():
        new = ord("0") + (old - ord("0") + rng.randint(1, 9)) % 10
    elif chr(old).isalpha() and old < 128:
        new = ord("a") + (ord(chr(old).lower()) - ord("a") + rng.randint(1, 25)) % 26
    else:
        new = (old + rng.randint(1, 255)) % 256
    return content[:at] + bytes([new]) + content[at + 1 :], at


def edit_sources(root: Path, kind: str, rng: random.Random, step: int) -> SourceEdit:
    """An edit of the copy of the project at `root`: `kind` is one of SOURCE_EDITS."""
    python = _python_files(root)
    if kind == "append":
        path = rng.choice(python)
        before = path.read_bytes()
        path.write_bytes(before + f"\n_CACHE_EDIT_{step} = {step}\n".encode())
        return SourceEdit(f"a line appended to {path.relative_to(root)}", {path: before})
    if kind == "package init":
        path = rng.choice([path for path in python if path.name == "__init__.py"])
        before = path.read_bytes()
        path.write_bytes(before + f"# edited {step}\n".encode())
        return SourceEdit(f"a comment appended to {path.relative_to(root)}", {path: before})
    if kind == "same size, old times":
        others = [root / "pyproject.toml", *sorted((root / "engine").glob("*.js"))]
        others += sorted(path for path in (root / "imports").rglob("*") if path.is_file())
        path = rng.choice(python if rng.random() < 0.7 else others)
        before, status = path.read_bytes(), path.stat()
        changed, at = _same_size_change(before, rng)
        path.write_bytes(changed)
        os.utime(path, ns=(status.st_atime_ns, status.st_mtime_ns))
        after = path.stat()
        assert (after.st_size, after.st_mtime_ns) == (status.st_size, status.st_mtime_ns)
        return SourceEdit(f"byte {at} of {path.relative_to(root)}, size and times kept", {path: before})
    if kind == "new module":
        importer = rng.choice(python)
        package = rng.choice(sorted({path.parent for path in python if path.name == "__init__.py"}))
        module = package / f"cache_edit_{step}.py"
        module.write_text(f"VALUE = {step}\n")
        name = _module_name(root, module)
        parent, _, leaf = name.rpartition(".")
        form = rng.choice(
            [
                f"import {name} as edit_{step}  # a comment",
                f"import json; import {name}",
                f"from {parent} import {leaf} as edit  # noqa",
                f"if True:\n    import {name}",
                f"from . import {leaf}" if importer.parent == package else f"import {name}",
            ]
        )
        before = importer.read_bytes()
        at_top = rng.random() < 0.5
        importer.write_bytes(f"{form}\n".encode() + before if at_top else before + f"\n{form}\n".encode())
        return SourceEdit(
            f"new module {name}, imported by {importer.relative_to(root)} as `{form}`", {module: None, importer: before}
        )
    if kind == "new file":
        folders = [root, *sorted({path.parent for path in root.rglob("*") if path.is_file()})]
        path = rng.choice(folders) / f"notes-{step}.txt"
        path.write_text("notes\n")
        return SourceEdit(f"new file {path.relative_to(root)}", {path: None})
    if kind == "removed module":
        path = rng.choice([path for path in python if path.name != "__init__.py"])
        before = path.read_bytes()
        path.unlink()
        return SourceEdit(f"{path.relative_to(root)} removed", {path: before})
    if kind == "project file":
        path = rng.choice([root / "pyproject.toml", root / "main.py", *sorted((root / "imports").rglob("__init__.py"))])
        before = path.read_bytes()
        path.write_bytes(before + f"\n# edited {step}\n".encode())
        return SourceEdit(f"a comment appended to {path.relative_to(root)}", {path: before})
    raise ValueError(f"no source edit {kind!r}")


SOURCE_EDITS = (
    "append",
    "package init",
    "same size, old times",
    "new module",
    "new file",
    "removed module",
    "project file",
)
