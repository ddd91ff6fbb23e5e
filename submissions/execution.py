"""Evaluating one Run in a worker: the bridge from a Run row to the evaluator."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings

from evaluator.benchmarks import get_benchmark
from evaluator.limits import Limits
from evaluator.runner import Context, RunFailed, calibration_batch, score_run
from evaluator.sandbox import StrategyError, StrategySource, compute_masks
from evaluator.weights import WeightsError, find_weights, sha256_file

from .models import Run

_contexts: dict[str, Context] = {}  # one per benchmark per worker process: data and weights load once


def context_for(name: str) -> Context:
    """The benchmark's data and weights, loaded once per worker process; the weights file on
    (possibly shared) storage is checked against the pinned SHA-256 on every use."""
    benchmark = get_benchmark(name)
    if name not in _contexts:
        _contexts[name] = Context.load(benchmark, data_root=settings.PRUNEBOARD_DATA_ROOT)
    else:
        path = find_weights(benchmark)
        if sha256_file(path) != _contexts[name].weights_sha256:
            del _contexts[name]
            raise WeightsError(f"weights {path} changed since this worker loaded them; "
                               f"refusing to run on different weights")
    return _contexts[name]


def strategy_source(run: Run) -> StrategySource:
    """The run's strategy; an uploaded file is checked against the SHA-256 stored at upload."""
    submission = run.submission
    if submission.baseline:
        return StrategySource(baseline=submission.baseline)
    source = StrategySource(path=Path(submission.file.path))
    if source.sha256() != submission.sha256:
        raise RuntimeError(f"the stored file of submission {submission.pk} no longer matches its "
                           f"SHA-256 {submission.sha256[:12]}…; refusing to run it")
    return source


def evaluate_run(run: Run, should_stop=None) -> dict:
    """The evaluator's record for this run; RunFailed when the run cannot produce one."""
    ctx = context_for(run.benchmark.name)
    source = strategy_source(run)
    calibration = {run.seed: calibration_batch(ctx.splits.train, ctx.benchmark.calibration_size, run.seed)}
    [masks] = compute_masks(source, model_name=ctx.benchmark.model, num_classes=ctx.splits.num_classes,
                            state_dict=ctx.state_dict, calibration=calibration,
                            jobs=[(run.compression, run.seed)],
                            limits=Limits.from_environment(ctx.benchmark.mask_seconds))
    if isinstance(masks, StrategyError):
        raise RunFailed(masks.message, masks.traceback, limit=masks.limit)
    record = score_run(ctx, source, run.compression, run.seed, masks, should_stop=should_stop)
    if run.submission.baseline:
        record["strategy"] = run.submission.baseline
    else:
        record["strategy"] = run.submission.method.slug
    return record
