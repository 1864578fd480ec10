"""The engine's two implementations: `fast` runs its jsii speed-ups on the pinned jsii and cdk8s, renders in
parallel with jsii as shipped on any other, and both write the same bytes for every environment."""

from __future__ import annotations

from pathlib import Path

import pytest

import main
from delivery.output import manifest_files, read_tree
from delivery.synth import fleet_objects
from engine import RenderedEnvironment, fast_runtime
from engine.fast import RenderPool
from engine.start import fast_engine_problem, start_engine
from environment_model.paths import ROOT
from environment_model.registry import ARGOCD, STACKS
from environment_model.settings import load_environment


def test_the_fast_engine_is_on_for_the_pinned_jsii_and_cdk8s() -> None:
    problem = fast_engine_problem()
    assert problem is None, (
        f"the fast engine is off for the pinned versions ({problem}), so every synth renders with the plain engine, "
        "about twice as slowly. After a jsii or cdk8s bump: re-check each jsii internal engine/ relies on (grep jsii "
        "in engine/), then update KNOWN_VERSIONS and KNOWN_KERNEL_PROGRAM_SHA256 in engine/fast_runtime.py"
    )
    engine = start_engine("fast", STACKS, 1, note=pytest.fail)
    try:
        assert isinstance(engine, RenderPool)
    finally:
        engine.close()


@pytest.mark.parametrize(
    ("known", "said"),
    [
        ({"KNOWN_VERSIONS": {"jsii": "1.0.0", "cdk8s": fast_runtime.KNOWN_VERSIONS["cdk8s"]}}, "it knows jsii 1.0.0"),
        ({"KNOWN_VERSIONS": {**fast_runtime.KNOWN_VERSIONS, "cdk8s": "2.0.0"}}, "it knows cdk8s 2.0.0"),
        ({"KNOWN_KERNEL_PROGRAM_SHA256": "0" * 64}, "kernel program is not the one it patches"),
    ],
    ids=["jsii", "cdk8s", "kernel-text"],
)
def test_on_a_jsii_it_does_not_know_the_fast_engine_turns_its_speed_ups_off_in_one_line(
    known: dict[str, object], said: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in known.items():
        monkeypatch.setattr(fast_runtime, name, value)
    notes: list[str] = []
    engine = start_engine("fast", STACKS, 3, note=notes.append)
    try:
        assert isinstance(engine, RenderPool) and engine.public_jsii
    finally:
        engine.close()
    assert len(notes) == 1 and said in notes[0] and "jsii as shipped" in notes[0], notes


def test_a_synth_on_a_jsii_the_fast_engine_does_not_know_renders_in_parallel_with_jsii_as_shipped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Two workers, each with jsii's own two-process kernel and run-time type checks, none of the private speed-ups:
    the same bytes as the committed dist/."""
    monkeypatch.setattr(fast_runtime, "KNOWN_VERSIONS", {**fast_runtime.KNOWN_VERSIONS, "jsii": "0.1.0"})
    out = tmp_path / "dist"
    assert main.main(["synth", "--env", "dev", "--env", "test", "--out", str(out)]) == 0
    notes = [line for line in capsys.readouterr().err.splitlines() if line.startswith("note:")]
    assert len(notes) == 1 and "jsii 0.1.0" in notes[0]
    committed = read_tree(ROOT / "dist")
    assert read_tree(out) == {
        path: text
        for path, text in committed.items()
        if path.startswith(("dev/", "test/", "argocd/dev/", "argocd/test/"))
    }


def test_the_workers_with_jsii_as_shipped_touch_none_of_its_private_parts() -> None:
    """The public path imports and starts jsii in each forked worker, and neither patches jsii's serialisation nor
    replaces its kernel program (engine/fast_runtime.py) nor adopts prestarted kernels (engine/prestarted_kernels.py)."""
    import subprocess
    import sys
    import textwrap

    program = textwrap.dedent(
        """
        import os, sys
        from engine import fast_worker, fast_runtime
        calls = []
        fast_worker.run_jsii_kernel_directly = lambda: calls.append("kernel")
        fast_worker.speed_up_jsii_calls = lambda: calls.append("calls")
        fast_worker._import_for_workers = lambda *args: calls.append("prestarted")
        job_r, job_w = os.pipe(); result_r, result_w = os.pipe()
        os.close(job_w)  # no jobs: the worker exits once it has imported and started jsii
        pid = os.fork()
        if pid == 0:
            fast_worker.main(["--public-jsii", f"{job_r}:{result_w}"])
        os.close(result_w)
        os.waitpid(pid, 0)
        print(calls, "JSII_RUNTIME" in os.environ)
        """
    )
    result = subprocess.run([sys.executable, "-c", program], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.stdout.strip() == "[] False", result.stderr


def test_both_engines_write_the_same_bytes_for_every_environment(
    tmp_path: Path, rendered: dict[str, RenderedEnvironment], capsys: pytest.CaptureFixture[str]
) -> None:
    """The plain engine is the reference: the fast engine's speed tricks may not change a byte. `rendered` is every
    environment through the pipeline with the plain engine; synth renders with the fast one (where it is off, with
    plain too, and the first test here fails)."""
    assert main.main(["synth", "--engine", "fast", "--out", str(tmp_path / "dist")]) == 0, capsys.readouterr()
    plain = {
        (f"argocd/{env}/{name}" if stack == ARGOCD.name else f"{env}/{stack}/{name}"): text
        for env, by_stack in rendered.items()
        for stack, manifests in by_stack.items()
        for name, text in manifest_files(manifests).items()
    }
    assert {path.split("/")[0] for path in plain} == {"argocd", "dev", "staging", "prod", "test"}
    # The fleet's ApplicationSets are plain dicts from the settings, no engine's output (tests/test_argocd_fleet.py).
    fleet = fleet_objects({env: load_environment(env) for env in rendered}, list(rendered))
    plain |= {
        f"argocd/{folder}/{name}": text for folder, objs in fleet.items() for name, text in manifest_files(objs).items()
    }
    assert read_tree(tmp_path / "dist") == plain
    assert plain == read_tree(ROOT / "dist")
