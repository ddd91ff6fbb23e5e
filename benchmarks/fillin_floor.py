"""The arithmetic floor of `make run`'s whole fill-in: every built-in run of every embedded target.

    .venv/bin/python benchmarks/fillin_floor.py [--cores 2] [--targets digits-mlp,digits-cnn/structured]

Runs: per embedded target, every built-in method its track shows (`Track.builtin_names`, as
`seed_baselines` seeds them) x the target's compressions x its seeds. Runs computed: each run's
masks are computed here as the worker computes a built-in's (in process, the seed's calibration
batch), validated as `runner.prepare` validates them (a run it refuses fails before finetuning:
nothing to compute), and keyed by `runner.run_key` (the content-addressed result key of
evaluator/sharing.py): runs with one key are one computation. So the count is what the masks
give, not an assumption: at 1x every method keeps every weight (one computation per target and
seed), SNIP's masks equal global-mag-grad's, and a method whose masks cannot reach a compression
fails there.

The floor of one computed run is benchmarks/run_floor.py's (`network_floor`): its training
(forward + backward ~ 3 x forward) and scoring MACs per Conv/Linear layer / the MACs per CPU second
that layer's own forward reaches at the protocol's batch size, measured here, one torch thread. A
masked run's network is dense-shaped (the CPU multiplies the zeros), so one floor per target
serves every compression; the structured track finetunes a smaller network, so its floor is
measured per compression on the network `l1-filter`'s masks (seed 0) realize there, and every
computed run at that compression is charged it (the other channel methods' networks differ
somewhat: the script prints their MACs against l1-filter's).

The floors are CPU seconds (`time.process_time`), not wall seconds, so a busy shared machine moves
them little (the rates are measured in this process's own CPU time); the wall floor on N cores is
the total / N: every core busy the whole time, with no overhead at all. The last line is
`fillin_floor_min=X.X`, that wall floor in minutes on `--cores` cores for the whole fill-in.
Takes a few minutes on 2 cores (the masks of 1,953 runs, the floors of 12 + 10 networks).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))


@dataclass
class Tally:
    runs: int = 0  # built-in runs seeded
    failed: int = 0  # refused before finetuning (masks a track or the compression check rejects)
    computed: dict = field(default_factory=dict)  # compression -> distinct result keys computed there

    @property
    def computed_runs(self) -> int:
        return sum(len(keys) for keys in self.computed.values())

    @property
    def shared(self) -> int:
        return self.runs - self.failed - self.computed_runs


def embedded_targets() -> list:
    """The targets `seed_baselines` fills by default: every embedded one, registry order."""
    from evaluator.benchmarks import list_benchmarks

    return [b for b in list_benchmarks() if b.embedded]


def builtin_jobs(target) -> list[tuple[str, int, int]]:
    """(method, compression, seed) of every built-in run `seed_baselines` seeds on the target."""
    from evaluator.tracks import get_track

    return [(name, c, s) for name in get_track(target.track).builtin_names(target)
            for c in target.compressions for s in target.seeds]


def tally(outcomes: list[tuple[int, str | None]]) -> Tally:
    """Per run (compression, its result key or None where it fails before finetuning): runs with
    one key are one computation, charged at the compression where the key first appears."""
    out, seen = Tally(runs=len(outcomes)), set()
    for compression, key in outcomes:
        if key is None:
            out.failed += 1
        elif key not in seen:
            seen.add(key)
            out.computed.setdefault(compression, set()).add(key)
    return out


def run_outcomes(ctx, jobs) -> tuple[list[tuple[int, str | None]], dict]:
    """Each job's (compression, result key or None) and the validated masks, by job."""
    from evaluator import runner
    from evaluator.sandbox import StrategyError, StrategySource, compute_masks

    bench = ctx.benchmark
    calibration = {s: runner.calibration_batch(ctx.splits.train, bench.calibration_size, s) for s in bench.seeds}
    outcomes, masks = [], {}
    for name in dict.fromkeys(n for n, _, _ in jobs):
        own = [(c, s) for n, c, s in jobs if n == name]
        got = compute_masks(StrategySource(baseline=name), model_name=bench.model, num_classes=ctx.splits.num_classes,
                            state_dict=ctx.state_dict, calibration=calibration, jobs=own)
        for (c, s), raw in zip(own, got):
            key = None
            if not isinstance(raw, StrategyError):
                try:
                    prepared = runner.prepare(ctx, ctx.fresh_model(), raw, c, s)
                    key = runner.run_key(ctx, prepared.mask, s)
                    masks[(name, c, s)] = prepared
                except runner.RunFailed:
                    pass
            outcomes.append((c, key))
    return outcomes, masks


