"""Runs scored in batches: a small target's runs finetuned and scored together, one step for all.

Where a target's model is small (`batchable`: the embedded benchmarks on a CPU, whose models
`evaluator.stacked` can stack), a run's arithmetic per step is a few milliseconds, so one run at
a time spends most of its time around it: building the model, optimizer and data, and one
Python-level step per batch. `score_runs` sets them up once for a batch of runs and steps every
run together (`stacked.Stack`), each run with its own masks, its own seed's data order (its own
generator, as `train` draws it), its own optimizer state (Adam and SGD are elementwise: one
optimizer over the stacked rows updates each run as its own), its own gradient (the sum of the
runs' losses: each row's gradient is its own run's) and its own early stopping and best-epoch
selection on the validation split. It returns exactly the records `runner.score_run` returns
(which scores a batchable target's run as a batch of one), the time columns as each run's
share of the batch's.

A run's figures do not depend on the runs that share its batch nor on its place in it
(tests/evaluator/test_batched.py); they differ from protocol 2's sequential finetuning by float
reassociation only (the batched matmul sums in another order), hence protocol 3.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch.utils.data import TensorDataset

from .benchmarks import FinetuneProtocol
from .finetune import Scores, TrainResult, make_loader, make_optimizer, make_schedule
from .models import get_model
from .realize import held_masks
from .runner import (Context, Prepared, RunCancelled, RunFailed, check_masks_held, prepare, run_record,
                     score_run)
from .sandbox import StrategySource
from .seeds import seed_everything
from .stacked import Stack, stackable
from .tracks import get_track

BATCH_RUNS = 21  # runs stepped together at most: a source's 7 compressions x 3 seeds


@dataclass(frozen=True)
class RunJob:
    source: StrategySource
    compression: float
    seed: int
    masks: object  # as the strategy returned them (validated here)
    mask_seconds: float = 0.0


def batchable(ctx: Context) -> bool:
    """The one rule: a target's runs are scored in batches when it is embedded (small data, a
    small model) and runs on the CPU, its track holds the masks on the model as it is (not the
    structured track's smaller network), and its model is one `stacked.Stack` can step."""
    if not ctx.benchmark.embedded or ctx.device.type != "cpu" or not isinstance(ctx.splits.train, TensorDataset):
        return False
    if get_track(ctx.benchmark.track).realize is not held_masks:  # the network run is not the model
        return False
    return stackable(get_model(ctx.benchmark.model, num_classes=ctx.splits.num_classes))


def runs_together(ctx: Context) -> int:
    """How many runs a batch steps together on this target: 0 where it is not batchable; 1 where
    the model has convolutions (each run's convolutions are computed on their own, so a batch
    saves only the per-step overhead, and 21 runs' state no longer fits the caches: a run cost
    more in a batch of 21 than alone, digits-cnn 3.54 s against 2.99, mnist1d-cnn 9.24 against
    7.34, `benchmarks/run_floor.py`); BATCH_RUNS otherwise. The path is the same for any size,
    so a run's figures do not depend on it."""
    if not batchable(ctx):
        return 0
    model = get_model(ctx.benchmark.model, num_classes=ctx.splits.num_classes)
    return 1 if any(isinstance(m, (torch.nn.Conv1d, torch.nn.Conv2d)) for m in model.modules()) else BATCH_RUNS


def score_runs(ctx: Context, jobs: list[RunJob],
               should_stop: Callable[[], bool] | None = None) -> list[dict | RunFailed]:
    """Per job, in order, its record or the RunFailed it ended with (a run whose masks fail
    validation fails alone). RunCancelled when `should_stop` says so after an epoch."""
    together = runs_together(ctx)
    if not together:
        return [_one(ctx, job, should_stop) for job in jobs]
    out: list[dict | RunFailed] = []
    for start in range(0, len(jobs), together):
        out += _batch(ctx, jobs[start:start + together], should_stop)
    return out


def _one(ctx: Context, job: RunJob, should_stop) -> dict | RunFailed:
    try:
        return score_run(ctx, job.source, job.compression, job.seed, job.masks, job.mask_seconds, should_stop)
    except RunFailed as exc:
        return exc


def _batch(ctx: Context, jobs: list[RunJob], should_stop) -> list[dict | RunFailed]:
    t_start = time.perf_counter()
    model = ctx.fresh_model()
    out: list[dict | RunFailed | Prepared] = []
    for job in jobs:
        seed_everything(job.seed)
        try:
            out.append(prepare(ctx, model, job.masks, job.compression, job.seed))
        except RunFailed as exc:
            out.append(exc)
    ok = [i for i, p in enumerate(out) if isinstance(p, Prepared)]
    if not ok:
        return out
    stack = Stack(model, len(ok), [out[i].mask.to_torch(ctx.device) for i in ok])
    t0 = time.perf_counter()
    pre = evaluate_stacked(stack, ctx.splits.test)
    t_pre = time.perf_counter() - t0
    t0 = time.perf_counter()
    results = train_stacked(stack, ctx.splits.train, ctx.splits.val, ctx.benchmark.finetune,
                            seeds=[jobs[i].seed for i in ok], should_stop=should_stop)
    t_finetune = time.perf_counter() - t0
    t0 = time.perf_counter()
    post = evaluate_stacked(stack, ctx.splits.test)
    t_eval = time.perf_counter() - t0
    n = len(ok)
    for r, i in enumerate(ok):
        job = jobs[i]
        try:
            check_masks_held(stack.pruned_nonzero(r))
        except RunFailed as exc:
            out[i] = exc
            continue
        model.load_state_dict(stack.run_state(r))
        prepared = out[i]
        realized = held_masks(model, prepared.mask, prepared.batch)
        times = {"time_masks_s": job.mask_seconds, "time_pre_eval_s": t_pre / n,
                 "time_finetune_s": t_finetune / n, "time_eval_s": t_eval / n}
        out[i] = run_record(ctx, job.source, job.compression, job.seed, model, realized, prepared, pre[r], post[r],
                            results[r], times, started=t_start, share=1 / n)
    return out


@torch.inference_mode()
def evaluate_stacked(stack: Stack, dataset, batch_size: int = 256) -> list[Scores]:
    """`finetune.evaluate` for every run of the stack: its Scores per run, every sample once."""
    sums = torch.zeros(stack.runs, 3, dtype=torch.float64)  # loss, top-1 hits, top-5 hits
    n = 0
    for x, y in make_loader(dataset, batch_size):
        logits = stack.forward(x.unsqueeze(0).expand(stack.runs, *x.shape))
        k = min(5, logits.shape[-1])
        hits = logits.topk(k, dim=-1).indices == y[None, :, None]
        loss = F.cross_entropy(logits.flatten(0, 1), y.repeat(stack.runs), reduction="none")
        sums += torch.stack([loss.view(stack.runs, -1).sum(1).double(),
                             hits[..., 0].sum(1).double(), hits.any(-1).sum(1).double()], dim=1)
        n += len(y)
    if n != len(dataset):
        raise RuntimeError(f"evaluation saw {n} samples but the split has {len(dataset)}")
    return [Scores(top1=int(c1) / n, top5=int(c5) / n, loss=loss / n, n=n) for loss, c1, c5 in sums.tolist()]


def train_stacked(stack: Stack, train_set, val_set, protocol: FinetuneProtocol, *, seeds: list[int],
                  should_stop: Callable[[], bool] | None = None) -> list[TrainResult]:
    """`finetune.train` for every run of the stack, masks held: run r draws its data order from
    a generator seeded by seeds[r] and keeps its best epoch by validation top-1 (ties: the
    earliest); with `patience` it stops on its own (its later steps are computed and ignored)."""
    x_all, y_all = train_set.tensors
    generators = [torch.Generator().manual_seed(seed) for seed in seeds]
    size, n = protocol.batch_size, len(y_all)
    steps = -(-n // size)
    optimizer = make_optimizer(stack.params(), protocol, fused=True)
    schedule = make_schedule(optimizer, protocol, protocol.epochs * steps)
    val_size = max(protocol.batch_size, 256)

    best = [Best(val) for val in evaluate_stacked(stack, val_set, val_size)]
    kept = {name: rows.detach().clone() for name, rows in stack.rows.items()}
    for epoch in range(1, protocol.epochs + 1):
        if all(b.stopped for b in best):
            break
        orders = torch.stack([torch.randperm(n, generator=g) for g in generators])
        for start in range(0, n, size):
            idx = orders[:, start:start + size]
            logits = stack.forward(x_all[idx])
            losses = F.cross_entropy(logits.flatten(0, 1), y_all[idx].flatten(), reduction="none")
            optimizer.zero_grad(set_to_none=True)
            losses.view(stack.runs, -1).mean(1).sum().backward()  # each run's gradient is its own
            stack.mask_gradients()
            optimizer.step()
            schedule.step()
        for r, val in enumerate(evaluate_stacked(stack, val_set, val_size)):
            if best[r].update(epoch, val, protocol.patience):
                with torch.no_grad():
                    for name, rows in stack.rows.items():
                        kept[name][r].copy_(rows[r])
        if should_stop is not None and should_stop():
            raise RunCancelled("stopped: the run was cancelled or taken over")
    with torch.no_grad():
        for name, rows in stack.rows.items():
            rows.copy_(kept[name])
    return [TrainResult(best_epoch=b.epoch, epochs_run=b.epochs_run, val=b.val) for b in best]


class Best:
    """One run's early stopping and selection, as `finetune.train` does it."""

    def __init__(self, val: Scores):
        self.val, self.epoch, self.stale, self.epochs_run, self.stopped = val, 0, 0, 0, False

    def update(self, epoch: int, val: Scores, patience: int) -> bool:
        """Record the epoch's validation; True when its weights are the run's best so far."""
        if self.stopped:
            return False
        self.epochs_run = epoch
        if val.top1 > self.val.top1:
            self.val, self.epoch, self.stale = val, epoch, 0
            return True
        self.stale += 1
        self.stopped = bool(patience) and self.stale >= patience
        return False
