"""The dist/ writer: one file per object, stable bytes, atomic replacement."""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import delivery.output as output
from delivery.interrupts import Terminated, interrupts_deferred, raise_terminated
from delivery.output import OutputError, manifest_files, read_tree, to_yaml, write_environments


def config_map(name: str, data: dict[str, str] | None = None) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data or {"a": "1"}}


def fail_moving_in(monkeypatch: pytest.MonkeyPatch, environment: str, check: Any = None) -> None:
    """Make the rename that moves `environment`'s staged folder into dist/ fail, as a full or read-only disk would."""
    rename = output._rename

    def broken(source: Path, target: Path) -> None:
        if source.name.startswith(f".{environment}-new-") and target.name == environment:
            if check is not None:
                check(source)
            raise OSError("disk full")
        rename(source, target)

    monkeypatch.setattr(output, "_rename", broken)


def test_one_file_per_object_named_by_kind_and_name() -> None:
    files = manifest_files([config_map("one"), config_map("two")])
    assert sorted(files) == ["configmap-one.yaml", "configmap-two.yaml"]


def test_two_objects_in_one_file_is_an_error() -> None:
    with pytest.raises(OutputError, match=r"configmap-one\.yaml"):
        manifest_files([config_map("one"), config_map("one")])


def test_yaml_is_stable_and_multiline_strings_are_blocks() -> None:
    first = to_yaml({"kind": "ConfigMap", "data": {"b": "2", "a": "line1\nline2\n"}, "apiVersion": "v1"})
    second = to_yaml({"apiVersion": "v1", "data": {"a": "line1\nline2\n", "b": "2"}, "kind": "ConfigMap"})
    assert first == second
    assert first.startswith("apiVersion: v1\n")
    assert "a: |\n    line1\n    line2\n" in first


def test_whole_environment_replacement_removes_stale_files(tmp_path: Path) -> None:
    write_environments(
        tmp_path, {"dev": {"app": [config_map("old"), config_map("kept")]}}, replace_whole_environment=True
    )
    write_environments(tmp_path, {"dev": {"app": [config_map("kept")]}}, replace_whole_environment=True)
    assert sorted(read_tree(tmp_path)) == ["dev/app/configmap-kept.yaml"]


def test_one_stack_keeps_the_other_stacks(tmp_path: Path) -> None:
    write_environments(
        tmp_path, {"dev": {"a": [config_map("x")], "b": [config_map("y")]}}, replace_whole_environment=True
    )
    write_environments(tmp_path, {"dev": {"a": [config_map("z")]}}, replace_whole_environment=False)
    assert sorted(read_tree(tmp_path)) == ["dev/a/configmap-z.yaml", "dev/b/configmap-y.yaml"]


def test_a_failure_while_writing_leaves_the_old_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_environments(tmp_path, {"dev": {"app": [config_map("old")]}}, replace_whole_environment=True)
    before = read_tree(tmp_path)

    fail_moving_in(monkeypatch, "dev")
    with pytest.raises(OSError, match="disk full"):
        write_environments(tmp_path, {"dev": {"app": [config_map("new")]}}, replace_whole_environment=True)
    assert read_tree(tmp_path) == before
    assert [p.name for p in tmp_path.iterdir()] == ["dev"], "the staging folder is cleaned up"


def test_unrenderable_objects_fail_before_anything_is_written(tmp_path: Path) -> None:
    with pytest.raises(OutputError):
        write_environments(
            tmp_path,
            {"dev": {"app": [config_map("fine")]}, "prod": {"app": [config_map("dup"), config_map("dup")]}},
            replace_whole_environment=True,
        )
    assert read_tree(tmp_path) == {}


def test_a_rerender_keeps_unchanged_files_and_writes_changed_ones_anew(tmp_path: Path) -> None:
    """Unchanged files are linked from the current dist/ rather than rewritten (no file created, none deleted); a
    changed file is a new file, so the old one is never modified in place before the swap."""
    write_environments(
        tmp_path, {"dev": {"app": [config_map("same"), config_map("changed")]}}, replace_whole_environment=True
    )
    same, changed = tmp_path / "dev/app/configmap-same.yaml", tmp_path / "dev/app/configmap-changed.yaml"
    before = {path: path.stat() for path in (same, changed)}
    old_changed_text = changed.read_text()
    write_environments(
        tmp_path,
        {"dev": {"app": [config_map("same"), config_map("changed", {"a": "2"})]}},
        replace_whole_environment=True,
    )
    assert same.stat().st_ino == before[same].st_ino, "an unchanged file is the same file"
    assert same.stat().st_mtime_ns == before[same].st_mtime_ns
    assert same.stat().st_nlink == 1, "no link is left behind once the old folder is gone"
    assert changed.stat().st_ino != before[changed].st_ino
    assert changed.read_text() == old_changed_text.replace("a: '1'", "a: '2'")


