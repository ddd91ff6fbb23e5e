"""Results computed once (evaluator/sharing.py): every built-in method (7 baselines + 5 reference
methods) on one target, the same sweep without sharing and with it, in one process. Prints runs
computed and shared, wall and CPU seconds of each, and ends with `ratio=X.XXX` (CPU seconds with
sharing / without). At 1x the baselines and reference methods keep every weight, and SNIP's masks equal
global-mag-grad's, so those runs are shared.
Run: `.venv/bin/python benchmarks/shared_results.py [--benchmark digits-mlp] [--compressions 1,2] [--seeds 0]`
"""

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from evaluator.benchmarks import get_benchmark  # noqa: E402
from evaluator.pruning import BASELINES, REFERENCES  # noqa: E402
from evaluator.runner import Context, sweep  # noqa: E402
from evaluator.sandbox import StrategySource  # noqa: E402
from evaluator.sharing import SweepResults  # noqa: E402

if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--benchmark", default="digits-mlp")
    p.add_argument("--compressions", default="1,2")
    p.add_argument("--seeds", default="0")
    args = p.parse_args()
    ctx = Context.load(get_benchmark(args.benchmark), device="cpu")
    sources = [StrategySource(baseline=name) for name in [*BASELINES, *REFERENCES]]
    compressions = [float(c) for c in args.compressions.split(",")]
    seeds = [int(s) for s in args.seeds.split(",")]
    cpu = {}
    for share in (False, True):
        results = SweepResults(share=share)
        wall, start = time.perf_counter(), time.process_time()
        records, failures = sweep(ctx, sources, compressions, seeds, score=results)
        cpu[share] = time.process_time() - start
        print(f"sharing {'on ' if share else 'off'}: {len(records)} runs ({len(failures)} failed), "
              f"{results.computed} computed, {results.shared} shared; "
              f"{time.perf_counter() - wall:.1f} s wall, {cpu[share]:.1f} CPU s")
    print(f"ratio={cpu[True] / cpu[False]:.3f}")
