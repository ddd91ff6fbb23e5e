"""Evaluating one Run in a worker: the bridge from a Run row to the evaluator."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings

from evaluator.benchmarks import get_benchmark
from evaluator.runner import Context, RunFailed, calibration_batch, score_run
from evaluator.sandbox import StrategyError, StrategySource, compute_masks

from .models import Run

_contexts: dict[str, Context] = {}  # one per benchmark per worker process: data and weights load once


def context_for(name: str) -> Context:
    if name not in _contexts:
        _contexts[name] = Context.load(get_benchmark(name), data_root=settings.PRUNEBOARD_DATA_ROOT)
    return _contexts[name]


def strategy_source(run: Run) -> StrategySource:
    submission = run.submission
    if submission.baseline:
        return StrategySource(baseline=submission.baseline)
    return StrategySource(path=Path(submission.file.path))


def evaluate_run(run: Run, should_stop=None) -> dict:
    """The evaluator's record for this run; RunFailed when the run cannot produce one."""
    ctx = context_for(run.benchmark.name)
    source = strategy_source(run)
    calibration = {run.seed: calibration_batch(ctx.splits.train, ctx.benchmark.calibration_size, run.seed)}
    [masks] = compute_masks(source, model_name=ctx.benchmark.model, num_classes=ctx.splits.num_classes,
                            state_dict=ctx.state_dict, calibration=calibration,
                            jobs=[(run.compression, run.seed)])
    if isinstance(masks, StrategyError):
        raise RunFailed(masks.message, masks.traceback, limit=masks.limit)
    record = score_run(ctx, source, run.compression, run.seed, masks, should_stop=should_stop)
    if run.submission.baseline:
        record["strategy"] = run.submission.baseline
    else:
        record["strategy"] = run.submission.method.slug
    return record
