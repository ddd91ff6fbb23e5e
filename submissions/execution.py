"""Evaluating one Run in a worker: the bridge from a Run row to the evaluator."""

from __future__ import annotations

import hashlib
import logging
import os
import stat
import tempfile
from collections import OrderedDict
from pathlib import Path

from django.conf import settings

from evaluator import sharing
from evaluator.benchmarks import get_benchmark
from evaluator.batched import RunJob, batchable, runs_together, score_runs
from evaluator.pruning import Mask, MaskError
from evaluator.runner import Context, RunFailed, masks_for_jobs, run_key, score_run
from evaluator.sandbox import Limits, StrategyError, StrategySource
from evaluator.weights import WeightsError, find_weights, sha256_file

from . import services
from .models import Run, StrategyFile

log = logging.getLogger(__name__)
_contexts: dict[str, Context] = {}  # one per benchmark per worker process: data and weights load once
# Masks computed ahead for the queued runs of one (submission, benchmark, file SHA-256) that
# this process's batch claimed, by (compression, seed), each with its own mask seconds; each is
# used once. A few batches are kept, the least recent dropped.
_batches: OrderedDict[tuple, dict[tuple[float, int], tuple[object, float]]] = OrderedDict()
_BATCHES_KEPT = 4
# A task scores at most this many runs together (its own and held siblings'), so that its time
# stays within a few runs' of its time limit; the siblings left wait, masks held, for their tasks.
SCORED_TOGETHER = 7


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


def evaluate_run(run: Run, should_stop=None, batch: bool = True, share: bool = True, lease: str = "") -> dict:
    """The evaluator's record for this run; RunFailed when the run cannot produce one.

    batch: an uploaded strategy's masks are computed in one sandbox for this run and the other
    runs of its submission on its benchmark still queued that no other batch claimed, as the
    CLI does (`_masks_for`); each run is still started, leased, scored and recorded on its own.
    batch=False (a reproducibility re-run): this run's masks alone, from scratch.
    share: once the masks are known, a finished run with the same result key lends its result
    (evaluator/sharing.py) instead of a finetune; PRUNEBOARD_VERIFY_SHARED of those are computed
    anyway and compared (services.result_check_record). share=False: always computed.
    The masks are kept by their SHA-256 (services.masks_keep) for the run page's download.
    lease: the run's lease token, which the siblings a batch scores with it are held by too."""
    ctx = context_for(run.benchmark.name)
    source = strategy_source(run)
    masks, seconds = _masks_for(run, ctx, source, batch)
    if isinstance(masks, StrategyError):
        raise RunFailed(masks.message, masks.traceback, limit=masks.limit)
    record = _shared_or_scored(run, ctx, source, masks, seconds, batch, share, should_stop, lease)
    return _finished(run, record, masks)


def _finished(run: Run, record: dict, masks) -> dict:
    """The record as the run stores it: its strategy named, its masks kept by their SHA-256."""
    record = dict(record)
    kept = _as_mask(masks)
    if kept is not None:  # scored masks always are; None only where scoring was stood in for
        services.masks_keep(kept)
    record["strategy"] = run.submission.baseline or run.submission.method.slug
    return record


def _as_mask(masks) -> Mask | None:
    try:
        return masks if isinstance(masks, Mask) else Mask(masks)
    except (MaskError, AttributeError, TypeError):
        return None


def _shared_or_scored(run: Run, ctx: Context, source: StrategySource, masks, seconds: float,
                      batch: bool, share: bool, should_stop, lease: str = "") -> dict:
    """The run's record: a finished run's with the same result key when there is one (unless
    share=False), else scored here (with held siblings where the target is batchable);
    PRUNEBOARD_VERIFY_SHARED of the would-be-shared ones are scored anyway and compared."""
    found: dict[str, Run | None] = {}

    def find(key: str) -> dict | None:
        found["run"] = services.shared_result(key=key) if share else None
        return found["run"].record if found["run"] else None

    def compute() -> dict:
        if batch and batchable(ctx):
            out = _score_with_siblings(run, ctx, source, masks, seconds, should_stop, lease)
            if isinstance(out, RunFailed):
                raise out
            return out
        return score_run(ctx, source, run.compression, run.seed, masks, mask_seconds=seconds,
                         should_stop=should_stop)

    out = sharing.evaluate(ctx, source, run.compression, run.seed, masks, seconds, find=find,
                           verify=sharing.sampled(settings.PRUNEBOARD_VERIFY_SHARED), compute=compute)
    if out.checked:
        services.result_check_record(run=run, original=found.get("run"), key=out.record["result_key"],
                                     differences=out.differing)
    elif out.record["shared_with"]:
        log.info("run %s: result shared with run %s (result key %s)", run.pk, found["run"].pk,
                 out.record["result_key"])
    return out.record


