"""What reproduces of the foresight-pruning study (Frankle et al. 2021; and the "Gauging the
State-of-the-Art for Foresight Weight Pruning" comparison) on a track's sweep: per method and
compression the mean test top-1 over seeds, magnitude vs random at 16x and 64x, and which runs
collapsed a layer (a prunable layer left with no weight) or disconnected the network.

Input: CSVs written by `python -m evaluator run` (concatenated; e.g. one sweep split in two).
Run:   .venv/bin/python -m evaluator run --benchmark digits-mlp --track init --baseline all --out init.csv
       .venv/bin/python benchmarks/foresight_report.py init.csv
Ends with `magnitude_minus_random_64x=X.XXXX` (global-mag-weight minus random, top-1 at 64x).
"""

import sys

import pandas as pd
from tabulate import tabulate


def summary(frame: pd.DataFrame) -> str:
    table = frame.pivot_table(index="strategy", columns="compression_requested", values="top1",
                              aggfunc=["mean", "std", "count"])
    rows = []
    for strategy in table.index:
        cells = [f"{table.loc[strategy, ('mean', c)]:.2%} ± {table.loc[strategy, ('std', c)]:.2%}"
                 for c in sorted(frame["compression_requested"].unique())]
        rows.append([strategy, *cells])
    return tabulate(rows, headers=["strategy", *(f"{c:g}x" for c in sorted(frame["compression_requested"].unique()))])


def main(paths: list[str]) -> None:
    frame = pd.concat([pd.read_csv(p) for p in paths], ignore_index=True)
    print(f"{len(frame)} runs: {', '.join(sorted(frame['benchmark'].unique()))}\n")
    print(summary(frame), "\n")
    mean = frame.groupby(["strategy", "compression_requested"])["top1"].mean()
    for c in (16.0, 64.0):
        if ("random", c) in mean:
            for method in ("global-mag-weight", "layer-mag-weight"):
                if (method, c) in mean:
                    print(f"{c:g}x: {method} {mean[method, c]:.2%} vs random {mean['random', c]:.2%} "
                          f"({mean[method, c] - mean['random', c]:+.2%})")
    collapse = frame.groupby(["strategy", "compression_requested"]).agg(
        collapsed=("layer_collapse", "sum"), disconnected=("disconnected", "sum"), n=("seed", "count"))
    hit = collapse[(collapse["collapsed"] > 0) | (collapse["disconnected"] > 0)]
    print("\nlayer collapse (runs with a prunable layer left empty / network disconnected, of n):")
    print(tabulate(hit.reset_index().values.tolist(), headers=["strategy", "compression", "collapsed",
                                                                "disconnected", "n"]) if len(hit) else "none")
    for strategy, group in frame[frame["layer_collapse"]].groupby("strategy"):
        layers = sorted({layer for value in group["collapsed_layers"] for layer in eval_list(value)})
        print(f"  {strategy}: {', '.join(layers)}")
    if ("global-mag-weight", 64.0) in mean and ("random", 64.0) in mean:
        print(f"magnitude_minus_random_64x={mean['global-mag-weight', 64.0] - mean['random', 64.0]:.4f}")


def eval_list(text: str) -> list[str]:
    import json
    return json.loads(text) if isinstance(text, str) else []


if __name__ == "__main__":
    main(sys.argv[1:])
