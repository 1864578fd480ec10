"""Synthesis benchmark: prints wall-clock figures for bench/README.md. Run with `make bench`.

1. Full synth of this project (all environments), as `make synth` runs it: a fresh `python main.py synth` process
   each time, over a copy of the committed dist/ (every clone has one, so every synth renders over existing files).
2. Scale case: 64 fully featured AppServices per environment, 3 environments, rendered through the pipeline and
   written the way main.py writes: over its previous output (as a second `make synth` does); then the same
   64 services as 8 stacks; then into an empty folder (the first render of a new environment).

The first two lines are timed with both engines, plain (jsii as shipped, in one process) and fast, taking turns run
by run, so that a change in the VM's speed touches both; the others with the fast engine, the default.

Everything is written into a temporary folder inside the project (`.bench-*`, removed afterwards), as `make synth`
writes into dist/. Nothing is deleted until the end: on ext4 without a journal, as on our VMs, files deleted in the
last minute (six, until written out) slow down creating new ones (see delivery/output.py, keep_or_write), so
deleting between runs would slow the runs that follow. For the same reason a second `make bench` right after the
first can show slower empty-folder figures; the file-creation time printed first shows it.

Targets on a 2-core machine: (1) under 3 s, (2) under 4 s. Best and median of several runs are printed.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from engine import EngineName, Manifest, use_bundled_node  # noqa: E402
from engine.start import start_engine  # noqa: E402

use_bundled_node()

from bench.scale_settings import BenchEnvironment, ScaleSettings  # noqa: E402
from delivery import pipeline  # noqa: E402
from delivery.output import commit_environments, stack_folders, stage_environments, write_stack  # noqa: E402
from environment_model.registry import StackDefinition  # noqa: E402


def scale_stacks(count: int) -> list[StackDefinition]:
    """`count` stacks of the synthetic chart, each with its own section of the settings."""
    return [
        StackDefinition(
            name=f"scale-{index}",
            settings_field=f"scale_{index}",
            chart="bench.scale_chart:ScaleChart",
            description="benchmark",
            bindings=("imports.com.coreos.monitoring",),
        )
        for index in range(count)
    ]


def full_project_synth(out: Path, engine: EngineName = "fast") -> float:
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, str(ROOT / "main.py"), "synth", "--engine", engine, "--out", str(out)],
        check=True,
        capture_output=True,
    )
    return time.perf_counter() - started


def scale_case(
    out: Path, services: int, environments: int, stacks: int, engine: EngineName = "fast"
) -> tuple[float, int]:
    """Seconds for a fresh process to import, render and write the scale case; objects written."""
    code = (
        f"import sys, time; t = time.perf_counter(); sys.path.insert(0, {str(ROOT)!r})\n"
        "from bench.synth_bench import render_scale\n"
        f"count = render_scale({str(out)!r}, {services}, {environments}, {stacks}, {engine!r})\n"
        "print(time.perf_counter() - t, count)\n"
    )
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    return elapsed, int(result.stdout.split()[1])


def render_scale(
    out: str,
    services: int,
    environments: int,
    stacks: int = 1,
    engine: EngineName = "fast",
) -> int:
    """`services` AppServices per environment, split evenly over `stacks` stacks, rendered as main.py synth does:
    the engine started first, then the pipeline writing each stack into staging folders as it is rendered; then each
    environment is swapped in, and the engine's processes are waited for."""
    use_bundled_node()
    names = ["dev", "staging", "prod", "qa", "perf"][:environments]
    definitions = scale_stacks(stacks)
    renderer = start_engine(engine, definitions, len(names) * stacks, note=print)
    try:
        share, rest = divmod(services, stacks)
        sizes = [share + (1 if index < rest else 0) for index in range(stacks)]
        settings = {
            env: BenchEnvironment(
                {
                    stack.settings_field: ScaleSettings(environment=env, services=size, first=sum(sizes[:index]))
                    for index, (stack, size) in enumerate(zip(definitions, sizes, strict=True))
                }
            )
            for env in names
        }
        staged = stage_environments(Path(out), names)
        outputs = stack_folders(Path(out), staged, [stack.name for stack in definitions])

        def write(env: str, stack: str, manifests: list[Manifest]) -> None:
            write_stack(outputs[env, stack], manifests)

        # The synthetic environments have no Argo CD settings.
        rendered = pipeline.render(renderer, settings, definitions, stack_rendered=write, argocd=False)
        commit_environments(Path(out), staged, replace_whole_environment=True)
    finally:
        renderer.close()
    return sum(len(objs) for by_stack in rendered.values() for objs in by_stack.values())


def report(label: str, fast: list[float], target: float, plain: list[float] | None = None) -> None:
    """One line: the plain engine's best and median (if timed), the fast engine's, their ratio, the target (fast)."""
    median = statistics.median(fast)
    side = f"best {min(plain):5.2f}s  median {statistics.median(plain):5.2f}s" if plain else " " * 27
    ratio = f"{median / statistics.median(plain):5.2f}" if plain else " " * 5
    verdict = "ok" if median < target else "OVER TARGET"
    print(
        f"{label:<56} {side}  |  best {min(fast):5.2f}s  median {median:5.2f}s  |  {ratio}  |  "
        f"< {target:.0f}s {verdict}"
    )


