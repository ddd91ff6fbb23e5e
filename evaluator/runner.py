"""One run = (benchmark, strategy, compression, seed) -> one record; a sweep = many runs.

The benchmark is a run target (evaluator/tracks.py): its weights are the ones its track shows the
strategy (pretrained, or initial) and its `finetune` the protocol that trains the masked network
on that track (a finetune, or training from scratch); the runner reads both from it, and from
the track which masks it takes and the network they make (`Track.check_masks`, `Track.realize`:
the masked model itself, or on the structured track a smaller network with the channels removed).

Order of a run: fixed weights (checksum verified) -> masks computed in the sandbox child from a
calibration batch of the training split -> masks validated here -> applied -> metrics and test
scores before finetuning -> masked finetuning (selection on the validation split) -> check that
every pruned weight is still exactly zero -> test scores after finetuning -> the finetuned model
timed against the dense one (evaluator/latency.py) -> record.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, fields
from typing import NamedTuple

import torch

from .benchmarks import PROTOCOL_VERSION, Benchmark, result_key, run_identity
from .datasets import Splits, get_dataset
from .environment import configure_determinism, environment
from .finetune import MaskedWeights, default_device, evaluate, make_loader, seed_everything, train
from .latency import latency_columns, measure_latency
from .connectivity import effective_metrics
from .metrics import collapsed_layers, layer_sparsity, model_metrics
from .models import get_model
from .pruning import Mask, MaskError
from .record import RunRecord
from .redact import redact
from .structured import RemovalMismatch
from .tracks import get_track
from .sandbox import JobOutcome, Limits, StrategyError, StrategySource, compute_jobs, sandbox_label
from .weights import verified_weights

# A strategy may keep at most this much more than the requested compression allows, relative:
# a run is failed when actual compression < requested * (1 - COMPRESSION_TOLERANCE).
COMPRESSION_TOLERANCE = 0.01
# Training samples a track realizes its network on (and checks a removal against).
REALIZE_BATCH = 8


class RunFailed(RuntimeError):
    """A run that produced no result; `traceback` holds the submitter's frames, if theirs.
    Both are shown to the submitter: server paths in them are redacted (evaluator.redact)."""

    def __init__(self, message: str, traceback: str = "", user_error: bool = True, limit: str = ""):
        message, traceback = redact(message), redact(traceback)
        super().__init__(message)
        self.message, self.traceback, self.user_error, self.limit = message, traceback, user_error, limit


class RunCancelled(RuntimeError):
    """`should_stop` said to stop (the submission was cancelled, or the lease was lost)."""


@dataclass
class Context:
    """Everything a benchmark's runs share, loaded once."""

    benchmark: Benchmark
    splits: Splits
    state_dict: dict[str, torch.Tensor]
    weights_sha256: str
    device: torch.device

    @classmethod
    def load(cls, benchmark: Benchmark, *, device=None, data_root=None) -> Context:
        state, sha = verified_weights(benchmark)
        splits = get_dataset(benchmark.dataset, root=data_root)
        device = torch.device(device) if device else default_device()
        configure_determinism(device)
        return cls(benchmark, splits, state, sha, device)

    def fresh_model(self) -> torch.nn.Module:
        model = get_model(self.benchmark.model, num_classes=self.splits.num_classes)
        model.load_state_dict(self.state_dict)
        return model.to(self.device)


