"""A cache of rendered stacks, so that a synth renders only the (environment, stack) pairs whose inputs changed.

An entry holds one pair's objects as the engine returned them (sync waves assigned). Its key is coarse on purpose,
as ccache's and Bazel's are: it covers every input of the render, so that no edit can slip past it, at the price of
rendering more than an edit strictly needs:
- the whole text of the environment's settings file (a stack reads global sections such as `monitoring` too);
- the content of every file of the project but its outputs and settings (`project_fingerprint`): every module,
  imported or not, the generated bindings, pyproject.toml and the lock files;
- the toolchain: Python, every installed distribution's version, the Node program jsii runs;
- the engine's name, the environment's and the stack's.
So an edit to one environment's file renders that environment's stacks again, and an edit to any source renders
everything: a miss costs time, never a wrong file.

Entries are single JSON files under `.cache/render/` (git ignores it), written to a temporary name and renamed into
place, so two synths at once never see half an entry. An entry is used only after it is checked whole: it parses,
records its own key and format, is this user's alone, and holds at least one object, each with an apiVersion, a
kind and a name; anything else is a miss and is replaced. The folder is bounded: after a write, the least recently
used entries go until it is under its size, and entries unused for a month go too. Nothing here imports cdk8s.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import stat
import sys
import sysconfig
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from environment_model.paths import ROOT, TEMPORARY_PREFIX, read_own_file, write_atomically
from environment_model.registry import StackDefinition

Manifest = dict[str, Any]

# Bumped whenever an entry's layout or the meaning of a key changes: older entries then miss.
FORMAT = 2
DEFAULT_MAX_BYTES = 256 * 1024 * 1024
MAX_AGE_SECONDS = 30 * 24 * 3600
# The project's top-level folders that are not its sources: its outputs, its settings (a key holds its own
# environment's file whole: an edit to prod's must not render dev again), what `make setup` installs. Hidden folders
# (.git, .venv, .cache, .tools) and __pycache__ are left out at any depth.
NOT_SOURCES = frozenset({"dist", "environments", "node_modules", "cdk8s.out"})


def project_fingerprint(root: Path = ROOT) -> str:
    """One hash over the path and bytes of every file of the project at `root` but those NOT_SOURCES names: read in
    full each time (no size or time is trusted), about 30 MB, most of it the generated bindings. Symbolic links to
    folders are followed (each folder once), so a linked package is hashed like any other."""
    digest = hashlib.sha256()
    visited: set[str] = set()
    for folder, subfolders, names in os.walk(root, followlinks=True):
        real = os.path.realpath(folder)
        if real in visited:  # a link back to a folder already hashed: its files are in the hash
            subfolders[:] = []
            continue
        visited.add(real)
        at_top = folder == str(root)
        subfolders[:] = sorted(
            name
            for name in subfolders
            if not name.startswith(".") and name != "__pycache__" and not (at_top and name in NOT_SOURCES)
        )
        for name in sorted(names):
            path = os.path.join(folder, name)
            digest.update(f"{os.path.relpath(path, root)}\0".encode())
            try:
                regular = stat.S_ISREG(os.stat(path).st_mode)
            except OSError:  # a broken link: what it points to
                regular = False
            if regular:
                with open(path, "rb") as content:
                    digest.update(hashlib.file_digest(content, "sha256").digest())
            else:  # a link to nowhere, a socket, a pipe (never opened: a read would wait for a writer)
                digest.update(f"special\0{os.readlink(path) if os.path.islink(path) else ''}\0".encode())
    return digest.hexdigest()


def code_version(root: Path = ROOT) -> str:
    """What renders, as one hash: the project's files (project_fingerprint) and the toolchain (toolchain_versions)."""
    return hashlib.sha256(f"{FORMAT}\0{project_fingerprint(root)}\0{toolchain_versions()}".encode()).hexdigest()


def toolchain_versions() -> str:
    """The versions an entry is valid for, as one line: Python's, every installed distribution's (an upgrade of
    any package makes every pair a miss, which costs one full render), and the Node program jsii runs (JSII_NODE,
    set to the wheel's Node before this is read). Read off the installed distributions' folder names (`cdk8s_plus_27-2.7.84.dist-info`): importlib.metadata
    would cost a fifth of a second to import, as much as the rest of a synth with nothing to render."""
    installed: dict[str, str] = {}
    for folder in dict.fromkeys(sysconfig.get_paths()[kind] for kind in ("purelib", "platlib")):
        with contextlib.suppress(OSError):
            for entry in os.scandir(folder):
                if entry.name.endswith(".dist-info"):
                    name, _, version = entry.name.removesuffix(".dist-info").partition("-")
                    installed[_normalized(name)] = version
    versions = [f"python={sys.version}"]
    versions.extend(f"{name}={version}" for name, version in sorted(installed.items()))
    versions.append(f"node={os.environ.get('JSII_NODE', 'node')}")
    return ";".join(versions)


def _normalized(distribution: str) -> str:
    return re.sub(r"[-_.]+", "_", distribution).lower()


def entry_key(*, environment: str, stack: str, settings_text: str, code: str, engine: str) -> str:
    """The key of one (environment, stack) pair: any change to what its render reads gives another key."""
    payload = json.dumps([FORMAT, environment, stack, engine, code, settings_text], ensure_ascii=False)
    return hashlib.sha256(payload.encode()).hexdigest()