def realized(ctx, prepared):
    """The network a run with these validated masks finetunes (score_run's steps up to it)."""
    from evaluator.finetune import MaskedWeights
    from evaluator.tracks import get_track

    model = ctx.fresh_model()
    MaskedWeights(model, prepared.mask.to_torch(ctx.device)).apply()
    return get_track(ctx.benchmark.track).realize(model, prepared.mask, prepared.batch)


def measure(target, method: str) -> tuple[Tally, dict[int, float], list[str]]:
    """The target's tally, the floor CPU seconds of one computed run per compression, notes."""
    from evaluator.runner import Context
    from evaluator.tracks import get_track
    from run_floor import network_floor

    ctx = Context.load(target, device="cpu")
    jobs = builtin_jobs(target)
    outcomes, prepared = run_outcomes(ctx, jobs)
    counted, notes = tally(outcomes), []
    protocol = target.finetune
    if get_track(target.track).sparsity != "channels":  # dense-shaped: one floor for every compression
        floor, _ = network_floor(ctx.fresh_model(), ctx.splits, protocol)
        return counted, dict.fromkeys(target.compressions, floor), notes
    floors = {}
    for c in target.compressions:
        seed = target.seeds[0]
        if (method, c, seed) not in prepared:
            raise SystemExit(f"{target.name}: {method}'s run at {c}x seed {seed} fails; pick another --structured-method")
        net = realized(ctx, prepared[(method, c, seed)])
        floors[c], _ = network_floor(net.model, ctx.splits, protocol)
        others = [realized(ctx, p).macs for (n, cc, s), p in prepared.items() if cc == c and s == seed]
        notes.append(f"{c:g}x: {method} {net.macs / 1e6:.3f} MMAC/sample, floor {floors[c]:.2f} s; the "
                     f"{len(others)} methods' networks {min(others) / 1e6:.3f}-{max(others) / 1e6:.3f} MMAC "
                     f"(mean {sum(others) / len(others) / net.macs:.2f} x {method}'s)")
    return counted, floors, notes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cores", type=int, default=2, help="cores the wall floor divides the CPU seconds by")
    parser.add_argument("--targets", help="comma-separated target names (default: every embedded one)")
    parser.add_argument("--structured-method", default="l1-filter",
                        help="the channel method whose realized networks give the structured floors")
    args = parser.parse_args()

    from evaluator import runner  # noqa: F401  first, as the CLI does (it sets torch's environment)

    import torch

    torch.set_num_threads(1)  # a core's rate: the cores' worker processes run one thread each
    from evaluator.benchmarks import get_benchmark

    targets = [get_benchmark(n) for n in args.targets.split(",")] if args.targets else embedded_targets()
    start = time.monotonic()
    print(f"{'target':24} {'runs':>5} {'failed':>6} {'shared':>6} {'computed':>8} {'floor s/run':>12} "
          f"{'floor CPU s':>12}", flush=True)
    total = after = 0.0
    runs = computed = 0
    for target in targets:
        counted, floors, notes = measure(target, args.structured_method)
        cpu = sum(len(keys) * floors[c] for c, keys in counted.computed.items())
        per_run = (f"{floors[target.compressions[0]]:.2f}" if len(set(floors.values())) == 1
                   else f"{min(floors.values()):.2f}-{max(floors.values()):.2f}")
        print(f"{target.name:24} {counted.runs:5d} {counted.failed:6d} {counted.shared:6d} "
              f"{counted.computed_runs:8d} {per_run:>12} {cpu:12.1f}", flush=True)
        for note in notes:
            print(f"    {note}", flush=True)
        total += cpu
        after += cpu if target.track == "after" else 0.0
        runs += counted.runs
        computed += counted.computed_runs
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"total: {runs} runs, {computed} computed; floor {total:.1f} CPU s = {total / 60:.1f} CPU min; "
          f"on {args.cores} cores {total / args.cores / 60:.1f} min wall")
    print(f"after track alone: floor {after:.1f} CPU s; on {args.cores} cores {after / args.cores / 60:.1f} min wall")
    print(f"(measured in {time.monotonic() - start:.0f} s wall, load average {load}, "
          f"{torch.get_num_threads()} torch thread)")
    print(f"fillin_floor_min={total / args.cores / 60:.1f}")


if __name__ == "__main__":
    main()
