"""Does a ranking hold when the finetuning changes? Kendall's tau-b between the methods' scores on
two tracks of one benchmark (default: mnist1d-cnn, the short finetuning, against mnist1d-cnn/long,
the longer decayed one). A method's score is the leaderboard's: the mean over the compressions
2x..64x of its mean test top-1 over seeds. Runs every baseline and reference method on both
tracks through the CLI (3 seeds, 7 compressions), or reads CSVs already written.
Run:   nice -n 10 .venv/bin/python benchmarks/track_tau.py                    # both sweeps, then tau
       nice -n 10 .venv/bin/python benchmarks/track_tau.py --methods baseline  # the 7 baselines only
       .venv/bin/python benchmarks/track_tau.py --csv short.csv --csv-other long.csv [--per-compression]
Ends with `tau=X.XX`. One sweep runs one process; on 2 cores, running the long sweep's seeds in
a second process (`python -m evaluator run ... --track long --seeds 1,2`, OMP_NUM_THREADS=1 in
each) and passing the CSVs took 40 minutes for the baselines (docs/tracks.md): about 7 s a run
on the short budget, 22 s on the long one.
"""

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd
from scipy.stats import kendalltau

ROOT = Path(__file__).resolve().parent.parent


def sweep(benchmark: str, track: str, out: Path, kinds: list[str]) -> Path:
    frames = []
    for kind in (f"--{k}" for k in kinds):
        part = out.with_name(f"{out.stem}{kind}.csv")
        subprocess.run([sys.executable, "-m", "evaluator", "run", "--benchmark", benchmark, "--track", track,
                        kind, "all", "--out", str(part)], cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
        frames.append(pd.read_csv(part))
    pd.concat(frames).to_csv(out, index=False)
    return out


def scores(path: Path) -> pd.Series:
    frame = pd.read_csv(path)
    frame = frame[frame["compression_requested"] > 1]
    return frame.groupby(["strategy", "compression_requested"])["top1"].mean().groupby("strategy").mean()


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--benchmark", default="mnist1d-cnn")
    p.add_argument("--tracks", default="after,long", help="the two tracks to compare")
    p.add_argument("--csv", type=Path, help="the first track's runs, already written")
    p.add_argument("--csv-other", type=Path, help="the second track's runs, already written")
    p.add_argument("--methods", default="baseline,reference",
                   help="which built-ins to sweep: baseline, reference or both (default)")
    p.add_argument("--per-compression", action="store_true",
                   help="also tau at each compression, over the methods' mean top-1 there")
    args = p.parse_args()
    first, second = args.tracks.split(",")
    with tempfile.TemporaryDirectory() as tmp:
        kinds = args.methods.split(",")
        a = args.csv or sweep(args.benchmark, first, Path(tmp) / f"{first}.csv", kinds)
        b = args.csv_other or sweep(args.benchmark, second, Path(tmp) / f"{second}.csv", kinds)
        sa, sb = scores(a), scores(b)
        if args.per_compression:
            at = {name: pd.read_csv(path).groupby(["compression_requested", "strategy"])["top1"].mean()
                  for name, path in ((first, a), (second, b))}
    both = sorted(set(sa.index) & set(sb.index))
    table = pd.DataFrame({first: sa[both], second: sb[both]})
    table[f"rank {first}"] = table[first].rank(ascending=False)
    table[f"rank {second}"] = table[second].rank(ascending=False)
    print(table.sort_values(first, ascending=False).to_string(float_format=lambda v: f"{v:.4f}"))
    if args.per_compression:
        for c in sorted(set(at[first].index.get_level_values(0)) - {1.0}):
            x, y = at[first][c], at[second][c]
            common = sorted(set(x.index) & set(y.index))
            print(f"{c:g}x: tau {kendalltau(x[common], y[common]).statistic:.2f} over {len(common)} methods")
    result = kendalltau(table[first], table[second])
    print(f"\n{len(both)} methods; Kendall tau-b {result.statistic:.3f} (p = {result.pvalue:.3g})")
    print(f"tau={result.statistic:.2f}")
