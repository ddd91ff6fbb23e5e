"""A worker's hold on a run: the lease taken at start and renewed by heartbeats, and the batch
claims of a submission's sibling runs."""

from __future__ import annotations

import hashlib
import logging
import uuid
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from ..models import Run, Submission
from .refresh import submission_refresh

log = logging.getLogger(__name__)


def _lease_seconds() -> int:
    return settings.PRUNEBOARD_LEASE_SECONDS


def run_start(run_id: int, *, host: str, token: str = "") -> tuple[Run, str] | None:
    """Take the run's lease and mark it running: returns (run, lease token), or None when there
    is nothing to do: the run is final, another worker holds a live lease on it (a duplicate
    delivery), its submission was cancelled, another of its jobs on the benchmark hit a
    sandbox limit (the run fails at once with that limit, no sandbox started), or it was
    started PRUNEBOARD_MAX_ATTEMPTS times already (it fails as the platform's). `token`: the
    lease token to hold it by (a batch holds its runs by its first run's token); a new one
    otherwise."""
    now = timezone.now()
    with transaction.atomic():
        run = Run.objects.select_for_update().select_related("submission", "benchmark").get(pk=run_id)
        if run.status in Run.FINAL:
            return None
        if run.status == Run.Status.RUNNING and run.lease_expires and run.lease_expires > now:
            return None
        if run.submission.status == Submission.Status.CANCELLED:
            run.status = Run.Status.CANCELLED
            run.save(update_fields=["status"])
            return None
        tripped = _limit_tripped_by_sibling(run)
        spent = tripped is None and run.attempt >= settings.PRUNEBOARD_MAX_ATTEMPTS
        if spent:  # however it came back (the reaper, a retry, a duplicate message): no more starts
            run.status, run.finished, run.user_error = Run.Status.FAILED, now, False
            run.error = (f"platform failure: the run was started {run.attempt} times without a "
                         f"result (not charged to you)")
            run.lease_token, run.lease_expires = "", None
            run.save(update_fields=["status", "finished", "user_error", "error", "lease_token",
                                    "lease_expires"])
        elif tripped is None:
            token = _lease_take(run, host=host, now=now, token=token)
        else:
            run.status, run.finished, run.user_error = Run.Status.FAILED, now, True
            run.error, run.limit_hit = _sibling_hit_limit(tripped), tripped.limit_hit
            run.save(update_fields=["status", "finished", "user_error", "error", "limit_hit"])
    if tripped is not None or spent:
        submission_refresh(run.submission)
        return None
    return run, token


def _lease_take(run: Run, *, host: str, now, token: str = "") -> str:
    token = token or uuid.uuid4().hex
    run.status, run.attempt, run.worker_host = Run.Status.RUNNING, run.attempt + 1, host
    run.started, run.lease_token = now, token
    run.lease_expires = now + timedelta(seconds=_lease_seconds())
    run.save(update_fields=["status", "attempt", "worker_host", "started", "lease_token",
                            "lease_expires"])
    Submission.objects.filter(pk=run.submission_id, status=Submission.Status.QUEUED).update(
        status=Submission.Status.RUNNING, updated=now)
    return token


# A strategy that ran into a sandbox limit (memory, time, ...) on one job of a benchmark would run
# into it on each of the others: they fail at once, charged to the submitter, instead of each
# holding a worker until the limit stops it again. Baselines (trusted code) are never affected.

def _limit_tripped_by_sibling(run: Run) -> Run | None:
    """The run of the same uploaded submission on the same benchmark that failed on a sandbox
    limit in the submitter's code, if one did: one that ran (its siblings failed with it never
    started), the first to fail."""
    if run.submission.baseline:
        return None
    return (Run.objects.filter(submission_id=run.submission_id, benchmark_id=run.benchmark_id,
                               status=Run.Status.FAILED, user_error=True)
            .exclude(limit_hit="").exclude(pk=run.pk).select_related("benchmark")
            .order_by(F("started").asc(nulls_last=True), "finished", "pk").first())


def _sibling_hit_limit(tripped: Run) -> str:
    return (f"not run: job ({tripped.compression:g}x, seed {tripped.seed}) hit the "
            f"{tripped.limit_hit} limit on {tripped.benchmark.name}, and every job of this "
            f"submission there runs the same code, so this one was failed at once without "
            f"running. That job's error: {tripped.error}")


def _fail_queued_siblings(run: Run) -> int:
    """Fail the queued runs of `run`'s submission on its benchmark, `run` having just hit a
    sandbox limit in the submitter's code; returns how many. Their tasks, when delivered, find
    them final and do nothing. A sibling already running is left to finish."""
    if run.submission.baseline or not (run.user_error and run.limit_hit) or run.status != Run.Status.FAILED:
        return 0
    return (Run.objects.filter(submission_id=run.submission_id, benchmark_id=run.benchmark_id,
                               status=Run.Status.QUEUED).exclude(pk=run.pk)
            .update(status=Run.Status.FAILED, finished=run.finished, user_error=True,
                    limit_hit=run.limit_hit, error=_sibling_hit_limit(run), traceback="",
                    lease_token="", lease_expires=None))


# A batch: the sandbox of one run's task computes the masks of the run's queued siblings too
# (submissions.execution). Its claim on them is the siblings' `lease_token` (the batch's own,
# while they are still queued; `run_start` replaces it with the run's lease) until
# `lease_expires`: no other batch computes them meanwhile. The claim starts with a digest of
# the worker's name, so that the worker, started again under that name after its process died
# holding the masks, frees the claims at once (`batch_claims_release`) rather than computing
# each of those runs alone until the claims expire (the task's time limit: minutes).