def _batch_key(run: Run) -> tuple:
    return (run.submission_id, run.benchmark_id, run.submission.sha256)


def _score_with_siblings(run: Run, ctx: Context, source: StrategySource, masks, seconds: float,
                         should_stop, lease: str = "") -> dict | RunFailed:
    """Score the run together with siblings whose masks this process holds (up to
    SCORED_TOGETHER runs in one batched call, and what the target steps together), and record
    each sibling's outcome at once; return the run's own. The siblings are started here first
    (`services.batch_start`, held by the run's lease token: its heartbeat renews them), so their
    own tasks, on this worker or another, find them running or final and compute nothing twice;
    one another worker started meanwhile is left to it.
    A sibling whose masks fail validation fails alone. Should the batch raise, the siblings go
    back to waiting."""
    key = _batch_key(run)
    held = _batches.get(key, {})
    # by seed, then compression; a sibling whose result another run computed already is left to
    # its own task, which shares it
    wanted = [job for job in sorted(held, key=lambda job: job[::-1])
              if not _shareable(ctx, held[job][0], job[1])][:min(SCORED_TOGETHER, runs_together(ctx)) - 1]
    started = services.batch_start(run, wanted, host=settings.PRUNEBOARD_WORKER_NAME, token=lease) if wanted else {}
    jobs = [RunJob(source, run.compression, run.seed, masks, seconds)]
    for job in wanted:
        held_masks = held.pop(job)  # another worker's now, where it is not started here
        if job in started:
            jobs.append(RunJob(source, *job, *held_masks))
    try:
        mine, *theirs = score_runs(ctx, jobs, should_stop)
    except BaseException:
        services.batch_give_back(started.values())
        raise
    for job, out in zip(jobs[1:], theirs):
        sibling, token = started[(job.compression, job.seed)]
        if isinstance(out, RunFailed):
            services.run_record_failure(run=sibling, message=out.message, traceback=out.traceback,
                                        user_error=out.user_error, limit_hit=out.limit, token=token)
        else:
            services.run_record_result(run=sibling, record=_finished(sibling, out, job.masks), token=token)
    return mine


def _shareable(ctx: Context, masks, seed: int) -> bool:
    key = run_key(ctx, masks, seed)
    found = services.shared_result(key=key) if key else None
    return found is not None and sharing.usable(found.record)


def _masks_for(run: Run, ctx: Context, source: StrategySource, batch: bool) -> tuple:
    """(masks or StrategyError, this job's own mask seconds) for the run.

    Every job of a submission is attempted once: the batch is this run's job (first, with its
    whole budget) and the queued siblings it claims in the database (`services.batch_claim`;
    a sibling another worker's batch holds is not computed again here). A sibling that failed
    in the batch is recorded as that run's failure at once; one the batch's window left
    unstarted is given back; the masks of the others wait here for their run's task. A run whose
    masks another process holds computes them alone."""
    job = (run.compression, run.seed)
    if not batch or (source.baseline and runs_together(ctx) <= 1):  # alone (baselines: in this process)
        return _compute(ctx, source, [job])[0]
    key = _batch_key(run)
    kept = _batches.get(key, {})
    if job in kept:
        _batches.move_to_end(key)
        return kept.pop(job)
    limits = Limits.from_environment(ctx.benchmark.mask_seconds)
    claim = services.batch_claim_token(settings.PRUNEBOARD_WORKER_NAME)
    siblings = services.batch_claim(run, claim=claim, seconds=ctx.benchmark.task_seconds())
    outcomes = _compute(ctx, source, [job] + [(c, s) for _, c, s in siblings], window=limits.window)
    mine, kept, failed, unstarted = outcomes[0], {}, [], []
    for (pk, c, s), (result, seconds) in zip(siblings, outcomes[1:]):
        if result is None or (source.baseline and isinstance(result, StrategyError)):
            unstarted.append(pk)  # a baseline's failure is its own task's to record (the platform's)
        elif isinstance(result, StrategyError):
            error = RunFailed(result.message, result.traceback, limit=result.limit)  # redacted
            failed.append((pk, error.message, error.traceback, error.limit))
        else:
            kept[(c, s)] = (result, seconds)
    services.batch_release(unstarted, claim=claim)
    services.batch_record_failures(run.submission, failed, claim=claim)
    _batches[key] = {**_batches.get(key, {}), **kept}
    _batches.move_to_end(key)
    while len(_batches) > _BATCHES_KEPT:
        _batches.popitem(last=False)
    return mine


def _compute(ctx: Context, source: StrategySource, jobs: list[tuple[float, int]],
             window: float | None = None) -> list[tuple]:
    """One sandbox (or, for a baseline, this process) for the jobs: per job, its masks (a
    StrategyError, or None where `window` closed before it started) and its own seconds."""
    return [(outcome.result, outcome.seconds) for outcome in masks_for_jobs(ctx, source, jobs, window=window)]
