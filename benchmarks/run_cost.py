"""What one run costs, and where the time goes: wall and CPU seconds of `runner.score_run`.

    .venv/bin/python benchmarks/run_cost.py                       # mnist1d-cnn, digits-mlp, digits-cnn
    .venv/bin/python benchmarks/run_cost.py --before /tmp/speed-base --repeat 3
    .venv/bin/python benchmarks/run_cost.py --threads 1 --benchmarks mnist1d-cnn

Each measurement is a fresh process (`--child`) that loads the benchmark's context once,
computes one baseline's masks in process (global magnitude, 8x, seed 0 by default) and scores
the run `--runs` times, as a worker scores a batch's runs one after the other: the first run
pays the one-off start-up costs (oneDNN's kernels, lazy imports), the later ones do not.

The split (wall and CPU seconds) comes from timing the functions the runner calls, so it
measures older trees too: `masks` (computing them, before the run), `setup` (the fresh model,
mask validation, the calibration sample, the record), `metrics` (size/FLOPs/memory and the
layer tables, before and after), `connectivity` (effective compression), `pre_eval` and
`eval` (the test split before and after), `finetune` (training steps) and `validation` (the
per-epoch validation inside finetuning). CPU seconds count every thread of the process.

With `--before TREE` (a checkout of an older commit, e.g. `git worktree add /tmp/speed-base
a025735`) the same measurement alternates between that tree and this one, prints both, and
checks that the two trees' records are identical bit for bit (every column but the timings,
the code version and the sandbox): `identical=True`. The last line is `seconds=X.X`, the
median wall seconds of a warm mnist1d-cnn run (or of the first benchmark measured) here.
The machine is shared and noisy: compare figures measured in the same invocation.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PHASES = ("masks", "setup", "metrics", "connectivity", "pre_eval", "finetune", "validation", "eval")
NOT_COMPARED = {"code_version", "sandbox", "run_id"}  # run_id: pinned by the tree's protocol
VOLATILE = "time_"


class Clock:
    """Wall and CPU seconds per phase; nested phases are charged to the innermost only."""

    def __init__(self):
        self.wall = dict.fromkeys(PHASES, 0.0)
        self.cpu = dict.fromkeys(PHASES, 0.0)
        self.stack: list[str] = []

    def wrap(self, phase, fn, pick=None):
        def timed(*args, **kwargs):
            name = pick(self) if pick else phase
            w, c = time.perf_counter(), time.process_time()
            self.stack.append(name)
            try:
                return fn(*args, **kwargs)
            finally:
                self.stack.pop()
                dw, dc = time.perf_counter() - w, time.process_time() - c
                self.wall[name] += dw
                self.cpu[name] += dc
                if self.stack:  # the caller's phase excludes this one
                    self.wall[self.stack[-1]] -= dw
                    self.cpu[self.stack[-1]] -= dc
        return timed


def child(args) -> None:
    """Runs inside the measured tree (cwd and sys.path): prints one JSON line per run."""
    sys.path.insert(0, os.getcwd())
    from evaluator import finetune, runner  # first, as the CLI does: the package may set torch's environment

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    from evaluator.benchmarks import get_benchmark
    from evaluator.sandbox import StrategySource, compute_masks

    benchmark = get_benchmark(args.benchmark)
    ctx = runner.Context.load(benchmark)
    source = StrategySource(baseline=args.strategy)
    calibration = {args.seed: runner.calibration_batch(ctx.splits.train, benchmark.calibration_size, args.seed)}
    clock = Clock()
    evals = {"n": 0}

    def test_phase(_clock):
        evals["n"] += 1
        return "pre_eval" if evals["n"] % 2 == 1 else "eval"

    for name, phase, pick in (("model_metrics", "metrics", None), ("layer_sparsity", "metrics", None),
                              ("collapsed_layers", "metrics", None), ("effective_metrics", "connectivity", None),
                              ("train", "finetune", None), ("evaluate", "eval", test_phase)):
        if hasattr(runner, name):
            setattr(runner, name, clock.wrap(phase, getattr(runner, name), pick))
    finetune.evaluate = clock.wrap("validation", finetune.evaluate)

    for i in range(args.runs):
        for phase in PHASES:
            clock.wall[phase] = clock.cpu[phase] = 0.0
        w, c = time.perf_counter(), time.process_time()
        masks = compute_masks(source, model_name=benchmark.model, num_classes=ctx.splits.num_classes,
                              state_dict=ctx.state_dict, calibration=calibration,
                              jobs=[(args.compression, args.seed)])[0]
        clock.wall["masks"], clock.cpu["masks"] = time.perf_counter() - w, time.process_time() - c
        record = runner.score_run(ctx, source, args.compression, args.seed, masks)
        wall, cpu = time.perf_counter() - w, time.process_time() - c
        clock.wall["setup"] = wall - sum(v for k, v in clock.wall.items() if k != "setup")
        clock.cpu["setup"] = cpu - sum(v for k, v in clock.cpu.items() if k != "setup")
        kept = {k: v for k, v in record.items() if not k.startswith(VOLATILE) and k not in NOT_COMPARED}
        print(json.dumps({"run": i, "wall": wall, "cpu": cpu, "split_wall": clock.wall, "split_cpu": clock.cpu,
                          "threads": torch.get_num_threads(),
                          "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", "(unset)"),
                          "record": {k: repr(v) for k, v in kept.items()}}),
              flush=True)


def measure(tree: Path, benchmark: str, threads: int, args) -> list[dict]:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", "--benchmark", benchmark,
           "--strategy", args.strategy, "--compression", str(args.compression), "--seed", str(args.seed),
           "--runs", str(args.runs), "--threads", str(threads)]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    out = subprocess.run(cmd, cwd=tree, env=env, check=True, capture_output=True, text=True).stdout
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def summary(rows: list[dict]) -> str:
    med = lambda key, phase=None: statistics.median(r[key][phase] if phase else r[key] for r in rows)  # noqa: E731
    split = ", ".join(f"{p} {med('split_wall', p):.2f}/{med('split_cpu', p):.2f}" for p in PHASES)
    return f"wall {med('wall'):.2f} s, CPU {med('cpu'):.2f} s (n={len(rows)}; wall/CPU: {split})"


def compare(rows: dict[str, list[dict]], ignore=()) -> bool:
    """True when every record is the same, bit for bit; else prints the columns that differ."""
    first, same = next(iter(rows.values()))[0]["record"], True
    for label, got in rows.items():
        for r in got:
            diff = {k: (first.get(k), v) for k, v in r["record"].items() if first.get(k) != v and k not in ignore}
            if diff:
                print(f"    {label}, run {r['run']} differs: {diff}")
            same &= not diff
    return same


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--benchmarks", default="mnist1d-cnn,digits-mlp,digits-cnn")
    parser.add_argument("--benchmark", help=argparse.SUPPRESS)
    parser.add_argument("--strategy", default="global-mag-weight", help="a built-in baseline")
    parser.add_argument("--compression", type=float, default=8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--runs", type=int, default=2, help="runs scored per process (first: cold)")
    parser.add_argument("--repeat", type=int, default=1, help="processes per tree and benchmark")
    parser.add_argument("--threads", default="0",
                        help="torch threads, or several comma-separated (0: torch's default)")
    parser.add_argument("--before", type=Path, help="an older checkout to measure alternately")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        args.threads = int(args.threads)
        return child(args)

    trees = {"after": ROOT} if args.before is None else {"before": args.before.resolve(), "after": ROOT}
    thread_counts = [int(t) for t in args.threads.split(",")]
    identical, walls = True, {}  # benchmark -> median warm wall seconds here, first thread count
    for benchmark in args.benchmarks.split(","):
        per_count = {}  # torch threads -> this tree's records
        for threads in thread_counts:
            rows = {label: [] for label in trees}
            for _ in range(args.repeat):
                for label, tree in trees.items():
                    rows[label] += measure(tree, benchmark, threads, args)
            print(f"{benchmark} ({args.strategy}, {args.compression:g}x, seed {args.seed}, "
                  f"{rows['after'][0]['threads']} torch threads, load average {os.getloadavg()[0]:.1f}):")
            for label, got in rows.items():
                cold = [r for r in got if r["run"] == 0]
                warm = [r for r in got if r["run"] > 0] or cold
                print(f"  {label:6} (OMP_WAIT_POLICY {got[0]['omp_wait_policy']})")
                print(f"  {label:6} first run: {summary(cold)}")
                print(f"  {label:6} later runs: {summary(warm)}")
            same = compare(rows)
            identical &= same
            print(f"  records identical across {'trees and ' if len(trees) > 1 else ''}runs: {same}")
            per_count[threads] = rows["after"]
            warm = [r for r in rows["after"] if r["run"] > 0] or rows["after"]
            walls.setdefault(benchmark, statistics.median(r["wall"] for r in warm))
        if len(per_count) > 1:  # information only: a run records its thread count
            print(f"  {benchmark}: the same records with {', '.join(map(str, per_count))} threads: "
                  f"{compare({f'{t} threads': got for t, got in per_count.items()}, ignore={'torch_threads'})}")
    print(f"identical={identical}")
    print(f"seconds={walls.get('mnist1d-cnn', next(iter(walls.values()))):.1f}")


if __name__ == "__main__":
    main()
