"""The scale case, rendered once as a whole process: `python -m bench.scale --services N --environments E --out DIR`.

N fully featured AppServices per environment (each a Deployment, Service, HPA, PDB, NetworkPolicy, Ingress,
ServiceMonitor, ConfigMap and its own ServiceAccount: 9 objects), E environments, rendered through the pipeline with
the cache off, as `main.py synth --no-cache` renders (bench/synth_bench.py's render_scale), and written into DIR.
The services are split over stacks of 8 (`--stacks` to choose), as this project grows: one stack per system.

Prints the peak memory of its largest process (itself, a render worker or a worker's Node process: the engine waits
for each, so they count in RUSAGE_CHILDREN), then, on its last line, the number of objects written. Time it from
outside (whole process); bench/README.md says how it is compared with cdk8s on Node.
"""

from __future__ import annotations

import argparse
import resource
import sys
from pathlib import Path

from bench.synth_bench import render_scale
from engine import ENGINES

SERVICES_PER_STACK = 8


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.scale", description=__doc__.split("\n\n")[0])
    parser.add_argument("--services", type=int, required=True, help="AppServices per environment")
    parser.add_argument("--environments", type=int, default=3, choices=range(1, 6), help="1 to 5 (default 3)")
    parser.add_argument("--out", type=Path, required=True, help="output folder (rendered over, as make synth does)")
    parser.add_argument("--stacks", type=int, help=f"stacks per environment (default: one per {SERVICES_PER_STACK})")
    parser.add_argument("--engine", choices=ENGINES, default="fast")
    parser.add_argument(
        "--render-server",
        type=Path,
        metavar="SOCKET",
        help="ask the render server at SOCKET for the workers (one is started after a render that found none): "
        "to measure the render without the workers' start-up; not a whole-process figure then",
    )
    args = parser.parse_args(argv)
    stacks = args.stacks or max(1, -(-args.services // SERVICES_PER_STACK))
    objects = render_scale(str(args.out), args.services, args.environments, stacks, args.engine, args.render_server)
    peak = max(resource.getrusage(who).ru_maxrss for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
    print(f"peak memory of one process: {peak / 1024:.0f} MiB")
    print(objects)
    return 0


if __name__ == "__main__":
    sys.exit(main())
