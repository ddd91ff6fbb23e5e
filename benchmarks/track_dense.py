"""The init track's cost and what it reaches dense. For each benchmark: one method's whole sweep
(7 compressions x 3 seeds) through the CLI on the after track and on the init track, the seconds
of each and their ratio of CPU seconds (target: init <= about 2 x after on 2 cores; CPU time,
not wall time, because the machine is shared), and the dense test top-1 on
each (the 1x runs: masks that keep every weight; on the init track, the initial weights trained
from scratch under the track's shortened protocol). `--dense-only` runs just the 1x seed-0 run.
Ends with `ratio=X.XX` (the largest init/after ratio).
Run: `nice -n 10 .venv/bin/python benchmarks/track_dense.py --benchmarks digits-mlp,digits-cnn`
"""

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def sweep(benchmark: str, track: str, method: str, dense_only: bool) -> tuple[float, float, pd.DataFrame]:
    """(wall seconds, CPU seconds of the CLI process, its CSV)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "runs.csv"
        extra = ["--compressions", "1", "--seeds", "0"] if dense_only else []
        start, cpu = time.perf_counter(), cpu_seconds()
        subprocess.run([sys.executable, "-m", "evaluator", "run", "--benchmark", benchmark,
                        "--track", track, "--baseline", method, "--out", str(out), *extra],
                       cwd=ROOT, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return time.perf_counter() - start, cpu_seconds() - cpu, pd.read_csv(out)


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--benchmarks", default="digits-mlp,digits-cnn,mnist1d-cnn")
    p.add_argument("--method", default="global-mag-weight")
    p.add_argument("--dense-only", action="store_true")
    args = p.parse_args()
    ratios = []
    for name in args.benchmarks.split(","):
        seconds = {}
        for track in ("after", "init"):
            wall, seconds[track], runs = sweep(name, track, args.method, args.dense_only)
            dense = runs[runs["compression_requested"] == 1]["top1"]
            print(f"{name} {track}: {len(runs)} runs in {wall:.1f} s wall, {seconds[track]:.1f} s CPU; dense top-1 "
                  f"{dense.mean():.4f} (n={len(dense)}, {', '.join(f'{v:.4f}' for v in dense)})", flush=True)
        ratios.append(seconds["init"] / seconds["after"])
        print(f"{name}: init / after = {ratios[-1]:.2f}", flush=True)
    print(f"ratio={max(ratios):.2f}")
