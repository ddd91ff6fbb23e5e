"""Does a run's measured latency repeat on the same machine? And what does an unstructured mask
measure?

    .venv/bin/python benchmarks/latency_repeat.py                      # 5 fresh processes each
    .venv/bin/python benchmarks/latency_repeat.py --repeat 10 --benchmarks digits-cnn

For each benchmark: the pinned dense weights and the same weights under a 16x global-magnitude
mask (unstructured, run as dense weights), timed as a run times them (`measure_latency`: 30
interleaved repetitions, median, batch 1 and 64, PRUNEBOARD_LATENCY_THREADS threads), `--repeat`
times, each in a fresh process. Per batch size it prints the pruned and dense medians' spread
over the repeats (max / min - 1) and the measured speedup's, and the seconds one measurement
adds to a run. Repeats agree when every spread is under 10 %. The 16x mask's measured speedup is
about 1: zeros are multiplied like any other weight.
The machine is shared: a neighbour's burst moves the milliseconds; the interleaving keeps the
speedup, a ratio of two timings taken under the same load, steadier than either.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCHMARKS = ("digits-mlp", "digits-cnn", "mnist1d-cnn")
AGREE = 0.10


def measure_once(name: str, compression: float) -> dict:
    """One measurement in this process: dense vs the masked model, as `score_run` times them."""
    sys.path.insert(0, str(ROOT))
    from evaluator.benchmarks import get_benchmark
    from evaluator.finetune import MaskedWeights
    from evaluator.latency import measure_latency
    from evaluator.pruning import GlobalMagWeight, Mask
    from evaluator.runner import Context, calibration_batch

    ctx = Context.load(get_benchmark(name), device="cpu")
    model = ctx.fresh_model()
    mask = Mask.from_strategy_output(model, GlobalMagWeight(model, compression=compression).model_masks())
    MaskedWeights(model, mask.to_torch("cpu")).apply()
    example = calibration_batch(ctx.splits.train, 1, 0)[0][0]
    t0 = time.perf_counter()
    latency = measure_latency(model, ctx.fresh_model(), example)
    seconds = time.perf_counter() - t0
    return {"pruned": latency.pruned_ms, "dense": latency.dense_ms, "seconds": seconds,
            "threads": latency.threads, "machine": f"{latency.device_name} ({latency.device})"}


def spread(values: list[float]) -> float:
    return max(values) / min(values) - 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--benchmarks", nargs="+", default=list(BENCHMARKS))
    parser.add_argument("--repeat", type=int, default=5, help="fresh processes per benchmark")
    parser.add_argument("--compression", type=float, default=16.0)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure_once(args.child, args.compression)))
        return 0

    worst = 0.0
    for name in args.benchmarks:
        runs = []
        for _ in range(args.repeat):
            out = subprocess.run([sys.executable, __file__, "--child", name, "--compression", str(args.compression)],
                                 capture_output=True, text=True, check=True, cwd=ROOT).stdout
            runs.append(json.loads(out.strip().splitlines()[-1]))
        print(f"{name}: {args.repeat} fresh processes, {runs[0]['threads']} thread(s), {runs[0]['machine']}, "
              f"{args.compression:g}x global magnitude (unstructured)")
        for batch in ("1", "64"):
            pruned = [r["pruned"][batch] for r in runs]
            dense = [r["dense"][batch] for r in runs]
            speedups = [d / p for d, p in zip(dense, pruned)]
            worst = max(worst, spread(pruned), spread(dense))
            print(f"  batch {batch:>2}: pruned {min(pruned):.4f}-{max(pruned):.4f} ms (spread {spread(pruned):.1%}), "
                  f"dense {min(dense):.4f}-{max(dense):.4f} ms (spread {spread(dense):.1%}), "
                  f"measured speedup {min(speedups):.3f}-{max(speedups):.3f} (spread {spread(speedups):.1%})")
        seconds = sorted(r["seconds"] for r in runs)
        print(f"  seconds added to a run: median {seconds[len(seconds) // 2]:.2f} (max {seconds[-1]:.2f})")
    print(f"worst spread of a median: {worst:.1%} ({'within' if worst <= AGREE else 'beyond'} {AGREE:.0%})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
