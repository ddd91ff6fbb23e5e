"""Evaluating one Run in a worker: the bridge from a Run row to the evaluator."""

from __future__ import annotations

import hashlib
import os
import stat
import tempfile
import time
from collections import OrderedDict
from pathlib import Path

from django.conf import settings

from evaluator.benchmarks import get_benchmark
from evaluator.limits import Limits
from evaluator.runner import Context, RunFailed, calibration_batch, score_run
from evaluator.sandbox import StrategyError, StrategySource, compute_masks
from evaluator.weights import WeightsError, find_weights, sha256_file

from .models import Run, StrategyFile

_contexts: dict[str, Context] = {}  # one per benchmark per worker process: data and weights load once
# Masks computed ahead for the queued runs of one (submission, benchmark, file SHA-256), by
# (compression, seed), each with its share of the sandbox's seconds; each is used once. A few
# batches are kept, the least recent dropped.
_batches: OrderedDict[tuple, dict[tuple[float, int], tuple[object, float]]] = OrderedDict()
_BATCHES_KEPT = 4


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
    """The run's strategy. An upload's bytes come from the database (a worker on any host needs
    nothing else), checked against the SHA-256 stored at upload, and are written to a folder of
    this worker's own, from which the sandbox copies them."""
    submission = run.submission
    if submission.baseline:
        return StrategySource(baseline=submission.baseline)
    data = bytes(StrategyFile.objects.get(submission_id=submission.pk).data)
    if hashlib.sha256(data).hexdigest() != submission.sha256:
        raise RuntimeError(f"the stored file of submission {submission.pk} no longer matches its "
                           f"SHA-256 {submission.sha256[:12]}…; refusing to run it")
    folder = Path(tempfile.gettempdir()) / f"pruneboard-strategies-{os.getuid()}"
    folder.mkdir(mode=0o700, exist_ok=True)
    info = os.lstat(folder)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o077:
        raise RuntimeError(f"{folder} is not a private folder of this worker's user")
    path = folder / f"{submission.sha256}.py"
    partial = folder / f".{submission.sha256}.{os.getpid()}"
    partial.write_bytes(data)
    partial.replace(path)  # whole or absent, whichever process of this host wrote it
    return StrategySource(path=path)


def evaluate_run(run: Run, should_stop=None, batch: bool = True) -> dict:
    """The evaluator's record for this run; RunFailed when the run cannot produce one.

    batch: an uploaded strategy's masks are computed in one sandbox for this run and every
    other run of its submission on its benchmark still queued, as the CLI does; this worker
    keeps the others' masks for when their own tasks arrive (each run is still started,
    leased, scored and recorded on its own). A job that failed in the batch is not kept: its
    run computes it again alone, and records its own error and limit. batch=False (a
    reproducibility re-run): this run's masks alone, from scratch."""
    ctx = context_for(run.benchmark.name)
    source = strategy_source(run)
    masks, seconds = _masks_for(run, ctx, source, batch)
    if isinstance(masks, StrategyError):
        raise RunFailed(masks.message, masks.traceback, limit=masks.limit)
    record = score_run(ctx, source, run.compression, run.seed, masks, mask_seconds=seconds,
                       should_stop=should_stop)
    if run.submission.baseline:
        record["strategy"] = run.submission.baseline
    else:
        record["strategy"] = run.submission.method.slug
    return record


def _masks_for(run: Run, ctx: Context, source: StrategySource, batch: bool):
    job = (run.compression, run.seed)
    if source.baseline or not batch:  # baselines: trusted, computed in this process, no sandbox
        return _compute(ctx, source, [job])[0]
    key = (run.submission_id, run.benchmark_id, run.submission.sha256)
    kept = _batches.get(key, {})
    if job in kept:
        _batches.move_to_end(key)
        return kept.pop(job)
    siblings = (Run.objects.filter(submission_id=run.submission_id, benchmark_id=run.benchmark_id,
                                   status=Run.Status.QUEUED).exclude(pk=run.pk)
                .order_by("seed", "compression").values_list("compression", "seed"))
    jobs = [job] + [sibling for sibling in siblings if sibling != job]
    results = dict(zip(jobs, _compute(ctx, source, jobs)))
    mine = results.pop(job)
    _batches[key] = {j: m for j, m in results.items() if not isinstance(m[0], StrategyError)}
    _batches.move_to_end(key)
    while len(_batches) > _BATCHES_KEPT:
        _batches.popitem(last=False)
    return mine


def _compute(ctx: Context, source: StrategySource, jobs: list[tuple[float, int]]) -> list[tuple]:
    """One sandbox (or, for a baseline, this process) for all the jobs: per job, its masks (or
    StrategyError) and its share of the seconds, as the CLI's sweep charges it (`time_masks_s`)."""
    t0 = time.perf_counter()
    calibration = {seed: calibration_batch(ctx.splits.train, ctx.benchmark.calibration_size, seed)
                   for seed in sorted({seed for _, seed in jobs})}
    outputs = compute_masks(source, model_name=ctx.benchmark.model, num_classes=ctx.splits.num_classes,
                            state_dict=ctx.state_dict, calibration=calibration, jobs=jobs,
                            limits=Limits.from_environment(ctx.benchmark.mask_seconds))
    share = (time.perf_counter() - t0) / max(len(jobs), 1)
    return [(output, share) for output in outputs]