class RenderCache:
    """Rendered stacks by key, in one folder of JSON files."""

    def __init__(self, folder: Path, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.folder = folder
        self.max_bytes = max_bytes

    def _path(self, key: str) -> Path:
        return self.folder / f"{key}.json"

    def get(self, key: str) -> list[Manifest] | None:
        """The objects stored under `key`, or None: absent, unreadable, corrupt, written by another format, or of
        any shape but what `put` writes (see well_formed)."""
        entry = _read_entry(self._path(key), key)
        if entry is None or not well_formed(entry.get("manifests")):
            return None
        _touch(self._path(key))
        manifests: list[Manifest] = entry["manifests"]
        return manifests

    def put(self, key: str, manifests: Sequence[Mapping[str, Any]]) -> None:
        """Store `manifests` under `key`, atomically; a cache that cannot be written is only a slower synth."""
        data = json.dumps({"format": FORMAT, "key": key, "manifests": list(manifests)}, separators=(",", ":"))
        write_atomically(self._path(key), data)

    def prune(self, now: float | None = None) -> int:
        """Remove entries unused for a month, then the least recently used until the folder fits its size, and
        temporary files a killed synth left (older than a minute). How many files were removed."""
        now = time.time() if now is None else now
        entries: list[tuple[float, int, Path]] = []
        removed = 0
        try:
            listing = list(os.scandir(self.folder))
        except OSError:
            return 0
        for item in listing:
            try:
                status = item.stat()
            except OSError:
                continue
            path = Path(item.path)
            stale_temporary = item.name.startswith(TEMPORARY_PREFIX) and now - status.st_mtime > 60
            if stale_temporary or (item.name.endswith(".json") and now - status.st_mtime > MAX_AGE_SECONDS):
                removed += _unlink(path)
            elif item.name.endswith(".json"):
                entries.append((status.st_mtime, status.st_size, path))
        total = sum(size for _, size, _ in entries)
        for _, size, path in sorted(entries):
            if total <= self.max_bytes:
                break
            removed += _unlink(path)
            total -= size
        return removed


def _read_entry(path: Path, key: str) -> dict[str, Any] | None:
    """The JSON object in the file `path` if it records `key` in this FORMAT; None if it is absent, unreadable,
    corrupt, written for another key or by another format, or not this user's alone (each such file is a miss, and
    is replaced: in a cache folder others can write to, a stranger's entry never reaches dist/)."""
    try:
        entry = json.loads(read_own_file(path))
    except (OSError, ValueError):
        return None
    if not (isinstance(entry, dict) and entry.get("format") == FORMAT and entry.get("key") == key):
        return None
    return entry


def well_formed(manifests: object) -> bool:
    """Whether an entry's objects have the form of a rendered stack's: at least one (every stack renders some), each
    a mapping with a non-empty string apiVersion, kind and metadata.name, a string metadata.namespace if any."""
    if not isinstance(manifests, list) or not manifests:
        return False
    for manifest in manifests:
        if not isinstance(manifest, dict):
            return False
        metadata = manifest.get("metadata")
        if not (
            all(isinstance(manifest.get(field), str) and manifest[field] for field in ("apiVersion", "kind"))
            and isinstance(metadata, dict)
            and isinstance(metadata.get("name"), str)
            and metadata["name"]
            and isinstance(metadata.get("namespace", ""), str)
        ):
            return False
    return True


def _touch(path: Path) -> None:
    """Mark an entry used now: the recently-used order that pruning follows."""
    with contextlib.suppress(OSError):
        os.utime(path)


def _unlink(path: Path) -> int:
    try:
        path.unlink()
    except OSError:
        return 0
    return 1


# Where `make synth` keeps its cache; RENDER_CACHE names another folder, or `off`.
CACHE_FOLDER = ROOT / ".cache" / "render"


def cache_folder() -> Path | None:
    """The cache folder a render uses: $RENDER_CACHE if set (`off`: no cache; the tests set it), else CACHE_FOLDER."""
    chosen = os.environ.get("RENDER_CACHE", "").strip()
    if chosen == "off":
        return None
    return Path(chosen) if chosen else CACHE_FOLDER


@dataclass
class CachedRenders:
    """One render's use of the cache: the key of each (environment, stack) pair it could read, the objects found
    under them, and where the pairs rendered anew are stored."""

    cache: RenderCache
    keys: dict[tuple[str, str], str]
    found: dict[tuple[str, str], list[Manifest]]
    stored: int = 0

    def store(self, environment: str, stack: str, manifests: Sequence[Mapping[str, Any]]) -> None:
        """Keep a pair's objects as rendered (waves assigned), for the next render; called on the engine's thread."""
        key = self.keys.get((environment, stack))
        if key is not None:
            self.cache.put(key, manifests)
            self.stored += 1

    def finish(self) -> None:
        """Bound the folder, once something was added to it."""
        if self.stored:
            self.cache.prune()


def look_up(
    texts: Mapping[str, str | None],
    stacks: Sequence[StackDefinition],
    folder: Path,
    *,
    code: str,
    engine: str,
) -> CachedRenders:
    """Each pair of the environments of `texts` (environment -> its settings file's text, None where it could not be
    read) x `stacks`, looked up in the cache at `folder` before anything is validated or an engine started. `code`:
    code_version(). An environment whose file could not be read is neither found nor stored (loading its settings
    says why)."""
    cache = RenderCache(folder)
    keys: dict[tuple[str, str], str] = {}
    found: dict[tuple[str, str], list[Manifest]] = {}
    for environment, text in texts.items():
        if text is None:
            continue
        for stack in stacks:
            key = entry_key(environment=environment, stack=stack.name, settings_text=text, code=code, engine=engine)
            keys[environment, stack.name] = key
            manifests = cache.get(key)
            if manifests is not None:
                found[environment, stack.name] = manifests
    return CachedRenders(cache, keys, found)