def calibration_batch(train_set, size: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """`size` training samples drawn without replacement by `seed` (training split only).

    Seeds every generator first, so a split with random augmentation gives the same batch too.
    """
    seed_everything(seed)
    generator = torch.Generator().manual_seed(seed)
    indices = torch.randperm(len(train_set), generator=generator)[:size].tolist()
    xs, ys = zip(*(train_set[i] for i in indices))
    return torch.stack(xs), torch.as_tensor(ys, dtype=torch.long)


def check_compression(mask: Mask, actual: float, requested: float) -> None:
    if actual < requested * (1 - COMPRESSION_TOLERANCE):
        raise MaskError(
            f"the masks keep too many weights: requested compression {requested:g}x, the masks "
            f"give {actual:.3f}x ({mask.kept()} of {mask.total()} prunable weights "
            f"kept; tolerance {COMPRESSION_TOLERANCE:.0%})")


class Prepared(NamedTuple):
    """A run's validated masks, its one-sample example, its metrics before finetuning and the
    batch its track realizes the network on."""

    mask: Mask
    example: torch.Tensor
    before: object  # metrics.ModelMetrics
    batch: torch.Tensor


def prepare(ctx: Context, model: torch.nn.Module, raw_masks, compression: float, seed: int) -> Prepared:
    """Validate the masks against `model` (holding the run's starting weights, left as they are),
    the track and the requested compression; RunFailed names what was wrong."""
    track = get_track(ctx.benchmark.track)
    try:
        mask = Mask.validate(model, raw_masks)
        track.check_masks(model, mask)
    except MaskError as exc:
        raise RunFailed(f"invalid masks: {exc}") from exc
    # The batch the track realizes the network on; drawn first, as calibration_batch re-seeds:
    # the one-sample draw after it leaves every generator as it always was.
    batch = calibration_batch(ctx.splits.train, REALIZE_BATCH, seed)[0].to(ctx.device)
    calib_x, _ = calibration_batch(ctx.splits.train, 1, seed)
    example = calib_x[0].to(ctx.device)
    before = model_metrics(model, example, mask)
    try:
        check_compression(mask, before.compression, compression)
    except MaskError as exc:
        raise RunFailed(str(exc)) from exc
    return Prepared(mask, example, before, batch)


def check_masks_held(leaked: dict[str, int]) -> None:
    if leaked:
        raise RunFailed(f"pruned weights became nonzero during finetuning: {leaked}", user_error=False)


def score_run(ctx: Context, source: StrategySource, compression: float, seed: int,
              raw_masks: Mask, mask_seconds: float = 0.0,
              should_stop: Callable[[], bool] | None = None) -> dict:
    """Validate, apply, score, finetune and score again; returns the run's record.
    `should_stop` is asked after every finetuning epoch; when it says so, RunCancelled.
    A target whose runs are scored in batches (evaluator/batched.py) scores this one as a batch
    of one, so a run's record is the same however many runs shared its batch."""
    from .batched import RunJob, batchable, score_runs  # batched.py builds on this module

    if batchable(ctx):
        [out] = score_runs(ctx, [RunJob(source, compression, seed, raw_masks, mask_seconds)], should_stop)
        if isinstance(out, RunFailed):
            raise out
        return out

    def check(*_):
        if should_stop is not None and should_stop():
            raise RunCancelled("stopped: the run was cancelled or taken over")

    t_start = time.perf_counter()
    seed_everything(seed)
    track = get_track(ctx.benchmark.track)
    masked_model = ctx.fresh_model()
    prepared = prepare(ctx, masked_model, raw_masks, compression, seed)
    mask = prepared.mask

    masked = MaskedWeights(masked_model, mask.to_torch(ctx.device))
    masked.apply()
    try:
        realized = track.realize(masked_model, mask, prepared.batch)
    except MaskError as exc:
        raise RunFailed(f"invalid masks: {exc}") from exc
    except RemovalMismatch as exc:
        raise RunFailed(str(exc), user_error=False) from exc
    model = realized.model  # the network run: masked_model itself, or a smaller one (structured)
    held = realized.masks.to_torch(ctx.device) if realized.masks is not None else None
    test_loader = make_loader(ctx.splits.test, 256, device=ctx.device)
    t0 = time.perf_counter()
    pre = evaluate(model, test_loader, ctx.device)
    t_pre = time.perf_counter() - t0

    t0 = time.perf_counter()
    check()
    result = train(model, ctx.splits.train, ctx.splits.val, ctx.benchmark.finetune,
                   device=ctx.device, seed=seed, masks=held, on_epoch=check)
    t_finetune = time.perf_counter() - t0
    check_masks_held(masked.pruned_nonzero())

    t0 = time.perf_counter()
    post = evaluate(model, test_loader, ctx.device)
    t_eval = time.perf_counter() - t0
    times = {"time_masks_s": mask_seconds, "time_pre_eval_s": t_pre, "time_finetune_s": t_finetune,
             "time_eval_s": t_eval}
    return run_record(ctx, source, compression, seed, masked_model, realized, prepared, pre, post, result,
                      times, started=t_start)


def run_record(ctx: Context, source: StrategySource, compression: float, seed: int,
               masked_model: torch.nn.Module, realized, prepared: Prepared, pre, post, result, times: dict,
               started: float, share: float = 1.0) -> dict:
    """The record of a scored run: `masked_model` is the model the masks are for, `realized` the
    network finetuned (the same model but on the structured track). time_total_s is the mask
    seconds plus `share` of the seconds since `started` (a batch's runs: each its share)."""
    mask, example, before, _ = prepared
    model = realized.model
    # Counted on the model the masks are for (`masked_model`): a removed network's weights are not
    # in it, and on the structured track it is not finetuned (the finetuned network is `model`).
    after = model_metrics(masked_model, example, mask)

    t0 = time.perf_counter()
    latency = measure_latency(model, ctx.fresh_model(), example)
    t_latency = time.perf_counter() - t0
    strategy_sha = source.sha256()
    return asdict(RunRecord(**{  # a key missing or unknown is a TypeError here, not a blank CSV cell
        "run_id": run_identity(benchmark=ctx.benchmark, weights_sha256=ctx.weights_sha256,
                               strategy_sha256=strategy_sha, compression=compression, seed=seed),
        "benchmark": ctx.benchmark.name,
        "track": ctx.benchmark.track,
        "strategy": source.label,
        "compression_requested": float(compression),
        "seed": seed,
        "size": after.size, "size_nz": after.size_nz,
        "compression": after.compression,
        "compression_error": (compression - after.compression) / compression,
        "flops": after.flops, "flops_nz": after.flops_nz, "speedup": after.speedup,
        "params_run": realized.params, "macs_run": realized.macs,
        "speedup_run": after.flops / realized.macs if realized.macs else float("inf"),
        "memory": after.memory, "memory_nz": after.memory_nz, "memory_nz_pre": before.memory_nz,
        "pre_top1": pre.top1, "pre_top5": pre.top5, "pre_loss": pre.loss,
        "top1": post.top1, "top5": post.top5, "loss": post.loss,
        "val_top1": result.val.top1, "best_epoch": result.best_epoch, "epochs_run": result.epochs_run,
        "test_samples": post.n,
        "layer_collapse": bool(collapsed_layers(masked_model, mask)),
        "collapsed_layers": json.dumps(collapsed_layers(masked_model, mask)),
        "layer_sparsity": json.dumps({k: round(v, 6) for k, v in layer_sparsity(masked_model, mask).items()}),
        **effective_metrics(masked_model, example, mask.to_torch(ctx.device), after.size, after.size_nz, after.flops),
        **latency_columns(latency),
        **times, "time_latency_s": t_latency,
        "time_total_s": times["time_masks_s"] + share * (time.perf_counter() - started),
        "protocol_version": PROTOCOL_VERSION, "protocol_hash": ctx.benchmark.protocol_hash(),
        "weights_sha256": ctx.weights_sha256, "strategy_sha256": strategy_sha,
        "masks_sha256": mask.sha256(),
        "result_key": result_key(benchmark=ctx.benchmark, weights_sha256=ctx.weights_sha256,
                                 masks_sha256=mask.sha256(), seed=seed, device=ctx.device.type),
        "shared_with": "",
        "sandbox": sandbox_label(source),
        **environment(ctx.device),
    }))


def run_key(ctx: Context, raw_masks, seed: int) -> str | None:
    """The result key (evaluator.benchmarks.result_key) a run with these masks will have; None
    when they are not masks at all (scoring them fails with the reason)."""
    try:
        sha = (raw_masks if isinstance(raw_masks, Mask) else Mask(raw_masks)).sha256()
    except (MaskError, AttributeError, TypeError):
        return None
    return result_key(benchmark=ctx.benchmark, weights_sha256=ctx.weights_sha256, masks_sha256=sha,
                      seed=seed, device=ctx.device.type)


def share_run(ctx: Context, source: StrategySource, compression: float, seed: int, raw_masks: Mask,
              original: dict, mask_seconds: float = 0.0) -> dict:
    """This run's record from `original`, the record of a run with the same result key, without
    finetuning: the figures are the original's (they are a function of the key), the columns
    that name this run are its own (evaluator/sharing.py OWN_COLUMNS), and `shared_with` names
    the run that computed them. The masks are validated and the compression checked as
    `score_run` does, so a run fails here exactly when it would have failed there."""
    t_start = time.perf_counter()
    try:
        model = ctx.fresh_model()
        mask = Mask.validate(model, raw_masks)
        get_track(ctx.benchmark.track).check_masks(model, mask)
    except MaskError as exc:
        raise RunFailed(f"invalid masks: {exc}") from exc
    try:
        check_compression(mask, original["compression"], compression)
    except MaskError as exc:
        raise RunFailed(str(exc)) from exc
    if mask.sha256() != original["masks_sha256"]:  # a key built from other masks: never shared
        raise ValueError("share_run: the original run's masks are not this run's")
    strategy_sha = source.sha256()
    own = {
        "run_id": run_identity(benchmark=ctx.benchmark, weights_sha256=ctx.weights_sha256,
                               strategy_sha256=strategy_sha, compression=compression, seed=seed),
        "strategy": source.label, "strategy_sha256": strategy_sha, "sandbox": sandbox_label(source),
        "compression_requested": float(compression),
        "compression_error": (compression - original["compression"]) / compression,
        **{f.name: 0.0 for f in fields(RunRecord) if f.name.startswith("time_")},  # nothing scored here
        "time_masks_s": mask_seconds, "time_total_s": mask_seconds + time.perf_counter() - t_start,
        "shared_with": original.get("shared_with") or original["run_id"],
    }
    return asdict(RunRecord(**{**original, **own}))


@dataclass
class Failure:
    strategy: str
    compression: float
    seed: int
    error: RunFailed


def masks_for_jobs(ctx: Context, source: StrategySource, jobs: list[tuple[float, int]], *,
                   window: float | None = None) -> list[JobOutcome]:
    """One sandbox (for a baseline, this process) computing the masks of the jobs, (compression,
    seed) each: the calibration batch of each seed from the training split, the benchmark's
    per-job limits. Per job its JobOutcome: masks (or the StrategyError it ended with, or None
    where `window` closed before it started) and its own mask seconds. The CLI's sweep and the
    worker (submissions.execution) both get their masks here."""
    calibration = {seed: calibration_batch(ctx.splits.train, ctx.benchmark.calibration_size, seed)
                   for seed in sorted({seed for _, seed in jobs})}
    return compute_jobs(source, model_name=ctx.benchmark.model, num_classes=ctx.splits.num_classes,
                        state_dict=ctx.state_dict, calibration=calibration, jobs=jobs,
                        limits=Limits.from_environment(ctx.benchmark.mask_seconds), window=window)


def sweep(ctx: Context, sources: Iterable[StrategySource], compressions: Iterable[float],
          seeds: Iterable[int], *, on_result: Callable[[dict | Failure], None] | None = None,
          results=None) -> tuple[list[dict], list[Failure]]:
    """Every source x compression x seed. Masks for one source come from one sandbox child; its
    runs are scored together where the target allows (evaluator/batched.py). `results`
    (evaluator.sharing.SweepResults, the CLI's) shares a result key computed earlier in the sweep:
    such a run is not scored again (`results.lookup`), and each computed record is handed to
    `results.keep`, which keeps it for later runs and checks the sampled ones."""
    from .batched import RunJob, score_runs  # batched.py builds on this module

    jobs = [(c, s) for c in compressions for s in seeds]
    records, failures = [], []
    for source in sources:
        outcomes = masks_for_jobs(ctx, source, jobs)
        items: dict[int, dict | RunFailed] = {}
        pending = []
        for i, ((c, s), outcome) in enumerate(zip(jobs, outcomes)):
            out = outcome.result
            if isinstance(out, StrategyError):
                items[i] = RunFailed(out.message, out.traceback, limit=out.limit)
                continue
            try:
                shared = results.lookup(ctx, source, c, s, out, outcome.seconds) if results else None
            except RunFailed as exc:
                shared = exc
            if shared is None:
                pending.append(i)
            else:
                items[i] = shared
        scored = score_runs(ctx, [RunJob(source, *jobs[i], outcomes[i].result, outcomes[i].seconds)
                                  for i in pending])
        for i, item in zip(pending, scored):
            items[i] = results.keep(item) if results and not isinstance(item, RunFailed) else item
        for i, (c, s) in enumerate(jobs):
            item = items[i]
            if isinstance(item, RunFailed):
                item = Failure(source.label, c, s, item)
                failures.append(item)
            else:
                records.append(item)
            if on_result:
                on_result(item)
    return records, failures
