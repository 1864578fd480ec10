"""The render cache's figures: whole `python main.py synth` processes over a copy of dist/, with the cache.

Cases, taking turns run by run so that a change in the VM's speed touches each alike:
- nothing changed: every (environment, stack) pair comes from the cache;
- one value changed: dev's core-pipeline image tag set to a tag no run used before (dev's six stacks render anew:
  a key holds the whole settings file; the other 18 pairs come from the cache);
- full synth, `--no-cache`: every pair rendered.
Every synth is a fresh process that starts its own workers, as every `make synth` does. The settings are a copy of
environments/ (ENVIRONMENTS_DIR), the cache a folder of its own; both are removed at the end. The project's bytecode
is compiled first, as `make synth` does. The synths run back to back (`--pause S` spaces them). Prints min, median
and max of each, and the machine's load. Run with `python -m bench.cache_bench`.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGETS = {
    "nothing changed": 0.5,
    "one value changed": 1.3,
    "full synth, --no-cache": 1.8,
}
PROJECT_PACKAGES = ("value_types", "constructs_lib", "stacks", "environment_model", "delivery", "engine")
_DEV_TAG = re.compile(r'^(core_pipeline:\n(?:  .*\n)*?    tag: )"[^"]*"', re.MULTILINE)


# Seconds between one synth's end and the next one's start (--pause).
PAUSE = [0.0]


def timed_synth(out: Path, environment: dict[str, str], *options: str) -> float:
    time.sleep(PAUSE[0])
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, str(ROOT / "main.py"), "synth", "--out", str(out), *options],
        check=True,
        capture_output=True,
        env=environment,
    )
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument(
        "--pause",
        type=float,
        default=0.0,
        help="seconds between one synth and the next (default 0: back to back)",
    )
    args = parser.parse_args()
    PAUSE[0] = args.pause
    times: dict[str, list[float]] = {case: [] for case in TARGETS}
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix=".bench-", dir=ROOT) as folder:
        scratch = Path(folder)
        shutil.copytree(ROOT / "environments", scratch / "environments")
        shutil.copytree(ROOT / "dist", scratch / "out", ignore=shutil.ignore_patterns(".*"))
        environment = {
            **os.environ,
            "ENVIRONMENTS_DIR": str(scratch / "environments"),
            "RENDER_CACHE": str(scratch / "cache"),
        }
        dev = scratch / "environments" / "dev.yaml"
        original = dev.read_text(encoding="utf-8")
        if not _DEV_TAG.search(original):
            raise SystemExit("bench: dev.yaml has no core_pipeline image tag to change")
        subprocess.run([sys.executable, "-m", "compileall", "-q", "-o", "0", "-o", "1", *PROJECT_PACKAGES], cwd=ROOT)
        timed_synth(scratch / "out", environment)  # fills the cache (not timed)
        tag = iter(range(100, 100 + 2 * args.runs))

        def change_one_value() -> None:
            dev.write_text(_DEV_TAG.sub(rf'\g<1>"1.0.{next(tag)}"', original, count=1), encoding="utf-8")

        for _ in range(args.runs):
            times["nothing changed"].append(timed_synth(scratch / "out", environment))
            change_one_value()
            times["one value changed"].append(timed_synth(scratch / "out", environment))
            times["full synth, --no-cache"].append(timed_synth(scratch / "out", environment, "--no-cache"))
    print(
        f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}; load average "
        f"{load_before:.1f} before, {os.getloadavg()[0]:.1f} after; {args.runs} runs per case, taking turns, "
        f"{args.pause:g} s apart"
    )
    for case, values in times.items():
        print(
            f"{case:<33} min {min(values):5.2f}s  median {statistics.median(values):5.2f}s  "
            f"max {max(values):5.2f}s  (target <= {TARGETS[case]}s)"
        )
    nothing, full = statistics.median(times["nothing changed"]), statistics.median(times["full synth, --no-cache"])
    one = statistics.median(times["one value changed"])
    print(f"median ratios to the full synth: nothing changed {nothing / full:.2f}, one value changed {one / full:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
