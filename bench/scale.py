"""The scale case, rendered once as a whole process: `python -m bench.scale --services N --environments E --out DIR`.

N fully featured AppServices per environment (each a Deployment, Service, HPA, PDB, NetworkPolicy, Ingress,
ServiceMonitor, ConfigMap and its own ServiceAccount: 9 objects), E environments, rendered through the pipeline with
the cache off, as `main.py synth --no-cache` renders (bench/synth_bench.py's render_scale), and written into DIR.
The services are split over stacks of 8 (`--stacks` to choose), as this project grows: one stack per system.

Prints the peak memory of its largest process (itself, a render worker or a worker's Node process: the engine waits
for each, so they count in RUSAGE_CHILDREN), the seconds spent in the whole-output checks (delivery.checks, part of
the whole), then, on its last line, the number of objects written. Time it from outside (whole process);
bench/README.md says how it is compared with cdk8s on Node.

`--checks-only` times the whole-output checks alone, in seconds where a render of thousands of services takes half a
minute or more: one stack of 8 services is rendered for real (into a temporary folder, in each environment), and its
objects are copied for each of the N services under that service's name, as a render of N services names them (only
the ConfigMap's SERVICE_INDEX and the config checksum differ); the last line is then the objects checked. It also
prints the time of a pass that only reads each object's name: how this machine's memory reads grow with the number
of objects, which no check can grow slower than.
"""

from __future__ import annotations

import argparse
import gc
import json
import re
import resource
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from bench.synth_bench import render_scale
from delivery import checks
from engine import ENGINES, EngineName, Manifest

SERVICES_PER_STACK = 8
# A service's name in bench/scale_chart.py (svc-000, svc-001, ..., svc-1000): in every object it renders.
_SERVICE_NAME = re.compile(r"svc-(\d{3,})")


@dataclass
class ChecksSeen:
    """What the whole-output checks were given during a render (one call per environment) and the time they took."""

    seconds: float = 0.0
    environments: list[dict[str, list[Manifest]]] = field(default_factory=list)


@contextmanager
def watching_checks() -> Iterator[ChecksSeen]:
    """delivery.checks.check_stacks timed, and its arguments kept, inside the block: the pipeline imports it when
    render is called, so the wrapper put on the module is the one it runs."""
    seen = ChecksSeen()
    check_stacks = checks.check_stacks

    def timed(by_stack: Mapping[str, list[Manifest]]) -> None:
        seen.environments.append(dict(by_stack))
        started = time.perf_counter()
        try:
            check_stacks(by_stack)
        finally:
            seen.seconds += time.perf_counter() - started

    checks.check_stacks = timed
    try:
        yield seen
    finally:
        checks.check_stacks = check_stacks


def services_like(rendered: Mapping[str, list[Manifest]], services: int) -> dict[str, list[Manifest]]:
    """`services` services' worth of objects in stacks of SERVICES_PER_STACK, copied from the objects of one rendered
    stack of SERVICES_PER_STACK services: service i is a copy of rendered service i % SERVICES_PER_STACK with every
    mention of its name turned into service i's (so every selector selects its own copy's pods alone)."""
    by_service: dict[int, list[Manifest]] = {}
    for manifest in (manifest for manifests in rendered.values() for manifest in manifests):
        (index,) = {int(number) for number in _SERVICE_NAME.findall(json.dumps(manifest))}
        by_service.setdefault(index, []).append(manifest)
    texts = [json.dumps(by_service[index]) for index in range(SERVICES_PER_STACK)]
    copies: dict[str, list[Manifest]] = {}
    for index in range(services):
        text = _SERVICE_NAME.sub(f"svc-{index:03d}", texts[index % SERVICES_PER_STACK])
        copies.setdefault(f"scale-{index // SERVICES_PER_STACK}", []).extend(json.loads(text))
    return copies


def time_checks_only(services: int, environments: int, engine: EngineName) -> tuple[float, float, int]:
    """Seconds the whole-output checks take over `services` copied services in each of `environments` environments
    (see the module's docstring), the copying not counted; seconds a pass that only reads each object's name takes
    over the same objects (how this machine's memory reads grow with the objects, the floor of any check); and the
    objects checked."""
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as out, watching_checks() as small:
        render_scale(out, SERVICES_PER_STACK, environments, 1, engine)
    seconds = reading = 0.0
    objects = 0
    for rendered in small.environments:
        by_stack = services_like(rendered, services)
        objects += sum(len(manifests) for manifests in by_stack.values())
        # The copying leaves a full garbage collection due: run now, it is not billed to the checks.
        gc.collect()
        started = time.perf_counter()
        names = [manifest["metadata"]["name"] for manifests in by_stack.values() for manifest in manifests]
        reading += time.perf_counter() - started
        del names
        started = time.perf_counter()
        checks.check_stacks(by_stack)
        seconds += time.perf_counter() - started
    return seconds, reading, objects


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.scale", description=__doc__.split("\n\n")[0])
    parser.add_argument("--services", type=int, required=True, help="AppServices per environment")
    parser.add_argument("--environments", type=int, default=3, choices=range(1, 6), help="1 to 5 (default 3)")
    parser.add_argument("--out", type=Path, help="output folder (rendered over, as make synth does)")
    parser.add_argument("--stacks", type=int, help=f"stacks per environment (default: one per {SERVICES_PER_STACK})")
    parser.add_argument("--engine", choices=ENGINES, default="fast")
    parser.add_argument(
        "--checks-only",
        action="store_true",
        help=f"time the whole-output checks over copies of {SERVICES_PER_STACK} rendered services, nothing written",
    )
    args = parser.parse_args(argv)
    if args.checks_only:
        if args.out is not None or args.stacks is not None:
            parser.error(f"--checks-only writes nothing and makes stacks of {SERVICES_PER_STACK}: no --out or --stacks")
        check_seconds, reading, objects = time_checks_only(args.services, args.environments, args.engine)
        print(f"reading each object's name once: {reading:.3f} s")
    else:
        if args.out is None:
            parser.error("--out is required (unless --checks-only)")
        stacks = args.stacks or max(1, -(-args.services // SERVICES_PER_STACK))
        with watching_checks() as seen:
            objects = render_scale(str(args.out), args.services, args.environments, stacks, args.engine)
        check_seconds = seen.seconds
    peak = max(resource.getrusage(who).ru_maxrss for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
    print(f"peak memory of one process: {peak / 1024:.0f} MiB")
    print(f"checks: {check_seconds:.3f} s")
    print(objects)
    return 0


if __name__ == "__main__":
    sys.exit(main())