def test_a_failed_rerender_leaves_linked_files_as_they_were(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_environments(tmp_path, {"dev": {"app": [config_map("same")]}}, replace_whole_environment=True)
    before = read_tree(tmp_path)

    def staged_as_links(staging: Path) -> None:
        assert (staging / "app/configmap-same.yaml").stat().st_nlink == 2, "staged as a link to the current file"

    fail_moving_in(monkeypatch, "dev", staged_as_links)
    with pytest.raises(OSError, match="disk full"):
        write_environments(tmp_path, {"dev": {"app": [config_map("same")]}}, replace_whole_environment=True)
    assert read_tree(tmp_path) == before
    assert (tmp_path / "dev/app/configmap-same.yaml").stat().st_nlink == 1


def test_one_stack_rendered_keeps_the_other_stacks_files_as_they_are(tmp_path: Path) -> None:
    write_environments(
        tmp_path, {"dev": {"a": [config_map("x")], "b": [config_map("y")]}}, replace_whole_environment=True
    )
    kept = tmp_path / "dev/b/configmap-y.yaml"
    inode = kept.stat().st_ino
    write_environments(tmp_path, {"dev": {"a": [config_map("z")]}}, replace_whole_environment=False)
    assert kept.stat().st_ino == inode, "linked into the new folder, not copied"


def test_where_links_fail_files_are_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_environments(tmp_path, {"dev": {"app": [config_map("same")]}}, replace_whole_environment=True)
    before = read_tree(tmp_path)

    def no_links(source: object, target: object) -> None:
        raise OSError("links not supported")

    monkeypatch.setattr(os, "link", no_links)
    write_environments(tmp_path, {"dev": {"app": [config_map("same")]}}, replace_whole_environment=True)
    write_environments(tmp_path, {"dev": {"a": [config_map("z")]}}, replace_whole_environment=False)
    after = read_tree(tmp_path)
    assert sorted(after) == ["dev/a/configmap-z.yaml", "dev/app/configmap-same.yaml"]
    assert after["dev/app/configmap-same.yaml"] == before["dev/app/configmap-same.yaml"]


def test_a_ctrl_c_while_staging_takes_effect_once_the_folders_are_recorded(tmp_path: Path) -> None:
    staged: dict[str, Path] = {}
    with pytest.raises(KeyboardInterrupt), interrupts_deferred():
        # To this thread: os.kill lets the kernel pick any thread (pytest-xdist has an I/O thread), which on a busy
        # machine may run the C-level handler only after the block has ended, and then nothing was deferred.
        signal.pthread_kill(threading.get_ident(), signal.SIGINT)
        staged = output.stage_environments(tmp_path, ["dev", "prod"])
    assert sorted(staged) == ["dev", "prod"], "the interrupt came after the folders were recorded"
    output.discard_staging(staged)
    assert list(tmp_path.iterdir()) == []
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


# Strings PyYAML quotes, or writes over several lines, for many different reasons.
_TRICKY = st.sampled_from(
    [
        "",
        " ",
        "yes",
        "No",
        "on",
        "OFF",
        "y",
        "null",
        "~",
        "NULL",
        "true",
        "False",
        "0",
        "0755",
        "0x1F",
        "1e3",
        "1.5",
        ".inf",
        "-.nan",
        "12:30",
        "2026-11-22",
        "- item",
        "a: b",
        "a #b",
        "#c",
        "@x",
        "`x",
        "!x",
        "&x",
        "*x",
        "|",
        ">",
        "%x",
        "'",
        '"',
        "{x}",
        "[x]",
        "?",
        "? x",
        ":",
        "x:",
        "line\nnext",
        "tail\n",
        "\n\nx",
        " lead",
        "trail ",
        "tab\there",
        "é",
        "日本",
        "\u2028",
        "\x00",
        "x" * 130,
        "a " * 70,
        "=",
        "<<",
        "-",
        "---",
        "...",
    ]
)
_STRINGS = st.one_of(_TRICKY, st.text(max_size=12), st.from_regex(r"[a-z][-a-z0-9./]{0,20}", fullmatch=True))
_SCALARS = st.one_of(_STRINGS, st.booleans(), st.integers(-(2**40), 2**40), st.none())


def _containers(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(st.lists(inner, max_size=4), st.dictionaries(_STRINGS, inner, max_size=5))


_DATA = st.recursive(_SCALARS, _containers, max_leaves=30)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(_STRINGS, _DATA, max_size=6))
def test_what_is_written_reads_back_as_the_same_data(document: dict[str, object]) -> None:
    """Every string YAML would read as something else (`yes`, `0755`, `~`, a date) is quoted, and none is folded."""
    import yaml

    assert yaml.safe_load(to_yaml(document)) == document


_LAYOUT_SCALARS = st.one_of(
    _SCALARS,
    st.floats(),
    st.sampled_from(["x" * 999, "x" * 1001, "'" * 600, "é " * 600, "k" * 127, "k" * 128, "a\x85b", "\u2029", "x\ry"]),
)
_LAYOUT_DATA = st.recursive(_LAYOUT_SCALARS, _containers, max_leaves=30)


@settings(max_examples=500, deadline=None)
@given(st.dictionaries(_STRINGS, _LAYOUT_DATA, max_size=6))
def test_the_block_layout_writes_what_pyyaml_writes(document: dict[str, object]) -> None:
    """to_yaml lays most objects out itself (delivery/output.py, _block_yaml); the bytes are PyYAML's, or PyYAML
    writes the object."""
    assert to_yaml(document) == output._pyyaml(document)


def test_zero_and_minus_zero_are_each_written_as_pyyaml_writes_them() -> None:
    for document in ({"a": -0.0}, {"a": 0.0}, {"a": 0}, {"a": False}, {"a": -0.0}):
        assert to_yaml(document) == output._pyyaml(document)


def test_the_block_layout_writes_every_object_of_dist_as_pyyaml_does() -> None:
    import yaml

    documents = [yaml.safe_load(path.read_text()) for path in sorted(Path("dist").rglob("*.yaml"))]
    laid_out = [document for document in documents if output._block_yaml(document) is not None]
    assert len(laid_out) > 0.9 * len(documents) > 300  # the layout is what writes them, not the fallback
    assert [to_yaml(document) for document in documents] == [output._pyyaml(document) for document in documents]


def test_environments_are_committed_all_or_none(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """When one environment cannot be swapped in, those already swapped are put back: dist/ is as it was."""
    write_environments(
        tmp_path,
        {env: {"app": [config_map("old")]} for env in ("dev", "prod", "staging")},
        replace_whole_environment=True,
    )
    before = read_tree(tmp_path)
    fail_moving_in(monkeypatch, "staging")  # the last of the three
    with pytest.raises(OSError, match="disk full"):
        write_environments(
            tmp_path,
            {env: {"app": [config_map("new")]} for env in ("dev", "prod", "staging")},
            replace_whole_environment=True,
        )
    assert read_tree(tmp_path) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dev", "prod", "staging"], "no staging or old folder left"


def test_sigterm_is_deferred_like_ctrl_c(tmp_path: Path) -> None:
    previous = signal.signal(signal.SIGTERM, raise_terminated)
    try:
        staged: dict[str, Path] = {}
        with pytest.raises(Terminated), interrupts_deferred():
            os.kill(os.getpid(), signal.SIGTERM)
            staged = output.stage_environments(tmp_path, ["dev"])
        assert sorted(staged) == ["dev"], "SIGTERM came after the folders were recorded"
        output.discard_staging(staged)
        assert signal.getsignal(signal.SIGTERM) is raise_terminated
    finally:
        signal.signal(signal.SIGTERM, previous)


def test_leftovers_of_a_killed_synth_are_recovered(tmp_path: Path) -> None:
    """kill -9 can leave a staging folder, an old folder beside its new one, or (between the two renames of a swap)
    only the old folder: the next synth removes the first two and puts the last one back."""
    write_environments(
        tmp_path,
        {"dev": {"app": [config_map("a")]}, "prod": {"app": [config_map("b")]}},
        replace_whole_environment=True,
    )
    before = read_tree(tmp_path)
    (tmp_path / ".dev-new-abcd1234" / "app").mkdir(parents=True)
    (tmp_path / "argocd" / ".dev-new-abcd_234").mkdir(parents=True)
    (tmp_path / ".dev-old-zzzz9999").mkdir()
    os.replace(tmp_path / "prod", tmp_path / ".prod-old-x1y2z3w4")
    (tmp_path / ".keep-me").mkdir()  # not a synth's: left alone
    done = output.recover_leftovers(tmp_path)
    assert len(done) == 4
    assert any(line.startswith(f"restored {tmp_path / 'prod'}") for line in done)
    assert read_tree(tmp_path) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [".keep-me", "argocd", "dev", "prod"]
    assert list((tmp_path / "argocd").iterdir()) == []


def test_one_synth_at_a_time(tmp_path: Path) -> None:
    with (
        output.output_lock(tmp_path),
        pytest.raises(OutputError, match="another synth is writing"),
        output.output_lock(tmp_path),
    ):
        pass
    with output.output_lock(tmp_path):  # free again
        pass
    assert list(tmp_path.iterdir()) == [], "the lock leaves no file in dist/"


def test_stale_environments_are_found_not_removed(tmp_path: Path) -> None:
    """Only a folder holding what a synth renders can be a stale environment: anything else is never listed."""
    for name in ("dev", "gone", "argocd", ".dev-new-abcd1234", "notes"):
        (tmp_path / name).mkdir()
    (tmp_path / "gone" / "app").mkdir()

    def rendered(folder: Path) -> bool:
        return [p.name for p in folder.iterdir()] == ["app"]

    assert output.stale_environments(tmp_path, ["dev"], rendered) == [tmp_path / "gone"]
    assert (tmp_path / "gone").is_dir()
