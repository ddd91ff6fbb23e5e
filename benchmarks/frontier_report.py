"""Does any pruning method beat the dense frontier, and at which cost?

Reads CSVs of runs (the evaluator's, `python -m evaluator run ... --out x.csv`, or a board's
download `/b/<benchmark>.csv`: the same columns) and prints, per benchmark, strategy and requested
compression, the mean top-1 over seeds and its distance to the benchmark's dense frontier
(evaluator/frontier.py: top-1 minus the best smaller dense network with no more parameters than
the run's nonzero ones, and with no more MACs), in points of top-1. Ends with one line
`beats=N`: the (strategy, compression) cells above 1x that stand above the frontier by parameters.

    .venv/bin/python -m evaluator run --benchmark digits-mlp --baseline all --out /tmp/mlp.csv
    .venv/bin/python benchmarks/frontier_report.py /tmp/mlp.csv
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd
from tabulate import tabulate

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from evaluator.frontier import get_frontier, method_distance  # noqa: E402


def signed(value) -> str:
    return "–" if value is None else f"{value * 100:+.1f}"


def report(frame: pd.DataFrame) -> tuple[str, list[tuple]]:
    """The table's text and the (benchmark, strategy, compression, distance) cells above 1x that
    beat the frontier by parameters."""
    rows, beating = [], []
    for (benchmark, strategy), runs in frame.groupby(["benchmark", "strategy"], sort=True):
        frontier = get_frontier(benchmark)
        if frontier is None:
            print(f"{benchmark}: no dense frontier", file=sys.stderr)
            continue
        distance = method_distance(frontier, zip(runs["compression_requested"], runs["top1"],
                                                 runs["compression"], runs["speedup"]))
        means = runs.groupby("compression_requested")["top1"].agg(["mean", "count"])
        for point in distance.points:
            mean, n = means.loc[point.compression]
            rows.append([benchmark, strategy, f"{point.compression:g}×", f"{mean * 100:.1f}", int(n),
                         signed(point.params), point.frontier_params or "–",
                         signed(point.macs), point.frontier_macs or "–"])
            if point.compression > 1 and point.params is not None and point.params > 1e-9:
                beating.append((benchmark, strategy, point.compression, point.params))
    table = tabulate(rows, headers=["benchmark", "strategy", "compression", "top-1 %", "n",
                                    "vs dense (params)", "frontier network", "vs dense (MACs)",
                                    "frontier network"], disable_numparse=True)
    return table, beating


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("csv", nargs="+", type=Path, help="CSVs of runs (evaluator or board download)")
    args = p.parse_args(argv)
    frame = pd.concat([pd.read_csv(path) for path in args.csv], ignore_index=True)
    frame = frame[frame["top1"].notna()]
    table, beating = report(frame)
    print(table)
    print()
    for benchmark, strategy, compression, value in beating:
        print(f"{benchmark}: {strategy} at {compression:g}× beats the frontier by {value * 100:.1f} points")
    print(f"beats={len(beating)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
