"""Evaluating one Run in a worker: the bridge from a Run row to the evaluator."""

from __future__ import annotations

import hashlib
import logging
import os
import stat
import tempfile
import uuid
from collections import OrderedDict
from pathlib import Path

from django.conf import settings

from evaluator import sharing
from evaluator.benchmarks import get_benchmark
from evaluator.pruning import Mask
from evaluator.runner import Context, RunFailed, masks_for_jobs
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


def evaluate_run(run: Run, should_stop=None, batch: bool = True, share: bool = True) -> dict:
    """The evaluator's record for this run; RunFailed when the run cannot produce one.

    batch: an uploaded strategy's masks are computed in one sandbox for this run and the other
    runs of its submission on its benchmark still queued that no other batch claimed, as the
    CLI does (`_masks_for`); each run is still started, leased, scored and recorded on its own.
    batch=False (a reproducibility re-run): this run's masks alone, from scratch.
    share: once the masks are known, a finished run with the same result key lends its result
    (evaluator/sharing.py) instead of a finetune; PRUNEBOARD_VERIFY_SHARED of those are computed
    anyway and compared (services.result_check_record). share=False: always computed.
    The masks are kept by their SHA-256 (services.masks_keep) for the run page's download."""
    ctx = context_for(run.benchmark.name)
    source = strategy_source(run)
    masks, seconds = _masks_for(run, ctx, source, batch)
    if isinstance(masks, StrategyError):
        raise RunFailed(masks.message, masks.traceback, limit=masks.limit)
    found: dict[str, Run | None] = {}

    def find(key: str) -> dict | None:
        found["run"] = services.shared_result(key=key) if share else None
        return found["run"].record if found["run"] else None

    out = sharing.evaluate(ctx, source, run.compression, run.seed, masks, seconds, find=find,
                           verify=sharing.sampled(settings.PRUNEBOARD_VERIFY_SHARED), should_stop=should_stop)
    record = out.record
    if out.checked:
        services.result_check_record(run=run, original=found.get("run"), key=record["result_key"],
                                     differences=out.differing)
    elif record["shared_with"]:
        log.info("run %s: result shared with run %s (result key %s)", run.pk, found["run"].pk, record["result_key"])
    services.masks_keep(masks if isinstance(masks, Mask) else Mask(masks))
    if run.submission.baseline:
        record["strategy"] = run.submission.baseline
    else:
        record["strategy"] = run.submission.method.slug
    return record


def _masks_for(run: Run, ctx: Context, source: StrategySource, batch: bool) -> tuple:
    """(masks or StrategyError, this job's own mask seconds) for the run.

    Every job of a submission is attempted once: the batch is this run's job (first, with its
    whole budget) and the queued siblings it claims in the database (`services.batch_claim`;
    a sibling another worker's batch holds is not computed again here). A sibling that failed
    in the batch is recorded as that run's failure at once; one the batch's window left
    unstarted is given back; the masks of the others wait here for their run's task. A run whose
    masks another process holds computes them alone."""
    job = (run.compression, run.seed)
    if source.baseline or not batch:  # baselines: trusted, computed in this process, no sandbox
        return _compute(ctx, source, [job])[0]
    key = (run.submission_id, run.benchmark_id, run.submission.sha256)
    kept = _batches.get(key, {})
    if job in kept:
        _batches.move_to_end(key)
        return kept.pop(job)
    limits = Limits.from_environment(ctx.benchmark.mask_seconds)
    claim = uuid.uuid4().hex
    siblings = services.batch_claim(run, claim=claim, seconds=ctx.benchmark.task_seconds())
    outcomes = _compute(ctx, source, [job] + [(c, s) for _, c, s in siblings], window=limits.window)
    mine, kept, failed, unstarted = outcomes[0], {}, [], []
    for (pk, c, s), (result, seconds) in zip(siblings, outcomes[1:]):
        if result is None:
            unstarted.append(pk)
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