def alternating(runs: int, timed: Callable[[EngineName], float]) -> dict[EngineName, list[float]]:
    """`runs` timings of each engine, plain and fast taking turns."""
    times: dict[EngineName, list[float]] = {"plain": [], "fast": []}
    for _ in range(runs):
        for engine in times:
            times[engine].append(timed(engine))
    return times


def cpu_ticks() -> tuple[int, int] | None:
    """(all CPU time, time stolen by the hypervisor) in clock ticks since boot, on Linux."""
    try:
        fields = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return None
    return sum(fields[:8]), fields[7]


def steal(before: tuple[int, int] | None, after: tuple[int, int] | None) -> str:
    """How much CPU time the VM's host took away while the cases ran: on a shared VM the figures depend on it."""
    if before is None or after is None or after[0] == before[0]:
        return "unknown"
    return f"{100 * (after[1] - before[1]) / (after[0] - before[0]):.0f}%"


def reference_loop() -> float:
    """Seconds for a fixed pure-Python loop, best of three: how fast this machine is right now (on a shared VM it
    varies by a third over minutes, and the figures below with it)."""
    runs = []
    for _ in range(3):
        started = time.perf_counter()
        total = 0
        for number in range(3_000_000):
            total += number * number % 7
        runs.append(time.perf_counter() - started)
    return min(runs)


def file_creation(folder: Path) -> float:
    """Milliseconds to create and write one small file in a new folder in `folder`, averaged over 500: on our VM's
    disk this varies twentyfold over the day (see the module's docstring). The files are left for the caller to
    remove at the end."""
    target = folder / "file-creation"
    target.mkdir()
    started = time.perf_counter()
    for index in range(500):
        (target / f"object-{index}.yaml").write_text("x" * 1500, encoding="utf-8")
    return (time.perf_counter() - started) * 1000 / 500


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--services", type=int, default=64)
    parser.add_argument("--environments", type=int, default=3)
    parser.add_argument("--stacks", type=int, default=8, help="stacks the services are split over in the last case")
    args = parser.parse_args()
    services, environments, runs = args.services, args.environments, args.runs
    # Output goes where `make synth` writes, the project's own file system (the system temp folder can be on
    # another disk).
    reference = reference_loop()
    with tempfile.TemporaryDirectory(prefix=".bench-", dir=ROOT) as folder:
        scratch = Path(folder)
        per_file = file_creation(scratch)
        shutil.copytree(ROOT / "dist", scratch / "full", ignore=shutil.ignore_patterns(".*"))
        shutil.copytree(scratch / "full", scratch / "full-plain")
        before = cpu_ticks()
        full = alternating(runs, lambda engine: full_project_synth(scratch / f"full-{engine}", engine))
        # A first render (not timed) makes the output the timed runs render over.
        objects = scale_case(scratch / "scale-fast", services, environments, 1)[1]
        scale_case(scratch / "scale-plain", services, environments, 1, "plain")
        again = alternating(
            runs, lambda engine: scale_case(scratch / f"scale-{engine}", services, environments, 1, engine)[0]
        )
        scale_case(scratch / "split", services, environments, args.stacks)
        split = [scale_case(scratch / "split", services, environments, args.stacks)[0] for _ in range(runs)]
        # Last: the furthest from the previous bench's clean-up (see the module's docstring).
        empty = [scale_case(scratch / f"empty-{i}", services, environments, 1)[0] for i in range(runs)]
        after = cpu_ticks()
    # Written out now, the inodes just deleted count as recently deleted for one minute rather than six, so a
    # second bench soon after this one is slowed for less long.
    os.sync()
    print(
        f"machine: {sys.platform}, {os.cpu_count()} cores, Python {sys.version.split()[0]}; "
        f"reference loop {reference:.2f}s (seen on the project's VM: 0.21-0.35s), "
        f"file creation {per_file:.2f} ms (seen: 0.04-1.6 ms); CPU steal {steal(before, after)}"
    )
    print("each run renders over the output of the one before, as make synth does, except the last line's")
    print(f"{'':<56} {'plain engine':<27}  |  {'fast engine':<27}  |  {'ratio':<5}  |  target (fast)")
    report("full synth, all environments (make synth)", full["fast"], 3.0, full["plain"])
    report(
        f"scale: {services} AppServices x {environments} envs, {objects} objects, one stack",
        again["fast"],
        4.0,
        again["plain"],
    )
    report(f"  the same as {args.stacks} stacks per environment", split, 4.0)
    report("  one stack, into an empty folder", empty, 4.0)
    # Render workers and their Node processes are waited for by the process that forked them, so they count here.
    peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"peak memory of one process (Python or Node): {peak_mib:.0f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