def _claimant(worker: str) -> str:
    return hashlib.sha256(worker.encode()).hexdigest()[:8]


def batch_claim_token(worker: str) -> str:
    """A new batch claim of the worker named `worker` (PRUNEBOARD_WORKER_NAME): 32 characters,
    the first 8 its name's."""
    return _claimant(worker) + uuid.uuid4().hex[:24]


def batch_claims_release(worker: str) -> int:
    """At the start of a run worker: free the claims on queued runs that an earlier process of
    the same name left (it died holding their masks), so the next batch computes them again.
    Names are one worker's each (`serve`'s local1, local2, ...; Compose's are new at each
    start, so there nothing is freed and the claims expire): where two live workers share one,
    the second's start frees the first's claims, and a run's masks may be computed twice (the
    same masks: the run is still scored once, under its lease)."""
    return Run.objects.filter(status=Run.Status.QUEUED, lease_token__startswith=_claimant(worker)).update(
        lease_token="", lease_expires=None)


def batch_claim(run: Run, *, claim: str, seconds: int) -> list[tuple[int, float, int]]:
    """Claim `run`'s queued siblings (same submission and benchmark) that no live batch holds,
    for `seconds`; returns them as (pk, compression, seed), by seed then compression."""
    now = timezone.now()
    siblings = Run.objects.filter(submission_id=run.submission_id, benchmark_id=run.benchmark_id,
                                  status=Run.Status.QUEUED).exclude(pk=run.pk)
    siblings.filter(Q(lease_token="") | Q(lease_expires__isnull=True) | Q(lease_expires__lt=now)).update(
        lease_token=claim, lease_expires=now + timedelta(seconds=seconds))
    return list(siblings.filter(lease_token=claim).order_by("seed", "compression")
                .values_list("pk", "compression", "seed"))


def batch_start(run: Run, jobs, *, host: str, token: str = "") -> dict[tuple[float, int], tuple[Run, str]]:
    """Start `run`'s queued siblings at these (compression, seed), as `run_start` starts a run
    (lease, attempt, host; the same refusals), for the batch that scores them with `run`: their
    own tasks then find them running or final and do nothing, wherever they are delivered. A
    sibling another worker started meanwhile is left to it. `token`: `run`'s lease token, which
    they are held by too, so the run's heartbeat renews theirs (`run_heartbeat`) and the
    dispatcher counts one busy worker, not one per run. Returns {(compression, seed): (run,
    lease token)} of those started here."""
    wanted = set(jobs)
    siblings = Run.objects.filter(submission_id=run.submission_id, benchmark_id=run.benchmark_id,
                                  status=Run.Status.QUEUED).exclude(pk=run.pk)
    started = {}
    for pk, compression, seed in siblings.values_list("pk", "compression", "seed"):
        if (compression, seed) in wanted and (taken := run_start(pk, host=host, token=token)) is not None:
            started[(compression, seed)] = taken
    return started


def batch_give_back(started) -> int:
    """Put siblings a batch started (`batch_start`'s (run, token) pairs) back to waiting when the
    batch did not score them; the dispatcher sends them again."""
    given = 0
    for run, token in started:
        given += Run.objects.filter(pk=run.pk, lease_token=token, status=Run.Status.RUNNING).update(
            status=Run.Status.QUEUED, lease_token="", lease_expires=None, queued_at=None, worker_host="")
    return given


def batch_release(run_ids, *, claim: str) -> int:
    """Give back the claim on runs the batch did not compute (its window closed first)."""
    return Run.objects.filter(pk__in=list(run_ids), status=Run.Status.QUEUED, lease_token=claim).update(
        lease_token="", lease_expires=None)


def batch_record_failures(submission: Submission, failures, *, claim: str) -> int:
    """Record each (run id, message, traceback, limit) as the failure of that queued run, the
    submitter's: its job failed in a batch, so no task computes it again (the run's own task
    finds it final). Returns how many were recorded."""
    now, recorded = timezone.now(), 0
    for pk, message, traceback, limit in failures:
        recorded += Run.objects.filter(pk=pk, status=Run.Status.QUEUED, lease_token=claim).update(
            status=Run.Status.FAILED, finished=now, user_error=True, error=message,
            traceback=traceback, limit_hit=limit, lease_token="", lease_expires=None)
    if recorded:
        log.info("submission %s: %s run(s) failed in another run's batch", submission.pk, recorded)
        submission_refresh(submission)
    return recorded


def run_heartbeat(run_id: int, token: str) -> bool:
    """Renew the lease, and those of the runs its batch started under the same token
    (`batch_start`); False when the worker should stop: it lost the lease (the reaper gave the
    run to another worker) or the submission was cancelled."""
    expires = timezone.now() + timedelta(seconds=_lease_seconds())
    renewed = Run.objects.filter(pk=run_id, lease_token=token, status=Run.Status.RUNNING).exclude(
        submission__status=Submission.Status.CANCELLED).update(lease_expires=expires)
    if renewed:
        Run.objects.filter(status=Run.Status.RUNNING, lease_token=token).exclude(pk=run_id).update(
            lease_expires=expires)
    return bool(renewed)


def _holds_lease(run: Run, token: str | None) -> bool:
    if token is None:  # recorded outside a worker (tests, the admin)
        return True
    return run.lease_token == token and run.status == Run.Status.RUNNING
