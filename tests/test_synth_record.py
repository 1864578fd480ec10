"""The synth record (delivery/synth_record.py): a synth whose inputs and output folder are as the last synth of the
same request left them writes nothing and loads nothing; any difference in either renders as usual and gives the
same bytes as `--no-cache`."""

from __future__ import annotations

import fcntl
import os
import shutil
from pathlib import Path

import pytest
import yaml

import main
from environment_model.paths import ROOT
from tests.test_cached_synth import synth_process

NOTHING_CHANGED = "nothing changed since the last synth"


@pytest.fixture
def environments(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """dev's settings alone in ENVIRONMENTS_DIR (a full synth is then quick), a cache folder of its own."""
    folder = tmp_path / "environments"
    folder.mkdir()
    shutil.copy(ROOT / "environments" / "dev.yaml", folder / "dev.yaml")
    monkeypatch.setenv("ENVIRONMENTS_DIR", str(folder))
    monkeypatch.setenv("RENDER_CACHE", str(tmp_path / "cache"))
    return folder


def synth(out: Path, capsys: pytest.CaptureFixture[str], *options: str) -> tuple[int, str]:
    code = main.main(["synth", "--engine", "plain", "--out", str(out), *options])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def tree(out: Path) -> dict[str, bytes | None]:
    """Every entry under `out`: a file's bytes, None for a folder."""
    return {
        str(path.relative_to(out)): (path.read_bytes() if path.is_file() else None) for path in sorted(out.rglob("*"))
    }


def inodes(out: Path) -> dict[str, int]:
    return {str(path.relative_to(out)): path.stat().st_ino for path in out.rglob("*")}


def test_a_second_synth_of_the_same_inputs_writes_nothing_and_says_so(
    environments: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    code, first = synth(out, capsys)
    assert code == 0 and NOTHING_CHANGED not in first
    before, identities = tree(out), inodes(out)
    code, second = synth(out, capsys)
    assert code == 0 and NOTHING_CHANGED in second, second
    assert "6 of 6 stacks from the cache" in second
    # The same summary of what is in the folder, and not one file or folder replaced.
    assert [line for line in second.splitlines() if line.startswith("dev:")] == [
        line for line in first.splitlines() if line.startswith("dev:")
    ]
    assert tree(out) == before and inodes(out) == identities


@pytest.mark.parametrize("damage", ["edited file", "extra file", "removed stack folder", "leftover staging folder"])
def test_an_output_folder_changed_by_hand_is_rendered_again(
    damage: str, environments: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    assert synth(out, capsys)[0] == 0
    expected = tree(out)
    if damage == "edited file":
        edited = next((out / "dev" / "verta").glob("deployment-*.yaml"))
        text = edited.read_text()
        edited.write_text(text.replace("apps/v1", "apps/v2"))  # the same size: only the bytes tell
        assert edited.stat().st_size == len(text.encode())
    elif damage == "extra file":
        (out / "dev" / "verta" / "notes.yaml").write_text("kind: ConfigMap\n")
    elif damage == "removed stack folder":
        shutil.rmtree(out / "dev" / "hivemind-bot")
    else:  # what a synth killed with SIGKILL leaves: put right by the next synth
        shutil.copytree(out / "dev", out / ".dev-new-abcd1234")
    code, text = synth(out, capsys)
    assert code == 0 and NOTHING_CHANGED not in text, text
    assert tree(out) == expected


def test_a_settings_edit_renders_and_going_back_renders_again(
    environments: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Edit, synth, undo the edit, synth: the record of the first synth must not be taken for the folder the
    second one wrote (each synth notes its own output while it still holds the folder)."""
    out, fresh = tmp_path / "out", tmp_path / "fresh"
    settings = environments / "dev.yaml"
    original = settings.read_text()
    assert synth(out, capsys)[0] == 0
    first = tree(out)
    data = yaml.safe_load(original)
    data["verta"]["backend"]["image"]["tag"] = "9.9.9"
    settings.write_text(yaml.safe_dump(data, sort_keys=False))
    code, text = synth(out, capsys)
    assert code == 0 and NOTHING_CHANGED not in text
    assert synth(fresh, capsys, "--no-cache")[0] == 0
    assert tree(out) == tree(fresh) != first
    settings.write_text(original)
    code, text = synth(out, capsys)
    assert code == 0 and NOTHING_CHANGED not in text, "the folder holds the edited render: it is rendered again"
    assert tree(out) == first
    assert NOTHING_CHANGED in synth(out, capsys)[1]


def test_invalid_settings_are_reported_on_every_synth_and_never_recorded(
    environments: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    settings = environments / "dev.yaml"
    original = settings.read_text()
    assert synth(out, capsys)[0] == 0
    before = tree(out)
    settings.write_text(original.replace("verta:\n", "verta:\n  replicaz: 2\n", 1))
    for _ in range(2):
        code, text = synth(out, capsys)
        assert code == 1 and "dev.verta.replicaz: unknown key" in text, text
    assert tree(out) == before
    settings.write_text(original)  # back to what the folder was rendered from: nothing to do
    assert NOTHING_CHANGED in synth(out, capsys)[1]


def test_nothing_changed_still_prunes_with_prune_and_names_stale_folders_without(
    environments: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    assert synth(out, capsys)[0] == 0
    shutil.copytree(out / "dev", out / "gone")
    code, text = synth(out, capsys)
    assert code == 0 and NOTHING_CHANGED in text and "kept out/gone" in text.replace(str(tmp_path) + "/", ""), text
    code, text = synth(out, capsys, "--prune")
    assert code == 0 and NOTHING_CHANGED in text and "pruned" in text and not (out / "gone").exists(), text


def test_nothing_changed_defers_to_a_synth_that_holds_the_folder(
    environments: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    assert synth(out, capsys)[0] == 0
    folder = os.open(out, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(folder, fcntl.LOCK_EX)
        code, text = synth(out, capsys)
    finally:
        os.close(folder)
    assert code == 1 and "another synth is writing" in text and NOTHING_CHANGED not in text, text


def test_a_synth_with_nothing_changed_loads_neither_the_settings_models_nor_cdk8s(
    environments: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The whole process, as a user runs it: the record is read before pydantic, the settings models, cdk8s or
    Node are loaded, and none of them is."""
    out = tmp_path / "out"
    assert synth(out, capsys)[0] == 0
    loaded, children, stdout = synth_process(
        ["--out", str(out)],
        ("pydantic", "environment_model.settings", "cdk8s", "jsii", "engine.fast", "delivery.checks"),
    )
    assert loaded == [] and children == 0.0, stdout
    assert NOTHING_CHANGED in stdout, stdout
