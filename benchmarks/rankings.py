"""The note's rank tables: every baseline and reference method on the embedded benchmarks, ranked
by compression and by speedup with the site's own functions (leaderboard/ranking.py, no database).

For each benchmark, reads out/rankings/<benchmark>-baseline.csv and -reference.csv, or, with
--run, makes the missing ones first through the evaluator CLI exactly as a user would:
    python -m evaluator run --benchmark B --baseline all  --out out/rankings/B-baseline.csv
    python -m evaluator run --benchmark B --reference all --out out/rankings/B-reference.csv
(the full 7 compressions x 3 seeds of each method). Prints per benchmark both rankings (rank,
band, score, 95 % t interval, n seeds), the facts the literature's claims are about (top-1 at
16x and 64x, disconnected networks, layerwise vs global speedup at equal compression) and the
mean rank across the benchmarks.

Run: `nice -n 10 .venv/bin/python benchmarks/rankings.py [--run] [BENCHMARK ...]`
(default benchmarks: digits-mlp digits-cnn; docs/rankings.md holds the output).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pandas as pd
from tabulate import tabulate

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from evaluator.benchmarks import get_benchmark  # noqa: E402
from evaluator.pruning import BASELINES, REFERENCES  # noqa: E402
from leaderboard.ranking import (Score, common_buckets, compression_ranking, cross_benchmark,  # noqa: E402
                                 full_sweep, speedup_ranking)

TIERS = {**{name: "baseline" for name in BASELINES}, **{name: "reference" for name in REFERENCES}}
ORDER = {name: (i,) for i, name in enumerate([*BASELINES, *REFERENCES])}  # ties: as registered


def sweep_csvs(benchmark: str, out: Path, run: bool) -> list[Path]:
    """The benchmark's CSVs under `out`: <benchmark>-baseline.csv, <benchmark>-reference.csv and
    any per-method <benchmark>-<tier>-<method>.csv (one method's sweep: `--baseline NAME`);
    with `run`, the two whole sweeps are made first when no CSV of that tier is there."""
    for tier in ("baseline", "reference"):
        path = out / f"{benchmark}-{tier}.csv"
        if run and not list(out.glob(f"{benchmark}-{tier}*.csv")):
            out.mkdir(parents=True, exist_ok=True)
            subprocess.run([sys.executable, "-m", "evaluator", "run", "--benchmark", benchmark, f"--{tier}",
                            "all", "--out", str(path)], cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    return sorted(p for tier in ("baseline", "reference") for p in out.glob(f"{benchmark}-{tier}*.csv"))


def runs_by_method(frame: pd.DataFrame) -> dict[str, dict]:
    """strategy -> {(compression, seed): (top1, speedup)}, as the site builds from its Run rows."""
    grouped = frame.groupby(["strategy", "compression_requested", "seed"])[["top1", "speedup"]].mean()
    methods: dict[str, dict] = {}
    for (strategy, compression, seed), row in grouped.iterrows():
        methods.setdefault(strategy, {})[float(compression), int(seed)] = (float(row.top1), float(row.speedup))
    return methods


def pct(value) -> str:
    return "-" if value is None else f"{value * 100:.2f}"


def table(rows: list[Score]) -> str:
    return tabulate([[r.rank, r.band, r.key, TIERS.get(r.key, "entry"), pct(r.score),
                      "-" if r.half_width is None else pct(r.half_width),
                      "-" if r.interval is None else f"{pct(r.interval[0])}–{pct(r.interval[1])}",
                      r.n, "" if r.complete else "partial: " + ", ".join(f"{m:g}x" for m in r.missing)]
                     for r in rows],
                    headers=["rank", "band", "method", "tier", "score %", "±", "95 % interval", "n", ""],
                    tablefmt="github", disable_numparse=True)


def facts(frame: pd.DataFrame) -> str:
    """Per method: mean top-1 at 16x and 64x, disconnected and collapsed runs at 64x, and the
    mean theoretical speedup at 4x and 64x (equal compression)."""
    rows = []
    for strategy, g in frame.groupby("strategy", sort=False):
        at = {c: g[g.compression_requested == c] for c in (4.0, 16.0, 64.0)}
        rows.append([strategy, pct(at[16.0].top1.mean()), pct(at[64.0].top1.mean()),
                     f"{int(at[64.0].disconnected.astype(str).eq('True').sum())}/{len(at[64.0])}",
                     f"{int(at[64.0].layer_collapse.astype(str).eq('True').sum())}/{len(at[64.0])}",
                     f"{at[4.0].speedup.mean():.2f}", f"{at[64.0].speedup.mean():.2f}"])
    rows.sort(key=lambda r: ORDER.get(r[0], (99,)))
    return tabulate(rows, headers=["method", "top-1 % at 16x", "at 64x", "disconnected at 64x",
                                   "layer collapse at 64x", "speedup at 4x", "at 64x"], tablefmt="github", disable_numparse=True)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("benchmarks", nargs="*", default=["digits-mlp", "digits-cnn"])
    p.add_argument("--out", type=Path, default=ROOT / "out" / "rankings")
    p.add_argument("--run", action="store_true", help="run the sweeps whose CSV is missing")
    args = p.parse_args()
    by_compression, by_speedup, full = {}, {}, {}
    for name in args.benchmarks:
        benchmark = get_benchmark(name)
        frames = [pd.read_csv(path) for path in sweep_csvs(name, args.out, args.run)]
        if not frames:
            print(f"## {name}: no sweep CSVs under {args.out} (pass --run to make them)\n")
            continue
        frame = pd.concat(frames, ignore_index=True)
        methods = runs_by_method(frame)
        scored = [float(c) for c in benchmark.compressions if float(c) > 1]
        order = {m: ORDER.get(m, (99, m)) for m in methods}
        by_compression[name] = compression_ranking(methods, scored, order)
        buckets = common_buckets({m: runs for m, runs in methods.items() if m in TIERS})
        by_speedup[name] = speedup_ranking(methods, order, buckets)
        full[name] = {m for m, runs in methods.items()
                      if full_sweep(runs, list(benchmark.compressions), list(benchmark.seeds))}
        missing = [m for m in ORDER if m not in full[name]]
        print(f"## {name} ({len(frame)} runs; {len(full[name])} of {len(ORDER)} built-in methods with a full "
              f"7 x 3 sweep{'; not full: ' + ', '.join(missing) if missing else ''})\n")
        print("By compression (score: mean top-1 over 2x-64x):\n")
        print(table(by_compression[name]), "\n")
        print(f"By speedup (score: mean top-1 read at {', '.join(f'{b:g}x' for b in buckets)} theoretical "
              "speedup, the buckets every built-in method reaches):\n")
        print(table(by_speedup[name]), "\n")
        print(facts(frame), "\n")
    if len(by_compression) > 1:
        for label, rankings in (("compression", by_compression), ("speedup", by_speedup)):
            every = cross_benchmark(rankings, full, {m: ORDER.get(m, (99, m)) for r in rankings.values()
                                                     for m in (x.key for x in r)})
            names = list(rankings)
            print(f"## Across benchmarks, by {label}\n")
            print(tabulate([[r.key, *[(f"{r.ranks[b].rank} (band {r.ranks[b].band})"
                                          if b in r.ranks else "-") for b in names],
                             "-" if r.mean_rank is None else f"{r.mean_rank:.2f}"] for r in every],
                           headers=["method", *names, "mean rank"], tablefmt="github", disable_numparse=True), "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
