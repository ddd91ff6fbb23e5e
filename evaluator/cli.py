"""`python -m evaluator ...`: run, replay, metrics, benchmarks, pretrain, init. Other tools call this; keep it stable.

Exit status: 0 when everything asked for succeeded, 1 when a run failed, 2 for bad arguments.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import pandas as pd
import torch
from tabulate import tabulate
from tqdm import tqdm

from .benchmarks import DEFAULT_TRACK, get_benchmark, list_benchmarks
from .tracks import resolve_target
from .columns import COLUMNS, write_csv


def _floats(text: str) -> list[float]:
    try:
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}")
    if not values or any(v < 1 for v in values):
        raise argparse.ArgumentTypeError(f"compressions must be numbers >= 1, got {text!r}")
    return values


def _ints(text: str) -> list[int]:
    try:
        return [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}")


def _width(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number (hidden units or a channel multiplier), got {text!r}")
    if not value > 0 or value != value or value == float("inf"):
        raise argparse.ArgumentTypeError(f"a width must be a positive number, got {text!r}")
    return value


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"expected a share from 0 to 1, got {text!r}")
    return value


def _shape(text: str) -> tuple[int, ...]:
    try:
        shape = tuple(int(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a shape like 3,32,32, got {text!r}")
    if not shape or any(v < 1 for v in shape):
        raise argparse.ArgumentTypeError(f"shape dimensions must be positive, got {text!r}")
    return shape


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m evaluator", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="evaluate strategies on a benchmark; one CSV row per run")
    run.add_argument("--benchmark", required=True)
    run.add_argument("--track", help="the comparison setup: after (default), init, long, structured, nm24; "
                                     "`benchmarks` lists each benchmark's tracks")
    who = run.add_mutually_exclusive_group(required=True)
    who.add_argument("--strategy", action="append", metavar="FILE.py[:Class]",
                     help="a strategy file (repeatable)")
    who.add_argument("--baseline", metavar="NAME|all",
                     help="a built-in baseline (global-mag-weight or GlobalMagWeight), or all")
    who.add_argument("--reference", metavar="NAME|all",
                     help="a built-in reference method (synflow or SynFlow), or all")
    run.add_argument("--compressions", type=_floats, help="default: the benchmark's (1,2,...,64)")
    run.add_argument("--seeds", type=_ints, help="default: the benchmark's (0,1,2)")
    run.add_argument("--out", type=Path, required=True, help="CSV to write (one row per run)")
    run.add_argument("--device", help="cpu, cuda, cuda:1 (default: cuda when present)")
    run.add_argument("--data-root", help="datasets folder (default: $PRUNEBOARD_DATA_ROOT or ./data)")
    run.add_argument("--no-share", action="store_true",
                     help="finetune every run, even one whose result key (target, protocol, weights, "
                          "masks, seed) an earlier run of the sweep computed")
    run.add_argument("--verify-shared", type=_fraction, default=0.0, metavar="FRACTION",
                     help="compute this share (0 to 1) of the runs that would be shared and require "
                          "the identical record; a mismatch is printed and the exit status is 1")
    run.add_argument("--masks-dir", type=Path, metavar="DIR",
                     help="write each run's masks to DIR/<masks SHA-256>.masks (for `replay`)")

    rep = sub.add_parser("replay", help="finetune and score a run's masks under its recorded protocol "
                                        "and compare with its CSV row: identical, or what differs")
    where = rep.add_mutually_exclusive_group(required=True)
    where.add_argument("--csv", type=Path, help="a CSV of runs (the evaluator's or the site's)")
    where.add_argument("--server", metavar="URL", help="a pruneboard site: the row and masks come from "
                                                        "/r/<run-id>.csv and /r/<run-id>/masks")
    rep.add_argument("--run-id", help="the run: its run_id (or run_pk) in --csv, optional when the CSV "
                                      "has one row; its number on the site with --server")
    rep.add_argument("--masks", type=Path, metavar="FILE",
                     help="the run's masks file (required with --csv; with --server, default: the site's)")
    rep.add_argument("--device", help="default: the device kind the run was scored on")
    rep.add_argument("--data-root")

    metrics = sub.add_parser("metrics", help="size, FLOPs and memory of a dense model")
    metrics.add_argument("--model", required=True)
    metrics.add_argument("--input", type=_shape, help="one sample's shape, e.g. 3,224,224")
    metrics.add_argument("--json", action="store_true", help="print one JSON object")

    sub.add_parser("benchmarks", help="list the benchmarks")

    imp = sub.add_parser("import-weights", help="pin a published checkpoint (ShrinkBench's CIFAR ResNets) "
                                               "as a benchmark's weights")
    imp.add_argument("benchmark")
    imp.add_argument("file", type=Path, help="the published .th file (its SHA-256 must be the pinned one)")
    imp.add_argument("--out-dir", type=Path, help="default: $PRUNEBOARD_WEIGHTS_DIR or weights/")

    pre = sub.add_parser("pretrain", help="train a benchmark's dense weights deterministically")
    pre.add_argument("benchmark")
    width = pre.add_mutually_exclusive_group()
    width.add_argument("--width", type=_width, help="a network of the benchmark's dense frontier "
                                                    "(evaluator/frontier.py): hidden units or channel multiplier")
    width.add_argument("--frontier", action="store_true",
                       help="every network of the dense frontier but the benchmark's own")
    pre.add_argument("--out-dir", type=Path, help="default: $PRUNEBOARD_WEIGHTS_DIR or weights/")
    pre.add_argument("--device")
    pre.add_argument("--data-root")

    init = sub.add_parser("init", help="write a benchmark's initial weights for the init track "
                                       "(deterministic; no data needed)")
    init.add_argument("benchmark")
    init.add_argument("--out-dir", type=Path, help="default: $PRUNEBOARD_WEIGHTS_DIR or weights/")
    return p


def dense_top1_text(benchmark) -> str:
    """The registry's dense top-1, else the publisher's figure of pinned published weights
    (evaluator/published.py) marked "(published)", else "-"."""
    from .published import PUBLISHED

    if benchmark.reference_top1:
        return f"{benchmark.reference_top1:.2%}"
    if benchmark.name in PUBLISHED:
        return f"{PUBLISHED[benchmark.name].top1:.2%} (published)"
    return "-"


def cmd_benchmarks(args) -> int:
    rows = [(b.name, b.track, b.dataset, b.model, "embedded" if b.embedded else "standard", b.queue,
             dense_top1_text(b), b.description)
            for b in list_benchmarks()]
    print(tabulate(rows, headers=["benchmark", "track", "dataset", "model", "kind", "queue",
                                  "dense top-1", ""]))
    return 0


def cmd_metrics(args) -> int:
    from .metrics import model_metrics
    from .models import get_model, model_input_shape

    model = get_model(args.model)
    shape = args.input or model_input_shape(args.model)
    values = model_metrics(model, torch.zeros(shape), None).as_dict()
    if args.json:
        print(json.dumps(values))
    else:
        print(tabulate(values.items(), headers=["metric", "value"]))
    return 0


def cmd_run(args) -> int:
    from .pruning import BASELINES, REFERENCES, baseline_name, reference_name
    from .runner import Context, Failure, sweep
    from .sandbox import StrategySource
    from .sharing import SweepResults

    benchmark = resolve_target(args.benchmark, args.track)
    builtin, registry, lookup = ((args.baseline, BASELINES, baseline_name) if args.baseline
                                 else (args.reference, REFERENCES, reference_name))
    if builtin == "all":
        sources = [StrategySource(baseline=name) for name in registry]
    elif builtin:
        try:
            sources = [StrategySource(baseline=lookup(builtin))]
        except ValueError as exc:
            raise ValueError(f"{exc}, or all") from None
    else:
        sources = [StrategySource.from_spec(spec) for spec in args.strategy]
    compressions = args.compressions or list(benchmark.compressions)
    seeds = args.seeds if args.seeds is not None else list(benchmark.seeds)
    ctx = Context.load(benchmark, device=args.device, data_root=args.data_root)

    bar = tqdm(total=len(sources) * len(compressions) * len(seeds), unit="run", file=sys.stderr)

    def on_result(item):
        bar.update(1)
        if isinstance(item, Failure):
            tqdm.write(f"FAILED {item.strategy} compression {item.compression:g} seed {item.seed}: "
                       f"{item.error.message}", file=sys.stderr)
            if item.error.traceback:
                tqdm.write(item.error.traceback.rstrip(), file=sys.stderr)

    results = SweepResults(args.verify_shared, share=not args.no_share, masks_dir=args.masks_dir)
    records, failures = sweep(ctx, sources, compressions, seeds, on_result=on_result, results=results)
    bar.close()
    print(f"{results.computed} runs computed, {results.shared} shared (same result key as a computed "
          f"one){f', {results.checked} checked by computing them' if results.checked else ''}", file=sys.stderr)
    if records:
        write_csv(records, args.out)
        print(summary_table(pd.DataFrame(records, columns=COLUMNS)))
        print(f"\nwrote {len(records)} runs to {args.out}")
    if failures:
        print(f"{len(failures)} of {len(failures) + len(records)} runs failed", file=sys.stderr)
        return 1
    if results.mismatched:
        print(f"{len(results.mismatched)} shared result(s) did not match their recomputation (above)",
              file=sys.stderr)
        return 1
    return 0


def cmd_replay(args) -> int:
    from . import maskfile
    from .replay import ReplayError, difference_text, fetch, read_row, replay

    if args.csv and not args.masks:
        raise ReplayError("--masks FILE is needed with --csv (the run page offers the masks file)")
    if args.server:
        if not args.run_id:
            raise ReplayError("--run-id is needed with --server")
        row, blob = fetch(args.server, args.run_id, masks=not args.masks)
        mask = maskfile.read(args.masks) if args.masks else maskfile.loads(blob, name="the server's masks file")
    else:
        row, mask = read_row(args.csv, args.run_id), maskfile.read(args.masks)
    differing = replay(row, mask, device=args.device, data_root=args.data_root)
    if differing:
        print(f"run {row['run_id']} differs on {len(differing)} figure(s) (recorded -> replayed):")
        print(difference_text(differing))
        return 1
    print(f"identical: run {row['run_id']} ({row['benchmark']}, {row['strategy']}, "
          f"{float(row['compression_requested']):g}x, seed {row['seed']}) replayed to the same figures")
    return 0


def summary_table(frame: pd.DataFrame) -> str:
    grouped = frame.groupby(["strategy", "compression_requested"], sort=True)
    rows = []
    for (strategy, requested), g in grouped:
        std = g["top1"].std(ddof=1) if len(g) > 1 else 0.0
        measured = g["measured_speedup_b64"].mean()  # NaN in a CSV written before latency was timed
        rows.append([strategy, f"{requested:g}", f"{g['compression'].mean():.2f}",
                     f"{g['speedup'].mean():.2f}", "-" if pd.isna(measured) else f"{measured:.2f}",
                     f"{g['pre_top1'].mean():.2%}", f"{g['top1'].mean():.2%} ± {std:.2%}", len(g)])
    return tabulate(rows, headers=["strategy", "requested", "compression", "speedup",
                                   "measured (b64)", "top-1 before ft", "top-1 (mean ± std)", "n"])


def cmd_pretrain(args) -> int:
    from .pretrain import pretrain

    benchmark = get_benchmark(args.benchmark)
    if benchmark.track != DEFAULT_TRACK:
        raise ValueError(f"{benchmark.name!r} is a track of {benchmark.base!r}, whose weights "
                         f"`pretrain {benchmark.base}` (pretrained) or `init {benchmark.base}` "
                         f"(initial) write")
    if args.frontier:
        from .frontier import WIDTHS

        if benchmark.name not in WIDTHS:
            raise ValueError(f"{benchmark.name!r} has no dense frontier to pretrain; those with one: "
                             f"{', '.join(WIDTHS)}")
        widths = WIDTHS[benchmark.name][:-1]  # the last is the benchmark's own network
    else:
        widths = [args.width]
    for width in widths:
        started = time.perf_counter()
        pretrain(benchmark, out_dir=args.out_dir, device=args.device, data_root=args.data_root, width=width)
        if width is not None:
            print(f"{benchmark.name}@{width:g}: {time.perf_counter() - started:.0f} s")
    return 0


def cmd_init(args) -> int:
    from .pretrain import initialize

    initialize(get_benchmark(args.benchmark), out_dir=args.out_dir)
    return 0


def cmd_import_weights(args) -> int:
    from .published import import_weights

    if not args.file.is_file():
        raise FileNotFoundError(f"{args.file} does not exist")
    path, digest = import_weights(args.benchmark, args.file, args.out_dir)
    print(f"wrote {path} (SHA-256 {digest}) and {path.with_suffix('.sha256').name}")
    return 0


COMMANDS = {"run": cmd_run, "replay": cmd_replay, "metrics": cmd_metrics, "benchmarks": cmd_benchmarks,
            "pretrain": cmd_pretrain, "init": cmd_init, "import-weights": cmd_import_weights}


def main(argv: list[str] | None = None) -> int:
    from .datasets import DatasetNotFound
    from .weights import WeightsError

    args = parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except (ValueError, FileNotFoundError, DatasetNotFound, WeightsError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
