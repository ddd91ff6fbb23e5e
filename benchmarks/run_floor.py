"""A run's CPU seconds against its arithmetic floor, per embedded target (goal: ratio <= 3).

    .venv/bin/python benchmarks/run_floor.py                         # every embedded target
    .venv/bin/python benchmarks/run_floor.py --targets digits-mlp --before /tmp/floor-base

The floor of a run is its training and scoring multiply-accumulates divided by the rate this
machine reaches on the same layers: per Conv/Linear layer, its MACs per sample (from a real
forward pass) times the samples it sees (training: forward + backward ~ 3 x the forward, over
the training split each epoch; scoring: the validation split before finetuning and after each
epoch, the test split before and after), divided by the MACs per CPU second of that layer's
own forward (`F.linear` / `F.conv*` with the weights and input shapes of the run, at the
protocol's batch size), measured here in the same process.

A run's CPU seconds come from a fresh process per tree (`--child`) that loads the target once,
computes global magnitude masks at `--compression`x in process, scores one run to warm up and
then times `runner.score_run` of the next (seed `--seed`); where the tree scores runs in batches
(`evaluator.batched`), it also times `score_runs` of a whole 7 x 3 sweep and prints the CPU
seconds per run of it. `--before TREE` measures an older checkout the same way (e.g. `git
worktree add /tmp/floor-base main`). The last line is `ratio=X.XX`, the worst target's ratio of
the batched run (or of the single run where the tree does not batch).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGETS = "digits-mlp,digits-cnn,mnist1d-cnn,digits-mlp/init,digits-cnn/init,mnist1d-cnn/init,mnist1d-cnn/long"


def cpu_per_call(fn, budget: float = 0.3) -> float:
    for _ in range(3):
        fn()
    calls, start = 0, time.process_time()
    while time.process_time() - start < budget or calls < 5:
        fn()
        calls += 1
    return (time.process_time() - start) / calls


def floor_seconds(name: str) -> tuple[float, float]:
    """(floor CPU seconds of one run, its MACs) for the target, rates measured here."""
    from evaluator.runner import Context

    ctx = Context.load(__import__("evaluator.benchmarks", fromlist=["x"]).get_benchmark(name), device="cpu")
    return network_floor(ctx.fresh_model(), ctx.splits, ctx.benchmark.finetune)


def network_floor(model, splits, protocol) -> tuple[float, float]:
    """(floor CPU seconds, MACs) of finetuning `model` under `protocol` on `splits` and scoring it
    (benchmarks/fillin_floor.py also passes the smaller network a structured run finetunes)."""
    import torch
    from torch import nn

    from evaluator.flops import prunable_modules

    model = model.eval()
    inputs = {}

    def keep(key):
        def hook(module, args, out):
            inputs.setdefault(key, args[0].detach())  # returns None: the output is left as it is
        return hook

    hooks = [m.register_forward_hook(keep(key)) for m, key in prunable_modules(model).items()]
    x = torch.stack([splits.train[i][0] for i in range(protocol.batch_size)])
    with torch.no_grad():
        model(x)
    for h in hooks:
        h.remove()
    samples_train = len(splits.train) * protocol.epochs
    samples_eval = len(splits.val) * (protocol.epochs + 1) + 2 * len(splits.test)
    floor = macs = 0.0
    with torch.no_grad():
        for module, key in prunable_modules(model).items():
            x_in = inputs[key]
            out = module(x_in)
            per_sample = (out[0].numel() // module.weight.shape[0]) * module.weight.numel()
            if isinstance(module, nn.Linear):
                per_sample = module.weight.numel()
            rate = per_sample * len(x_in) / cpu_per_call(lambda: module(x_in))
            layer_macs = per_sample * (3 * samples_train + samples_eval)
            macs += layer_macs
            floor += layer_macs / rate
    return floor, macs


def child(args) -> None:
    sys.path.insert(0, os.getcwd())
    from evaluator import runner  # first, as the CLI does (it sets torch's environment)

    import torch

    torch.set_num_threads(args.threads)
    from evaluator.benchmarks import get_benchmark
    from evaluator.sandbox import StrategySource, compute_masks

    benchmark = get_benchmark(args.target)
    ctx = runner.Context.load(benchmark, device="cpu")
    source = StrategySource(baseline=args.strategy)
    jobs = [(c, s) for s in (0, 1, 2) for c in benchmark.compressions]
    calibration = {s: runner.calibration_batch(ctx.splits.train, benchmark.calibration_size, s) for s in (0, 1, 2)}
    masks = dict(zip(jobs, compute_masks(source, model_name=benchmark.model, num_classes=ctx.splits.num_classes,
                                         state_dict=ctx.state_dict, calibration=calibration, jobs=jobs)))
    one = (args.compression, args.seed)
    runner.score_run(ctx, source, *one, masks[one])  # warm-up
    start = time.process_time()
    record = runner.score_run(ctx, source, *one, masks[one])
    out = {"single": time.process_time() - start, "top1": record["top1"],
           "protocol_version": record["protocol_version"]}
    try:
        from evaluator.batched import RunJob, batchable, score_runs
    except ImportError:
        batchable = None
    if batchable is not None and batchable(ctx) and args.batch:
        start = time.process_time()
        score_runs(ctx, [RunJob(source, c, s, masks[(c, s)]) for c, s in jobs])
        out["batched"] = (time.process_time() - start) / len(jobs)
    floor, macs = floor_seconds(args.target)
    out.update(floor=floor, macs=macs, threads=torch.get_num_threads())
    print(json.dumps(out), flush=True)


def measure(tree: Path, target: str, args) -> dict:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", "--target", target, "--strategy", args.strategy,
           "--compression", str(args.compression), "--seed", str(args.seed), "--threads", str(args.threads)]
    if not args.batch:
        cmd.append("--no-batch")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    out = subprocess.run(cmd, cwd=tree, env=env, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--targets", default=TARGETS)
    parser.add_argument("--target", help=argparse.SUPPRESS)
    parser.add_argument("--strategy", default="global-mag-weight")
    parser.add_argument("--compression", type=float, default=4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (the rate is measured with the same)")
    parser.add_argument("--no-batch", dest="batch", action="store_false", help="skip the batched 7 x 3 sweep")
    parser.add_argument("--before", type=Path, help="an older checkout, measured first")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args)
    trees = ({"before": args.before.resolve()} if args.before else {}) | {"after": ROOT}
    worst = 0.0
    for target in args.targets.split(","):
        for label, tree in trees.items():
            got = measure(tree, target, args)
            ratio = got["single"] / got["floor"]
            line = (f"{target:18} {label:6} protocol {got['protocol_version']}: floor {got['floor']:.2f} s "
                    f"({got['macs'] / 1e9:.1f} GMAC), one run {got['single']:.2f} s CPU, ratio {ratio:.2f}")
            if "batched" in got:
                ratio = got["batched"] / got["floor"]
                line += f"; in a batch of 21 {got['batched']:.2f} s CPU a run, ratio {ratio:.2f}"
            print(line + f" ({got['threads']} thread(s), load {os.getloadavg()[0]:.1f})", flush=True)
            if label == "after":
                worst = max(worst, ratio)
    print(f"ratio={worst:.2f}")


if __name__ == "__main__":
    main()
