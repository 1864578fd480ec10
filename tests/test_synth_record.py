"""The synth record (delivery/synth_record.py): a synth whose inputs and output folder are as the last synth of the
same request left them writes nothing and loads nothing; any difference in either (a settings edit anywhere in the
file, a change to the code, a hand edit of the output) renders as usual and gives the same bytes as `--no-cache`."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
import yaml

import main
from delivery.render_cache import code_version
from delivery.synth_record import FORMAT, SynthRecord, previous_synth
from environment_model.paths import ROOT
from environment_model.registry import STACKS, StackDefinition, get_stack
from tests.cache_edits import NOTHING_CHANGED, synth_process


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
        ["--engine", "plain", "--out", str(out)],
        ("pydantic", "environment_model.settings", "cdk8s", "jsii", "engine.fast", "delivery.checks"),
    )
    assert loaded == [] and children == 0.0, stdout
    assert NOTHING_CHANGED in stdout, stdout


def recorded(
    environments: Path,
    out: Path,
    *,
    texts: dict[str, str | None] | None = None,
    stacks: Sequence[StackDefinition] = STACKS,
    code: str | None = None,
    engine: str = "plain",
    available: Sequence[str] = ("dev",),
) -> SynthRecord:
    """The record a synth into `out` finds now: by default, a synth of dev's settings as they stand, every stack,
    the code as it stands, the plain engine, dev the only environment there is."""
    return previous_synth(
        environments.parent / "cache",
        {"dev": (environments / "dev.yaml").read_text()} if texts is None else texts,
        stacks,
        out,
        code=code_version() if code is None else code,
        engine=engine,
        available=available,
    )


def test_the_record_misses_after_any_change_to_its_inputs(
    environments: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The record is keyed on the whole settings text, the code (render_cache.code_version), the engine and the
    request: a change to any of them is a miss, even one that renders the same bytes."""
    out = tmp_path / "out"
    assert synth(out, capsys)[0] == 0
    assert recorded(environments, out).summary is not None
    text = (environments / "dev.yaml").read_text()
    data = yaml.safe_load(text)
    data["monitoring"]["prometheus_labels"]["team"] = "platform"
    labelled = yaml.safe_dump(data, sort_keys=False)
    misses: dict[str, Callable[[], SynthRecord]] = {
        "monitoring.prometheus_labels": lambda: recorded(environments, out, texts={"dev": labelled}),
        "a comment": lambda: recorded(environments, out, texts={"dev": text.replace("# ", "#  ", 1)}),
        "a blank line at the end": lambda: recorded(environments, out, texts={"dev": text + "\n"}),
        "an unreadable file": lambda: recorded(environments, out, texts={"dev": None}),
        "the code": lambda: recorded(environments, out, code="0" * 64),
        "the engine": lambda: recorded(environments, out, engine="fast"),
        "the stacks": lambda: recorded(environments, out, stacks=[get_stack("verta")]),
        "the environments there are": lambda: recorded(environments, out, available=["dev", "prod"]),
        "the output folder": lambda: recorded(environments, tmp_path / "elsewhere"),
    }
    for change, record in misses.items():
        assert record().summary is None, change
    (environments / "dev.yaml").write_text(text.replace("# ", "#  ", 1))
    code, report = synth(out, capsys)
    assert code == 0 and NOTHING_CHANGED not in report, report  # a comment: rendered again
    assert recorded(environments, out).summary is not None


@pytest.mark.parametrize(
    "damage",
    [
        "truncated",
        "another key",
        "another format",
        "summary not lines",
        "not an object",
        "group may write it",
        "a link",
    ],
)
def test_a_damaged_record_is_a_miss(
    damage: str, environments: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    assert synth(out, capsys)[0] == 0
    record = recorded(environments, out)
    assert record.summary is not None
    path = tmp_path / "cache" / f"synth-{record.key}.json"
    content = json.loads(path.read_text())
    if damage == "truncated":
        path.write_text(path.read_text()[:-10])
    elif damage == "group may write it":
        path.chmod(0o664)
    elif damage == "a link":
        path.rename(tmp_path / "aside.json")
        path.symlink_to(tmp_path / "aside.json")
    else:
        changed = {
            "another key": {**content, "key": "0" * 64},
            "another format": {**content, "format": FORMAT + 1},
            "summary not lines": {**content, "summary": [1]},
            "not an object": [content],
        }[damage]
        path.write_text(json.dumps(changed))
    assert recorded(environments, out).summary is None
    code, report = synth(out, capsys)
    assert code == 0 and NOTHING_CHANGED not in report, report
    assert recorded(environments, out).summary is not None
