"""What does a worker's start-up frontier timing cost, and does it repeat?

    .venv/bin/python benchmarks/frontier_latency.py
    .venv/bin/python benchmarks/frontier_latency.py --repeat 3 --device cuda

For each embedded benchmark with a frontier: `frontier_latencies` (what a worker runs once per
machine when it starts, submissions/services/frontier_timing.py: each smaller dense network timed
against the dense one, 30 interleaved repetitions at batch 1 and 64, PRUNEBOARD_LATENCY_THREADS
threads), `--repeat` times in this process. It prints the seconds of each pass and each network's
measured speedup at batch 64 (dense ms / its ms) per pass with the spread (max / min - 1), and
ends with `seconds=` the first pass's total: what a worker's first start costs on this machine.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from evaluator.frontier import WIDTHS, frontier_latencies  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--benchmarks", nargs="*", default=list(WIDTHS))
    args = parser.parse_args()
    first_total = 0.0
    for name in args.benchmarks:
        passes, seconds = [], []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            passes.append(frontier_latencies(name, device=args.device))
            seconds.append(time.perf_counter() - t0)
        first_total += seconds[0]
        print(f"{name}: {len(passes[0])} networks, seconds per pass " + ", ".join(f"{s:.2f}" for s in seconds))
        for network in passes[0]:
            speedups = [p[network].speedup(64) for p in passes]
            spread = max(speedups) / min(speedups) - 1
            print(f"  {network:22s} speedup b64 " + ", ".join(f"{s:.2f}" for s in speedups)
                  + f"  spread {spread:.1%}  ({passes[0][network].device_name}, {passes[0][network].threads} thread(s))")
    print(f"seconds={first_total:.1f}")


if __name__ == "__main__":
    main()
